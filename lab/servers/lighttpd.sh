#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lighttpd (Debian lighttpd + lighttpd-mod-openssl) with mod_openssl's
# built-in TLS defaults (the package's conf-available/10-ssl.conf sets only
# the certificate) and lighttpd's default keep-alive settings.
#   lab/servers/lighttpd.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init lighttpd "$@"
srv_need lighttpd lighttpd
[[ -f /usr/lib/lighttpd/mod_openssl.so ]] || { echo "skip: mod_openssl missing (apt-get install lighttpd-mod-openssl)"; exit 77; }
srv_meta version "$(lighttpd -v | head -1 | sed "s/ - a light.*//"), $(srv_libssl)"
srv_meta package "$(srv_pkg lighttpd lighttpd-mod-openssl)"
mkdir -p "$SRV_DIR/html"
echo ok >"$SRV_DIR/html/index.html"
chmod -R a+rX "$SRV_DIR/html"
cat "$SRV_CERT" "$SRV_KEY" >"$SRV_DIR/server.pem"
chmod 644 "$SRV_DIR/server.pem"
cat >"$SRV_DIR/lighttpd.conf" <<CONF
server.modules = ( "mod_openssl", "mod_staticfile" )
server.document-root = "$SRV_DIR/html"
server.bind = "127.0.0.1"
server.port = $SRV_PORT
server.username = "www-data"
server.groupname = "www-data"
server.pid-file = "$SRV_DIR/lighttpd.pid"
index-file.names = ( "index.html" )
ssl.engine = "enable"
ssl.pemfile = "$SRV_DIR/server.pem"
CONF
srv_bg lighttpd lighttpd -D -f "$SRV_DIR/lighttpd.conf"
srv_wait_port "$SRV_PORT"
srv_serve

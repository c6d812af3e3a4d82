#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# stunnel (Debian stunnel4) with its default TLS options, in front of a
# plain HTTP backend (Python's http.server, HTTP/1.0: it closes after each
# response, so the close tests show what stunnel does when its backend
# closes, and what it passes on of a client's close).
#   lab/servers/stunnel.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init stunnel "$@"
srv_need stunnel4 stunnel4
srv_meta version "$(stunnel4 -version 2>&1 | grep -m1 -o 'stunnel [0-9.]*'), $(srv_libssl); backend Python $(/usr/bin/python3 -c 'import platform; print(platform.python_version())') http.server"
srv_meta package "$(srv_pkg stunnel4 python3)"
back=$(srv_free_port)
while [[ $back == "$SRV_PORT" ]]; do back=$(srv_free_port); done
mkdir -p "$SRV_DIR/html"
echo ok >"$SRV_DIR/html/index.html"
srv_bg backend /usr/bin/python3 -m http.server --bind 127.0.0.1 --directory "$SRV_DIR/html" "$back"
cat >"$SRV_DIR/stunnel.conf" <<CONF
foreground = yes
pid =
output = $SRV_DIR/stunnel-out.log
[https]
accept = 127.0.0.1:$SRV_PORT
connect = 127.0.0.1:$back
cert = $SRV_CERT
key = $SRV_KEY
CONF
srv_wait_port "$back"
srv_bg stunnel stunnel4 "$SRV_DIR/stunnel.conf"
srv_wait_port "$SRV_PORT"
srv_serve

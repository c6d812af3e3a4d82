#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# nginx (Debian nginx-light/-core) with the TLS and keep-alive lines of the
# packaged /etc/nginx/nginx.conf (ssl_protocols, ssl_prefer_server_ciphers,
# keepalive_timeout), serving one static page.
#   lab/servers/nginx.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init nginx "$@"
srv_need nginx nginx
srv_meta version "$(nginx -v 2>&1 | sed "s/^nginx version: //"), $(srv_libssl)"
srv_meta package "$(srv_pkg nginx-common nginx)"
# the packaged http-level defaults that touch TLS and idle connections
shipped=$(grep -E '^\s*(ssl_[a-z_]+|keepalive_timeout)\s' /etc/nginx/nginx.conf 2>/dev/null | sed 's/#.*//' || true)
mkdir -p "$SRV_DIR/html"
echo ok >"$SRV_DIR/html/index.html"
chmod -R a+rX "$SRV_DIR/html"
cat >"$SRV_DIR/nginx.conf" <<CONF
worker_processes 1;
error_log stderr notice;
pid $SRV_DIR/nginx.pid;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path $SRV_DIR/body; proxy_temp_path $SRV_DIR/proxy;
  fastcgi_temp_path $SRV_DIR/fcgi; uwsgi_temp_path $SRV_DIR/uwsgi; scgi_temp_path $SRV_DIR/scgi;
  # from the packaged /etc/nginx/nginx.conf:
$shipped
  server {
    listen 127.0.0.1:$SRV_PORT ssl;
    ssl_certificate $SRV_CERT;
    ssl_certificate_key $SRV_KEY;
    root $SRV_DIR/html;
  }
}
CONF
srv_bg nginx nginx -p "$SRV_DIR" -c "$SRV_DIR/nginx.conf" -g "daemon off;"
srv_wait_port "$SRV_PORT"
srv_serve

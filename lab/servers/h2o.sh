#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# h2o (Debian h2o) serving a directory over TLS with h2o's default TLS
# settings (listen: ssl: with only the certificate and key).
#   lab/servers/h2o.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init h2o "$@"
srv_need h2o h2o
srv_meta version "$(h2o --version 2>&1 | head -1 | sed "s/ version//"), $(srv_libssl)"
srv_meta package "$(srv_pkg h2o)"
mkdir -p "$SRV_DIR/html"
echo ok >"$SRV_DIR/html/index.html"
chmod -R a+rX "$SRV_DIR/html"
cat >"$SRV_DIR/h2o.conf" <<CONF
user: nobody
error-log: /dev/stderr
listen:
  host: 127.0.0.1
  port: $SRV_PORT
  ssl:
    certificate-file: $SRV_CERT
    key-file: $SRV_KEY
hosts:
  default:
    paths:
      /:
        file.dir: $SRV_DIR/html
CONF
srv_bg h2o h2o -c "$SRV_DIR/h2o.conf"
srv_wait_port "$SRV_PORT"
srv_serve

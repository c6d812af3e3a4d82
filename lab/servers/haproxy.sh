#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# HAProxy (Debian haproxy) terminating TLS, mode http, answering itself
# (http-request return); the ssl-default-bind-* lines and the timeouts are
# those of the packaged /etc/haproxy/haproxy.cfg.
#   lab/servers/haproxy.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init haproxy "$@"
srv_need haproxy haproxy
srv_meta version "HAProxy $(haproxy -v | sed -n "s/^HAProxy version \([^ ]*\).*/\1/p"), $(srv_libssl)"
srv_meta package "$(srv_pkg haproxy)"
cat "$SRV_CERT" "$SRV_KEY" >"$SRV_DIR/haproxy.pem"
shipped_g=$(grep -E '^\s*ssl-default-bind-' /etc/haproxy/haproxy.cfg || true)
shipped_d=$(grep -E '^\s*timeout\s+(connect|client|server|http-keep-alive|http-request)\s' /etc/haproxy/haproxy.cfg || true)
cat >"$SRV_DIR/haproxy.cfg" <<CONF
global
  log stderr format raw local0 notice
  # from the packaged haproxy.cfg:
$shipped_g
defaults
  mode http
  log global
  option httplog
  # from the packaged haproxy.cfg:
$shipped_d
frontend fe
  bind 127.0.0.1:$SRV_PORT ssl crt $SRV_DIR/haproxy.pem
  http-request return status 200 content-type text/plain string "ok"
CONF
srv_bg_sig USR1 haproxy haproxy -db -f "$SRV_DIR/haproxy.cfg"
srv_wait_port "$SRV_PORT"
srv_serve

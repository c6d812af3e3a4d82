#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Caddy (Debian caddy) serving a static answer with our certificate
# (tls CERT KEY) and Caddy's default TLS and timeouts; its admin endpoint
# and automatic HTTP->HTTPS redirect listener are turned off (they would
# take ports 2019 and 80).
#   lab/servers/caddy.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init caddy "$@"
srv_need caddy caddy
srv_meta version "caddy $(caddy version | awk '{print $1}'), Go crypto/tls"
srv_meta package "$(srv_pkg caddy)"
cat >"$SRV_DIR/Caddyfile" <<CONF
{
	admin off
	auto_https disable_redirects
	storage file_system $SRV_DIR/data
}
https://127.0.0.1:$SRV_PORT, https://localhost:$SRV_PORT {
	bind 127.0.0.1
	tls $SRV_CERT $SRV_KEY
	respond "ok"
}
CONF
export HOME=$SRV_DIR XDG_DATA_HOME=$SRV_DIR/data XDG_CONFIG_HOME=$SRV_DIR/config
srv_bg caddy caddy run --adapter caddyfile --config "$SRV_DIR/Caddyfile"
srv_wait_port "$SRV_PORT"
srv_serve

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Prosody (Debian prosody, LuaSec) c2s with STARTTLS required and
# Prosody's default ssl protocol/ciphers; VirtualHost "localhost", so the
# probe sends --xmpp-host=localhost.
#   lab/servers/prosody.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init prosody "$@"
srv_need prosody prosody
srv_meta version "Prosody $(dpkg-query -W -f '${Version}' prosody | sed 's/-.*//'), LuaSec $(dpkg-query -W -f '${Version}' lua-sec 2>/dev/null), $(srv_libssl)"
srv_meta package "$(srv_pkg prosody lua-sec)"
SRV_PROBE="--starttls=xmpp --xmpp-host=localhost"
d=$SRV_DIR/prosody
mkdir -p "$d/data"
cat >"$d/prosody.cfg.lua" <<CONF
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
interfaces = { "127.0.0.1" }
c2s_ports = { $SRV_PORT }
c2s_direct_tls_ports = {}
s2s_ports = {}
http_ports = {}
https_ports = {}
modules_enabled = { "tls", "saslauth", "disco" }
modules_disabled = { "s2s", "offline" }
log = { { levels = { min = "info" }, to = "file", filename = "$d/prosody.log" } }
ssl = { certificate = "$SRV_CERT", key = "$SRV_KEY" }
c2s_require_encryption = true
VirtualHost "localhost"
CONF
srv_bg prosody prosody -F --config "$d/prosody.cfg.lua"
srv_wait_port "$SRV_PORT"
srv_serve

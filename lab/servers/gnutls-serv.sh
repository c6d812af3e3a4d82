#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# gnutls-serv --http (Debian gnutls-bin), GnuTLS's default priorities.
# gnutls-serv has no bind-address option: it listens on every local
# address (only loopback is used here).
#   lab/servers/gnutls-serv.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init gnutls-serv "$@"
srv_need gnutls-serv gnutls-bin
srv_meta version "gnutls-serv $(gnutls-serv --version 2>&1 | grep -m1 -o '[0-9][0-9.]*'), GnuTLS $(dpkg-query -W -f '${Version}' libgnutls30 2>/dev/null)"
srv_meta package "$(srv_pkg gnutls-bin libgnutls30)"
srv_bg gnutls-serv gnutls-serv --http --port "$SRV_PORT" \
  --x509certfile "$SRV_CERT" --x509keyfile "$SRV_KEY"
srv_wait_port "$SRV_PORT"
srv_serve

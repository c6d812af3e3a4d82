#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# MariaDB (Debian mariadb-server) with --ssl-cert/--ssl-key and MariaDB's
# default tls_version; mariadb-install-db in DIR, then mariadbd in the
# foreground.  --max-connect-errors is raised: every refused TLS version is
# a failed connect, and the default (100) would block 127.0.0.1 on reruns.
#   lab/servers/mariadb.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init mariadb "$@"
srv_need mariadbd mariadb-server
srv_meta version "MariaDB $(mariadbd --version | grep -o 'Ver [^ ]*' | awk '{print $2}'), $(srv_libssl)"
srv_meta package "$(srv_pkg mariadb-server)"
SRV_PROBE=--starttls=mysql
d=$SRV_DIR/mariadb
rm -rf "$d"
mkdir -p "$d"
mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
  --auth-root-authentication-method=normal --skip-test-db >"$d/install.log" 2>&1 ||
  { cat "$d/install.log" >&2; srv_die "mariadb-install-db failed"; }
srv_bg mariadb mariadbd --no-defaults --datadir="$d/data" --user=root --port="$SRV_PORT" \
  --bind-address=127.0.0.1 --socket="$d/sock" --pid-file="$d/pid" --skip-log-bin \
  --skip-name-resolve --max-connect-errors=100000 --innodb-buffer-pool-size=16M \
  --ssl-cert="$SRV_CERT" --ssl-key="$SRV_KEY"
srv_wait_port "$SRV_PORT" 60
srv_serve

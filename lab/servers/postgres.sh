#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# PostgreSQL (Debian postgresql-15) with ssl = on and PostgreSQL's default
# ssl_min_protocol_version/ciphers; initdb in DIR, then postgres in the
# foreground as the postgres user, stopped with SIGINT (fast shutdown).
#   lab/servers/postgres.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init postgres "$@"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
srv_need "${pgbin:-/nonexistent}/postgres" postgresql
srv_meta version "PostgreSQL $("$pgbin/postgres" -V | awk '{print $3}'), $(srv_libssl)"
srv_meta package "$(srv_pkg "postgresql-$(basename "$(dirname "$pgbin")")")"
SRV_PROBE=--starttls=postgres
d=$SRV_DIR/pg
rm -rf "$d"
mkdir -p "$d"
cp "$SRV_CERT" "$SRV_KEY" "$d/"
chown -R postgres "$d"
chmod 600 "$d/key.pem" # postgres refuses a key others can read
setpriv --reuid=postgres --regid=postgres --init-groups -- \
  "$pgbin/initdb" -D "$d/data" -A trust -U postgres --no-sync >"$d/initdb.log" 2>&1 ||
  { cat "$d/initdb.log" >&2; srv_die "initdb failed"; }
cat >>"$d/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $SRV_PORT
unix_socket_directories = '$d'
ssl = on
ssl_cert_file = '$d/cert.pem'
ssl_key_file = '$d/key.pem'
CONF
srv_bg_sig INT postgres setpriv --reuid=postgres --regid=postgres --init-groups -- \
  "$pgbin/postgres" -D "$d/data"
srv_wait_port "$SRV_PORT"
srv_serve

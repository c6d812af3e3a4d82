#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# OpenLDAP slapd (Debian slapd, linked with GnuTLS) with a certificate and
# no TLS protocol or cipher settings (GnuTLS's defaults); StartTLS on ldap://.
#   lab/servers/slapd.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init slapd "$@"
srv_need slapd slapd
srv_meta version "OpenLDAP slapd $(slapd -VVV 2>&1 | grep -m1 -o 'slapd [0-9.]*' | awk '{print $2}'), GnuTLS $(dpkg-query -W -f '${Version}' libgnutls30 2>/dev/null)"
srv_meta package "$(srv_pkg slapd libgnutls30)"
SRV_PROBE=--starttls=ldap
d=$SRV_DIR/slapd
mkdir -p "$d/db"
cat >"$d/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
pidfile $d/slapd.pid
argsfile $d/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile $SRV_CERT
TLSCertificateKeyFile $SRV_KEY
database mdb
suffix "dc=test"
directory $d/db
CONF
srv_bg_sig INT slapd slapd -d 0 -f "$d/slapd.conf" -h "ldap://127.0.0.1:$SRV_PORT/"
srv_wait_port "$SRV_PORT"
srv_serve

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Postfix smtpd (Debian postfix) on 127.0.0.1:PORT with STARTTLS offered
# (smtpd_tls_security_level = may, as Debian's generated main.cf has it)
# and Postfix's default smtpd_tls_* protocols; master(8) in the foreground
# (-d) with only the services smtpd needs (config from
# tests/integration/starttls/test_starttls.sh, without its protocol limit).
#   lab/servers/postfix.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init postfix "$@"
srv_need /usr/lib/postfix/sbin/master postfix
srv_meta version "Postfix $(postconf -d -h mail_version 2>/dev/null), $(srv_libssl)"
srv_meta package "$(srv_pkg postfix)"
SRV_PROBE=--starttls=smtp
d=$SRV_DIR/postfix
mkdir -p "$d/etc" "$d/spool/pid" "$d/spool/private" "$d/spool/public" "$d/data"
chown postfix "$d/data" "$d/spool/private" "$d/spool/public"
cat >"$d/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
myhostname = probe.test
mydestination =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
maillog_file = $d/maillog
maillog_file_prefixes = $SRV_DIR
smtpd_tls_cert_file = $SRV_CERT
smtpd_tls_key_file = $SRV_KEY
smtpd_tls_security_level = may
CONF
cat >"$d/etc/master.cf" <<CONF
127.0.0.1:$SRV_PORT inet n - n - - smtpd
tlsmgr    unix  -  -  n  1000?  1  tlsmgr
anvil     unix  -  -  n  -      1  anvil
proxymap  unix  -  -  n  -      -  proxymap
postlog   unix-dgram n  -  n  -  1  postlogd
CONF
srv_bg postfix /usr/lib/postfix/sbin/master -c "$d/etc" -d
srv_wait_port "$SRV_PORT"
srv_serve

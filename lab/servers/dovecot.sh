#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Dovecot imap (Debian dovecot-imapd) with ssl = yes and Dovecot's default
# ssl_min_protocol and ciphers; dovecot -F in the foreground.
#   lab/servers/dovecot.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init dovecot "$@"
srv_need dovecot dovecot-imapd
srv_meta version "Dovecot $(dovecot --version | awk '{print $1}'), $(srv_libssl)"
srv_meta package "$(srv_pkg dovecot-core dovecot-imapd)"
SRV_PROBE=--starttls=imap
d=$SRV_DIR/dovecot
mkdir -p "$d/run" "$d/state" "$d/home"
cat >"$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/state
instance_name = tlsfin-srv-$SRV_PORT
protocols = imap
listen = 127.0.0.1
log_path = $d/log
ssl = yes
ssl_cert = <$SRV_CERT
ssl_key = <$SRV_KEY
mail_location = maildir:$d/home/Maildir
passdb {
  driver = static
  args = password=unused
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/home
}
service imap-login {
  inet_listener imap {
    port = $SRV_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
CONF
srv_bg dovecot dovecot -F -c "$d/dovecot.conf"
srv_wait_port "$SRV_PORT"
srv_serve

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# vsftpd (Debian vsftpd) with ssl_enable=YES (AUTH TLS) and vsftpd's default
# ssl_* protocol and cipher settings; in the foreground (background=NO).
#   lab/servers/vsftpd.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init vsftpd "$@"
srv_need vsftpd vsftpd
srv_meta version "vsftpd $(dpkg-query -W -f '${Version}' vsftpd | sed 's/-.*//'), $(srv_libssl)"
srv_meta package "$(srv_pkg vsftpd)"
SRV_PROBE=--starttls=ftp
d=$SRV_DIR/vsftpd
mkdir -p "$d/empty"
cat >"$d/vsftpd.conf" <<CONF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$SRV_PORT
background=NO
anonymous_enable=NO
local_enable=YES
secure_chroot_dir=$d/empty
seccomp_sandbox=NO
ssl_enable=YES
rsa_cert_file=$SRV_CERT
rsa_private_key_file=$SRV_KEY
vsftpd_log_file=$d/log
CONF
srv_bg vsftpd vsftpd "$d/vsftpd.conf"
srv_wait_port "$SRV_PORT"
srv_serve

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Apache httpd (Debian apache2, mpm_event + mod_ssl) with the packaged TLS
# defaults (/etc/apache2/mods-available/ssl.conf: SSLProtocol, ciphers,
# session cache) and the packaged Timeout/KeepAlive lines of apache2.conf.
#   lab/servers/apache.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init apache "$@"
srv_need apache2 apache2
mods=/usr/lib/apache2/modules
srv_meta version "$(apache2 -v | sed -n "s/^Server version: //p"), $(srv_libssl)"
srv_meta package "$(srv_pkg apache2 apache2-bin)"
export APACHE_RUN_DIR=$SRV_DIR APACHE_LOCK_DIR=$SRV_DIR APACHE_LOG_DIR=$SRV_DIR \
  APACHE_RUN_USER=www-data APACHE_RUN_GROUP=www-data APACHE_PID_FILE=$SRV_DIR/apache2.pid
mkdir -p "$SRV_DIR/html"
echo ok >"$SRV_DIR/html/index.html"
chmod -R a+rX "$SRV_DIR/html"
shipped=$(grep -E '^(Timeout|KeepAlive|MaxKeepAliveRequests|KeepAliveTimeout)\s' /etc/apache2/apache2.conf || true)
cat >"$SRV_DIR/apache2.conf" <<CONF
ServerRoot /etc/apache2
ServerName localhost
TypesConfig /etc/mime.types
PidFile $SRV_DIR/apache2.pid
Mutex file:$SRV_DIR default
User www-data
Group www-data
ErrorLog $SRV_DIR/error.log
LogLevel warn
# from the packaged apache2.conf:
$shipped
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule mime_module $mods/mod_mime.so
LoadModule dir_module $mods/mod_dir.so
LoadModule socache_shmcb_module $mods/mod_socache_shmcb.so
LoadModule ssl_module $mods/mod_ssl.so
Include /etc/apache2/mods-available/mpm_event.conf
# the packaged mod_ssl defaults
Include /etc/apache2/mods-available/ssl.conf
Listen 127.0.0.1:$SRV_PORT
<VirtualHost 127.0.0.1:$SRV_PORT>
  DocumentRoot $SRV_DIR/html
  <Directory $SRV_DIR/html>
    Require all granted
  </Directory>
  SSLEngine on
  SSLCertificateFile $SRV_CERT
  SSLCertificateKeyFile $SRV_KEY
</VirtualHost>
CONF
srv_bg apache apache2 -f "$SRV_DIR/apache2.conf" -DFOREGROUND
srv_wait_port "$SRV_PORT"
srv_serve

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 004, SSL_shutdown() on a non-blocking socket: the first call sends
# close_notify and returns 0, the next ones fail with SSL_ERROR_WANT_READ
# until the server's close_notify (sent 100 ms later) arrives; the client
# polls and retries, then closes.  A clean bidirectional close on the wire.
source "$LAB/lib.sh"
lab_init seed004_sslshutdown_nonblocking
source "$LAB/programs/sslshut_run.sh"
sslshut_run nonblock 1.3 1.2

lab_assert_pcap "tls.alert_message.desc==0" 4 4
lab_assert_pcap "tcp.flags.reset==1" 0 0
grep -q "retries" "$OUT/client1.log" || lab_die "no retry count"
n=0
for v in 1.3 1.2; do
  n=$((n + 1))
  lab_expect '{"id":'$n',"verdict":"tls_clean","rst":null,
    "tcp":{"client_fin":true,"server_fin":true,"client_rst":false,"server_rst":false},
    "tls":{"version":"TLS'$v'","handshake":"complete","first_close_notify":"client",
           "close_notify":{"client":"probable","server":"probable"}},
    "peer_report":'"$(lab_peer_report "$OUT/client$n.log" 'retries')"'}'
done
lab_done

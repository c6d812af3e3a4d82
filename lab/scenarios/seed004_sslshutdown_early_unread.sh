#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 004, early termination: the client reads one record of a 64 KB
# response, decides it does not want the rest, calls SSL_shutdown() once and
# close()s at once.  The close_notify goes out, but the unread rest of the
# response in the receive buffer makes Linux send RST instead of FIN (cause
# unread_data).  The server may see the close_notify and send its FIN
# before the client's close() (a race), so tcp.first_close is not labelled.
# TLS 1.3 and TLS 1.2.
source "$LAB/lib.sh"
lab_init seed004_sslshutdown_early_unread
source "$LAB/programs/sslshut_run.sh"
sslshut_run early 1.3 1.2

lab_assert_pcap "tls.alert_message.desc==0" 2 2
n=0
for v in 1.3 1.2; do
  n=$((n + 1))
  p=${SSLSHUT_PORTS[n - 1]}
  lab_assert_pcap "tcp.dstport==$p && tcp.flags.reset==1" 1
  lab_assert_pcap "tcp.dstport==$p && tcp.flags.fin==1" 0 0
  lab_expect '{"id":'$n',"verdict":"tls_close_then_reset",
    "tcp":{"client_fin":false,"client_rst":true},
    "rst":{"by":"client","cause":"unread_data"},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"client",
           "close_notify":{"client":"probable","server":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/server$n.log" 'SSL_read returned')"'}'
done
lab_done

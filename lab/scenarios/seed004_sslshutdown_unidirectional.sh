#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Seed 004, SSL_shutdown() called once then close(): the client's
# close_notify and FIN go out; the server answers with its own close_notify,
# which reaches a socket that no longer exists for reading -> the client's
# kernel resets (cause data_after_close).  TLS 1.2 and TLS 1.3.
source "$LAB/lib.sh"
lab_init seed004_sslshutdown_unidirectional
source "$LAB/programs/sslshut_run.sh"
sslshut_run uni 1.2 1.3

lab_assert_pcap "tls.alert_message.desc==0" 4 4
for i in 0 1; do
  p=${SSLSHUT_PORTS[i]}
  lab_assert_pcap "tcp.dstport==$p && tcp.flags.fin==1" 1
  lab_assert_pcap "tcp.dstport==$p && tcp.flags.reset==1" 1
  lab_assert_pcap "tcp.srcport==$p && tcp.flags.reset==1" 0 0
done
n=0
for v in 1.2 1.3; do
  n=$((n + 1))
  lab_expect '{"id":'$n',"verdict":"tls_close_then_reset",
    "tcp":{"first_close":"client","client_fin":true,"client_rst":true,"server_rst":false},
    "rst":{"by":"client","cause":"data_after_close"},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"client",
           "close_notify":{"client":"probable","server":"probable"}},
    "peer_report":'"$(lab_peer_report "$OUT/server$n.log" 'SSL_read after shutdown')"'}'
done
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Seed 004, SSL_shutdown() until it returns 1 on both sides: the client sends
# close_notify, waits for the server's, then both close.  The clean ending.
# TLS 1.2 and TLS 1.3.
source "$LAB/lib.sh"
lab_init seed004_sslshutdown_bidirectional
source "$LAB/programs/sslshut_run.sh"
sslshut_run bidi 1.2 1.3

lab_assert_pcap "tls.alert_message.desc==0" 4 4
lab_assert_pcap "tcp.flags.fin==1" 4 4
lab_assert_pcap "tcp.flags.reset==1" 0 0
n=0
for v in 1.2 1.3; do
  n=$((n + 1))
  lab_expect '{"id":'$n',"verdict":"tls_clean","rst":null,
    "tcp":{"client_fin":true,"server_fin":true,"client_rst":false,"server_rst":false},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"client",
           "close_notify":{"client":"probable","server":"probable"}},
    "peer_report":'"$(lab_peer_report "$OUT/client$n.log" 'SSL_shutdown \(2nd\)')"'}'
done
lab_done

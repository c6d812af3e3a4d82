#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Seed 003, cause unread_data: the server close()s while the client's second
# request sits unread in its receive buffer.  Linux then sends RST instead of
# FIN (RFC 9293 §3.10.4 allows it; tcp_close() does it when data is
# discarded) — also when the server had already sent FIN with
# shutdown(SHUT_WR).  Connections:
#   1 TLS 1.2 close() with unread data      2 TLS 1.3 the same
#   3 TLS 1.3 shutdown(SHUT_WR) first, then close() with unread data
#   4 plain TCP close() with unread data
source "$LAB/lib.sh"
lab_init seed003_rst_unread_data
lab_cert

run=("1.2 unread_data" "1.3 unread_data" "1.3 unread_shutwr" "none unread_data")
ports=()
for i in 0 1 2 3; do ports+=("$(lab_free_port)"); done
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]} or tcp port ${ports[3]}"
for i in 0 1 2 3; do
  set -- ${run[i]}
  "$LAB_PY" "$LAB/programs/rst_pair.py" pair "$2" --port "${ports[i]}" \
    --tls "$1" --keylog "$KEYS" --certdir "$(dirname "$CERT")" >"$OUT/conn$((i + 1)).log" 2>&1
done
lab_capture_stop

for i in 0 1 3; do
  lab_assert_pcap "tcp.srcport==${ports[i]} && tcp.flags.fin==1" 0 0
  lab_assert_pcap "tcp.srcport==${ports[i]} && tcp.flags.reset==1 && tcp.flags.ack==1" 1 1
done
lab_assert_pcap "tcp.srcport==${ports[2]} && tcp.flags.fin==1" 1
lab_assert_pcap "tcp.srcport==${ports[2]} && tcp.flags.reset==1 && tcp.flags.ack==1" 1 1
lab_assert_pcap "tls.alert_message" 0 0
for i in 0 1; do
  v=${run[i]%% *}
  lab_expect '{"id":'$((i + 1))',"verdict":"reset",
    "tcp":{"first_close":"server","server_fin":false,"server_rst":true,"client_fin":false,"client_rst":false},
    "rst":{"by":"server","cause":"unread_data"},
    "tls":{"version":"TLS'"$v"'","handshake":"complete","truncated":false,
           "close_notify":{"server":"none","client":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/conn$((i + 1)).log" 'client read')"'}'
done
# The FIN without close_notify makes it a truncation; the RST is still reported.
lab_expect '{"id":3,"verdict":"tls_truncated",
  "tcp":{"first_close":"server","server_fin":true,"server_rst":true,"client_fin":false},
  "rst":{"by":"server","cause":"unread_data"},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":true,
         "close_notify":{"server":"none","client":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/conn3.log" 'client read')"'}'
lab_expect '{"id":4,"verdict":"reset","tcp":{"first_close":"server","server_fin":false,"server_rst":true,"client_fin":false},
  "rst":{"by":"server","cause":"unread_data"},"tls":null,
  "peer_report":'"$(lab_peer_report "$OUT/conn4.log" 'client read')"'}'
lab_done

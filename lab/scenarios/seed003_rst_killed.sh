#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 003, "a peer crashed": the server process is SIGKILLed.  The kernel
# closes its sockets: with the client's second request unread in the receive
# buffer it sends RST (cause unread_data); with nothing unread it sends a
# plain FIN, which a TLS client sees as a truncation (no close_notify) —
# what the seed saw as "the server ended the connection normally".
# Connections: 1 TLS 1.3 killed with unread data, 2 TLS 1.2 the same,
# 3 TLS 1.3 killed idle, 4 plain TCP killed with unread data.
source "$LAB/lib.sh"
lab_init seed003_rst_killed
lab_cert

run=("1.3 killed_unread" "1.2 killed_unread" "1.3 killed_idle" "none killed_unread")
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
  lab_assert_pcap "tcp.srcport==${ports[i]} && tcp.flags.reset==1" 1 1
done
lab_assert_pcap "tcp.srcport==${ports[2]} && tcp.flags.fin==1" 1 1
lab_assert_pcap "tcp.port==${ports[2]} && tcp.flags.reset==1" 0 0
lab_assert_pcap "tls.alert_message" 0 0
for i in 0 1; do
  v=${run[i]%% *}
  lab_expect '{"id":'$((i + 1))',"verdict":"reset",
    "tcp":{"first_close":"server","server_fin":false,"server_rst":true,"client_rst":false},
    "rst":{"by":"server","cause":"unread_data"},
    "tls":{"version":"TLS'"$v"'","handshake":"complete","truncated":false,
           "close_notify":{"server":"none","client":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/conn$((i + 1)).log" 'client read')"'}'
done
lab_expect '{"id":3,"verdict":"tls_truncated",
  "tcp":{"first_close":"server","server_fin":true,"server_rst":false,"client_rst":false},
  "rst":null,
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":true,
         "close_notify":{"server":"none","client":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/conn3.log" 'client read')"'}'
lab_expect '{"id":4,"verdict":"reset","tcp":{"first_close":"server","server_fin":false,"server_rst":true,"client_rst":false},
  "rst":{"by":"server","cause":"unread_data"},"tls":null,
  "peer_report":'"$(lab_peer_report "$OUT/conn4.log" 'client read')"'}'
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 003, cause data_after_close: the server closes (TLS: close_notify then
# FIN; plain TCP: FIN), the client does not notice and writes once more; the
# server's socket is closed for reading, so its kernel answers the data with
# RST.  Connections: TLS 1.2, TLS 1.3, plain TCP.
source "$LAB/lib.sh"
lab_init seed003_rst_data_after_close
lab_cert

vers=(1.2 1.3 none)
ports=()
for v in "${vers[@]}"; do ports+=("$(lab_free_port)"); done
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]}"
for i in 0 1 2; do
  "$LAB_PY" "$LAB/programs/rst_pair.py" pair data_after_close --port "${ports[i]}" \
    --tls "${vers[i]}" --keylog "$KEYS" --certdir "$(dirname "$CERT")" >"$OUT/pair${vers[i]}.log" 2>&1
done
lab_capture_stop

for i in 0 1 2; do
  p=${ports[i]}
  # The server's FIN came first, then the RST answered the client's data.
  lab_assert_pcap "tcp.srcport==$p && tcp.flags.fin==1" 1
  lab_assert_pcap "tcp.srcport==$p && tcp.flags.reset==1" 1
done
lab_assert_pcap "tls.alert_message.desc==0 && tcp.srcport==${ports[0]}" 1 1
lab_assert_pcap "tls.alert_message.desc==0 && tcp.srcport==${ports[1]}" 1 1
for i in 0 1; do
  v=${vers[i]}
  lab_expect '{"id":'$((i + 1))',"verdict":"tls_close_then_reset",
    "tcp":{"first_close":"server","server_fin":true,"server_rst":true,"client_fin":false},
    "rst":{"by":"server","cause":"data_after_close"},
    "tls":{"version":"TLS'"$v"'","handshake":"complete","truncated":false,
           "close_notify":{"server":"probable","client":"none"},"first_close_notify":"server"},
    "peer_report":'"$(lab_peer_report "$OUT/pair$v.log" 'error|Error')"'}'
done
lab_expect '{"id":3,"verdict":"reset","tcp":{"first_close":"server","server_fin":true,"server_rst":true,"client_fin":false},
  "rst":{"by":"server","cause":"data_after_close"},"tls":null,
  "peer_report":'"$(lab_peer_report "$OUT/pairnone.log" 'error|Error')"'}'
lab_done

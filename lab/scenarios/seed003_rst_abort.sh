#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Seed 003, cause abort: after a complete request/response (nothing left
# unread) the client sets SO_LINGER {1,0} and closes: the kernel sends RST
# instead of FIN (RFC 9293 §3.10.4 ABORT) — "use RST to release connections
# quickly".  Connections: TLS 1.2, TLS 1.3, plain TCP.
source "$LAB/lib.sh"
lab_init seed003_rst_abort
lab_cert

vers=(1.2 1.3 none)
ports=()
for v in "${vers[@]}"; do ports+=("$(lab_free_port)"); done
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]}"
for i in 0 1 2; do
  "$LAB_PY" "$LAB/programs/rst_pair.py" pair abort --port "${ports[i]}" \
    --tls "${vers[i]}" --keylog "$KEYS" --certdir "$(dirname "$CERT")" >"$OUT/conn$((i + 1)).log" 2>&1
done
lab_capture_stop

lab_assert_pcap "tcp.flags.fin==1" 0 0
for i in 0 1 2; do
  lab_assert_pcap "tcp.dstport==${ports[i]} && tcp.flags.reset==1" 1 1
done
for i in 0 1; do
  v=${vers[i]}
  lab_expect '{"id":'$((i + 1))',"verdict":"reset",
    "tcp":{"first_close":"client","server_fin":false,"server_rst":false,"client_fin":false,"client_rst":true},
    "rst":{"by":"client","confidence":"possible","_truth":"abort: SO_LINGER {1,0} after reading the whole reply (kernel: TCP_STATE); on the wire the same as close() with the reply unread, so analyze says unread_data, possible (docs/analyze.md)"},
    "tls":{"version":"TLS'"$v"'","handshake":"complete","truncated":false,
           "close_notify":{"server":"none","client":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/conn$((i + 1)).log" 'server read')"'}'
done
lab_expect '{"id":3,"verdict":"reset","tcp":{"first_close":"client","server_fin":false,"server_rst":false,"client_fin":false,"client_rst":true},
  "rst":{"by":"client","confidence":"possible","_truth":"abort: SO_LINGER {1,0} after reading the whole reply (kernel: TCP_STATE); on the wire the same as close() with the reply unread, so analyze says unread_data, possible (docs/analyze.md)"},"tls":null,
  "peer_report":'"$(lab_peer_report "$OUT/conn3.log" 'server read')"'}'
lab_done

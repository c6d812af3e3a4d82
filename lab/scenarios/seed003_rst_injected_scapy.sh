#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 003, cause injected (scapy-crafted): an on-path box resets a TLS
# connection in the server's name.  Client and server live in two network
# namespaces joined by a veth pair; the server's namespace drops what the
# client sends from then on (so the real server never answers), and a scapy
# sniffer there answers the client's next record with an RST carrying exactly
# the client's RCV.NXT but TTL 37 (the server's packets have 64).  The
# capture is taken on the client's interface.  Connections: TLS 1.3, TLS 1.2.
source "$LAB/lib.sh"
lab_init seed003_rst_injected_scapy
lab_cert
lab_netns_pair

vers=(1.3 1.2)
ports=("$(lab_free_port)" "$(lab_free_port)")
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]}" "$IF_C" "$NS_C"
for i in 0 1; do
  p=${ports[i]} v=${vers[i]} n=$((i + 1))
  lab_bg_ns "$NS_S" server$n "$LAB_PY" "$LAB/programs/rst_pair.py" serve --host "$IP_S" --port "$p" \
    --tls "$v" --certdir "$(dirname "$CERT")"
  lab_wait_line "$OUT/server$n.log" "^ready" 10
  lab_bg_ns "$NS_C" client$n "$LAB_PY" "$LAB/programs/rst_pair.py" client wait_reset --host "$IP_S" \
    --port "$p" --tls "$v" --keylog "$KEYS" --certdir "$(dirname "$CERT")" --go "$TMPD/go$n"
  cpid=$LAB_BG_PID
  lab_wait_line "$OUT/client$n.log" "^established" 10
  lab_ns "$NS_S" nft add table inet lab$n
  lab_ns "$NS_S" nft add chain inet lab$n in '{ type filter hook input priority 0; }'
  lab_ns "$NS_S" nft add rule inet lab$n in tcp dport "$p" drop
  lab_bg_ns "$NS_S" inject$n "$LAB_PY" "$LAB/programs/rst_inject_scapy.py" "$IF_S" "$IP_S" "$p" 37
  lab_wait_line "$OUT/inject$n.log" "^sniffing" 20
  touch "$TMPD/go$n"
  lab_wait_line "$OUT/inject$n.log" "^injected" 10
  lab_wait_pid "$cpid" 10
  lab_log "client exit $LAB_RC"
done
lab_capture_stop

for i in 0 1; do
  lab_assert_pcap "tcp.srcport==${ports[i]} && tcp.flags.reset==1 && ip.ttl==37" 1 1
  lab_assert_pcap "tcp.port==${ports[i]} && tcp.flags.fin==1" 0 0
done
for i in 0 1; do
  lab_expect '{"id":'$((i + 1))',"verdict":"reset",
    "tcp":{"first_close":"server","server_rst":true,"client_rst":false,"client_fin":false,"server_fin":false},
    "rst":{"by":"server","cause":"injected"},
    "tls":{"version":"TLS'"${vers[i]}"'","handshake":"complete","close_notify":{"server":"none","client":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/client$((i + 1)).log" 'client read')"'}'
done
lab_done

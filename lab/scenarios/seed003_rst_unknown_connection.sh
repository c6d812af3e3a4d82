#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 003, cause unknown_connection: the server host loses the connection's
# state (as after a reboot or a firewall/NAT flush) while the client still
# holds it.  Server and client live in two namespaces; after one exchange the
# server's socket is destroyed with `ss -K` while its namespace drops the RST
# that this would send, so the client is not told.  When the client sends its
# next request, the server's kernel finds no socket and answers with an RST
# without ACK whose sequence number is the segment's acknowledgment number
# (RFC 9293 §3.10.7.1).  Captured on the client's side.  TLS 1.3, TLS 1.2
# over IPv4, TLS 1.3 over IPv6.
source "$LAB/lib.sh"
lab_init seed003_rst_unknown_connection
lab_cert
lab_netns_pair

vers=(1.3 1.2 1.3)
hosts=("$IP_S" "$IP_S" "$IP6_S")
ports=("$(lab_free_port)" "$(lab_free_port)" "$(lab_free_port)")
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]}" "$IF_C" "$NS_C"
for i in 0 1 2; do
  p=${ports[i]} v=${vers[i]} n=$((i + 1)) h=${hosts[i]}
  lab_bg_ns "$NS_S" server$n "$LAB_PY" "$LAB/programs/rst_pair.py" serve --host "$h" --port "$p" \
    --tls "$v" --certdir "$(dirname "$CERT")"
  lab_wait_line "$OUT/server$n.log" "^ready" 10
  lab_bg_ns "$NS_C" client$n "$LAB_PY" "$LAB/programs/rst_pair.py" client send_after_go --host "$h" \
    --port "$p" --tls "$v" --keylog "$KEYS" --certdir "$(dirname "$CERT")" --go "$TMPD/go$n"
  cpid=$LAB_BG_PID
  lab_wait_line "$OUT/client$n.log" "^established" 10
  lab_ns "$NS_S" nft add table inet lab$n
  lab_ns "$NS_S" nft add chain inet lab$n out '{ type filter hook output priority 0; }'
  lab_ns "$NS_S" nft add rule inet lab$n out tcp sport "$p" drop
  lab_ns "$NS_S" ss -K -tn state established "sport = :$p" >>"$PEERLOG"
  lab_wait_line "$OUT/server$n.log" "server read" 5
  lab_ns "$NS_S" nft delete table inet lab$n
  touch "$TMPD/go$n"
  lab_wait_pid "$cpid" 10
  lab_log "client exit $LAB_RC"
done
lab_capture_stop

for i in 0 1 2; do
  lab_assert_pcap "tcp.srcport==${ports[i]} && tcp.flags.reset==1 && tcp.flags.ack==0" 1 1
  lab_assert_pcap "tcp.port==${ports[i]} && tcp.flags.fin==1" 0 0
done
for i in 0 1 2; do
  lab_expect '{"id":'$((i + 1))',"verdict":"reset",
    "tcp":{"first_close":"server","server_rst":true,"client_rst":false,"client_fin":false,"server_fin":false},
    "rst":{"by":"server","cause":"unknown_connection"},
    "tls":{"version":"TLS'"${vers[i]}"'","handshake":"complete","close_notify":{"server":"none","client":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/client$((i + 1)).log" 'client read')"'}'
done
lab_done

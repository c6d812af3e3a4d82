#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 003, "one side never got an acknowledgment": after one exchange the
# server's namespace silently drops everything the client sends (a dead host
# or broken path).  Captured on the client's side.
#   1 TLS 1.3: the client's kernel retransmits its request (tcp_retries2=3 in
#     the client's namespace, ~3 s) and then gives up SILENTLY: no RST on the
#     wire, the application gets ETIMEDOUT.  Verdict stalled.
#   2 TLS 1.2: the application has its own 1.5 s timer; when it fires (after
#     3 retransmissions) it aborts with SO_LINGER {1,0}: RST after
#     retransmissions, cause retransmission_timeout.
source "$LAB/lib.sh"
lab_init seed003_rst_retransmission_timeout
lab_cert
lab_netns_pair
lab_ns "$NS_C" sysctl -qw net.ipv4.tcp_retries2=3

vers=(1.3 1.2)
modes=(send_after_go rto_abort)
ports=("$(lab_free_port)" "$(lab_free_port)")
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]}" "$IF_C" "$NS_C"
for i in 0 1; do
  p=${ports[i]} v=${vers[i]} n=$((i + 1))
  lab_bg_ns "$NS_S" server$n "$LAB_PY" "$LAB/programs/rst_pair.py" serve --host "$IP_S" --port "$p" \
    --tls "$v" --certdir "$(dirname "$CERT")"
  lab_wait_line "$OUT/server$n.log" "^ready" 10
  lab_bg_ns "$NS_C" client$n "$LAB_PY" "$LAB/programs/rst_pair.py" client "${modes[i]}" --host "$IP_S" \
    --port "$p" --tls "$v" --keylog "$KEYS" --certdir "$(dirname "$CERT")" --go "$TMPD/go$n" --timeout 1.5
  cpid=$LAB_BG_PID
  lab_wait_line "$OUT/client$n.log" "^established" 10
  lab_ns "$NS_S" nft add table inet lab$n
  lab_ns "$NS_S" nft add chain inet lab$n in '{ type filter hook input priority 0; }'
  lab_ns "$NS_S" nft add rule inet lab$n in tcp dport "$p" drop
  touch "$TMPD/go$n"
  lab_wait_pid "$cpid" 30
  lab_log "client exit $LAB_RC"
done
lab_capture_stop

lab_assert_pcap "tcp.flags.reset==1 || tcp.flags.fin==1" 1 1
lab_assert_pcap "tcp.dstport==${ports[0]} && tcp.analysis.retransmission" 3
lab_assert_pcap "tcp.dstport==${ports[1]} && tcp.analysis.retransmission" 2
lab_assert_pcap "tcp.dstport==${ports[1]} && tcp.flags.reset==1" 1 1
lab_expect '{"id":1,"verdict":"stalled",
  "tcp":{"first_close":null,"server_rst":false,"client_rst":false,"client_fin":false,"server_fin":false},
  "rst":null,
  "tls":{"version":"TLS1.3","handshake":"complete","close_notify":{"server":"none","client":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/client1.log" 'client read')"'}'
lab_expect '{"id":2,"verdict":"reset",
  "tcp":{"first_close":"client","server_rst":false,"client_rst":true,"client_fin":false,"server_fin":false},
  "rst":{"by":"client","cause":"retransmission_timeout"},
  "tls":{"version":"TLS1.2","handshake":"complete","close_notify":{"server":"none","client":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/client2.log" 'no answer')"'}'
lab_done

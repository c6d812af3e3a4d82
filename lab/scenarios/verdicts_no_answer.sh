#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Verdict no_answer: a server host that silently drops SYNs (a firewall with
# DROP, a host that is down).  The client (curl, 2.5 s connect timeout) sends
# its SYN and the kernel's retransmission one second later; nothing comes
# back.  The server namespace drops the port's SYNs with nftables; captured
# on the client's side, IPv4 and IPv6.
source "$LAB/lib.sh"
lab_init verdicts_no_answer
lab_netns_pair

port=$(lab_free_port)
lab_ns "$NS_S" nft add table inet labdrop
lab_ns "$NS_S" nft add chain inet labdrop in '{ type filter hook input priority 0; }'
lab_ns "$NS_S" nft add rule inet labdrop in tcp dport "$port" drop
lab_capture_start "tcp port $port" "$IF_C" "$NS_C"
n=0
for h in "$IP_S" "[$IP6_S]"; do
  n=$((n + 1))
  lab_bg_ns "$NS_C" curl$n curl -sS -g --connect-timeout 2.5 "https://$h:$port/"
  lab_wait_pid "$LAB_BG_PID" 10
  lab_log "curl $n exit $LAB_RC"
done
lab_capture_stop

lab_assert_pcap "tcp.flags.syn==1 && tcp.flags.ack==0" 4 6
lab_assert_pcap "tcp.srcport==$port" 0 0
for i in 1 2; do
  lab_expect '{"id":'$i',"verdict":"no_answer","rst":null,"tls":null,
    "tcp":{"start":"syn_only","client_fin":false,"server_fin":false,"packets":{"server":0}},
    "zeek_conn_state":"S0",
    "peer_report":'"$(lab_peer_report "$OUT/curl$i.log" 'curl')"'}'
done
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What the golden labels cannot say about tunnels: the UDP port option and
# the nesting limit.  usage: check.sh TLSFIN DIR (DIR: tests/pcap/tunnels)
set -uo pipefail
T=$1 D=$2
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
records() { "$T" analyze --format=jsonl "$@" 2>/dev/null | grep -c '^{'; }

# VXLAN on a port that is not the default one: UDP until configured
[[ $(records "$D/vxlan_port8472.pcap") == 0 ]] && ok "vxlan on 8472 is plain UDP by default" ||
  bad "vxlan on 8472 opened without --tunnel-port"
out=$("$T" analyze --format=jsonl --tunnel-port=vxlan:8472 "$D/vxlan_port8472.pcap")
[[ $out == *'"tunnel":[{"type":"vxlan","outer":{"src":"10.0.0.1","dst":"10.0.0.2"},"vni":8472}]'* &&
   $out == *'"verdict":"tcp_clean"'* ]] && ok "--tunnel-port=vxlan:8472 opens it" ||
  bad "--tunnel-port=vxlan:8472: $out"
[[ $(records --tunnel-port=vxlan:off "$D/vxlan.pcap") == 0 ]] && ok "--tunnel-port=vxlan:off" ||
  bad "--tunnel-port=vxlan:off still opens VXLAN"
[[ $(records --tunnel-port=gtpu:off --tunnel-port=vxlan:4789,8472 "$D/vxlan.pcap") == 1 ]] &&
  ok "ports add to the defaults" || bad "--tunnel-port=vxlan:4789,8472 lost 4789"
for spec in nope:1 vxlan vxlan:0 vxlan:70000 vxlan:1,x vxlan:1,2,3,4,5; do
  "$T" analyze --tunnel-port="$spec" "$D/vxlan.pcap" >/dev/null 2>&1
  [[ $? == 2 ]] && ok "--tunnel-port=$spec refused" || bad "--tunnel-port=$spec accepted"
done

# Nesting: 8 layers are followed (golden ipip_depth8), 9 are malformed
err=$("$T" analyze --format=jsonl "$D/ipip_depth9.pcap" 2>&1 >/dev/null)
rc=$?
[[ $rc == 2 && $err == *"10 malformed packet(s) skipped, first at packet 1: tunnels nested deeper than 8"* ]] &&
  ok "9 nested tunnels are malformed packets" || bad "ipip_depth9: rc $rc: $err"
[[ $(records "$D/ipip_depth9.pcap") == 0 ]] && ok "no connection from them" ||
  bad "ipip_depth9 produced a connection"
exit $fail

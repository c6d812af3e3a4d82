#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# community_id equals Wireshark's Community ID (tshark's communityid
# dissector, seed 0) for every connection of every golden capture, IPv4 and
# IPv6 (TCP headers quoted inside ICMP errors are not connections).
# usage: community_id_check.sh TLSFIN CAPTURE...
set -uo pipefail
T=$1; shift
command -v tshark >/dev/null || { echo "FAIL: tshark missing (apt tshark)"; exit 1; }
bad=0 n=0
for cap in "$@"; do
  ours=$("$T" analyze --format=jsonl "$cap" 2>/dev/null |
    python3 -c 'import json,sys; print("\n".join(sorted({json.loads(l)["community_id"] for l in sys.stdin})))')
  theirs=$(tshark --enable-protocol communityid -r "$cap" -Y 'tcp && !icmp && !icmpv6' -T fields -e communityid 2>/dev/null |
    grep -v '^$' | sort -u)
  n=$((n + $(grep -c . <<<"$ours")))
  if [[ "$ours" != "$theirs" ]]; then
    echo "FAIL $cap: community ids differ from tshark's"
    diff <(echo "$ours") <(echo "$theirs") | head -4
    bad=$((bad + 1))
  fi
done
echo "$n community ids in $# captures compared with tshark: $bad capture(s) differ"
[[ $bad -eq 0 ]]

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# wireshark_filter selects exactly the connection's packets in tshark: for
# every record, the packets tshark's display filter matches equal the
# packets of the records that share the 4-tuple (port reuse), IPv4 and IPv6.
# usage: wireshark_filter_check.sh TLSFIN CAPTURE...
set -uo pipefail
T=$1; shift
command -v tshark >/dev/null || { echo "FAIL: tshark missing (apt tshark)"; exit 1; }
bad=0 n=0
for cap in "$@"; do
  while IFS=$'\t' read -r filt want; do
    got=$(tshark -n -r "$cap" -Y "$filt" 2>/dev/null | wc -l)
    n=$((n + 1))
    if [[ "$got" != "$want" ]]; then
      echo "FAIL $cap: '$filt' matches $got packets, the records hold $want"
      bad=$((bad + 1))
    fi
  done < <("$T" analyze --format=jsonl "$cap" 2>/dev/null | python3 -c '
import json, sys
by = {}
for l in sys.stdin:
    r = json.loads(l)
    p = r["tcp"]["packets"]
    by[r["wireshark_filter"]] = by.get(r["wireshark_filter"], 0) + p["client"] + p["server"]
for f, k in by.items():
    print(f"{f}\t{k}")')
done
echo "$n display filters in $# captures checked with tshark: $bad differ"
[[ $n -gt 0 && $bad -eq 0 ]]

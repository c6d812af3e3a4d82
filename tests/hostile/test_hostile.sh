#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Memory bounded by the ceiling, not by the capture: hostile captures from
# bench/hostile/gen.py (a scan, SYN+RST pairs with one frozen timestamp, a
# time jump, many servers, time running backwards) analyzed with
# --max-memory 16, with one engine and with -j 2, stay under 64 MB of peak
# RSS and still report every connection.  With --annotate, the notes of
# every connection wait for the second pass in an external sort, and with
# --format=html its rows and strings wait in temporary files: the same
# bound holds, every note is in the annotated file and every connection on
# the page.  No timing is asserted.
# usage: test_hostile.sh TLSFIN GEN_PY
set -uo pipefail
T=$1 GEN=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0

# run OUT ARGS...: tlsfin analyze --max-memory 16 ARGS > OUT; sets rc, kb
run() {
  local out=$1
  shift
  /usr/bin/time -f "%M" -o "$tmp/rss" "$T" analyze --max-memory 16 "$@" \
    >"$out" 2>"$tmp/err"
  rc=$?
  kb=$(tail -1 "$tmp/rss")
}

# judge NAME GOT WANT UNIT: exit 0, GOT == WANT and under 64 MB
judge() {
  if [[ $rc -eq 0 && $kb -lt 65536 && $2 -eq $3 ]]; then
    echo "ok   $1: $2 $4, peak $((kb / 1024)) MB"
    pass=$((pass + 1))
  else
    echo "FAIL $1: exit $rc, $2 $4 (want $3), peak $((kb / 1024)) MB (want < 64)"
    head -3 "$tmp/err"
    fail=$((fail + 1))
  fi
}

# The connections on an HTML page (its data, docs/html.md).
page_conns() {
  python3 -c '
import base64, gzip, json, re, sys
page = open(sys.argv[1]).read()
z = re.search(r"data-encoding=\"gzip-base64\">([A-Za-z0-9+/=]*)</script>", page)
print(len(json.loads(gzip.decompress(base64.b64decode(z.group(1))))["conns"]) if z else -1)
' "$1"
}

n=200000
for kind in scan frozen jump servers backwards; do
  python3 "$GEN" "$kind" "$n" "$tmp/$kind.pcap" || { echo "FAIL gen $kind"; exit 1; }
  for j in 1 2; do # -j 2: the shards share the ceiling
    run "$tmp/out" -j $j --format=summary "$tmp/$kind.pcap"
    judge "$kind -j $j" "$(sed -n 's/^connections: //p' "$tmp/out")" $n connections
  done
  [[ $kind == scan || $kind == frozen ]] || continue
  # scan: one note per connection (its verdict); frozen: two (the verdict,
  # the RST)
  want=$n
  [[ $kind == frozen ]] && want=$((2 * n))
  run "$tmp/out" --format=summary --annotate="$tmp/ann.pcapng" "$tmp/$kind.pcap"
  judge "$kind --annotate" "$(grep -a -o 'tlsfin: conn [0-9]*: ' "$tmp/ann.pcapng" | wc -l)" \
    $want notes
  rm -f "$tmp/ann.pcapng"
  run "$tmp/page.html" --format=html "$tmp/$kind.pcap"
  judge "$kind html" "$(page_conns "$tmp/page.html")" $n connections
  rm -f "$tmp/page.html"
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

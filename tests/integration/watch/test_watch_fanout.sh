#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin watch -j 2 (PACKET_FANOUT, hash) against -j 1 on the same traffic:
# two namespaces joined by a veth pair, real peers (fanout_peers.py: plain
# TCP, TLS, RSTs, refused, connections left open) making ~210 connections,
# and two watchers on the server's end at once.  Checks:
#  - every connection is reported exactly once by -j 2, with the verdicts
#    -j 1 gives (the multisets of (4-tuple, verdict, RST cause) are equal),
#    and -j 2's ids are unique;
#  - the metrics of -j 2 total the rows written (and pass promtool), its
#    summary counts every row and as many packets as -j 1 saw;
#  - bad -j values are refused (exit 2) or capped with a message.
# usage (root): test_watch_fanout.sh TLSFIN
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
if [[ $(id -u) -ne 0 ]] || ! command -v ip >/dev/null; then
  echo "skip: needs root and iproute2"; exit 77
fi
tmp=$(mktemp -d)
tag="tff$$"
NS_C=${tag}c NS_S=${tag}s IF_C=${tag}c0 IF_S=${tag}s0
n=$(( $$ % 250 + 1 ))
IP_C=10.232.$n.1 IP_S=10.232.$n.2
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  for ns in "$NS_C" "$NS_S"; do
    ip netns pids "$ns" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  [[ -n ${KEEP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
waitline() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
             echo "FAIL: no '$2' in $1:"; cat "$1"; return 1; }

# ---- bad -j values ----
out=$("$T" watch -j abc 2>&1); rc=$?
check "-j abc: exit 2 and says so" '[[ $rc == 2 && $out == *"-j: '"'"'abc'"'"' is not a number of threads"* ]]'
out=$("$T" watch -j -3 2>&1); rc=$?
check "-j -3: exit 2" '[[ $rc == 2 && $out == *"is not a number of threads"* ]]'
out=$("$T" watch -j 2x 2>&1); rc=$?
check "-j 2x: exit 2" '[[ $rc == 2 ]]'
out=$("$T" watch -j 100000 -i nosuch0 2>&1); rc=$?
check "-j 100000: capped at 64 with a message" '[[ $rc == 2 && $out == *"capped at 64"* && $out == *"no such interface"* ]]'

# ---- the namespaces ----
ip netns add "$NS_C" && ip netns add "$NS_S" || { echo "skip: cannot create network namespaces"; exit 77; }
ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S"
for x in "$NS_C $IF_C $IP_C" "$NS_S $IF_S $IP_S"; do
  set -- $x
  ip -n "$1" link set lo up
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
  ip -n "$1" addr add "$3/24" dev "$2"
  ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$1" link set "$2" up
done

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null
P=20000 P_METRICS=9464
filter="tcp and net $IP_C/32"

# -j 1 and -j 2 on the same interface, at the same time.
ip netns exec "$NS_S" "$T" watch -i "$IF_S" -j 1 -f "$filter" --format=jsonl --kernel=off \
  --linger 0.5 >"$tmp/j1.jsonl" 2>"$tmp/j1.err" & w1=$!; pids+=($w1)
ip netns exec "$NS_S" "$T" watch -i "$IF_S" -j 2 -f "$filter" --format=jsonl --kernel=off \
  --linger 0.5 --metrics "127.0.0.1:$P_METRICS" --record "$tmp/rec" \
  >"$tmp/j2.jsonl" 2>"$tmp/j2.err" & w2=$!; pids+=($w2)
waitline "$tmp/j1.err" listening || exit 1
waitline "$tmp/j2.err" listening || exit 1
check "-j 2 says it runs 2 threads" 'grep -q "2 capture threads" "$tmp/j2.err"'

mkfifo "$tmp/srv.in"
ip netns exec "$NS_S" python3 "$here/fanout_peers.py" serve "$IP_S" $P "$tmp/c.pem" "$tmp/k.pem" \
  <>"$tmp/srv.in" >"$tmp/srv.log" 2>&1 & pids+=($!)
waitline "$tmp/srv.log" READY || exit 1
N=210
ip netns exec "$NS_C" timeout 120 python3 "$here/fanout_peers.py" client "$IP_S" $P $N "$tmp/release" \
  >"$tmp/cli.log" 2>&1 & cli=$!; pids+=($cli)
waitline "$tmp/cli.log" DONE || { cat "$tmp/cli.log"; exit 1; }

# Every ended connection written (linger 0.5 s) before the scrape: the
# metrics must then count exactly the rows.
sleep 2
ip netns exec "$NS_S" curl -s "http://127.0.0.1:$P_METRICS/metrics" >"$tmp/metrics.txt"
rows_now=$(grep -c . "$tmp/j2.jsonl")
if command -v promtool >/dev/null; then
  promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1; rc=$?
  check "promtool check metrics (-j 2)" '[[ $rc == 0 ]] || { cat "$tmp/promtool.out"; false; }'
else
  echo "note: promtool missing (apt prometheus); metrics not linted"
fi
mtotal=$(awk '/^tlsfin_connections_total\{/ {s += $2} END {print s + 0}' "$tmp/metrics.txt")
check "metrics total ($mtotal) = rows written ($rows_now)" '[[ $mtotal == "$rows_now" && $rows_now -gt 100 ]]'

# The open ones are written at the end, by whichever engine holds them.
kill -INT $w1 $w2
wait $w1; rc1=$?; wait $w2; rc2=$?
check "both exit 0 on SIGINT" '[[ $rc1 == 0 && $rc2 == 0 ]]'
touch "$tmp/release"; wait $cli 2>/dev/null
echo quit >"$tmp/srv.in"

python3 - "$tmp" $N <<'PY' || fail=1
import collections, json, re, sys
tmp, n = sys.argv[1], int(sys.argv[2])
def rows(name):
    return [json.loads(l) for l in open(f"{tmp}/{name}.jsonl") if l.strip()]
def key(r):
    return (r["client"]["ip"], r["client"]["port"], r["server"]["ip"], r["server"]["port"],
            r["verdict"], (r["rst"] or {}).get("cause"))
j1, j2 = rows("j1"), rows("j2")
bad = 0
def fail(msg):
    global bad
    bad += 1
    print("FAIL:", msg)
m1, m2 = collections.Counter(map(key, j1)), collections.Counter(map(key, j2))
if len(j1) < n:
    fail(f"-j 1 wrote {len(j1)} rows for {n} connections")
if m1 != m2:
    fail(f"-j 1 and -j 2 differ: only -j 1: {sorted((m1 - m2).elements())[:10]}; "
         f"only -j 2: {sorted((m2 - m1).elements())[:10]}")
tuples = collections.Counter(k[:4] for k in m2.elements())
dup = [t for t, c in tuples.items() if c > 1]
if dup:
    fail(f"-j 2 reported connections more than once: {dup[:10]}")
ids = [r["id"] for r in j2]
if len(set(ids)) != len(ids):
    fail(f"-j 2: ids not unique: {len(ids) - len(set(ids))} repeated")
verdicts = collections.Counter(r["verdict"] for r in j2)
want = {"tcp_clean", "reset", "tls_clean", "tls_truncated", "refused", "open"}
if not want <= set(verdicts):
    fail(f"the peers did not produce every ending: {dict(verdicts)}")
# the final summary of -j 2: totals over both threads
def summary(name):
    err = open(f"{tmp}/{name}.err").read()
    pk = re.findall(r"== tlsfin watch: \d+ s, (\d+) packets", err)
    cn = re.findall(r"^connections: (\d+)", err, re.M)
    return (int(pk[-1]) if pk else -1, int(cn[-1]) if cn else -1)
(p1, c1), (p2, c2) = summary("j1"), summary("j2")
if c2 != len(j2):
    fail(f"-j 2 summary counts {c2} connections, {len(j2)} rows written")
if p1 != p2:
    fail(f"-j 1 saw {p1} packets, -j 2 {p2}")
per = re.findall(r"packets per thread: (\d+) (\d+)\)", open(f"{tmp}/j2.err").read())
if not per or min(map(int, per[-1])) == 0 or sum(map(int, per[-1])) != p2:
    fail(f"-j 2: packets per thread {per[-1:]} (total {p2}): the fanout did not spread them")
print(f"{len(j2)} rows compared ({dict(verdicts)}), {p2} packets; {bad} failures")
sys.exit(1 if bad else 0)
PY
# the flight recorder of -j 2: the bad endings, once each
nrec=$(for f in "$tmp"/rec/tlsfin-*.pcapng; do [[ -e $f ]] && "$T" analyze --format=jsonl "$f"; done | grep -c .)
nbad=$(grep -vc '"verdict":"\(tls_clean\|tcp_clean\|tls_one_sided\)"' "$tmp/j2.jsonl")
check "-j 2 recorder: $nrec connections recorded, $nbad bad endings" '[[ $nrec == "$nbad" && $nbad -gt 0 ]]'
[[ $fail == 0 ]] && echo "all watch -j checks passed"
exit $fail

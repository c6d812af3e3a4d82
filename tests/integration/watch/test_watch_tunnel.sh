#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin watch opens tunnels on a live interface as analyze does in files:
# a VXLAN capture on a non-standard port (8472, Linux's own default),
# replayed onto lo, is one inner connection with its tunnel only when
# --tunnel-port says so; a bad --tunnel-port is exit 2.  Needs root and
# tcpreplay (skipped with 77 otherwise).
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
cap=$here/../../pcap/tunnels/vxlan_port8472.pcap
[[ $(id -u) -eq 0 ]] || { echo "skip: needs root"; exit 77; }
command -v tcpreplay >/dev/null || { echo "skip: tcpreplay missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

out=$("$T" watch -i lo --tunnel-port=vxlan:nope 2>&1); rc=$?
[[ $rc == 2 && $out == *"--tunnel-port"* ]] || { echo "FAIL: bad --tunnel-port: exit $rc: $out"; fail=1; }

run() { # $1: output file, then watch's extra options
  local o=$1; shift
  "$T" watch -i lo --kernel=off --format=jsonl --duration 4 -f 'udp port 8472' "$@" >"$o" 2>"$o.err" &
  local pid=$!
  sleep 1.5
  tcpreplay -q -i lo "$cap" >/dev/null 2>&1
  wait "$pid" || echo "FAIL: watch $* exited $?: $(tail -2 "$o.err")"
}
run "$tmp/on.jsonl" --tunnel-port=vxlan:8472
run "$tmp/off.jsonl"
python3 - "$tmp" <<'PY' || fail=1
import json, sys
tmp = sys.argv[1]
on = [json.loads(l) for l in open(f"{tmp}/on.jsonl")]
off = [json.loads(l) for l in open(f"{tmp}/off.jsonl")]
bad = 0
if len(on) != 1 or on[0]["verdict"] != "tcp_clean" or on[0]["client"]["ip"] != "192.168.1.10" \
        or (on[0]["tunnel"] or [{}])[0].get("type") != "vxlan" or on[0]["tunnel"][0].get("vni") != 8472:
    print(f"FAIL: with --tunnel-port vxlan:8472: {[(r['verdict'], r['client'], r['tunnel']) for r in on]}")
    bad = 1
if off:
    print(f"FAIL: without --tunnel-port, port 8472 is not VXLAN, yet: {[r['client'] for r in off]}")
    bad = 1
print(f"{len(on)} connection(s) with --tunnel-port, {len(off)} without")
sys.exit(bad)
PY
[[ $fail == 0 ]] && echo "ok: watch --tunnel-port"
exit $fail

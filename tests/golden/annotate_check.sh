#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin analyze --annotate=OUT.pcapng, checked with Wireshark's own tools
# against the original capture(s):
#  - the packets tshark finds with `frame.comment contains "tlsfin"` are the
#    ones tshark itself points at in the original: each TCP stream's first
#    frame, each side's first RST and first FIN, and every TLS alert record
#    (decrypted with the keys when given).  tlsfin may add frames tshark
#    cannot see: a close_notify it judges "probable" or an alert it
#    "inferred" or recognised from an encrypted record's size (TLS 1.3
#    hides the record type); such a frame must carry only such notes;
#  - OUT holds the same packets: same count, lengths and nanosecond
#    timestamps, and (one input) byte for byte the same records;
#  - `tlsfin analyze --format=jsonl OUT` (no key option: OUT carries its
#    keys) gives the same records as the original with its keys;
#  - with keys, tshark decrypts OUT without any key option: the same
#    close_notify alerts as the original with the key log.
# Several CAPTUREs (joined with ',') are analyzed merged, as one capture;
# FILE@N is FILE cut into pieces of N packets (editcap -c, a rotated
# series), the pieces analyzed merged and compared with FILE whole.
# With a 4th argument "decrypts", the keyed original must show at least one
# close_notify (the comparison is then not vacuous).
# usage: annotate_check.sh TLSFIN CAPTURE[,CAPTURE...] [KEYS [decrypts]]
set -euo pipefail
T=$1 caps=$2 keys=${3:-} must_decrypt=${4:-}
command -v tshark >/dev/null || { echo "FAIL: tshark missing (apt tshark)"; exit 1; }
IFS=, read -r -a inputs <<<"$caps"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
split=
if [[ ${#inputs[@]} -eq 1 && $caps =~ ^(.+)@([0-9]+)$ ]]; then
  split=${BASH_REMATCH[1]}
  editcap -c "${BASH_REMATCH[2]}" "$split" "$work/part.pcapng" >/dev/null
  inputs=("$work"/part_*.pcapng)
  [[ ${#inputs[@]} -gt 1 ]] || { echo "FAIL ${caps}: not split"; exit 1; }
fi
out=$work/out.pcapng
fail() { echo "FAIL ${caps}: $*"; exit 1; }

keyopt=()
[[ -n $keys ]] && keyopt=(-o "tls.keylog_file:$keys")

# The original as one capture: mergecap merges by time like tlsfin does
# (several inputs only; equal timestamps may be ordered differently, so the
# merged comparisons below are on sets of frames described by content).
# exact: the original is one file in the order tlsfin writes
exact=1
if [[ -n $split ]]; then
  orig=$split
elif [[ ${#inputs[@]} -gt 1 ]]; then
  orig=$work/orig.pcapng exact=
  mergecap -w "$orig" "${inputs[@]}"
else
  orig=${inputs[0]}
fi

rc=0
"$T" analyze --format=jsonl ${keys:+--keylog "$keys"} --annotate="$out" \
  "${inputs[@]}" >"$work/in.jsonl" 2>"$work/err" || rc=$?
[[ $rc -eq 0 || $rc -eq 1 ]] || fail "tlsfin exited $rc: $(cat "$work/err")"
[[ -s $out ]] || fail "no $out written"

# 1. Same packets.  A frame is described by its time (ns), lengths and
# TCP endpoints, so that merged inputs compare as sets.
desc() {
  tshark -r "$1" -T fields -E separator=' ' -e frame.time_epoch -e frame.len \
    -e frame.cap_len -e ip.src -e ipv6.src -e tcp.srcport -e tcp.seq_raw \
    -e tcp.flags 2>/dev/null
}
desc "$orig" >"$work/orig.desc"
desc "$out" >"$work/out.desc"
n_orig=$(wc -l <"$work/orig.desc")
n_out=$(wc -l <"$work/out.desc")
[[ $n_orig -eq $n_out ]] || fail "$n_out packets written, the input has $n_orig"
if [[ -n $exact ]]; then
  cmp -s "$work/orig.desc" "$work/out.desc" ||
    fail "times or lengths differ: $(diff "$work/orig.desc" "$work/out.desc" | head -3)"
  # byte for byte: both as nanosecond pcap records (the 24-byte file
  # header carries the snapshot length, compared apart)
  editcap -F nsecpcap "$orig" "$work/a.pcap" 2>/dev/null
  editcap -F nsecpcap "$out" "$work/b.pcap" 2>/dev/null
  cmp -s <(tail -c +25 "$work/a.pcap") <(tail -c +25 "$work/b.pcap") ||
    fail "packet bytes differ from the input's"
else
  cmp -s <(sort "$work/orig.desc") <(sort "$work/out.desc") ||
    fail "the packets differ from the merged inputs'"
fi

# 2. The annotated frames against what tshark finds in the original.
# Expected (as frame descriptions, so merged inputs compare too): first
# frame of each TCP stream, first RST and first FIN of each side, frames
# with a TLS alert record.
expected() {
  tshark -r "$1" "${@:2}" -Y tcp -T fields -E separator='|' \
    -e frame.number -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport \
    -e tcp.flags.reset -e tcp.flags.fin -e tls.record.content_type \
    2>/dev/null | python3 -c '
import sys
seen_stream, seen = set(), set()
for line in sys.stdin:
    no, stream, ip4, ip6, port, rst, fin, ctype = line.rstrip("\n").split("|")
    side = (stream, ip4 or ip6, port)
    hit = False
    if stream not in seen_stream:
        seen_stream.add(stream); hit = True
    if rst in ("1", "True") and (side, "rst") not in seen:
        seen.add((side, "rst")); hit = True
    # an RST that also has FIN set is an RST for tlsfin
    elif fin in ("1", "True") and rst not in ("1", "True") and (side, "fin") not in seen:
        seen.add((side, "fin")); hit = True
    if "21" in ctype.split(","):
        hit = True
    if hit:
        print(no)
'
}
# frame number -> description, for both files
number_desc() {
  tshark -r "$1" -T fields -E separator=' ' -e frame.number \
    -e frame.time_epoch -e frame.len -e frame.cap_len -e ip.src -e ipv6.src \
    -e tcp.srcport -e tcp.seq_raw -e tcp.flags 2>/dev/null
}
number_desc "$orig" >"$work/orig.nd"
number_desc "$out" >"$work/out.nd"
expected "$orig" "${keyopt[@]}" >"$work/expected.no"
tshark -r "$out" -Y 'frame.comment contains "tlsfin"' -T fields \
  -E separator='|' -e frame.number -e frame.comment 2>/dev/null \
  >"$work/annotated"
[[ -s $work/annotated ]] || fail "no packet comment found by tshark"
python3 - "$work" <<'EOF' || fail "annotated frames differ from tshark's view"
import re, sys
w = sys.argv[1]
def nd(path):
    m = {}
    for line in open(path):
        no, rest = line.rstrip("\n").split(" ", 1)
        m[int(no)] = rest
    return m
orig, out = nd(w + "/orig.nd"), nd(w + "/out.nd")
expected = {orig[int(l)] for l in open(w + "/expected.no") if l.strip()}
got, notes = set(), {}
for line in open(w + "/annotated"):
    no, comment = line.rstrip("\n").split("|", 1)
    d = out[int(no)]
    got.add(d)
    # tshark joins several comments of a frame with ','
    notes[d] = [c for c in re.split(r",(?=tlsfin: )", comment)]
missing = expected - got
extra = got - expected
# what tshark cannot see without knowing the record type
# (TLS 1.3: an alert-sized application_data record before the last one is
# an encrypted alert of unknown description)
only_tlsfin = re.compile(
    r"close_notify \(probable\)|inferred\)$|encrypted alert, description unknown$")
bad_extra = {d for d in extra if not all(only_tlsfin.search(n) for n in notes[d])}
ok = True
if missing:
    ok = False
    print("tshark points at frames tlsfin left bare:")
    for d in sorted(missing)[:5]:
        print("  ", d)
if bad_extra:
    ok = False
    print("frames annotated that tshark does not point at:")
    for d in sorted(bad_extra)[:5]:
        print("  ", d, notes[d])
print(f"{len(got)} annotated frames, {len(expected)} expected from tshark, "
      f"{len(extra) - len(bad_extra)} only tlsfin can tell (probable/inferred)")
sys.exit(0 if ok else 1)
EOF

# 3. The same records from OUT, whose keys travel inside it.
rc=0
"$T" analyze --format=jsonl "$out" >"$work/out.jsonl" 2>/dev/null || rc=$?
[[ $rc -eq 0 || $rc -eq 1 ]] || fail "tlsfin exited $rc on its own output"
if [[ ${#inputs[@]} -eq 1 ]]; then
  cmp -s "$work/in.jsonl" "$work/out.jsonl" ||
    fail "the records of OUT differ: $(diff "$work/in.jsonl" "$work/out.jsonl" | head -4)"
else
  # merged inputs: packet numbers are per file, so compare the verdicts
  python3 - "$work" <<'EOF' || fail "the verdicts of OUT differ"
import json, sys
w = sys.argv[1]
def key(path):
    return [(r["id"], r["verdict"], (r.get("rst") or {}).get("cause"))
            for r in map(json.loads, open(path))]
a, b = key(w + "/in.jsonl"), key(w + "/out.jsonl")
if a != b:
    print([x for x in zip(a, b) if x[0] != x[1]][:3])
    sys.exit(1)
EOF
fi

# 4. OUT decrypts alone: the close_notify alerts the keyed original shows.
if [[ -n $keys ]]; then
  cn() {
    tshark -r "$1" "${@:2}" -Y 'tls.alert_message.desc==0' -T fields \
      -e frame.time_epoch 2>/dev/null | sort
  }
  want=$(cn "$orig" "${keyopt[@]}")
  have=$(cn "$out")
  [[ -n $want || -z $must_decrypt ]] ||
    fail "the keyed original shows no close_notify to compare"
  [[ "$want" == "$have" ]] ||
    fail "close_notify decrypted from OUT differ: $(diff <(echo "$want") <(echo "$have") | head -3)"
fi
echo "ok ${caps}: $n_out packets, annotated, records and keys equal"

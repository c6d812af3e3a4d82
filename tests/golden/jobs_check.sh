#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# analyze -j N writes what -j 1 writes: the same records, in the same order,
# byte for byte (docs/scale.md), on every capture of the tests.
#   - every capture, JSONL, -j 2 and -j 3 (with its key log when there is
#     one: decryption runs in the shards);
#   - every format (table, zeek, csv, summary) on the lab captures (pcapng)
#     and the crafted classic pcap files (the mmap reader's other format);
#   - a generated capture of many interleaved connections, also with short
#     timeouts, so that connections expire between other shards' packets;
#   - all the captures of a directory as one merged input (several files);
#   - slots moving between shards (TLSFIN_PAR_SHUFFLE forces it);
#   - the same capture from stdin (libpcap reads it: the shards get copies)
#     and gzip-compressed;
#   - --fail-on gives the same exit status;
#   - bad values of -j are refused with a message.
# usage: jobs_check.sh TLSFIN SOURCE_DIR [GEN_CAPTURE]
set -uo pipefail
T=$1 S=$2 G=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0 n=0

same() { # label cmd... : -j 1 and -j N (N in 2 3) give the same bytes and status
  local label=$1; shift
  "$T" analyze -j 1 "$@" >"$tmp/a" 2>"$tmp/a.err"
  local ra=$?
  for j in 2 3; do
    "$T" analyze -j $j "$@" >"$tmp/b" 2>"$tmp/b.err"
    local rb=$?
    n=$((n + 1))
    # Zeek's #open/#close lines carry the time of the run
    if ! cmp -s <(grep -v '^#open\|^#close' "$tmp/a") <(grep -v '^#open\|^#close' "$tmp/b") ||
      ! cmp -s "$tmp/a.err" "$tmp/b.err" || [[ $ra != "$rb" ]]; then
      echo "FAIL $label: -j $j differs from -j 1 (exit $rb vs $ra)"
      diff <(head -c 3000 "$tmp/a") <(head -c 3000 "$tmp/b") | head -8
      diff "$tmp/a.err" "$tmp/b.err" | head -4
      bad=$((bad + 1))
    fi
  done
}

mapfile -t caps < <(cd "$S" && find tests samples \( -name '*.pcap' -o -name '*.pcapng' \) \
  -not -path '*/node_modules/*' | sort)
[[ ${#caps[@]} -gt 100 ]] || { echo "FAIL: only ${#caps[@]} captures found under $S"; exit 1; }
for c in "${caps[@]}"; do
  keys=()
  for k in "$S/${c%.pcap*}.keys" "$S/${c%.pcap*}.keylog"; do
    [[ -f $k ]] && keys=(--keylog="$k")
  done
  same "$c" --format=jsonl "${keys[@]}" "$S/$c"
done

for c in "$S"/tests/captures/*.pcapng "$S"/samples/demo.pcapng; do
  for f in table zeek csv summary; do
    same "$(basename "$c") --format=$f" --format=$f "$c"
  done
done

# classic pcap files, read in place by the shards
for c in "$S"/tests/pcap/*.pcap; do
  for f in table zeek csv summary; do
    same "$(basename "$c") --format=$f" --format=$f "$c"
  done
done

# a generated capture with hundreds of connections at once, with Zeek-like
# short timeouts too: connections expire while the other shards' packets go
# by, and the clock jumps
if [[ -n ${G:-} ]]; then
  "$G" -o "$tmp/gen.pcap" --size-mb 6 --conns 800 2>/dev/null
  same "generated" --format=jsonl "$tmp/gen.pcap"
  same "generated, summary" --format=summary "$tmp/gen.pcap"
  # enough batches (1024 packets each) to go round the ring of batches
  # many times
  "$G" -o "$tmp/gen30.pcap" --size-mb 30 --conns 4000 2>/dev/null
  same "generated 30 MB" --format=jsonl "$tmp/gen30.pcap"
  same "generated 30 MB, summary" --format=summary "$tmp/gen30.pcap"
  # slots moving between shards as the load shifts (par.c, rebalance):
  # forced to move back and forth every other batch, short timeouts so
  # that finished tuples' roles (tombs) move with them
  export TLSFIN_PAR_SHUFFLE=1
  same "generated 30 MB, slots moving" --format=jsonl "$tmp/gen30.pcap"
  same "generated 30 MB, slots moving, timeouts 0.5" --format=jsonl --attempt-timeout=0.5 \
    --idle-timeout=0.5 --half-closed-timeout=0.5 "$tmp/gen30.pcap"
  unset TLSFIN_PAR_SHUFFLE
  # a filter on the mmap reader (pcap_offline_filter)
  same "generated, --filter" --format=jsonl --filter 'tcp port 443 and not net 10.0.2.0/24' \
    "$tmp/gen.pcap"
  # libpcap reads: the packets are copied for the shards
  export TLSFIN_READER=libpcap
  same "generated, libpcap reader" --format=jsonl "$tmp/gen.pcap"
  unset TLSFIN_READER
  for t in 1 0.01; do
    same "generated, timeouts $t" --format=jsonl --attempt-timeout=$t \
      --idle-timeout=$t --half-closed-timeout=$t "$tmp/gen.pcap"
  done
  # timestamps that go backwards (clock steps, merged sensors): every
  # connection still times out at its own time, whoever is ahead of it
  python3 - "$tmp/gen.pcap" "$tmp/jitter.pcap" <<'PY'
import random, struct, sys
random.seed(7)
src = open(sys.argv[1], "rb").read()
out, off = [src[:24]], 24
while off + 16 <= len(src):
    sec, usec, incl, orig = struct.unpack_from("<IIII", src, off)
    t = sec * 1000000 + usec - random.choice((0, 0, 0, 30000, 400000, 3000000))
    out.append(struct.pack("<IIII", t // 1000000, t % 1000000, incl, orig))
    out.append(src[off + 16:off + 16 + incl])
    off += 16 + incl
open(sys.argv[2], "wb").write(b"".join(out))
PY
  for t in 2 0.2; do
    same "generated, jittered clock, timeouts $t" --format=jsonl --attempt-timeout=$t \
      --idle-timeout=$t --half-closed-timeout=$t "$tmp/jitter.pcap"
  done
  TLSFIN_PAR_SHUFFLE=1 same "generated, jittered clock, slots moving" --format=jsonl \
    --attempt-timeout=0.2 --idle-timeout=0.2 --half-closed-timeout=0.2 "$tmp/jitter.pcap"
fi

# several files as one capture, in time order
same "tests/captures/* merged" --format=jsonl "$S"/tests/captures/*.pcapng
same "tests/pcap/* merged" --format=summary "$S"/tests/pcap/*.pcap
# stdin (libpcap) and gzip
gzip -c "$S/samples/demo.pcapng" >"$tmp/demo.pcapng.gz"
n=$((n + 1))
"$T" analyze --format=jsonl "$S/samples/demo.pcapng" >"$tmp/ref"
for j in 2 3; do
  "$T" analyze -j $j --format=jsonl - <"$S/samples/demo.pcapng" >"$tmp/stdin"
  "$T" analyze -j $j --format=jsonl "$tmp/demo.pcapng.gz" >"$tmp/gz"
  if ! cmp -s "$tmp/ref" "$tmp/stdin" || ! cmp -s "$tmp/ref" "$tmp/gz"; then
    echo "FAIL: -j $j from stdin or gzip differs"
    bad=$((bad + 1))
  fi
done
# --fail-on: same status
same "--fail-on" --format=jsonl --fail-on=reset,tls_truncated "$S/samples/demo.pcapng"
# unordered: the same records, in any order
n=$((n + 1))
if ! cmp -s <(sort "$tmp/ref") <("$T" analyze -j 2 --unordered --format=jsonl \
  "$S/samples/demo.pcapng" | sort); then
  echo "FAIL: -j 2 --unordered does not give the same set of records"
  bad=$((bad + 1))
fi
# formats that need one engine still work with -j (and say nothing)
n=$((n + 1))
if ! "$T" analyze -j 2 --format=html "$S/samples/demo.pcapng" >"$tmp/h.html" 2>"$tmp/h.err" ||
  [[ -s $tmp/h.err ]] || ! grep -q '</html>' "$tmp/h.html"; then
  echo "FAIL: -j 2 --format=html"
  bad=$((bad + 1))
fi

# bad -j values
for v in -1 x 2.5 65 ''; do
  n=$((n + 1))
  "$T" analyze -j "$v" "$S/samples/demo.pcapng" >/dev/null 2>"$tmp/err"
  rc=$?
  if [[ $rc != 2 ]] || ! grep -q -- '-j' "$tmp/err"; then
    echo "FAIL: -j '$v': exit $rc, message: $(head -1 "$tmp/err")"
    bad=$((bad + 1))
  fi
done

echo "$n comparisons of -j 2/-j 3 against -j 1 on ${#caps[@]} captures: $bad differ"
[[ $bad -eq 0 ]]

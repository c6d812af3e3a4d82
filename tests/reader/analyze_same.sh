#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin analyze gives the same records, the same messages and the same exit
# code whether the mmap reader (src/analyze/pcapfile.c) or libpcap reads the
# captures (TLSFIN_READER=libpcap): every file under the directories given,
# one at a time (with its .keys beside it when there is one, and with a
# filter), the crafted edge cases of reader_diff, and each directory's
# captures together (the merged read of several inputs).
#   analyze_same.sh TLSFIN READER_DIFF DIR...
set -uo pipefail
T=$1 RD=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

same() { # name -- args...: both readers, compared
  local name=$1 ra=0 rb=0
  shift 2
  "$T" analyze "$@" >"$tmp/a.out" 2>"$tmp/a.err" || ra=$?
  TLSFIN_READER=libpcap "$T" analyze "$@" >"$tmp/b.out" 2>"$tmp/b.err" || rb=$?
  if [[ $ra -ne $rb ]] || ! cmp -s "$tmp/a.out" "$tmp/b.out" ||
     ! cmp -s "$tmp/a.err" "$tmp/b.err"; then
    echo "FAIL $name: exit $ra (mmap) vs $rb (libpcap)"
    diff "$tmp/a.out" "$tmp/b.out" | head -5
    diff "$tmp/a.err" "$tmp/b.err" | head -5
    fail=$((fail + 1))
    return
  fi
  pass=$((pass + 1))
}

# The crafted cases of the differential test, as files (they are the seeds
# of fuzz/corpus/pcapfile too, usually given as one of the directories).
mkdir -p "$tmp/crafted"
"$RD" --corpus "$tmp/crafted" >/dev/null || { echo "FAIL reader_diff --corpus"; exit 1; }

dirs=("$@")
have_crafted=0
for d in "$@"; do [[ -f $d/ng_ok_le ]] && have_crafted=1; done
[[ $have_crafted -eq 1 ]] || dirs+=("$tmp/crafted")
files=()
for d in "${dirs[@]}"; do
  while IFS= read -r f; do files+=("$f"); done < <(
    find "$d" -type f ! -name '*.jsonl' ! -name '*.keys' ! -name '*.py' \
      ! -name '*.sh' ! -name '*.md' ! -name '*.tsv' ! -name '*.txt' \
      ! -name '*.json' ! -name 'CMakeLists.txt' | sort)
done
mapped=0
for f in "${files[@]}"; do
  same "$f" -- --format=jsonl "$f"
  same "$f filtered" -- --format=jsonl --filter 'tcp port 443 or tcp port 8443' "$f"
  keys=${f%.*}.keys
  [[ -f $keys ]] && same "$f keyed" -- --format=jsonl --keylog "$keys" "$f"
done
for d in "${dirs[@]}"; do
  mapfile -t caps < <(find "$d" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
  [[ ${#caps[@]} -gt 1 ]] && same "$d merged" -- --format=jsonl "${caps[@]}"
done
# A FIFO is libpcap's (the reader must not even open it): the same records
# as the file.
cap=$(printf '%s\n' "${files[@]}" | grep -m1 '\.pcapng$')
if [[ -n $cap ]]; then
  mkfifo "$tmp/fifo"
  cat "$cap" >"$tmp/fifo" &
  timeout 20 "$T" analyze --format=jsonl "$tmp/fifo" >"$tmp/fifo.out" 2>/dev/null
  "$T" analyze --format=jsonl "$cap" >"$tmp/file.out" 2>/dev/null
  if cmp -s "$tmp/fifo.out" "$tmp/file.out"; then pass=$((pass + 1)); else
    echo "FAIL a FIFO does not read as the file it carries"; fail=$((fail + 1)); fi
fi
# Not vacuous: the default run maps the file, TLSFIN_READER=libpcap does not.
if command -v strace >/dev/null && [[ -n $cap ]]; then
  size=$(stat -c %s "$cap")
  strace -f -e trace=mmap -o "$tmp/trace" "$T" analyze --format=jsonl "$cap" >/dev/null 2>&1
  grep -q "mmap(NULL, $size, PROT_READ, MAP_PRIVATE" "$tmp/trace" && mapped=1
  strace -f -e trace=mmap -o "$tmp/trace" env TLSFIN_READER=libpcap "$T" analyze --format=jsonl "$cap" >/dev/null 2>&1
  grep -q "mmap(NULL, $size, PROT_READ, MAP_PRIVATE" "$tmp/trace" && mapped=2
  if [[ $mapped -eq 1 ]]; then pass=$((pass + 1)); else
    echo "FAIL the default run does not map $cap (or TLSFIN_READER=libpcap does)"; fail=$((fail + 1)); fi
fi
echo "${#files[@]} captures; $pass comparisons the same, $fail different"
[[ $fail -eq 0 ]]

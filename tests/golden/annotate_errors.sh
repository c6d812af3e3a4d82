#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin analyze --annotate: what it refuses and how it fails.  Each case
# must exit 2 with a message naming the problem (never a crash), leave no
# partial or temporary file, and leave an existing OUT as it was; and the
# cases that work: stdin (spooled), a filter, OUT replaced, records on
# stdout unchanged by --annotate.
# usage: annotate_errors.sh TLSFIN CAPTURE
set -uo pipefail
T=$1 cap=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bad=0
fail() {
  echo "FAIL: $*"
  bad=$((bad + 1))
}

# expect_error NAME PATTERN ARGS...: exit 2, PATTERN on stderr
expect_error() {
  local name=$1 pat=$2
  shift 2
  local rc=0
  "$T" analyze "$@" >"$work/stdout" 2>"$work/stderr" || rc=$?
  if [[ $rc -ne 2 ]]; then
    fail "$name: exit $rc, expected 2 ($(head -c 300 "$work/stderr"))"
  elif ! grep -q -- "$pat" "$work/stderr"; then
    fail "$name: message lacks '$pat': $(cat "$work/stderr")"
  fi
}

# no temporary file of ours left in DIR
no_leftovers() {
  if compgen -G "$1/.*.tlsfin-*" >/dev/null; then
    fail "$2: a temporary file was left in $1"
  fi
}

expect_error "stdout" "standard output" --annotate=- "$cap"
expect_error "/dev/stdout" "standard output" --annotate=/dev/stdout "$cap"
expect_error "missing dir" "cannot create a file" \
  --annotate="$work/no/such/dir/out.pcapng" "$cap"
touch "$work/afile"
expect_error "parent is a file" "cannot create a file" \
  --annotate="$work/afile/out.pcapng" "$cap"
expect_error "a directory" "is a directory" --annotate="$work" "$cap"

# the same file as an input, directly or through a link
cp "$cap" "$work/in.pcapng"
ln -s in.pcapng "$work/link.pcapng"
expect_error "same file" "is also an input" \
  --annotate="$work/in.pcapng" "$work/in.pcapng"
expect_error "same file (link)" "is also an input" \
  --annotate="$work/link.pcapng" "$work/in.pcapng"
expect_error "same file (second input)" "is also an input" \
  --annotate="$work/in.pcapng" "$cap" "$work/in.pcapng"
cmp -s "$cap" "$work/in.pcapng" || fail "same file: the input was changed"
no_leftovers "$work" "same file"

# garbage in: the input's error, and no OUT at all
head -c 4000 /dev/urandom >"$work/garbage.pcapng"
expect_error "garbage" "not a pcap" --annotate="$work/g.pcapng" \
  "$work/garbage.pcapng"
[[ ! -e $work/g.pcapng ]] || fail "garbage: an output was written"
no_leftovers "$work" "garbage"

# the notes past their memory budget go to $TMPDIR: when it cannot take
# them, the message says so and an existing OUT survives
echo old >"$work/keep.pcapng"
TLSFIN_SORT_MEM=256 TMPDIR="$work/no/such/tmp" expect_error "notes' TMPDIR" \
  "keeping the notes: cannot create a temporary file in $work/no/such/tmp" \
  --annotate="$work/keep.pcapng" "$cap"
[[ $(cat "$work/keep.pcapng") == old ]] || fail "notes' TMPDIR: OUT was changed"
no_leftovers "$work" "notes' TMPDIR"

# disk full: a device that says so, and a file size limit (SIGXFSZ
# ignored, so the write fails with EFBIG as on a full disk); an existing
# OUT survives
expect_error "/dev/full" "No space left" --annotate=/dev/full "$cap"
echo old >"$work/full.pcapng"
rc=0
(
  trap '' XFSZ
  ulimit -f 16
  exec "$T" analyze --annotate="$work/full.pcapng" "$cap"
) >"$work/stdout" 2>"$work/stderr" || rc=$?
if [[ $rc -ne 2 ]] || ! grep -q "writing" "$work/stderr"; then
  fail "file size limit: exit $rc: $(cat "$work/stderr")"
fi
[[ $(cat "$work/full.pcapng") == old ]] || fail "file size limit: OUT changed"
no_leftovers "$work" "file size limit"

# what works: the records do not change, stdin is spooled, OUT is replaced
"$T" analyze --format=jsonl "$cap" >"$work/plain.jsonl" 2>/dev/null
"$T" analyze --format=jsonl --annotate="$work/full.pcapng" "$cap" \
  >"$work/annotated.jsonl" 2>"$work/stderr" || fail "annotate: $(cat "$work/stderr")"
cmp -s "$work/plain.jsonl" "$work/annotated.jsonl" ||
  fail "--annotate changed the records"
capinfos -c "$work/full.pcapng" >/dev/null 2>&1 || fail "OUT not replaced"
comments() {
  tshark -r "$1" -Y 'frame.comment contains "tlsfin"' -T fields \
    -e frame.number -e frame.comment 2>/dev/null
}
"$T" analyze --format=jsonl --annotate="$work/stdin.pcapng" - <"$cap" \
  >"$work/stdin.jsonl" 2>"$work/stderr" || fail "stdin: $(cat "$work/stderr")"
cmp -s "$work/plain.jsonl" "$work/stdin.jsonl" || fail "stdin: records differ"
[[ "$(comments "$work/full.pcapng")" == "$(comments "$work/stdin.pcapng")" ]] ||
  fail "stdin: comments differ from the file's"
# a pipe, not a file redirect: nothing to seek
# shellcheck disable=SC2002
cat "$cap" | "$T" analyze --format=summary --annotate="$work/pipe.pcapng" - \
  >/dev/null 2>"$work/stderr" || fail "pipe: $(cat "$work/stderr")"
[[ "$(comments "$work/full.pcapng")" == "$(comments "$work/pipe.pcapng")" ]] ||
  fail "pipe: comments differ from the file's"

# a filter: OUT holds the packets the filter kept, as tcpdump selects them
filter='tcp[tcpflags] & (tcp-fin|tcp-rst) != 0'
"$T" analyze -f "$filter" --annotate="$work/filtered.pcapng" "$cap" \
  >/dev/null 2>"$work/stderr" || fail "filter: $(cat "$work/stderr")"
want=$(tcpdump -nr "$cap" "$filter" 2>/dev/null | wc -l)
have=$(tshark -r "$work/filtered.pcapng" 2>/dev/null | wc -l)
[[ $want -eq $have && $want -gt 0 ]] ||
  fail "filter: $have packets written, tcpdump selects $want"
no_leftovers "$work" "the working cases"

[[ $bad -eq 0 ]] && echo "ok: --annotate errors and edge cases"
[[ $bad -eq 0 ]]

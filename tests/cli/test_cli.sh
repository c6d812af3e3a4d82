#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Bad input gets a clear message and exit 2, never a crash or a hang; good
# input and --fail-on give the documented exit codes.  usage: test_cli.sh TLSFIN
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name expected_rc stderr_regex -- cmd...
  local name=$1 want=$2 re=$3; shift 4
  local rc=0
  timeout 20 "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [[ $rc -ne $want ]]; then
    echo "FAIL $name: exit $rc, want $want"; sed 's/^/  stderr: /' "$tmp/err" | head -5; fail=$((fail+1)); return
  fi
  if [[ -n "$re" ]] && ! grep -Eq -- "$re" "$tmp/err"; then
    echo "FAIL $name: stderr does not match /$re/"; sed 's/^/  stderr: /' "$tmp/err" | head -5; fail=$((fail+1)); return
  fi
  echo "ok   $name"; pass=$((pass+1))
}
py=python3
for k in tls_clean truncated_file garbage_packets linktype_user0 empty; do
  $py "$here/mkpcap.py" $k "$tmp/$k.pcap"
done
printf 'hello, this is not a capture\n' >"$tmp/text.pcap"
head -c 10 "$tmp/tls_clean.pcap" >"$tmp/short_header.pcap"

# One filter, compiled once per link type: an Ethernet and a Linux cooked
# (SLL2) capture in one run each keep exactly their own matching packets.
pcaps=$here/../pcap
one=$("$T" analyze --format=jsonl --filter 'tcp port 443' "$pcaps/crafted_after_2038.pcap" | wc -l)
two=$("$T" analyze --format=jsonl --filter 'tcp port 443' "$pcaps/crafted_sll2_handshake_reset.pcap" | wc -l)
three=$("$T" analyze --format=jsonl --filter 'tcp port 443' "$pcaps/crafted_lost_segments.pcap" | wc -l)
all=$("$T" analyze --format=jsonl --filter 'tcp port 443' "$pcaps/crafted_after_2038.pcap" \
  "$pcaps/crafted_sll2_handshake_reset.pcap" "$pcaps/crafted_lost_segments.pcap" | wc -l)
none=$("$T" analyze --format=jsonl --filter 'tcp port 9' "$pcaps/crafted_after_2038.pcap" \
  "$pcaps/crafted_sll2_handshake_reset.pcap" | wc -l)
if [[ $one -gt 0 && $two -gt 0 && $three -gt 0 && $all -eq $((one + two + three)) && $none -eq 0 ]]; then
  echo "ok   filter-across-linktypes"; pass=$((pass+1))
else
  echo "FAIL filter-across-linktypes: $one + $two + $three, together $all, port 9: $none"; fail=$((fail+1))
fi
# Several files are one capture in time order: the demo split every 50
# packets (editcap -c, a rotated series) gives the same records as the
# whole, in either order on the command line; so do a FIFO and stdin.
if command -v editcap >/dev/null; then
  editcap -c 50 "$here/../../samples/demo.pcapng" "$tmp/part.pcapng" >/dev/null 2>&1
  # packet numbers are per file (documented): everything else must match
  strip='import json,sys
for l in sys.stdin:
    r = json.loads(l); r.pop("first_packet"); r.pop("last_packet"); print(json.dumps(r))'
  "$T" analyze --format=jsonl "$here/../../samples/demo.pcapng" | python3 -c "$strip" >"$tmp/whole"
  "$T" analyze --format=jsonl "$tmp"/part_* | python3 -c "$strip" >"$tmp/series"
  "$T" analyze --format=jsonl $(ls -r "$tmp"/part_*) | python3 -c "$strip" >"$tmp/series_r"
  n=$(ls "$tmp"/part_* | wc -l)
  if [[ $n -gt 1 ]] && cmp -s "$tmp/whole" "$tmp/series" && cmp -s "$tmp/whole" "$tmp/series_r"; then
    echo "ok   rotated-series-is-one-capture ($n files)"; pass=$((pass+1))
  else
    echo "FAIL rotated-series-is-one-capture ($n files)"; diff "$tmp/whole" "$tmp/series" | head -5; fail=$((fail+1))
  fi
else
  echo "FAIL editcap missing (apt tshark)"; fail=$((fail+1))
fi
mkfifo "$tmp/fifo"
cat "$here/../../samples/demo.pcapng" >"$tmp/fifo" &
check fifo-input 0 "" -- "$T" analyze --format=summary "$tmp/fifo"
# Conventions (tcpdump/tshark habits): options after files, "--", -r, -V.
check options-after-file 0 "" -- "$T" analyze "$tmp/tls_clean.pcap" --format=jsonl
check dash-dash 0 "" -- "$T" analyze --format=summary -- "$tmp/tls_clean.pcap"
check dash-r 0 "" -- "$T" analyze -r "$tmp/tls_clean.pcap" -f tcp --format summary
for c in analyze watch probe; do check "$c-version" 0 "" -- "$T" $c --version; done
check top-V 0 "" -- "$T" -V
check probe-options-after-target 3 "cannot connect" -- "$T" probe 127.0.0.1:1 --timeout 200 --format=json
check write-error 2 "writing the output: No space left on device" -- sh -c "\"$T\" analyze \"$tmp/tls_clean.pcap\" >/dev/full"
check fragments-warned 0 "1 TCP packet\\(s\\) skipped \\(TCP in an IPv4 fragment" -- "$T" analyze "$here/../pcap/crafted_ipv4_fragment.pcap"
check missing-file-named-once 2 "^tlsfin analyze: [^:]*/nope.pcap: No such file or directory$" -- "$T" analyze "$tmp/nope.pcap"
if [[ -s "$tmp/out" ]]; then echo "FAIL missing-file: wrote to stdout"; fail=$((fail+1)); else pass=$((pass+1)); fi
# Compressed captures are read directly (gzip, zstd; by content, not name).
gzip -c "$here/../../samples/demo.pcapng" >"$tmp/demo.pcapng.gz"
cp "$tmp/demo.pcapng.gz" "$tmp/demo-no-suffix"
check gzip-capture 0 "" -- "$T" analyze --format=summary "$tmp/demo.pcapng.gz"
check gzip-no-suffix 0 "" -- "$T" analyze --format=summary "$tmp/demo-no-suffix"
if command -v zstd >/dev/null; then
  zstd -q -c "$here/../../samples/demo.pcapng" >"$tmp/demo.pcapng.zst"
  check zstd-capture 0 "" -- "$T" analyze --format=summary "$tmp/demo.pcapng.zst"
  head -c 3000 "$tmp/demo.pcapng.zst" >"$tmp/cut.zst"
  check zstd-truncated 2 "cut.zst" -- "$T" analyze "$tmp/cut.zst"
else
  echo "FAIL zstd missing (apt zstd)"; fail=$((fail+1))
fi
head -c 3000 "$tmp/demo.pcapng.gz" >"$tmp/cut.gz"
check gzip-truncated 2 "cut.gz: after packet" -- "$T" analyze "$tmp/cut.gz"
printf 'not a capture\n' | gzip >"$tmp/text.gz"
check gzip-not-capture 2 "text.gz: gzip-compressed, but not a pcap" -- "$T" analyze "$tmp/text.gz"
n=$("$T" analyze --format=jsonl "$tmp/demo.pcapng.gz" | wc -l)
[[ $n -eq 10 ]] && { echo "ok   gzip-all-connections"; pass=$((pass+1)); } || { echo "FAIL gzip: $n connections"; fail=$((fail+1)); }
check conflicting-options 2 "does not combine with --format=jsonl" -- "$T" analyze --conn 1 --format=jsonl "$tmp/tls_clean.pcap"
check probe-timeout-range 2 "--timeout: '4294967346' is not a number from 50 to" -- "$T" probe 127.0.0.1:1 --timeout 4294967346
check probe-j-range 2 "-j: '0' is not a number" -- "$T" probe 127.0.0.1:1 -j 0
# Keys embedded in a pcapng (DSB) are read in the same single pass: from a
# file, stdin, a FIFO and a compressed file alike.
if command -v editcap >/dev/null; then
  editcap --inject-secrets "tls,$here/../keylog/habit_python_ssl_close.keys" \
    "$here/../keylog/habit_python_ssl_close.pcapng" "$tmp/dsb.pcapng" 2>/dev/null
  gzip -c "$tmp/dsb.pcapng" >"$tmp/dsb.pcapng.gz"
  mkfifo "$tmp/dsbfifo"
  cat "$tmp/dsb.pcapng" >"$tmp/dsbfifo" &
  dec() { python3 -c 'import json,sys; print(",".join(sorted({json.loads(l)["tls"]["decryption"] for l in sys.stdin if json.loads(l)["tls"]})))'; }
  got="$("$T" analyze --format=jsonl "$tmp/dsb.pcapng" | dec) $("$T" analyze --format=jsonl - <"$tmp/dsb.pcapng" | dec) $("$T" analyze --format=jsonl "$tmp/dsb.pcapng.gz" | dec) $("$T" analyze --format=jsonl "$tmp/dsbfifo" | dec)"
  if [[ $got == "decrypted decrypted decrypted decrypted" ]]; then echo "ok   embedded-keys-one-pass"; pass=$((pass+1))
  else echo "FAIL embedded-keys-one-pass: $got"; fail=$((fail+1)); fi
fi
check no-args 2 "no capture file" -- "$T" analyze
check no-command 2 "usage" -- "$T"
check unknown-command 2 "unknown command" -- "$T" frobnicate
check unknown-option 2 "unknown or incomplete option" -- "$T" analyze --bogus "$tmp/tls_clean.pcap"
check bad-format 2 "not table, jsonl, summary, zeek, csv or html" -- "$T" analyze --format=xml "$tmp/tls_clean.pcap"
check bad-fail-on 2 "unknown verdict 'nope'" -- "$T" analyze --fail-on=nope "$tmp/tls_clean.pcap"
check bad-conn 2 "not a connection id" -- "$T" analyze --conn=abc "$tmp/tls_clean.pcap"
check missing-file 2 "nope.pcap" -- "$T" analyze "$tmp/nope.pcap"
check text-file 2 "text.pcap: not a pcap or pcapng" -- "$T" analyze "$tmp/text.pcap"
check short-header 2 "short_header.pcap" -- "$T" analyze "$tmp/short_header.pcap"
check truncated-file 2 "truncated_file.pcap: after packet 12" -- "$T" analyze "$tmp/truncated_file.pcap"
check garbage-packets 2 "garbage_packets.pcap: packet 3: IPv4 header cut short" -- "$T" analyze --format=jsonl "$tmp/garbage_packets.pcap"
# One rule for both at once: an unreadable input (2) wins over findings (1).
check fail-on-and-malformed 2 "malformed packet" -- "$T" analyze --fail-on=tls_clean,tls_one_sided,tcp_clean,tls_truncated "$tmp/garbage_packets.pcap"
check linktype 2 "unsupported link type" -- "$T" analyze "$tmp/linktype_user0.pcap"
check bad-filter 2 "--filter" -- "$T" analyze --filter='port port' "$tmp/tls_clean.pcap"
check conn-missing 2 "no connection 7" -- "$T" analyze --conn=7 "$tmp/tls_clean.pcap"
printf 'CLIENT_RANDOM nothex\nhello\n' >"$tmp/garbage.keys"
printf '# comment\nCLIENT_RANDOM %s %s\njunk line\n' "$(printf '01%.0s' $(seq 32))" "$(printf 'ab%.0s' $(seq 48))" >"$tmp/mixed.keys"
check keylog-missing 2 "keylog .*nope.keys" -- "$T" analyze --keylog="$tmp/nope.keys" "$tmp/tls_clean.pcap"
check keylog-garbage 2 "garbage.keys: not an SSLKEYLOGFILE \\(line 1" -- "$T" analyze --keylog="$tmp/garbage.keys" "$tmp/tls_clean.pcap"
check keylog-mixed 0 "warning: --keylog .*1 malformed line\\(s\\) ignored, first at line 3" -- "$T" analyze --keylog="$tmp/mixed.keys" "$tmp/tls_clean.pcap"
check empty 0 "" -- "$T" analyze --format=jsonl "$tmp/empty.pcap"
check good 0 "" -- "$T" analyze "$tmp/tls_clean.pcap"
check fail-on-match 1 "" -- "$T" analyze --format=jsonl --fail-on=tls_clean,reset "$tmp/tls_clean.pcap"
check fail-on-nomatch 0 "" -- "$T" analyze --format=jsonl --fail-on=reset "$tmp/tls_clean.pcap"
check stdin 0 "" -- sh -c "\"$T\" analyze --format=jsonl - < \"$tmp/tls_clean.pcap\""
check summary 0 "" -- "$T" analyze --format=summary "$tmp/tls_clean.pcap"
check ladder 0 "" -- "$T" analyze --conn=1 "$tmp/tls_clean.pcap"

# Content checks on the synthetic clean TLS 1.3 connection.
"$T" analyze --format=jsonl "$tmp/tls_clean.pcap" >"$tmp/j" 2>/dev/null
if $py - "$tmp/j" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1, rows
r = rows[0]
assert r["verdict"] == "tls_clean", r["verdict"]
assert r["tls"]["version"] == "TLS1.3" and r["tls"]["sni"] == "example.test", r["tls"]
assert r["tls"]["close_notify"] == {"client": "probable", "server": "probable"}, r["tls"]
assert r["tcp"]["first_close"] == "client" and r["tls"]["first_close_notify"] == "client"
assert r["client"] == {"ip": "10.0.0.1", "port": 40000}
assert r["zeek_conn_state"] == "SF", r["zeek_conn_state"]
PY
then echo "ok   jsonl-content"; pass=$((pass+1)); else echo "FAIL jsonl-content"; cat "$tmp/j"; fail=$((fail+1)); fi
"$T" analyze --conn=1 "$tmp/tls_clean.pcap" >"$tmp/l" 2>&1
if grep -q "close_notify" "$tmp/l" && grep -q "verdict: tls_clean" "$tmp/l"; then
  echo "ok   ladder-content"; pass=$((pass+1)); else echo "FAIL ladder-content"; cat "$tmp/l"; fail=$((fail+1)); fi

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

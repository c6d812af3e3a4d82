#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Build samples/demo.pcapng (+ .keys, .expect.jsonl) from the lab's golden
# fixtures in tests/captures/: one connection for each of the most
# instructive endings, merged in capture-time order.  Re-run after
# `lab/run --save ...` has refreshed the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
caps=tests/captures
# scenario:id — which connection of which fixture
pick=(
  seed003_rst_port_closed:1           # refused (port_closed)
  habit_openssl_version_mismatch:1    # tls_handshake_alert (protocol_version)
  habit_python_ssl_close:1            # tls_truncated (Python close())
  habit_python_ssl_close:4            # tls_clean (unwrap() on both sides)
  habit_python_ssl_close:5            # tcp_clean
  seed004_sslshutdown_unidirectional:2 # tls_close_then_reset (data_after_close)
  seed003_rst_unread_data:2           # reset (unread_data)
  habit_nginx_keepalive_timeout:1     # tls_one_sided (nginx idle timeout)
  habit_nginx_lingering_close:1       # tls_close_then_reset (unread_data)
  seed003_rst_retransmission_timeout:1 # stalled (silent retransmission timeout)
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/keys"
: >"$tmp/expect"
parts=()
for p in "${pick[@]}"; do
  s=${p%%:*} id=${p##*:}
  out=$tmp/$s.$id.pcapng
  tshark -n -r "$caps/$s.pcapng" -Y "tcp.stream==$((id - 1))" -F pcapng -w "$out" 2>/dev/null
  parts+=("$out")
  [[ -f "$caps/$s.keys" ]] && cat "$caps/$s.keys" >>"$tmp/keys"
  first=$(tshark -n -r "$out" -c 1 -T fields -e frame.time_epoch 2>/dev/null)
  line=$(grep -m1 "^{\"id\":$id," "$caps/$s.expect.jsonl")
  printf '%s\t%s\n' "$first" "$line" >>"$tmp/expect"
done
mergecap -F pcapng -w samples/demo.pcapng "${parts[@]}"
sort -u "$tmp/keys" >samples/demo.keys
sort -n "$tmp/expect" | cut -f2- |
  /usr/bin/python3 -c '
import json, sys
for i, l in enumerate(sys.stdin, 1):
    o = json.loads(l)
    o["id"] = i
    print(json.dumps(o, separators=(",", ":")))' >samples/demo.expect.jsonl
chmod 644 samples/demo.*
echo "samples/demo.pcapng: $(stat -c %s samples/demo.pcapng) bytes, $(wc -l <samples/demo.expect.jsonl) connections" >&2

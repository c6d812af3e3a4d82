#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Runs the examples against openssl s_server on loopback and checks what
# they report.  usage: test_examples.sh BUILDDIR
set -uo pipefail
B=$1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 2 -subj /CN=e 2>/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkfifo "$tmp/in"
openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/c.pem" -key "$tmp/k.pem" -www <>"$tmp/in" >"$tmp/s.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ACCEPT "$tmp/s.log" && break; sleep 0.05; done
fail=0 pass=0
expect() { # name regex cmd...
  local name=$1 re=$2; shift 2
  local out
  out=$(timeout 20 "$@" 2>&1)
  if grep -Eq "$re" <<<"$out"; then echo "ok   $name"; pass=$((pass+1)); else echo "FAIL $name: $out"; fail=$((fail+1)); fi
}
# s_server -www answers HTTP/1.0 and ends with close_notify + FIN
expect blocking_client "bytes; tls_clean" "$B/example_blocking_client" 127.0.0.1 "$port"
expect shutdown_pending_read "^tls_clean: clean TLS close" "$B/example_shutdown_pending_read" 127.0.0.1 "$port"
# -www closes after each response: the pool finds the connection ended by
# the server (or the request on it fails, when the server's close_notify
# arrives only afterwards) and answers it with close_notify; every request
# gets its bytes
out=$(timeout 20 "$B/example_pool_client" 127.0.0.1 "$port" 2>&1)
if [[ $(grep -c "^  [1-9][0-9]* bytes" <<<"$out") -eq 3 ]] && ! grep -q "pool closed.*: reset" <<<"$out" &&
   grep -q "pool closed.*tls_clean" <<<"$out"; then echo "ok   pool_client"; pass=$((pass+1)); else echo "FAIL pool_client: $out"; fail=$((fail+1)); fi
# the epoll server: two clients that close with close_notify, one that
# stays silent and is ended by the server's idle timer (300 ms)
eport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/example_epoll_server" "$eport" "$tmp/c.pem" "$tmp/k.pem" 300 3 >"$tmp/ep.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q ready "$tmp/ep.log" && break; sleep 0.05; done
for i in 1 2; do
  echo "ping $i" | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$eport" >/dev/null 2>&1
done
timeout 5 openssl s_client -quiet -connect "127.0.0.1:$eport" </dev/null >"$tmp/idle.out" 2>&1 &
sleep 1.5
if [[ $(grep -c "^end: tls_clean" "$tmp/ep.log") -ge 2 ]] && grep -q "^end: " "$tmp/ep.log" &&
   ! grep -q "^end: reset" "$tmp/ep.log"; then echo "ok   epoll_server"; pass=$((pass+1)); else echo "FAIL epoll_server"; cat "$tmp/ep.log"; fail=$((fail+1)); fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

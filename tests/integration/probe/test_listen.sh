#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin probe --listen (client mode) with real clients on loopback: curl,
# openssl s_client and Python ssl, against each server behaviour; asserts
# what the probe reports about each client; then clients served at once
# (silent and idle ones do not hold a real one back) and misbehaving clients
# (an endless flood, bytes that are not TLS).  Timings are asserted with 5x
# slack or more: these machines are noisy.  usage: test_listen.sh TLSFIN
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
ms() { date +%s%3N; }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pyclient() { /usr/bin/python3 - "$1" <<'PY'
import socket, ssl, sys
c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE
s = c.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="client.test")
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)
s.close()   # Python's close(): no close_notify, whatever is unread
PY
}
run() { # behave -> JSON lines of curl, s_client, python (in that order)
  local b=$1 port
  port=$(freeport)
  "$T" probe --listen "127.0.0.1:$port" --behave="$b" --count=3 --timeout=1500 --format=json \
    >"$tmp/$b.json" 2>"$tmp/$b.err" &
  local lp=$!
  pids+=($lp)
  for _ in $(seq 100); do grep -q listening "$tmp/$b.err" && break; sleep 0.05; done
  curl -sk --max-time 5 -o /dev/null "https://127.0.0.1:$port/"; echo "curl $?" >>"$tmp/$b.clients"
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 openssl s_client -quiet -connect "127.0.0.1:$port" >/dev/null 2>&1
  echo "s_client $?" >>"$tmp/$b.clients"
  pyclient "$port" >/dev/null 2>&1; echo "python $?" >>"$tmp/$b.clients"
  wait $lp
}
check() { # name behave python-assertions (rows: curl, s_client, python)
  run "$2"
  if python3 - "$tmp/$2.json" <<PY
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
curl, sclient, py = rows
for r in rows:
    assert r["client_max_version"] == "TLS1.3" and r["version"] == "TLS1.3", r
assert py["sni"] == "client.test" and curl["sni"] is None  # curl sends no SNI for an IP
for r in rows:
    assert r["client"] == "127.0.0.1" and 0 < r["client_port"] < 65536, r
$3
PY
  then echo "ok   $1"; pass=$((pass+1)); else echo "FAIL $1"; cat "$tmp/$2.json" "$tmp/$2.clients"; fail=$((fail+1)); fi
}
# we send close_notify: curl and s_client answer it and close; Python's
# close() leaves it unread: an RST
check close_notify close-notify '
assert curl["reaction"] == "close_notify" and curl["then"] == "fin", curl
assert sclient["reaction"] == "close_notify", sclient
assert py["reaction"] == "rst", py'
# truncation mid-response: curl notices (exit 18) and still closes with close_notify
check fin_mid_response fin-mid-response '
assert curl["reaction"] == "close_notify", curl
assert py["reaction"] in ("fin", "rst"), py
assert open(sys.argv[1].replace(".json", ".clients")).readline().strip() == "curl 18"'
# keep-alive: curl closes its idle connection with close_notify + FIN,
# Python with a bare FIN
check idle_close idle-close '
assert curl["reaction"] == "close_notify" and curl["then"] == "fin", curl
assert py["reaction"] == "fin", py'

# Concurrency.  listen_bg PORT ARGS...: a listener in the background, $lp.
listen_bg() {
  local port=$1; shift
  rm -f "$tmp/l.err"
  "$T" probe --listen "127.0.0.1:$port" --format=json "$@" >"$tmp/l.json" 2>"$tmp/l.err" &
  lp=$!
  pids+=($lp)
  for _ in $(seq 100); do grep -q listening "$tmp/l.err" && break; sleep 0.05; done
}
idle_bg() { # port n: n connections that never speak, held 40 s at most
  rm -f "$tmp/idle.out"
  python3 "$here/idle_clients.py" "$1" "$2" 40 >"$tmp/idle.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do grep -q held "$tmp/idle.out" && break; sleep 0.05; done
  grep -q "held $2" "$tmp/idle.out"
}
real_client_ms() { # port: curl, then how long until the probe reported it
  local t0
  t0=$(ms)
  curl -sk --max-time 20 -o /dev/null "https://127.0.0.1:$1/"
  for _ in $(seq 600); do grep -q '"request":true' "$tmp/l.json" && break; sleep 0.05; done
  grep -q '"request":true' "$tmp/l.json" && echo $(($(ms) - t0))
}
# five silent clients, then a real one: each silent one has 6 s, served one
# at a time they held curl back 30 s; now it is reported at once, first,
# and the silent ones when their deadline ends
port=$(freeport)
listen_bg "$port" --count=6 --timeout=6000
if idle_bg "$port" 5 && el=$(real_client_ms "$port") && [[ $el -lt 5000 ]] &&
   timeout 40 tail --pid="$lp" -f /dev/null && python3 - "$tmp/l.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 6, rows
assert rows[0]["request"] and rows[0]["version"] == "TLS1.3", rows[0]
for r in rows[1:]:
    assert r["version"] is None and r["note"] == "handshake failed: timeout", r
    assert 5000 < r["ms"] < 30000, r
PY
then ok "five silent clients, then a real one: reported after $el ms"
else ko "five silent clients, then a real one (${el:-?} ms)"; cat "$tmp/l.json" "$tmp/l.err"; fi
kill "$lp" 2>/dev/null
# 200 idle connects (10 s deadline each) do not hold a real client back
port=$(freeport); el=
listen_bg "$port" --timeout=10000
if idle_bg "$port" 200 && el=$(real_client_ms "$port") && [[ $el -lt 5000 ]]; then
  ok "200 idle connects, then a real one: reported after $el ms"
else ko "200 idle connects, then a real one (${el:-?} ms)"; cat "$tmp/l.err" "$tmp/idle.out"; fi
kill "$lp" 2>/dev/null
# a client that never stops sending is reported at its deadline (1 s), with
# data; one that sends bytes that are not TLS, as garbage and at once
for mode in flood tlsgarbage; do
  port=$(freeport)
  t0=$(ms)
  listen_bg "$port" --count=1 --behave=idle-close --timeout=1000
  python3 "$here/bad_clients.py" "$mode" "$port" >/dev/null 2>&1 &
  pids+=($!)
  if timeout 30 tail --pid="$lp" -f /dev/null && python3 - "$tmp/l.json" "$mode" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1, rows
r = rows[0]
if sys.argv[2] == "flood":
    assert r["reaction"] == "data" and r["ms"] < 5000, r
else:
    assert r["reaction"] == "garbage" and r["ms"] < 800, r
    assert r["note"].startswith("not TLS"), r
PY
  then ok "client $mode ($(($(ms) - t0)) ms)"; else ko "client $mode"; cat "$tmp/l.json" "$tmp/l.err"; fi
  kill "$lp" 2>/dev/null
done

# --- addresses, SNI, client ports, certificates ---------------------------
# sclient ADDR PORT: openssl s_client sending SNI "x", a request, then EOF
sclient() {
  printf 'GET / HTTP/1.0\r\n\r\n' |
    timeout 10 openssl s_client -quiet -servername x -connect "$1:$2" >/dev/null 2>&1
}
# curlto HOST PORT LO HI: curl from a source port in LO-HI (so that the
# reported client port can be checked)
curlto() { curl -sk -g --max-time 10 --local-port "$3-$4" -o /dev/null "https://$1:$2/"; }
# listen_wait ADDRESS:PORT COUNT OUT [ARGS]: a listener in the background
listen_wait() {
  local a=$1 n=$2 out=$3; shift 3
  rm -f "$out.err"
  "$T" probe --listen="$a" --count="$n" --timeout=3000 "$@" >"$out" 2>"$out.err" &
  lp=$!
  pids+=("$lp")
  for _ in $(seq 100); do grep -q listening "$out.err" && break; sleep 0.05; done
}
# addr_check NAME OUT LISTEN-PORT python-assertions (rows: JSON lines)
addr_check() {
  if timeout 30 tail --pid="$lp" -f /dev/null && python3 - "$2" "$3" <<PY
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
lport = int(sys.argv[2])
for r in rows:
    assert r["version"] == "TLS1.3" and 0 < r["client_port"] < 65536 and r["client_port"] != lport, r
$4
PY
  then ok "$1"; else ko "$1"; cat "$2" "$2.err"; fi
}
# IPv4, then ::1: the SNI the client sent, its address and its port
port=$(freeport)
listen_wait "127.0.0.1:$port" 2 "$tmp/v4.json" --format=json
sclient 127.0.0.1 "$port"
curlto 127.0.0.1 "$port" 41000 41099
addr_check "listen 127.0.0.1: SNI, address, port" "$tmp/v4.json" "$port" '
s, c = rows
assert s["sni"] == "x" and s["client"] == "127.0.0.1", s
assert c["sni"] is None and c["client"] == "127.0.0.1" and 41000 <= c["client_port"] <= 41099, c'
port=$(freeport)
listen_wait "[::1]:$port" 2 "$tmp/v6.json" --format=json
sclient "[::1]" "$port"
curlto "[::1]" "$port" 41100 41199
addr_check "listen [::1]: SNI, address, port" "$tmp/v6.json" "$port" '
s, c = rows
assert s["sni"] == "x" and s["client"] == "::1", s
assert c["sni"] is None and c["client"] == "::1" and 41100 <= c["client_port"] <= 41199, c'
# the table: CLIENT as ADDRESS:PORT or [IPV6]:PORT, the SNI itself
port=$(freeport)
listen_wait "[::1]:$port" 1 "$tmp/v6.txt"
sclient "[::1]" "$port"
if timeout 30 tail --pid="$lp" -f /dev/null && grep -Eq '^\[::1\]:[0-9]+ +TLS1.3 +TLS1.3 +x ' "$tmp/v6.txt"; then
  ok "listen: table"; else ko "listen: table"; cat "$tmp/v6.txt"; fi
# [::]: IPv6 and IPv4 on one socket.  It binds every address, so it runs in
# a network namespace of our own whose only interface is its loopback.
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null && command -v ip >/dev/null; then
  port=$(freeport)
  cat >"$tmp/dual.sh" <<'SH'
T=$1 port=$2 out=$3
ip link set lo up
for _ in $(seq 50); do ip -6 addr show dev lo | grep -q '::1' && break; sleep 0.1; done
"$T" probe --listen="[::]:$port" --count=4 --timeout=3000 --format=json >"$out" 2>"$out.err" &
lp=$!
for _ in $(seq 100); do grep -q listening "$out.err" && break; sleep 0.05; done
for a in 127.0.0.1 "[::1]"; do
  printf 'GET / HTTP/1.0\r\n\r\n' |
    timeout 10 openssl s_client -quiet -servername x -connect "$a:$port" >/dev/null 2>&1
  curl -sk -g --max-time 10 -o /dev/null "https://$a:$port/"
done
timeout 30 tail --pid=$lp -f /dev/null
SH
  timeout 60 unshare -n bash "$tmp/dual.sh" "$T" "$port" "$tmp/dual.json"
  if python3 - "$tmp/dual.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 4, rows
assert sorted(r["client"] for r in rows) == ["127.0.0.1", "127.0.0.1", "::1", "::1"], rows
assert sorted(str(r["sni"]) for r in rows) == ["None", "None", "x", "x"], rows
for r in rows:
    assert r["version"] == "TLS1.3" and r["request"], r
PY
  then ok "listen [::]: IPv4 and IPv6"; else ko "listen [::]: IPv4 and IPv6"; cat "$tmp/dual.json" "$tmp/dual.json.err"; fi
else
  echo "skip listen [::]: needs root, unshare and ip (it binds every address)"
fi
# --cert/--key: the given certificate is served: curl verifies it against
# itself as the CA, s_client shows its subject
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k.pem" \
  -out "$tmp/c.pem" -days 2 -subj /CN=probe.test -addext subjectAltName=DNS:probe.test 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/k2.pem" \
  -out "$tmp/c2.pem" -days 2 -subj /CN=other.test 2>/dev/null
port=$(freeport)
listen_wait "127.0.0.1:$port" 2 "$tmp/cert.json" --format=json --cert="$tmp/c.pem" --key="$tmp/k.pem"
crc=0; curl -s --max-time 10 --cacert "$tmp/c.pem" --resolve "probe.test:$port:127.0.0.1" \
  -o /dev/null "https://probe.test:$port/" || crc=$?
subj=$(timeout 10 openssl s_client -servername x -connect "127.0.0.1:$port" </dev/null 2>/dev/null |
  openssl x509 -noout -subject 2>/dev/null)
if [[ $crc -eq 0 && $subj == *probe.test* ]] && timeout 30 tail --pid="$lp" -f /dev/null &&
   python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; assert [r["sni"] for r in rows] == ["probe.test", "x"], rows' "$tmp/cert.json"; then
  ok "listen --cert/--key"; else ko "listen --cert/--key (curl $crc, subject '$subj')"; cat "$tmp/cert.json" "$tmp/cert.json.err"; fi
# ... and refused when it cannot be used: exit 2 and a message naming it
for args in "--cert=$tmp/c.pem" "--key=$tmp/k.pem" "--cert=$tmp/nonexistent.pem --key=$tmp/k.pem" \
            "--cert=$tmp/c.pem --key=$tmp/k2.pem"; do
  rc=0
  # shellcheck disable=SC2086
  timeout 10 "$T" probe --listen="127.0.0.1:$(freeport)" --count=1 $args >/dev/null 2>"$tmp/e" || rc=$?
  if [[ $rc -eq 2 && -s "$tmp/e" ]]; then ok "listen: bad $args"; else ko "listen: bad $args (exit $rc)"; cat "$tmp/e"; fi
done
for a in "::1:443" "[::1]443" "[::1" "127.0.0.1:0" "[]:443"; do
  rc=0; timeout 10 "$T" probe --listen="$a" --count=1 >/dev/null 2>&1 || rc=$?
  if [[ $rc -eq 2 ]]; then ok "bad --listen '$a'"; else ko "bad --listen '$a' ($rc)"; fi
done

rc=0; "$T" probe --listen 127.0.0.1:1 --behave=bogus >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] && { echo "ok   bad --behave"; pass=$((pass+1)); } || { echo "FAIL bad --behave ($rc)"; fail=$((fail+1)); }
rc=0; "$T" probe --listen 127.0.0.1:notaport >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] && { echo "ok   bad --listen"; pass=$((pass+1)); } || { echo "FAIL bad --listen ($rc)"; fail=$((fail+1)); }
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

#!/usr/bin/env bash
# tlsfin probe --listen (client mode) with real clients on loopback: curl,
# openssl s_client and Python ssl, against each server behaviour; asserts
# what the probe reports about each client.  usage: test_listen.sh TLSFIN
set -uo pipefail
T=$1
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT
pass=0 fail=0
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
assert py["sni"] is not None and curl["sni"] is None  # curl sends no SNI for an IP
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
rc=0; "$T" probe --listen 127.0.0.1:1 --behave=bogus >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] && { echo "ok   bad --behave"; pass=$((pass+1)); } || { echo "FAIL bad --behave ($rc)"; fail=$((fail+1)); }
rc=0; "$T" probe --listen 127.0.0.1:notaport >/dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] && { echo "ok   bad --listen"; pass=$((pass+1)); } || { echo "FAIL bad --listen ($rc)"; fail=$((fail+1)); }
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

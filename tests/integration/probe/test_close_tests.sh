#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The close tests beyond OpenSSL's API (issue 15, part 2) against real
# servers on loopback: application data after our close_notify
# (data_after_cn, with its control record), writing after the server's
# close_notify in TLS 1.3 (half_close_13), HTTP/2 GOAWAY (h2_goaway) and
# KeyUpdate before close_notify (key_update).  Servers: openssl s_server
# (-www, TLS 1.3 and 1.2, and plain), nginx with http2, gnutls-serv, a
# Python ssl server.  Outcomes that are deterministic for a server are
# asserted on the JSON; every row is printed.  77 (skip) when not root or
# openssl is missing; the other servers are skipped one by one.
# usage: test_close_tests.sh TLSFIN
set -uo pipefail
T=$1
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root"; exit 77; }
command -v openssl >/dev/null && command -v python3 >/dev/null ||
  { echo "SKIP: needs openssl and python3"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 100); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.05; done; return 1; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 2 \
  -subj /CN=probe.test 2>/dev/null
NEW='("data_after_cn", "half_close_13", "h2_goaway", "key_update")'
check() { # name port python-assertions [probe args]
  local name=$1 port=$2 py=$3 rc=0; shift 3
  "$T" probe --format=json --timeout=1000 "$@" "127.0.0.1:$port" >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
  python3 - "$tmp/$name.json" "$name" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
for t in $NEW:
    x = r["close"].get(t, {})
    print("  %-12s %-14s %-13s %-6s %s" % (sys.argv[2], t, x.get("server"), x.get("then"), x.get("note")))
PY
  if [[ $rc -eq 0 ]] &&
     python3 - "$tmp/$name.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
c = r["close"]
for t in $NEW:
    assert t in c and "server" in c[t] and "note" in c[t], (t, c)
$py
PY
  then ok "$name"; else ko "$name"; cat "$tmp/$name.json" "$tmp/$name.err"; fi
}
start_sserver() { # port args...
  local port=$1; shift
  mkfifo "$tmp/in.$port"
  # stdin a FIFO held open: s_server ends a connection on EOF of its stdin
  openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/c.pem" -key "$tmp/k.pem" "$@" \
    <>"$tmp/in.$port" >"$tmp/s.$port" 2>&1 &
  pids+=($!)
  waitport "$port"
}

# openssl s_server -www, TLS 1.3: every test but h2 runs
p=$(freeport); start_sserver "$p" -www -tls1_3
check sserver13 "$p" '
d = c["data_after_cn"]
assert d["note"].startswith("control ok"), d
assert d["server"] == "close_notify", d
h = c["half_close_13"]
assert h["server"] in ("accepted", "rst"), h
assert c["h2_goaway"]["server"] == "skipped", c["h2_goaway"]
k = c["key_update"]
assert k["server"] != "skipped" and "KeyUpdate" in k["note"], k' --http

# the same at TLS 1.2: the key block from the master secret (RFC 5246 §6.3)
p=$(freeport); start_sserver "$p" -www -tls1_2
check sserver12 "$p" '
d = c["data_after_cn"]
assert d["note"].startswith("control ok"), d
assert d["server"] == "close_notify", d
assert c["half_close_13"]["server"] == "skipped" and c["half_close_13"]["note"] == "needs TLS 1.3"
assert c["key_update"]["server"] == "skipped"' --http

# plain s_server without --http: the control is a KeyUpdate record
p=$(freeport); start_sserver "$p" -tls1_3
check sserver_plain "$p" '
d = c["data_after_cn"]
assert d["note"].startswith("control ok"), d
assert c["half_close_13"]["note"] == "needs --http"
assert c["h2_goaway"]["note"] == "needs --http"
k = c["key_update"]
assert k["server"] == "close_notify", k'

# nginx with http2: GOAWAY
if command -v nginx >/dev/null; then
  pn=$(freeport)
  mkdir -p "$tmp/html" && chmod 755 "$tmp" "$tmp/html" && echo hi >"$tmp/html/index.html"
  cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
error_log $tmp/nginx.err;
pid $tmp/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $tmp/b; proxy_temp_path $tmp/p; fastcgi_temp_path $tmp/f;
  uwsgi_temp_path $tmp/u; scgi_temp_path $tmp/s;
  server { listen 127.0.0.1:$pn ssl http2; ssl_certificate $tmp/c.pem; ssl_certificate_key $tmp/k.pem;
           ssl_protocols TLSv1.2 TLSv1.3; root $tmp/html; }
}
CONF
  nginx -c "$tmp/nginx.conf" -g 'daemon off;' >"$tmp/nginx.out" 2>&1 &
  pids+=($!)
  waitport "$pn"
  check nginx "$pn" '
d = c["data_after_cn"]
assert d["note"].startswith("control ok"), d
g = c["h2_goaway"]
assert g["server"] != "skipped", g' --http
else
  echo "skip nginx: not installed"
fi

# gnutls-serv --http, TLS 1.3
if command -v gnutls-serv >/dev/null; then
  pg=$(freeport)
  gnutls-serv --http -p "$pg" --x509certfile "$tmp/c.pem" --x509keyfile "$tmp/k.pem" \
    --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3" >"$tmp/gnutls.log" 2>&1 &
  pids+=($!)
  waitport "$pg"
  check gnutls "$pg" '
d = c["data_after_cn"]
assert d["note"].startswith("control ok"), d' --http
else
  echo "skip gnutls-serv: not installed"
fi

# a Python ssl HTTP server (stdlib): unwrap() answers close_notify
pp=$(freeport)
python3 - "$pp" "$tmp/c.pem" "$tmp/k.pem" >"$tmp/py.log" 2>&1 <<'PY' &
import socket, ssl, sys, threading
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(16)
def serve(c):
    try:
        s = ctx.wrap_socket(c, server_side=True)
        s.settimeout(3)
        buf = b""
        while True:
            d = s.recv(4096)
            if not d:
                s.unwrap(); break          # their close_notify: answer it
            buf += d
            if b"\r\n\r\n" in buf:
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n")
                s.unwrap(); break          # we close first, with close_notify
    except Exception:
        pass
    finally:
        c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
pids+=($!)
waitport "$pp"
check python "$pp" '
d = c["data_after_cn"]
assert d["note"].startswith("control ok"), d' --http

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin probe against real servers on loopback: openssl s_server limited to
# TLS 1.3 and to TLS 1.2, and scripted bad servers (RST on the ClientHello,
# silence, an SSH banner, a 16 MB handshake message, an endless flood, bytes
# that are not TLS after the handshake); name resolution under the deadline;
# --targets files of any length; plus the bad-usage exits.  Each server's
# answers are asserted on the JSON output.  Timings are asserted with 5x
# slack or more: these machines are noisy.  usage: test_probe.sh TLSFIN
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1"; fail=$((fail + 1)); }
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ms() { date +%s%3N; }
waitline() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 2 \
  -subj /CN=probe.test 2>/dev/null
start_sserver() { # port extra-args...
  local port=$1; shift
  mkfifo "$tmp/in.$port"
  openssl s_server -accept "127.0.0.1:$port" -cert "$tmp/c.pem" -key "$tmp/k.pem" -www "$@" \
    <>"$tmp/in.$port" >"$tmp/s.$port" 2>&1 &
  pids+=($!)
  waitline "$tmp/s.$port" ACCEPT
}
check() { # name port python-assertions [probe args]; exit status $want (0)
  local name=$1 port=$2 py=$3 rc=0; shift 3
  "$T" probe --format=json --timeout=1500 "$@" "127.0.0.1:$port" >"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
  if [[ $rc -eq ${want:-0} ]] &&
     python3 - "$tmp/$name.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
v = {x["offered"]: x for x in r["versions"]}
c = r["close"]
$py
PY
  then ok "$name"; else ko "$name"; cat "$tmp/$name.json" "$tmp/$name.err"; fi
}

p13=$(freeport); start_sserver "$p13" -tls1_3
check tls13_only "$p13" '
assert v["TLS1.3"]["outcome"] == "accepted" and v["TLS1.3"]["version"] == "TLS1.3", v
assert v["TLS1.2"]["outcome"] == "alert" and v["TLS1.2"]["alert"] == "protocol_version", v["TLS1.2"]
assert v["TLS1.1"]["outcome"] == "alert", v["TLS1.1"]
assert v["max"]["version"] == "TLS1.3"
assert c["close_notify"]["server"] == "close_notify" and c["close_notify"]["then"] == "fin", c
assert c["truncation"]["server"] == "fin", c
assert c["half_close"]["server"] == "close_notify" and c["half_close"]["response"] is True, c
assert c["idle"]["server"] == "skipped"' --http

p12=$(freeport); start_sserver "$p12" -tls1_2
check tls12_only "$p12" '
assert v["TLS1.2"]["outcome"] == "accepted" and v["TLS1.2"]["version"] == "TLS1.2", v
assert v["TLS1.3"]["outcome"] == "alert" and v["TLS1.3"]["alert"] == "protocol_version", v["TLS1.3"]
assert v["max"]["outcome"] == "accepted" and v["max"]["version"] == "TLS1.2", "downgrade"
assert c["close_notify"]["server"] == "close_notify", c'

for mode in reset silent garbage; do
  port=$(freeport)
  python3 "$here/bad_servers.py" "$mode" "$port" >"$tmp/bad.$mode" 2>&1 &
  pids+=($!)
  waitline "$tmp/bad.$mode" ready
  case $mode in
    reset) check bad_reset "$port" '
assert r["tested"] is True and r["reason"] is None, r
for k in ("SSL3", "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3", "max"):
    assert v[k]["outcome"] == "reset", (k, v[k])
assert c["close_notify"]["server"] == "skipped"';;
    # silence on every ClientHello: nothing learnt, "could not test" (3)
    silent) want=3 check bad_silent "$port" '
assert r["tested"] is False and r["close"] == {}, r
assert r["reason"] == "no answer to any ClientHello within 1500 ms", r
for k in ("TLS1.2", "TLS1.3"):
    assert v[k]["outcome"] == "timeout" and 1400 < v[k]["ms"] < 3000, (k, v[k])';;
    garbage) check bad_garbage "$port" '
for k in ("TLS1.2", "TLS1.3"):
    assert v[k]["outcome"] == "garbage", (k, v[k])';;
  esac
done
# Servers that the probe must call garbage at once, without waiting for
# the deadline (3 s here) nor reading the 16 MB.
start_bad() { # mode port
  python3 "$here/bad_servers.py" "$1" "$2" "$tmp/c.pem" "$tmp/k.pem" >"$tmp/bad.$1" 2>&1 &
  pids+=($!)
  waitline "$tmp/bad.$1" ready
}
tcheck() { # name port max-seconds python-assertions [probe args]: check, and
  local name=$1 port=$2 max=$3 py=$4 t0 el; shift 4 # within max seconds
  t0=$(ms)
  if timeout 90 "$T" probe --format=json "$@" "127.0.0.1:$port" >"$tmp/$name.json" 2>"$tmp/$name.err" &&
     el=$(($(ms) - t0)) && python3 - "$tmp/$name.json" "$el" "$max" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
v = {x["offered"]: x for x in r["versions"]}
c = r["close"]
assert int(sys.argv[2]) < float(sys.argv[3]) * 1000, "took %s ms" % sys.argv[2]
$py
PY
  then ok "$name ($el ms)"; else ko "$name ($(($(ms) - t0)) ms)"; cat "$tmp/$name.json" "$tmp/$name.err"; fi
}
for mode in hugehs bigrecord; do
  port=$(freeport); start_bad "$mode" "$port"
  tcheck "bad_$mode" "$port" 10 '
for k, x in v.items():
    assert x["outcome"] == "garbage" and x["ms"] < 1000, (k, x)' --timeout=3000
done
# a real handshake, then random bytes: not a FIN, garbage, at once
port=$(freeport); start_bad tlsgarbage "$port"
tcheck garbage_after_handshake "$port" 15 '
assert v["TLS1.3"]["outcome"] == "accepted", v
for k in ("close_notify", "truncation"):
    assert c[k]["server"] == "garbage" and c[k]["ms"] < 1500, (k, c[k])
    assert c[k]["note"].startswith("not TLS"), c[k]' --timeout=3000
# a server that never stops sending: the close tests still end at their
# deadline (1 s each; without the per-pass check they ran until the server
# gave up, 60 s)
port=$(freeport); start_bad flood "$port"
tcheck flood "$port" 15 '
for k in ("close_notify", "truncation"):
    assert c[k]["server"] == "data" and c[k]["ms"] < 5000, (k, c[k])' --timeout=1000

# --fail-on: a server that resets on versions
rport=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["target"].rsplit(":",1)[1])' "$tmp/bad_reset.json")
rc=0; "$T" probe --fail-on=resets-on-version --timeout=500 "127.0.0.1:$rport" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 1 ]] && ok fail-on-resets || ko "fail-on-resets (exit $rc)"
rc=0; "$T" probe --fail-on=resets-on-version "127.0.0.1:$p13" >/dev/null 2>&1 || rc=$?
[[ $rc -eq 0 ]] && ok fail-on-clean || ko "fail-on-clean (exit $rc)"

# gnutls-serv limited to TLS 1.3 by a priority string
pg=$(freeport)
gnutls-serv --http -p "$pg" --x509certfile "$tmp/c.pem" --x509keyfile "$tmp/k.pem" \
  --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3" >"$tmp/gnutls.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do ss -ltn | grep -q ":$pg " && break; sleep 0.05; done
check gnutls_tls13 "$pg" '
assert v["TLS1.3"]["outcome"] == "accepted", v["TLS1.3"]
assert v["TLS1.2"]["outcome"] in ("alert", "closed"), v["TLS1.2"]
assert v["max"]["version"] == "TLS1.3"
assert c["close_notify"]["server"] in ("close_notify", "fin"), c'

# nginx (TLS 1.2 + 1.3): it never answers close_notify, it closes with a
# bare FIN (the lab's habit_curl_nginx shows the same from curl's side).
# Its two idle timeouts differ: 1 s between requests (keepalive_timeout),
# 4 s before the first (client_header_timeout).  The idle test with --http
# asks first, so it measures the 1 s; without, the 4 s.  In the foreground
# (our child: killed at the end, whatever happens).
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
  keepalive_timeout 1s; client_header_timeout 4s;
  server { listen 127.0.0.1:$pn ssl; ssl_certificate $tmp/c.pem; ssl_certificate_key $tmp/k.pem;
           ssl_protocols TLSv1.2 TLSv1.3; root $tmp/html; }
}
CONF
  nginx -c "$tmp/nginx.conf" -g 'daemon off;' >"$tmp/nginx.out" 2>&1 &
  npid=$!
  pids+=("$npid")
  for _ in $(seq 100); do ss -ltn | grep -q ":$pn " && break; sleep 0.05; done
  check nginx "$pn" '
assert v["TLS1.3"]["outcome"] == "accepted" and v["TLS1.2"]["outcome"] == "accepted", v
assert v["TLS1.1"]["outcome"] == "alert", v["TLS1.1"]
assert c["close_notify"]["server"] == "fin", c
assert c["half_close"]["response"] is True, c' --http
  check nginx_keepalive "$pn" '
i = c["idle"]
assert i["server"] in ("close_notify", "fin") and i["response"] is True, i
assert 500 < i["ms"] < 3000, i   # keepalive_timeout 1s, not the header 4s' --http --idle-max=15
  check nginx_header_timeout "$pn" '
i = c["idle"]
assert i["server"] in ("close_notify", "fin") and i["response"] is False, i
assert 3000 < i["ms"] < 12000, i   # client_header_timeout 4s' --idle-max=15
  kill "$npid" 2>/dev/null
  wait "$npid" 2>/dev/null
fi

# a Python ssl server whose close() never sends close_notify
pp=$(freeport)
python3 - "$pp" "$tmp/c.pem" "$tmp/k.pem" >"$tmp/py.log" 2>&1 <<'PY' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(8); print("ready", flush=True)
while True:
    c, _ = ls.accept()
    try:
        s = ctx.wrap_socket(c, server_side=True)
        s.recv(4096)   # our close_notify (or data)
        s.close()      # Python: no close_notify back, a bare FIN
    except (ssl.SSLError, OSError):
        c.close()
PY
pids+=($!)
waitline "$tmp/py.log" ready
check python_close "$pp" '
assert c["close_notify"]["server"] == "fin", c
assert c["truncation"]["server"] == "fin", c'

# --targets: several servers at once, results in file order, one record
# each, the unreachable one too ("tested": false and why); exit 3: a target
# could not be tested, and nothing failed
closed=$(freeport)
printf '# servers\n127.0.0.1:%s\n127.0.0.1:%s   # TLS 1.2 only\n\n127.0.0.1:%s\n' "$p13" "$p12" "$closed" >"$tmp/targets"
rc=0; "$T" probe --targets="$tmp/targets" -j 3 --format=json --timeout=800 >"$tmp/t.json" 2>"$tmp/t.err" || rc=$?
if [[ $rc -eq 3 ]] && grep -q "cannot connect" "$tmp/t.err" && python3 - "$tmp/t.json" "$p13" "$p12" "$closed" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["target"] for r in rows] == ["127.0.0.1:" + p for p in sys.argv[2:5]], rows
assert rows[0]["versions"][5]["version"] == "TLS1.3" and rows[1]["versions"][5]["version"] == "TLS1.2"
assert rows[0]["tested"] is True and rows[1]["tested"] is True and rows[0]["reason"] is None
assert rows[2]["tested"] is False and rows[2]["close"] == {}, rows[2]
assert rows[2]["reason"] == "cannot connect: Connection refused", rows[2]
PY
then ok "targets (exit 3)"; else ko "targets (exit $rc)"; cat "$tmp/t.err" "$tmp/t.json"; fi
# the same in a table: a record for the unreachable one too
rc=0; "$T" probe --targets="$tmp/targets" --timeout=800 >"$tmp/t.txt" 2>/dev/null || rc=$?
if [[ $rc -eq 3 && $(grep -c '^target ' "$tmp/t.txt") -eq 3 ]] &&
   grep -A1 "^target 127.0.0.1:$closed" "$tmp/t.txt" | grep -q "not tested: cannot connect: Connection refused"; then
  ok "targets: table"; else ko "targets: table (exit $rc)"; cat "$tmp/t.txt"; fi

# every option applies to every target: two HTTP keep-alive servers that log
# the SNI they are sent (--sni), answer requests (--http: half_close gets a
# response; the idle test asks first), close after 1 s idle (--idle-max),
# and a silent one (--timeout bounds its rows)
start_http() { # port log
  python3 "$here/bad_servers.py" http "$1" "$tmp/c.pem" "$tmp/k.pem" "$2" >"$tmp/http.$1" 2>&1 &
  pids+=($!)
  waitline "$tmp/http.$1" ready
}
h1=$(freeport); start_http "$h1" "$tmp/sni.1"
h2=$(freeport); start_http "$h2" "$tmp/sni.2"
sil=$(freeport)
python3 "$here/bad_servers.py" silent "$sil" >"$tmp/bad.silent2" 2>&1 &
pids+=($!)
waitline "$tmp/bad.silent2" ready
printf '127.0.0.1:%s\n127.0.0.1:%s\n127.0.0.1:%s\n' "$h1" "$sil" "$h2" >"$tmp/opts.targets"
rc=0
timeout 60 "$T" probe --targets="$tmp/opts.targets" -j 2 --sni=opts.test --http --idle-max=10 \
  --timeout=700 --format=json >"$tmp/opts.json" 2>"$tmp/opts.err" || rc=$?
if [[ $rc -eq 3 ]] && python3 - "$tmp/opts.json" "$tmp/sni.1" "$tmp/sni.2" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
for r in (rows[0], rows[2]):
    c = r["close"]
    assert r["tested"] is True and r["sni"] == "opts.test", r
    assert c["half_close"]["response"] is True, c                  # --http
    assert c["idle"]["server"] == "fin", c                         # --idle-max
    assert c["idle"]["response"] is True, c                        # --http, idle
    assert 500 < c["idle"]["ms"] < 6000, c
for log in sys.argv[2:4]:                                          # --sni, on the wire
    names = open(log).read().split()
    assert names and set(names) == {"opts.test"}, names
s = rows[1]                                                        # --timeout
assert s["tested"] is False and s["reason"] == "no answer to any ClientHello within 700 ms", s
for v in s["versions"]:
    assert v["outcome"] == "timeout" and 600 < v["ms"] < 3500, v
PY
then ok "targets: every option on every target"; else ko "targets: every option (exit $rc)"; cat "$tmp/opts.json" "$tmp/opts.err"; fi
# a failed check outweighs an untested target: exit 1 (the HTTP server
# ends with a bare FIN, no close_notify), and 3 without the check
printf '127.0.0.1:%s\n127.0.0.1:%s\n' "$closed" "$h1" >"$tmp/mixed.targets"
rc=0; "$T" probe --targets="$tmp/mixed.targets" --timeout=800 --fail-on=no-close-notify >/dev/null 2>&1 || rc=$?
if [[ $rc -eq 1 ]]; then ok "targets: --fail-on over untested (exit 1)"; else ko "targets: --fail-on over untested (exit $rc)"; fi

# --targets of any length, streamed: 3000 refused ports (fast), a line too
# long to be a target (10 kB: refused, the file goes on, exit 2), then a
# real server last, which must still be probed; a record for every target.
c1=$(freeport) c2=$(freeport)
python3 - "$tmp/big" "$c1" "$c2" "$p13" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        f.write("127.0.0.1:%s\n" % sys.argv[2 + i % 2])
        if i == 1500:
            f.write("x" * 10000 + "\n")
    f.write("# the last one answers\n127.0.0.1:%s\n" % sys.argv[4])
PY
rc=0; t0=$(ms)
timeout 120 "$T" probe --targets="$tmp/big" -j 8 --format=json --timeout=1000 >"$tmp/big.json" 2>"$tmp/big.err" || rc=$?
el=$(($(ms) - t0))
if [[ $rc -eq 2 ]] && [[ $(grep -c "cannot connect" "$tmp/big.err") -eq 3000 ]] &&
   grep -q "big:1502: target too long" "$tmp/big.err" && python3 - "$tmp/big.json" "$p13" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3001, len(rows)
assert rows[-1]["target"] == "127.0.0.1:" + sys.argv[2] and rows[-1]["tested"], rows[-1]
for r in rows[:-1]:
    assert r["tested"] is False and r["reason"].startswith("cannot connect"), r
PY
then ok "targets: 3000 lines ($el ms)"; else ko "targets: 3000 lines (exit $rc, $el ms)"; sort "$tmp/big.err" | uniq -c | sort -rn | head -5; fi
rc=0; "$T" probe --targets="$tmp" >/dev/null 2>"$tmp/dir.err" || rc=$?
if [[ $rc -eq 2 ]] && grep -q "$tmp: is a directory" "$tmp/dir.err"; then ok "targets: a directory"; else ko "targets: a directory (exit $rc)"; cat "$tmp/dir.err"; fi

# Name resolution is under --timeout.  Never a real resolver: in a network
# namespace of our own (nothing in it but its loopback), with a resolv.conf
# bind-mounted over /etc/resolv.conf in a mount namespace of our own, that
# names a UDP socket there which never answers (glibc would wait 5 s x 2).
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null && command -v ip >/dev/null &&
   [[ -e /etc/resolv.conf ]]; then
  printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:2\n' >"$tmp/resolv.conf"
  cat >"$tmp/dns.sh" <<'SH'
set -e
ip link set lo up
mount --bind "$1" /etc/resolv.conf
python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))  # holds the queries, never answers
print("ready", flush=True)
time.sleep(60)' >"$2/hole" &
for _ in $(seq 100); do grep -q ready "$2/hole" && break; sleep 0.05; done
set +e
t0=$(date +%s%3N)
"$3" probe --timeout=300 slow.test:443 >/dev/null 2>"$2/dns.err"
rc=$?
echo "$rc $(($(date +%s%3N) - t0))"
kill %1
SH
  read -r rc el < <(timeout 60 unshare -n -m bash "$tmp/dns.sh" "$tmp/resolv.conf" "$tmp" "$T")
  if [[ $rc -eq 3 && $el -lt 1500 ]] && grep -q "slow.test: name resolution timed out after 300 ms" "$tmp/dns.err"; then
    ok "dns timeout ($el ms)"
  else ko "dns timeout (exit $rc, $el ms)"; cat "$tmp/dns.err"; fi
else
  echo "skip dns timeout: needs root, unshare and ip"
fi

# Cross-check with the analyzer: capture the probe's own traffic against the
# TLS 1.3-only server and read it back with tlsfin analyze (root: dumpcap).
if [[ $(id -u) -eq 0 ]] && command -v dumpcap >/dev/null; then
  dumpcap -q -i lo -f "tcp port $p13" -w "$tmp/probe.pcapng" 2>"$tmp/dc.err" &
  dpid=$!
  for _ in $(seq 100); do grep -q Capturing "$tmp/dc.err" && break; sleep 0.05; done
  sleep 1
  "$T" probe --format=json "127.0.0.1:$p13" >"$tmp/x.json" 2>&1
  sleep 0.5
  kill -INT $dpid; wait $dpid
  "$T" analyze --format=jsonl "$tmp/probe.pcapng" >"$tmp/x.jsonl" 2>&1
  if python3 - "$tmp/x.json" "$tmp/x.jsonl" <<'PY'
import json, sys
probe = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
# one connection per version row, then one per close test that ran
# (data_after_cn takes two: its control first; key_update one)
assert len(rows) == 6 + 2 + 3, len(rows)
want = {"SSL3": "tls_handshake_alert", "TLS1.0": "tls_handshake_alert",
        "TLS1.1": "tls_handshake_alert", "TLS1.2": "tls_handshake_alert"}
for row, v in zip(rows, probe["versions"]):
    if v["offered"] in want:
        assert row["verdict"] == want[v["offered"]], (v, row["verdict"])
        assert row["tls"]["alerts"][0]["description"] == v["alert"], (v, row["tls"]["alerts"])
    else:  # accepted: the probe reads the ServerHello and aborts
        assert row["tls"]["version"] == v["version"], (v, row["tls"])
        assert row["rst"]["by"] == "client" and row["rst"]["cause"] == "abort", row["rst"]
cn = rows[6]   # our close_notify, the server answers with close_notify + FIN
assert cn["tls"]["first_close_notify"] == "client", cn["tls"]
assert cn["tls"]["close_notify"] == {"client": "probable", "server": "probable"}, cn["tls"]
tr = rows[7]   # our bare FIN
assert tr["verdict"] == "tls_truncated" and tr["tcp"]["first_close"] == "client", tr["verdict"]
PY
  then ok "probe traffic read back by tlsfin analyze"; else ko "probe vs analyze"; cat "$tmp/x.jsonl" | cut -c1-400; fi
else
  echo "skip probe vs analyze: needs root and dumpcap"
fi

# bad usage: exit 2 with a message, quickly (no unresolvable names here:
# resolving one would send a query off the machine)
for args in "" "nocolon" "127.0.0.1:99999" "--format=xml 127.0.0.1:1" "--bogus 127.0.0.1:1" \
            "--fail-on=nope 127.0.0.1:1" "--targets=$tmp/targets 127.0.0.1:1" \
            "--cert=$tmp/c.pem 127.0.0.1:1" "--listen=127.0.0.1:1 --targets=$tmp/targets"; do
  rc=0
  # shellcheck disable=SC2086
  timeout 20 "$T" probe --timeout=500 $args >"$tmp/o" 2>"$tmp/e" || rc=$?
  if [[ $rc -eq 2 && -s "$tmp/e" ]]; then ok "usage: '$args'"; else ko "usage: '$args' exit $rc"; cat "$tmp/e"; fi
done
# an unreachable target: exit 3, the reason on stderr and in the record
closed=$(freeport)
rc=0; timeout 20 "$T" probe --timeout=500 --format=json "127.0.0.1:$closed" >"$tmp/o" 2>"$tmp/e" || rc=$?
if [[ $rc -eq 3 ]] && grep -q "127.0.0.1:$closed: cannot connect: Connection refused" "$tmp/e" &&
   python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["tested"] is False and r["reason"].startswith("cannot connect"), r' "$tmp/o"; then
  ok "unreachable: exit 3"; else ko "unreachable: exit $rc"; cat "$tmp/o" "$tmp/e"; fi
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

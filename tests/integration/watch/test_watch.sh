#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tlsfin watch against real peers on loopback, checked three ways:
#  1. the live rows of `watch --kernel=off` equal `tlsfin analyze` of a
#     tcpdump capture of the same traffic (verdict, RST sender and cause, TLS
#     and Zeek fields), and every bad ending is in the flight recorder, whose
#     files analyze to the same verdict and cause (and decrypt, with keys);
#  2. `watch --kernel=on` (eBPF) gives each RST the kernel's reason, its
#     cause by TLSFIN_KERNEL_REASON_MAP, and the processes behind the sockets;
#  3. the metrics endpoint passes `promtool check metrics`.
# Peers: openssl s_server + curl, lab/programs/rst_pair.py (python ssl, both
# ends real sockets), verdict_peers.py (open, half_closed), a closed port.
# usage (root): test_watch.sh TLSFIN
set -uo pipefail
T=$1
here=$(cd "$(dirname "$0")" && pwd)
lab=$here/../../../lab/programs
if [[ $(id -u) -ne 0 ]] || ! command -v tcpdump >/dev/null; then
  echo "skip: needs root and tcpdump"; exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [[ -n ${KEEP:-} ]] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
waitline() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
             echo "FAIL: no '$2' in $1:"; cat "$1"; return 1; }
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" \
  -days 2 -subj /CN=localhost 2>/dev/null
cp "$tmp/k.pem" "$tmp/key.pem"; cp "$tmp/c.pem" "$tmp/cert.pem"
# Eleven distinct listening ports below the ephemeral range: the test's
# client sockets (hundreds by the time the last listeners start) get their
# ports from that range, and one of them once took a port picked here
# before its listener bound it (EADDRINUSE).
read -r P_SRV P_CLOSED P_DAC P_UNREAD P_ABORT P_KILL P_OPEN P_HALF P_METRICS P_NGINX P_APP \
  < <(python3 - <<'PY'
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
got = []
while len(got) < 11:
    p = random.randrange(10000, lo)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    if p not in got:
        got.append(p)
print(*got)
PY
)
ports=($P_SRV $P_CLOSED $P_DAC $P_UNREAD $P_ABORT $P_KILL $P_OPEN $P_HALF $P_NGINX $P_APP)
filter="tcp and ($(printf 'port %s or ' "${ports[@]}" | sed 's/ or $//'))"

# ---- bad input: one line, exit 2, nothing left behind ----
out=$("$T" watch -i nosuch0 2>&1); rc=$?
check "unknown interface: exit 2 and says so" '[[ $rc == 2 && $out == *"no such interface"* ]]'
out=$("$T" watch -i lo -f 'port nonsense' --record "$tmp/never" 2>&1); rc=$?
check "invalid filter: exit 2, no record dir made" \
  '[[ $rc == 2 && $out == *"--filter"* && ! -e $tmp/never ]]'
touch "$tmp/afile"
out=$("$T" watch -i lo --kernel=off --record "$tmp/afile/sub" --duration 1 2>&1); rc=$?
check "unwritable record dir: exit 2" '[[ $rc == 2 && $out == *"--record"* ]]'
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(5)' \
  "$P_METRICS" & busy=$!
sleep 0.3
# --duration: should the port not be busy after all (another program took
# it between the pick and the bind), watch ends instead of running forever.
out=$("$T" watch -i lo --kernel=off --metrics "127.0.0.1:$P_METRICS" --record "$tmp/never2" --duration 5 2>&1); rc=$?
check "metrics port in use: exit 2, no record dir made" \
  '[[ $rc == 2 && $out == *"Address already in use"* && ! -e $tmp/never2 ]]'
kill $busy 2>/dev/null; wait $busy 2>/dev/null
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$T" watch -i lo 2>&1); rc=$?
check "not root: exit 2, says permission" '[[ $rc == 2 && $out == *"permission"* ]]'
out=$("$T" watch --format=summary 2>&1); rc=$?
check "wrong format: exit 2" '[[ $rc == 2 ]]'
out=$("$T" watch --duration=abc 2>&1); rc=$?
check "bad number: exit 2" '[[ $rc == 2 && $out == *"--duration"* ]]'

# ---- live ----
"$T" watch -i lo -f "$filter" --format=jsonl --kernel=off --linger 1 \
  --record "$tmp/rec" --keylog "$tmp/keys" --metrics "127.0.0.1:$P_METRICS" \
  >"$tmp/w1.jsonl" 2>"$tmp/w1.err" & w1=$!; pids+=($w1)
"$T" watch -i lo -f "$filter" --format=jsonl --kernel=auto --libssl --linger 1 \
  >"$tmp/w2.jsonl" 2>"$tmp/w2.err" & w2=$!; pids+=($w2)
tcpdump -i lo -U -w "$tmp/cap.pcap" "$filter" 2>"$tmp/td.err" & td=$!; pids+=($td)
waitline "$tmp/w1.err" listening || exit 1
waitline "$tmp/w2.err" listening || exit 1
waitline "$tmp/td.err" "listening on" || exit 1
kernel=1
grep -q "kernel evidence off" "$tmp/w2.err" && kernel=0

openssl s_server -accept "127.0.0.1:$P_SRV" -cert "$tmp/c.pem" -key "$tmp/k.pem" -www \
  -keylogfile "$tmp/keys" >"$tmp/srv.log" 2>&1 & pids+=($!)
waitline "$tmp/srv.log" ACCEPT || exit 1
curl -sk "https://127.0.0.1:$P_SRV/" -o /dev/null                      # tls_clean
# nginx: a keep-alive download, and one abandoned after 1000 bytes of 4 MB
# (curl closes mid-transfer; nginx, still streaming, resets: unread_data)
if command -v nginx >/dev/null; then
  mkdir -p "$tmp/html" && chmod 755 "$tmp" "$tmp/html"
  head -c 4000000 /dev/urandom >"$tmp/html/big.bin"; echo hello >"$tmp/html/small.txt"
  cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
error_log $tmp/nginx.err info;
pid $tmp/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fcgi; uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;
  server {
    listen 127.0.0.1:$P_NGINX ssl;
    ssl_certificate $tmp/c.pem; ssl_certificate_key $tmp/k.pem;
    root $tmp/html;
  }
}
CONF
  nginx -c "$tmp/nginx.conf" -g 'daemon off;' & pids+=($!)
  # ready when it listens (a curl loop would leave refused connections of
  # its own in the capture)
  for _ in $(seq 100); do ss -Hltn "sport = :$P_NGINX" | grep -q . && break; sleep 0.05; done
  curl -sk "https://127.0.0.1:$P_NGINX/small.txt" "https://127.0.0.1:$P_NGINX/small.txt" -o /dev/null -o /dev/null
  curl -sk --limit-rate 100k "https://127.0.0.1:$P_NGINX/big.bin" 2>/dev/null | head -c 1000 >/dev/null
else
  check "nginx installed (apt nginx-light)" false
fi
curl -s "http://127.0.0.1:$P_CLOSED/" -o /dev/null                     # refused
for m in data_after_close:$P_DAC:1.3 unread_data:$P_UNREAD:none abort:$P_ABORT:1.3 \
         killed_unread:$P_KILL:none; do
  IFS=: read -r mode port tls <<<"$m"
  python3 "$lab/rst_pair.py" pair "$mode" --port "$port" --tls "$tls" --keylog "$tmp/keys" --certdir "$tmp" \
    >"$tmp/$mode.log" 2>&1 || { echo "FAIL: rst_pair $mode"; cat "$tmp/$mode.log"; fail=1; }
done
# What OpenSSL tells a Python client (--libssl): the server closes without
# close_notify (the client is told "unexpected eof", SSL_ERROR_SSL), then
# with it (SSL_ERROR_ZERO_RETURN; both SSL_shutdown calls recorded).
timeout 30 python3 - "$P_APP" "$tmp/c.pem" "$tmp/k.pem" >"$tmp/app.log" 2>&1 <<'PY' || { echo "FAIL: app peers"; cat "$tmp/app.log"; fail=1; }
import socket, ssl, sys, threading
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sctx.load_cert_chain(cert, key)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False; cctx.verify_mode = ssl.CERT_NONE
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(4)
def server(clean):
    c, _ = ls.accept(); s = sctx.wrap_socket(c, server_side=True)
    s.recv(10); s.sendall(b"hello")
    if clean:
        s.unwrap().close()
    else:
        s.close()
for clean in (False, True):
    t = threading.Thread(target=server, args=(clean,)); t.start()
    c = cctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), suppress_ragged_eofs=False)
    c.sendall(b"hi"); c.recv(5)
    try:
        c.recv(10)
    except ssl.SSLError as e:
        print("client told:", e)
    if clean:
        c.unwrap()
    t.join(); c.close()
PY
mkfifo "$tmp/open.in" "$tmp/half.in"
python3 "$lab/verdict_peers.py" open "$P_OPEN" "$tmp/c.pem" "$tmp/k.pem" <>"$tmp/open.in" \
  >"$tmp/open.log" 2>&1 & pids+=($!)
python3 "$lab/verdict_peers.py" half_closed "$P_HALF" "$tmp/c.pem" "$tmp/k.pem" <>"$tmp/half.in" \
  >"$tmp/half.log" 2>&1 & pids+=($!)
waitline "$tmp/open.log" READY || exit 1
waitline "$tmp/half.log" READY || exit 1

# the refused connection is counted once its linger (1 s) has passed
for _ in $(seq 50); do
  curl -s "http://127.0.0.1:$P_METRICS/metrics" >"$tmp/metrics.txt"
  grep -q '^tlsfin_connections_total{verdict="refused"} 1$' "$tmp/metrics.txt" && break
  sleep 0.1
done
if command -v promtool >/dev/null; then
  promtool check metrics <"$tmp/metrics.txt" >"$tmp/promtool.out" 2>&1; rc=$?
  check "promtool check metrics" '[[ $rc == 0 ]] || { cat "$tmp/promtool.out"; false; }'
else
  check "promtool installed (apt prometheus)" false
fi
check "metrics count the refused connection" \
  'grep -q "^tlsfin_connections_total{verdict=\"refused\"} 1$" "$tmp/metrics.txt"'

sleep 2.5   # the linger (1 s) of the last ended connections, plus margin
kill -INT $w1 $w2 $td
wait $w1; rc1=$?; wait $w2; rc2=$?; wait $td
check "watch exits 0 on SIGINT" '[[ $rc1 == 0 && $rc2 == 0 ]]'
check "summary printed on stderr" 'grep -q "== tlsfin watch" "$tmp/w1.err"'
echo quit >"$tmp/open.in"; echo quit >"$tmp/half.in"

"$T" analyze --format=jsonl --keylog "$tmp/keys" "$tmp/cap.pcap" >"$tmp/a.jsonl"
mkdir -p "$tmp/recan"
for f in "$tmp"/rec/tlsfin-*.pcapng; do
  [[ -e $f ]] && "$T" analyze --format=jsonl "$f" >>"$tmp/recan/all.jsonl"
done
# The recorder's files read back as one HTML report (docs/html.md), with
# the data the JSONL of the same files gives.
if compgen -G "$tmp/rec/tlsfin-*.pcapng" >/dev/null; then
  python3 "$here/../../golden/html_check.py" "$T" "$tmp"/rec/tlsfin-*.pcapng >"$tmp/html.out" 2>&1 ||
    { cat "$tmp/html.out"; fail=1; }
  "$T" analyze --format=html "$tmp"/rec/tlsfin-*.pcapng >"$tmp/rec.html" &&
    grep -q 'id="tlsfin-data"' "$tmp/rec.html" || { echo "FAIL: no HTML report from the recorder's files"; fail=1; }
fi
SCHEMA=$here/../../../docs/tlsfin.schema.json P_APP=$P_APP python3 - "$tmp" "$kernel" <<'PY' || fail=1
import json, os, sys
tmp, kernel = sys.argv[1], sys.argv[2] == "1"
def rows(p):
    try:
        return [json.loads(l) for l in open(p) if l.strip()]
    except FileNotFoundError:
        return []
def key(r):
    return (r["client"]["ip"], r["client"]["port"], r["server"]["ip"], r["server"]["port"])
def pick(r):
    t = r["tls"] or {}
    return {"verdict": r["verdict"], "rst.by": (r["rst"] or {}).get("by"),
            "rst.cause": (r["rst"] or {}).get("cause"),
            "zeek": (r["zeek_conn_state"], r["zeek_history"]),
            "tcp": (r["tcp"]["bytes"], r["tcp"]["client_fin"], r["tcp"]["server_fin"]),
            "tls": (t.get("version"), t.get("handshake"), t.get("close_notify"))}
try:  # the live rows follow the same contract (docs/tlsfin.schema.json)
    import jsonschema
    schema = json.load(open(os.environ["SCHEMA"]))
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("w1", "w2"):
        for r in rows(f"{tmp}/{name}.jsonl"):
            for err in validator.iter_errors(r):
                print(f"FAIL: {name} row {r['id']}: {'/'.join(map(str, err.path))}: {err.message[:160]}")
                sys.exit(1)
except ImportError:
    print("note: python jsonschema missing; live rows not checked against the schema")
a = {key(r): r for r in rows(f"{tmp}/a.jsonl")}
w1 = {key(r): r for r in rows(f"{tmp}/w1.jsonl")}
w2 = {key(r): r for r in rows(f"{tmp}/w2.jsonl")}
rec = {key(r): r for r in rows(f"{tmp}/recan/all.jsonl")}
bad = 0
def fail(msg):
    global bad
    bad += 1
    print("FAIL:", msg)
want = {"tls_clean", "refused", "open", "half_closed", "tls_close_then_reset", "reset"}
got = {r["verdict"] for r in a.values()}
if not want <= got:
    fail(f"the peers did not produce every verdict: missing {sorted(want - got)}")
if set(a) != set(w1):
    fail(f"watch and analyze saw different connections: {sorted(set(a) ^ set(w1))}")
for k in sorted(set(a) & set(w1)):
    if pick(a[k]) != pick(w1[k]):
        fail(f"{k}: watch {pick(w1[k])} != analyze {pick(a[k])}")
# the flight recorder: every bad ending, same verdict and cause
good = {"tls_clean", "tcp_clean", "tls_one_sided"}
for k, r in w1.items():
    if r["verdict"] in good:
        if k in rec:
            fail(f"{k}: {r['verdict']} recorded, but it is not a recorded verdict")
        continue
    if k not in rec:
        fail(f"{k}: {r['verdict']} not in the flight recorder")
        continue
    for f in ("verdict", "rst.by", "rst.cause"):
        if pick(rec[k])[f] != pick(r)[f]:
            fail(f"{k}: recorded file gives {f}={pick(rec[k])[f]}, live row {pick(r)[f]}")
dec = [rec[k] for k, r in w1.items()
       if k in rec and r["tls"] and r["tls"]["decryption"] == "decrypted"]
if not dec or not all(r["tls"]["decryption"] == "decrypted" for r in dec):
    fail("recorded TLS connections do not decrypt from their own file (DSB): "
         + str([(key(r), r["tls"]["decryption"]) for r in dec]))
# kernel truth
if kernel:
    m = {"NO_SOCKET": "port_closed|unknown_connection", "TCP_ABORT_ON_CLOSE": "unread_data",
         "TCP_ABORT_ON_DATA": "data_after_close", "TCP_TIMEWAIT_SOCKET": "data_after_close",
         "TCP_STATE": "abort|handshake_rejected", "TCP_FLAGS": "unknown_connection"}
    if set(a) != set(w2):
        fail(f"watch --kernel and analyze saw different connections")
    for k in sorted(set(a) & set(w2)):
        r = w2[k]
        if r["verdict"] != a[k]["verdict"] or (r["rst"] or {}).get("by") != (a[k]["rst"] or {}).get("by"):
            fail(f"{k}: watch --kernel verdict/rst.by differ from analyze")
        if r["rst"]:
            kr = r["rst"]["kernel_reason"]
            if not kr:
                fail(f"{k}: RST on loopback without a kernel reason: {r['rst']}")
            elif kr in m and r["rst"]["cause"] not in m[kr].split("|"):
                fail(f"{k}: kernel {kr} but cause {r['rst']['cause']}")
            elif r["rst"]["confidence"] != "certain":
                fail(f"{k}: kernel reason but confidence {r['rst']['confidence']}")
        p = r["process"]
        if r["verdict"] != "refused" and (not p or not p["client"] or not p["server"]):
            fail(f"{k}: both ends are local, process is {p}")
    print(f"kernel: {sum(1 for r in w2.values() if r['rst'])} RSTs with kernel reasons checked")
    app = [r for r in w2.values() if r["server"]["port"] == int(os.environ["P_APP"])]
    if "--libssl: " in open(f"{tmp}/w2.err").read():
        print("note: libssl probes unavailable here:", [l for l in open(f"{tmp}/w2.err") if "libssl" in l])
    elif len(app) != 2:
        fail(f"app: expected 2 connections, got {len(app)}")
    else:
        app.sort(key=lambda r: r["first_ts"])
        cut, clean = app
        want = [(cut, "tls_truncated", "SSL_ERROR_SSL", []), (clean, "tls_clean", "SSL_ERROR_ZERO_RETURN", [1])]
        for r, verdict, err, shut in want:
            view = (r["app"] or {}).get("client")
            if r["verdict"] != verdict or not view or view["error"] != err \
                    or view["shutdown"] != shut or view["wire_agrees"] is not True \
                    or view["comm"] != "python3":
                fail(f"app view of the {verdict} connection: {r['verdict']} {r['app']}")
        s = (clean["app"] or {}).get("server")
        if not s or s["shutdown"] != [0, 1]:
            fail(f"app: the server's SSL_shutdown returns should be [0, 1]: {clean['app']}")
else:
    print("note: eBPF collector unavailable here; kernel checks skipped:",
          open(f"{tmp}/w2.err").read().splitlines()[1:2])
print(f"{len(a)} connections compared, {len(rec)} recorded; {bad} failures")
sys.exit(1 if bad else 0)
PY
[[ $fail == 0 ]] && echo "all watch checks passed"
exit $fail

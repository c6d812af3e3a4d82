#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# libtlsfin against real servers, captured and read back by tlsfin analyze:
# the library's verdict and the analyzer's agree for GRACEFUL and ABORT,
# GRACEFUL never makes the peer (or us) send an RST, ABORT always does.
# FAST does not wait, so the library cannot know what the peer does next:
# only its RST-freedom on our side is checked.  Servers: openssl s_server
# (TLS 1.3 and TLS 1.2) and a Python ssl echo server.
# usage (root, dumpcap): test_lib_capture.sh TLSFIN LIB_CLOSE_PEER
set -uo pipefail
T=$1 P=$2
if [[ $(id -u) -ne 0 ]] || ! command -v dumpcap >/dev/null; then
  echo "skip: needs root and dumpcap"; exit 77
fi
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitline() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/k.pem" -out "$tmp/c.pem" -days 2 -subj /CN=l 2>/dev/null
pass=0 fail=0
run_server() { # name port kind
  case $3 in
    s_server13|s_server12)
      mkfifo "$tmp/in.$2"
      openssl s_server -accept "127.0.0.1:$2" -cert "$tmp/c.pem" -key "$tmp/k.pem" \
        "$([[ $3 == s_server13 ]] && echo -tls1_3 || echo -tls1_2)" <>"$tmp/in.$2" >"$tmp/$1.log" 2>&1 &
      pids+=($!); waitline "$tmp/$1.log" ACCEPT;;
    python)
      python3 - "$2" "$tmp/c.pem" "$tmp/k.pem" >"$tmp/$1.log" 2>&1 <<'PY' &
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(4); print("ready", flush=True)
while True:
    c, _ = ls.accept()
    try:
        s = ctx.wrap_socket(c, server_side=True)
        while True:
            d = s.recv(4096)
            if not d:
                break            # the client's close_notify
            s.sendall(d)
        s.unwrap().close()       # answer close_notify, then FIN
    except (ssl.SSLError, OSError):
        pass
PY
      pids+=($!); waitline "$tmp/$1.log" ready;;
  esac
}
for kind in s_server13 s_server12 python; do
  port=$(freeport)
  run_server "$kind" "$port" "$kind"
  dumpcap -q -i lo -f "tcp port $port" -w "$tmp/$kind.pcapng" 2>"$tmp/dc.$kind" &
  dpid=$!
  waitline "$tmp/dc.$kind" Capturing; sleep 1
  : >"$tmp/$kind.lib"
  for mode in graceful abort fast; do
    "$P" "$port" "$mode" >>"$tmp/$kind.lib"
    sleep 0.3
  done
  sleep 0.5
  kill -INT $dpid; wait $dpid
  "$T" analyze --format=jsonl "$tmp/$kind.pcapng" >"$tmp/$kind.an"
  if python3 - "$tmp/$kind.lib" "$tmp/$kind.an" <<'PY'
import json, sys
lib = [json.loads(l) for l in open(sys.argv[1])]
an = [json.loads(l) for l in open(sys.argv[2])]
assert len(lib) == 3 and len(an) == 3, (len(lib), len(an))
g, a, f = zip(lib, an)
# GRACEFUL: the same verdict on both sides, and no RST from anyone
assert g[0]["verdict"] == g[1]["verdict"], (g[0], g[1]["verdict"], g[1]["explain"])
assert g[1]["rst"] is None, g[1]["rst"]
# ABORT: an RST from us, always; verdicts agree
assert a[1]["tcp"]["client_rst"] is True and a[1]["rst"]["by"] == "client", a[1]["rst"]
assert a[0]["verdict"] == a[1]["verdict"] == "reset", (a[0]["verdict"], a[1]["verdict"])
# FAST: we sent close_notify and FIN and did not reset
assert f[1]["tcp"]["client_fin"] is True and f[1]["tcp"]["client_rst"] in (False, True)
assert f[1]["tls"]["close_notify"]["client"] in ("probable", "seen"), f[1]["tls"]
print("graceful:", g[0]["verdict"], "| fast, analyzer:", f[1]["verdict"])
PY
  then echo "ok   $kind"; pass=$((pass+1)); else echo "FAIL $kind"; cat "$tmp/$kind.lib"; cut -c1-300 "$tmp/$kind.an"; fail=$((fail+1)); fi
done
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]

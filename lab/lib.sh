# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# lab/lib.sh — shared helpers for lab scenarios.  Source it from a scenario:
#
#   #!/usr/bin/env bash
#   # lab: ci            <- optional tag: `lab/run ci` runs scenarios tagged so
#   source "$LAB/lib.sh"
#   lab_init seed003_rst_port_closed
#   ...
#
# Scenarios are run by `lab/run NAME...`, which exports LAB (the lab/ dir) and
# LAB_OUT (the output root, default lab/out).  Everything a scenario starts is
# killed, every namespace it creates deleted, on any exit (trap in lab_init).
#
# API (all functions die with a message on failure; `lab_die MSG` to fail):
#
#   lab_init NAME            create $OUT=$LAB_OUT/NAME (emptied), set $NAME,
#                            $PCAP ($OUT/NAME.pcapng), $KEYS ($OUT/NAME.keys),
#                            $EXPECT ($OUT/NAME.expect.jsonl), $PEERLOG
#                            ($OUT/NAME.peer.txt), $TMPD (private temp dir),
#                            install the cleanup trap.  Needs root.
#   lab_log MSG...           progress line on stderr and in $PEERLOG
#   lab_free_port            print a free TCP port (not listening, 20000-59999)
#   lab_capture_start FILTER [IFACE [NETNS]]
#                            start dumpcap (BPF FILTER, default iface lo, or
#                            IFACE inside network namespace NETNS) writing $PCAP;
#                            returns when dumpcap reports it is capturing.
#   lab_capture_stop         let the kernel deliver the last packets, stop
#                            dumpcap with SIGINT and wait until it has written
#                            the file.  Called by cleanup if still running.
#   lab_bg TAG CMD...        start CMD in the background, stdout+stderr to
#                            $OUT/TAG.log (also appended to $PEERLOG at the end);
#                            sets LAB_BG_PID; killed at cleanup.
#                            Its stdin is /dev/null (bash's rule for & jobs).
#   lab_bg_in FILE TAG CMD...   same with stdin from FILE (e.g. a FIFO opened
#                            read-write, so the peer never sees EOF).
#   lab_bg_ns NETNS TAG CMD...  same as lab_bg, inside network namespace NETNS.
#   lab_kill PID [SIGNAL]    send SIGNAL (default TERM) to a process we started
#                            and wait for it.
#   lab_wait_pid PID [TIMEOUT]  wait (default 10 s) for a started process to exit;
#                            sets LAB_RC to its exit status (do not call it in
#                            $(...): a subshell cannot wait for our children).
#   lab_wait_line FILE REGEX [TIMEOUT]  wait until a line of FILE matches the
#                            extended REGEX (default timeout 10 s).
#   lab_wait_listen PORT [TIMEOUT [NETNS]]  wait until something listens on
#                            TCP PORT (via `ss -ltn`, optionally in NETNS).
#   lab_netns_pair           create two namespaces joined by a veth pair:
#                            $NS_C (client, $IP_C=10.231.N.1 on $IF_C) and
#                            $NS_S (server, $IP_S=10.231.N.2 on $IF_S); the
#                            addresses exist only inside the namespaces.
#                            IPv6 too: $IP6_C=fd00:231:N::1, $IP6_S=fd00:231:N::2.
#                            Deleted at cleanup.  Call it several times for
#                            several pairs (N differs; the variables are reset).
#   lab_ns NETNS CMD...      run CMD in a namespace (ip netns exec).
#   lab_cert                 self-signed RSA-2048 cert, CN=tlsfin.test, SAN
#                            tlsfin.test, localhost, 127.0.0.1 (namespace
#                            addresses are not listed: clients skip
#                            verification); sets $CERT and $CERTKEY (cached
#                            in $LAB_OUT/.cert).
#   lab_nginx PORT PROTOCOLS [HTTP_DIRECTIVES [SERVER_DIRECTIVES]]
#                            start nginx with TLS on 127.0.0.1:PORT ($CERT,
#                            ssl_protocols PROTOCOLS, root $TMPD/html which it
#                            creates), extra directives for the http and
#                            server blocks; returns once it listens.
#   lab_haproxy PORT BIND_OPTIONS RULES
#                            start haproxy (mode http) terminating TLS on
#                            127.0.0.1:PORT with $CERT; BIND_OPTIONS extend
#                            the bind line (e.g. ssl-min-ver TLSv1.3), RULES
#                            are the frontend's lines (a backend or an
#                            http-request return); returns once it listens.
#   lab_json_str STRING      print STRING as a JSON string literal (quoted).
#   lab_expect JSON          append one line (a JSON object) to $EXPECT;
#                            validated with python's json module.
#   lab_peer_report FILE REGEX  print the first line of FILE matching REGEX as
#                            a JSON string literal ("null" if none): use it for
#                            the "peer_report" field.
#   lab_assert_pcap DFILTER [MIN [MAX]]  assert that between MIN (default 1)
#                            and MAX packets of $PCAP match the tshark display
#                            filter (decrypted with $KEYS when present): the
#                            scenario checks its labels against the wire.
#                            Skipped when LAB_QUICK=1 (`lab/run ci` sets it:
#                            there the analyzer comparison is the check).
#   lab_tshark ARGS...       tshark -r $PCAP (with the keylog when present).
#   lab_cc OUTNAME SRC... [-- LDFLAGS...]  compile a C program from
#                            lab/programs into $LAB_OUT/.bin/OUTNAME (cached
#                            by source mtime); prints the binary's path.
#   lab_done                 stop capture if running, check $PCAP and $EXPECT
#                            exist and that the number of TCP connections in
#                            the capture equals the number of expect lines.
#
# Conventions: no `sleep` for readiness — wait for a ready line or a socket;
# sleeps only where the point is the time (idle timers, ordering of events).

set -euo pipefail

: "${LAB:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${LAB_OUT:=$LAB/out}"
LAB_PY=/usr/bin/python3 # Debian's python: has scapy

_lab_pids=()
_lab_netns=()
_lab_cap_pid=""
_lab_cap_log=""
_lab_netns_n=0

lab_die() {
  echo "lab[${NAME:-?}]: FAIL: $*" >&2
  exit 1
}

lab_log() {
  echo "lab[${NAME:-?}]: $*" >&2
  if [[ -n "${PEERLOG:-}" ]]; then echo "## $*" >>"$PEERLOG"; fi
}

_lab_cleanup() {
  local rc=$?
  set +e
  if [[ -n "$_lab_cap_pid" ]]; then
    kill -INT "$_lab_cap_pid" 2>/dev/null
    wait "$_lab_cap_pid" 2>/dev/null
    _lab_cap_pid=""
  fi
  local p
  for p in "${_lab_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  for p in "${_lab_pids[@]}"; do
    # Give each process a moment, then force it.
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  local f
  if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
    for f in "$OUT"/*.log; do
      [[ -f "$f" ]] || continue
      {
        echo "===== $(basename "$f" .log) ====="
        cat "$f"
      } >>"$PEERLOG"
      rm -f "$f"
    done
  fi
  local ns
  for ns in "${_lab_netns[@]}"; do
    ip netns pids "$ns" 2>/dev/null | while read -r p; do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [[ -n "${TMPD:-}" && -d "${TMPD:-}" ]]; then rm -rf "$TMPD"; fi
  if ((rc != 0)); then echo "lab[${NAME:-?}]: exit $rc" >&2; fi
  exit $rc
}

lab_init() {
  NAME=$1
  [[ $(id -u) -eq 0 ]] || lab_die "needs root (dumpcap, namespaces)"
  OUT=$LAB_OUT/$NAME
  mkdir -p "$OUT"
  rm -f "$OUT"/"$NAME".* "$OUT"/*.log
  PCAP=$OUT/$NAME.pcapng
  KEYS=$OUT/$NAME.keys
  EXPECT=$OUT/$NAME.expect.jsonl
  PEERLOG=$OUT/$NAME.peer.txt
  : >"$EXPECT"
  : >"$PEERLOG"
  TMPD=$(mktemp -d "/tmp/lab-$NAME.XXXXXX")
  trap _lab_cleanup EXIT
  trap 'exit 130' INT TERM
  lab_log "start $(date -u +%FT%TZ) on $(uname -sr)"
}

lab_free_port() {
  local used p
  used=$(ss -Htan | awk '{print $4}' | sed 's/.*://' | sort -u)
  while :; do
    p=$((20000 + RANDOM % 40000))
    grep -qx "$p" <<<"$used" || {
      echo "$p"
      return
    }
  done
}

lab_capture_start() {
  local filter=$1 iface=${2:-lo} ns=${3:-}
  _lab_cap_log=$TMPD/dumpcap.log
  local pre=()
  [[ -n "$ns" ]] && pre=(ip netns exec "$ns")
  # Full snaplen: TLS records must be whole for keylog decryption.
  "${pre[@]}" dumpcap -q -i "$iface" -f "$filter" -w "$PCAP" >"$_lab_cap_log" 2>&1 &
  _lab_cap_pid=$!
  lab_wait_line "$_lab_cap_log" "Capturing on|File:" 10 ||
    lab_die "dumpcap did not start: $(cat "$_lab_cap_log")"
}

lab_capture_stop() {
  [[ -n "$_lab_cap_pid" ]] || return 0
  # The capture ring is delivered in blocks; let the last packets reach
  # dumpcap before interrupting it (the point here is the time).
  sleep 0.5
  kill -INT "$_lab_cap_pid" 2>/dev/null || true
  wait "$_lab_cap_pid" 2>/dev/null || true
  _lab_cap_pid=""
  [[ -s "$PCAP" ]] || lab_die "no capture written: $(cat "$_lab_cap_log" 2>/dev/null)"
}

lab_bg() {
  local tag=$1
  shift
  "$@" >>"$OUT/$tag.log" 2>&1 &
  LAB_BG_PID=$!
  _lab_pids+=("$LAB_BG_PID")
}

lab_bg_in() {
  local in=$1 tag=$2
  shift 2
  "$@" <>"$in" >>"$OUT/$tag.log" 2>&1 &
  LAB_BG_PID=$!
  _lab_pids+=("$LAB_BG_PID")
}

lab_bg_ns() {
  local ns=$1 tag=$2
  shift 2
  lab_bg "$tag" ip netns exec "$ns" "$@"
}

lab_kill() {
  local pid=$1 sig=${2:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

lab_wait_pid() {
  local pid=$1 t=${2:-10} i rc
  for ((i = 0; i < t * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      LAB_RC=0
      wait "$pid" 2>/dev/null || LAB_RC=$?
      return 0
    fi
    sleep 0.05
  done
  lab_die "process $pid still running after ${t}s"
}

lab_wait_line() {
  local file=$1 re=$2 t=${3:-10} i
  for ((i = 0; i < t * 20; i++)); do
    if [[ -f "$file" ]] && grep -qE -- "$re" "$file"; then return 0; fi
    sleep 0.05
  done
  echo "lab[${NAME:-?}]: timeout waiting for /$re/ in $file" >&2
  return 1
}

lab_wait_listen() {
  local port=$1 t=${2:-10} ns=${3:-} i
  local pre=()
  [[ -n "$ns" ]] && pre=(ip netns exec "$ns")
  for ((i = 0; i < t * 20; i++)); do
    if "${pre[@]}" ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    sleep 0.05
  done
  lab_die "nothing listens on port $port after ${t}s"
}

lab_netns_pair() {
  _lab_netns_n=$((_lab_netns_n + 1))
  local n=$(((($$ % 200) + _lab_netns_n) % 250 + 1))
  local tag="tfl$$n$_lab_netns_n"
  NS_C="${tag}c"
  NS_S="${tag}s"
  IF_C="v$$-${_lab_netns_n}c"
  IF_S="v$$-${_lab_netns_n}s"
  IP_C="10.231.$n.1"
  IP_S="10.231.$n.2"
  ip netns add "$NS_C"
  _lab_netns+=("$NS_C")
  ip netns add "$NS_S"
  _lab_netns+=("$NS_S")
  ip link add "$IF_C" netns "$NS_C" type veth peer name "$IF_S" netns "$NS_S"
  ip -n "$NS_C" link set lo up
  ip -n "$NS_S" link set lo up
  ip -n "$NS_C" addr add "$IP_C/24" dev "$IF_C"
  ip -n "$NS_S" addr add "$IP_S/24" dev "$IF_S"
  IP6_C="fd00:231:$n::1"
  IP6_S="fd00:231:$n::2"
  # nodad: usable at once, no duplicate address detection delay.
  ip -n "$NS_C" addr add "$IP6_C/64" dev "$IF_C" nodad
  ip -n "$NS_S" addr add "$IP6_S/64" dev "$IF_S" nodad
  # Offloads off: the capture then shows the segments as sent on the wire,
  # not 64 KB GSO super-packets.
  ip netns exec "$NS_C" ethtool -K "$IF_C" tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$NS_S" ethtool -K "$IF_S" tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$NS_C" link set "$IF_C" up
  ip -n "$NS_S" link set "$IF_S" up
  lab_log "netns $NS_C ($IP_C) <-> $NS_S ($IP_S)"
}

lab_ns() {
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

lab_cert() {
  local d=$LAB_OUT/.cert
  CERT=$d/cert.pem
  CERTKEY=$d/key.pem
  if [[ ! -s "$CERT" || ! -s "$CERTKEY" ]]; then
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=tlsfin.test \
      -addext "subjectAltName=DNS:tlsfin.test,DNS:localhost,IP:127.0.0.1" \
      -keyout "$CERTKEY.tmp" -out "$CERT.tmp" 2>/dev/null
    mv "$CERTKEY.tmp" "$CERTKEY"
    mv "$CERT.tmp" "$CERT"
  fi
}

lab_nginx() {
  local port=$1 protos=$2 http_extra=${3:-} server_extra=${4:-}
  mkdir -p "$TMPD/html"
  chmod 755 "$TMPD" "$TMPD/html" # the worker runs as nobody
  cat >"$TMPD/nginx.conf" <<CONF
worker_processes 1;
error_log stderr info;
pid $TMPD/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $TMPD/body; proxy_temp_path $TMPD/proxy;
  fastcgi_temp_path $TMPD/fcgi; uwsgi_temp_path $TMPD/uwsgi; scgi_temp_path $TMPD/scgi;
  $http_extra
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $CERT; ssl_certificate_key $CERTKEY;
    ssl_protocols $protos;
    root $TMPD/html;
    $server_extra
  }
}
CONF
  lab_bg nginx nginx -p "$TMPD" -c "$TMPD/nginx.conf" -g "daemon off;"
  lab_wait_listen "$port" 10
}

lab_haproxy() {
  local port=$1 bind_opts=$2 rules=$3
  cat "$CERT" "$CERTKEY" >"$TMPD/haproxy.pem"
  cat >"$TMPD/haproxy.cfg" <<CONF
global
  log stderr format raw local0 info
defaults
  mode http
  log global
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend fe
  bind 127.0.0.1:$port ssl crt $TMPD/haproxy.pem $bind_opts
$rules
CONF
  lab_bg haproxy haproxy -db -f "$TMPD/haproxy.cfg"
  lab_wait_listen "$port" 10
}

lab_json_str() {
  "$LAB_PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"
}

lab_expect() {
  local line
  line=$("$LAB_PY" -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":")))' "$1") ||
    lab_die "bad expectation JSON: $1"
  echo "$line" >>"$EXPECT"
}

lab_peer_report() {
  local file=$1 re=$2 l
  l=$(grep -m1 -E -- "$re" "$file" 2>/dev/null || true)
  if [[ -z "$l" ]]; then echo null; else lab_json_str "$l"; fi
}

lab_tshark() {
  local ko=()
  [[ -s "$KEYS" ]] && ko=(-o "tls.keylog_file:$KEYS")
  tshark -n -r "$PCAP" "${ko[@]}" "$@" 2>/dev/null
}

lab_assert_pcap() {
  local f=$1 min=${2:-1} max=${3:-1000000000} n
  [[ "${LAB_QUICK:-0}" == 1 ]] && return 0
  n=$(lab_tshark -Y "$f" | wc -l)
  if ((n < min || n > max)); then
    lab_die "capture check: $n packets match '$f' (want $min..$max)"
  fi
  lab_log "check ok: $n packets match '$f'"
}

lab_cc() {
  local name=$1
  shift
  local srcs=() ld=()
  while (($#)); do
    if [[ "$1" == -- ]]; then
      shift
      ld=("$@")
      break
    fi
    srcs+=("$LAB/programs/$1")
    shift
  done
  local bin=$LAB_OUT/.bin/$name
  mkdir -p "$LAB_OUT/.bin"
  local s stale=0
  [[ -x "$bin" ]] || stale=1
  for s in "${srcs[@]}"; do [[ "$s" -nt "$bin" ]] && stale=1; done
  if ((stale)); then
    local cc=gcc
    case "${srcs[0]}" in *.cc | *.cpp) cc=g++ ;; esac
    "$cc" -O1 -g -Wall -Wextra -o "$bin.tmp.$$" "${srcs[@]}" "${ld[@]}" >&2 ||
      lab_die "cannot compile ${srcs[*]}"
    mv "$bin.tmp.$$" "$bin"
  fi
  echo "$bin"
}

lab_done() {
  lab_capture_stop
  [[ -s "$EXPECT" ]] || lab_die "no expectations written"
  local nconn nexp
  nconn=$(tshark -n -r "$PCAP" -T fields -e tcp.stream 2>/dev/null | sort -un | grep -c .)
  nexp=$(grep -c . "$EXPECT")
  if ((nconn != nexp)); then
    lab_die "capture has $nconn TCP connections, $EXPECT has $nexp lines"
  fi
  lab_log "done: $nconn connections, $(stat -c %s "$PCAP") bytes"
}

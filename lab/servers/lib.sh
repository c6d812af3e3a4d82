# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# lab/servers/lib.sh — shared by lab/servers/<name>.sh, each of which starts
# one real TLS server on 127.0.0.1 with its package's default TLS settings
# (only the certificate and the port are ours), prints what it is, and
# stops it on exit.  A server script is used as
#
#   lab/servers/NAME.sh [PORT [DIR]] [-- CMD...]
#
#   PORT  listening port (or env PORT; default: a free one)
#   DIR   working directory for configs, certificate, logs (or env SRV_DIR;
#         default: a new temp dir, removed at exit; a given DIR is kept)
#   CMD   run once the server listens, with SRV_PORT, SRV_DIR, SRV_PROBE
#         (the tlsfin probe options that fit this server) in the
#         environment; the server is stopped when CMD ends, and the script
#         exits with CMD's status.  Without CMD the script waits until it
#         is interrupted (Ctrl-C) or the server dies.
#
# Before CMD it prints, one a line on stdout:
#   name: NAME
#   version: what the server says it is
#   package: the Debian/npm package(s) and version(s)
#   probe: --http | --starttls=PROTO ...
#   start_ms: time from launch to listening
#   ready: 127.0.0.1:PORT
# Every process a script starts is recorded and only those are stopped
# (SIGTERM, or the server's own fast-stop signal; SIGKILL after 5 s).
#
# Helpers for the scripts:
#   srv_init NAME "$@"      parse the arguments, make DIR and the cert
#                           ($SRV_CERT, $SRV_KEY, both PEM, readable by the
#                           servers' own users), install the exit trap
#   srv_meta KEY VALUE...   print "KEY: VALUE"
#   srv_pkg PKG...          "PKG VERSION" of installed Debian packages
#   srv_bg TAG CMD...       start CMD, output to $SRV_DIR/TAG.log
#   srv_bg_sig SIG TAG CMD...  same, stopped with SIG instead of TERM
#   srv_need CMD PKG        exit 77 with "skip: ..." when CMD is missing
#   srv_free_port           print a free TCP port on loopback
#   srv_wait_port PORT [S]  until PORT listens (dies if the server exits)
#   srv_serve               print ready, run CMD or wait; never returns

set -euo pipefail

# shellcheck disable=SC2034 # for the scripts: lab/servers/
SRV_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The lab's helpers (lab_free_port): one copy for the lab and the servers.
LAB=${LAB:-$(cd "$SRV_LIB/.." && pwd)}
# shellcheck source=../lib.sh
source "$LAB/lib.sh"
_srv_pids=()
_srv_sigs=()
_srv_rmdir=""
_srv_t0=$(date +%s%3N)

srv_die() {
  echo "servers[${SRV_NAME:-?}]: $*" >&2
  exit 1
}

_srv_cleanup() {
  local rc=$? i p
  set +e
  for i in "${!_srv_pids[@]}"; do
    kill -"${_srv_sigs[$i]}" "${_srv_pids[$i]}" 2>/dev/null
  done
  for p in "${_srv_pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  [[ -n "$_srv_rmdir" ]] && rm -rf "$_srv_rmdir"
  exit "$rc"
}

srv_free_port() { lab_free_port; }

srv_init() {
  SRV_NAME=$1
  shift
  SRV_PORT=${PORT:-}
  SRV_DIR=${SRV_DIR:-}
  SRV_CMD=()
  local pos=0
  while (($#)); do
    if [[ $1 == -- ]]; then
      shift
      SRV_CMD=("$@")
      break
    fi
    case $pos in
    0) SRV_PORT=$1 ;;
    1) SRV_DIR=$1 ;;
    *) srv_die "usage: $0 [PORT [DIR]] [-- CMD...]" ;;
    esac
    pos=$((pos + 1))
    shift
  done
  [[ $(id -u) -eq 0 ]] || srv_die "needs root (servers run as their own users)"
  [[ -n "$SRV_PORT" ]] || SRV_PORT=$(srv_free_port)
  [[ $SRV_PORT =~ ^[0-9]+$ ]] || srv_die "bad port: $SRV_PORT"
  if [[ -z "$SRV_DIR" ]]; then
    SRV_DIR=$(mktemp -d "/tmp/tlsfin-srv-$SRV_NAME.XXXXXX")
    _srv_rmdir=$SRV_DIR
  fi
  mkdir -p "$SRV_DIR"
  SRV_DIR=$(cd "$SRV_DIR" && pwd)
  chmod 755 "$SRV_DIR" # the servers' own users read their files here
  trap _srv_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  SRV_CERT=$SRV_DIR/cert.pem
  SRV_KEY=$SRV_DIR/key.pem
  if [[ ! -s "$SRV_CERT" || ! -s "$SRV_KEY" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$SRV_KEY" -out "$SRV_CERT" 2>/dev/null || srv_die "cannot make a certificate"
  fi
  chmod 644 "$SRV_CERT" "$SRV_KEY"
  SRV_PROBE=--http
  srv_meta name "$SRV_NAME"
}

srv_meta() {
  local k=$1
  shift
  printf '%s: %s\n' "$k" "$*"
}

srv_pkg() {
  local p out=()
  for p in "$@"; do
    out+=("$(dpkg-query -W -f '${Package} ${Version}' "$p" 2>/dev/null || echo "$p (not installed)")")
  done
  local IFS=,
  echo "${out[*]}" | sed 's/,/, /g'
}

srv_need() {
  if ! command -v "$1" >/dev/null 2>&1 && [[ ! -x $1 ]]; then
    echo "skip: $1 not found (apt-get install $2)"
    exit 77
  fi
}

srv_bg_sig() {
  local sig=$1 tag=$2
  shift 2
  "$@" >>"$SRV_DIR/$tag.log" 2>&1 &
  _srv_pids+=("$!")
  _srv_sigs+=("$sig")
  # shellcheck disable=SC2034 # for the scripts
  SRV_BG_PID=$!
}

srv_bg() { srv_bg_sig TERM "$@"; }

srv_wait_port() {
  local port=$1 t=${2:-20} i p
  for ((i = 0; i < t * 20; i++)); do
    if ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
    for p in "${_srv_pids[@]}"; do
      if ! kill -0 "$p" 2>/dev/null; then
        tail -n 20 "$SRV_DIR"/*.log >&2 2>/dev/null
        srv_die "server exited before listening on $port"
      fi
    done
    sleep 0.05
  done
  tail -n 20 "$SRV_DIR"/*.log >&2 2>/dev/null
  srv_die "nothing listens on $port after ${t}s"
}

srv_serve() {
  srv_meta probe "$SRV_PROBE"
  srv_meta start_ms "$(($(date +%s%3N) - _srv_t0))"
  srv_meta ready "127.0.0.1:$SRV_PORT"
  export SRV_PORT SRV_DIR SRV_PROBE SRV_NAME
  if ((${#SRV_CMD[@]})); then
    local rc=0
    "${SRV_CMD[@]}" &
    wait "$!" || rc=$?
    exit "$rc"
  fi
  echo "servers[$SRV_NAME]: serving on 127.0.0.1:$SRV_PORT (dir $SRV_DIR); Ctrl-C stops" >&2
  wait "${_srv_pids[0]}" || true
  srv_die "server exited"
}

# "OpenSSL 3.0.x (libssl3 VERSION)": the library the Debian servers run with
srv_libssl() {
  echo "$(openssl version | awk '{print $1, $2}') (libssl3 $(dpkg-query -W -f '${Version}' libssl3 2>/dev/null || echo '?'))"
}

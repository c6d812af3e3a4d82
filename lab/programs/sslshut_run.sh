# SPDX-License-Identifier: BSD-2-Clause
# shellcheck shell=bash
# Shared by the seed004_sslshutdown_* scenarios (sourced after lab_init):
#   sslshut_run MODE VERSION...   one connection per VERSION (1.2, 1.3) with
#   lab/programs/sslshut.c in MODE on both sides; logs in $OUT/serverN.log and
#   $OUT/clientN.log; sets SSLSHUT_PORTS.
sslshut_run() {
  local mode=$1 bin v n=0 p
  shift
  lab_cert
  bin=$(lab_cc sslshut sslshut.c -- -lssl -lcrypto)
  SSLSHUT_PORTS=()
  for v in "$@"; do SSLSHUT_PORTS+=("$(lab_free_port)"); done
  local f="tcp port ${SSLSHUT_PORTS[0]}"
  for p in "${SSLSHUT_PORTS[@]:1}"; do f+=" or tcp port $p"; done
  lab_capture_start "$f"
  for v in "$@"; do
    p=${SSLSHUT_PORTS[n]}
    n=$((n + 1))
    lab_bg server$n "$bin" server "$p" "$CERT" "$CERTKEY" "$mode"
    local spid=$LAB_BG_PID
    lab_wait_line "$OUT/server$n.log" "^ready" 10
    "$bin" client "$p" "$mode" "$v" "$KEYS" >"$OUT/client$n.log" 2>&1 ||
      lab_die "client failed: $(cat "$OUT/client$n.log")"
    lab_wait_pid "$spid" 10
  done
  lab_capture_stop
}

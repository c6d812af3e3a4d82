#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# openssl s_server -www (Debian openssl): OpenSSL's defaults, an HTML page
# of session details for each request.
#   lab/servers/openssl.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init openssl "$@"
srv_need openssl openssl
srv_meta version "openssl s_server, $(srv_libssl)"
srv_meta package "$(srv_pkg openssl libssl3)"
# s_server reads commands from stdin: a FIFO opened read-write never ends
mkfifo "$SRV_DIR/stdin" 2>/dev/null || true
openssl s_server -accept "127.0.0.1:$SRV_PORT" -cert "$SRV_CERT" -key "$SRV_KEY" -www \
  <>"$SRV_DIR/stdin" >>"$SRV_DIR/s_server.log" 2>&1 &
_srv_pids+=("$!")
_srv_sigs+=(TERM)
srv_wait_port "$SRV_PORT"
srv_serve

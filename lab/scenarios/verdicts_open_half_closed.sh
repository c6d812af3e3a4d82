#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Verdicts nothing else produces on the wire: a TLS connection still open
# when the capture ends (open), a client that sent close_notify + FIN while
# the server never closes (half_closed), and a server that reads the
# ClientHello and closes its socket without an alert (tls_handshake_closed:
# what a server without TLS alerts does on a version it refuses).  The
# capture stops while the peers are still alive.
source "$LAB/lib.sh"
lab_init verdicts_open_half_closed
lab_cert
ports=()
while ((${#ports[@]} < 3)); do
  p=$(lab_free_port)
  [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]}"
i=0
for mode in open half_closed handshake_closed; do
  fifo="$TMPD/in.$mode"
  mkfifo "$fifo"
  lab_bg_in "$fifo" "$mode" "$LAB_PY" "$LAB/programs/verdict_peers.py" "$mode" \
    "${ports[i]}" "$CERT" "$CERTKEY" "$KEYS"
  lab_wait_line "$OUT/$mode.log" '^READY' 10
  i=$((i + 1))
done
lab_capture_stop

lab_assert_pcap "tcp.flags.fin==1" 2 2
lab_assert_pcap "tcp.flags.reset==1" 0 0
lab_assert_pcap "tls.alert_message.desc==0" 1 1   # the client's close_notify, read with the keys
lab_expect '{"id":1,"verdict":"open","rst":null,"tcp":{"client_fin":false,"server_fin":false},
  "tls":{"version":"TLS1.3","handshake":"complete","close_notify":{"client":"none","server":"none"}}}'
lab_expect '{"id":2,"verdict":"half_closed","rst":null,"tcp":{"client_fin":true,"server_fin":false,"first_close":"client"},
  "tls":{"version":"TLS1.3","handshake":"complete","close_notify":{"client":"probable","server":"none"}}}'
lab_expect '{"id":3,"verdict":"tls_handshake_closed","rst":null,"tcp":{"server_fin":true,"client_fin":false,"first_close":"server"},
  "tls":{"handshake":"closed","alerts":[],"version":null},
  "peer_report":'"$(lab_peer_report "$OUT/handshake_closed.log" 'client:')"'}'
lab_done

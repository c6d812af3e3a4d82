#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# openssl s_server and s_client that share no protocol version: the server
# rejects the ClientHello with a fatal protocol_version alert in the clear
# (RFC 8446 §6.2) and closes.
#   1 s_server -tls1_3, s_client -tls1_2
#   2 s_server -tls1_2, s_client -tls1_3
source "$LAB/lib.sh"
lab_init habit_openssl_version_mismatch
lab_cert

ports=("$(lab_free_port)" "$(lab_free_port)")
sv=(-tls1_3 -tls1_2)
cv=(-tls1_2 -tls1_3)
mkfifo -m 600 "$TMPD/stdin"
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]}"
for i in 0 1; do
  n=$((i + 1))
  lab_bg_in "$TMPD/stdin" server$n openssl s_server "${sv[i]}" -accept "${ports[i]}" -cert "$CERT" \
    -key "$CERTKEY" -naccept 1
  spid=$LAB_BG_PID
  lab_wait_line "$OUT/server$n.log" "^ACCEPT" 10
  rc=0
  openssl s_client "${cv[i]}" -connect "127.0.0.1:${ports[i]}" </dev/null >"$OUT/client$n.log" 2>&1 || rc=$?
  lab_log "s_client $n exit $rc"
  lab_wait_pid "$spid" 10
done
lab_capture_stop

for i in 0 1; do
  lab_assert_pcap "tcp.srcport==${ports[i]} && tls.alert_message.desc==70 && tls.alert_message.level==2" 1 1
done
for n in 1 2; do
  lab_expect '{"id":'$n',"verdict":"tls_handshake_alert","rst":null,"tcp":{"client_fin":true,"server_fin":true},
    "tls":{"version":null,"handshake":"alert",
           "alerts":[{"by":"server","level":"fatal","description":"protocol_version","encrypted":false}]},
    "peer_report":'"$(lab_peer_report "$OUT/client$n.log" "error")"'}'
done
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Habits of the openssl command-line tools (OpenSSL 3.0):
#   1 TLS 1.3: `s_client </dev/null` against an interactive s_server: stdin
#     EOF makes s_client send close_notify at once; s_server answers with
#     its own and both close: a clean close.
#   2 TLS 1.2: `printf 'GET /' | s_client -quiet` against `s_server -www`:
#     the server sends the page, close_notify, FIN.
#   3 TLS 1.3: `s_client -quiet </dev/null`: -quiet implies -ign_eof, so
#     stdin EOF does NOT close the connection; s_client waits for the server
#     forever.  After 1 s it is killed (SIGTERM): its kernel sends a bare FIN,
#     a truncation by the client; s_server then closes without close_notify.
source "$LAB/lib.sh"
lab_init habit_openssl_s_client
lab_cert

ports=("$(lab_free_port)" "$(lab_free_port)" "$(lab_free_port)")
mkfifo -m 600 "$TMPD/stdin1" "$TMPD/stdin3"
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]}"

# 1: interactive s_server (stdin a FIFO we hold open, so it never sees EOF).
lab_bg_in "$TMPD/stdin1" server1 openssl s_server -accept "${ports[0]}" -cert "$CERT" -key "$CERTKEY" -naccept 1
spid=$LAB_BG_PID
lab_wait_line "$OUT/server1.log" "^ACCEPT" 10
rc=0
openssl s_client -connect "127.0.0.1:${ports[0]}" -tls1_3 -keylogfile "$KEYS" </dev/null >"$OUT/client1.log" 2>&1 || rc=$?
lab_log "s_client 1 exit $rc"
lab_wait_pid "$spid" 10

# 2: s_server -www answers one GET.
lab_bg server2 openssl s_server -www -accept "${ports[1]}" -cert "$CERT" -key "$CERTKEY" -naccept 1
spid=$LAB_BG_PID
lab_wait_line "$OUT/server2.log" "^ACCEPT" 10
printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:${ports[1]}" -tls1_2 -quiet \
  -keylogfile "$KEYS" >"$OUT/client2.log" 2>&1 || rc=$?
lab_log "s_client 2 exit $rc"
lab_wait_pid "$spid" 10

# 3: s_client -quiet with stdin closed stays connected; kill it after 1 s.
lab_bg_in "$TMPD/stdin3" server3 openssl s_server -accept "${ports[2]}" -cert "$CERT" -key "$CERTKEY" -naccept 1
spid=$LAB_BG_PID
lab_wait_line "$OUT/server3.log" "^ACCEPT" 10
lab_bg client3 openssl s_client -connect "127.0.0.1:${ports[2]}" -tls1_3 -quiet -keylogfile "$KEYS" </dev/null
cpid=$LAB_BG_PID
lab_wait_line "$OUT/server3.log" "^CIPHER is|Secure Renegotiation|Shared" 10
sleep 1 # the point: show it is still connected after stdin EOF
kill -0 "$cpid" || lab_die "s_client -quiet exited on stdin EOF"
lab_log "s_client -quiet still connected 1 s after stdin EOF: SIGTERM"
lab_kill "$cpid" TERM
lab_wait_pid "$spid" 10
lab_capture_stop

p1=${ports[0]} p2=${ports[1]} p3=${ports[2]}
lab_assert_pcap "tcp.port==$p1 && tls.alert_message.desc==0" 2 2
lab_assert_pcap "tcp.port==$p1 && tcp.flags.reset==1" 0 0
lab_assert_pcap "tcp.srcport==$p2 && tls.alert_message.desc==0" 1 1
lab_assert_pcap "tcp.dstport==$p2 && tls.alert_message.desc==0" 1 1
lab_assert_pcap "tcp.port==$p2 && tcp.flags.reset==1" 0 0
lab_assert_pcap "tcp.port==$p3 && tls.alert_message.desc==0" 0 0
lab_assert_pcap "tcp.dstport==$p3 && tcp.flags.fin==1" 1 1
lab_assert_pcap "tcp.dstport==$p3 && tcp.flags.reset==1" 1 1
lab_expect '{"id":1,"verdict":"tls_clean","rst":null,
  "tcp":{"client_fin":true,"server_fin":true,"client_rst":false,"server_rst":false},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":false,"first_close_notify":"client",
         "close_notify":{"client":"probable","server":"probable"}},
  "peer_report":'"$(lab_peer_report "$OUT/server1.log" 'shutting down')"'}'
lab_expect '{"id":2,"verdict":"tls_clean","rst":null,
  "tcp":{"client_fin":true,"server_fin":true,"client_rst":false,"server_rst":false},
  "tls":{"version":"TLS1.2","handshake":"complete","truncated":false,"first_close_notify":"server",
         "close_notify":{"client":"probable","server":"probable"}},
  "peer_report":null}'
# The server's answer to the bare FIN is an encrypted fatal decode_error
# alert (decrypted with the keys), which reaches a dead socket -> RST.
lab_expect '{"id":3,"verdict":"tls_truncated",
  "tcp":{"first_close":"client","client_fin":true,"client_rst":true,"server_rst":false},
  "rst":{"by":"client","cause":"data_after_close"},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":true,
         "close_notify":{"client":"none"},"alerts":[{"by":"server","encrypted":true}]},
  "peer_report":'"$(lab_peer_report "$OUT/server3.log" 'error')"'}'
lab_done

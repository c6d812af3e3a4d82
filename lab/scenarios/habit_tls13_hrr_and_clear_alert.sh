#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Two TLS 1.3 endings that analyze once got wrong (issue: kernel truth):
#   1 HelloRetryRequest: openssl s_server accepts only P-384 key shares, so
#     curl's first ClientHello (x25519) gets a HRR; after the middlebox
#     compatibility CCS and a second ClientHello the handshake completes and
#     both sides close with close_notify.  The compatibility CCS must not be
#     taken for TLS 1.2's switch to encryption (RFC 8446 appendix D.4).
#   2 curl rejects the server's self-signed certificate: it sends a fatal
#     unknown_ca alert in the clear (record type 21, two bytes: OpenSSL has
#     no handshake write keys yet), the server FINs, and curl's close() finds
#     the rest of the server's flight unread: RST+ACK (kernel:
#     TCP_ABORT_ON_CLOSE).
source "$LAB/lib.sh"
lab_init habit_tls13_hrr_and_clear_alert
lab_cert

ports=("$(lab_free_port)" "$(lab_free_port)")
mkfifo -m 600 "$TMPD/stdin"
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]}"
lab_bg_in "$TMPD/stdin" server1 openssl s_server -accept "${ports[0]}" -cert "$CERT" \
  -key "$CERTKEY" -groups secp384r1 -www -keylogfile "$KEYS" -naccept 1
s1=$LAB_BG_PID
lab_wait_line "$OUT/server1.log" "^ACCEPT" 10
rc=0
curl -sk --tlsv1.3 "https://127.0.0.1:${ports[0]}/" -o /dev/null >"$OUT/client1.log" 2>&1 || rc=$?
lab_log "curl 1 exit $rc"
lab_wait_pid "$s1" 10
lab_bg_in "$TMPD/stdin" server2 openssl s_server -accept "${ports[1]}" -cert "$CERT" \
  -key "$CERTKEY" -www -keylogfile "$KEYS" -naccept 1
s2=$LAB_BG_PID
lab_wait_line "$OUT/server2.log" "^ACCEPT" 10
rc=0
curl -s --tlsv1.3 "https://127.0.0.1:${ports[1]}/" -o /dev/null 2>"$OUT/client2.log" || rc=$?
echo "curl exit $rc" >>"$OUT/client2.log"
lab_log "curl 2 exit $rc"
lab_wait_pid "$s2" 10
lab_capture_stop

# the HRR: two ClientHellos; the clear alert: a 2-byte alert record from curl
lab_assert_pcap "tcp.dstport==${ports[0]} && tls.handshake.type==1" 2 2
lab_assert_pcap "tcp.srcport!=${ports[1]} && tcp.dstport==${ports[1]} && tls.record.content_type==21 && tls.record.length==2" 1 1
lab_expect '{"id":1,"verdict":"tls_clean","rst":null,
  "tls":{"version":"TLS1.3","handshake":"complete","close_notify":{"client":"probable","server":"probable"}},
  "peer_report":"curl exit 0 after a HelloRetryRequest"}'
lab_expect '{"id":2,"verdict":"tls_handshake_alert","rst":{"by":"client","cause":"unread_data"},
  "tls":{"version":"TLS1.3","handshake":"alert",
         "alerts":[{"by":"client","level":"fatal","description":"unknown_ca","encrypted":false,"inferred":false}]},
  "peer_report":'"$(lab_peer_report "$OUT/client2.log" "curl exit")"'}'
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 001 ("How to gracefully shutdown a boost asio ssl client?"): a C++
# client with Boost.Asio 1.74 + OpenSSL 3 (lab/programs/asio/asio_client.cpp)
# against `openssl s_server -state`, as in the seed, and against a server
# that only sends FIN.  TLS 1.3.  Each line of the application's report is
# the connection's peer_report.
#  1 async_shutdown after writing: s_server answers close_notify and the
#    handler reports success.
#  2 async_shutdown while an async_read_some is pending: the read completes
#    with "End of file" (it consumed the server's close_notify) and the
#    shutdown with "Operation canceled" (125) although the wire shows a clean
#    close both ways: the seed's confusing errors, as Boost 1.74 + OpenSSL 3
#    word them today (the seed saw "short read" / "decryption failed or bad
#    record mac" with older versions).
#  3 the seed's fix: cancel the read, async_shutdown from its
#    operation_aborted handler: success.
#  4 a server that closes TCP without close_notify: the read ends with
#    stream_truncated; the client's own async_shutdown then still sends
#    close_notify (after the server's FIN), which the server's kernel answers
#    with RST: tls_truncated (the server closed first), RST data_after_close.
source "$LAB/lib.sh"
lab_init seed001_asio_shutdown
lab_cert
bin=$OUT/asio_client
g++ -std=c++17 -O1 -o "$bin" "$LAB/programs/asio/asio_client.cpp" -lssl -lcrypto -pthread ||
  lab_die "cannot build the Asio client (apt-get install libboost-dev libboost-system-dev)"
p1=$(lab_free_port)
p2=$(lab_free_port)
while [[ $p2 == "$p1" ]]; do p2=$(lab_free_port); done
lab_capture_start "tcp port $p1 or tcp port $p2"
mkfifo "$TMPD/sin"
lab_bg_in "$TMPD/sin" s_server openssl s_server -accept "127.0.0.1:$p1" -cert "$CERT" -key "$CERTKEY" \
  -tls1_3 -state
lab_wait_line "$OUT/s_server.log" "ACCEPT" 10
n=0
for mode in shutdown pending_read cancel_then_shutdown; do
  n=$((n + 1))
  timeout 10 "$bin" "$mode" 127.0.0.1 "$p1" "$KEYS" >"$OUT/asio$n.log" 2>&1 || true
  lab_log "asio$n ($mode): $(tr '\n' ' ' <"$OUT/asio$n.log")"
  lab_wait_line "$OUT/s_server.log" "ACCEPT" 5
done
lab_bg fin "$LAB_PY" "$LAB/programs/asio/fin_server.py" "$p2" "$CERT" "$CERTKEY" 1
lab_wait_line "$OUT/fin.log" "^ready" 10
timeout 10 "$bin" truncated 127.0.0.1 "$p2" "$KEYS" >"$OUT/asio4.log" 2>&1 || true
lab_log "asio4 (truncated): $(tr '\n' ' ' <"$OUT/asio4.log")"
lab_capture_stop

# close_notify both ways on s_server's three connections, none on the fourth
lab_assert_pcap "tcp.port==$p1 && tls.alert_message.desc==0" 6 6
lab_assert_pcap "tcp.srcport==$p2 && tls.alert_message" 0 0
# after stream_truncated the client's async_shutdown still sends its close_notify
lab_assert_pcap "tcp.dstport==$p2 && tls.alert_message.desc==0" 1 1
lab_assert_pcap "tcp.port==$p1 && tcp.flags.reset==1" 0 0
# the fin server's socket is gone: the late close_notify is answered by RST
lab_assert_pcap "tcp.srcport==$p2 && tcp.flags.reset==1" 1 1
for i in 1 2 3; do
  lab_expect '{"id":'$i',"verdict":"tls_clean","rst":null,
    "tls":{"version":"TLS1.3","handshake":"complete","first_close_notify":"client",
           "close_notify":{"client":"probable","server":"probable"}},
    "peer_report":'"$(lab_json_str "$(grep -m1 'async_shutdown' "$OUT/asio$i.log" || echo none)")"'}'
done
lab_expect '{"id":4,"verdict":"tls_truncated","rst":{"by":"server","cause":"data_after_close"},
  "tcp":{"first_close":"server"},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":true,
         "close_notify":{"client":"probable","server":"none"},"first_close_notify":"client"},
  "peer_report":'"$(lab_json_str "$(grep -m1 'async_read_some' "$OUT/asio4.log" || echo none)")"'}'
lab_done

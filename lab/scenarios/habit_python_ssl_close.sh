#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Python's ssl module (3.11, OpenSSL 3.0): SSLSocket.close() never sends
# close_notify; unwrap() does (and waits for the peer's).
#   1 TLS 1.3 client close(), server close()       -> bare FINs: truncation
#   2 TLS 1.2 client close(), server close()       -> the same with TLS 1.2
#   3 TLS 1.3 client unwrap(), server close()      -> close_notify answered by
#     a bare FIN (tls_one_sided); the client's unwrap() raises an EOF error
#   4 TLS 1.3 client unwrap(), server unwrap()     -> clean
#   5 plain TCP, both close()                      -> tcp_clean (for contrast)
source "$LAB/lib.sh"
lab_init habit_python_ssl_close
lab_cert

run=("1.3 close close" "1.2 close close" "1.3 unwrap close" "1.3 unwrap unwrap" "none close tcp")
ports=()
for i in 0 1 2 3 4; do ports+=("$(lab_free_port)"); done
lab_capture_start "tcp port ${ports[0]} or tcp port ${ports[1]} or tcp port ${ports[2]} or tcp port ${ports[3]} or tcp port ${ports[4]}"
for i in 0 1 2 3 4; do
  set -- ${run[i]}
  n=$((i + 1))
  lab_bg server$n "$LAB_PY" "$LAB/programs/py_ssl_close.py" server "${ports[i]}" "$(dirname "$CERT")" "$3"
  spid=$LAB_BG_PID
  lab_wait_line "$OUT/server$n.log" "^ready" 10
  "$LAB_PY" "$LAB/programs/py_ssl_close.py" client "${ports[i]}" "$1" "$KEYS" "$2" >"$OUT/client$n.log" 2>&1
  lab_wait_pid "$spid" 10
done
lab_capture_stop

lab_assert_pcap "tcp.flags.reset==1" 0 0
lab_assert_pcap "tcp.port==${ports[0]} && tls.alert_message" 0 0
lab_assert_pcap "tcp.port==${ports[1]} && tls.alert_message" 0 0
lab_assert_pcap "tcp.dstport==${ports[2]} && tls.alert_message.desc==0" 1 1
lab_assert_pcap "tcp.srcport==${ports[2]} && tls.alert_message" 0 0
lab_assert_pcap "tcp.port==${ports[3]} && tls.alert_message.desc==0" 2 2
for i in 0 1; do
  v=${run[i]%% *}
  lab_expect '{"id":'$((i + 1))',"verdict":"tls_truncated","rst":null,
    "tcp":{"first_close":"client","client_fin":true,"server_fin":true},
    "tls":{"version":"TLS'"$v"'","handshake":"complete","truncated":true,
           "close_notify":{"client":"none","server":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/server$((i + 1)).log" 'server recv')"'}'
done
lab_expect '{"id":3,"verdict":"tls_one_sided","rst":null,
  "tcp":{"client_fin":true,"server_fin":true},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":false,"first_close_notify":"client",
         "close_notify":{"client":"probable","server":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/client3.log" 'unwrap')"'}'
lab_expect '{"id":4,"verdict":"tls_clean","rst":null,
  "tcp":{"client_fin":true,"server_fin":true},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":false,"first_close_notify":"client",
         "close_notify":{"client":"probable","server":"probable"}},
  "peer_report":'"$(lab_peer_report "$OUT/client4.log" 'unwrap')"'}'
lab_expect '{"id":5,"verdict":"tcp_clean","rst":null,"tls":null,
  "tcp":{"first_close":"client","client_fin":true,"server_fin":true,"client_rst":false,"server_rst":false},
  "peer_report":'"$(lab_peer_report "$OUT/server5.log" 'server recv')"'}'
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# nginx (1.22) lingering close: a client announces a 10 MB upload to a
# server that allows 1 KB (client_max_body_size 1k) and keeps sending 1 KB
# chunks every 50 ms, ignoring the early 413.  nginx answers 413 and, so that
# the client can read the answer, does not close() at once (that would RST
# with unread data): it reads and discards the body for lingering_time (1 s
# here; lingering_timeout 0.5 s).  TLS 1.3 and TLS 1.2.
source "$LAB/lib.sh"
lab_init habit_nginx_lingering_close
lab_cert

port=$(lab_free_port)
mkdir -p "$TMPD/html"
lab_capture_start "tcp port $port"
lab_nginx "$port" "TLSv1.2 TLSv1.3" "client_max_body_size 1k; lingering_time 1s; lingering_timeout 500ms;" "location /upload { return 200 \"stored\\n\"; }"
"$LAB_PY" "$LAB/programs/py_http_client.py" upload "$port" 1.3 "$KEYS" 2.5 >"$OUT/client1.log" 2>&1
"$LAB_PY" "$LAB/programs/py_http_client.py" upload "$port" 1.2 "$KEYS" 2.5 >"$OUT/client2.log" 2>&1
lab_capture_stop

# What nginx does on the wire: the 413, then (within lingering_time)
# close_notify and close() with the client's latest chunks unread: RST
# instead of FIN (cause unread_data).  No FIN from nginx at all.
lab_assert_pcap "tcp.srcport==$port && tls.alert_message.desc==0" 2 2
lab_assert_pcap "tcp.srcport==$port && tcp.flags.fin==1" 0 0
lab_assert_pcap "tcp.srcport==$port && tcp.flags.reset==1" 2 2
lab_assert_pcap "tcp.dstport==$port && tcp.flags.reset==1" 0 0
for n in 1 2; do
  v=1.3
  ((n == 2)) && v=1.2
  lab_expect '{"id":'$n',"verdict":"tls_close_then_reset",
    "tcp":{"first_close":"server","server_fin":false,"server_rst":true,"client_rst":false},
    "rst":{"by":"server","cause":"unread_data"},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"server",
           "close_notify":{"server":"probable"}},
    "peer_report":'"$(lab_peer_report "$OUT/client$n.log" "error")"'}'
done
lab_done

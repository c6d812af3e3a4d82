#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# nginx (1.22) closing an idle keep-alive TLS connection when
# keepalive_timeout (1 s here) fires.  A client makes one request and then
# just waits.  TLS 1.3 and TLS 1.2.
source "$LAB/lib.sh"
lab_init habit_nginx_keepalive_timeout
lab_cert

port=$(lab_free_port)
mkdir -p "$TMPD/html"
echo "hello from nginx" >"$TMPD/html/index.html"
lab_capture_start "tcp port $port"
lab_nginx "$port" "TLSv1.2 TLSv1.3" "keepalive_timeout 1s;"
"$LAB_PY" "$LAB/programs/py_http_client.py" idle "$port" 1.3 "$KEYS" >"$OUT/client1.log" 2>&1
"$LAB_PY" "$LAB/programs/py_http_client.py" idle "$port" 1.2 "$KEYS" >"$OUT/client2.log" 2>&1
lab_capture_stop

# nginx ends the idle connection politely: close_notify, then FIN, 1 s after
# the response.  The Python client sees a clean EOF and close()s, which
# never sends close_notify: a one-sided close.  nginx's FIN follows its
# close_notify within ~0.1 ms but the client, woken by the close_notify, can
# still send its FIN first (seen once in about 20 connections): tcp.first_close is not
# labelled.
lab_assert_pcap "tcp.srcport==$port && tls.alert_message.desc==0" 2 2
lab_assert_pcap "tcp.dstport==$port && tls.alert_message" 0 0
lab_assert_pcap "tcp.flags.reset==1" 0 0
grep -qE "after 1\.[0-9]+s idle" "$OUT/client1.log" || lab_die "nginx did not close after 1 s idle"
for n in 1 2; do
  v=1.3
  ((n == 2)) && v=1.2
  lab_expect '{"id":'$n',"verdict":"tls_one_sided","rst":null,
    "tcp":{"client_fin":true,"server_fin":true},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"server",
           "close_notify":{"client":"none","server":"probable"}},
    "peer_report":'"$(lab_peer_report "$OUT/client$n.log" "idle")"'}'
done
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# curl (7.88, OpenSSL 3.0) against nginx (1.22): who ends the connection and
# how.  curl keeps its keys with SSLKEYLOGFILE.
#   1 TLS 1.3 GET, keep-alive: curl is done and closes the connection
#   2 TLS 1.2 the same
#   3 TLS 1.3 GET with "Connection: close": nginx ends the connection
source "$LAB/lib.sh"
lab_init habit_curl_nginx
lab_cert

port=$(lab_free_port)
mkdir -p "$TMPD/html" "$TMPD/logs"
echo "hello from nginx" >"$TMPD/html/index.html"
lab_capture_start "tcp port $port"
lab_nginx "$port" "TLSv1.2 TLSv1.3"
export SSLKEYLOGFILE=$KEYS
curl -sS -k --tlsv1.3 -o /dev/null -w 'curl 1: HTTP %{http_code}\n' "https://127.0.0.1:$port/" >>"$OUT/curl.log" 2>&1
curl -sS -k --tlsv1.2 --tls-max 1.2 -o /dev/null -w 'curl 2: HTTP %{http_code}\n' "https://127.0.0.1:$port/" >>"$OUT/curl.log" 2>&1
curl -sS -k --tlsv1.3 -H "Connection: close" -o /dev/null -w 'curl 3: HTTP %{http_code}\n' \
  "https://127.0.0.1:$port/" >>"$OUT/curl.log" 2>&1
unset SSLKEYLOGFILE
lab_capture_stop

# nginx reads curl's close_notify as end of input and closes WITHOUT
# answering it (ngx_ssl_handle_recv marks no_send_shutdown on
# SSL_ERROR_ZERO_RETURN): a one-sided TLS close.  curl's FIN and nginx's race
# (curl closes right after its close_notify), so tcp.first_close is not
# labelled.
lab_assert_pcap "tcp.srcport==$port && tls.alert_message.desc==0" 1 1
lab_assert_pcap "tcp.dstport==$port && tls.alert_message.desc==0" 3 3
lab_assert_pcap "tcp.srcport==$port && tcp.flags.reset==1" 1 1
lab_assert_pcap "tcp.dstport==$port && tcp.flags.reset==1" 0 0
for n in 1 2; do
  v=1.3
  ((n == 2)) && v=1.2
  lab_expect '{"id":'$n',"verdict":"tls_one_sided","rst":null,
    "tcp":{"client_fin":true,"server_fin":true},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"client",
           "close_notify":{"client":"probable","server":"none"}},
    "peer_report":'"$(lab_peer_report "$OUT/nginx.log" "\\*$n client .* closed keepalive")"'}'
done
# With "Connection: close" both ends close right after the response, and
# which FIN leaves first is a race (seen in CI about once in 25 runs under
# load).  Usually nginx closes first (close_notify + FIN); curl answers with
# its own close_notify, which reaches a closed socket -> server RST.  Or curl,
# having read the whole body, sends close_notify + FIN first and nginx's
# close_notify then reaches curl's closed socket -> client RST.  Both are
# data_after_close; the analyzer must give one of them whole.
lab_expect '{"id":3,"verdict":"tls_close_then_reset",
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":false,
         "close_notify":{"client":"probable","server":"probable"}},
  "_one_of":[
    {"tcp":{"first_close":"server","server_fin":true,"server_rst":true,"client_rst":false},
     "rst":{"by":"server","cause":"data_after_close"},
     "tls":{"first_close_notify":"server"}},
    {"tcp":{"first_close":"client","client_fin":true,"client_rst":true,"server_rst":false},
     "rst":{"by":"client","cause":"data_after_close"},
     "tls":{"first_close_notify":"client"}}],
  "peer_report":'"$(lab_peer_report "$OUT/curl.log" 'curl 3')"'}'
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# How TLS terminators close: haproxy (mode http) and stunnel in front of a
# plain HTTP backend (python -m http.server), and gnutls-serv --http with
# gnutls-cli, TLS 1.3, keys from curl's and gnutls' SSLKEYLOGFILE.
#  1 curl -> haproxy: curl sends close_notify and FIN and closes at once;
#    haproxy's answering close_notify usually hits a closed socket: RST from
#    curl's kernel (tls_close_then_reset, data_after_close); in some runs it
#    arrives first, in others haproxy even closes first: the order is a race
#    in all three, so only versions and the servers' close_notify are
#    labelled; the committed fixture keeps one run's order.
#  2 curl -> stunnel: the HTTP/1.0 backend closes after its response and
#    stunnel closes the TLS side; whether its close_notify or curl's comes
#    first is a race (tls_clean either way, or an RST when curl has already
#    closed); even whether curl still sends its close_notify depends on the
#    order: only the server's close_notify is checked, no verdict labelled.
#  3 gnutls-cli -> gnutls-serv: gnutls-cli sends its request and, at stdin
#    EOF, its close_notify in the same segment; gnutls-serv answers, sends
#    close_notify and FIN (gnutls_bye) and closes; when it has not read the
#    client's close_notify by then, its kernel sends RST+ACK right after the
#    FIN (unread_data) — a race too, so no verdict is labelled.
source "$LAB/lib.sh"
lab_init habit_tls_terminators
lab_cert
ports=()
while ((${#ports[@]} < 4)); do
  p=$(lab_free_port)
  [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
be=${ports[0]} hap=${ports[1]} stn=${ports[2]} gns=${ports[3]}
mkdir -p "$TMPD/www"
echo hello >"$TMPD/www/index.html"
lab_bg backend "$LAB_PY" -m http.server "$be" --bind 127.0.0.1 --directory "$TMPD/www"
lab_wait_listen "$be" 10
lab_haproxy "$hap" "" "  default_backend be
backend be
  server s1 127.0.0.1:$be"
cat >"$TMPD/stunnel.conf" <<CONF
foreground = yes
pid =
[tls]
accept = 127.0.0.1:$stn
connect = 127.0.0.1:$be
cert = $CERT
key = $CERTKEY
CONF
lab_bg stunnel stunnel4 "$TMPD/stunnel.conf"
lab_bg gnutls gnutls-serv --http -p "$gns" --x509certfile "$CERT" --x509keyfile "$CERTKEY"
lab_wait_listen "$stn" 10
lab_wait_listen "$gns" 10
lab_capture_start "tcp port $hap or tcp port $stn or tcp port $gns"
export SSLKEYLOGFILE=$KEYS
curl -sSk --tlsv1.3 -o /dev/null -w 'curl haproxy: HTTP %{http_code}\n' "https://127.0.0.1:$hap/index.html" >>"$OUT/clients.log" 2>&1
curl -sSk --tlsv1.3 -o /dev/null -w 'curl stunnel: HTTP %{http_code}\n' "https://127.0.0.1:$stn/index.html" >>"$OUT/clients.log" 2>&1
printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 gnutls-cli --insecure -p "$gns" 127.0.0.1 >"$OUT/gnutls-cli.log" 2>&1 || true
unset SSLKEYLOGFILE
lab_capture_stop

lab_assert_pcap "tcp.srcport==$hap && tls.alert_message.desc==0" 1 1
for p in $stn $gns; do
  lab_assert_pcap "tcp.srcport==$p && tls.alert_message.desc==0" 1 1
done
lab_expect '{"id":1,"tls":{"version":"TLS1.3","handshake":"complete"},
  "peer_report":'"$(lab_peer_report "$OUT/clients.log" 'curl haproxy')"'}'
lab_expect '{"id":2,"tls":{"version":"TLS1.3","handshake":"complete"},
  "peer_report":'"$(lab_peer_report "$OUT/clients.log" 'curl stunnel')"'}'
lab_expect '{"id":3,"tls":{"version":"TLS1.3","handshake":"complete"},
  "peer_report":'"$(lab_peer_report "$OUT/gnutls-cli.log" 'Peer has closed')"'}'
lab_done

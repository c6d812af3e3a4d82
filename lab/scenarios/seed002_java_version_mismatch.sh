#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 002 ("java.net.SocketException: Connection reset" on the first HTTPS
# request; the real cause was a TLS version the server refused).  A Java 17
# client (java.net.http.HttpClient, lab/programs/jdk/VersionClient.java)
# limited to TLS 1.1 or TLS 1.2 talks to servers that accept only TLS 1.3:
# nginx (ssl_protocols), openssl s_server -tls1_3, gnutls-serv with a
# priority string, haproxy (ssl-min-ver).  All four answer with a fatal
# protocol_version alert in the clear, which Java reports plainly.  The
# seed's literal "Connection reset" comes from a server or middlebox that
# answers an unwanted ClientHello with RST (lab/programs/rst_reject.py, as
# some load balancers do): that is the case the seed's user could not see.
# Java has no SSLKEYLOGFILE: none is needed, nothing here is encrypted.
source "$LAB/lib.sh"
lab_init seed002_java_version_mismatch
lab_cert
command -v java >/dev/null || lab_die "java not found (apt-get install default-jdk-headless)"
JSEC="$LAB/programs/jdk/java.security.tls11"
jclient() { # tag url protocols
  java -Djava.security.properties="$JSEC" "$LAB/programs/jdk/VersionClient.java" "$2" "$3" \
    >"$OUT/$1.log" 2>&1 || true
  lab_log "$(cat "$OUT/$1.log")"
}

ports=()
while ((${#ports[@]} < 5)); do
  p=$(lab_free_port)
  [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
filter="tcp port ${ports[0]}"
for p in "${ports[@]:1}"; do filter+=" or tcp port $p"; done
lab_capture_start "$filter"

# 1-2: nginx with ssl_protocols TLSv1.3
mkdir -p "$TMPD/html"
echo hi >"$TMPD/html/index.html"
lab_nginx "${ports[0]}" "TLSv1.3"
jclient java1 "https://127.0.0.1:${ports[0]}/" TLSv1.1
jclient java2 "https://127.0.0.1:${ports[0]}/" TLSv1.2

# 3: openssl s_server -tls1_3 (stdin kept open: it quits on EOF)
mkfifo "$TMPD/sin"
lab_bg_in "$TMPD/sin" s_server openssl s_server -accept "127.0.0.1:${ports[1]}" -cert "$CERT" \
  -key "$CERTKEY" -tls1_3 -www
lab_wait_line "$OUT/s_server.log" "ACCEPT" 10
jclient java3 "https://127.0.0.1:${ports[1]}/" TLSv1.1

# 4: gnutls-serv accepting only TLS 1.3
lab_bg gnutls gnutls-serv --http -p "${ports[2]}" --x509certfile "$CERT" --x509keyfile "$CERTKEY" \
  --priority "NORMAL:-VERS-ALL:+VERS-TLS1.3"
lab_wait_listen "${ports[2]}" 10
jclient java4 "https://127.0.0.1:${ports[2]}/" TLSv1.2

# 5: haproxy terminating TLS with ssl-min-ver TLSv1.3
lab_haproxy "${ports[3]}" "ssl-min-ver TLSv1.3" \
  '  http-request return status 200 content-type text/plain string "hi"'
jclient java5 "https://127.0.0.1:${ports[3]}/" TLSv1.2

# 6: the seed's "Connection reset": the server resets on the ClientHello
lab_bg rst_reject "$LAB_PY" "$LAB/programs/rst_reject.py" "${ports[4]}" 1
lab_wait_line "$OUT/rst_reject.log" "^ready" 10
jclient java6 "https://127.0.0.1:${ports[4]}/" TLSv1.2
lab_capture_stop

# Check the labels against the wire before writing them.
for i in 0 1 2 3; do
  lab_assert_pcap "tcp.srcport==${ports[i]} && tls.alert_message.level==2 && tls.alert_message.desc==70" 1 2
done
lab_assert_pcap "tcp.srcport==${ports[4]} && tcp.flags.reset==1" 1 1
lab_assert_pcap "tls.handshake.type==2" 0 0  # no ServerHello anywhere

alert='[{"by":"server","level":"fatal","description":"protocol_version","encrypted":false,"inferred":false}]'
n=0
for spec in "java1 TLS1.1" "java2 TLS1.2" "java3 TLS1.1" "java4 TLS1.2" "java5 TLS1.2"; do
  set -- $spec
  n=$((n + 1))
  lab_expect '{"id":'$n',"verdict":"tls_handshake_alert","rst":null,
    "tls":{"version":null,"client_max_version":"'"$2"'","handshake":"alert","alerts":'"$alert"'},
    "peer_report":'"$(lab_peer_report "$OUT/$1.log" '^java:')"'}'
done
lab_expect '{"id":6,"verdict":"tls_handshake_reset","tcp":{"server_rst":true},
  "rst":{"by":"server","cause":"handshake_rejected"},
  "tls":{"version":null,"client_max_version":"TLS1.2","handshake":"reset","alerts":[]},
  "peer_report":'"$(lab_peer_report "$OUT/java6.log" '^java:')"'}'
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 000 (JDK-6618387, "SSL client sessions do not close cleanly. A TCP
# reset occurs instead of a close_notify alert"): HttpsURLConnection with
# keep-alive against nginx.  Java 17 (lab/programs/jdk/KeepAliveClient.java):
#  1 disconnect(): the body is read and the stream closed, so the connection
#    sits in the keep-alive cache; disconnect() does not touch it and the JVM
#    exits: the kernel sends FIN with no close_notify (tls_truncated by the
#    client).  The RST is gone, the missing close_notify is not.
#  2 old-bug: what JDK 5 did, reproduced: the cached connection's plain socket
#    is closed under TLS with SO_LINGER {1,0}: RST, no close_notify.
#  3 java.net.http.HttpClient, jdk.httpclient.keepalive.timeout=1: the pool
#    drops the idle connection with a bare FIN as well.
#  4 idle 11 s: the keep-alive cache's own timer (idle > 5 s, checked every
#    5 s, so a shorter wait is a race) closes the connection
#    properly: two 35-byte alert records (the JDK pads TLS 1.3 alerts;
#    user_canceled then close_notify), then FIN; nginx answers with a bare
#    FIN (tls_one_sided).
#  5-6 the same as 1 and 4 over TLS 1.2 (encrypted alert records visible as
#    such).
# Java has no SSLKEYLOGFILE: alerts are labelled from their record types and
# sizes, checked with tshark below.
source "$LAB/lib.sh"
lab_init seed000_jdk_keepalive
lab_cert
command -v java >/dev/null || lab_die "java not found (apt-get install default-jdk-headless)"
port=$(lab_free_port)
mkdir -p "$TMPD/html"
echo hello >"$TMPD/html/index.html"
lab_capture_start "tcp port $port"
lab_nginx "$port" "TLSv1.2 TLSv1.3"
run() { # tag mode proto [java options]
  local tag=$1 mode=$2 proto=$3
  shift 3
  timeout 30 java "$@" "$LAB/programs/jdk/KeepAliveClient.java" "$mode" "https://127.0.0.1:$port/" \
    "$proto" >"$OUT/$tag.log" 2>&1 || true
  lab_log "$tag: $(tail -1 "$OUT/$tag.log")"
}
run java1 disconnect TLSv1.3
run java2 old-bug TLSv1.3
run java3 httpclient TLSv1.3 -Djdk.httpclient.keepalive.timeout=1
run java4 idle TLSv1.3
run java5 disconnect TLSv1.2
run java6 idle TLSv1.2
lab_capture_stop

lab_assert_pcap "tcp.flags.reset==1 && tcp.dstport==$port" 1 1
# the JDK's TLS 1.3 alerts: two application_data records of 35 bytes
lab_assert_pcap "tcp.dstport==$port && tls.record.opaque_type==23 && tls.record.length==35" 2 2
# TLS 1.2: the encrypted alerts are typed as alerts
lab_assert_pcap "tcp.dstport==$port && tls.record.content_type==21" 1 1
lab_assert_pcap "tcp.srcport==$port && tls.record.content_type==21" 0 0

none='{"client":"none","server":"none"}'
lab_expect '{"id":1,"verdict":"tls_truncated","rst":null,"tcp":{"first_close":"client"},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":true,"close_notify":'"$none"'},
  "peer_report":'"$(lab_peer_report "$OUT/java1.log" '^java: disconnect')"'}'
lab_expect '{"id":2,"verdict":"reset","tcp":{"first_close":"client","client_rst":true,"client_fin":false},
  "rst":{"by":"client","confidence":"possible","_truth":"abort: SO_LINGER {1,0} after reading the whole reply (kernel: TCP_STATE); on the wire the same as close() with the reply unread, so analyze says unread_data, possible (docs/analyze.md)"},
  "tls":{"version":"TLS1.3","handshake":"complete","close_notify":'"$none"'},
  "peer_report":'"$(lab_peer_report "$OUT/java2.log" 'SO_LINGER')"'}'
lab_expect '{"id":3,"verdict":"tls_truncated","rst":null,"tcp":{"first_close":"client"},
  "tls":{"version":"TLS1.3","handshake":"complete","truncated":true,"close_notify":'"$none"'},
  "peer_report":'"$(lab_peer_report "$OUT/java3.log" '^java: exit')"'}'
lab_expect '{"id":4,"verdict":"tls_one_sided","rst":null,
  "tls":{"version":"TLS1.3","handshake":"complete","first_close_notify":"client",
         "close_notify":{"client":"probable","server":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/java4.log" '^java: exit')"'}'
lab_expect '{"id":5,"verdict":"tls_truncated","rst":null,"tcp":{"first_close":"client"},
  "tls":{"version":"TLS1.2","handshake":"complete","truncated":true,"close_notify":'"$none"'},
  "peer_report":'"$(lab_peer_report "$OUT/java5.log" '^java: disconnect')"'}'
lab_expect '{"id":6,"verdict":"tls_one_sided","rst":null,
  "tls":{"version":"TLS1.2","handshake":"complete","first_close_notify":"client",
         "close_notify":{"client":"probable","server":"none"}},
  "peer_report":'"$(lab_peer_report "$OUT/java6.log" '^java: exit')"'}'
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 004, "application data after close notify": the client reads the
# start of a streamed response, sends close_notify and waits for the
# server's; the server keeps streaming (it has not read the close_notify), so
# OpenSSL's second SSL_shutdown() fails with "application data after close
# notify".  The client then close()s with the next chunk unread: its kernel
# sends RST (cause unread_data).  The chunks are 100 ms apart, so the data
# after close_notify is on the wire, not just in OpenSSL's buffer.
# TLS 1.3 and TLS 1.2.
source "$LAB/lib.sh"
lab_init seed004_sslshutdown_appdata_after_close_notify
source "$LAB/programs/sslshut_run.sh"
sslshut_run appdata 1.3 1.2

lab_assert_pcap "tls.alert_message.desc==0" 2 2
grep -q "application data after close notify" "$OUT/client1.log" "$OUT/client2.log" ||
  lab_die "OpenSSL did not report application data after close notify"
n=0
for v in 1.3 1.2; do
  n=$((n + 1))
  p=${SSLSHUT_PORTS[n - 1]}
  lab_assert_pcap "tcp.dstport==$p && tcp.flags.reset==1" 1
  lab_assert_pcap "tcp.dstport==$p && tcp.flags.fin==1" 0 0
  # The server's application data really follows the client's close_notify
  # on the wire (not only in OpenSSL's buffer).
  cn=$(lab_tshark -Y "tcp.dstport==$p && tls.alert_message.desc==0" -T fields -e frame.number | head -1)
  lab_assert_pcap "tcp.srcport==$p && tls.app_data && frame.number > $cn" 1
  lab_expect '{"id":'$n',"verdict":"tls_close_then_reset",
    "tcp":{"first_close":"client","client_fin":false,"client_rst":true},
    "rst":{"by":"client","cause":"unread_data"},
    "tls":{"version":"TLS'$v'","handshake":"complete","truncated":false,"first_close_notify":"client",
           "close_notify":{"client":"probable","server":"none"},
           "data_after_close_notify":{"server":true,"client":false}},
    "peer_report":'"$(lab_peer_report "$OUT/client$n.log" 'openssl error')"'}'
done
lab_done

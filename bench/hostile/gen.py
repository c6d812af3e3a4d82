#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Hostile captures for tlsfin analyze (issue: bounded time and memory).

usage: gen.py KIND N OUT.pcap
  scan        N SYNs to N different hosts/ports, no answer (a port scan)
  frozen      N SYN + RST pairs, every packet with the same timestamp
  backwards   N SYNs, each stamped earlier than the one before (bounded list walks)
  servers     N servers, one refused connection each (summary's table)
  jump        N short connections, one packet stamped ten years ahead
  tiny        N complete tiny TCP connections (handshake, 1 byte, FINs)
  keylog      N key log lines for connections not in any capture (OUT is
              the key log; the capture is OUT.pcap with one connection)
Plain struct, no scapy: fast enough for millions of packets.
"""
import struct
import sys

T0 = 1700000000


def ip4(src, dst, sp, dp, flags, seq, ack, payload=b""):
    tcp = struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 1024, 0, 0) + payload
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp


class Writer:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def pkt(self, t, frame):
        sec = int(t)
        self.f.write(struct.pack("<IIII", sec, int((t - sec) * 1e6), len(frame), len(frame)))
        self.f.write(frame)


def addr(i):
    return bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])


C = bytes([192, 0, 2, 1])


def main():
    kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if kind == "keylog":
        with open(out, "w") as k:
            for i in range(n):
                k.write("CLIENT_RANDOM %064x %096x\n" % (i, i))
        out = out + ".pcap"
        n = 1
        kind = "tiny"
    w = Writer(out)
    for i in range(n):
        t = T0 + i * 1e-4
        sp, srv = 1024 + i % 60000, addr(i)
        if kind == "scan":
            w.pkt(t, ip4(C, srv, sp, 443, 0x02, i, 0))
        elif kind == "backwards":  # every SYN older than the one before
            w.pkt(T0 - i * 1e-4, ip4(C, srv, sp, 443, 0x02, i, 0))
        elif kind == "frozen":
            w.pkt(T0, ip4(C, srv, sp, 443, 0x02, i, 0))
            w.pkt(T0, ip4(srv, C, 443, sp, 0x14, 0, i + 1))
        elif kind == "servers":
            w.pkt(t, ip4(C, srv, 40000, 443, 0x02, 1, 0))
            w.pkt(t, ip4(srv, C, 443, 40000, 0x14, 0, 2))
        elif kind in ("tiny", "jump"):
            if kind == "jump" and i == n // 2:
                t += 315e6  # one packet ten years ahead
            w.pkt(t, ip4(C, srv, sp, 443, 0x02, 100, 0))
            w.pkt(t, ip4(srv, C, 443, sp, 0x12, 500, 101))
            w.pkt(t, ip4(C, srv, sp, 443, 0x10, 101, 501))
            w.pkt(t, ip4(C, srv, sp, 443, 0x18, 101, 501, b"x"))
            w.pkt(t, ip4(srv, C, 443, sp, 0x11, 501, 102))
            w.pkt(t, ip4(C, srv, sp, 443, 0x11, 102, 502))
            w.pkt(t, ip4(srv, C, 443, sp, 0x10, 502, 103))
        else:
            sys.exit(__doc__)


if __name__ == "__main__":
    main()

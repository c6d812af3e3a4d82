#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes small classic pcaps for the CLI tests (no scapy: plain struct).

usage: mkpcap.py KIND OUT
KIND: tls_clean | truncated_file | garbage_packets | linktype_user0 | empty
"""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_pkt(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0,
                     bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = b"\x00\x11\x22\x33\x44\x55" + b"\x66\x77\x88\x99\xaa\xbb" + b"\x08\x00"
    return eth + ip + tcp


def record(ctype, body, ver=0x0303):
    return struct.pack("!BHH", ctype, ver, len(body)) + body


def client_hello():
    sni = b"example.test"
    ext_sni = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    ext_sv = struct.pack("!HHB", 43, 5, 4) + b"\x03\x04\x03\x03"
    exts = ext_sni + ext_sv
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(exts)) + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return record(22, hs, 0x0301)


def server_hello():
    ext_sv = struct.pack("!HHH", 43, 2, 0x0304)
    body = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\x13\x01" + b"\x00"
    body += struct.pack("!H", len(ext_sv)) + ext_sv
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return record(22, hs)


def tls_clean():
    C, S = [10, 0, 0, 1], [10, 0, 0, 2]
    cp, sp = 40000, 443
    cs, ss = 1000, 5000
    F, SY, R, P, A = 1, 2, 4, 8, 16
    pk = []
    pk.append(tcp_pkt(C, S, cp, sp, cs, 0, SY)); cs += 1
    pk.append(tcp_pkt(S, C, sp, cp, ss, cs, SY | A)); ss += 1
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, A))
    ch = client_hello()
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, P | A, ch)); cs += len(ch)
    sh = server_hello() + record(20, b"\x01") + record(23, b"\xaa" * 900)
    pk.append(tcp_pkt(S, C, sp, cp, ss, cs, P | A, sh)); ss += len(sh)
    fin = record(20, b"\x01") + record(23, b"\xbb" * 53)
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, P | A, fin)); cs += len(fin)
    data = record(23, b"\xcc" * 300)
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, P | A, data)); cs += len(data)
    data = record(23, b"\xdd" * 700)
    pk.append(tcp_pkt(S, C, sp, cp, ss, cs, P | A, data)); ss += len(data)
    cn = record(23, b"\xee" * 19)
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, P | A, cn)); cs += len(cn)
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, F | A)); cs += 1
    pk.append(tcp_pkt(S, C, sp, cp, ss, cs, P | A, cn)); ss += len(cn)
    pk.append(tcp_pkt(S, C, sp, cp, ss, cs, F | A)); ss += 1
    pk.append(tcp_pkt(C, S, cp, sp, cs, ss, A))
    return pk


def write(out, pkts, linktype=1):
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype))
        t = 1700000000
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", t, i * 1000, len(p), len(p)))
            f.write(p)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "tls_clean":
        write(out, tls_clean())
    elif kind == "truncated_file":
        write(out, tls_clean())
        data = open(out, "rb").read()
        open(out, "wb").write(data[: len(data) - 30])
    elif kind == "garbage_packets":
        pk = tls_clean()
        pk[2] = pk[2][:20]  # Ethernet + 6 bytes of IP: cut short
        pk[5] = b"\x00" * 14 + b"\x45\x00\x00\x10" + b"\xff" * 10  # total < header
        write(out, pk)
    elif kind == "linktype_user0":
        write(out, tls_clean(), linktype=147)
    elif kind == "empty":
        write(out, [])
    else:
        sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Crafted captures of one TCP connection inside each encapsulation tlsfin
opens (src/analyze/decode_tunnel.c), with their labels.

Every capture holds a whole inner connection (handshake, a request and a
response, then FIN both ways or an RST), so the verdict is checked through
the tunnel, and the `tunnel` list the record must carry.  The labels state
what the packets are by construction: the tunnel of a connection is the one
its first packet came through (the client's SYN), outermost first.

Headers scapy 2.5 lacks or gets wrong for this purpose (ERSPAN, Geneve
options, GTP-U extension headers, Teredo indicators, AYIYA, the MPLS
control word) are packed by hand from their specifications.

usage: /usr/bin/python3 make.py [OUTDIR]   (python3-scapy; Debian's python)
writes NAME.pcap and NAME.expect.jsonl per case, plus the captures without
labels that tests/pcap/tunnels/check.sh uses (custom ports, nesting limit);
without OUTDIR, here and the fuzz seeds in fuzz/corpus/tunnel/ too.
"""
import json
import os
import struct
import sys

from scapy.all import (GRE, IP, TCP, UDP, Dot1AD, Dot1Q, Ether, IPv6, Raw,
                       wrpcap)

BASE_TS = 1700000000.0

C4, S4 = "192.168.1.10", "192.168.1.20"
C6, S6 = "fd00::10", "fd00::20"
O4 = ("10.0.0.1", "10.0.0.2")
O6 = ("2001:db8::1", "2001:db8::2")
MAC_C, MAC_S = "02:00:00:00:00:01", "02:00:00:00:00:02"
IMAC_C, IMAC_S = "02:00:00:00:01:01", "02:00:00:00:01:02"


def conversation(af=4, end="fin", cport=40000, sport=80):
    """The inner packets of one TCP connection: (direction, IP packet),
    direction 0 client -> server."""
    c, s = (C4, S4) if af == 4 else (C6, S6)
    L3 = IP if af == 4 else IPv6
    seq = {0: 1000, 1: 5000}
    out = []

    def send(d, flags, data=b""):
        src, dst = (c, s) if d == 0 else (s, c)
        sp, dp = (cport, sport) if d == 0 else (sport, cport)
        pkt = L3(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags, seq=seq[d],
                                         ack=seq[1 - d] if "A" in flags else 0, window=64240)
        if data:
            pkt = pkt / Raw(data)
        out.append((d, pkt))
        seq[d] += len(data) + (1 if ("S" in flags or "F" in flags) else 0)

    send(0, "S")
    send(1, "SA")
    send(0, "A")
    send(0, "PA", b"GET / HTTP/1.1\r\nHost: inner.test\r\n\r\n")
    send(1, "A")
    send(1, "PA", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    send(0, "A")
    if end == "fin":
        send(0, "FA")
        send(1, "FA")
        send(0, "A")
    else:  # the client aborts: RST after the response
        send(0, "RA")
    return out


def outer_ip(d, af=4, proto=None):
    a, b = O4 if af == 4 else O6
    src, dst = (a, b) if d == 0 else (b, a)
    if af == 4:
        return IP(src=src, dst=dst, proto=proto) if proto is not None else IP(src=src, dst=dst)
    return IPv6(src=src, dst=dst, nh=proto) if proto is not None else IPv6(src=src, dst=dst)


def eth(d, typ=None):
    e = Ether(src=MAC_C, dst=MAC_S) if d == 0 else Ether(src=MAC_S, dst=MAC_C)
    if typ is not None:
        e.type = typ
    return e


def inner_eth(d, pkt):
    e = Ether(src=IMAC_C, dst=IMAC_S) if d == 0 else Ether(src=IMAC_S, dst=IMAC_C)
    return e / pkt


def outer_json(af=4):
    a, b = O4 if af == 4 else O6
    return {"src": a, "dst": b}


CORPUS = None  # fuzz/corpus/tunnel/: seeds for fuzz/fuzz_tunnel.c


def seeds(name, frames):
    """The SYN and the first data segment of a case, as fuzz_tunnel.c reads
    them: a link selector byte (0 Ethernet, 1 raw IP), then the packet."""
    if not CORPUS:
        return
    for i in (0, 3):
        with open(os.path.join(CORPUS, "%s_%d" % (name, i)), "wb") as f:
            f.write(b"\x00" + bytes(frames[i]))
    if frames[0].haslayer(Ether) and frames[0][Ether].type in (0x0800, 0x86DD):
        with open(os.path.join(CORPUS, "%s_raw" % name), "wb") as f:
            f.write(b"\x01" + bytes(frames[0][Ether].payload))
        # the whole connection for fuzz/fuzz_packets.c (raw IP packets,
        # each after its 2-byte length): tunnels through the engine
        with open(os.path.join(CORPUS, "..", "packets", "tunnel_" + name), "wb") as f:
            for fr in frames:
                ip = bytes(fr[Ether].payload)
                f.write(struct.pack("!H", len(ip)) + ip)


def write(outdir, name, frames, expect, verdict="tcp_clean", af=4, extra=None):
    for i, f in enumerate(frames):
        f.time = BASE_TS + i * 0.001
    wrpcap(os.path.join(outdir, name + ".pcap"), frames)
    seeds(name, frames)
    if expect is None:
        return
    c, s = (C4, S4) if af == 4 else (C6, S6)
    rec = {"id": 1, "client": {"ip": c, "port": 40000}, "server": {"ip": s, "port": 80},
           "verdict": verdict, "tunnel": expect}
    if verdict == "tcp_clean":
        rec["tcp"] = {"start": "handshake", "client_fin": True, "server_fin": True}
    else:
        rec["tcp"] = {"start": "handshake", "client_rst": True}
        rec["rst"] = {"by": "client"}
    if extra:
        rec.update(extra)
    with open(os.path.join(outdir, name + ".expect.jsonl"), "w") as f:
        f.write(json.dumps({"_connections": 1}) + "\n")
        f.write(json.dumps(rec) + "\n")


# ---- hand-packed headers ----

def erspan2(session, index=0):
    # draft-foschiano-erspan-03 §4.2: Ver=1, VLAN, COS, En, T, Session ID,
    # Reserved, Index
    return struct.pack("!HHI", (1 << 12) | 0, (0 << 13) | (3 << 11) | session, index)


def erspan3(session, o_bit=True):
    # §4.3: Ver=2, VLAN | COS, BSO, T, Session ID | Timestamp | SGT | P, FT,
    # Hw ID, D, Gra, O  (+ 8-byte platform specific subheader when O)
    h = struct.pack("!HHIH", (2 << 12) | 10, session, 0x12345678, 0)
    flags = (0 << 15) | (0 << 10) | (1 << 4) | (0 << 3) | (1 << 1) | (1 if o_bit else 0)
    h += struct.pack("!H", flags)
    if o_bit:
        h += struct.pack("!II", (3 << 26), 0x9abcdef0)  # platform id 3
    return h


def vxlan(vni):
    return struct.pack("!B3xI", 0x08, vni << 8)  # RFC 7348 §5


def geneve(vni, proto, options=b""):
    assert len(options) % 4 == 0
    return struct.pack("!BBHI", len(options) // 4, 0, proto, vni << 8) + options  # RFC 8926 §3.4


def geneve_options():
    # RFC 8926 §3.5: class, type, 3 reserved bits + length in words, data
    o1 = struct.pack("!HBB", 0x0102, 0x80, 1) + b"\xde\xad\xbe\xef"
    o2 = struct.pack("!HBB", 0xFFFF, 0x01, 0)
    return o1 + o2


def gtpu(teid, payload, ext=False, seq=None):
    # 3GPP TS 29.281 §5.1: version 1, PT 1, E/S/PN; type 255 G-PDU
    flags = 0x30
    opt = b""
    if ext or seq is not None:
        flags |= (0x04 if ext else 0) | (0x02 if seq is not None else 0)
        # §5.2.1: a PDU Session Container (0x85), one 4-byte unit
        opt = struct.pack("!HBB", seq or 0, 0, 0x85 if ext else 0)
        if ext:
            opt += bytes([1, 0x10, 0x05, 0])  # length 1, content, next type 0
    body = opt + payload
    return struct.pack("!BBHI", flags, 0xFF, len(body), teid) + body


def teredo_auth():
    # RFC 4380 §5.1.1: 0x0001, ID-len, AU-len, client id, auth value, nonce,
    # confirmation
    cid, au = b"client", b"\x11\x22\x33\x44"
    return struct.pack("!HBB", 1, len(cid), len(au)) + cid + au + b"\x01" * 8 + b"\x00"


def teredo_origin(port, addr):
    # §5.1.1: 0x0000, port and IPv4 address obfuscated (xor with all ones)
    a = bytes(x ^ 0xFF for x in bytes(int(p) for p in addr.split(".")))
    return struct.pack("!HH", 0, port ^ 0xFFFF) + a


def ayiya(nxt=41):
    # draft-massar-v6ops-ayiya-02 §4: IdLen 4 (16 bytes), IdType 1 |
    # SigLen 5 (20 bytes), HshMeth 2 | AutMeth 2, OpCode 1 | NextHeader |
    # Epoch | Identity | Signature
    return struct.pack("!BBBBI", (4 << 4) | 1, (5 << 4) | 2, (2 << 4) | 1, nxt,
                       1700000000) + b"\x20\x01\x0d\xb8" + b"\x00" * 12 + b"\x5a" * 20


def mpls(labels):
    # RFC 3032 §2.1: label 20, TC 3, S 1, TTL 8
    out = b""
    for i, l in enumerate(labels):
        out += struct.pack("!I", (l << 12) | ((1 if i == len(labels) - 1 else 0) << 8) | 64)
    return out


def pppoe(session, ppp):
    # RFC 2516 §4: ver 1 type 1, code 0, session id, length
    return struct.pack("!BBHH", 0x11, 0, session, len(ppp)) + ppp


# ---- the cases ----

def cases(outdir):
    # IP-in-IP: 4in4, 6in4, 4in6, 6in6 (RFC 2003, RFC 4213, RFC 2473)
    for name, oaf, iaf in (("ipip_4in4", 4, 4), ("ipip_6in4", 4, 6),
                           ("ipip_4in6", 6, 4), ("ipip_6in6", 6, 6)):
        proto = 4 if iaf == 4 else 41
        frames = [eth(d) / outer_ip(d, oaf, proto) / p for d, p in conversation(iaf)]
        write(outdir, name, frames, [{"type": "ipip", "outer": outer_json(oaf)}], af=iaf)

    # GRE with checksum, key and sequence (RFC 2784, RFC 2890), IPv4 inside
    frames = [eth(d) / outer_ip(d) / GRE(chksum_present=1, key_present=1, seqnum_present=1,
                                         key=0x1234, seqence_number=i, proto=0x0800) / p
              for i, (d, p) in enumerate(conversation(4))]
    write(outdir, "gre_key_seq", frames, [{"type": "gre", "outer": outer_json(), "key": 0x1234}])

    # GRE over IPv6 carrying IPv6, ending with an RST
    frames = [eth(d) / outer_ip(d, 6) / GRE(proto=0x86DD) / p for d, p in conversation(6, "rst")]
    write(outdir, "gre_ipv6_rst", frames, [{"type": "gre", "outer": outer_json(6)}],
          verdict="reset", af=6)

    # GRE Transparent Ethernet Bridging (0x6558)
    frames = [eth(d) / outer_ip(d) / GRE(key_present=1, key=77, proto=0x6558) / inner_eth(d, p)
              for d, p in conversation(4)]
    write(outdir, "gre_teb", frames, [{"type": "gre", "outer": outer_json(), "key": 77}])

    # ERSPAN type I (0x88be, no sequence number, no header), II (sequence,
    # 8-byte header), III (0x22eb, 12-byte header + platform subheader)
    frames = [eth(d) / outer_ip(d) / GRE(proto=0x88BE) / inner_eth(d, p)
              for d, p in conversation(4)]
    write(outdir, "erspan1", frames, [{"type": "erspan", "outer": outer_json(), "version": 1}])
    frames = [eth(d) / outer_ip(d) / GRE(seqnum_present=1, seqence_number=i, proto=0x88BE) /
              Raw(erspan2(100)) / inner_eth(d, p) for i, (d, p) in enumerate(conversation(4))]
    write(outdir, "erspan2", frames,
          [{"type": "erspan", "outer": outer_json(), "version": 2, "session": 100}])
    frames = [eth(d) / outer_ip(d) / GRE(seqnum_present=1, seqence_number=i, proto=0x22EB) /
              Raw(erspan3(200)) / inner_eth(d, p)
              for i, (d, p) in enumerate(conversation(4, "rst"))]
    write(outdir, "erspan3", frames,
          [{"type": "erspan", "outer": outer_json(), "version": 3, "session": 200}],
          verdict="reset")

    # VXLAN (RFC 7348) as AWS VPC Traffic Mirroring sends it: the mirrored
    # frame in VXLAN to 4789, VNI = the mirror session's
    frames = [eth(d) / outer_ip(d) / UDP(sport=50000 + i, dport=4789) / Raw(vxlan(1234)) /
              inner_eth(d, p) for i, (d, p) in enumerate(conversation(4))]
    # plain UDP on 4789 that is not VXLAN (I flag clear): not opened
    junk = eth(0) / outer_ip(0) / UDP(sport=4000, dport=4789) / Raw(b"\x00" * 20)
    write(outdir, "vxlan", frames + [junk],
          [{"type": "vxlan", "outer": outer_json(), "vni": 1234}])

    # Geneve (RFC 8926) with options, Ethernet inside; and IPv6 directly
    frames = [eth(d) / outer_ip(d) / UDP(sport=51000, dport=6081) /
              Raw(geneve(5678, 0x6558, geneve_options())) / inner_eth(d, p)
              for d, p in conversation(4)]
    write(outdir, "geneve_options", frames,
          [{"type": "geneve", "outer": outer_json(), "vni": 5678}])
    frames = [eth(d) / outer_ip(d, 6) / UDP(sport=51000, dport=6081) /
              Raw(geneve(99, 0x86DD)) / p for d, p in conversation(6)]
    write(outdir, "geneve_ipv6", frames,
          [{"type": "geneve", "outer": outer_json(6), "vni": 99}], af=6)

    # GTP-U (TS 29.281): uplink with a PDU session container extension
    # header, downlink with a sequence number; the TEID of the first packet
    frames = []
    for i, (d, p) in enumerate(conversation(4)):
        g = gtpu(0xABCDEF if d == 0 else 0x123456, bytes(p), ext=(d == 0),
                 seq=None if d == 0 else i)
        frames.append(eth(d) / outer_ip(d) / UDP(sport=2152, dport=2152) / Raw(g))
    write(outdir, "gtpu_ext", frames, [{"type": "gtpu", "outer": outer_json(), "teid": 0xABCDEF}])

    # Teredo (RFC 4380): IPv6 in UDP from/to 3544, with an authentication
    # indicator and origin indications
    frames = []
    for i, (d, p) in enumerate(conversation(6)):
        pre = b""
        if i == 1:
            pre = teredo_auth() + teredo_origin(40001, "192.0.2.45")
        elif d == 1:
            pre = teredo_origin(40001, "192.0.2.45")
        sp, dp = (40001, 3544) if d == 0 else (3544, 40001)
        frames.append(eth(d) / outer_ip(d) / UDP(sport=sp, dport=dp) / Raw(pre + bytes(p)))
    write(outdir, "teredo", frames, [{"type": "teredo", "outer": outer_json()}], af=6)

    # AYIYA: IPv6 in UDP 5072
    frames = [eth(d) / outer_ip(d) / UDP(sport=5072, dport=5072) / Raw(ayiya(41) + bytes(p))
              for d, p in conversation(6)]
    write(outdir, "ayiya", frames, [{"type": "ayiya", "outer": outer_json()}], af=6)

    # MPLS: two labels, IPv4 after the bottom of stack
    frames = [eth(d, 0x8847) / Raw(mpls([100, 200]) + bytes(p)) for d, p in conversation(4)]
    write(outdir, "mpls_ip", frames, [{"type": "mpls", "outer": None, "labels": [100, 200]}])
    # MPLS Ethernet pseudowire with a control word (RFC 4448, RFC 4385)
    frames = [eth(d, 0x8847) / Raw(mpls([300]) + b"\x00\x00\x00\x00") / inner_eth(d, p)
              for d, p in conversation(4)]
    write(outdir, "mpls_pw_cw", frames, [{"type": "mpls", "outer": None, "labels": [300]}])
    # ... and without control word (the destination MAC does not start
    # with nibble 0, 4 or 6)
    frames = [eth(d, 0x8847) / Raw(mpls([301])) /
              (Ether(src="a2:00:00:00:01:01", dst="a2:00:00:00:01:02") if d == 0 else
               Ether(src="a2:00:00:00:01:02", dst="a2:00:00:00:01:01")) / p
              for d, p in conversation(4, "rst")]
    write(outdir, "mpls_pw_nocw", frames, [{"type": "mpls", "outer": None, "labels": [301]}],
          verdict="reset")

    # PPPoE session (RFC 2516) over 802.1ad + 802.1Q (QinQ)
    frames = [eth(d) / Dot1AD(vlan=100) / Dot1Q(vlan=200, type=0x8864) /
              Raw(pppoe(0x1234, b"\x00\x21" + bytes(p))) for d, p in conversation(4)]
    write(outdir, "pppoe_qinq", frames, [{"type": "pppoe", "outer": None, "session": 0x1234}])

    # PPTP: enhanced GRE version 1 (RFC 2637 §4.1) with PPP, key = payload
    # length and call ID, the call ID is what is reported
    frames = []
    for i, (d, p) in enumerate(conversation(4)):
        ppp = b"\xff\x03\x00\x21" + bytes(p)
        gre = struct.pack("!HHHHI", 0x3001, 0x880B, len(ppp), 0x99, i)
        frames.append(eth(d) / outer_ip(d, 4, 47) / Raw(gre + ppp))
    write(outdir, "gre_pptp", frames, [{"type": "gre", "outer": outer_json(), "key": 0x99}])

    # GRE in UDP (RFC 8086, port 4754)
    frames = [eth(d) / outer_ip(d) / UDP(sport=52000, dport=4754) / GRE(proto=0x0800) / p
              for d, p in conversation(4)]
    write(outdir, "gre_in_udp", frames, [{"type": "gre", "outer": outer_json()}])

    # Nested: VXLAN inside GRE inside IPv4; the list is outermost first
    inner_o = ("172.16.0.1", "172.16.0.2")
    frames = []
    for d, p in conversation(4):
        a, b = inner_o if d == 0 else inner_o[::-1]
        frames.append(eth(d) / outer_ip(d) / GRE(key_present=1, key=7, proto=0x0800) /
                      IP(src=a, dst=b) / UDP(sport=33000, dport=4789) / Raw(vxlan(42)) /
                      inner_eth(d, p))
    write(outdir, "nested_gre_vxlan", frames,
          [{"type": "gre", "outer": outer_json(), "key": 7},
           {"type": "vxlan", "outer": {"src": inner_o[0], "dst": inner_o[1]}, "vni": 42}])

    # Nested deep: 8 layers of IP-in-IP is the limit and is followed ...
    def deep(n):
        out = []
        for d, p in conversation(4):
            pkt = p
            for k in range(n):
                a, b = "10.9.%d.1" % k, "10.9.%d.2" % k
                if d:
                    a, b = b, a
                pkt = IP(src=a, dst=b, proto=4) / pkt
            out.append(eth(d) / pkt)
        return out
    write(outdir, "ipip_depth8", deep(8),
          [{"type": "ipip", "outer": {"src": "10.9.%d.1" % k, "dst": "10.9.%d.2" % k}}
           for k in reversed(range(8))])
    # ... 9 is malformed (no labels: check.sh)
    write(outdir, "ipip_depth9", deep(9), None)

    # VXLAN on Linux's historical port 8472: opened only with
    # --tunnel-port=vxlan:8472 (no labels: check.sh)
    frames = [eth(d) / outer_ip(d) / UDP(sport=50000, dport=8472) / Raw(vxlan(8472)) /
              inner_eth(d, p) for d, p in conversation(4)]
    write(outdir, "vxlan_port8472", frames, None)


def main():
    global CORPUS
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else here
    if len(sys.argv) <= 1:
        CORPUS = os.path.join(here, "..", "..", "..", "fuzz", "corpus", "tunnel")
        os.makedirs(CORPUS, exist_ok=True)
    cases(outdir)


if __name__ == "__main__":
    main()

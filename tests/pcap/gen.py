#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Crafted edge-case captures for tlsfin analyze (plain struct packing, no
scapy): the cases a real peer on loopback cannot produce on demand —
sequence wraparound, reordering, port reuse, a capture starting
mid-connection, snaplen cuts, silent retransmission timeouts, an RST after
retransmissions, an injected RST, state loss, IPv6 over 802.1Q, and the
Linux cooked (SLL2) and BSD loopback link types.  Each case writes
crafted_NAME.pcap and crafted_NAME.expect.jsonl; the labels state what the
crafted packets are by construction (TAXONOMY.md rules).

usage: gen.py [OUTDIR]
"""
import json
import os
import struct
import sys

F, S, R, P, A = 1, 2, 4, 8, 16


# the checksum and record helpers are shared with the CLI tests' generator
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from mkpcap import csum, record  # noqa: E402


def client_hello(sni=b"crafted.test", versions=(0x0304, 0x0303), legacy=0x0303):
    ext = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    if versions:
        sv = b"".join(struct.pack("!H", v) for v in versions)
        ext += struct.pack("!HHB", 43, len(sv) + 1, len(sv)) + sv
    body = struct.pack("!H", legacy) + b"\x11" * 32 + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    return record(22, b"\x01" + struct.pack("!I", len(body))[1:] + body, 0x0301)


def server_hello13():
    ext = struct.pack("!HHH", 43, 2, 0x0304)
    body = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\x13\x01" + b"\x00"
    body += struct.pack("!H", len(ext)) + ext
    return record(22, b"\x02" + struct.pack("!I", len(body))[1:] + body)


class Conn:
    """Builds the packets of one TCP connection, tracking seq/ack."""

    def __init__(self, pk, c, s, cport, sport, cisn=1000, sisn=5000, af=4, ttl=64):
        self.pk, self.c, self.s, self.cp, self.sp = pk, c, s, cport, sport
        self.seq = {0: cisn, 1: sisn}
        self.af, self.ttl = af, ttl

    def send(self, d, flags, payload=b"", seq=None, ack=None, ttl=None, ts=0.001, advance=True):
        src, dst = (self.c, self.s) if d == 0 else (self.s, self.c)
        sp, dp = (self.cp, self.sp) if d == 0 else (self.sp, self.cp)
        sq = self.seq[d] if seq is None else seq
        ak = self.seq[1 - d] if ack is None else ack
        self.pk.add(ts, ip_tcp(self.af, src, dst, sp, dp, sq, ak, flags, payload, ttl or self.ttl))
        if advance and seq is None:
            self.seq[d] = (self.seq[d] + len(payload) + (1 if flags & (S | F) else 0)) & 0xFFFFFFFF

    def handshake(self):
        self.send(0, S)
        self.send(1, S | A)
        self.send(0, A)


def ip_tcp(af, src, dst, sport, dport, seq, ack, flags, payload, ttl):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    if af == 4:
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, ttl, 6, 0, bytes(src), bytes(dst))
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        return ip + tcp
    return struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, ttl, bytes(src), bytes(dst)) + tcp


class Pcap:
    def __init__(self, link="eth", snap=65535):
        self.pkts, self.t, self.link, self.snap = [], 1700000000.0, link, snap

    def add(self, dt, ippkt):
        self.t += dt
        self.pkts.append((self.t, ippkt))

    def frame(self, ippkt):
        v4 = ippkt[0] >> 4 == 4
        et = b"\x08\x00" if v4 else b"\x86\xdd"
        if self.link == "eth":
            return b"\x02" * 6 + b"\x04" * 6 + et + ippkt
        if self.link == "vlan":
            return b"\x02" * 6 + b"\x04" * 6 + b"\x81\x00\x00\x64" + et + ippkt
        if self.link == "sll2":
            return et + b"\x00\x00" + struct.pack("!IHBB", 1, 772, 0, 6) + b"\x00" * 8 + ippkt
        if self.link == "null":
            return struct.pack("<I", 2 if v4 else 30) + ippkt
        raise ValueError(self.link)

    def write(self, path):
        lt = {"eth": 1, "vlan": 1, "sll2": 276, "null": 0}[self.link]
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, self.snap, lt))
            for t, p in self.pkts:
                fr = self.frame(p)
                cap = fr[: self.snap]
                sec = int(t)
                f.write(struct.pack("<IIII", sec, int(round((t - sec) * 1e6)), len(cap), len(fr)))
                f.write(cap)


C4, S4 = [192, 0, 2, 10], [198, 51, 100, 20]
C6 = bytes.fromhex("20010db8000000000000000000000010")
S6 = bytes.fromhex("20010db8000000000000000000000020")
CN = record(23, b"\xee" * 19)  # a TLS 1.3 close_notify-sized record


def tls13_exchange(c, split_server=None):
    c.send(0, P | A, client_hello())
    srv = server_hello13() + record(20, b"\x01") + record(23, b"\xaa" * 1200)
    c.send(1, P | A, srv)
    c.send(0, P | A, record(20, b"\x01") + record(23, b"\xbb" * 53))
    c.send(0, P | A, record(23, b"\xcc" * 400))
    c.send(1, P | A, record(23, b"\xdd" * 2000))


def case_seq_wraparound(pc):
    c = Conn(pc, C4, S4, 40001, 443, cisn=0xFFFFFE00, sisn=0xFFFFFFF0)
    c.handshake()
    tls13_exchange(c)
    c.send(0, P | A, CN)
    c.send(0, F | A)
    c.send(1, P | A, CN)
    c.send(1, F | A)
    c.send(0, A)
    return [{"id": 1, "verdict": "tls_clean", "tcp": {"start": "handshake", "first_close": "client",
             "retransmissions": {"client": 0, "server": 0}},
             "tls": {"version": "TLS1.3", "sni": "crafted.test", "handshake": "complete",
                     "close_notify": {"client": "probable", "server": "probable"},
                     "first_close_notify": "client", "truncated": False}, "rst": None}]


def case_out_of_order(pc):
    c = Conn(pc, C4, S4, 40002, 8443)
    c.handshake()
    c.send(0, P | A, client_hello())
    srv = server_hello13() + record(20, b"\x01") + record(23, b"\xaa" * 1200)
    base = c.seq[1]
    parts = [srv[:300], srv[300:700], srv[700:]]
    offs = [0, 300, 700]
    for i in (1, 0, 2):  # the second segment overtakes the first
        c.send(1, P | A, parts[i], seq=(base + offs[i]) & 0xFFFFFFFF)
    c.send(1, P | A, parts[1], seq=(base + 300) & 0xFFFFFFFF)  # and is retransmitted
    c.seq[1] = (base + len(srv)) & 0xFFFFFFFF
    c.send(0, P | A, record(20, b"\x01") + record(23, b"\xbb" * 53))
    c.send(1, P | A, record(23, b"\xdd" * 900))
    c.send(1, F | A)  # server closes without close_notify
    c.send(0, P | A, CN)
    c.send(0, F | A)
    c.send(1, A)
    return [{"id": 1, "verdict": "tls_truncated", "tcp": {"first_close": "server",
             "retransmissions": {"client": 0, "server": 1}},
             "tls": {"version": "TLS1.3", "handshake": "complete", "truncated": True,
                     "close_notify": {"client": "probable", "server": "none"}}}]


def case_port_reuse(pc):
    c = Conn(pc, C4, S4, 40003, 80, cisn=100, sisn=900)
    c.handshake()
    c.send(0, P | A, b"GET / HTTP/1.0\r\n\r\n")
    c.send(1, P | A, b"HTTP/1.0 200 OK\r\n\r\nhi")
    c.send(1, F | A)
    c.send(0, F | A)
    c.send(1, A)
    d = Conn(pc, C4, S4, 40003, 80, cisn=77777, sisn=0)
    d.send(0, S, ts=1.0)
    d.send(1, R | A, seq=0, ack=77778)
    return [{"_connections": 2},
            {"id": 1, "verdict": "tcp_clean", "tls": None, "tcp": {"first_close": "server",
             "bytes": {"client": 18, "server": 21}}},
            {"id": 2, "verdict": "refused", "tcp": {"start": "syn_only"},
             "rst": {"by": "server", "cause": "port_closed", "confidence": "certain"}}]


def case_midstream(pc):
    # The capture starts after the handshake: roles come from the port.
    c = Conn(pc, C4, S4, 51000, 443, cisn=3000, sisn=9000)
    c.send(1, P | A, record(23, b"\xdd" * 500))
    c.send(0, A)
    c.send(0, P | A, record(23, b"\xcc" * 100))
    c.send(1, A)
    c.send(0, R | A)
    return [{"id": 1, "client": {"port": 51000}, "server": {"port": 443},
             "tcp": {"start": "midstream", "client_rst": True}, "verdict": "reset",
             "rst": {"by": "client"}}]


def case_snaplen(pc):
    # A 96-byte snaplen cuts every payload; sequence tracking must go on
    # from the IP lengths, and nothing may be read past the captured bytes.
    c = Conn(pc, C4, S4, 40005, 443)
    c.handshake()
    tls13_exchange(c)
    c.send(0, P | A, CN)
    c.send(0, F | A)
    c.send(1, F | A)
    c.send(0, A)
    return [{"_connections": 1},
            {"id": 1, "tcp": {"client_fin": True, "server_fin": True, "first_close": "client",
                              "bytes": {"client": 517 - 517 + len(client_hello()) + 64 + 405 + 24,
                                        "server": len(server_hello13()) + 6 + 1205 + 2005},
                              "retransmissions": {"client": 0, "server": 0}}}]


def case_stalled(pc):
    c = Conn(pc, C4, S4, 40006, 5432)
    c.handshake()
    c.send(0, P | A, b"Q" * 50)
    c.send(1, A)
    seq = c.seq[0]
    for i in range(4):  # never acknowledged: a dead peer, Linux gives up silently
        c.send(0, P | A, b"R" * 80, seq=seq, ts=0.2 * (2 ** i), advance=False)
    return [{"id": 1, "verdict": "stalled", "rst": None, "tls": None,
             "tcp": {"retransmissions": {"client": 3, "server": 0}, "client_fin": False}}]


def case_rto_rst(pc):
    c = Conn(pc, C4, S4, 40007, 6379)
    c.handshake()
    seq = c.seq[0]
    for i in range(4):
        c.send(0, P | A, b"R" * 80, seq=seq, ts=0.2 * (2 ** i), advance=False)
    c.seq[0] = (seq + 80) & 0xFFFFFFFF
    c.send(0, R | A, ts=0.5)
    return [{"id": 1, "verdict": "reset", "rst": {"by": "client", "cause": "retransmission_timeout",
                                                    "confidence": "probable"}}]


def case_injected_rst(pc):
    c = Conn(pc, C4, S4, 40008, 443)
    c.handshake()
    tls13_exchange(c)
    c.send(1, R, ttl=37)  # in-window, but 27 hops closer than the server
    return [{"id": 1, "verdict": "reset", "rst": {"by": "server", "cause": "injected"}}]


def case_unknown_connection(pc):
    c = Conn(pc, C4, S4, 40009, 22)
    c.handshake()
    c.send(0, P | A, b"hello")
    c.send(1, A)
    c.send(0, P | A, b"are you there", ts=3600.0)  # the server rebooted meanwhile
    c.send(1, R, seq=c.seq[1], ack=0, ts=0.0002)
    return [{"id": 1, "verdict": "reset", "rst": {"by": "server", "cause": "unknown_connection"}}]


def case_lost_segments(pc):
    # The capture lost nine of the server's segments (the client acked
    # them: the network did not), among them the server's close_notify.
    # Without those bytes no TLS teardown may be claimed: not "the server
    # closed with a bare FIN"; the TCP verdict stands, missing bytes counted.
    c = Conn(pc, C4, S4, 40016, 443)
    c.handshake()
    tls13_exchange(c)
    lost = 0
    for i in range(12):
        rec = record(23, b"\xdd" * 1000)
        if 2 <= i < 11:          # lost by the capture
            c.seq[1] = (c.seq[1] + len(rec)) & 0xFFFFFFFF
            lost += len(rec)
        else:
            c.send(1, P | A, rec)
    c.seq[1] = (c.seq[1] + len(CN)) & 0xFFFFFFFF  # its close_notify, lost too
    lost += len(CN)
    c.send(0, A)
    c.send(1, F | A)
    c.send(0, P | A, CN)
    c.send(0, F | A)
    c.send(1, A)
    return [{"_connections": 1},
            {"id": 1, "verdict": "tcp_clean",
             "tcp": {"first_close": "server", "missing_bytes": {"client": 0, "server": lost}},
             "tls": {"version": "TLS1.3", "handshake": "complete", "truncated": False}}]


def case_ipv4_fragment(pc):
    # A data segment carried in an IPv4 first fragment (MF set): tlsfin does
    # not reassemble fragments; the packet is counted and warned about, and
    # its bytes are missing from the stream, never silently dropped.
    c = Conn(pc, C4, S4, 40017, 80)
    c.handshake()
    seg = ip_tcp(4, C4, S4, 40017, 80, c.seq[0], c.seq[1], P | A, b"y" * 100, 64)
    seg = seg[:6] + b"\x20\x00" + seg[8:]  # flags/offset: MF, offset 0
    seg = seg[:10] + b"\x00\x00" + seg[12:]
    seg = seg[:10] + struct.pack("!H", csum(seg[:20])) + seg[12:]
    pc.add(0.001, seg)
    c.seq[0] += 100
    c.send(1, A)
    c.send(0, F | A)
    c.send(1, F | A)
    c.send(0, A)
    return [{"_connections": 1},
            {"id": 1, "verdict": "tcp_clean",
             "tcp": {"missing_bytes": {"client": 100, "server": 0}}}]


def case_sslv2_hello(pc):
    # An SSLv2-compatible ClientHello (RFC 5246 appendix E.2: old clients,
    # scanners) offering TLS 1.2, then a TLS 1.2 handshake in records, data
    # and close_notify both ways: the hello is skipped by its length and the
    # connection is followed to its clean end.
    c = Conn(pc, C4, S4, 40018, 443)
    c.handshake()
    specs = b"\x00\xc0\x2f" + b"\x00\x00\x2f"
    challenge = b"\x33" * 16
    body = b"\x01\x03\x03" + struct.pack("!HHH", len(specs), 0, len(challenge)) + specs + challenge
    c.send(0, P | A, struct.pack("!H", 0x8000 | len(body)) + body)
    sh = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\xc0\x2f" + b"\x00"
    sh = record(22, b"\x02" + struct.pack("!I", len(sh))[1:] + sh)
    c.send(1, P | A, sh + record(22, b"\x0b\x00\x00\x00") + record(22, b"\x0e\x00\x00\x00"))
    c.send(0, P | A, record(22, b"\x10" + b"\x00\x00\x21" + b"\x44" * 33)
           + record(20, b"\x01") + record(22, b"\xbb" * 40))
    c.send(1, P | A, record(20, b"\x01") + record(22, b"\xaa" * 40))
    c.send(0, P | A, record(23, b"\xcc" * 300))
    c.send(1, P | A, record(23, b"\xdd" * 900))
    c.send(0, P | A, record(21, b"\xee" * 26))
    c.send(0, F | A)
    c.send(1, P | A, record(21, b"\xee" * 26))
    c.send(1, F | A)
    c.send(0, A)
    return [{"_connections": 1},
            {"id": 1, "verdict": "tls_clean",
             "tls": {"version": "TLS1.2", "client_max_version": "TLS1.2",
                     "handshake": "complete"}}]


def case_late_rst(pc):
    # A clean close, then 5 s later (past the 2 s linger) the server's RST
    # answering a stray segment from the client: the late packets form a
    # second record (the first was already written), but with the roles
    # the 4-tuple had, not swapped by the first packet's direction.
    c = Conn(pc, C4, S4, 40019, 7777)
    c.handshake()
    c.send(0, P | A, b"ping")
    c.send(1, P | A, b"pong")
    c.send(0, F | A)
    c.send(1, F | A)
    c.send(0, A)
    c.send(1, R | A, ts=5.0)
    return [{"_connections": 2},
            {"id": 1, "verdict": "tcp_clean",
             "client": {"ip": "192.0.2.10", "port": 40019}},
            {"id": 2, "tcp": {"start": "midstream"},
             "client": {"ip": "192.0.2.10", "port": 40019},
             "server": {"ip": "198.51.100.20", "port": 7777},
             "rst": {"by": "server"}}]


def case_after_2038(pc):
    # The pcap format's 32-bit seconds read as signed by libpcap turn
    # negative after 2038-01-19: the connection must keep its real times.
    pc.t = 2208988800.0  # 2040-01-01
    c = Conn(pc, C4, S4, 40015, 443)
    c.handshake()
    c.send(0, P | A, b"ping")
    c.send(1, P | A, b"pong")
    c.send(0, F | A)
    c.send(1, F | A)
    c.send(0, A)
    return [{"_connections": 1},
            {"id": 1, "verdict": "tcp_clean", "first_ts": 2208988800.001,
             "tcp": {"client_fin": True, "server_fin": True}}]


def case_ipv6_vlan_alert(pc):
    c = Conn(pc, C6, S6, 40010, 443, af=6)
    c.handshake()
    c.send(0, P | A, client_hello(versions=None, legacy=0x0302))  # TLS 1.1 only
    c.send(1, P | A, record(21, b"\x02\x46", 0x0302))            # fatal protocol_version
    c.send(1, F | A)
    c.send(0, F | A)
    c.send(1, A)
    return [{"id": 1, "verdict": "tls_handshake_alert", "client": {"ip": "2001:db8::10"},
             "tls": {"client_max_version": "TLS1.1", "version": None, "handshake": "alert",
                     "alerts": [{"by": "server", "level": "fatal", "description": "protocol_version",
                                 "encrypted": False, "inferred": False}]}}]


def case_sll2_handshake_reset(pc):
    c = Conn(pc, C4, S4, 40011, 443)
    c.handshake()
    c.send(0, P | A, client_hello())
    c.send(1, A)
    c.send(1, R | A)
    return [{"id": 1, "verdict": "tls_handshake_reset",
             "rst": {"by": "server", "cause": "handshake_rejected"},
             "tls": {"client_max_version": "TLS1.3", "handshake": "reset"}}]


def case_null_one_sided(pc):
    c = Conn(pc, [127, 0, 0, 1], [127, 0, 0, 1], 40012, 4433)
    c.handshake()
    tls13_exchange(c)
    c.send(1, P | A, CN)
    c.send(1, F | A)
    c.send(0, F | A)
    c.send(1, A)
    return [{"id": 1, "verdict": "tls_one_sided", "tcp": {"first_close": "server"},
             "tls": {"close_notify": {"client": "none", "server": "probable"},
                     "first_close_notify": "server"}}]


CASES = [
    ("seq_wraparound", "eth", 65535, case_seq_wraparound),
    ("out_of_order", "eth", 65535, case_out_of_order),
    ("port_reuse", "eth", 65535, case_port_reuse),
    ("midstream", "eth", 65535, case_midstream),
    ("snaplen96", "eth", 96, case_snaplen),
    ("stalled", "eth", 65535, case_stalled),
    ("rto_rst", "eth", 65535, case_rto_rst),
    ("injected_rst", "eth", 65535, case_injected_rst),
    ("unknown_connection", "eth", 65535, case_unknown_connection),
    ("ipv6_vlan_alert", "vlan", 65535, case_ipv6_vlan_alert),
    ("after_2038", "eth", 65535, case_after_2038),
    ("lost_segments", "eth", 65535, case_lost_segments),
    ("ipv4_fragment", "eth", 65535, case_ipv4_fragment),
    ("sslv2_hello", "eth", 65535, case_sslv2_hello),
    ("late_rst", "eth", 65535, case_late_rst),
    ("sll2_handshake_reset", "sll2", 65535, case_sll2_handshake_reset),
    ("null_one_sided", "null", 65535, case_null_one_sided),
]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for name, link, snap, fn in CASES:
        pc = Pcap(link, snap)
        exp = fn(pc)
        pc.write(os.path.join(out, f"crafted_{name}.pcap"))
        with open(os.path.join(out, f"crafted_{name}.expect.jsonl"), "w") as f:
            for e in exp:
                f.write(json.dumps(e) + "\n")


if __name__ == "__main__":
    main()

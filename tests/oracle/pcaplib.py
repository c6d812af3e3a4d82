# SPDX-License-Identifier: BSD-2-Clause
"""Minimal pcap/pcapng reader (and pcap writer) for the oracle scripts: enough
TCP/IP decoding to join packets to 4-tuples and describe what the wire shows.
Standard library only."""

import ipaddress
import struct

LINKTYPE_NULL, LINKTYPE_EN10MB, LINKTYPE_RAW, LINKTYPE_LOOP = 0, 1, 101, 108
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_IPV4, LINKTYPE_IPV6 = 113, 276, 228, 229

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def _records(path, tolerate_truncation=False):
    """Yield (linktype, ts, data, raw_header_info) for pcap and pcapng files.
    raw is (hdr_bytes, endian, nsec) for pcap so the writer can copy records."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 4:
            return
        magic = head[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                     b"\xa1\xb2\x3c\x4d"):
            if len(head) < 24:
                return
            e = "<" if magic[0] in (0xd4, 0x4d) else ">"
            nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
            linktype = struct.unpack(e + "I", head[20:24])[0] & 0x0FFFFFFF
            div = 1e9 if nsec else 1e6
            while True:
                h = f.read(16)
                if len(h) < 16:
                    return
                sec, frac, incl, orig = struct.unpack(e + "IIII", h)
                data = f.read(incl)
                if len(data) < incl:
                    if tolerate_truncation:
                        return
                    raise ValueError("%s: truncated record" % path)
                yield linktype, sec + frac / div, data, orig
        elif magic == b"\x0a\x0d\x0d\x0a":
            f.seek(0)
            e = "<"
            ifaces = []
            while True:
                bh = f.read(8)
                if len(bh) < 8:
                    return
                btype = struct.unpack(e + "I", bh[:4])[0]
                if btype == 0x0A0D0D0A:
                    bom = f.read(4)
                    e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                    blen = struct.unpack(e + "I", bh[4:8])[0]
                    body = bom + f.read(blen - 12)
                    ifaces = []
                else:
                    blen = struct.unpack(e + "I", bh[4:8])[0]
                    body = f.read(blen - 8)
                if len(body) < blen - 8:
                    if tolerate_truncation:
                        return
                    raise ValueError("%s: truncated block" % path)
                if btype == 1:  # IDB
                    lt = struct.unpack(e + "H", body[:2])[0]
                    tsres = 1e-6
                    opts = body[8:-4]
                    i = 0
                    while i + 4 <= len(opts):
                        code, olen = struct.unpack(e + "HH", opts[i:i + 4])
                        if code == 0:
                            break
                        if code == 9 and olen >= 1:
                            v = opts[i + 4]
                            tsres = 2 ** -(v & 0x7F) if v & 0x80 else 10 ** -v
                        i += 4 + ((olen + 3) & ~3)
                    ifaces.append((lt, tsres))
                elif btype == 6:  # EPB
                    iface, hi, lo, incl, orig = struct.unpack(e + "IIIII", body[:20])
                    lt, tsres = ifaces[iface] if iface < len(ifaces) else (1, 1e-6)
                    yield lt, ((hi << 32) | lo) * tsres, body[20:20 + incl], orig
                elif btype == 3:  # SPB
                    orig = struct.unpack(e + "I", body[:4])[0]
                    lt, tsres = ifaces[0] if ifaces else (1, 1e-6)
                    yield lt, 0.0, body[4:4 + orig], orig
        else:
            raise ValueError("%s: not a pcap or pcapng file" % path)


def _ip_offset(linktype, data):
    if linktype == LINKTYPE_EN10MB:
        off = 12
        et = struct.unpack(">H", data[12:14])[0] if len(data) >= 14 else 0
        while et in (0x8100, 0x88A8) and len(data) >= off + 6:
            off += 4
            et = struct.unpack(">H", data[off:off + 2])[0]
        return off + 2
    if linktype == LINKTYPE_LINUX_SLL:
        return 16
    if linktype == LINKTYPE_LINUX_SLL2:
        return 20
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6):
        return 0
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        return 4
    return None


def decode(linktype, ts, data, orig=None):
    """TCP packet -> dict, or None."""
    off = _ip_offset(linktype, data)
    if off is None or len(data) < off + 20:
        return None
    v = data[off] >> 4
    if v == 4:
        ihl = (data[off] & 0x0F) * 4
        if data[off + 9] != 6:
            return None
        fragoff = struct.unpack(">H", data[off + 6:off + 8])[0] & 0x1FFF
        if fragoff:
            return None
        total = struct.unpack(">H", data[off + 2:off + 4])[0]
        src = str(ipaddress.IPv4Address(data[off + 12:off + 16]))
        dst = str(ipaddress.IPv4Address(data[off + 16:off + 20]))
        ttl = data[off + 8]
        t = off + ihl
        end = off + total
    elif v == 6:
        if len(data) < off + 40 or data[off + 6] != 6:
            return None
        plen = struct.unpack(">H", data[off + 4:off + 6])[0]
        src = str(ipaddress.IPv6Address(data[off + 8:off + 24]))
        dst = str(ipaddress.IPv6Address(data[off + 24:off + 40]))
        ttl = data[off + 7]
        t = off + 40
        end = t + plen
    else:
        return None
    if len(data) < t + 20:
        return None
    sport, dport, seq, ack, offflags, win = struct.unpack(">HHIIHH", data[t:t + 16])
    doff = (offflags >> 12) * 4
    flags = offflags & 0x1FF
    pstart = t + doff
    if orig is not None and orig > len(data):
        end = min(end, orig)  # payload length from the IP header even when cut
    plen = max(0, end - pstart)
    payload = data[pstart:min(end, len(data))]
    a, b = (src, sport), (dst, dport)
    return {"ts": ts, "src": src, "dst": dst, "sport": sport, "dport": dport, "seq": seq,
            "ack": ack, "flags": flags, "win": win, "len": plen, "payload": payload,
            "ttl": ttl, "key": (a, b) if a <= b else (b, a)}


def read_packets(path, tolerate_truncation=False):
    for lt, ts, data, orig in _records(path, tolerate_truncation):
        p = decode(lt, ts, data, orig)
        if p is not None:
            yield p


def filter_pcap(src, dst, pred, snaplen=0):
    """Copy the TCP packets for which pred(decoded) is true from src (pcap or
    pcapng, one link type) to dst as classic pcap (microseconds).  snaplen>0
    cuts packets to that many bytes (never inside the TCP header)."""
    n = 0
    linktype = None
    with open(dst, "wb") as out:
        for lt, ts, data, orig in _records(src):
            if linktype is None:
                linktype = lt
                out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0,
                                      max(snaplen, 262144) if snaplen else 262144, lt))
            elif lt != linktype:
                continue
            p = decode(lt, ts, data, orig)
            if p is None or not pred(p):
                continue
            if snaplen and len(data) > snaplen:
                data = data[:snaplen]
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            out.write(struct.pack("<IIII", sec, usec, len(data), orig))
            out.write(data)
            n += 1
        if linktype is None:
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_EN10MB))
    return n


def flag_str(f):
    s = ""
    for bit, ch in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, ".")):
        if f & bit:
            s += ch
    return s or "-"


def is_client_hello(payload):
    return len(payload) >= 6 and payload[0] == 0x16 and payload[1] == 0x03 and payload[5] == 0x01

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Fake data for the tlsfin HTML report (docs/html.md, "The embedded data").

usage: fakedata.py N [SEED] > data.json

N connections with plausible verdicts, RST causes and ladders, spread over a
capture of about N/50 seconds (at least a minute) with a burst of resets from
one server two thirds of the way through.  Only for developing and testing the
page (tests/html/mkpage.py); the real data comes from `tlsfin analyze
--format=html`.
"""
import json
import random
import sys

VERDICTS = [
    ("no_answer", "SYN(s) sent, nothing came back"),
    ("refused", "SYN answered by RST"),
    ("stalled", "data retransmitted without ACK, no FIN or RST"),
    ("open", "neither side sent FIN or RST by the end of the capture"),
    ("tls_handshake_alert", "TLS handshake ended by a fatal alert"),
    ("tls_handshake_reset", "RST before the TLS handshake completed"),
    ("tls_handshake_closed", "FIN before the TLS handshake completed, no alert"),
    ("tls_truncated", "the closing side sent FIN without close_notify"),
    ("tls_close_then_reset", "close_notify, then an RST ended the connection"),
    ("reset", "any other connection that ended with an RST"),
    ("half_closed", "one side sent FIN, the other neither FIN nor RST"),
    ("tls_clean", "both sides sent close_notify and FIN"),
    ("tls_one_sided", "close_notify from the closing side, bare FIN from the other"),
    ("tcp_clean", "no TLS; both sides sent FIN"),
]
CAUSES = [
    ("port_closed", "RST answers a SYN: nothing listens on that port"),
    ("handshake_rejected", "RST right after the ClientHello"),
    ("data_after_close", "RST answers payload that arrived after the sender's FIN"),
    ("unread_data", "close() with unread data in the receive buffer"),
    ("abort", "RST that nothing provoked: SO_LINGER {1,0}, application abort"),
    ("unknown_connection", "RST for a connection the sender no longer knows"),
    ("retransmission_timeout", "RST after repeated unacknowledged retransmissions"),
    ("injected", "the RST does not come from the endpoint"),
    ("unknown", "none of the above fits"),
]
V = {name: i for i, (name, _) in enumerate(VERDICTS)}
C = {name: i for i, (name, _) in enumerate(CAUSES)}
WEIGHTS = {
    "tls_clean": 30, "tls_one_sided": 10, "tcp_clean": 10, "tls_truncated": 8,
    "reset": 10, "tls_close_then_reset": 6, "refused": 6, "no_answer": 4,
    "stalled": 2, "open": 5, "half_closed": 3, "tls_handshake_alert": 2,
    "tls_handshake_reset": 2, "tls_handshake_closed": 2,
}
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16
LADDER_ROWS = 12


class Strings:
    def __init__(self):
        self.list, self.index = [], {}

    def __call__(self, s):
        if s is None:
            return -1
        if s not in self.index:
            self.index[s] = len(self.list)
            self.list.append(s)
        return self.index[s]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    st = Strings()
    span_ms = max(60_000.0, n * 20.0)
    servers = ["192.0.2.%d" % i for i in range(1, 120)] + ["2001:db8::%x" % i for i in range(1, 40)]
    snis = ["api.example.com", "www.example.org", "cdn.example.net", None, "auth.example.com",
            "<b>evil&amp;</b>\"'.example"]  # the last one checks escaping
    burst_server = "192.0.2.66"
    names = [v for v, _ in VERDICTS]
    weights = [WEIGHTS[v] for v in names]
    frame = 0
    conns = []
    for cid in range(1, n + 1):
        start = rnd.random() * span_ms
        server = rnd.choice(servers)
        verdict = rnd.choices(names, weights)[0]
        if abs(start - span_ms * 0.66) < span_ms * 0.01 and rnd.random() < 0.7:
            verdict, server = "reset", burst_server  # the burst
        v6 = ":" in server
        client = ("2001:db8:1::%x" % rnd.randrange(1, 5000)) if v6 else "198.51.100.%d" % rnd.randrange(1, 250)
        cport, sport = rnd.randrange(32768, 61000), rnd.choice([443, 443, 443, 8443, 80])
        tls = not verdict.startswith(("tcp_", "refused", "no_answer")) and sport != 80
        if verdict == "tcp_clean":
            sport = 80
        pk = []  # (t_us, dir, flags, len, note)
        t = [0.0]

        def p(d, flags, ln=0, note=None, gap=None):
            t[0] += gap if gap is not None else rnd.expovariate(1 / 300.0)
            pk.append((int(t[0]), d, flags, ln, note))

        rst = None  # (by, cause, confidence, detail)
        cn = [0, 0]
        first_close = -1
        hs = "complete" if tls else None
        http = None
        trunc = 0
        p(0, SYN, gap=0)
        if verdict == "no_answer":
            p(0, SYN, gap=1_000_000)
            p(0, SYN, gap=2_000_000)
            p(0, SYN, gap=4_000_000)
        elif verdict == "refused":
            p(1, RST | ACK)
            rst = (1, "port_closed", "certain", "RST+ACK answering the client's SYN")
            first_close = 1
        else:
            p(1, SYN | ACK)
            p(0, ACK)
            if tls:
                p(0, PSH | ACK, 517)
                p(1, ACK)
            if verdict == "tls_handshake_reset":
                p(1, RST | ACK)
                rst = (1, "handshake_rejected", "probable", "RST+ACK 0.1 ms after the client's ClientHello (517 bytes)")
                hs, first_close = "reset", 1
            elif verdict == "tls_handshake_alert":
                p(1, PSH | ACK, 7, "protocol_version")
                p(1, FIN | ACK)
                p(0, FIN | ACK)
                p(1, ACK)
                hs, first_close = "alert", 1
            elif verdict == "tls_handshake_closed":
                p(1, FIN | ACK, gap=rnd.expovariate(1 / 30000.0))
                p(0, FIN | ACK)
                p(1, ACK)
                hs, first_close = "closed", 1
            else:
                if tls:
                    p(1, PSH | ACK, 1382)
                    p(0, ACK)
                    p(0, PSH | ACK, 80)
                    http = rnd.choice(["complete"] * 6 + ["cut_in_body", "delimited_by_close", "cut_in_headers"])
                for _ in range(rnd.randrange(1, 30)):
                    d = rnd.randrange(2)
                    p(d, PSH | ACK, rnd.randrange(1, 16384), gap=rnd.lognormvariate(7, 2.5))
                    p(1 - d, ACK)
                if verdict == "tls_clean":
                    a = rnd.randrange(2)
                    p(a, PSH | ACK, 24, "close_notify")
                    p(1 - a, PSH | ACK, 24, "close_notify")
                    p(a, FIN | ACK)
                    p(1 - a, FIN | ACK)
                    p(a, ACK)
                    cn, first_close = [2, 2], a
                elif verdict == "tls_one_sided":
                    a = rnd.randrange(2)
                    p(a, PSH | ACK, 24, "close_notify (probable)")
                    p(a, FIN | ACK)
                    p(1 - a, FIN | ACK)
                    p(a, ACK)
                    cn[a], first_close = 1, a
                elif verdict in ("tls_truncated", "tcp_clean"):
                    a = rnd.randrange(2)
                    p(a, FIN | ACK)
                    p(1 - a, FIN | ACK)
                    p(a, ACK)
                    first_close = a
                    trunc = 1 if verdict == "tls_truncated" else 0
                elif verdict == "half_closed":
                    a = rnd.randrange(2)
                    p(a, FIN | ACK)
                    p(1 - a, ACK)
                    first_close = a
                elif verdict == "tls_close_then_reset":
                    p(1, PSH | ACK, 24, "close_notify")
                    p(1, FIN | ACK)
                    p(0, PSH | ACK, 1046)
                    p(1, RST)
                    cn, first_close = [0, 2], 1
                    rst = (1, "data_after_close", "probable",
                           "RST without ACK answering 1046 bytes the client sent after the server's FIN")
                elif verdict == "reset":
                    by = rnd.randrange(2)
                    cause = rnd.choice(["unread_data", "unread_data", "abort", "unknown_connection",
                                        "retransmission_timeout", "injected", "unknown"])
                    if server == burst_server:
                        by, cause = 1, "unknown_connection"
                    if cause == "retransmission_timeout":
                        for k in range(3):
                            p(by, PSH | ACK, 512, gap=200_000 * 2 ** k)
                    p(by, RST | ACK if cause != "unknown_connection" else RST, gap=rnd.expovariate(1 / 500.0))
                    rst = (by, cause, rnd.choice(["probable", "possible"]),
                           "RST %s after %d ms idle; the peer's last %d bytes were acknowledged"
                           % ("+ACK" if cause != "unknown_connection" else "without ACK",
                              rnd.randrange(1, 5000), rnd.randrange(1, 9000)))
                    first_close = by
                elif verdict == "stalled":
                    for k in range(5):
                        p(0, PSH | ACK, 1448, gap=200_000 * 2 ** k)
                # "open": nothing more
        frame += rnd.randrange(1, 50)
        rows = pk[-LADDER_ROWS:]
        first_frame = frame
        frame += len(pk)
        ladder = [len(pk)]
        prev = 0
        for i, (tu, d, fl, ln, note) in enumerate(pk):
            if i >= len(pk) - len(rows):
                ladder += [tu - prev, d, fl, ln, st(note), first_frame + i]
                prev = tu
        end = start + pk[-1][0] / 1000.0
        cb = sum(x[3] for x in pk if x[1] == 0)
        sb = sum(x[3] for x in pk if x[1] == 1)
        vname = verdict
        explain = "Fake: %s%s." % (
            vname, " after %s reset it (%s)" % ("the server" if rst[0] else "the client", rst[1]) if rst else "")
        ws = "(ip.addr eq %s and ip.addr eq %s) and (tcp.port eq %d and tcp.port eq %d)" % (client, server, cport, sport)
        conns.append([
            cid, round(start, 3), round(end, 3), st(client), cport, st(server), sport, V[vname],
            rst[0] if rst else -1, C[rst[1]] if rst else -1, st(rst[2]) if rst else -1,
            st(rst[3]) if rst else -1, first_close,
            st(rnd.choice(["TLS1.3", "TLS1.3", "TLS1.2"]) if tls and hs != "alert" else ("TLS1.2*" if tls else None)),
            st(hs), cn[0], cn[1], trunc, st(rnd.choice(snis)) if tls else -1, cb, sb, st(explain),
            st(http), st("TCP_ABORT_ON_CLOSE") if rst and rnd.random() < 0.05 else -1, st(ws), ladder,
        ])
    conns.sort(key=lambda c: c[1])
    for i, c in enumerate(conns):
        c[0] = i + 1
    doc = {
        "format": "tlsfin-html", "version": 1, "generator": "fakedata.py",
        "inputs": ["fake-%d.pcapng" % n], "t0": 1796034920.780261,
        "verdicts": [v for v, _ in VERDICTS], "causes": [c for c, _ in CAUSES],
        "verdict_text": [t for _, t in VERDICTS], "cause_text": [t for _, t in CAUSES],
        "strings": st.list, "packets": frame, "ladder_rows": LADDER_ROWS, "conns": conns,
    }
    json.dump(doc, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

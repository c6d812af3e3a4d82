#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The HTML report's embedded data says what the JSONL says.

usage: html_check.py TLSFIN CAPTURE...

For each capture: `tlsfin analyze --format=html` gives one page with exactly
one data element; the data is JSON of docs/html.md's version 1; it has the
JSONL's connections in id order with the same endpoints, verdict, RST side,
cause, confidence and detail, first close, TLS version, close_notify,
truncation, explain sentence and wireshark_filter; every ladder holds at
most ladder_rows rows, its last row's frame is the record's last_packet, and
its times add up to the record's last packet.  Nothing in the data can end
the script element early.  The browser test (tests/html) checks the page
itself; this one runs everywhere, also under ASan.
"""
import base64
import gzip
import json
import re
import subprocess
import sys

CN = {"none": 0, "probable": 1, "seen": 2}


def run(args):
    p = subprocess.run(args, capture_output=True)
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)}: exit {p.returncode}: {p.stderr.decode()[:300]}")
    return p.stdout


def side(v):
    return {None: -1, "client": 0, "server": 1}[v]


def check(tlsfin, cap, out):
    page = run([tlsfin, "analyze", "--format=html", cap]).decode("utf-8")
    rows = [json.loads(l) for l in run([tlsfin, "analyze", "--format=jsonl", cap]).splitlines()]
    m = re.findall(r'<script type="application/json" id="tlsfin-data">(.*?)</script>', page, re.S)
    z = re.findall(r'<script type="application/octet-stream" id="tlsfin-data" '
                   r'data-encoding="gzip-base64">([A-Za-z0-9+/=]*)</script>', page, re.S)
    if len(m) + len(z) != 1:
        out.append(f"{cap}: {len(m)} plain and {len(z)} compressed data elements")
        return
    raw = m[0] if m else gzip.decompress(base64.b64decode(z[0], validate=True)).decode("utf-8")
    if "<" in raw and m:
        out.append(f"{cap}: a raw '<' inside the data")
    d = json.loads(raw)
    if d.get("format") != "tlsfin-html" or d.get("version") != 1:
        out.append(f"{cap}: format/version {d.get('format')}/{d.get('version')}")
    S = d["strings"]

    def s(i):
        return None if i == -1 else S[i]

    if [c[0] for c in d["conns"]] != [r["id"] for r in rows]:
        out.append(f"{cap}: ids {[c[0] for c in d['conns']][:10]} != {[r['id'] for r in rows][:10]}")
        return
    for c, r in zip(d["conns"], rows):
        where = f"{cap} conn {r['id']}"
        rst = r["rst"] or {}
        tls = r["tls"] or {}
        want = {
            "client": (s(c[3]), c[4]) == (r["client"]["ip"], r["client"]["port"]),
            "server": (s(c[5]), c[6]) == (r["server"]["ip"], r["server"]["port"]),
            "verdict": d["verdicts"][c[7]] == r["verdict"],
            "rst.by": c[8] == side(rst.get("by")),
            "rst.cause": (d["causes"][c[9]] if c[9] >= 0 else None) == rst.get("cause"),
            "rst.confidence": s(c[10]) == rst.get("confidence"),
            "rst.detail": s(c[11]) == (rst.get("detail") or None),
            "first_close": c[12] == side(r["tcp"]["first_close"]),
            "tls": (c[13] == -1) == (r["tls"] is None),
            "close_notify": (not tls) or (c[15], c[16]) == (CN[tls["close_notify"]["client"]],
                                                           CN[tls["close_notify"]["server"]]),
            "truncated": (not tls) or bool(c[17]) == tls["truncated"],
            "sni": s(c[18]) == (tls.get("sni") if tls else None),
            "bytes": (c[19], c[20]) == (r["tcp"]["bytes"]["client"], r["tcp"]["bytes"]["server"]),
            "explain": s(c[21]) == r["explain"],
            "kernel_reason": s(c[23]) == rst.get("kernel_reason"),
            "wireshark_filter": s(c[24]) == r["wireshark_filter"],
        }
        for k, ok in want.items():
            if not ok:
                out.append(f"{where}: {k} differs")
        lad = c[25]
        nrows = (len(lad) - 1) // 6
        if (len(lad) - 1) % 6 or nrows > d["ladder_rows"]:
            out.append(f"{where}: ladder of {len(lad)} numbers")
            continue
        pk = r["tcp"]["packets"]
        if lad[0] != pk["client"] + pk["server"] or nrows != min(lad[0], d["ladder_rows"]):
            out.append(f"{where}: ladder total {lad[0]}, rows {nrows}, packets {pk}")
        if nrows and lad[6 * nrows] != r["last_packet"]:
            out.append(f"{where}: last ladder frame {lad[6 * nrows]} != last_packet {r['last_packet']}")
        if nrows:
            t = (c[1] * 1e3 + sum(lad[1 + 6 * i] for i in range(nrows))) / 1e6
            if abs((d["t0"] + t) - r["last_ts"]) > 2e-3:
                out.append(f"{where}: ladder ends at {d['t0'] + t:.6f}, last_ts {r['last_ts']}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = []
    for cap in sys.argv[2:]:
        check(sys.argv[1], cap, out)
    for line in out[:40]:
        print(line)
    print(f"{len(sys.argv) - 2} capture(s): {len(out)} difference(s)")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Build the HTML report page from src/html and a data file, as the C build does.

usage: mkpage.py [--encoding auto|plain|gzip] DATA.json > page.html

report.css replaces /*@CSS@*/, report.js replaces /*@JS@*/ and the data goes
in place of <!--@DATA@-->, as docs/html.md says: plain JSON (every '<'
written as \\u003c) up to about 2 MB, gzip + base64 above (--encoding auto,
the default; plain or gzip force one).
The markers are replaced in the template only, never inside the inlined files.
"""
import base64
import gzip
import json
import os
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "html")
MARKERS = ("/*@CSS@*/", "/*@JS@*/", "<!--@DATA@-->")
PLAIN_MAX = 2 << 20


def read(name):
    with open(os.path.join(SRC, name), encoding="utf-8") as f:
        return f.read()


def main():
    args = sys.argv[1:]
    enc = "auto"
    if len(args) == 3 and args[0] == "--encoding" and args[1] in ("auto", "plain", "gzip"):
        enc, args = args[1], args[2:]
    if len(args) != 1:
        sys.exit(__doc__)
    html, css, js = read("report.html"), read("report.css"), read("report.js")
    for m in MARKERS:
        if html.count(m) != 1:
            sys.exit("mkpage: report.html must contain %s exactly once" % m)
    for name, text, bad in (("report.css", css, "</style"), ("report.js", js, "</script")):
        if bad in text.lower() or "<!--" in text:
            sys.exit("mkpage: %s must not contain %s or <!--" % (name, bad))
    with open(args[0], encoding="utf-8") as f:
        data = json.load(f)
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    if enc == "gzip" or (enc == "auto" and len(blob) > PLAIN_MAX):
        b64 = base64.b64encode(gzip.compress(blob.encode("utf-8"), 6)).decode("ascii")
        script = ('<script type="application/octet-stream" id="tlsfin-data" '
                  'data-encoding="gzip-base64">' + b64 + "</script>")
    else:
        script = '<script type="application/json" id="tlsfin-data">' + blob + "</script>"
    parts = {"/*@CSS@*/": css, "/*@JS@*/": js, "<!--@DATA@-->": script}
    out = []
    rest = html
    while True:
        hits = [(rest.find(m), m) for m in MARKERS if rest.find(m) >= 0]
        if not hits:
            break
        pos, m = min(hits)
        out += [rest[:pos], parts[m]]
        rest = rest[pos + len(m):]
    out.append(rest)
    sys.stdout.write("".join(out))


if __name__ == "__main__":
    main()

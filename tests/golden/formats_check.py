#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""--format=zeek and --format=csv say what --format=jsonl says.

usage: formats_check.py TLSFIN CAPTURE...

zeek: a Zeek ASCII log as zeek-cut reads it (the #separator, #fields and
#types header lines, one #fields column per value, #close at the end); each
row's conn_state, history, addresses and tlsfin verdict equal the JSONL
record's.  csv: RFC 4180 as Python's csv module reads it, the header's
columns on every row, the values equal the JSONL record's.
"""
import csv
import io
import json
import subprocess
import sys


def run(t, fmt, cap):
    return subprocess.run([t, "analyze", "--format=" + fmt, cap], capture_output=True,
                          text=True).stdout


def main():
    t, caps = sys.argv[1], sys.argv[2:]
    bad = rows = 0
    for cap in caps:
        recs = [json.loads(l) for l in run(t, "jsonl", cap).splitlines()]
        z = run(t, "zeek", cap).splitlines()
        head = [l for l in z if l.startswith("#")]
        body = [l for l in z if not l.startswith("#")]
        fields = next((l.split("\t")[1:] for l in head if l.startswith("#fields")), None)
        types = next((l.split("\t")[1:] for l in head if l.startswith("#types")), None)
        if not z or z[0] != "#separator \\x09" or not z[-1].startswith("#close") or \
                not fields or not types or len(fields) != len(types):
            print(f"FAIL {cap}: zeek header malformed"); bad += 1; continue
        if len(body) != len(recs):
            print(f"FAIL {cap}: zeek has {len(body)} rows, jsonl {len(recs)}"); bad += 1; continue
        for line, r in zip(body, recs):
            vals = line.split("\t")
            if len(vals) != len(fields):
                print(f"FAIL {cap}: zeek row has {len(vals)} columns, #fields {len(fields)}"); bad += 1
                continue
            row = dict(zip(fields, vals))
            want = {"id.orig_h": r["client"]["ip"], "id.orig_p": str(r["client"]["port"]),
                    "id.resp_h": r["server"]["ip"], "id.resp_p": str(r["server"]["port"]),
                    "conn_state": r["zeek_conn_state"], "history": r["zeek_history"] or "(empty)",
                    "tlsfin_verdict": r["verdict"], "community_id": r["community_id"],
                    "tlsfin_rst_cause": (r["rst"] or {}).get("cause", "-")}
            for k, v in want.items():
                if row[k] != v:
                    print(f"FAIL {cap} id {r['id']}: zeek {k}={row[k]!r}, jsonl {v!r}"); bad += 1
        c = list(csv.DictReader(io.StringIO(run(t, "csv", cap))))
        if len(c) != len(recs):
            print(f"FAIL {cap}: csv has {len(c)} rows, jsonl {len(recs)}"); bad += 1; continue
        for row, r in zip(c, recs):
            rows += 1
            if None in row or None in row.values():
                print(f"FAIL {cap} id {r['id']}: csv row and header differ in length"); bad += 1
                continue
            want = {"id": str(r["id"]), "verdict": r["verdict"], "explain": r["explain"],
                    "zeek_history": r["zeek_history"], "community_id": r["community_id"],
                    "rst_detail": (r["rst"] or {}).get("detail", ""),
                    "tls_sni": ((r["tls"] or {}).get("sni") or ""),
                    "client_missing_bytes": str(r["tcp"]["missing_bytes"]["client"])}
            for k, v in want.items():
                if row[k] != v:
                    print(f"FAIL {cap} id {r['id']}: csv {k}={row[k]!r}, jsonl {v!r}"); bad += 1
    print(f"{rows} connections in {len(caps)} captures compared across jsonl, zeek and csv: "
          f"{bad} problem(s)")
    sys.exit(1 if bad or not rows else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Run Zeek's own btest traces through `tlsfin analyze` and compare the
zeek_conn_state / zeek_history fields with Zeek's committed baselines.

usage: zeek_baselines.py TLSFIN TESTS_ZEEK_DIR

TESTS_ZEEK_DIR/expected.tsv has the columns
  trace orig_h orig_p resp_h resp_p conn_state history
copied from Zeek's baseline conn.log files ("-" where a baseline does not
print that column) (see tests/zeek/README.md); the
traces are in TESTS_ZEEK_DIR/traces/.  A connection is matched by its
unordered 4-tuple (and, for port reuse, in order of appearance).
"""
import collections
import json
import os
import subprocess
import sys


def main():
    tlsfin, zdir = sys.argv[1], sys.argv[2]
    rows = []
    with open(os.path.join(zdir, "expected.tsv"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "trace":
                continue
            rows.append(parts)
    by_trace = collections.defaultdict(list)
    for r in rows:
        by_trace[r[0]].append(r)
    fails = 0
    checked = 0
    for trace, exp in sorted(by_trace.items()):
        path = os.path.join(zdir, "traces", trace)
        p = subprocess.run([tlsfin, "analyze", "--format=jsonl", path],
                           capture_output=True, text=True)
        if p.returncode not in (0, 1):
            print(f"FAIL {trace}: tlsfin exited {p.returncode}: {p.stderr.strip()}")
            fails += len(exp)
            continue
        got = collections.defaultdict(list)
        for line in p.stdout.splitlines():
            o = json.loads(line)
            key = frozenset([(o["client"]["ip"], int(o["client"]["port"])),
                             (o["server"]["ip"], int(o["server"]["port"]))])
            got[key].append(o)
        for r in exp:
            _, oh, op, rh, rp, state, hist = r[:7]
            key = frozenset([(oh, int(op)), (rh, int(rp))])
            checked += 1
            if not got[key]:
                print(f"FAIL {trace} {oh}:{op} -> {rh}:{rp}: no such connection in tlsfin output")
                fails += 1
                continue
            o = got[key].pop(0)
            # "-" in expected.tsv: that baseline does not print the column
            if (state != "-" and o["zeek_conn_state"] != state) or \
                    (hist != "-" and o["zeek_history"] != hist):
                print(f"FAIL {trace} {oh}:{op} -> {rh}:{rp}: want {state} {hist}, "
                      f"got {o['zeek_conn_state']} {o['zeek_history']}")
                fails += 1
            else:
                print(f"ok   {trace} {oh}:{op} -> {rh}:{rp}: {state} {hist}")
    print(f"{checked - fails} passed, {fails} failed")
    return 1 if fails or not checked else 0


if __name__ == "__main__":
    sys.exit(main())

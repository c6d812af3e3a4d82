#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Compare `tlsfin analyze --format=jsonl` output with a capture's labels.

usage: compare.py ACTUAL.jsonl EXPECT.jsonl

EXPECT holds one object per connection with "id" and any subset of the
TAXONOMY fields, nested as in the contract.  Every key present in the
expectation must equal the analyzer's value at the same path; lists must have
the same length and match element-wise the same way.  "peer_report" and keys
starting with "_" are informational and not compared.  Connections missing
from the expectation are not checked, but the expectation may say how many
connections there are with a first line {"_connections": N}.

Where real peers race (which side's FIN leaves first is up to the scheduler),
an expectation may carry "_one_of": [ALT, ...]: besides its other keys, the
connection must match at least one ALT entirely.  Each ALT is a complete,
consistent outcome; the analyzer may not mix fields of two of them.
Exit 0 when everything matches, 1 with one line per difference otherwise.
"""
import json
import sys

SKIP = {"peer_report"}


def diff(exp, act, path, out):
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            out.append(f"{path}: expected an object {json.dumps(exp)}, got {json.dumps(act)}")
            return
        for k, v in exp.items():
            if k in SKIP or k.startswith("_"):
                continue
            if k not in act:
                out.append(f"{path}.{k}: missing (expected {json.dumps(v)})")
                continue
            diff(v, act[k], f"{path}.{k}", out)
    elif isinstance(exp, list):
        if not isinstance(act, list) or len(act) != len(exp):
            out.append(f"{path}: expected {json.dumps(exp)}, got {json.dumps(act)}")
            return
        for i, (e, a) in enumerate(zip(exp, act)):
            diff(e, a, f"{path}[{i}]", out)
    elif exp != act:
        out.append(f"{path}: expected {json.dumps(exp)}, got {json.dumps(act)}")


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"{path}:{n}: not JSON: {e}")
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    actual = load(sys.argv[1])
    expect = load(sys.argv[2])
    by_id = {}
    for row in actual:
        if "id" not in row:
            sys.exit(f"{sys.argv[1]}: a record without id")
        by_id[row["id"]] = row
    out = []
    if [r["id"] for r in actual] != list(range(1, len(actual) + 1)):
        out.append("ids are not 1..N in order")
    for exp in expect:
        if "_connections" in exp:
            if exp["_connections"] != len(actual):
                out.append(f"expected {exp['_connections']} connections, got {len(actual)}")
            continue
        cid = exp.get("id")
        if cid not in by_id:
            out.append(f"connection {cid}: missing from the output")
            continue
        before = len(out)
        diff(exp, by_id[cid], f"conn {cid}", out)
        alts = exp.get("_one_of")
        if alts:
            tried = []
            for alt in alts:
                one = []
                diff(alt, by_id[cid], f"conn {cid}", one)
                if not one:
                    break
                tried.append(one)
            else:
                for i, one in enumerate(tried, 1):
                    out.extend(f"{line} (outcome {i} of {len(alts)})" for line in one)
        if len(out) > before and "peer_report" in exp:
            out.append(f"conn {cid}: (peer reported: {exp['peer_report']})")
    for line in out:
        print(line)
    print(f"{len(expect) - sum(1 for e in expect if '_connections' in e)} expected connection(s), "
          f"{len(out)} difference(s)")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main())

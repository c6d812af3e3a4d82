#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Every record tlsfin writes follows docs/tlsfin.schema.json.

usage: schema_check.py TLSFIN SCHEMA TAXONOMY_H CAPTURE...

Runs `tlsfin analyze --format=jsonl` on each capture (with CAPTURE.keys or
BASE.keys beside it when there is one), validates every line against the
schema (JSON Schema 2020-12, strict: no undocumented key), and checks that
the schema's verdict, cause, confidence and alert names are exactly those of
include/tlsfin/taxonomy.h, so the contract cannot drift from the code.
"""
import json
import os
import re
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    # Debian's python3-jsonschema is for /usr/bin/python3 (scripts/setup)
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("schema_check: python3-jsonschema is not installed (apt-get install python3-jsonschema)")


def names(header, mapname, pat=r'X\(\w+,\s*"([a-z_]+)"'):
    block = header[header.index("#define " + mapname):]
    block = block[: block.index("\n\n")]
    return re.findall(pat, block)


def main():
    tlsfin, schema_path, taxonomy, caps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    schema = json.load(open(schema_path))
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    h = open(taxonomy).read()
    props = schema["properties"]
    tls = props["tls"]["anyOf"][1]["properties"]
    rst = props["rst"]["anyOf"][1]["properties"]
    want = {
        "verdict": (props["verdict"]["enum"], names(h, "TLSFIN_VERDICT_MAP")),
        "cause": (rst["cause"]["enum"], names(h, "TLSFIN_CAUSE_MAP")),
        "confidence": (rst["confidence"]["enum"], names(h, "TLSFIN_CONFIDENCE_MAP")),
        "alert": (tls["alerts"]["items"]["properties"]["description"]["anyOf"][1]["enum"],
                  names(h, "TLSFIN_ALERT_MAP", r'X\(\d+,\s*"([a-z_]+)"')),
    }
    bad = 0
    for what, (in_schema, in_code) in want.items():
        if in_schema != in_code:
            print(f"FAIL schema {what} names differ from taxonomy.h: {in_schema} vs {in_code}")
            bad += 1
    rows = 0
    for cap in caps:
        base = re.sub(r"\.(pcapng|pcap)$", "", cap)
        args = [tlsfin, "analyze", "--format=jsonl"]
        for k in (cap + ".keys", base + ".keys"):
            if os.path.exists(k):
                args += ["--keylog", k]
                break
        out = subprocess.run(args + [cap], capture_output=True, text=True)
        for n, line in enumerate(out.stdout.splitlines(), 1):
            rows += 1
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"FAIL {cap} line {n}: not JSON: {e}")
                bad += 1
                continue
            for err in v.iter_errors(rec):
                print(f"FAIL {cap} line {n}: {'/'.join(map(str, err.path))}: {err.message[:200]}")
                bad += 1
    print(f"{rows} records from {len(caps)} captures checked against {os.path.basename(schema_path)}: "
          f"{bad} problem(s)")
    sys.exit(1 if bad or not rows else 0)


if __name__ == "__main__":
    main()

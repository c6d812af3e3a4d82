#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Every tlsfin metric, label and label value that the Prometheus examples use
is one that tlsfin watch exports.

  check_metric_names.py METRICS_C SCHEMA [--scrape FILE] FILE...

METRICS_C: src/watch/metrics.c (the names are read from its help() calls and
its exposition format strings). SCHEMA: docs/tlsfin.schema.json (the values of
cause= and verdict=). --scrape FILE: a live /metrics answer of tlsfin watch;
every metric name used must also be in it. FILEs: rules, unit tests, config,
docs. Recording-rule names (with a colon) must be recorded by a rule file
among the FILEs.
"""
import json
import re
import sys

# labels Prometheus itself attaches to every scraped series (prometheus.yml)
TARGET_LABELS = {"job", "instance", "env"}
TOKEN = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^{}]*)\}")
MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*'
                     r'(?:"((?:[^"\\]|\\.)*)"|\\"((?:[^"\\]|\\.)*)\\")\s*,?')


def exported(metrics_c):
    src = open(metrics_c, encoding="utf-8").read()
    names = set(re.findall(r'help\(b,\s*"(tlsfin_[a-z0-9_]+)"', src))
    labels = {n: set() for n in names}
    values = {}
    for name, body in re.findall(r'"(tlsfin_[a-z0-9_]+)\{([^}"]*(?:\\"[^"]*\\"[^}"]*)*)\}', src):
        for lab, val in re.findall(r'([a-z_]+)=\\"([^\\]*)\\"', body):
            labels.setdefault(name, set()).add(lab)
            if "%" not in val:
                values.setdefault(lab, set()).add(val)
    if len(names) < 10:
        raise SystemExit("%s: found only %d metric names: has the file changed shape?"
                         % (metrics_c, len(names)))
    return names, labels, values


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    metrics_c, schema_path, rest = argv[0], argv[1], argv[2:]
    scrape = None
    if rest[:1] == ["--scrape"]:
        scrape, rest = rest[1], rest[2:]
    names, labels, values = exported(metrics_c)
    schema = json.load(open(schema_path, encoding="utf-8"))
    rst = [a for a in schema["properties"]["rst"]["anyOf"] if a.get("type") == "object"][0]
    values["cause"] = set(rst["properties"]["cause"]["enum"])
    values["verdict"] = set(schema["properties"]["verdict"]["enum"])
    values["by"] = set(rst["properties"]["by"]["enum"])
    live = None
    if scrape:
        live = set()
        for line in open(scrape, encoding="utf-8"):
            m = re.match(r"(tlsfin_[a-z0-9_]+)[{ ]", line)
            if m:
                live.add(m.group(1))
        if not live:
            raise SystemExit("%s: no tlsfin_ sample in the scrape" % scrape)

    texts = {f: open(f, encoding="utf-8").read() for f in rest}
    recorded = set()
    for t in texts.values():
        recorded |= set(re.findall(r"^\s*-?\s*record:\s*([A-Za-z_:][A-Za-z0-9_:]*)", t, re.M))

    bad, used = [], set()
    for f, t in texts.items():
        for tok in set(TOKEN.findall(t)):
            if "tlsfin_" not in tok:
                continue
            if ":" in tok:
                if tok not in recorded:
                    bad.append("%s: %s is not recorded by any rule" % (f, tok))
                continue
            if not tok.startswith("tlsfin_") or tok.endswith("_"):
                continue
            used.add(tok)
            if tok not in names:
                bad.append("%s: %s is not a metric of src/watch/metrics.c" % (f, tok))
            elif live is not None and tok not in live:
                bad.append("%s: %s is not in the live scrape" % (f, tok))
        for metric, body in SELECTOR.findall(t):
            if not metric.startswith("tlsfin_") or metric not in names:
                continue
            for m in MATCHER.finditer(body):
                lab, op, val = m.group(1), m.group(2), m.group(3) or m.group(4) or ""
                if lab in TARGET_LABELS:
                    continue
                if lab not in labels.get(metric, ()):
                    bad.append("%s: %s has no label %s" % (f, metric, lab))
                    continue
                if op in ("=", "!=") and lab in values and val not in values[lab]:
                    if not (lab == "server" and re.match(r"^(\[[0-9a-f:]+\]|[0-9.]+):\d+$", val)):
                        bad.append("%s: %s{%s=\"%s\"}: no such %s" % (f, metric, lab, val, lab))
    for b in sorted(set(bad)):
        print("FAIL: " + b, file=sys.stderr)
    if bad:
        return 1
    print("ok: %d tlsfin metric names used (%s), all exported%s; %d recording rules"
          % (len(used), ", ".join(sorted(used)),
             " and in the live scrape" if live is not None else "", len(recorded)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

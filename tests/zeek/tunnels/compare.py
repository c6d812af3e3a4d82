#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Zeek's tunnel traces through `tlsfin analyze`: the TCP connections tlsfin
finds inside them must be those of Zeek's conn.log baselines (endpoints and
count), and the tunnels it names must be among those of Zeek's tunnel.log.

usage: compare.py TLSFIN DIR     (DIR: tests/zeek/tunnels; README.md there)

A connection is matched by its unordered endpoint pair; a pair Zeek logs N
times must be found N times.  KNOWN lists where tlsfin differs by design.
"""
import collections
import json
import os
import subprocess
import sys

# Zeek's Tunnel:: names -> tlsfin's tunnel types (Zeek logs ERSPAN and PPTP
# as GRE, IP-in-IP as IP).
ZEEK_TYPES = {"Tunnel::IP": {"ipip"}, "Tunnel::GRE": {"gre", "erspan"},
              "Tunnel::VXLAN": {"vxlan"}, "Tunnel::GENEVE": {"geneve"},
              "Tunnel::GTPv1": {"gtpu"}, "Tunnel::TEREDO": {"teredo"},
              "Tunnel::AYIYA": {"ayiya"}}

# Differences by design, none of them about tunnels: where Zeek's rules for
# when a connection ends and a new one starts differ from tlsfin's
# (docs/analyze.md, "Roles and connections"), the pair is still found but
# not as often.  trace -> (why, {pair: how many records tlsfin writes}).
KNOWN = {
    "Teredo.pcap": (
        "plain IPv4 beside the Teredo traffic: where Zeek ends a connection after "
        "its first packets and logs the FIN or lone RST that follows as one of its "
        "own (its SH and OTH rows), tlsfin keeps them in one record",
        {frozenset([("192.168.2.16", 1576), ("75.126.130.163", 80)]): 2,
         frozenset([("192.168.2.16", 1577), ("75.126.203.78", 80)]): 2}),
}


def pair(a, ap, b, bp):
    return frozenset([(a, int(ap)), (b, int(bp))])


def main():
    tlsfin, d = sys.argv[1], sys.argv[2]
    want = collections.OrderedDict()
    types = {}
    with open(os.path.join(d, "expected.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or line.startswith("trace\t") or not line.strip():
                continue
            trace, oh, op, rh, rp, ty = line.rstrip("\n").split("\t")
            want.setdefault(trace, collections.Counter())
            if oh != "-":
                want[trace][pair(oh, op, rh, rp)] += 1
            allowed = set()
            for t in ty.split(","):
                allowed |= ZEEK_TYPES.get(t, set())
            types[trace] = allowed if ty != "-" else None
    fails = 0
    for trace, exp in want.items():
        p = subprocess.run([tlsfin, "analyze", "--format=jsonl",
                            os.path.join(d, "traces", trace)], capture_output=True, text=True)
        got = collections.Counter()
        bad_types = set()
        for line in p.stdout.splitlines():
            o = json.loads(line)
            got[pair(o["client"]["ip"], o["client"]["port"], o["server"]["ip"],
                     o["server"]["port"])] += 1
            for layer in o["tunnel"] or []:
                if types[trace] is not None and layer["type"] not in types[trace]:
                    bad_types.add(layer["type"])
        if trace in KNOWN:
            exp = exp.copy()
            exp.update({k: n - exp[k] for k, n in KNOWN[trace][1].items()})
        desc = ", ".join(f"{'/'.join(f'{a}:{b}' for a, b in sorted(k))} x{n}"
                         for k, n in sorted(exp.items(), key=str)) or "no TCP"
        if got != exp or bad_types:
            fails += 1
            print(f"FAIL {trace}: want {desc}")
            for k in set(got) | set(exp):
                if got[k] != exp[k]:
                    print(f"     {sorted(k)}: zeek {exp[k]}, tlsfin {got[k]}")
            if bad_types:
                print(f"     tunnel types {sorted(bad_types)} not in Zeek's tunnel.log")
            if p.stderr.strip():
                print("     stderr: " + p.stderr.strip().replace("\n", "\n     "))
        else:
            note = f" ({KNOWN[trace][0]})" if trace in KNOWN else ""
            print(f"ok   {trace}: {desc}{note}")
    print(f"{len(want) - fails} traces agree, {fails} differ")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Score `tlsfin analyze` against Zeek's own btest baselines.

usage: zeek_baselines.py TLSFIN TESTS_ZEEK_DIR [--verbose] [--no-thresholds]

TESTS_ZEEK_DIR/expected.tsv (written by tests/zeek/import.py from Zeek's
committed baselines, see tests/zeek/README.md) has the columns
  trace test uid orig_h orig_p resp_h resp_p conn_state history options
("-" where a baseline does not print that column); the traces are in
TESTS_ZEEK_DIR/traces/.  Each trace is run once per distinct zeek -f
filter (passed to tlsfin as --filter) and checksum mode: a test that runs
Zeek without -C (and without ignore_checksums / ignore_checksums_nets, see
checksums()) is analyzed with --zeek-checksums.  A tlsfin record stands for one or
more Zeek rows: `zeek_rows` when not null, else (zeek_conn_state,
zeek_history).  Zeek rows are matched by unordered 4-tuple, in order of
appearance (port reuse, Zeek's timer splits); rows without a 4-tuple (a
zeek-cut of uid/history only) match when the trace has one TCP 4-tuple.

TESTS_ZEEK_DIR/exceptions.tsv lists the fields of rows that differ only
because a Zeek script changes the analysis (an application analyzer's X,
skip_further_processing, which scripts `zeek -b` loads): columns
  trace test uid orig_h orig_p resp_h resp_p options field why
(the first eight as in expected.tsv, compared as strings, options `*`: any;
field conn_state, history or rows).

Prints a table per trace and the totals of agreeing rows for conn_state,
history and row counts (Zeek rows per 4-tuple == tlsfin's): raw, and over
the fields not excepted.  Exits 1 when a total over the fields not excepted
falls below THRESHOLDS, or a raw one below RAW_THRESHOLDS (the levels
reached; raise them, never lower them).
"""
import collections
import json
import os
import subprocess
import sys

# agreeing rows / 4-tuples reached over the fields not excepted, and raw;
# a regression below these fails the test
THRESHOLDS = {"conn_state": 248, "history": 308, "rowcount": 275}
RAW_THRESHOLDS = {"conn_state": 248, "history": 308, "rowcount": 275}
KEYS = ["trace", "test", "uid", "oh", "op", "rh", "rp"]


def load(zdir):
    rows = []
    with open(os.path.join(zdir, "expected.tsv"), encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            p = line.rstrip("\n").split("\t")
            if p[0] == "trace":
                continue
            if len(p) == 7:  # old layout: trace orig_h orig_p resp_h resp_p state hist
                p = [p[0], "-", "-"] + p[1:] + ["-"]
            rows.append(dict(zip(["trace", "test", "uid", "oh", "op", "rh", "rp",
                                  "state", "hist", "opts"], p)))
    return rows


def load_exceptions(zdir):
    """{(trace, test, uid, oh, op, rh, rp, options, field): why}"""
    exc = {}
    path = os.path.join(zdir, "exceptions.tsv")
    if not os.path.exists(path):
        return exc
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            p = line.rstrip("\n").split("\t")
            if p[0] == "trace":
                continue
            if len(p) != 10 or p[8] not in ("conn_state", "history", "rows") or not p[9].strip():
                sys.exit(f"{path}:{n}: want 10 columns: trace test uid orig_h orig_p "
                         f"resp_h resp_p options conn_state|history|rows why")
            exc[tuple(p[:9])] = p[9]
    return exc


def checksums(opts):
    """Does Zeek verify checksums in this run?  Not with -C or
    ignore_checksums=T.  ignore_checksums_nets is taken as -C: tlsfin has no
    such option, and the nets of the only test using it cover every
    bad-checksum sender of its trace (tests/zeek/README.md)."""
    o = opts.split(",")
    return "-C" not in o and "ignore_checksums" not in opts


def bpf_of(opts):
    for o in opts.split(","):
        if o.startswith("-f "):
            return o[3:]
    return None


def zeek_rows(o):
    zr = o.get("zeek_rows")
    if zr:
        return [(r["conn_state"], r["history"]) for r in zr]
    return [(o["zeek_conn_state"], o["zeek_history"])]


def match_key(r, got):
    """The tlsfin 4-tuple of an expected row, or None."""
    fields = [(r["oh"], r["op"]), (r["rh"], r["rp"])]
    if all(v != "-" for f in fields for v in f):
        return frozenset([(r["oh"], int(r["op"])), (r["rh"], int(r["rp"]))])
    if all(v == "-" for f in fields for v in f):
        return next(iter(got)) if len(got) == 1 else None

    def fits(key):
        a, b = sorted(key)
        for x, y in ((a, b), (b, a)):
            if all(want in ("-", str(have)) for want, have in
                   zip((r["oh"], r["op"], r["rh"], r["rp"]), x + y)):
                return True
        return False
    cands = [k for k in got if fits(k)]
    return cands[0] if len(cands) == 1 else None


def run(tlsfin, path, bpf, csum):
    cmd = [tlsfin, "analyze", "--format=jsonl", path]
    if bpf:
        cmd.insert(2, "--filter=" + bpf)
    if csum:
        cmd.insert(2, "--zeek-checksums")
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode not in (0, 1):
        return None, p.stderr.strip()
    got = collections.OrderedDict()
    for line in p.stdout.splitlines():
        o = json.loads(line)
        if o.get("transport", "tcp") != "tcp":
            continue
        key = frozenset([(o["client"]["ip"], int(o["client"]["port"])),
                         (o["server"]["ip"], int(o["server"]["port"]))])
        got.setdefault(key, []).extend(zeek_rows(o))
    return got, None


def main():
    tlsfin, zdir = sys.argv[1], sys.argv[2]
    verbose = "--verbose" in sys.argv
    rows = load(zdir)
    exc = load_exceptions(zdir)
    used = set()

    def excepted(r, field):
        for opts in (r["opts"], "*"):
            k = tuple(r[c] for c in KEYS) + (opts, field)
            if k in exc:
                used.add(k)
                return exc[k]
        return None

    # one group per Zeek run: trace, filter, test and its options
    groups = collections.OrderedDict()
    for r in rows:
        groups.setdefault((r["trace"], bpf_of(r["opts"]), r["test"], r["opts"]), []).append(r)
    tot = collections.Counter()
    table = []
    cache = {}
    unreadable = []
    stale = []

    def score(c, name, ok, why, msg):
        """One compared field: raw, and over the fields not excepted."""
        c[name + "_n"] += 1
        c[name] += ok
        if why is None:
            c["x" + name + "_n"] += 1
            c["x" + name] += ok
        elif ok:
            stale.append(msg() + " agrees now")
        if not ok and verbose:
            print(msg() + (f"  [excepted: {why}]" if why else ""))

    for (trace, bpf, test, opts), exp in groups.items():
        csum = checksums(opts)
        if (trace, bpf, csum) not in cache:
            cache[(trace, bpf, csum)] = run(tlsfin, os.path.join(zdir, "traces", trace), bpf,
                                            csum)
        got, err = cache[(trace, bpf, csum)]
        c = collections.Counter()
        if got is None:
            # a link type tlsfin does not decode (FDDI, PPP, ...): not scored
            unreadable.append(f"{trace} ({test}, {len(exp)} rows): {err}")
            continue
        by_key = collections.OrderedDict()
        for r in exp:
            by_key.setdefault(match_key(r, got), []).append(r)
        for key, ers in by_key.items():
            if key is None:
                # no usable 4-tuple: compare the multisets of (state, history)
                # of these rows and of tlsfin's records not matched otherwise
                rest = collections.Counter(
                    g for k, v in got.items() if k not in by_key for g in v)
                for r in ers:
                    c["rows"] += 1
                    for col, name in (("state", "conn_state"), ("hist", "history")):
                        if r[col] == "-":
                            continue
                        hit = [g for g in rest if rest[g] and
                               (r["state"] == "-" or g[0] == r["state"]) and
                               (r["hist"] == "-" or g[1] == r["hist"])]
                        score(c, name, bool(hit), excepted(r, name),
                              lambda r=r: f"DIFF {trace} [{r['test']}] uid {r['uid']}: Zeek "
                              f"{r['state']} {r['hist']} not among tlsfin's unmatched records")
                    hit = [g for g in rest if rest[g] and (r["state"] == "-" or g[0] == r["state"])
                           and (r["hist"] == "-" or g[1] == r["hist"])]
                    if hit:
                        rest[hit[0]] -= 1
                continue
            mine = list(got.get(key, []))
            why = None
            for r in ers:
                why = why or excepted(r, "rows")
            score(c, "rowcount", len(mine) == len(ers), why,
                  lambda ers=ers, mine=mine: f"ROWS {trace} {ers[0]['oh']}:{ers[0]['op']} -> "
                  f"{ers[0]['rh']}:{ers[0]['rp']}: Zeek {len(ers)} rows, tlsfin {len(mine)}")
            c["tuples"] += 1
            for i, r in enumerate(ers):
                c["rows"] += 1
                g = mine[i] if i < len(mine) else None
                for col, idx, name in (("state", 0, "conn_state"), ("hist", 1, "history")):
                    if r[col] == "-":
                        continue
                    score(c, name, g is not None and g[idx] == r[col], excepted(r, name),
                          lambda r=r, i=i, g=g, col=col, idx=idx, name=name:
                          f"DIFF {trace} [{r['test']}] {r['oh']}:{r['op']} -> "
                          f"{r['rh']}:{r['rp']} #{i}: {name} Zeek {r[col]} tlsfin "
                          f"{g[idx] if g else '(none)'}")
        tot.update(c)
        label = f"{trace} {test}" + (f" [-f {bpf}]" if bpf else "")
        if len([k for k in groups if k[0] == trace and k[2] == test]) > 1:
            label += f" [{opts}]"
        table.append((label, c))
    w = max(len(t) for t, _ in table)
    print(f"{'trace':<{w}}  {'rows':>5}  {'conn_state':>11}  {'history':>11}  {'row count':>11}")

    def frac(a, b):
        return f"{a}/{b}" if b else "-"
    for t, c in table:
        print(f"{t:<{w}}  {c['rows']:>5}  {frac(c['conn_state'], c['conn_state_n']):>11}  "
              f"{frac(c['history'], c['history_n']):>11}  {frac(c['rowcount'], c['rowcount_n']):>11}")

    def pct(a, b):
        return f"{100.0 * a / b:.1f}%" if b else "-"
    for label, x in (("TOTAL", ""), ("not excepted", "x")):
        print(f"{label:<{w}}  {tot['rows'] if not x else '':>5}  "
              f"{frac(tot[x + 'conn_state'], tot[x + 'conn_state_n']):>11}  "
              f"{frac(tot[x + 'history'], tot[x + 'history_n']):>11}  "
              f"{frac(tot[x + 'rowcount'], tot[x + 'rowcount_n']):>11}")
        print(f"{'':<{w}}  {'':>5}  {pct(tot[x + 'conn_state'], tot[x + 'conn_state_n']):>11}  "
              f"{pct(tot[x + 'history'], tot[x + 'history_n']):>11}  "
              f"{pct(tot[x + 'rowcount'], tot[x + 'rowcount_n']):>11}")
    print(f"excepted (tests/zeek/exceptions.tsv): {len(exc)} fields")
    for u in unreadable:
        print(f"not scored, tlsfin cannot read it: {u}")
    for k in sorted(set(exc) - used):
        print(f"WARNING: exception matches no row: {' '.join(k)}")
    for m in stale:
        print(f"WARNING: excepted field {m}: remove the exception")
    if "--no-thresholds" in sys.argv:
        return 0
    bad = False
    for lim, x, what in ((THRESHOLDS, "x", "over the fields not excepted"),
                         (RAW_THRESHOLDS, "", "raw")):
        for k, v in lim.items():
            if tot[x + k] < v:
                print(f"FAIL: {k} agreement {what} {tot[x + k]} below the threshold {v}")
                bad = True
    return 1 if bad or not tot["rows"] else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Import Zeek's btest baselines with TCP conn_state/history into
tests/zeek/expected.tsv and copy the traces they read into tests/zeek/traces/.

usage: import.py [ZEEK_GIT_DIR]   (default /work/.mirror/zeek+zeek/repo)

Reads only the zeek repository (HEAD), nothing from tlsfin.  Steps:
 1. every blob under testing/btest/Baseline/ whose column header (a
    `#fields` line, or the bare header zeek-cut -m/-c prints) names
    conn_state or history; rows whose proto is tcp (or, without a proto
    column, whose history has a TCP letter) are kept;
 2. the test that produced it: testing/btest/<dir, dots -> slashes>[.zeek];
    its `@TEST-EXEC: zeek ... -r $TRACES/X` line before the first line that
    names the baseline file gives trace and options (-C, -b, -f, redefs of
    timeouts / delays / checksum handling found in the test);
 3. traces under Traces/tunnels/ are left out (tests/zeek/tunnels/ has them);
    traces >= 2 MB, or beyond a 15 MB total (smallest first), are skipped and
    listed in skipped.tsv.
Rows repeated by several tests over the same trace and options are kept
once (first test by name).
"""
import os
import re
import shlex
import subprocess
import sys

GIT = sys.argv[1] if len(sys.argv) > 1 else "/work/.mirror/zeek+zeek/repo"
HERE = os.path.dirname(os.path.abspath(__file__))
MAX_TRACE = 2 * 1024 * 1024
MAX_TOTAL = 15 * 1024 * 1024
TCP_LETTERS = set("SHAFRshafr^")
# redefs / options that change TCP state or history (recorded in "options")
STATE_REDEF = re.compile(
    r"redef\s+((?:\w+::)?(?:tcp_\w+|\w*_inactivity_timeout|\w*_attempt_delay|"
    r"\w*_close_delay|\w*_reset_delay|\w*_partial_close_delay|"
    r"ignore_checksums\w*|detect_filtered_trace|report_gaps_for_partial|"
    r"likely_server_ports|table_expire_interval|max_timer_expires|"
    r"\w*_storm\w*|\w*_content_deliver\w*|\w*session_timer\w*))\s*[+-]?=\s*([^;]*);")


# tests whose scripts change what the TCP analysis sees (documented in the
# README instead of imitated)
SCRIPT_ALTERED = {
    "core.pcap.dynamic-filter": "installs packet filters while reading",
}


# traces tlsfin cannot read: not copied (the golden format tests read every
# file in traces/), listed in skipped.tsv
UNREADABLE = {
    "llc.pcap": "FDDI link type, which tlsfin does not decode",
    "ldap/gap-data-missing.pcapng": "pcapng interfaces with different snapshot lengths "
                                    "(tlsfin rejects it)",
}


def git(*args, binary=False):
    out = subprocess.run(["git", "--git-dir=" + GIT] + list(args),
                         capture_output=True, check=False).stdout
    return out if binary else out.decode("utf-8", "replace")


def blobs(prefix):
    res = {}
    for line in git("ls-tree", "-r", "-l", "HEAD", prefix).splitlines():
        meta, path = line.split("\t", 1)
        mode, typ, sha, size = meta.split()
        if typ == "blob":
            res[path] = (sha, int(size) if size.isdigit() else 0)
    return res


def cat_batch(shas):
    """sha -> bytes (None when the blob is missing from the mirror)."""
    p = subprocess.run(["git", "--git-dir=" + GIT, "cat-file", "--batch"],
                       input=("\n".join(shas) + "\n").encode(),
                       capture_output=True, check=False)
    data, pos, out = p.stdout, 0, {}
    for sha in shas:
        nl = data.index(b"\n", pos)
        hdr = data[pos:nl].split()
        if hdr[1] == b"missing":
            out[sha] = None
            pos = nl + 1
            continue
        size = int(hdr[2])
        out[sha] = data[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
    return out


def parse_table(text):
    """Rows (dicts) of a Zeek ASCII log, or zeek-cut output with a header."""
    lines = [l for l in text.split("\n") if not l.startswith("### ")]
    cols, rows = None, []
    for l in lines:
        if l.startswith("#fields"):
            cols = l.split("\t")[1:]
            continue
        if l.startswith("#") or not l.strip():
            continue
        if cols is None:
            hdr = l.split("\t") if "\t" in l else l.split()
            if "history" in hdr or "conn_state" in hdr:
                cols = hdr
            else:
                return None
            continue
        vals = l.split("\t") if "\t" in l else l.split()
        if len(vals) != len(cols):
            continue
        rows.append(dict(zip(cols, vals)))
    if cols is None or not ("history" in cols or "conn_state" in cols):
        return None
    return rows


def is_tcp(r):
    if "proto" in r:
        return r["proto"] == "tcp"
    h = r.get("history", "-")
    return h not in ("-", "") and bool(set(h) & TCP_LETTERS)


def find_test(tests, bdir):
    base = "testing/btest/" + bdir.replace(".", "/")
    for ext in (".zeek", ".test", ".bro", ".sh", ".spicy", ".py", ""):
        if base + ext in tests:
            return base + ext
    # dashes/dots inside a file name: try progressively keeping dots
    parts = bdir.split(".")
    for i in range(len(parts) - 1, 0, -1):
        cand = "testing/btest/" + "/".join(parts[:i]) + "/" + ".".join(parts[i:])
        for ext in (".zeek", ".test", ""):
            if cand + ext in tests:
                return cand + ext
    return None


EXEC = re.compile(r"@TEST-EXEC(?:-FAIL)?:\s*(.*)")
ZRUN = re.compile(r"""(?:^|[\s;&|(])zeek\s+((?:[^|;>"']|"[^"]*"|'[^']*')*?)-r\s+"?\$\{?TRACES\}?/([^\s"]+)"?((?:[^|;>"']|"[^"]*"|'[^']*')*)""")


def trace_for(test_text, fname):
    """(trace, zeek options) of the run that produced baseline `fname`."""
    runs_before, first_ref = [], None
    execs = [m.group(1) for m in map(EXEC.search, test_text.splitlines()) if m]
    stem = fname.split("/")[-1]
    for i, cmd in enumerate(execs):
        m = ZRUN.search(cmd)
        if m:
            runs_before.append((i, m.group(2), (m.group(1) + " " + m.group(3))))
        if first_ref is None and re.search(r"(^|[\s/>])" + re.escape(stem) + r"($|[\s;|])", cmd):
            first_ref = i
        # btest-diff DIR/conn.log is stored as DIR.conn.log: the run is the
        # last one before the logs were moved into DIR ("mkdir DIR && mv
        # *log DIR")
        d = stem.split(".", 1)[0] if stem.count(".") >= 2 else None
        if (first_ref is None and d and re.search(r"\b(mv|mkdir)\b", cmd)
                and re.search(r"(^|\s)" + re.escape(d) + r"($|[\s;/])", cmd)):
            first_ref = i
    if not runs_before:
        return None, None
    if first_ref is not None:
        cand = [r for r in runs_before if r[0] <= first_ref]
        if cand:
            r = cand[-1]
            return r[1], r[2]
    r = runs_before[-1]
    return r[1], r[2]


def options(zopts, test_text):
    opts = []
    try:
        toks = shlex.split(zopts)
    except ValueError:
        toks = zopts.split()
    for i, t in enumerate(toks):
        if t in ("-C", "-b"):
            opts.append(t)
        elif t == "-f" and i + 1 < len(toks):
            opts.append("-f " + toks[i + 1].replace(",", " "))
        elif "=" in t and not t.startswith("-"):
            opts.append(t)
    for m in STATE_REDEF.finditer(test_text):
        opts.append(f"{m.group(1)}={' '.join(m.group(2).split())}")
    return ",".join(dict.fromkeys(opts)) or "-"


def main():
    head = git("rev-parse", "HEAD").strip()
    base = blobs("testing/btest/Baseline/")
    tests = blobs("testing/btest/")
    traces = blobs("testing/btest/Traces/")
    bodies = cat_batch([s for s, _ in base.values()])
    found = []  # (test, bfile, trace, opts, rows)
    notrace = []
    for path, (sha, _) in sorted(base.items()):
        body = bodies.get(sha)
        if not body or (b"conn_state" not in body and b"history" not in body):
            continue
        rows = parse_table(body.decode("utf-8", "replace"))
        if not rows:
            continue
        if "conn_state" not in rows[0] and "proto" not in rows[0] and "conn" not in path.split("/")[-1]:
            continue  # a history column of another log (quic.log, ...)
        rows = [r for r in rows if is_tcp(r)]
        if not rows:
            continue
        rel = path[len("testing/btest/Baseline/"):]
        bdir, fname = rel.split("/", 1)
        test = find_test(tests, bdir)
        if not test:
            notrace.append((bdir, fname, "no test file found"))
            continue
        ttext = cat_batch([tests[test][0]])[tests[test][0]]
        ttext = ttext.decode("utf-8", "replace") if ttext else ""
        trace, zopts = trace_for(ttext, fname)
        if not trace:
            notrace.append((bdir, fname, "test reads no trace with -r $TRACES"))
            continue
        found.append((bdir, fname, trace, options(zopts, ttext), rows))
    # choose traces
    wanted = {}
    skipped = []
    for bdir, fname, trace, opts, rows in found:
        wanted.setdefault(trace, []).append((bdir, fname))
    kept, total = set(), 0
    for trace in sorted(wanted, key=lambda t: traces.get("testing/btest/Traces/" + t, (0, 1 << 40))[1]):
        p = "testing/btest/Traces/" + trace
        if trace.startswith("tunnels/"):
            skipped.append((trace, "tunnels/ (tests/zeek/tunnels/, handled elsewhere)"))
            continue
        if trace in UNREADABLE:
            skipped.append((trace, UNREADABLE[trace]))
            continue
        if p not in traces:
            skipped.append((trace, "not in Traces/ at HEAD"))
            continue
        size = traces[p][1]
        if size >= MAX_TRACE:
            skipped.append((trace, f"{size} bytes >= 2 MB"))
            continue
        if total + size > MAX_TOTAL:
            skipped.append((trace, f"{size} bytes: beyond the 15 MB total"))
            continue
        blob = cat_batch([traces[p][0]])[traces[p][0]]
        if blob is None or blob.startswith(b"version https://git-lfs"):
            skipped.append((trace, "blob missing from the mirror"))
            continue
        kept.add(trace)
        total += size
        dst = os.path.join(HERE, "traces", trace.replace("/", "__"))
        with open(dst, "wb") as f:
            f.write(blob)
    skipped_b = []
    # old flat names of the first import stay valid: map by basename
    seen = set()
    have = {}  # (trace, options) -> rows imported so far

    def covered(trace, opts, rows):
        old = have.get((trace, opts), [])
        cols = ("uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "conn_state", "history")
        return all(any(all(r.get(c, "-") in ("-", o.get(c, "-")) for c in cols) for o in old)
                   for r in rows)
    out = [f"# imported by tests/zeek/import.py from zeek {head}",
           "trace\ttest\tuid\torig_h\torig_p\tresp_h\tresp_p\tconn_state\thistory\toptions"]
    for bdir, fname, trace, opts, rows in found:
        if trace not in kept or covered(trace, opts, rows):
            continue
        if bdir in SCRIPT_ALTERED:
            skipped_b.append((bdir, fname, SCRIPT_ALTERED[bdir]))
            continue
        have.setdefault((trace, opts), []).extend(rows)
        out.append(f"# {bdir}/{fname}")
        for n, r in enumerate(rows):
            key = (trace, opts, r.get("uid", str(n)), r.get("id.orig_h"), r.get("id.orig_p"),
                   r.get("id.resp_h"), r.get("id.resp_p"), r.get("conn_state", "-"),
                   r.get("history", "-"))
            dup = (trace, opts, r.get("uid", ""), r.get("ts", ""), r.get("id.orig_h"),
                   r.get("id.orig_p"), r.get("id.resp_h"), r.get("id.resp_p"))
            if dup in seen and r.get("uid"):
                continue
            seen.add(dup)
            out.append("\t".join([trace.replace("/", "__"), bdir, r.get("uid", "-"),
                                  r.get("id.orig_h", "-"), r.get("id.orig_p", "-"),
                                  r.get("id.resp_h", "-"), r.get("id.resp_p", "-"),
                                  r.get("conn_state", "-"), r.get("history", "-"), opts]))
    used = {l.split("\t")[0] for l in out if not l.startswith("#")}
    for f in os.listdir(os.path.join(HERE, "traces")):
        if f not in used:
            os.unlink(os.path.join(HERE, "traces", f))
    with open(os.path.join(HERE, "expected.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    with open(os.path.join(HERE, "skipped.tsv"), "w", encoding="utf-8") as f:
        f.write("# traces or baselines with TCP conn_state/history rows not imported\n")
        for t, why in skipped:
            f.write(f"{t}\t-\t{why}\n")
        for bdir, fname, why in notrace + skipped_b:
            f.write(f"-\t{bdir}/{fname}\t{why}\n")
    print(f"zeek {head}: {len(found)} baselines, {len(kept)} traces ({total} bytes), "
          f"{len(skipped)} traces skipped, {len(notrace)} baselines without trace")


if __name__ == "__main__":
    main()

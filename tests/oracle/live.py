#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""ctest oracle.live: play fresh connections with gen.py and score them.

    live.py --tlsfin PATH [--ktrace PATH] [--count N] [--seed N] [--min-agreement PCT]

Exits 77 (skipped) when not root or when no recorder can run (tlsfin-ktrace,
bpftrace, or a writable tracefs), 0/1 as score.py otherwise.  The run's
directory is kept, and named, when the score fails.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def skip(msg):
    print("SKIP oracle.live: " + msg)
    sys.exit(SKIP)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tlsfin", required=True)
    ap.add_argument("--ktrace")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-agreement", type=float, default=None)
    a = ap.parse_args()

    if os.geteuid() != 0:
        skip("needs root (network namespaces, tracing, TCP_REPAIR)")
    for tool in ("tcpdump", "ip", "ss", "mergecap", "openssl"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    if not os.path.exists("/sys/kernel/tracing/events/tcp/tcp_send_reset"):
        skip("the kernel has no tcp:tcp_send_reset tracepoint (Linux >= 6.10, tracefs mounted)")
    ktrace = a.ktrace if a.ktrace and os.access(a.ktrace, os.X_OK) else None
    recorder = None
    if ktrace:
        recorder = "ktrace"
    elif shutil.which("bpftrace"):
        recorder = "bpftrace"
    elif os.access("/sys/kernel/tracing/instances", os.W_OK):
        recorder = "tracefs"
    if recorder is None:
        skip("no recorder: tlsfin-ktrace not built, bpftrace not installed, "
             "/sys/kernel/tracing/instances not writable")

    out = tempfile.mkdtemp(prefix="tlsfin-oracle-live-")
    gen = [sys.executable, os.path.join(HERE, "gen.py"), "--seed", str(a.seed),
           "--count", str(a.count), "--out", out, "--recorder", recorder]
    if ktrace:
        gen += ["--ktrace", ktrace]
    print("oracle.live: " + " ".join(gen), flush=True)
    r = subprocess.run(gen, timeout=900)
    if r.returncode != 0:
        print("oracle.live: gen.py failed (%d); output kept in %s" % (r.returncode, out))
        return 1
    score = [sys.executable, os.path.join(HERE, "score.py"), out, "--tlsfin", a.tlsfin,
             "--max-list", "40"]
    if a.min_agreement is not None:
        score += ["--min-agreement", str(a.min_agreement)]
    r = subprocess.run(score, timeout=900)
    if r.returncode == 0:
        shutil.rmtree(out, ignore_errors=True)
    else:
        print("oracle.live: score failed (%d); output kept in %s" % (r.returncode, out))
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())

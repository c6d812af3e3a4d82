#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""bench/probe/compare's report: reads lab/out/servers/compare/NAME.* and
writes the side-by-side text (bench/results/probe-servers-DATE.txt) and the
comparison section of docs/servers.md.
usage: compare_report.py OUTDIR RESULT SECTION NAME..."""
import datetime, json, os, re, sys

ROWS = ["SSL3", "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"]
TESTSSL = {"SSLv3": "SSL3", "TLS 1": "TLS1.0", "TLS 1.1": "TLS1.1",
           "TLS 1.2": "TLS1.2", "TLS 1.3": "TLS1.3"}
SSLSCAN = {"SSLv3": "SSL3", "TLSv1.0": "TLS1.0", "TLSv1.1": "TLS1.1",
           "TLSv1.2": "TLS1.2", "TLSv1.3": "TLS1.3"}


def meta(path):
    d = {}
    if os.path.exists(path):
        for l in open(path, errors="replace"):
            m = re.match(r"^([a-z_]+): ?(.*)$", l.rstrip("\n"))
            if m:
                d.setdefault(m.group(1), m.group(2))
    return d


def tlsfin_rows(path):
    try:
        r = json.loads(open(path).read().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None, {}
    rows = {}
    for v in r.get("versions", []):
        o = v.get("outcome")
        if o == "accepted":
            t, ok = "accepted", True
        elif o == "alert":
            t, ok = "alert %s" % (v.get("alert") or "?"), False
        elif o == "reset":
            t, ok = "RST", False
        elif o == "closed":
            t, ok = "FIN (no alert)", False
        else:
            t, ok = str(o), None
        rows[v.get("offered")] = (t, ok)
    return r, rows


def testssl_rows(path):
    rows = {}
    if not os.path.exists(path):
        return rows
    for l in open(path, errors="replace"):
        m = re.match(r"^ (SSLv3|TLS 1|TLS 1\.1|TLS 1\.2|TLS 1\.3)\s{2,}(.*?)\s*$", l)
        if m:
            txt = m.group(2)
            ok = None
            if txt.startswith("not offered"):
                ok = False
            elif txt.startswith("offered"):
                ok = True
            # "offered (OK): final, draft 28..." is long: keep the verdict
            txt = re.sub(r": (draft|final).*$", "", txt)
            rows[TESTSSL[m.group(1)]] = (txt, ok)
    return rows


def sslscan_rows(path):
    rows = {}
    if not os.path.exists(path):
        return rows
    for l in open(path, errors="replace"):
        m = re.match(r"^(SSLv3|TLSv1\.[0-3])\s+(enabled|disabled)", l)
        if m:
            rows[SSLSCAN[m.group(1)]] = (m.group(2), m.group(2) == "enabled")
    return rows


def sec(ms):
    return "%.2f s" % (ms / 1000.0) if ms is not None else "?"


def main():
    outdir, result, section = sys.argv[1:4]
    names = sys.argv[4:]
    date = datetime.date.today().isoformat()
    txt, servers = [], []
    for n in names:
        m = meta(os.path.join(outdir, n + ".meta"))
        if os.path.exists(os.path.join(outdir, n + ".skip")) or "tlsfin_ms" not in m:
            servers.append({"name": n, "skip": open(os.path.join(outdir, n + ".skip")).read().strip()
                            if os.path.exists(os.path.join(outdir, n + ".skip")) else "not run"})
            continue
        rec, tf = tlsfin_rows(os.path.join(outdir, n + ".tlsfin.json"))
        ts = testssl_rows(os.path.join(outdir, n + ".testssl.txt"))
        sc = sslscan_rows(os.path.join(outdir, n + ".sslscan.txt"))
        vms = sum(v.get("ms") or 0 for v in (rec or {}).get("versions", []))
        servers.append({"name": n, "meta": m, "tf": tf, "ts": ts, "sc": sc, "rec": rec, "vms": vms,
                        "t": {k: int(m[k + "_ms"]) for k in ("tlsfin", "testssl", "sslscan")
                              if m.get(k + "_ms", "").isdigit()}})
    # ---- the text file ----
    txt.append("tlsfin probe vs testssl.sh --protocols vs sslscan (protocols only), real servers")
    txt.append("run %s by bench/probe/compare on %s; servers from lab/servers/ (Debian 12 packages,"
               % (date, os.uname().nodename))
    txt.append("default TLS settings, self-signed RSA-2048 cert), loopback, one server at a time.")
    txt.append("tlsfin: probe --format=json [--http|--starttls=P] (version rows + close tests, no idle wait)")
    txt.append("testssl: testssl --quiet --color 0 --warnings off --protocols [--starttls P]")
    txt.append("sslscan: sslscan --no-colour --no-ciphersuites --no-fallback --no-renegotiation "
               "--no-compression --no-heartbleed --no-groups --no-check-certificate [--starttls-P]")
    txt.append("'!!' marks a row where a scanner's accepted/refused disagrees with what the server did.")
    txt.append("")
    for s in servers:
        if "skip" in s:
            txt.append("== %s: skipped: %s" % (s["name"], s["skip"].splitlines()[0] if s["skip"] else ""))
            txt.append("")
            continue
        ver = s["meta"].get("version", "")
        txt.append("== %s  (%s)" % (s["name"], ver))
        txt.append("   %-7s %-32s %-28s %s" % ("version", "tlsfin probe: server did", "testssl.sh says", "sslscan says"))
        s["disagree"] = []
        for r in ROWS:
            a = s["tf"].get(r, ("?", None))
            b = s["ts"].get(r, ("?", None))
            c = s["sc"].get(r, ("?", None))
            bad = (b[1] is not None and a[1] is not None and b[1] != a[1]) or \
                  (c[1] is not None and a[1] is not None and c[1] != a[1])
            if bad:
                s["disagree"].append(r)
            txt.append("%s %-7s %-32s %-28s %s" % ("!!" if bad else "  ", r, a[0], b[0], c[0]))
        for tool, rows in (("testssl", s["ts"]), ("sslscan", s["sc"])):
            if not rows:
                txt.append("   %s gave no result: %s" % (tool, _err(os.path.join(
                    outdir, "%s.%s.txt" % (s["name"], tool)))))
        t = s["t"]
        txt.append("   %-7s %-32s %-28s %s" % ("time", "%s (version rows: %.0f ms)" % (
            sec(t.get("tlsfin")), s["vms"]), sec(t.get("testssl")), sec(t.get("sslscan"))))
        txt.append("")
    done = [s for s in servers if "skip" not in s]
    tot = {k: sum(s["t"].get(k, 0) for s in done) for k in ("tlsfin", "testssl", "sslscan")}
    vtot = sum(s["vms"] for s in done)
    txt.append("totals over %d servers: tlsfin probe %s (its version rows alone %.0f ms), "
               "testssl.sh --protocols %s, sslscan %s"
               % (len(done), sec(tot["tlsfin"]), vtot, sec(tot["testssl"]), sec(tot["sslscan"])))
    if tot["tlsfin"]:
        txt.append("ratio: testssl.sh / tlsfin = %.0fx, sslscan / tlsfin = %.1fx"
                   % (tot["testssl"] / tot["tlsfin"], tot["sslscan"] / tot["tlsfin"]))
    hidden = {}
    for s in done:
        for r in ROWS:
            a = s["tf"].get(r)
            if a and a[1] is False:
                kind = "RST" if a[0] == "RST" else "FIN" if a[0].startswith("FIN") else "alert"
                hidden.setdefault(kind, []).append("%s %s" % (s["name"], r))
    txt.append("refusals the scanners report only as 'not offered'/'disabled': " +
               ", ".join("%s %d" % (k, len(v)) for k, v in sorted(hidden.items())))
    dis = ["%s (%s)" % (s["name"], ", ".join(s["disagree"])) for s in done if s["disagree"]]
    txt.append("disagreements on accepted/refused: " + (", ".join(dis) if dis else "none"))
    with open(result, "w") as f:
        f.write("\n".join(txt) + "\n")
    # ---- the docs section ----
    L = ["## tlsfin probe, testssl.sh and sslscan side by side", ""]
    L.append("`bench/probe/compare` (run %s) starts the same servers once more and runs, one after the "
             "other, `tlsfin probe` (versions and close tests, no idle wait), `testssl --protocols` "
             "(testssl.sh %s, `--quiet --color 0`) and `sslscan` (%s) with every check but the "
             "protocol list turned off. Full side-by-side output: "
             "[`bench/results/%s`](../bench/results/%s)."
             % (date, _tool_version("testssl"), _tool_version("sslscan"),
                os.path.basename(result), os.path.basename(result)))
    L.append("")
    L.append("| Server | refused versions: what the server did (tlsfin) | testssl.sh / sslscan say | "
             "accepted/refused agree? | tlsfin | testssl.sh | sslscan |")
    L.append("|---|---|---|---|---|---|---|")
    for s in done:
        ref = [(r, s["tf"][r][0]) for r in ROWS if r in s["tf"] and s["tf"][r][1] is False]
        did = "; ".join("%s: %s" % (r, w) for r, w in ref) or "none refused"
        say = "%s / %s" % (_says(s["ts"], ref), _says(s["sc"], ref))
        agree = "yes" if not s["disagree"] else "**no**: " + ", ".join(s["disagree"])
        t = s["t"]
        L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            s["name"], did, say, agree, sec(t.get("tlsfin")), sec(t.get("testssl")),
            sec(t.get("sslscan"))))
    vtot = sum(s["vms"] for s in done)
    L.append("| **total** (%d servers) | | | | **%s** | **%s** | **%s** |"
             % (len(done), sec(tot["tlsfin"]), sec(tot["testssl"]), sec(tot["sslscan"])))
    L.append("")
    L.append("- The scanners answer one question — is the version offered — and answer it the same "
             "way as tlsfin on every row where they all ran (%s)." %
             ("no disagreement" if not dis else "except " + ", ".join(dis)))
    L.append("- What they do not say is *how* the server refused: %s refusals over these servers, "
             "all reported as \"not offered\" / \"disabled\": %s. A bare FIN or a RST is what a "
             "client logs as *unexpected EOF* or *Connection reset by peer*; an alert is named." %
             (sum(len(v) for v in hidden.values()),
              ", ".join("%d by %s" % (len(v), k) for k, v in sorted(hidden.items()))))
    if tot["tlsfin"]:
        L.append("- Time: tlsfin probe's whole profile (versions and close tests; a server that "
                 "ignores our close_notify costs the 3 s step timeout per close test) took %s for "
                 "all servers, its version rows alone %.0f ms; testssl.sh's protocol check alone "
                 "took %s (%.0fx the whole tlsfin profile), sslscan's protocol list %s "
                 "(its default run, ciphers included, is much slower)." %
                 (sec(tot["tlsfin"]), vtot, sec(tot["testssl"]), tot["testssl"] / tot["tlsfin"],
                  sec(tot["sslscan"])))
    failed = ["%s on %s" % (tool, s["name"]) for s in done
              for tool, rows in (("testssl.sh", s["ts"]), ("sslscan", s["sc"])) if not rows]
    if failed:
        L.append("- No result at all: %s (testssl.sh 3.0.8: \"LDAP+STARTTLS over sockets not "
                 "supported yet\"; sslscan's LDAP StartTLS printed no protocol list); tlsfin "
                 "probe tested it." % ", ".join(failed))
    if dis:
        L.append("- A scanner disagreeing with what the server did is a scanner error: the server "
                 "really accepted or refused as tlsfin shows (its JSON has the negotiated version). "
                 "Here: " + ", ".join("%s %s" % (x["name"], "/".join(
                     "%s (testssl.sh %s, sslscan %s, server %s)" % (r, x["ts"].get(r, ("?",))[0],
                     x["sc"].get(r, ("?",))[0], x["tf"].get(r, ("?",))[0]) for r in x["disagree"]))
                     for x in done if x["disagree"]) + ".")
    skipped = [s for s in servers if "skip" in s]
    if skipped:
        L.append("- Not compared: " + ", ".join("%s (%s)" % (s["name"], s["skip"].splitlines()[0] if s["skip"] else "?")
                                               for s in skipped) + ".")
    with open(section, "w") as f:
        f.write("\n".join(L) + "\n")


def _says(rows, ref):
    if not rows:
        return "no result (tool failed)"
    # testssl's long STARTTLS remarks: keep the verdict
    vals = sorted({re.split(r", received|\(OK\)", rows[r][0])[0].strip()
                   for r, _ in ref if r in rows})
    return ", ".join(vals) if vals else "–"


def _err(path):
    """the tool's error line, when it produced no protocol list"""
    if not os.path.exists(path):
        return "no output"
    for l in open(path, errors="replace"):
        if re.search(r"error|failed|not supported", l, re.I):
            return l.strip()
    return "no protocol list in its output"


def _tool_version(tool):
    import subprocess
    pkg = {"testssl": "testssl.sh", "sslscan": "sslscan"}[tool]
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True,
                              text=True, timeout=5).stdout.strip() or "?"
    except Exception:
        return "?"


if __name__ == "__main__":
    main()

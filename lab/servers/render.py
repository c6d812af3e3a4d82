#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Render docs/servers.md from lab/out/servers/ (lab/servers/matrix calls it).

Reads, for each server NAME: NAME.json (one tlsfin probe record), NAME.meta
("key: value" lines from the server script and the matrix), NAME.skip (why
it was skipped).  The probe's JSON is read generically: version rows by
their "offered" name, close tests by their key, so rows or close tests the
probe gains later appear as new columns without a change here.  The
comparison section (between <!-- compare --> and <!-- /compare -->) is
bench/probe/compare's: kept as it is in the existing page.
"""
import argparse, datetime, json, os, re, subprocess

KNOWN_CLOSE = ["close_notify", "half_close", "truncation", "idle",
               "data_after_cn", "half_close_13", "h2_goaway", "key_update"]
CLOSE_TITLE = {
    "close_notify": "we send close_notify",
    "half_close": "request, then close_notify (half-close)",
    "truncation": "bare FIN, no close_notify (truncation)",
    "idle": "idle keep-alive: who closes, when",
    "data_after_cn": "data after our close_notify",
    "half_close_13": "we write after its close_notify (TLS 1.3)",
    "h2_goaway": "HTTP/2: our GOAWAY",
    "key_update": "KeyUpdate, then close_notify",
}
# What the close tests added with the hand-built record layer mean
# (README, "Close tests beyond OpenSSL's API").
CLOSE_HELP = {
    "data_after_cn": "we send close_notify, then an application-data record sealed with the "
                     "connection's keys (RFC 8446 §6.1 and RFC 5246 §7.2.1 forbid it; seed 004's "
                     "\"application data after close notify\"): what the server does first, then. "
                     "`keeps sending`: it went on writing (it had not read our close_notify yet).",
    "half_close_13": "(HTTPS, TLS 1.3) a request with `Connection: close`, its response and the "
                     "server's close_notify, then we write again, which RFC 8446 §6.1 allows: "
                     "`accepted` (no complaint), or the server's **RST** / alert.",
    "h2_goaway": "(HTTPS servers that pick ALPN h2) preface, SETTINGS, then our GOAWAY: does the "
                 "server send close_notify after it, and when; `–`: the server did not offer h2.",
    "key_update": "(TLS 1.3) a KeyUpdate (update_requested) just before our close_notify: does "
                  "the KeyUpdate confuse the server's close?",
}
VERSION_TITLE = {"SSL3": "SSL 3.0", "TLS1.0": "TLS 1.0", "TLS1.1": "TLS 1.1",
                 "TLS1.2": "TLS 1.2", "TLS1.3": "TLS 1.3", "max": "1.0–1.3 offered"}
WIRE = {"fin": "FIN", "rst": "**RST**", "close_notify": "close_notify",
        "nothing": "nothing", "data": "keeps sending"}


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8", errors="replace"):
            m = re.match(r"^([a-z_]+): (.*)$", line.rstrip("\n"))
            if m and m.group(1) not in meta:
                meta[m.group(1)] = m.group(2)
    return meta


def ms_text(ms):
    if ms is None:
        return ""
    if ms >= 1000:
        return "%.1f s" % (ms / 1000)
    return "%.1f ms" % ms


def version_cell(row):
    o = row.get("outcome")
    if o == "accepted":
        v = row.get("version")
        if row.get("offered") == "max":
            return "picks %s" % v
        if v and v != row.get("offered"):
            return "accepted as %s" % v
        return "accepted"
    if o == "alert":
        return "alert `%s`" % (row.get("alert") or "?")
    if o == "reset":
        return "**RST**"
    if o == "closed":
        return "FIN"
    if o == "timeout":
        return "silence"
    if o == "garbage":
        return "not TLS"
    return str(o)


def alert_of(note):
    m = re.match(r"^alert: (.*)$", note or "")
    if not m:
        return None
    a = m.group(1)
    # OpenSSL's text for an alert the server sent, e.g. "tlsv1 alert decode
    # error" or "sslv3 alert unexpected message": keep the alert's name
    a = re.sub(r"^(tlsv1|sslv3|tlsv13) alert ", "", a)
    return "alert `%s`" % a.replace(" ", "_")


def close_cell(name, c, idle_max):
    s = c.get("server")
    if s in (None, "skipped"):
        return "–"
    then = c.get("then")
    ms = c.get("ms")
    note = c.get("note") or ""
    # idle: a server that closes at once after the response keeps no
    # connection alive at all
    prefix = ""
    if name == "idle" and s != "nothing" and ms is not None and ms < 50 and c.get("response"):
        prefix = "no keep-alive, closes after the response: "
    if s == "close_notify":
        txt = "close_notify"
        if then == "fin":
            txt += " + FIN"
        elif then == "rst":
            txt += " + **RST**"
        elif then == "nothing":
            txt += ", no FIN (waited %s)" % ("%d s" % idle_max if name == "idle" else "3 s")
        elif then == "data":
            txt += ", then keeps sending"
    elif s == "fin":
        a = alert_of(note)
        txt = ("%s + FIN" % a) if a else "bare FIN"
    elif s == "rst":
        a = alert_of(note)
        txt = ("%s + **RST**" % a) if a else "**RST**"
    elif s == "nothing":
        if name == "idle":
            txt = "still open at %s (limit)" % ms_text(ms) if ms is not None else "still open"
        else:
            txt = "nothing (waited %s)" % ms_text(ms) if ms is not None else "nothing"
    else:
        txt = WIRE.get(s, str(s))
        a = alert_of(note)
        if a:
            txt += " (%s)" % a
    if not prefix and s != "nothing" and ms is not None and (name == "idle" or ms >= 100):
        txt += " after %s" % ms_text(ms)
    if name == "half_close" and "response" in c:
        txt += "; response %s" % ("arrived" if c.get("response") else "**lost**")
    if name == "idle" and "response" in c and not c.get("response") and "request" in note:
        txt += " (no response)"
    return prefix + txt


def esc(s):
    return str(s).replace("|", "\\|")


def load(outdir, names):
    servers = []
    for n in names:
        meta = read_meta(os.path.join(outdir, n + ".meta"))
        rec = None
        jp = os.path.join(outdir, n + ".json")
        if os.path.exists(jp) and os.path.getsize(jp) > 0:
            try:
                rec = json.loads(open(jp).read().splitlines()[0])
            except (ValueError, IndexError):
                rec = None
        skip = None
        sp = os.path.join(outdir, n + ".skip")
        if os.path.exists(sp):
            skip = open(sp).read().strip() or "skipped"
        if rec is None and skip is None:
            continue  # not run
        servers.append({"name": n, "meta": meta, "rec": rec, "skip": skip})
    return servers


def label(srv):
    m = srv["meta"]
    v = m.get("version", "")
    proto = ""
    r = srv["rec"]
    if r and r.get("starttls"):
        proto = " (%s STARTTLS)" % r["starttls"]
    return "**%s**%s<br>%s" % (srv["name"], proto, esc(v.split(",")[0]))


def findings(servers):
    """Plain-language facts read off the records (regenerated every run)."""
    ok = [s for s in servers if s["rec"] and s["rec"].get("tested")]
    out = []
    def names(pred):
        return [s["name"] for s in ok if pred(s["rec"])]
    def vrows(r):
        return [v for v in r.get("versions", []) if v.get("offered") != "max"]
    def close(r, k):
        return (r.get("close") or {}).get(k) or {}
    def fmt(ns):
        return ", ".join(ns) if ns else "none"
    old = lambda r: [v for v in vrows(r) if v.get("offered") in ("TLS1.0", "TLS1.1")]
    out.append("Accept TLS 1.0 and 1.1 as shipped: %s." % fmt(names(
        lambda r: any(v.get("outcome") == "accepted" for v in old(r)))))
    out.append("Refuse a version with a bare FIN, no alert (a client sees \"connection closed\" "
               "/ EOF during the handshake): %s." % fmt(names(
                   lambda r: any(v.get("outcome") == "closed" for v in vrows(r)))))
    out.append("Refuse a version with a TCP reset (\"Connection reset by peer\"): %s." % fmt(names(
        lambda r: any(v.get("outcome") == "reset" for v in vrows(r)))))
    out.append("Refuse TLS 1.0/1.1 with `internal_error` rather than `protocol_version` "
               "(OpenSSL 3 at its default security level, where the protocol is enabled "
               "but no cipher/signature is usable): %s." % fmt(names(
                   lambda r: any(v.get("alert") == "internal_error" for v in old(r)))))
    out.append("Do not answer our close_notify with their own (close with a bare FIN, "
               "or not at all): %s." % fmt(names(
                   lambda r: close(r, "close_notify").get("server") not in ("close_notify", None, "skipped"))))
    out.append("Answer a bare FIN (truncation) with a bare FIN, never sending close_notify: %s." % fmt(names(
        lambda r: close(r, "truncation").get("server") == "fin" and not alert_of(close(r, "truncation").get("note")))))
    out.append("Answer a bare FIN with an alert (OpenSSL 3 sends `decode_error` on an unexpected EOF): %s." % fmt(names(
        lambda r: alert_of(close(r, "truncation").get("note")) is not None)))
    out.append("Reset (RST) in any close test: %s." % fmt(names(
        lambda r: any((c or {}).get("server") == "rst" or (c or {}).get("then") == "rst"
                      for c in (r.get("close") or {}).values()))))
    return out


def render(args):
    names = args.servers.split()
    # servers run but not in the default list (e.g. a new script) go last
    extra = sorted(f[:-5] for f in os.listdir(args.out)
                   if f.endswith(".meta") and f[:-5] not in names)
    servers = load(args.out, names + extra)
    tested = [s for s in servers if s["rec"] is not None]
    # version rows and close tests, in the order the probe writes them
    vorder, corder = [], []
    for s in tested:
        for v in s["rec"].get("versions", []):
            if v.get("offered") not in vorder:
                vorder.append(v.get("offered"))
        for k in (s["rec"].get("close") or {}):
            if k not in corder:
                corder.append(k)
    corder = [k for k in KNOWN_CLOSE if k in corder] + [k for k in corder if k not in KNOWN_CLOSE]
    date = datetime.date.today().isoformat()
    try:
        osrel = dict(l.rstrip().split("=", 1) for l in open("/etc/os-release") if "=" in l)
        osname = osrel.get("PRETTY_NAME", "").strip('"')
    except OSError:
        osname = "?"
    try:
        tv = subprocess.run([os.environ.get("TLSFIN", "tlsfin"), "probe", "--version"],
                            capture_output=True, text=True, timeout=5).stdout.strip()
    except Exception:
        tv = ""
    L = []
    L.append("# How real servers end TLS connections")
    L.append("")
    L.append("<!-- generated by lab/servers/matrix (lab/servers/render.py); edit those, not this page -->")
    L.append("")
    L.append("Your client logs *Connection reset by peer*, *unexpected EOF*, *SSL_ERROR_SYSCALL* or a "
             "TLS alert against a server you do not run. Is that server broken, or is this simply how it "
             "says no, or goodbye? This page shows what the TLS servers people actually deploy do, "
             "installed from Debian 12 packages (Node.js 20 from NodeSource's Debian package) and configured as "
             "their packages ship them: **default TLS settings**, only the certificate (a self-signed "
             "RSA-2048 one) and the port set by us. Each was probed on loopback by "
             "[`tlsfin probe`](../README.md#tlsfin-probe) with its full profile.")
    L.append("")
    total = sum(float(x["meta"].get("total_ms", 0)) for x in servers) / 1000.0
    L.append("Run on %s, %s%s; %d servers in %d s (%.1f min). Reproduce (as root; installs "
             "nothing — the packages are listed below):" % (
                 date, osname, (", " + tv) if tv else "", len(tested), total, total / 60))
    L.append("")
    L.append("```sh")
    L.append("lab/servers/matrix            # every server, ~%d s idle limit each; raw JSON in lab/out/servers/" % args.idle_max)
    L.append("lab/servers/matrix nginx h2o  # just these")
    L.append("lab/servers/nginx.sh          # start one server by hand (prints its port; Ctrl-C stops it)")
    L.append("```")
    L.append("")
    L.append("Each server runs with `tlsfin probe --format=json --http --idle-max=%d 127.0.0.1:PORT` "
             "(HTTPS servers) or `tlsfin probe --format=json --starttls=PROTO --idle-max=%d "
             "127.0.0.1:PORT` (mail, directory, database, chat and FTP servers, upgraded in "
             "plaintext first)." % (args.idle_max, args.idle_max))
    L.append("")
    L.append("## What the columns mean")
    L.append("")
    L.append("- **SSL 3.0 … TLS 1.3**: a ClientHello offering only that version. `accepted`; "
             "`alert x`: the server refused with TLS alert *x* (a client shows it, e.g. OpenSSL's "
             "`tlsv1 alert protocol version`); **FIN**: the server closed the TCP connection without "
             "a word (clients say *unexpected EOF*, *connection closed*, *handshake failure* or "
             "*SSL_ERROR_SYSCALL*); **RST**: it reset the connection (*Connection reset by peer*). "
             "Scanners call all of these \"not offered\".")
    L.append("- **1.0–1.3 offered**: one ClientHello offering TLS 1.0 to 1.3; the version the server picks.")
    L.append("- **we send close_notify**: after a full handshake we send close_notify and keep reading. "
             "`close_notify + FIN`: the server answers with its own close_notify, then closes (RFC 8446 "
             "§6.1's polite goodbye); `bare FIN`: it closes without close_notify (a strict client "
             "reports a truncation); `nothing`: it leaves the connection open (we waited the probe's "
             "3 s step timeout).")
    L.append("- **request, then close_notify (half-close)**: (HTTPS only) we send `GET /` and at once our "
             "close_notify, keeping our read side open: does the response still arrive, and how does "
             "the server end?")
    L.append("- **bare FIN (truncation)**: we shut down our write side without close_notify. `alert x + "
             "FIN`: the server complains with alert *x* (OpenSSL 3 sends `decode_error` for an "
             "unexpected EOF), then closes.")
    L.append("- **idle keep-alive**: HTTPS: we send one request, read the response, then stay silent: "
             "how long until the server closes, and how (its keep-alive timeout). STARTTLS servers: "
             "silent from the end of the handshake, before any login, so this is the server's "
             "login/handshake timeout (MariaDB's `connect_timeout`, 10 s), not its idle timeout "
             "for a logged-in session. `still open at %d s (limit)`: the server did not close "
             "within the probe's `--idle-max` (nginx's default `keepalive_timeout` is 75 s, "
             "HAProxy's packaged `timeout client` 50 s, Postfix's `smtpd_timeout` 300 s)." % args.idle_max)
    for k in corder:
        if k in CLOSE_HELP:
            L.append("- **%s**: %s" % (CLOSE_TITLE[k], CLOSE_HELP[k]))
    extra_close = [k for k in corder if k not in KNOWN_CLOSE]
    for k in extra_close:
        L.append("- **%s**: a close test the probe added after this page's columns were written; "
                 "the cell shows what the server did (its `server`/`then` fields)." % k)
    L.append("- **probe time**: wall time of the whole `tlsfin probe` run against that server, "
             "idle wait included (the idle test dominates: it waits for the server or the limit).")
    L.append("")
    L.append("## The matrix")
    L.append("")
    head = ["Server"] + [VERSION_TITLE.get(v, v) for v in vorder] + \
           [CLOSE_TITLE.get(k, k.replace("_", " ")) for k in corder] + ["probe time"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for s in tested:
        r = s["rec"]
        if not r.get("tested"):
            cells = [label(s), "not tested: %s" % esc(r.get("reason"))] + [""] * (len(head) - 3)
            cells.append(ms_text(float(s["meta"].get("probe_ms", 0))))
            L.append("| " + " | ".join(cells) + " |")
            continue
        vs = {v.get("offered"): v for v in r.get("versions", [])}
        cs = r.get("close") or {}
        cells = [label(s)]
        cells += [version_cell(vs[v]) if v in vs else "" for v in vorder]
        cells += [esc(close_cell(k, cs[k], args.idle_max)) if k in cs else "" for k in corder]
        pm = s["meta"].get("probe_ms")
        cells.append(ms_text(float(pm)) if pm else "")
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append("## Read off the table")
    L.append("")
    for f in findings(servers):
        L.append("- " + f)
    L.append("")
    skipped = [s for s in servers if s["rec"] is None]
    if skipped:
        L.append("Skipped (could not run here):")
        L.append("")
        for s in skipped:
            L.append("- **%s**: %s" % (s["name"], esc(s["skip"].splitlines()[0])))
        L.append("")
    L.append("## Versions and packages")
    L.append("")
    L.append("| Server | Version (and TLS library) | Debian packages | probe options | server start | probe | probe exit |")
    L.append("|---|---|---|---|---|---|---|")
    for s in servers:
        m = s["meta"]
        L.append("| %s | %s | %s | `%s` | %s | %s | %s |" % (
            s["name"], esc(m.get("version", "")), esc(m.get("package", s["skip"] or "")),
            m.get("probe_args", m.get("probe", "")),
            ms_text(float(m["start_ms"])) if m.get("start_ms") else "",
            ms_text(float(m["probe_ms"])) if m.get("probe_ms") else "",
            m.get("probe_exit", "")))
    L.append("")
    L.append("What is ours in each configuration (everything else is the package's): "
             "`lab/servers/NAME.sh` writes it, and its header says which packaged settings it "
             "copies (nginx's `ssl_protocols` line from `/etc/nginx/nginx.conf`, Apache's "
             "`mods-available/ssl.conf`, HAProxy's `ssl-default-bind-*` and timeouts from "
             "`/etc/haproxy/haproxy.cfg`). stunnel needs a backend: Python's http.server "
             "(HTTP/1.0, closes after each response), so stunnel's close tests show what it does "
             "when its backend closes. The STARTTLS configurations are those of "
             "`tests/integration/starttls/test_starttls.sh` without its protocol limits.")
    L.append("")
    # the comparison section belongs to bench/probe/compare: keep it
    comp = "<!-- compare -->\n## tlsfin probe, testssl.sh and sslscan side by side\n\n" \
           "Not run yet: `bench/probe/compare`.\n<!-- /compare -->"
    if os.path.exists(args.doc):
        m = re.search(r"<!-- compare -->.*?<!-- /compare -->", open(args.doc).read(), re.S)
        if m:
            comp = m.group(0)
    L.append(comp)
    L.append("")
    with open(args.doc + ".tmp", "w") as f:
        f.write("\n".join(L))
    os.replace(args.doc + ".tmp", args.doc)


def replace_compare(doc, section_file):
    """bench/probe/compare: put its section into the page."""
    sec = open(section_file).read().strip()
    text = open(doc).read() if os.path.exists(doc) else ""
    block = "<!-- compare -->\n" + sec + "\n<!-- /compare -->"
    if "<!-- compare -->" in text:
        text = re.sub(r"<!-- compare -->.*?<!-- /compare -->", lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(doc + ".tmp", "w") as f:
        f.write(text)
    os.replace(doc + ".tmp", doc)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--doc", required=True)
    ap.add_argument("--idle-max", type=int, default=20)
    ap.add_argument("--servers", default="")
    ap.add_argument("--compare-section", help="only replace the comparison section with this file")
    a = ap.parse_args()
    if a.compare_section:
        replace_compare(a.doc, a.compare_section)
    else:
        render(a)

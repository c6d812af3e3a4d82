#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Score `tlsfin analyze`'s rst.cause against the kernel's own RST reasons.

    score.py DIR [--tlsfin PATH] [--json OUT] [--min-agreement PCT]
    score.py --capture X.pcap --kernel X.kernel.jsonl --plans X.plans.jsonl ...

DIR holds capture.pcap, kernel.jsonl and plans.jsonl as written by gen.py.
Every analyze connection with an `rst` is joined with the kernel's first
rst_sent event of its 4-tuple (either direction, within the connection's time
span +- 1 s); the kernel reason gives the expected cause (TAXONOMY.md, "The
kernel's own reasons") and the event's sender the expected rst.by.  A
connection agrees when both match.  Exit 1 when the overall agreement is below
--min-agreement, 2 on bad input.
"""

import argparse
import collections
import ipaddress
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import pcaplib  # noqa: E402

# TAXONOMY.md "The kernel's own reasons", as extended in docs/watch.md and
# implemented by TLSFIN_KERNEL_REASON_MAP in include/tlsfin/taxonomy.h
# (NO_SOCKET, TCP_STATE and TCP_ABORT_ON_CLOSE depend on what the RST
# answers, see expected_cause()).
REASON_CAUSE = {
    "NO_SOCKET": "unknown_connection",
    "TCP_FLAGS": "unknown_connection",
    "TCP_ABORT_ON_CLOSE": "unread_data",
    "TCP_ABORT_ON_DATA": "data_after_close",
    "TCP_TIMEWAIT_SOCKET": "data_after_close",
    "TCP_STATE": "abort",
    "TCP_ABORT_ON_LINGER": "abort",
    "TCP_DISCONNECT_WITH_DATA": "abort",
    "TCP_KEEPALIVE_TIMEOUT": "retransmission_timeout",
    "TCP_ABORT_ON_MEMORY": "abort",
}
CAUSES = ["port_closed", "handshake_rejected", "data_after_close", "unread_data", "abort",
          "unknown_connection", "retransmission_timeout", "injected", "unknown"]
SLACK = 1.0


def norm_ip(ip):
    return str(ipaddress.ip_address(str(ip).strip("[]")))


def ep(ip, port):
    return (norm_ip(ip), int(port))


def key(a, b):
    return (a, b) if a <= b else (b, a)


def fmt_ep(e):
    return ("[%s]:%d" if ":" in e[0] else "%s:%d") % e


def find_tlsfin(arg):
    cands = [arg, os.environ.get("TLSFIN"), "/tmp/obuild/tlsfin",
             os.path.join(HERE, "..", "..", "build", "tlsfin"), shutil.which("tlsfin")]
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise SystemExit("score: no tlsfin binary (use --tlsfin PATH)")


def load_jsonl(path):
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except ValueError as e:
                raise SystemExit("score: %s line %d: %s" % (path, n, e))
    return out


class Wire:
    """Packets of the capture per 4-tuple, for the SYN / ClientHello checks
    and the short description of what the wire shows."""

    def __init__(self, path):
        self.by_key = collections.defaultdict(list)
        for p in pcaplib.read_packets(path):
            p["payload"] = p["payload"][:8]
            self.by_key[p["key"]].append(p)

    def packets(self, k, t0, t1):
        return [p for p in self.by_key.get(k, []) if t0 - SLACK <= p["ts"] <= t1 + SLACK]

    @staticmethod
    def the_rst(pkts, sender, ts):
        """The RST the kernel event describes: the sender's RST closest to ts."""
        rsts = [p for p in pkts if p["flags"] & pcaplib.RST and (p["src"], p["sport"]) == sender]
        if not rsts:
            return None
        return min(rsts, key=lambda p: abs(p["ts"] - ts))

    @staticmethod
    def context(pkts, sender, rst):
        """(peer's last segment before the RST, sender sent payload?, peer's
        first payload is a ClientHello?)."""
        before = [p for p in pkts if p is not rst and p["ts"] <= rst["ts"]] if rst else pkts
        peer = [p for p in before if (p["src"], p["sport"]) != sender]
        mine = [p for p in before if (p["src"], p["sport"]) == sender]
        last_peer = peer[-1] if peer else None
        sent_payload = any(p["len"] > 0 for p in mine)
        peer_payload = [p for p in peer if p["len"] > 0]
        ch = bool(peer_payload) and pcaplib.is_client_hello(peer_payload[0]["payload"])
        return last_peer, sent_payload, ch

    @staticmethod
    def describe(pkts, client, rst=None, n=10):
        """Compact history: 'C>S S, S>C SA., C>S . 517B(CH), S>C R.'"""
        out = []
        idx = pkts.index(rst) if rst in pkts else len(pkts) - 1
        lo = max(0, idx - n + 1)
        if lo > 0:
            out.append("...%d earlier" % lo)
        for p in pkts[lo:idx + 2]:
            d = "C>S" if (p["src"], p["sport"]) == client else "S>C"
            s = "%s %s" % (d, pcaplib.flag_str(p["flags"]))
            if p["len"]:
                s += " %dB" % p["len"]
                if pcaplib.is_client_hello(p["payload"]):
                    s += "(CH)"
                elif p["payload"][:1] == b"\x15":
                    s += "(alert)"
            out.append(s)
        return ", ".join(out)


def expected_cause(reason, ctx):
    last_peer, sent_payload, peer_ch = ctx
    if reason == "NO_SOCKET":
        if last_peer is not None and last_peer["flags"] & pcaplib.SYN and \
                not last_peer["flags"] & pcaplib.ACK:
            return "port_closed"
        return "unknown_connection"
    if reason in ("TCP_STATE", "TCP_ABORT_ON_CLOSE"):
        # a server that disconnects, or closes without reading, right after
        # the ClientHello rejected the handshake
        if peer_ch and not sent_payload:
            return "handshake_rejected"
    return REASON_CAUSE.get(reason)


# parameters that only scale a plan; the others name its variant
SCALE_PARAMS = {"tls", "client_rcvbuf", "size", "unread_bytes_sent", "peer_writes", "idle", "resp",
                "probes", "client_reads", "ttl", "rst_ack", "tickets", "url", "reader_takes",
                "unread"}


def print_by_plan(plans, ev_by_key, ep, key):
    """plan variant -> first kernel reason of its tuple @ its sender ("-": no RST)."""
    per = collections.defaultdict(collections.Counter)
    for p in plans:
        variant = p["plan"] + "".join(" %s=%s" % (k, v) for k, v in sorted(p.get("params", {}).items())
                                      if k not in SCALE_PARAMS)
        if not (p.get("client") and p.get("server")):
            per[variant]["(no tuple: %s)" % p.get("error")] += 1
            continue
        c = ep(p["client"]["ip"], p["client"]["port"])
        k = key(c, ep(p["server"]["ip"], p["server"]["port"]))
        evs = ev_by_key.get(k, [])
        if evs:
            e = first_event(evs)
            per[variant]["%s@%s" % (e["reason"], "client" if e["_sender"] == c else "server")] += 1
        else:
            per[variant]["-"] += 1
    print("Kernel reason per plan variant (first RST of the tuple @ its sender; - = no RST):")
    for name in sorted(per):
        print("  %-64s %s" % (name, ", ".join("%s %d" % rc for rc in per[name].most_common())))


NO_SOCKET_REASONS = ("NO_SOCKET", "TCP_FLAGS")
ACTIVE_LAG = 0.002


def first_event(evs):
    """The kernel's first RST of the connection.  Events are in time order,
    with one correction: the tracepoint of a socket's own (active) reset
    fires after the RST was transmitted, and on loopback the peer's segments
    that this RST overtook are answered (NO_SOCKET, the socket being gone)
    within the transmit call, so they are traced a few microseconds earlier
    than the RST that went out first.  A socket-less event followed within
    2 ms by a socket reset from the same sender therefore comes second."""
    e = evs[0]
    if e["reason"] in NO_SOCKET_REASONS:
        for f in evs[1:]:
            if f["ts"] - e["ts"] > ACTIVE_LAG:
                break
            if f["_sender"] == e["_sender"] and f["reason"] not in NO_SOCKET_REASONS:
                return f
    return e


def pct(a, n):
    return "%.1f%%" % (100.0 * a / n) if n else "-"


def main():
    import signal
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # score.py | head
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--capture")
    ap.add_argument("--kernel")
    ap.add_argument("--plans")
    ap.add_argument("--tlsfin")
    ap.add_argument("--json", dest="json_out")
    ap.add_argument("--min-agreement", type=float, default=None)
    ap.add_argument("--by-plan", action="store_true",
                    help="also print which kernel reasons each plan (and variant) produced")
    ap.add_argument("--max-list", type=int, default=200,
                    help="disagreements listed in full (all go to --json)")
    a = ap.parse_args()
    if a.dir:
        a.capture = a.capture or os.path.join(a.dir, "capture.pcap")
        a.kernel = a.kernel or os.path.join(a.dir, "kernel.jsonl")
        a.plans = a.plans or os.path.join(a.dir, "plans.jsonl")
    if not (a.capture and a.kernel):
        ap.error("give DIR, or --capture and --kernel")
    for f in (a.capture, a.kernel):
        if not os.path.exists(f):
            print("score: %s: no such file" % f, file=sys.stderr)
            return 2
    tlsfin = find_tlsfin(a.tlsfin)

    r = subprocess.run([tlsfin, "analyze", "--format=jsonl", a.capture], capture_output=True,
                       text=True, timeout=600)
    if r.returncode not in (0, 1):
        print("score: tlsfin analyze failed (%d): %s" % (r.returncode, r.stderr.strip()),
              file=sys.stderr)
        return 2
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    events = load_jsonl(a.kernel)
    plans = load_jsonl(a.plans) if a.plans and os.path.exists(a.plans) else []
    wire = Wire(a.capture)

    plan_by_key = {}
    for p in plans:
        if p.get("client") and p.get("server"):
            k = key(ep(p["client"]["ip"], p["client"]["port"]),
                    ep(p["server"]["ip"], p["server"]["port"]))
            plan_by_key[k] = p
    ev_by_key = collections.defaultdict(list)
    for e in events:
        if e.get("type", "rst_sent") != "rst_sent":
            continue
        e["_sender"] = ep(e["laddr"], e["lport"])
        e["_key"] = key(e["_sender"], ep(e["raddr"], e["rport"]))
        ev_by_key[e["_key"]].append(e)
    for v in ev_by_key.values():
        v.sort(key=lambda e: e["ts"])

    def plan_text(k):
        p = plan_by_key.get(k)
        if not p:
            return None
        return "%s %s %s" % (p["plan"], p.get("where"),
                             json.dumps(p.get("params", {}), sort_keys=True))

    table = collections.defaultdict(collections.Counter)   # reason -> cause -> n
    per_expected = collections.defaultdict(lambda: [0, 0])  # expected -> [agree, n]
    cause_ok = by_ok = agree = n = 0
    disagreements, rst_no_kernel, used = [], [], set()
    kernel_no_rst_row = []
    rows_by_key = collections.defaultdict(list)
    for row in rows:
        c, s = ep(row["client"]["ip"], row["client"]["port"]), ep(row["server"]["ip"],
                                                                 row["server"]["port"])
        k = key(c, s)
        rows_by_key[k].append(row)
        if not row.get("rst"):
            continue
        evs = [e for e in ev_by_key.get(k, [])
               if row["first_ts"] - SLACK <= e["ts"] <= row["last_ts"] + SLACK]
        pk = wire.packets(k, row["first_ts"], row["last_ts"])
        if not evs:
            rst = next((p for p in pk if p["flags"] & pcaplib.RST), None)
            rst_no_kernel.append({"id": row["id"], "client": fmt_ep(c), "server": fmt_ep(s),
                                  "plan": plan_text(k), "cause": row["rst"]["cause"],
                                  "by": row["rst"]["by"], "detail": row["rst"]["detail"],
                                  "wire": Wire.describe(pk, c, rst)})
            continue
        e = first_event(evs)
        used.add(id(e))
        rstp = Wire.the_rst(pk, e["_sender"], e["ts"])
        ctx = Wire.context(pk, e["_sender"], rstp)
        exp = expected_cause(e["reason"], ctx)
        exp_by = "client" if e["_sender"] == c else "server" if e["_sender"] == s else "?"
        cause = row["rst"]["cause"]
        table[e["reason"]][cause] += 1
        n += 1
        okc = cause == exp
        okb = row["rst"]["by"] == exp_by
        cause_ok += okc
        by_ok += okb
        per_expected[exp or "?"][1] += 1
        if okc and okb:
            agree += 1
            per_expected[exp or "?"][0] += 1
        else:
            disagreements.append({
                "id": row["id"], "client": fmt_ep(c), "server": fmt_ep(s), "plan": plan_text(k),
                "kernel_reason": e["reason"], "kernel_state": e.get("state"),
                "kernel_by": exp_by, "expected": exp, "cause": cause,
                "by": row["rst"]["by"], "confidence": row["rst"]["confidence"],
                "detail": row["rst"]["detail"], "verdict": row.get("verdict"),
                "wire": Wire.describe(pk, c, rstp)})
    # kernel events (first per tuple) that no analyze row with an rst took
    for k, evs in ev_by_key.items():
        e = evs[0]
        if any(id(x) in used for x in evs):
            continue
        rws = [rw for rw in rows_by_key.get(k, [])
               if rw["first_ts"] - SLACK <= e["ts"] <= rw["last_ts"] + SLACK]
        kernel_no_rst_row.append({
            "tuple": "%s > %s" % (fmt_ep(e["_sender"]), fmt_ep(ep(e["raddr"], e["rport"]))),
            "reason": e["reason"], "plan": plan_text(k),
            "analyze": ("no connection" if not rws else
                        "connection %d without rst (verdict %s)" % (rws[0]["id"],
                                                                     rws[0]["verdict"])),
            "wire": Wire.describe(wire.by_key.get(k, []), None)})

    # ---- report
    causes_seen = [c for c in CAUSES if any(t[c] for t in table.values())]
    causes_seen += sorted({c for t in table.values() for c in t} - set(CAUSES))
    w = max([len(x) for x in table] + [24])
    print("Agreement table: rows = kernel reason, columns = analyze rst.cause "
          "(%d connections with an RST and a kernel reason)" % n)
    hdr = "%-*s" % (w, "kernel reason \\ cause") + "".join(" %*s" % (max(6, len(c)), c)
                                                          for c in causes_seen) + "  total"
    print(hdr)
    for reason in sorted(table, key=lambda r: -sum(table[r].values())):
        print("%-*s" % (w, reason) + "".join(" %*s" % (max(6, len(c)), table[reason][c] or ".")
                                             for c in causes_seen)
              + "  %5d" % sum(table[reason].values()))
    print()
    print("Agreement per expected cause (cause and rst.by both right):")
    for exp in sorted(per_expected, key=lambda x: -per_expected[x][1]):
        ok, tot = per_expected[exp]
        print("  %-24s %7s  (%d/%d)" % (exp, pct(ok, tot), ok, tot))
    print("  %-24s %7s  (%d/%d)" % ("OVERALL", pct(agree, n), agree, n))
    print("  cause alone: %s (%d/%d); rst.by alone: %s (%d/%d)" % (
        pct(cause_ok, n), cause_ok, n, pct(by_ok, n), by_ok, n))
    print()
    print("Disagreements: %d" % len(disagreements))
    for d in disagreements[:a.max_list]:
        print("  #%d %s <> %s  plan: %s" % (d["id"], d["client"], d["server"], d["plan"]))
        print("     kernel %s (%s, by %s) -> expected %s; analyze %s by %s (%s): %s" % (
            d["kernel_reason"], d["kernel_state"], d["kernel_by"], d["expected"], d["cause"],
            d["by"], d["confidence"], d["detail"]))
        print("     wire: %s" % d["wire"])
    if len(disagreements) > a.max_list:
        print("  ... %d more (see --json)" % (len(disagreements) - a.max_list))
    print()
    print("Connections with an RST but no kernel event: %d" % len(rst_no_kernel))
    for d in rst_no_kernel[:a.max_list]:
        print("  #%d %s <> %s  plan: %s; analyze %s by %s: %s" % (
            d["id"], d["client"], d["server"], d["plan"], d["cause"], d["by"], d["detail"]))
        print("     wire: %s" % d["wire"])
    print()
    print("Kernel RST events with no analyze connection that has an rst: %d" %
          len(kernel_no_rst_row))
    for d in kernel_no_rst_row[:a.max_list]:
        print("  %s %s plan: %s; analyze: %s" % (d["tuple"], d["reason"], d["plan"],
                                                d["analyze"]))
        print("     wire: %s" % d["wire"])

    if a.by_plan:
        print()
        print_by_plan(plans, ev_by_key, ep, key)

    overall = 100.0 * agree / n if n else 0.0
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"n": n, "agree": agree, "overall_pct": overall,
                       "cause_agree": cause_ok, "by_agree": by_ok,
                       "table": {r: dict(t) for r, t in table.items()},
                       "per_expected": {k: {"agree": v[0], "n": v[1]}
                                        for k, v in per_expected.items()},
                       "disagreements": disagreements, "rst_without_kernel_event": rst_no_kernel,
                       "kernel_event_without_rst_row": kernel_no_rst_row}, f, indent=1)
    if a.min_agreement is not None and (n == 0 or overall < a.min_agreement):
        print("score: overall agreement %.1f%% is below --min-agreement %g" %
              (overall, a.min_agreement), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

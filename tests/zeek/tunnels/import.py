#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Copies Zeek's tunnel traces and the TCP rows of their conn.log baselines
(tests/zeek/tunnels/README.md).  Nothing here comes from tlsfin.

usage: import.py ZEEK_GIT_DIR [OUTDIR]

For each btest below: the trace it reads goes to OUTDIR/traces/ unchanged,
and every conn.log row whose proto is tcp becomes a row of expected.tsv
(trace, orig_h, orig_p, resp_h, resp_p, tunnel types): the connections
tlsfin must find, and no others.  The tunnel types are those of the same
test's tunnel.log (Zeek's Tunnel:: names; '-' without a tunnel.log); a
trace whose conn.log has no TCP row gets one row with '-' endpoints: tlsfin
must find no TCP connection in it.
"""
import os
import subprocess
import sys

# btest name -> (trace under testing/btest/Traces, baseline to read)
TESTS = [
    ("core.tunnels.ip-in-ip", "tunnels/4in4.pcap", None),
    ("core.tunnels.ip-in-ip", "tunnels/6in4.pcap", None),
    ("core.tunnels.ip-in-ip", "tunnels/4in6.pcap", None),
    ("core.tunnels.ip-in-ip", "tunnels/6in6.pcap", None),
    ("core.tunnels.ip-in-ip", "tunnels/6in6in6.pcap", None),
    ("core.tunnels.ip-in-ip", "tunnels/6in6-tunnel-change.pcap", None),
    ("core.erspanI", "erspanI.pcap", "conn.log"),
    ("core.erspanII", "erspanII.pcap", "conn.log"),
    ("core.erspanIII", "erspanIII.pcap", "conn.log"),
    ("core.mpls-in-vlan", "mpls-in-vlan.pcap", "conn.log"),
    ("core.pppoe-over-qinq", "pppoe-over-qinq.pcap", "conn.log"),
    ("core.pppoe", "pppoe.pcap", "conn.log"),
    ("core.tunnels.analyzer-confirmation", "tunnels/vxlan-encapsulated-http.pcap", "conn.log"),
    ("core.tunnels.ayiya", "tunnels/ayiya3.pcap", "conn.log"),
    ("core.tunnels.ayiya-large-identity", "tunnels/ayiya-large-identity.pcap", "conn.log"),
    ("core.tunnels.count-default-tunnel-changes", "tunnels/tunnel-direct-bypass.pcap", None),
    ("core.tunnels.geneve", "tunnels/geneve.pcap", "conn.log"),
    ("core.tunnels.geneve-47101", "tunnels/geneve-47101.pcap", "conn.log"),
    ("core.tunnels.geneve-arp", "tunnels/geneve-arp.pcap", "conn.log"),
    ("core.tunnels.geneve-ipv6", "tunnels/geneve-ipv6.pcap", "conn.log"),
    ("core.tunnels.geneve-many-options", "tunnels/geneve-many-options.pcap", "conn.log"),
    ("core.tunnels.geneve-truncated", "tunnels/geneve-truncated.pcapng", "conn.log"),
    ("core.tunnels.geneve-vxlan-truncated", "tunnels/geneve-vxlan-dns-truncated.pcap", "conn.log"),
    ("core.tunnels.gre", "tunnels/gre-sample.pcap", "conn.log"),
    ("core.tunnels.gre-in-gre", "tunnels/gre-within-gre.pcap", "conn.log"),
    ("core.tunnels.gre-over-udp", "tunnels/gre-over-udp-4754.pcap", "conn.log"),
    ("core.tunnels.gre-pptp", "tunnels/gre-pptp.pcap", "conn.log"),
    ("core.tunnels.gtp.different_dl_and_ul", "tunnels/gtp/gtp2_different_udp_port.pcap", "conn.log"),
    ("core.tunnels.gtp.false_gtp", "tunnels/gtp/gtp3_false_gtp.pcap", "conn.log"),
    ("core.tunnels.gtp.inner_ipv6", "tunnels/gtp/gtp7_ipv6.pcap", "conn.log"),
    ("core.tunnels.gtp.inner_teredo", "tunnels/gtp/gtp8_teredo.pcap", "conn.log"),
    ("core.tunnels.gtp.not_user_plane_data", "tunnels/gtp/gtp10_not_0xff.pcap", "conn.log"),
    ("core.tunnels.gtp.opt_header", "tunnels/gtp/gtp6_gtp_0x32.pcap", "conn.log"),
    ("core.tunnels.gtp.outer_ip_frag", "tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap", "conn.log"),
    ("core.tunnels.max-depth", "tunnels/vxlan-triple-v2.pcap", "conn.log.cut"),
    ("core.tunnels.teredo", "tunnels/Teredo.pcap", "conn.log"),
    ("core.tunnels.teredo_bubble_with_payload", "tunnels/teredo_bubble_with_payload.pcap", "conn.log"),
    ("core.tunnels.vxlan", "tunnels/vxlan.pcap", "conn.log"),
    ("core.tunnels.vxlan-unknown-internal-packet", "tunnels/vxlan-encapsulated-igmp-v2.pcap", "conn.log"),
]

# Baselines that do not print the endpoints, copied by hand:
# core.tunnels.ip-in-ip prints events, not conn.log: its output's one TCP
# connection (4in6.pcap; the other traces carry UDP); the conn.log of
# core.tunnels.count-default-tunnel-changes is cut to uid and history: its
# one connection (history DX) is the tuple tunnel-direct-bypass.pcap.py
# writes, half of its packets plain and half in GRE.
BY_HAND = {"tunnels/4in6.pcap": [("70.55.213.211", "31337", "192.88.99.1", "80")],
           "tunnels/tunnel-direct-bypass.pcap": [("10.20.0.1", "44444", "10.20.0.2", "80")]}


def show(git, path):
    p = subprocess.run(["git", "--git-dir", git, "show", "HEAD:" + path], capture_output=True)
    return p.stdout if p.returncode == 0 else None


def zeek_rows(text):
    fields, rows = None, []
    for line in text.splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#") and fields:
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def main():
    git = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(out, "traces"), exist_ok=True)
    commit = subprocess.run(["git", "--git-dir", git, "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    lines = ["# zeek/zeek " + commit + " (tests/zeek/tunnels/import.py)",
             "trace\torig_h\torig_p\tresp_h\tresp_p\ttunnel_types"]
    for test, trace, log in TESTS:
        data = show(git, "testing/btest/Traces/" + trace)
        name = os.path.basename(trace)
        with open(os.path.join(out, "traces", name), "wb") as f:
            f.write(data)
        base = "testing/btest/Baseline/" + test + "/"
        tl = show(git, base + "tunnel.log")
        types = sorted({r["tunnel_type"] for r in zeek_rows(tl.decode())}) if tl else []
        types = ",".join(types) or "-"
        if log is None:
            tcp = BY_HAND.get(trace, [])
            src = base + ("output" if "ip-in-ip" in test else "conn.log, by hand")
        else:
            rows = zeek_rows(show(git, base + log).decode())
            tcp = [(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
                   for r in rows if r.get("proto") == "tcp"]
            src = base + log
        lines.append("# " + test + ": " + src)
        if not tcp:
            lines.append("\t".join([name, "-", "-", "-", "-", types]))
        for t in tcp:
            lines.append("\t".join((name,) + t + (types,)))
    with open(os.path.join(out, "expected.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

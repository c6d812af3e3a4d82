#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Opens N TCP connections to 127.0.0.1:PORT that never say anything.

usage: idle_clients.py PORT N [SECONDS]
Prints "held N" once all are connected (a connection counts once the
kernel completed it, whether or not the server has accepted it yet), then
holds them SECONDS (default 30) and exits: bounded, like every peer here.
"""
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
hold = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
conns = []
for _ in range(n):
    s = socket.socket()
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    conns.append(s)
print("held", len(conns), flush=True)
time.sleep(hold)

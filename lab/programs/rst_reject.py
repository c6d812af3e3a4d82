#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A listener that rejects whatever a client sends first (lab seed 003).

rst_reject.py PORT COUNT: accept COUNT connections one after another; for
each, wait until the client's first bytes (a TLS ClientHello) have arrived,
then close() without reading them: Linux answers with RST instead of FIN,
the shape of a server that refuses the offered version/ciphers or does not
speak TLS at all.
"""
import select
import socket
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
print("ready", port, flush=True)
for _ in range(count):
    s, peer = ls.accept()
    select.select([s], [], [], 5)
    print("first bytes from", peer, "arrived; close() without reading", flush=True)
    s.close()

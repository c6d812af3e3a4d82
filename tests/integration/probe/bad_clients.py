#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Scripted misbehaving TLS clients for the --listen tests, to 127.0.0.1.

usage: bad_clients.py MODE PORT
  flood       a TLS handshake and a request, then one-byte application
              data records without end: encrypted into memory 4096 at a
              time and sent with one sendall, faster than a reader that
              takes a record per read, so the server's reads never block
  tlsgarbage  a TLS handshake and a request, then random bytes without end
              on the raw socket
Stops by itself after 30 s or when the server closes.
"""
import os
import socket
import ssl
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
sock = socket.create_connection(("127.0.0.1", port))
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
s = ctx.wrap_bio(inc, out, server_hostname="client.test")
end = time.monotonic() + 30
try:
    while True:
        try:
            s.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(out.read())
            data = sock.recv(16384)
            if not data:
                sys.exit("closed in the handshake")
            inc.write(data)
    s.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.sendall(out.read())
    chunk = os.urandom(16384)
    while time.monotonic() < end:
        if mode == "flood":
            for _ in range(4096):
                s.write(b"x")
            sock.sendall(out.read())
        else:
            sock.sendall(chunk)
except OSError:
    pass  # the server closed or reset: done

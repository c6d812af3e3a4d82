#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Peers for the verdicts no other scenario produces, each in one process so
the order of events is exact.

usage: verdict_peers.py MODE PORT CERT KEY
  open                   TLS 1.3 request/response, then both stay connected
                         (the capture stops first): verdict open
  half_closed            TLS 1.3 exchange, the client sends close_notify and
                         shutdown(SHUT_WR); the server never closes
  handshake_closed       the server reads the ClientHello and closes its socket
                         (a FIN, no alert): a server that refuses without
                         saying why
Prints READY after the connection is in the state the scenario captures; then
waits for a line on stdin before closing everything.
"""
import socket
import ssl
import sys

mode, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(1)
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(cert, key)
keylog = sys.argv[5] if len(sys.argv) > 5 else None
if keylog:
    cctx.keylog_filename = keylog

raw = socket.create_connection(("127.0.0.1", port))
srv, _ = ls.accept()
if mode == "handshake_closed":
    raw.setblocking(False)
    c = cctx.wrap_socket(raw, do_handshake_on_connect=False)
    try:
        c.do_handshake()  # sends the ClientHello, then would block
    except ssl.SSLWantReadError:
        pass
    srv.recv(4096)  # read the ClientHello entirely: close() then sends FIN
    srv.close()
    c.setblocking(True)
    try:
        c.do_handshake()
        print("client: handshake succeeded?!", flush=True)
    except (ssl.SSLError, OSError) as e:
        print(f"client: {e!r}", flush=True)
    print("READY", flush=True)
    sys.stdin.readline()
    sys.exit(0)

import threading
box = {}
t = threading.Thread(target=lambda: box.setdefault("s", sctx.wrap_socket(srv, server_side=True)))
t.start()
c = cctx.wrap_socket(raw, server_hostname="tlsfin.test")
t.join()
s = box["s"]
c.sendall(b"GET / HTTP/1.1\r\nHost: tlsfin.test\r\n\r\n")
s.recv(4096)
s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
c.recv(4096)
if mode == "half_closed":
    # unwrap() sends close_notify, then waits for the server's: let it time
    # out, the server will never answer
    c.settimeout(0.3)
    try:
        c.unwrap()
    except (TimeoutError, socket.timeout, ssl.SSLError, OSError):
        pass
    socket.socket.shutdown(c, socket.SHUT_WR)  # wrap_socket took raw's fd
    s.recv(4096)  # the server reads close_notify (b'') but never closes
print("READY", flush=True)
sys.stdin.readline()

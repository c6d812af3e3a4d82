#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A TLS server that answers one request and then closes its TCP socket
without close_notify (a peer that "only sends FIN"), for the Boost.Asio
client of seed 001.  usage: fin_server.py PORT CERT KEY COUNT"""
import socket
import ssl
import sys

port, cert, key, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(2)
print("ready", flush=True)
for _ in range(count):
    c, _ = ls.accept()
    s = ctx.wrap_socket(c, server_side=True)
    s.recv(4096)
    s.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    raw = socket.socket(fileno=s.detach())  # drop TLS: FIN, no close_notify
    raw.close()
    print("closed without close_notify", flush=True)

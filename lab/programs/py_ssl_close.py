#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Python's ssl module: SSLSocket.close() versus unwrap() (lab habit).

  py_ssl_close.py server PORT CERTDIR close|unwrap
      answer HTTP requests on one connection until the client ends it; then
      close() (what most Python servers do) or unwrap() first (send our
      close_notify back), then close()
      (tcp: no TLS at all)
  py_ssl_close.py client PORT VERSION KEYLOG close|unwrap   (VERSION none: TCP)
      one request; then close() (no close_notify: Python never sends one on
      close) or unwrap() (SSL_shutdown: close_notify, wait for the peer's)
Every call and error is printed.
"""
import os
import socket
import ssl
import sys


def log(*a):
    print(*a, flush=True)


def server(port, certdir, mode):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem"))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    log("ready", port)
    raw, _ = ls.accept()
    s = raw if mode == "tcp" else ctx.wrap_socket(raw, server_side=True)
    while True:
        try:
            d = s.recv(65536)
        except (OSError, ssl.SSLError) as e:
            log("server recv error:", repr(e))
            break
        if not d:
            log("server recv: EOF (b'')")
            break
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    if mode == "unwrap":
        try:
            s = s.unwrap()
            log("server unwrap: ok")
        except (OSError, ssl.SSLError) as e:
            log("server unwrap error:", repr(e))
    s.close()
    log("server closed")


def client(port, version, keylog, mode):
    if version == "none":  # plain TCP for comparison: close() sends FIN
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
        log("client got", len(s.recv(65536)), "bytes")
        s.close()
        log("client close(): done")
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
    ctx.minimum_version = ctx.maximum_version = v
    ctx.keylog_filename = keylog
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    log("client handshake", s.version())
    s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    log("client got", len(s.recv(65536)), "bytes")
    if mode == "unwrap":
        try:
            raw = s.unwrap()
            log("client unwrap: ok")
            raw.close()
        except (OSError, ssl.SSLError) as e:
            log("client unwrap error:", repr(e))
            s.close()
    else:
        s.close()
        log("client close(): done")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        client(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])

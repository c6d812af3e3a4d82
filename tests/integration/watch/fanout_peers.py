#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Peers for test_watch_fanout.sh: many short connections with various
endings between two network namespaces.

  fanout_peers.py serve IP PORT CERT KEY       (in the server's namespace)
  fanout_peers.py client IP PORT N OPENFILE    (in the client's namespace)

The server listens on PORT .. PORT+5, one behaviour per port:
  PORT+0  plain TCP: read the request, answer, close   -> tcp_clean
  PORT+1  plain TCP: close with the request unread     -> reset (unread_data)
  PORT+2  TLS: answer, close_notify both ways          -> tls_clean
  PORT+3  TLS: answer, close without close_notify      -> tls_truncated
  PORT+4  plain TCP: answer; the client aborts (SO_LINGER {1,0}) -> reset
  PORT+5  plain TCP: answer, stay open                 -> open (at watch's end)
PORT+6 has no listener (refused).  The client makes N connections in turn
over the kinds, several at a time, and keeps the PORT+5 ones open until
OPENFILE exists.  Prints "READY" (server) / "DONE n" (client).
"""
import os
import socket
import ssl
import struct
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

KINDS = 7


def serve(ip, port, cert, key):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    held = []

    def handle(kind, c):
        try:
            if kind == 1:
                time.sleep(0.05)  # the request arrives, unread
                c.close()
                return
            if kind in (2, 3):
                s = sctx.wrap_socket(c, server_side=True)
                s.recv(100)
                s.sendall(b"hello")
                if kind == 2:
                    s.unwrap().close()
                else:
                    s.close()
                return
            c.recv(100)
            c.sendall(b"hello")
            if kind == 5:
                held.append(c)
                return
            if kind == 4:
                c.recv(100)  # until the client's RST
            c.close()
        except (OSError, ssl.SSLError):
            c.close()

    def accept_loop(kind, ls):
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(kind, c), daemon=True).start()

    for kind in range(6):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((ip, port + kind))
        ls.listen(256)
        threading.Thread(target=accept_loop, args=(kind, ls), daemon=True).start()
    print("READY", flush=True)
    sys.stdin.read()  # until the test closes our stdin


def client(ip, port, n, openfile):
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    held = []
    lock = threading.Lock()

    def one(i):
        kind = i % KINDS
        s = socket.socket()
        s.settimeout(10)
        try:
            s.connect((ip, port + kind))
        except OSError:
            s.close()  # PORT+6: refused
            return
        try:
            if kind in (2, 3):
                t = cctx.wrap_socket(s, suppress_ragged_eofs=True)
                t.sendall(b"hi")
                t.recv(5)
                if kind == 2:
                    t.recv(10)  # the server's close_notify
                    t.unwrap().close()
                else:
                    t.recv(10)
                    t.close()
                return
            s.sendall(b"hi")
            if kind == 1:
                try:
                    s.recv(10)
                except OSError:
                    pass
                s.close()
                return
            s.recv(5)
            if kind == 4:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return
            if kind == 5:
                with lock:
                    held.append(s)
                return
            s.recv(10)  # the server's FIN
            s.close()
        except (OSError, ssl.SSLError) as e:
            print(f"connection {i} kind {kind}: {e}", flush=True)
            s.close()

    with ThreadPoolExecutor(max_workers=8) as ex:
        list(ex.map(one, range(n)))
    print(f"DONE {n}", flush=True)
    while not os.path.exists(openfile):
        time.sleep(0.1)
    for s in held:
        s.close()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])

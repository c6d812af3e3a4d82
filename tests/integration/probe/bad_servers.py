#!/usr/bin/env python3
"""Scripted misbehaving servers for the probe tests, on 127.0.0.1.

usage: bad_servers.py MODE PORT
  reset     read the ClientHello, then close() without reading it all: RST
  silent    accept and never answer
  garbage   answer any connection with an SSH banner
Prints "ready" once listening; serves until killed.
"""
import socket
import struct
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(16)
print("ready", flush=True)
held = []


def serve(c):
    if mode == "reset":
        c.recv(10)  # the rest of the ClientHello stays unread
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    elif mode == "silent":
        held.append(c)
    elif mode == "garbage":
        c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
        time.sleep(0.2)
        c.close()


while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()

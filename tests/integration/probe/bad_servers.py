#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Scripted misbehaving servers for the probe tests, on 127.0.0.1.

usage: bad_servers.py MODE PORT [CERT KEY]
  reset       read the ClientHello, then close() without reading it all: RST
  silent      accept and never answer
  garbage     answer any connection with an SSH banner
  hugehs      answer with valid handshake records that announce a 16 MB
              handshake message, and keep sending its body
  bigrecord   answer with a handshake record header claiming 65535 bytes
  flood       (CERT KEY) a real TLS handshake, then application data
              without end, whatever the client does
  tlsgarbage  (CERT KEY) a real TLS handshake, then random bytes without
              end on the raw socket
  http        (CERT KEY LOG) a well-behaved HTTP/1.1 keep-alive server:
              appends each SNI it is sent to LOG, a line each ("-" for
              none), answers each request, and closes a connection idle
              for 1 s with a bare FIN
Prints "ready" once listening; serves until killed.  Each connection's
sending is bounded (at most 60 s or the 16 MB), so nothing runs forever.
"""
import os
import socket
import ssl
import struct
import sys
import threading
import time

mode, port = sys.argv[1], int(sys.argv[2])
ctx = None
if mode in ("flood", "tlsgarbage", "http"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
lock = threading.Lock()
if mode == "http":
    def sni_seen(sock, name, c):
        with lock, open(sys.argv[5], "a") as log:
            log.write("%s\n" % (name or "-"))
    ctx.sni_callback = sni_seen
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(64)
print("ready", flush=True)
held = []


def until(seconds):
    end = time.monotonic() + seconds
    return lambda: time.monotonic() < end


def serve(c):
    try:
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
        elif mode == "hugehs":
            c.recv(4096)
            # handshake records of 2^14 bytes (valid lengths); the first
            # starts a ServerHello whose 24-bit length says 16 MB - 1
            first = b"\x02\xff\xff\xff" + b"\x03\x03" + os.urandom(16384 - 6)
            c.sendall(b"\x16\x03\x03\x40\x00" + first)
            sent, more = 16384, until(60)
            while sent < (1 << 24) and more():
                c.sendall(b"\x16\x03\x03\x40\x00" + b"\0" * 16384)
                sent += 16384
                time.sleep(0.001)  # a trickle: reading it all takes ~1 s+
            c.close()
        elif mode == "bigrecord":
            c.recv(4096)
            c.sendall(b"\x16\x03\x03\xff\xff" + b"\x02" + b"\0" * 4000)
            held.append(c)  # the rest of the "record" never comes
        elif mode == "flood":
            # One-byte records, encrypted into memory 4096 at a time and
            # written with one sendall: cheaper to make than to read for a
            # reader that takes a record (two recv calls) per read, so its
            # socket never runs dry and a read never blocks.
            inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
            s = ctx.wrap_bio(inc, out, server_side=True)
            while True:
                try:
                    s.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    c.sendall(out.read())
                    data = c.recv(16384)
                    if not data:
                        raise OSError("closed in the handshake")
                    inc.write(data)
            c.sendall(out.read())
            more = until(60)
            while more():
                for _ in range(4096):
                    s.write(b"x")
                c.sendall(out.read())
        elif mode == "http":
            s = ctx.wrap_socket(c, server_side=True)
            s.settimeout(1.0)
            more, buf = until(60), b""
            while more():
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    break  # idle for 1 s: close
                if not data:
                    break
                buf += data
                while b"\r\n\r\n" in buf:
                    buf = buf.split(b"\r\n\r\n", 1)[1]
                    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n")
            s.close()  # Python: a bare FIN, no close_notify
        elif mode == "tlsgarbage":
            s = ctx.wrap_socket(c, server_side=True)
            more = until(60)
            chunk = os.urandom(16384)
            while more():
                os.write(s.fileno(), chunk)  # raw bytes under TLS
    except (OSError, ssl.SSLError):
        c.close()


while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()

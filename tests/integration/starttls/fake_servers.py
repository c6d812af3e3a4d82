#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Misbehaving plaintext servers for the --starttls error paths, on
127.0.0.1.  Real servers cover the dialogues that work; these cover what a
real one would rarely do on purpose.

usage: fake_servers.py MODE...
  closemid   SMTP: a 220 greeting, then a bare FIN on EHLO
  garbage    whatever is said: binary lines with NUL, 0xff, bare CR, no code
  random     on connect and on every read: random bytes (seeded per
             connection), then a FIN
  longline   20 kB without a newline
  flood      SMTP: a 220 greeting, then "250-" lines without end on EHLO
  inject     SMTP: a proper dialogue, but "220 go" comes with bytes after it
  ldaphuge   an LDAPMessage header announcing 2 GB, then silence
  ldapnotice LDAP: a Notice of Disconnection (messageID 0) for StartTLS
  mysqlerr   MySQL: an ERR packet instead of the greeting ("too many
             connections")
  mysqlbig   MySQL: a packet header announcing 16 MB
  xmpperror  XMPP: a stream header, then <stream:error><host-unknown/>
Each mode listens on a port of its own, printed as "MODE PORT" (one
Python for them all: its start is the slow part); then "ready".  Serves
until killed.  Every connection ends
within 10 s or 4 MB, whatever the client does.
"""
import random
import socket
import sys
import threading
import time

def serve(c, n, mode):
    c.settimeout(10)
    end = time.monotonic() + 10
    rnd = random.Random(n)
    try:
        if mode == "closemid":
            c.sendall(b"220 fake.test ESMTP\r\n")
            c.recv(100)
        elif mode == "garbage":
            junk = (b"\x00\xff\xfe garbage \x00 line\r\n", b"2\r\n", b"25\r\n",
                    b"250\x00STARTTLS\r\n", b"* \xffOK\r", b"\x30\x05\x02\x01",
                    b"+\r\n", b"-ERR\r\n", b"xyz-\r\n")
            for j in junk:
                c.sendall(j)
            while time.monotonic() < end and c.recv(1000):
                c.sendall(rnd.choice(junk) * 3)
        elif mode == "random":
            for _ in range(8):
                c.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 600))))
                c.settimeout(0.2)
                try:
                    if not c.recv(1000):
                        break
                except socket.timeout:
                    pass
        elif mode == "longline":
            c.sendall(b"220 " + b"x" * 20000)
            c.recv(100)
        elif mode == "flood":
            c.sendall(b"220 fake.test ESMTP\r\n")
            c.recv(100)
            sent = 0
            while time.monotonic() < end and sent < 4 << 20:
                c.sendall(b"250-PIPELINING\r\n" * 64)
                sent += 17 * 64
        elif mode == "inject":
            c.sendall(b"220 fake.test ESMTP\r\n")
            c.recv(100)
            c.sendall(b"250-fake.test\r\n250 STARTTLS\r\n")
            c.recv(100)
            c.sendall(b"220 go ahead\r\n\x16\x03\x03\x00\x02\x02\x00")
            c.recv(100)
        elif mode == "ldaphuge":
            c.recv(100)
            c.sendall(b"\x30\x84\x7f\xff\xff\xff\x02\x01\x01")
            c.recv(100)
        elif mode == "ldapnotice":
            c.recv(100)
            oid = b"1.3.6.1.4.1.1466.20036"
            diag = b"server shutting down"
            resp = (b"\x0a\x01\x34" + b"\x04\x00" + b"\x04" + bytes([len(diag)]) + diag
                    + b"\x8a" + bytes([len(oid)]) + oid)
            op = b"\x78" + bytes([len(resp)]) + resp
            msg = b"\x02\x01\x00" + op
            c.sendall(b"\x30" + bytes([len(msg)]) + msg)
            c.recv(100)
        elif mode == "mysqlerr":
            body = b"\xff\x10\x04#08004Too many connections"
            c.sendall(len(body).to_bytes(3, "little") + b"\x00" + body)
        elif mode == "mysqlbig":
            c.sendall(b"\xff\xff\xff\x00\x0a5.5.5-fake\x00")
            c.recv(100)
        elif mode == "xmpperror":
            c.recv(1000)
            c.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                      b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                      b"<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:"
                      b"xmpp-streams'/></stream:error></stream:stream>")
            c.recv(100)
    except OSError:
        pass
    finally:
        c.close()


def accept(ls, mode):
    conns = 0
    while True:
        c, _ = ls.accept()
        conns += 1
        threading.Thread(target=serve, args=(c, conns, mode), daemon=True).start()


threads = []
for mode in sys.argv[1:]:
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    print(mode, ls.getsockname()[1], flush=True)
    threads.append(threading.Thread(target=accept, args=(ls, mode), daemon=True))
for t in threads:
    t.start()
print("ready", flush=True)
threading.Event().wait()

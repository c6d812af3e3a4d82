#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""A small HTTPS client for nginx habits (lab).

  py_http_client.py idle PORT VERSION KEYLOG
      one keep-alive GET, then wait (reading) until the server ends the
      connection; prints how long that took and what the read returned
  py_http_client.py upload PORT VERSION KEYLOG SECONDS
      POST announcing a large body, then keep sending 1 KB chunks every
      50 ms for SECONDS whatever the server answers (a slow uploader that
      ignores an early 413), printing the response and every error
"""
import select
import socket
import ssl
import sys
import time


def log(*a):
    print(*a, flush=True)


def connect(port, version, keylog):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
    ctx.minimum_version = ctx.maximum_version = v
    ctx.keylog_filename = keylog
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                        suppress_ragged_eofs=False)
    log("handshake", s.version())
    return s


def idle(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    log("response:", s.recv(65536).split(b"\r\n")[0].decode())
    t0 = time.time()
    while True:
        try:
            d = s.recv(65536)
        except (OSError, ssl.SSLError) as e:
            log("after %.2fs idle: read error %r" % (time.time() - t0, e))
            break
        if not d:
            log("after %.2fs idle: read returned b'' (end of stream)" % (time.time() - t0))
            break
        log("read", len(d))
    s.close()
    log("client close()")


def upload(s, seconds):
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: lab\r\nContent-Length: 10000000\r\n\r\n")
    chunk = b"u" * 1024
    t0 = time.time()
    sent = 0
    while time.time() - t0 < seconds:
        try:
            s.sendall(chunk)
            sent += len(chunk)
        except (OSError, ssl.SSLError) as e:
            log("after %.2fs, %d body bytes sent: write error %r" % (time.time() - t0, sent, e))
            break
        r, _, _ = select.select([s], [], [], 0.05)
        if r:
            try:
                d = s.recv(65536)
                log("after %.2fs read %r" % (time.time() - t0, d.split(b"\r\n")[0] if d else d))
            except (OSError, ssl.SSLError) as e:
                log("after %.2fs: read error %r" % (time.time() - t0, e))
                break
    else:
        log("sent %d body bytes in %.1fs without error" % (sent, seconds))
    s.close()
    log("client close()")


if __name__ == "__main__":
    sock = connect(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    if sys.argv[1] == "idle":
        idle(sock)
    else:
        upload(sock, float(sys.argv[5]))

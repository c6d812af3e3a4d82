#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Make TCP connections end with an RST for a given reason (lab seed 003).

Loopback modes run BOTH endpoints in this one process, so the order of events
is exact (the TLS handshakes run in a helper thread, everything else in
sequence); the kernel's reactions (RST instead of FIN, RST to data after
close) are real Linux behaviour:

  rst_pair.py pair MODE --port P [--tls 1.2|1.3|none] [--keylog FILE]
    data_after_close  server closes (close_notify + FIN with TLS), the client
                      keeps writing -> the server's kernel answers with RST
    unread_data       the client's request is never read; the server
                      close()s -> RST instead of FIN
    unread_shutwr     the server shutdown(SHUT_WR)s first (FIN), the client
                      then sends, the server close()s with it unread -> RST
    abort             after a full exchange the client sets SO_LINGER {1,0}
                      and closes -> RST, nothing provoked it
    killed_unread     a forked server process is SIGKILLed while the client's
                      request sits unread -> RST
    killed_idle       same, nothing unread -> the kernel sends a bare FIN

Two-process modes (for network namespaces; `serve` in one, `client` in the
other; the client waits for --go FILE to exist before its second step):

  rst_pair.py serve --host IP --port P [--tls ...]   answer one request, then
                      read and ignore everything until EOF or error
  rst_pair.py client MODE --host IP --port P [--tls ...] [--keylog F] --go FILE
    send_after_go     after go: send data, then read until error
                      (the server lost its state -> RST; or the path is
                      dropped -> the kernel times out silently: ETIMEDOUT)
    rto_abort         after go: send data, wait --timeout seconds for an
                      answer, then abort with SO_LINGER {1,0}
    wait_reset        after go: send a small record (the injector learns the
                      sequence number from it), then read until error

Every step and every error the application saw is printed on stdout.
"""
import argparse
import os
import select
import signal
import socket
import ssl
import struct
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(*a):
    print(*a, flush=True)


def contexts(ver, keylog, certdir):
    if ver == "none":
        return None, None
    v = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[ver]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(os.path.join(certdir, "cert.pem"),
                         os.path.join(certdir, "key.pem"))
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    for c in (sctx, cctx):
        c.minimum_version = c.maximum_version = v
    if keylog:
        cctx.keylog_filename = keylog
    return sctx, cctx


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def read_some(s, n=65536):
    """One recv/SSL_read; returns bytes or a description of the error."""
    try:
        return s.recv(n)
    except (OSError, ssl.SSLError) as e:
        return e


def wait_readable(s, t=5.0):
    r, _, _ = select.select([s], [], [], t)
    if not r:
        raise SystemExit("timeout waiting for data")


def ssl_close_notify_only(s):
    """Send close_notify without waiting for the peer's (SSL_shutdown once).

    Python's unwrap() waits for the peer's close_notify on a blocking socket;
    on a non-blocking one the first SSL_shutdown sends ours and the second
    reports WANT_READ, which is where a one-way close stops (RFC 8446 §6.1
    allows closing without waiting)."""
    s.setblocking(False)
    try:
        s.unwrap()
    except ssl.SSLWantReadError:
        pass
    s.setblocking(True)


def make_pair(a):
    sctx, cctx = contexts(a.tls, a.keylog, a.certdir)
    ls = socket.socket(family(a.host))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(1)
    c = socket.create_connection((a.host, a.port))
    s, _ = ls.accept()
    ls.close()
    if sctx:
        box = {}

        def srv():
            box["s"] = sctx.wrap_socket(s, server_side=True, suppress_ragged_eofs=False)

        t = threading.Thread(target=srv)
        t.start()
        c = cctx.wrap_socket(c, suppress_ragged_eofs=False)
        t.join()
        s = box["s"]
        log("handshake", c.version(), c.cipher()[0])
    return c, s


def exchange(c, s):
    """One request/response; the client reads the whole response (and with
    TLS 1.3 the NewSessionTickets before it), so nothing is left unread."""
    c.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    req = s.recv(65536)
    log("server got", len(req), "bytes")
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    resp = c.recv(65536)
    log("client got", len(resp), "bytes")


def linger0(sock):
    # SO_LINGER {on, 0 s}: close() discards the send queue and sends RST
    # (RFC 9293 §3.10.4 ABORT).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def mode_pair(a):
    if a.mode in ("killed_unread", "killed_idle"):
        return mode_killed(a)
    c, s = make_pair(a)
    exchange(c, s)
    if a.mode == "data_after_close":
        if a.tls != "none":
            ssl_close_notify_only(s)
            log("server sent close_notify")
        s.close()
        log("server closed")
        wait_readable(c)
        time.sleep(0.05)  # ordering: the FIN has arrived before we write
        try:
            c.sendall(b"more data from the client after the server closed")
            log("client wrote after server close: ok")
        except (OSError, ssl.SSLError) as e:
            log("client write error:", repr(e))
        time.sleep(0.05)
        r = read_some(c)
        log("client read:", repr(r))
        r = read_some(c)
        log("client read:", repr(r))
        try:
            c.sendall(b"again")
            log("client second write: ok")
        except (OSError, ssl.SSLError) as e:
            log("client second write error:", repr(e))
        c.close()
    elif a.mode in ("unread_data", "unread_shutwr"):
        if a.mode == "unread_shutwr":
            s.shutdown(socket.SHUT_WR)
            log("server shutdown(SHUT_WR)")
            wait_readable(c)
            r = read_some(c)
            log("client read:", repr(r))
        c.sendall(b"GET /second HTTP/1.1\r\nHost: lab\r\n\r\n")
        wait_readable(s)  # the request is in the server's receive buffer
        s.close()
        log("server closed with unread data")
        wait_readable(c)
        r = read_some(c)
        log("client read:", repr(r))
        c.close()
    elif a.mode == "abort":
        linger0(c)
        c.close()
        log("client closed with SO_LINGER {1,0}")
        wait_readable(s)
        r = read_some(s)
        log("server read:", repr(r))
        s.close()
    else:
        raise SystemExit("unknown mode " + a.mode)


def mode_killed(a):
    sctx, cctx = contexts(a.tls, a.keylog, a.certdir)
    ls = socket.socket(family(a.host))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(1)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server process, to be killed
        s, _ = ls.accept()
        if sctx:
            s = sctx.wrap_socket(s, server_side=True, suppress_ragged_eofs=False)
        s.recv(65536)
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        os.write(wr, b"x")
        time.sleep(60)
        os._exit(0)
    ls.close()
    c = socket.create_connection((a.host, a.port))
    if cctx:
        c = cctx.wrap_socket(c, suppress_ragged_eofs=False)
        log("handshake", c.version(), c.cipher()[0])
    c.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    log("client got", len(c.recv(65536)), "bytes")
    os.read(rd, 1)
    if a.mode == "killed_unread":
        c.sendall(b"GET /second HTTP/1.1\r\nHost: lab\r\n\r\n")
        # Wait until the server's kernel has ACKed it (send queue empty).
        for _ in range(100):
            if struct.unpack("i", __import__("fcntl").ioctl(
                    c.fileno(), 0x5411, b"\0\0\0\0"))[0] == 0:
                break
            time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    log("server process killed (SIGKILL)")
    wait_readable(c)
    r = read_some(c)
    log("client read:", repr(r))
    c.close()


def mode_serve(a):
    sctx, _ = contexts(a.tls, None, a.certdir)
    ls = socket.socket(family(a.host))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(1)
    log("ready", a.port)
    s, peer = ls.accept()
    if sctx:
        s = sctx.wrap_socket(s, server_side=True, suppress_ragged_eofs=False)
    log("accepted", peer)
    log("server got", len(s.recv(65536)), "bytes")
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    while True:
        r = read_some(s)
        log("server read:", repr(r) if not isinstance(r, bytes) else len(r))
        if not isinstance(r, bytes) or not r:
            break
    s.close()


def mode_client(a):
    _, cctx = contexts(a.tls, a.keylog, a.certdir)
    c = socket.create_connection((a.host, a.port))
    if cctx:
        c = cctx.wrap_socket(c, suppress_ragged_eofs=False)
        log("handshake", c.version(), c.cipher()[0])
    c.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    log("client got", len(c.recv(65536)), "bytes")
    # Send the pending (delayed) ACK now, so that nothing of ours is still in
    # flight when the scenario changes the path or the server's state.
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    log("established")
    while not os.path.exists(a.go):
        time.sleep(0.02)
    if a.mode == "wait_reset":
        c.sendall(b"ping")
        log("client sent ping")
    else:
        c.sendall(b"POST /x HTTP/1.1\r\nHost: lab\r\nContent-Length: 4\r\n\r\nabcd")
        log("client sent request")
    if a.mode == "rto_abort":
        r, _, _ = select.select([c], [], [], a.timeout)
        if not r:
            log("no answer after %.1fs: abort (SO_LINGER {1,0})" % a.timeout)
            linger0(c)
            c.close()
            return
    t0 = time.time()
    while True:
        r = read_some(c)
        log("client read after %.2fs:" % (time.time() - t0),
            repr(r) if not isinstance(r, bytes) else len(r))
        if not isinstance(r, bytes) or not r:
            break
    c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["pair", "serve", "client"])
    p.add_argument("mode", nargs="?", default="")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--tls", default="1.3", choices=["1.2", "1.3", "none"])
    p.add_argument("--keylog")
    p.add_argument("--certdir", required=True)
    p.add_argument("--go")
    p.add_argument("--timeout", type=float, default=1.5)
    a = p.parse_args()
    {"pair": mode_pair, "serve": mode_serve, "client": mode_client}[a.role](a)


if __name__ == "__main__":
    main()

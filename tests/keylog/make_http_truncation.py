#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Builds http_truncation.pcapng + .keys: Python ssl servers on loopback that
end HTTPS responses without close_notify (sock.close() on the raw socket
after SSLSocket.unwrap is skipped), once after the full body (harmless) and
once in the middle of the body (data lost), for TLS 1.3 and TLS 1.2.  The
client reads until EOF with suppress_ragged_eofs.  Run as root (dumpcap).

usage: make_http_truncation.py OUTDIR
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

out = sys.argv[1]
tmp = tempfile.mkdtemp()
key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", crt, "-days", "2", "-subj", "/CN=tlsfin.test"], check=True,
               capture_output=True)
keys = os.path.join(out, "http_truncation.keys")
if os.path.exists(keys):
    os.unlink(keys)
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(8)
port = ls.getsockname()[1]
cap = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {port}", "-w",
                        os.path.join(out, "http_truncation.pcapng")], stderr=subprocess.PIPE)
# dumpcap prints "Capturing on 'Loopback: lo'" once it is ready
while b"Capturing" not in cap.stderr.readline():
    pass
time.sleep(1.0)  # "Capturing" comes before the capture really runs

BODY = b"x" * 20000
cases = [("TLSv1_3", True), ("TLSv1_3", False), ("TLSv1_2", True), ("TLSv1_2", False)]


def server():
    for ver, complete in cases:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.minimum_version = ctx.maximum_version = getattr(ssl.TLSVersion, ver)
        c, _ = ls.accept()
        s = ctx.wrap_socket(c, server_side=True)
        s.recv(1000)
        body = BODY if complete else BODY[:7000]
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + body)
        time.sleep(0.05)
        # close the TCP socket under TLS: FIN without close_notify
        raw = socket.socket(fileno=s.detach())
        raw.shutdown(socket.SHUT_WR)
        time.sleep(0.05)
        raw.close()


t = threading.Thread(target=server)
t.start()
for ver, complete in cases:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.keylog_filename = keys
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                        suppress_ragged_eofs=True)
    s.sendall(b"GET / HTTP/1.1\r\nHost: tlsfin.test\r\n\r\n")
    got = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
    print(f"{ver} complete={complete}: client read {len(got)} bytes then EOF")
    s.close()
t.join()
time.sleep(0.3)
cap.terminate()
cap.wait()

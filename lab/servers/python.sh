#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Python's http.server (Debian python3: ThreadingHTTPServer and
# SimpleHTTPRequestHandler, HTTP/1.0 as shipped) behind
# ssl.SSLContext(PROTOCOL_TLS_SERVER).wrap_socket(): Python's and OpenSSL's
# default TLS settings.
#   lab/servers/python.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init python "$@"
py=/usr/bin/python3 # Debian's, not a pyenv one
srv_need $py python3
srv_meta version "Python $($py -c 'import platform; print(platform.python_version())') http.server + ssl, $($py -c 'import ssl; print(ssl.OPENSSL_VERSION)')"
srv_meta package "$(srv_pkg python3 libpython3.11-stdlib)"
mkdir -p "$SRV_DIR/html"
echo ok >"$SRV_DIR/html/index.html"
cat >"$SRV_DIR/server.py" <<'PY'
import functools, http.server, ssl, sys
cert, key, port, root = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=root)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
srv_bg python $py "$SRV_DIR/server.py" "$SRV_CERT" "$SRV_KEY" "$SRV_PORT" "$SRV_DIR/html"
srv_wait_port "$SRV_PORT"
srv_serve

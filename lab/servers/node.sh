#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Node.js https.createServer({key, cert}) answering "ok": Node's default
# TLS settings and HTTP keep-alive timeout (server.keepAliveTimeout).
#   lab/servers/node.sh [PORT [DIR]] [-- CMD...]   (see lab/servers/lib.sh)
# shellcheck source=lab/servers/lib.sh
source "$(dirname "$0")/lib.sh"
srv_init node "$@"
srv_need node nodejs
srv_meta version "Node.js $(node -v), OpenSSL $(node -p process.versions.openssl)"
srv_meta package "$(srv_pkg nodejs)"
cat >"$SRV_DIR/server.js" <<'JS'
const https = require('https'), fs = require('fs');
const [cert, key, port] = process.argv.slice(2);
https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) },
  (req, res) => { res.setHeader('Content-Type', 'text/plain'); res.end('ok\n'); })
  .listen(+port, '127.0.0.1');
JS
srv_bg node node "$SRV_DIR/server.js" "$SRV_CERT" "$SRV_KEY" "$SRV_PORT"
srv_wait_port "$SRV_PORT"
srv_serve

#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Builds nginx_ciphers.pcapng + .keys: curl downloads a 20 KB file from nginx
# once per cipher family tlsfin decrypts: TLS 1.3 AES-128-GCM, TLS 1.3
# ChaCha20-Poly1305, TLS 1.2 AES-256-GCM, TLS 1.2 ChaCha20, TLS 1.2
# AES-128-CBC-SHA256 and AES-256-CBC-SHA (both with encrypt_then_mac, RFC
# 7366, which OpenSSL negotiates by default; the MAC-then-encrypt order is
# covered by tests/unit/crypto).  usage (root): make_nginx_ciphers.sh OUTDIR
set -euo pipefail
out=$(cd "$1" && pwd)
d=$(mktemp -d)
trap 'kill $(cat "$d/nginx.pid" 2>/dev/null) 2>/dev/null; rm -rf "$d"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/k.pem" -out "$d/c.pem" -days 2 -subj /CN=t 2>/dev/null
mkdir -p "$d/html" && chmod 755 "$d" "$d/html" && head -c 20000 /dev/urandom >"$d/html/f"
port=$((20000 + RANDOM % 20000))
cat >"$d/nginx.conf" <<CONF
worker_processes 1;
error_log $d/error.log;
pid $d/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $d/b; proxy_temp_path $d/p; fastcgi_temp_path $d/f2;
  uwsgi_temp_path $d/u; scgi_temp_path $d/s;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $d/c.pem; ssl_certificate_key $d/k.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ALL;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256;
    root $d/html;
  }
}
CONF
nginx -c "$d/nginx.conf"
for _ in $(seq 50); do ss -ltn | grep -q ":$port " && break; sleep 0.1; done
rm -f "$out/nginx_ciphers.keys"
dumpcap -q -i lo -f "tcp port $port" -w "$out/nginx_ciphers.pcapng" 2>"$d/err" &
dp=$!
until grep -q Capturing "$d/err"; do sleep 0.1; done
sleep 1
export SSLKEYLOGFILE=$out/nginx_ciphers.keys
u="https://127.0.0.1:$port/f"
curl -sk --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256 -o /dev/null "$u"
curl -sk --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 -o /dev/null "$u"
for c in ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-SHA256 ECDHE-RSA-AES256-SHA; do
  curl -sk --tlsv1.2 --tls-max 1.2 --ciphers "$c" -o /dev/null "$u"
done
sleep 1
kill -INT $dp
wait $dp || true

/* SPDX-License-Identifier: BSD-2-Clause */
#include "tlsrecord.h"

#include <openssl/evp.h>
#include <string.h>

/* The record limits of the versions probed: TLSCiphertext is at most
 * 2^14 + 256 bytes in TLS 1.3 (RFC 8446 §5.2) and 2^14 + 2048 in TLS 1.2
 * (RFC 5246 §6.2.3); plaintext at most 2^14 (RFC 8446 §5.1). */
#define MAX_CIPHERTEXT (16384 + 2048)
#define MAX_PLAINTEXT 16384

static void put_seq(uint8_t *p, uint64_t seq) {
  for (int i = 7; i >= 0; i--, seq >>= 8)
    p[i] = (uint8_t)seq;
}

static int aead_seal(const struct tf_suite *s, const uint8_t *key,
                     const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
                     const uint8_t *pt, size_t ptlen, uint8_t *out) {
  const EVP_CIPHER *c = s->kind == TF_KIND_CHACHA ? EVP_chacha20_poly1305()
                        : s->key_len == 16        ? EVP_aes_128_gcm()
                                                  : EVP_aes_256_gcm();
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int ok = 0, n = 0, f = 0;
  if (x && EVP_EncryptInit_ex(x, c, NULL, NULL, NULL) == 1 &&
      EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
      EVP_EncryptInit_ex(x, NULL, NULL, key, nonce) == 1 &&
      EVP_EncryptUpdate(x, NULL, &n, aad, (int)aadlen) == 1 &&
      EVP_EncryptUpdate(x, out, &n, pt, (int)ptlen) == 1 &&
      EVP_EncryptFinal_ex(x, out + n, &f) == 1 &&
      EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out + n + f) == 1)
    ok = 1;
  EVP_CIPHER_CTX_free(x);
  return ok ? n + f + 16 : -1;
}

int tf_seal_record(struct tf_dec *w, uint8_t type, const uint8_t *pt,
                   size_t len, uint8_t *out, size_t cap) {
  if (!w->ready || !w->suite || w->suite->kind == TF_KIND_CBC ||
      len > MAX_PLAINTEXT)
    return -1;
  uint8_t nonce[12], sq[8];
  put_seq(sq, w->seq);
  if (w->suite->tls13) {
    /* RFC 8446 §5.2: TLSInnerPlaintext = content || type (no padding);
     * outer type application_data, legacy_record_version 0x0303, and the
     * header is the additional data.  §5.3: nonce = iv XOR seq. */
    size_t ctlen = len + 1 + 16;
    if (cap < 5 + ctlen)
      return -1;
    out[0] = 23;
    out[1] = 3;
    out[2] = 3;
    out[3] = (uint8_t)(ctlen >> 8);
    out[4] = (uint8_t)ctlen;
    uint8_t inner[MAX_PLAINTEXT + 1];
    memcpy(inner, pt, len);
    inner[len] = type;
    memcpy(nonce, w->iv, 12);
    for (int i = 0; i < 8; i++)
      nonce[4 + i] ^= sq[i];
    if (aead_seal(w->suite, w->key, nonce, out, 5, inner, len + 1, out + 5) < 0)
      return -1;
    w->seq++;
    return (int)(5 + ctlen);
  }
  /* TLS 1.2 AEAD: additional data = seq || type || version || length
   * (RFC 5246 §6.2.3.3).  GCM (RFC 5288 §3): nonce = 4-byte salt || 8-byte
   * explicit part sent before the ciphertext, here the sequence number, as
   * OpenSSL does (it must only never repeat).  ChaCha20-Poly1305 (RFC 7905
   * §2): nonce = iv XOR seq, nothing explicit. */
  size_t explicit_len = w->suite->kind == TF_KIND_GCM ? 8 : 0;
  size_t ctlen = explicit_len + len + 16;
  if (cap < 5 + ctlen)
    return -1;
  out[0] = type;
  out[1] = (uint8_t)(w->version >> 8);
  out[2] = (uint8_t)w->version;
  out[3] = (uint8_t)(ctlen >> 8);
  out[4] = (uint8_t)ctlen;
  if (explicit_len) {
    memcpy(nonce, w->iv, 4);
    memcpy(nonce + 4, sq, 8);
    memcpy(out + 5, sq, 8);
  } else {
    memcpy(nonce, w->iv, 12);
    for (int i = 0; i < 8; i++)
      nonce[4 + i] ^= sq[i];
  }
  uint8_t aad[13];
  memcpy(aad, sq, 8);
  aad[8] = type;
  aad[9] = out[1];
  aad[10] = out[2];
  aad[11] = (uint8_t)(len >> 8);
  aad[12] = (uint8_t)len;
  if (aead_seal(w->suite, w->key, nonce, aad, 13, pt, len,
                out + 5 + explicit_len) < 0)
    return -1;
  w->seq++;
  return (int)(5 + ctlen);
}

int tf_record_next(const uint8_t *buf, size_t n, uint8_t *type,
                   const uint8_t **body, size_t *blen, size_t *used) {
  if (n < 5)
    return 0;
  size_t len = (size_t)buf[3] << 8 | buf[4];
  if (buf[0] < 20 || buf[0] > 24 || buf[1] != 3 || len > MAX_CIPHERTEXT)
    return -1;
  if (n < 5 + len)
    return 0;
  *type = buf[0];
  *body = buf + 5;
  *blen = len;
  *used = 5 + len;
  return 1;
}

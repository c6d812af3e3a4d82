/* SPDX-License-Identifier: BSD-2-Clause */
#include "tlscrypt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

#define MD_SHA1 1
#define MD_SHA256 2
#define MD_SHA384 3

static const struct tf_suite suites[] = {
    /* TLS 1.3, RFC 8446 §B.4 */
    {0x1301, TF_KIND_GCM, 16, 0, MD_SHA256, true},
    {0x1302, TF_KIND_GCM, 32, 0, MD_SHA384, true},
    {0x1303, TF_KIND_CHACHA, 32, 0, MD_SHA256, true},
    /* TLS 1.2 AES-GCM (RFC 5288, 5289) */
    {0x009C, TF_KIND_GCM, 16, 0, MD_SHA256, false},
    {0x009D, TF_KIND_GCM, 32, 0, MD_SHA384, false},
    {0x009E, TF_KIND_GCM, 16, 0, MD_SHA256, false},
    {0x009F, TF_KIND_GCM, 32, 0, MD_SHA384, false},
    {0xC02B, TF_KIND_GCM, 16, 0, MD_SHA256, false},
    {0xC02C, TF_KIND_GCM, 32, 0, MD_SHA384, false},
    {0xC02F, TF_KIND_GCM, 16, 0, MD_SHA256, false},
    {0xC030, TF_KIND_GCM, 32, 0, MD_SHA384, false},
    /* TLS 1.2 ChaCha20-Poly1305 (RFC 7905) */
    {0xCCA8, TF_KIND_CHACHA, 32, 0, MD_SHA256, false},
    {0xCCA9, TF_KIND_CHACHA, 32, 0, MD_SHA256, false},
    {0xCCAA, TF_KIND_CHACHA, 32, 0, MD_SHA256, false},
    /* CBC with HMAC-SHA1 (RFC 5246 §A.5, RFC 4492) */
    {0x002F, TF_KIND_CBC, 16, 20, MD_SHA1, false},
    {0x0035, TF_KIND_CBC, 32, 20, MD_SHA1, false},
    {0xC009, TF_KIND_CBC, 16, 20, MD_SHA1, false},
    {0xC00A, TF_KIND_CBC, 32, 20, MD_SHA1, false},
    {0xC013, TF_KIND_CBC, 16, 20, MD_SHA1, false},
    {0xC014, TF_KIND_CBC, 32, 20, MD_SHA1, false},
    /* CBC with HMAC-SHA256/384 (RFC 5246, RFC 5289) */
    {0x003C, TF_KIND_CBC, 16, 32, MD_SHA256, false},
    {0x003D, TF_KIND_CBC, 32, 32, MD_SHA256, false},
    {0xC023, TF_KIND_CBC, 16, 32, MD_SHA256, false},
    {0xC024, TF_KIND_CBC, 32, 48, MD_SHA384, false},
    {0xC027, TF_KIND_CBC, 16, 32, MD_SHA256, false},
    {0xC028, TF_KIND_CBC, 32, 48, MD_SHA384, false},
};

const struct tf_suite *tf_suite_find(uint16_t id) {
  for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
    if (suites[i].id == id)
      return &suites[i];
  return NULL;
}

static const char *md_name(int md) {
  return md == MD_SHA1 ? "SHA1" : md == MD_SHA384 ? "SHA384" : "SHA256";
}
static size_t md_len(int md) {
  return md == MD_SHA1 ? 20 : md == MD_SHA384 ? 48 : 32;
}

/* RFC 8446 §7.1: HKDF-Expand-Label(Secret, Label, Context, Length). */
int tf_hkdf_expand_label(int md, const uint8_t *secret, size_t secret_len,
                         const char *label, const uint8_t *ctx, size_t ctx_len,
                         uint8_t *out, size_t out_len) {
  uint8_t info[2 + 1 + 255 + 1 + 255];
  size_t ll = strlen(label) + 6;
  if (ll > 255 || ctx_len > 255)
    return -1;
  size_t n = 0;
  info[n++] = (uint8_t)(out_len >> 8);
  info[n++] = (uint8_t)out_len;
  info[n++] = (uint8_t)ll;
  memcpy(info + n, "tls13 ", 6);
  memcpy(info + n + 6, label, ll - 6);
  n += ll;
  info[n++] = (uint8_t)ctx_len;
  if (ctx_len)
    memcpy(info + n, ctx, ctx_len);
  n += ctx_len;

  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!kctx)
    return -1;
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       (char *)md_name(md), 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
                                        secret_len),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n),
      OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_derive(kctx, out, out_len, params) == 1;
  EVP_KDF_CTX_free(kctx);
  return ok ? 0 : -1;
}

int tf_dec_init_tls13(struct tf_dec *d, const struct tf_suite *s,
                      const uint8_t *secret, size_t len) {
  memset(d, 0, sizeof *d);
  if (!s || !s->tls13 || len > sizeof d->secret || len != md_len(s->md))
    return -1;
  d->suite = s;
  d->version = 0x0304;
  memcpy(d->secret, secret, len);
  d->secret_len = (uint8_t)len;
  if (tf_hkdf_expand_label(s->md, secret, len, "key", NULL, 0, d->key,
                           s->key_len) < 0 ||
      tf_hkdf_expand_label(s->md, secret, len, "iv", NULL, 0, d->iv, 12) < 0)
    return -1;
  d->ready = true;
  return 0;
}

int tf_dec_key_update(struct tf_dec *d) {
  if (!d->ready || !d->suite->tls13)
    return -1;
  uint8_t next[64];
  if (tf_hkdf_expand_label(d->suite->md, d->secret, d->secret_len,
                           "traffic upd", NULL, 0, next, d->secret_len) < 0)
    return -1;
  const struct tf_suite *s = d->suite;
  size_t len = d->secret_len;
  int r = tf_dec_init_tls13(d, s, next, len);
  OPENSSL_cleanse(next, sizeof next);
  return r;
}

/* RFC 5246 §5 PRF (TLS 1.2: P_<hash>; TLS 1.0/1.1: MD5 xor SHA-1). */
static int prf(uint16_t version, int md, const uint8_t *secret, size_t slen,
               const char *label, const uint8_t *seed, size_t seedlen,
               uint8_t *out, size_t outlen) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS1-PRF", NULL);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!kctx)
    return -1;
  uint8_t fullseed[128];
  size_t ll = strlen(label);
  if (ll + seedlen > sizeof fullseed) {
    EVP_KDF_CTX_free(kctx);
    return -1;
  }
  memcpy(fullseed, label, ll);
  memcpy(fullseed + ll, seed, seedlen);
  const char *digest =
      version >= 0x0303 ? md_name(md == MD_SHA1 ? MD_SHA256 : md) : "MD5-SHA1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                          (char *)digest, 0),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_SECRET, (void *)secret, slen),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_SEED, fullseed, ll + seedlen),
                         OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
  EVP_KDF_CTX_free(kctx);
  return ok ? 0 : -1;
}

int tf_dec_init_tls12(struct tf_dec *c, struct tf_dec *sv,
                      const struct tf_suite *s, uint16_t version,
                      const uint8_t master[48], const uint8_t cr[32],
                      const uint8_t sr[32]) {
  memset(c, 0, sizeof *c);
  memset(sv, 0, sizeof *sv);
  if (!s || s->tls13 || version < 0x0301 || version > 0x0303)
    return -1;
  if (s->kind != TF_KIND_CBC && version < 0x0303)
    return -1; /* AEAD suites exist only in TLS 1.2 */
  size_t ivl = s->kind == TF_KIND_GCM      ? 4
               : s->kind == TF_KIND_CHACHA ? 12
               : version == 0x0301         ? 16 /* TLS 1.0 implicit IV */
                                           : 0;
  size_t need = 2u * s->mac_len + 2u * s->key_len + 2 * ivl;
  uint8_t kb[2 * 48 + 2 * 32 + 2 * 16], seed[64];
  memcpy(seed, sr, 32); /* RFC 5246 §6.3: server_random + client_random */
  memcpy(seed + 32, cr, 32);
  if (prf(version, s->md, master, 48, "key expansion", seed, 64, kb, need) < 0)
    return -1;
  const uint8_t *p = kb;
  memcpy(c->mac_key, p, s->mac_len), p += s->mac_len;
  memcpy(sv->mac_key, p, s->mac_len), p += s->mac_len;
  memcpy(c->key, p, s->key_len), p += s->key_len;
  memcpy(sv->key, p, s->key_len), p += s->key_len;
  memcpy(c->iv, p, ivl), p += ivl;
  memcpy(sv->iv, p, ivl);
  OPENSSL_cleanse(kb, sizeof kb);
  c->suite = sv->suite = s;
  c->version = sv->version = version;
  c->ready = sv->ready = true;
  return 0;
}

static const EVP_CIPHER *cipher_of(const struct tf_suite *s) {
  switch (s->kind) {
  case TF_KIND_GCM:
    return s->key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  case TF_KIND_CHACHA:
    return EVP_chacha20_poly1305();
  default:
    return s->key_len == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
  }
}

static void put_seq(uint8_t *p, uint64_t seq) {
  for (int i = 7; i >= 0; i--, seq >>= 8)
    p[i] = (uint8_t)seq;
}

static int aead_open(const struct tf_suite *s, const uint8_t *key,
                     const uint8_t nonce[12], const uint8_t *aad, size_t aadlen,
                     const uint8_t *ct, size_t ctlen, const uint8_t tag[16],
                     uint8_t *out) {
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int ok = 0, n = 0, f = 0;
  if (x && EVP_DecryptInit_ex(x, cipher_of(s), NULL, NULL, NULL) == 1 &&
      EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL) == 1 &&
      EVP_DecryptInit_ex(x, NULL, NULL, key, nonce) == 1 &&
      EVP_DecryptUpdate(x, NULL, &n, aad, (int)aadlen) == 1 &&
      EVP_DecryptUpdate(x, out, &n, ct, (int)ctlen) == 1 &&
      EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_TAG, 16, (void *)tag) == 1 &&
      EVP_DecryptFinal_ex(x, out + n, &f) == 1)
    ok = 1;
  EVP_CIPHER_CTX_free(x);
  return ok ? n + f : -1;
}

/* TLS 1.3 (RFC 8446 §5.2, §5.3). */
static int open13(struct tf_dec *d, uint8_t type, const uint8_t *body,
                  size_t len, uint8_t *out, uint8_t *inner) {
  if (len < 17 || len > 16384 + 256)
    return -1;
  uint8_t nonce[12],
      aad[5] = {type, 0x03, 0x03, (uint8_t)(len >> 8), (uint8_t)len};
  memcpy(nonce, d->iv, 12);
  uint8_t sq[8];
  put_seq(sq, d->seq);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] ^= sq[i];
  int n = aead_open(d->suite, d->key, nonce, aad, 5, body, len - 16,
                    body + len - 16, out);
  if (n < 0)
    return -1;
  d->seq++;
  /* TLSInnerPlaintext: content, type, zero padding. */
  while (n > 0 && out[n - 1] == 0)
    n--;
  if (n == 0)
    return -1;
  *inner = out[n - 1];
  return n - 1;
}

/* TLS 1.2 AEAD (RFC 5288 §3, RFC 7905 §2). */
static int open12_aead(struct tf_dec *d, uint8_t type, const uint8_t *body,
                       size_t len, uint8_t *out) {
  size_t explicit_len = d->suite->kind == TF_KIND_GCM ? 8 : 0;
  if (len < explicit_len + 16)
    return -1;
  size_t ptlen = len - explicit_len - 16;
  uint8_t nonce[12], aad[13], sq[8];
  put_seq(sq, d->seq);
  if (d->suite->kind == TF_KIND_GCM) {
    memcpy(nonce, d->iv, 4);
    memcpy(nonce + 4, body, 8);
  } else {
    memcpy(nonce, d->iv, 12);
    for (int i = 0; i < 8; i++)
      nonce[4 + i] ^= sq[i];
  }
  memcpy(aad, sq, 8);
  aad[8] = type;
  aad[9] = (uint8_t)(d->version >> 8);
  aad[10] = (uint8_t)d->version;
  aad[11] = (uint8_t)(ptlen >> 8);
  aad[12] = (uint8_t)ptlen;
  int n = aead_open(d->suite, d->key, nonce, aad, 13, body + explicit_len,
                    ptlen, body + len - 16, out);
  if (n < 0)
    return -1;
  d->seq++;
  return n;
}

/* HMAC(mac_key, seq || type || version || length || data) (RFC 5246
 * §6.2.3.1) compared in constant time with mac. */
static int check_mac(const struct tf_dec *d, uint8_t type, const uint8_t *data,
                     size_t len, const uint8_t *mac) {
  const struct tf_suite *s = d->suite;
  uint8_t hdr[13], out[EVP_MAX_MD_SIZE];
  put_seq(hdr, d->seq);
  hdr[8] = type;
  hdr[9] = (uint8_t)(d->version >> 8);
  hdr[10] = (uint8_t)d->version;
  hdr[11] = (uint8_t)(len >> 8);
  hdr[12] = (uint8_t)len;
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *mc = m ? EVP_MAC_CTX_new(m) : NULL;
  EVP_MAC_free(m);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                             OSSL_MAC_PARAM_DIGEST, (char *)md_name(s->md), 0),
                         OSSL_PARAM_construct_end()};
  size_t ml = 0;
  int ok = mc && EVP_MAC_init(mc, d->mac_key, s->mac_len, params) == 1 &&
           EVP_MAC_update(mc, hdr, 13) == 1 &&
           EVP_MAC_update(mc, data, len) == 1 &&
           EVP_MAC_final(mc, out, &ml, sizeof out) == 1;
  EVP_MAC_CTX_free(mc);
  return ok && ml == s->mac_len && CRYPTO_memcmp(out, mac, s->mac_len) == 0
             ? 0
             : -1;
}

/* CBC decryption without padding removal; returns the length or -1. */
static int cbc_decrypt(const struct tf_suite *s, const uint8_t *key,
                       const uint8_t *iv, const uint8_t *ct, size_t len,
                       uint8_t *out) {
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int n = 0, f = 0, ok = 0;
  if (x && EVP_DecryptInit_ex(x, cipher_of(s), NULL, key, iv) == 1 &&
      EVP_CIPHER_CTX_set_padding(x, 0) == 1 &&
      EVP_DecryptUpdate(x, out, &n, ct, (int)len) == 1 &&
      EVP_DecryptFinal_ex(x, out + n, &f) == 1)
    ok = 1;
  EVP_CIPHER_CTX_free(x);
  return ok ? n + f : -1;
}

/* CBC + HMAC (RFC 5246 §6.2.3.2; TLS 1.0 chains the IV, RFC 2246), in
 * MAC-then-encrypt order or, when negotiated, encrypt-then-MAC (RFC 7366
 * §3: the MAC covers IV and ciphertext and is checked first). */
static int open_cbc(struct tf_dec *d, uint8_t type, const uint8_t *body,
                    size_t len, uint8_t *out) {
  const struct tf_suite *s = d->suite;
  size_t ivlen = d->version >= 0x0302 ? 16 : 0;
  size_t maclen = s->mac_len;
  size_t ctlen = d->etm ? (len >= maclen ? len - maclen : 0) : len;
  if (ctlen < ivlen + 16 || (ctlen - ivlen) % 16)
    return -1;
  if (d->etm && check_mac(d, type, body, ctlen, body + ctlen) < 0)
    return -1;
  const uint8_t *iv = ivlen ? body : d->iv;
  uint8_t next_iv[16];
  memcpy(next_iv, body + ctlen - 16, 16);
  int n = cbc_decrypt(s, d->key, iv, body + ivlen, ctlen - ivlen, out);
  if (n <= 0)
    return -1;
  if (!ivlen)
    memcpy(d->iv, next_iv, 16);
  uint8_t pad = out[n - 1];
  size_t tail = (size_t)pad + 1 + (d->etm ? 0 : maclen);
  if (tail > (size_t)n)
    return -1;
  size_t ptlen = (size_t)n - tail;
  if (!d->etm && check_mac(d, type, out, ptlen, out + ptlen) < 0)
    return -1;
  d->seq++;
  return (int)ptlen;
}

int tf_dec_record(struct tf_dec *d, uint8_t type, const uint8_t *body,
                  size_t len, uint8_t *out, uint8_t *inner_type) {
  if (!d->ready)
    return -1;
  *inner_type = type;
  if (d->suite->tls13)
    return open13(d, type, body, len, out, inner_type);
  if (d->suite->kind == TF_KIND_CBC)
    return open_cbc(d, type, body, len, out);
  return open12_aead(d, type, body, len, out);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Record decryption with keys from an SSLKEYLOGFILE: TLS 1.3 traffic keys
 * from traffic secrets (HKDF-Expand-Label, RFC 8446 §7.1, §7.3) and
 * KeyUpdate (§7.2); TLS 1.2 (and 1.0/1.1) key blocks from the master secret
 * (RFC 5246 §6.3) for the AEAD suites (GCM, ChaCha20-Poly1305) and the
 * common CBC suites.  OpenSSL 3 EVP does all the cryptography.
 */
#ifndef TLSFIN_ANALYZE_TLSCRYPT_H
#define TLSFIN_ANALYZE_TLSCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tf_cipher_kind { TF_KIND_GCM = 1, TF_KIND_CHACHA, TF_KIND_CBC };

struct tf_suite {
  uint16_t id;
  uint8_t kind;    /* enum tf_cipher_kind */
  uint8_t key_len; /* bytes */
  uint8_t mac_len; /* CBC HMAC length, 0 for AEAD */
  uint8_t md; /* 1 SHA-1, 2 SHA-256, 3 SHA-384: the PRF / HKDF / HMAC hash */
  bool tls13;
};

/* The suite's parameters, or NULL when tlsfin cannot decrypt it. */
const struct tf_suite *tf_suite_find(uint16_t id);

/* One direction's record protection state. */
struct tf_dec {
  const struct tf_suite *suite;
  uint16_t version; /* negotiated wire version */
  uint8_t key[32];
  uint8_t iv[16]; /* TLS 1.3/ChaCha: 12-byte IV; GCM: 4-byte salt; TLS 1.0
                     CBC: the running IV */
  uint8_t mac_key[48];
  uint8_t secret[64]; /* TLS 1.3 traffic secret, for KeyUpdate */
  uint8_t secret_len;
  uint64_t seq;
  bool etm; /* CBC with encrypt_then_mac (RFC 7366) */
  bool ready;
};

/* TLS 1.3: keys from a traffic secret; seq restarts at 0. */
int tf_dec_init_tls13(struct tf_dec *d, const struct tf_suite *s,
                      const uint8_t *secret, size_t len);
/* TLS 1.3 KeyUpdate (RFC 8446 §7.2): next generation of the secret. */
int tf_dec_key_update(struct tf_dec *d);
/* TLS <= 1.2: both directions' keys from the 48-byte master secret. */
int tf_dec_init_tls12(struct tf_dec *client, struct tf_dec *server,
                      const struct tf_suite *s, uint16_t version,
                      const uint8_t master[48], const uint8_t client_random[32],
                      const uint8_t server_random[32]);

/* Decrypts one record body (the bytes after the 5-byte header) and
 * advances the sequence number.  out must hold len bytes.  On success
 * returns the plaintext length and sets *inner_type (TLS 1.3: the inner
 * content type; otherwise the outer type).  -1: authentication failed (the
 * keys do not match this connection) or the record is malformed. */
int tf_dec_record(struct tf_dec *d, uint8_t type, const uint8_t *body,
                  size_t len, uint8_t *out, uint8_t *inner_type);

/* HKDF-Expand-Label, exposed for the RFC 8448 test vectors. */
int tf_hkdf_expand_label(int md, const uint8_t *secret, size_t secret_len,
                         const char *label, const uint8_t *ctx, size_t ctx_len,
                         uint8_t *out, size_t out_len);

#endif

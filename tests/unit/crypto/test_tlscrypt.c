/* SPDX-License-Identifier: BSD-2-Clause */
/* Key schedule against RFC 8448 §3 vectors, record decryption round trips
 * (TLS 1.3 inner plaintext, TLS 1.2 GCM/ChaCha/CBC), KeyUpdate, and the key
 * log parser on good, commented and garbage lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "keylog.h"
#include "tlscrypt.h"

static void unhex(const char *h, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(h + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
}

/* RFC 8448 §3 "Simple 1-RTT Handshake": handshake traffic secrets and the
 * write keys/IVs derived from them. */
static void rfc8448_traffic_keys(void **state) {
  (void)state;
  uint8_t s_hs[32], c_hs[32], want[16];
  unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
        s_hs, 32);
  unhex("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
        c_hs, 32);
  struct tf_dec d;
  assert_int_equal(tf_dec_init_tls13(&d, tf_suite_find(0x1301), s_hs, 32), 0);
  unhex("3fce516009c21727d0f2e4e86ee403bc", want, 16);
  assert_memory_equal(d.key, want, 16);
  unhex("5d313eb2671276ee13000b30", want, 12);
  assert_memory_equal(d.iv, want, 12);
  assert_int_equal(tf_dec_init_tls13(&d, tf_suite_find(0x1301), c_hs, 32), 0);
  unhex("dbfaa693d1762c5b666af5d950258d01", want, 16);
  assert_memory_equal(d.key, want, 16);
  unhex("5bd3c71b836e0b76bb73265f", want, 12);
  assert_memory_equal(d.iv, want, 12);
  /* a secret of the wrong length for the suite's hash is refused */
  assert_int_equal(tf_dec_init_tls13(&d, tf_suite_find(0x1302), c_hs, 32), -1);
  assert_null(tf_suite_find(0x0005)); /* RC4: not decrypted */
}

static int seal(const EVP_CIPHER *c, const uint8_t *key, const uint8_t *nonce,
                const uint8_t *aad, size_t aadlen, const uint8_t *pt,
                size_t ptlen, uint8_t *out) {
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int n = 0, f = 0;
  EVP_EncryptInit_ex(x, c, NULL, NULL, NULL);
  EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_SET_IVLEN, 12, NULL);
  EVP_EncryptInit_ex(x, NULL, NULL, key, nonce);
  EVP_EncryptUpdate(x, NULL, &n, aad, (int)aadlen);
  EVP_EncryptUpdate(x, out, &n, pt, (int)ptlen);
  EVP_EncryptFinal_ex(x, out + n, &f);
  EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_AEAD_GET_TAG, 16, out + n + f);
  EVP_CIPHER_CTX_free(x);
  return n + f + 16;
}

/* An encrypted TLS 1.3 close_notify is 19 bytes: 2 alert bytes, the inner
 * type 21 and a 16-byte tag (RFC 8446 §5.2); with padding it grows. */
static void tls13_alert_record(void **state) {
  (void)state;
  uint8_t secret[32];
  memset(secret, 0x42, sizeof secret);
  struct tf_dec enc, dec;
  const struct tf_suite *s = tf_suite_find(0x1303);
  assert_int_equal(tf_dec_init_tls13(&enc, s, secret, 32), 0);
  assert_int_equal(tf_dec_init_tls13(&dec, s, secret, 32), 0);
  uint8_t out[64], pt[64], inner;
  for (uint64_t seq = 0; seq < 3; seq++) {
    uint8_t nonce[12];
    memcpy(nonce, enc.iv, 12);
    nonce[11] ^= (uint8_t)seq;
    size_t padding = seq == 2 ? 16 : 0; /* JDK-style padded alert */
    uint8_t msg[3 + 16] = {1, 0, 21};   /* warning close_notify, type 21 */
    size_t ptlen = 3 + padding;
    uint8_t aad[5] = {23, 3, 3, 0, (uint8_t)(ptlen + 16)};
    int n =
        seal(EVP_chacha20_poly1305(), enc.key, nonce, aad, 5, msg, ptlen, out);
    assert_int_equal(n, (int)(19 + padding));
    int m = tf_dec_record(&dec, 23, out, (size_t)n, pt, &inner);
    assert_int_equal(m, 2);
    assert_int_equal(inner, 21);
    assert_int_equal(pt[0], 1);
    assert_int_equal(pt[1], 0);
  }
  /* a flipped bit fails authentication and is not counted */
  out[0] ^= 1;
  assert_int_equal(tf_dec_record(&dec, 23, out, 19, pt, &inner), -1);
  assert_int_equal(dec.seq, 3);
  /* KeyUpdate changes the key deterministically on both sides */
  uint8_t old[32];
  memcpy(old, dec.key, 32);
  assert_int_equal(tf_dec_key_update(&dec), 0);
  assert_int_equal(tf_dec_key_update(&enc), 0);
  assert_memory_not_equal(old, dec.key, 32);
  assert_memory_equal(enc.key, dec.key, 32);
  assert_int_equal(dec.seq, 0);
}

/* TLS 1.2 AES-GCM: nonce = 4-byte salt + 8-byte explicit part carried in the
 * record, AAD = seq || type || version || length (RFC 5288 §3). */
static void tls12_gcm_alert(void **state) {
  (void)state;
  uint8_t master[48], cr[32], sr[32];
  memset(master, 7, 48);
  memset(cr, 1, 32);
  memset(sr, 2, 32);
  struct tf_dec c, s;
  assert_int_equal(
      tf_dec_init_tls12(&c, &s, tf_suite_find(0xC02F), 0x0303, master, cr, sr),
      0);
  uint8_t nonce[12], aad[13] = {0}, body[8 + 2 + 16], pt[32], inner;
  memcpy(nonce, s.iv, 4);
  memset(nonce + 4, 0xab, 8);
  memcpy(body, nonce + 4, 8);
  aad[7] = 0; /* seq 0 */
  aad[8] = 21;
  aad[9] = 3;
  aad[10] = 3;
  aad[12] = 2;
  uint8_t alert[2] = {1, 0};
  seal(EVP_aes_128_gcm(), s.key, nonce, aad, 13, alert, 2, body + 8);
  assert_int_equal(tf_dec_record(&s, 21, body, sizeof body, pt, &inner), 2);
  assert_int_equal(inner, 21);
  assert_int_equal(pt[1], 0);
  /* the client's keys differ: the same record does not open */
  assert_int_equal(tf_dec_record(&c, 21, body, sizeof body, pt, &inner), -1);
}

/* TLS 1.2 CBC-SHA: explicit IV, HMAC over seq||header||content, padding. */
static void tls12_cbc_alert(void **state) {
  (void)state;
  uint8_t master[48], cr[32], sr[32];
  memset(master, 9, 48);
  memset(cr, 3, 32);
  memset(sr, 4, 32);
  struct tf_dec c, s;
  assert_int_equal(
      tf_dec_init_tls12(&c, &s, tf_suite_find(0xC013), 0x0303, master, cr, sr),
      0);
  uint8_t mac_in[13 + 2] = {0, 0, 0, 0, 0, 0, 0, 0, 21, 3, 3, 0, 2, 2, 0};
  uint8_t mac[20];
  unsigned ml = 20;
  HMAC(EVP_sha1(), c.mac_key, 20, mac_in, sizeof mac_in, mac, &ml);
  uint8_t pt[32]; /* 2 alert + 20 mac + 10 padding (value 9) */
  pt[0] = 2;
  pt[1] = 0; /* level 2, description 0: what the decryptor must return */
  memcpy(pt + 2, mac, 20);
  memset(pt + 22, 9, 10);
  uint8_t iv[16], body[16 + 32], out[48], inner;
  memset(iv, 0x5a, 16);
  memcpy(body, iv, 16);
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int n = 0;
  EVP_EncryptInit_ex(x, EVP_aes_128_cbc(), NULL, c.key, iv);
  EVP_CIPHER_CTX_set_padding(x, 0);
  EVP_EncryptUpdate(x, body + 16, &n, pt, 32);
  EVP_CIPHER_CTX_free(x);
  assert_int_equal(tf_dec_record(&c, 21, body, sizeof body, out, &inner), 2);
  assert_int_equal(out[0], 2);
  assert_int_equal(out[1], 0);
  assert_int_equal(c.seq, 1);
}

/* RFC 7366 encrypt_then_mac: IV + CBC(content + padding), then an HMAC
 * over seq || header(length of IV + ciphertext) || IV + ciphertext. */
static void tls12_cbc_etm(void **state) {
  (void)state;
  uint8_t master[48], cr[32], sr[32];
  memset(master, 5, 48);
  memset(cr, 6, 32);
  memset(sr, 8, 32);
  struct tf_dec c, s;
  assert_int_equal(
      tf_dec_init_tls12(&c, &s, tf_suite_find(0xC027), 0x0303, master, cr, sr),
      0);
  s.etm = true;
  uint8_t pt[16] = {1, 0}; /* warning close_notify + 14 bytes padding (13) */
  memset(pt + 2, 13, 14);
  uint8_t rec[16 + 16 + 32], iv[16], out[64], inner;
  memset(iv, 0x3c, 16);
  memcpy(rec, iv, 16);
  EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
  int n = 0;
  EVP_EncryptInit_ex(x, EVP_aes_128_cbc(), NULL, s.key, iv);
  EVP_CIPHER_CTX_set_padding(x, 0);
  EVP_EncryptUpdate(x, rec + 16, &n, pt, 16);
  EVP_CIPHER_CTX_free(x);
  uint8_t mac_in[13 + 32] = {0, 0, 0, 0, 0, 0, 0, 0, 21, 3, 3, 0, 32};
  memcpy(mac_in + 13, rec, 32);
  unsigned ml = 32;
  HMAC(EVP_sha256(), s.mac_key, 32, mac_in, sizeof mac_in, rec + 32, &ml);
  assert_int_equal(tf_dec_record(&s, 21, rec, sizeof rec, out, &inner), 2);
  assert_int_equal(out[0], 1);
  assert_int_equal(out[1], 0);
  /* the same record read in MAC-then-encrypt order does not authenticate */
  struct tf_dec s2 = s;
  s2.seq = 0;
  s2.etm = false;
  assert_int_equal(tf_dec_record(&s2, 21, rec, sizeof rec, out, &inner), -1);
}

static void keylog_lines(void **state) {
  (void)state;
  struct tf_keylog *k = tf_keylog_new();
  const char text[] =
      "# SSL/TLS secrets log file, generated by OpenSSL\n"
      "SERVER_HANDSHAKE_TRAFFIC_SECRET "
      "0101010101010101010101010101010101010101010101010101010101010101 "
      "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38\r\n"
      "EXPORTER_SECRET "
      "0101010101010101010101010101010101010101010101010101010101010101 "
      "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38\n"
      "CLIENT_RANDOM "
      "0202020202020202020202020202020202020202020202020202020202020202 "
      "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f00010203"
      "0405060708090a0b0c0d0e0f\n"
      "garbage line\n"
      "CLIENT_RANDOM 02 00\n"
      "CLIENT_TRAFFIC_SECRET_0 "
      "zz02020202020202020202020202020202020202020202020202020202020202 00\n"
      "\n";
  unsigned bad = 0, first = 0;
  assert_int_equal(tf_keylog_add_text(k, text, sizeof text - 1, &bad, &first),
                   2);
  assert_int_equal(bad, 3);
  assert_int_equal(first, 5);
  uint8_t cr[32];
  memset(cr, 1, 32);
  const struct tf_keys *keys = tf_keylog_find(k, cr);
  assert_non_null(keys);
  assert_int_equal(keys->len[TF_SECRET_SERVER_HS], 32);
  assert_int_equal(keys->len[TF_SECRET_CLIENT_HS], 0);
  memset(cr, 2, 32);
  keys = tf_keylog_find(k, cr);
  assert_non_null(keys);
  assert_int_equal(keys->len[TF_SECRET_MASTER], 48);
  memset(cr, 3, 32);
  assert_null(tf_keylog_find(k, cr));
  assert_int_equal(tf_keylog_count(k), 2);
  char err[256];
  assert_int_equal(tf_keylog_load_file(k, "/nonexistent/keys", err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "/nonexistent/keys"));
  tf_keylog_free(k);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc8448_traffic_keys),
      cmocka_unit_test(tls13_alert_record),
      cmocka_unit_test(tls12_gcm_alert),
      cmocka_unit_test(tls12_cbc_alert),
      cmocka_unit_test(tls12_cbc_etm),
      cmocka_unit_test(keylog_lines),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

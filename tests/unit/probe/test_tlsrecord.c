/* SPDX-License-Identifier: BSD-2-Clause */
/* The probe's record builder (src/probe/tlsrecord.c): the RFC 8448 §3
 * client application_data record rebuilt byte for byte from its keys, and
 * round trips through the analyzer's decryption (src/analyze/tlscrypt.c)
 * for TLS 1.3 alerts and TLS 1.2 AES-GCM / ChaCha20-Poly1305, plus the
 * bounds of the record splitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "tlscrypt.h"
#include "tlsrecord.h"

static void unhex(const char *h, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    while (*h == ' ')
      h++;
    sscanf(h, "%2x", &v);
    h += 2;
    out[i] = (uint8_t)v;
  }
}

/* RFC 8448 §3 "Simple 1-RTT Handshake", {client} send application_data
 * record: 50 bytes 00..31 under the client application write key and IV,
 * sequence number 0. */
static void rfc8448_client_app_data(void **state) {
  (void)state;
  struct tf_dec w;
  memset(&w, 0, sizeof w);
  w.suite = tf_suite_find(0x1301);
  w.version = 0x0304;
  unhex("17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51", w.key, 16);
  unhex("5b 78 92 3d ee 08 57 90 33 e5 23 d9", w.iv, 12);
  w.ready = true;
  uint8_t pt[50], want[72], out[128];
  for (int i = 0; i < 50; i++)
    pt[i] = (uint8_t)i;
  unhex("17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe 82 28 ba 55 cb ef"
        " ac ea 42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5 b4 6b 39 5b d5 4a 9a"
        " 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70 14 bd 1e 3d ea e6 3a ee"
        " bb 21 69 49 15 e4",
        want, 72);
  assert_int_equal(tf_seal_record(&w, 23, pt, 50, out, sizeof out), 72);
  assert_memory_equal(out, want, 72);
  assert_int_equal(w.seq, 1);
  /* too small an output buffer, or a CBC state: refused, seq unchanged */
  assert_int_equal(tf_seal_record(&w, 23, pt, 50, out, 71), -1);
  assert_int_equal(w.seq, 1);
}

/* TLS 1.3: sealed alerts (inner type 21) open with the analyzer's code at
 * consecutive sequence numbers. */
static void tls13_round_trip(void **state) {
  (void)state;
  uint8_t secret[32], out[64], pt[64], inner;
  memset(secret, 0x5a, sizeof secret);
  struct tf_dec w, r;
  for (uint16_t id = 0x1301; id <= 0x1303; id++) {
    size_t sl = id == 0x1302 ? 48 : 32;
    uint8_t s48[48];
    memset(s48, 0x5a, sizeof s48);
    assert_int_equal(tf_dec_init_tls13(&w, tf_suite_find(id), s48, sl), 0);
    assert_int_equal(tf_dec_init_tls13(&r, tf_suite_find(id), s48, sl), 0);
    for (int i = 0; i < 3; i++) {
      static const uint8_t alert[2] = {1, 0};
      int n = tf_seal_record(&w, 21, alert, 2, out, sizeof out);
      assert_int_equal(n, 5 + 2 + 1 + 16); /* RFC 8446 §5.2 */
      assert_int_equal(out[0], 23);
      int m = tf_dec_record(&r, out[0], out + 5, (size_t)n - 5, pt, &inner);
      assert_int_equal(m, 2);
      assert_int_equal(inner, 21);
    }
  }
  (void)secret;
}

/* TLS 1.2 AEAD: both directions from one master secret; what the client
 * seals, the client-side decryptor of the same key block opens. */
static void tls12_round_trip(void **state) {
  (void)state;
  static const uint16_t ids[] = {0xC02F, 0xC030, 0xCCA8, 0x009C};
  uint8_t master[48], cr[32], sr[32], out[128], pt[128], inner;
  memset(master, 1, sizeof master);
  memset(cr, 2, sizeof cr);
  memset(sr, 3, sizeof sr);
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    struct tf_dec cw, sw, cr2, sr2;
    const struct tf_suite *s = tf_suite_find(ids[i]);
    assert_int_equal(tf_dec_init_tls12(&cw, &sw, s, 0x0303, master, cr, sr), 0);
    assert_int_equal(tf_dec_init_tls12(&cr2, &sr2, s, 0x0303, master, cr, sr),
                     0);
    cw.seq = cr2.seq = 5; /* after the Finished and a few records */
    const char *msg = "GET / HTTP/1.1\r\n\r\n";
    int n = tf_seal_record(&cw, 23, (const uint8_t *)msg, strlen(msg), out,
                           sizeof out);
    assert_true(n > 0);
    assert_int_equal(out[0], 23);
    assert_int_equal(out[1] << 8 | out[2], 0x0303);
    int m = tf_dec_record(&cr2, 23, out + 5, (size_t)n - 5, pt, &inner);
    assert_int_equal(m, (int)strlen(msg));
    assert_memory_equal(pt, msg, strlen(msg));
    /* the server's keys do not open the client's records */
    sw.seq = 5;
    assert_int_equal(tf_dec_record(&sw, 23, out + 5, (size_t)n - 5, pt, &inner),
                     -1);
  }
  /* CBC is not sealed */
  struct tf_dec cw, sw;
  assert_int_equal(tf_dec_init_tls12(&cw, &sw, tf_suite_find(0x002F), 0x0303,
                                     master, cr, sr),
                   0);
  assert_int_equal(tf_seal_record(&cw, 23, pt, 4, out, sizeof out), -1);
}

static void record_split(void **state) {
  (void)state;
  uint8_t b[8] = {23, 3, 3, 0, 3, 'a', 'b', 'c'}, type;
  const uint8_t *body;
  size_t blen, used;
  assert_int_equal(tf_record_next(b, 4, &type, &body, &blen, &used), 0);
  assert_int_equal(tf_record_next(b, 7, &type, &body, &blen, &used), 0);
  assert_int_equal(tf_record_next(b, 8, &type, &body, &blen, &used), 1);
  assert_int_equal(used, 8);
  assert_int_equal(blen, 3);
  uint8_t bad[5] = {99, 3, 3, 0, 1};
  assert_int_equal(tf_record_next(bad, 5, &type, &body, &blen, &used), -1);
  uint8_t huge[5] = {23, 3, 3, 0xff, 0xff}; /* over 2^14 + 2048 */
  assert_int_equal(tf_record_next(huge, 5, &type, &body, &blen, &used), -1);
  uint8_t ssh[5] = {'S', 'S', 'H', '-', '2'};
  assert_int_equal(tf_record_next(ssh, 5, &type, &body, &blen, &used), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc8448_client_app_data),
      cmocka_unit_test(tls13_round_trip),
      cmocka_unit_test(tls12_round_trip),
      cmocka_unit_test(record_split),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* The TLS record dissector: hello parsing (supported_versions, GREASE, SNI,
 * HelloRetryRequest), handshake completion, plaintext and encrypted alerts,
 * "probable" close_notify by size and position, non-TLS and malformed
 * streams — and the same facts whatever the split of the byte stream
 * (picohttpparser-style tests: every split point). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tls.h"

struct stream {
  uint8_t b[2][8192];
  size_t n[2];
  /* record boundaries to replay in order: (dir, end offset) */
  int order_dir[64];
  size_t order_end[64];
  int steps;
};

static void add(struct stream *s, int dir, const uint8_t *p, size_t n) {
  memcpy(s->b[dir] + s->n[dir], p, n);
  s->n[dir] += n;
  s->order_dir[s->steps] = dir;
  s->order_end[s->steps] = s->n[dir];
  s->steps++;
}

static size_t rec(uint8_t *out, uint8_t type, uint16_t ver, const uint8_t *body,
                  size_t len, uint8_t fill) {
  out[0] = type, out[1] = (uint8_t)(ver >> 8), out[2] = (uint8_t)ver;
  out[3] = (uint8_t)(len >> 8), out[4] = (uint8_t)len;
  if (body)
    memcpy(out + 5, body, len);
  else
    memset(out + 5, fill, len);
  return len + 5;
}

static void add_rec(struct stream *s, int dir, uint8_t type, uint16_t ver,
                    const uint8_t *body, size_t len) {
  uint8_t tmp[4096];
  add(s, dir, tmp, rec(tmp, type, ver, body, len, 0xab));
}

static size_t client_hello(uint8_t *hs, int with_sv, const char *sni) {
  uint8_t b[512];
  size_t n = 0;
  b[n++] = 3, b[n++] = 3;
  memset(b + n, 0x11, 32), n += 32;
  b[n++] = 0;
  b[n++] = 0, b[n++] = 2, b[n++] = 0x13, b[n++] = 0x01;
  b[n++] = 1, b[n++] = 0;
  size_t el = n;
  n += 2;
  if (sni) {
    size_t l = strlen(sni);
    b[n++] = 0, b[n++] = 0, b[n++] = 0, b[n++] = (uint8_t)(l + 5);
    b[n++] = 0, b[n++] = (uint8_t)(l + 3), b[n++] = 0, b[n++] = 0,
    b[n++] = (uint8_t)l;
    memcpy(b + n, sni, l), n += l;
  }
  if (with_sv) { /* GREASE, TLS 1.3, TLS 1.2 */
    b[n++] = 0, b[n++] = 43, b[n++] = 0, b[n++] = 7, b[n++] = 6;
    b[n++] = 0x7a, b[n++] = 0x7a, b[n++] = 3, b[n++] = 4, b[n++] = 3,
    b[n++] = 3;
  }
  b[el] = (uint8_t)((n - el - 2) >> 8), b[el + 1] = (uint8_t)(n - el - 2);
  hs[0] = 1, hs[1] = 0, hs[2] = (uint8_t)(n >> 8), hs[3] = (uint8_t)n;
  memcpy(hs + 4, b, n);
  return n + 4;
}

static size_t server_hello(uint8_t *hs, uint16_t version, int hrr) {
  static const uint8_t hrr_random[32] = {
      0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
      0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
      0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
  uint8_t b[128];
  size_t n = 0;
  b[n++] = 3, b[n++] = 3;
  if (hrr)
    memcpy(b + n, hrr_random, 32);
  else
    memset(b + n, 0x22, 32);
  n += 32;
  b[n++] = 0, b[n++] = 0x13, b[n++] = 0x01, b[n++] = 0;
  if (version == 0x0304) {
    b[n++] = 0, b[n++] = 6, b[n++] = 0, b[n++] = 43, b[n++] = 0, b[n++] = 2,
    b[n++] = 3, b[n++] = 4;
  }
  hs[0] = 2, hs[1] = 0, hs[2] = 0, hs[3] = (uint8_t)n;
  memcpy(hs + 4, b, n);
  return n + 4;
}

/* Replays the stream with every record boundary further split at `cut`
 * bytes into the record (0: whole records). */
static void replay(const struct stream *s, struct tf_tls *t, size_t cut) {
  size_t pos[2] = {0, 0};
  uint64_t pkt = 1;
  tf_tls_init(t);
  for (int i = 0; i < s->steps; i++) {
    int d = s->order_dir[i];
    size_t end = s->order_end[i];
    while (pos[d] < end) {
      size_t n = end - pos[d];
      if (cut && n > cut)
        n = cut;
      tf_tls_feed(t, d, s->b[d] + pos[d], n, pkt++);
      pos[d] += n;
    }
  }
  tf_tls_end(t, 0, true, pkt++);
  tf_tls_end(t, 1, true, pkt++);
  tf_tls_finish(t);
}

static void tls13_session(struct stream *s, int hrr, int close_notify) {
  uint8_t hs[600];
  memset(s, 0, sizeof *s);
  add_rec(s, 0, 22, 0x0301, hs, client_hello(hs, 1, "example.test"));
  if (hrr) {
    add_rec(s, 1, 22, 0x0303, hs, server_hello(hs, 0x0304, 1));
    add_rec(s, 0, 22, 0x0303, hs, client_hello(hs, 1, "example.test"));
  }
  size_t n = server_hello(hs, 0x0304, 0);
  add_rec(s, 1, 22, 0x0303, hs, n);
  add_rec(s, 1, 20, 0x0303, (const uint8_t *)"\1", 1);
  add_rec(s, 1, 23, 0x0303, NULL, 1500); /* EE..Finished */
  add_rec(s, 0, 20, 0x0303, (const uint8_t *)"\1", 1);
  add_rec(s, 0, 23, 0x0303, NULL, 53);  /* client Finished */
  add_rec(s, 0, 23, 0x0303, NULL, 300); /* request */
  add_rec(s, 1, 23, 0x0303, NULL, 2000);
  if (close_notify) {
    add_rec(s, 0, 23, 0x0303, NULL, 19); /* user_canceled */
    add_rec(s, 0, 23, 0x0303, NULL, 19); /* close_notify */
  }
}

static void tls13_facts(void **state) {
  (void)state;
  static struct stream s;
  tls13_session(&s, 1, 1);
  size_t total = s.n[0] + s.n[1];
  for (size_t cut = 0; cut < 64 && cut < total; cut++) {
    struct tf_tls t;
    replay(&s, &t, cut);
    assert_int_equal(t.state, TF_TLS_YES);
    assert_int_equal(t.client_max_version, 0x0304); /* GREASE ignored */
    assert_int_equal(t.version, 0x0304);            /* not fooled by HRR */
    assert_string_equal(t.sni, "example.test");
    assert_true(t.hs_complete);
    assert_int_equal(t.d[0].cn, TF_CN_PROBABLE);
    assert_int_equal(t.d[1].cn, TF_CN_NONE);
    /* user_canceled (unknown, encrypted) then the inferred close_notify */
    assert_int_equal(t.nalerts, 2);
    assert_int_equal(t.alerts[0].desc, -1);
    assert_true(t.alerts[1].inferred && t.alerts[1].desc == 0);
    /* the alerts are not application data */
    assert_int_equal(t.d[0].app_data, 53 + 300);
    assert_int_equal(t.d[1].app_data, 1500 + 2000);
    tf_tls_free(&t);
  }
}

static void tls13_no_close_notify(void **state) {
  (void)state;
  static struct stream s;
  tls13_session(&s, 0, 0);
  struct tf_tls t;
  replay(&s, &t, 7);
  assert_int_equal(t.d[0].cn, TF_CN_NONE);
  assert_int_equal(t.d[1].cn, TF_CN_NONE); /* 2000-byte record: data */
  assert_int_equal(t.nalerts, 0);
  tf_tls_free(&t);
}

static void tls12_alerts(void **state) {
  (void)state;
  static struct stream s;
  uint8_t hs[600];
  memset(&s, 0, sizeof s);
  add_rec(&s, 0, 22, 0x0301, hs, client_hello(hs, 0, NULL));
  add_rec(&s, 1, 22, 0x0303, hs, server_hello(hs, 0x0303, 0));
  add_rec(&s, 0, 20, 0x0303, (const uint8_t *)"\1", 1);
  add_rec(&s, 0, 22, 0x0303, NULL, 40);
  add_rec(&s, 1, 20, 0x0303, (const uint8_t *)"\1", 1);
  add_rec(&s, 1, 22, 0x0303, NULL, 40);
  add_rec(&s, 1, 23, 0x0303, NULL, 700);
  add_rec(&s, 1, 21, 0x0303, NULL, 26); /* encrypted alert, last: probable */
  for (size_t cut = 0; cut < 20; cut++) {
    struct tf_tls t;
    replay(&s, &t, cut);
    assert_int_equal(t.client_max_version, 0x0303);
    assert_int_equal(t.version, 0x0303);
    assert_string_equal(t.sni, "");
    assert_true(t.hs_complete);
    assert_int_equal(t.d[1].cn, TF_CN_PROBABLE);
    assert_int_equal(t.nalerts, 1);
    assert_true(t.alerts[0].encrypted && t.alerts[0].inferred);
    assert_int_equal(t.alerts[0].desc, 0);
    tf_tls_free(&t);
  }
}

static void plaintext_alert(void **state) {
  (void)state;
  static struct stream s;
  uint8_t hs[600];
  memset(&s, 0, sizeof s);
  add_rec(&s, 0, 22, 0x0301, hs, client_hello(hs, 0, "a.test"));
  add_rec(&s, 1, 21, 0x0303, (const uint8_t *)"\2\106", 2); /* fatal 70 */
  struct tf_tls t;
  replay(&s, &t, 1);
  assert_false(t.hs_complete);
  assert_int_equal(t.nalerts, 1);
  assert_int_equal(t.alerts[0].level, 2);
  assert_int_equal(t.alerts[0].desc, 70);
  assert_false(t.alerts[0].encrypted);
  assert_int_equal(t.d[1].cn, TF_CN_NONE);
  tf_tls_free(&t);
}

static void not_tls_and_malformed(void **state) {
  (void)state;
  struct tf_tls t;
  tf_tls_init(&t);
  assert_int_equal(
      tf_tls_feed(&t, 0, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, 1), -1);
  assert_int_equal(t.state, TF_TLS_NO);
  tf_tls_free(&t);
  /* a record longer than 2^14 + 2048 after a valid start */
  static struct stream s;
  uint8_t hs[600];
  memset(&s, 0, sizeof s);
  add_rec(&s, 0, 22, 0x0301, hs, client_hello(hs, 1, NULL));
  uint8_t bad[5] = {23, 3, 3, 0xff, 0xff};
  add(&s, 0, bad, 5);
  replay(&s, &t, 0);
  assert_int_equal(t.state, TF_TLS_YES);
  assert_true(t.d[0].lost);
  assert_non_null(strstr(t.why, "client record header invalid"));
  tf_tls_free(&t);
  /* a truncated ClientHello body is malformed, not a crash */
  uint8_t ch[9] = {22, 3, 1, 0, 4, 1, 0, 0, 40};
  tf_tls_init(&t);
  tf_tls_feed(&t, 0, ch, sizeof ch, 1);
  assert_false(t.client_hello);
  tf_tls_free(&t);
  assert_int_equal(tf_tls_parse_client_hello((const uint8_t *)"\3\3", 2, &t),
                   -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tls13_facts),
      cmocka_unit_test(tls13_no_close_notify),
      cmocka_unit_test(tls12_alerts),
      cmocka_unit_test(plaintext_alert),
      cmocka_unit_test(not_tls_and_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

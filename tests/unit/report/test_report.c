/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON strings stay valid JSON (RFC 8259 §8.1: UTF-8) whatever bytes an
 * untrusted field (an SNI) carries: ill-formed UTF-8 becomes U+FFFD, one
 * per byte that starts no well-formed sequence (RFC 3629 §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "report.h"
#include "sinks.h"

/* The test links with --wrap=realloc: while fail_realloc is set, the
 * library's reallocs fail (out of memory, on demand). */
static bool fail_realloc;
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n) {
  return fail_realloc ? NULL : __real_realloc(p, n);
}

static void expect(const char *in, const char *out) {
  struct tf_buf b = {0};
  tf_buf_json_str(&b, in);
  assert_non_null(b.p);
  assert_string_equal(b.p, out);
  tf_buf_free(&b);
}

#define F "\\ufffd"

static void well_formed_is_copied(void **state) {
  (void)state;
  expect("example.com", "\"example.com\"");
  expect("caf\xc3\xa9", "\"caf\xc3\xa9\"");
  expect("\xe2\x82\xac", "\"\xe2\x82\xac\"");         /* U+20AC */
  expect("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");         /* U+FFFD */
  expect("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* U+1F600 */
  expect("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
  expect("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF */
  expect("a\"b\\c\n\x01", "\"a\\\"b\\\\c\\u000a\\u0001\"");
}

static void ill_formed_is_replaced(void **state) {
  (void)state;
  expect("\xc0\xaf", "\"" F F "\"");             /* overlong '/' */
  expect("\xc1\xbf", "\"" F F "\"");             /* overlong */
  expect("\xe0\x80\xaf", "\"" F F F "\"");       /* overlong */
  expect("\xe0\x9f\xbf", "\"" F F F "\"");       /* overlong */
  expect("\xf0\x8f\xbf\xbf", "\"" F F F F "\""); /* overlong */
  expect("\xed\xa0\x80", "\"" F F F "\"");       /* surrogate D800 */
  expect("\xed\xbf\xbf", "\"" F F F "\"");       /* surrogate DFFF */
  expect("\xf4\x90\x80\x80", "\"" F F F F "\""); /* > U+10FFFF */
  expect("\xf5\x80\x80\x80", "\"" F F F F "\"");
  expect("\xff\xfe", "\"" F F "\"");
  expect("\xe2\x82", "\"" F F "\""); /* cut short */
  expect("\xe2\x82x", "\"" F F "x\"");
  expect("\x80", "\"" F "\""); /* lone continuation */
}

/* Every byte string gives output whose bytes are ASCII or well-formed
 * UTF-8 (checked with the same table, byte by byte, independently). */
static void random_bytes_stay_valid(void **state) {
  (void)state;
  srand(1);
  char in[64];
  for (int round = 0; round < 20000; round++) {
    size_t n = (size_t)(rand() % 63);
    for (size_t i = 0; i < n; i++)
      in[i] = (char)(1 + rand() % 255);
    in[n] = 0;
    struct tf_buf b = {0};
    tf_buf_json_str(&b, in);
    const unsigned char *p = (const unsigned char *)b.p;
    while (*p) {
      if (*p < 0x80) {
        assert_true(*p >= 0x20);
        p++;
        continue;
      }
      int len = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
      unsigned cp = *p & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
      for (int i = 1; i < len; i++) {
        assert_int_equal(p[i] & 0xc0, 0x80);
        cp = cp << 6 | (p[i] & 0x3f);
      }
      unsigned min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      assert_true(cp >= min && cp <= 0x10ffff);
      assert_false(cp >= 0xd800 && cp <= 0xdfff);
      p += len;
    }
    tf_buf_free(&b);
  }
}

/* The escaper scans 16 bytes at a time: a byte that needs care is found
 * wherever it sits in a block, and the plain runs around it are copied
 * whole.  ASCII strings are checked against a byte-at-a-time escaper, with
 * each special byte at every position of strings that cross blocks, and a
 * well-formed UTF-8 character across a block boundary stays whole. */
static void reference_escape(const char *in, char *out) {
  *out++ = '"';
  for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
    if (*p == '"' || *p == '\\') {
      *out++ = '\\';
      *out++ = (char)*p;
    } else if (*p < 0x20 || *p == 0x7f) {
      out += sprintf(out, "\\u%04x", *p);
    } else {
      *out++ = (char)*p;
    }
  }
  *out++ = '"';
  *out = 0;
}

static void escapes_found_in_every_block_position(void **state) {
  (void)state;
  static const char special[] = {'"', '\\', 0x01, 0x1f, 0x7f, 0x20, 0x7e};
  char in[80], want[512];
  for (size_t len = 1; len < 70; len++)
    for (size_t at = 0; at < len; at++)
      for (size_t k = 0; k < sizeof special; k++) {
        for (size_t i = 0; i < len; i++)
          in[i] = (char)('a' + i % 26);
        in[at] = special[k];
        in[len] = 0;
        reference_escape(in, want);
        expect(in, want);
        /* appended to a buffer that holds something already, with room
         * for exactly the string (the fast path's bound) or one byte
         * less */
        for (size_t spare = 0; spare < 2; spare++) {
          struct tf_buf b = {0};
          tf_buf_put(&b, "x", 1);
          size_t need = strlen(want) + 1 + spare;
          char *np = realloc(b.p, 1 + need);
          assert_non_null(np);
          b.p = np;
          b.cap = 1 + need;
          tf_buf_json_str(&b, in);
          assert_int_equal(b.len, 1 + strlen(want));
          assert_int_equal(b.p[0], 'x');
          assert_string_equal(b.p + 1, want);
          tf_buf_free(&b);
        }
      }
  /* a 4-byte character at every offset around the first boundary */
  for (size_t at = 0; at < 20; at++) {
    char s[40], o[48];
    memset(s, 'a', at);
    memcpy(s + at, "\xf0\x9f\x98\x80", 4);
    memcpy(s + at + 4, "bcdefghijklmnop", 16);
    snprintf(o, sizeof o, "\"%s\"", s);
    expect(s, o);
  }
}

/* Records held past the memory budget go to the file in batches sorted by
 * id, and are read back through a window per batch.  Here they end in a
 * shuffled order, with lengths from 200 bytes to past a window (64 KB):
 * the first half is released by its first connection ending midway (some
 * records then go out of the stage, some out of batches), the second half
 * by one ending last.  Every record must come out whole, in id order. */
/* Record k of len bytes: {"id":k,"pad":"aaa…"}, padded with k's letter. */
static void put_padded(struct tf_records *r, unsigned k, size_t len) {
  char *s = malloc(len + 1);
  assert_non_null(s);
  int n = snprintf(s, len + 1, "{\"id\":%u,\"pad\":\"", k);
  memset(s + n, 'a' + (char)(k % 26), len - (size_t)n - 3);
  memcpy(s + len - 3, "\"}\n", 4);
  tf_records_put(r, k, s, len);
}

static void check_padded(const char *p, unsigned k, size_t len) {
  char head[32];
  int n = snprintf(head, sizeof head, "{\"id\":%u,\"pad\":\"", k);
  if (memcmp(p, head, (size_t)n) != 0)
    fail_msg("record %u: the head is %.20s", k, p);
  for (size_t i = (size_t)n; i < len - 3; i++)
    if (p[i] != 'a' + (char)(k % 26))
      fail_msg("record %u: byte %zu is %c", k, i, p[i]);
  assert_memory_equal(p + len - 3, "\"}\n", 3);
}

static size_t mixed_len(unsigned k) {
  return k % 97 == 0 ? 70000 + k : 200 + (k * 7919u) % 9000;
}

static void records_held_in_shuffled_batches(void **state) {
  (void)state;
  char *text = NULL;
  size_t tlen = 0;
  FILE *out = open_memstream(&text, &tlen);
  assert_non_null(out);
  struct tf_records *r = tf_records_new(out, TF_REC_JSONL, false, true);
  assert_non_null(r);
  enum { N = 4000, MID = N / 2 };
  unsigned order[N];
  for (unsigned i = 0; i < N; i++)
    order[i] = i + 1;
  srand(7);
  for (unsigned i = N - 1; i > 0; i--) { /* Fisher-Yates */
    unsigned j = (unsigned)rand() % (i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  /* connection 1 ends midway, MID + 1 (the second half's first) last */
  for (unsigned i = 0; i < N; i++) {
    unsigned swap_to = order[i] == 1 ? MID : order[i] == MID + 1 ? N - 1 : i;
    unsigned t = order[swap_to];
    order[swap_to] = order[i];
    order[i] = t;
  }
  for (unsigned i = 0; i < N; i++)
    if (order[i] == 1 && i != MID) {
      unsigned t = order[MID];
      order[MID] = 1;
      order[i] = t;
    }
  for (unsigned i = 0; i < N; i++)
    if (order[i] == MID + 1 && i != N - 1) {
      unsigned t = order[N - 1];
      order[N - 1] = MID + 1;
      order[i] = t;
    }
  size_t total = 0;
  for (unsigned i = 0; i < N; i++) {
    put_padded(r, order[i], mixed_len(order[i]));
    total += mixed_len(order[i]);
  }
  assert_int_equal(tf_records_status(r), 0);
  tf_records_free(r);
  fclose(out);
  assert_true(total > (size_t)(16u << 20)); /* past the 8 MB in memory */
  assert_int_equal(tlen, total);
  const char *p = text;
  for (unsigned k = 1; k <= N; k++) {
    check_padded(p, k, mixed_len(k));
    p += mixed_len(k);
  }
  free(text);
}

/* Records are written in id order: a long connection (id 1) holds back
 * every later record, past 8 MB in a temporary file in $TMPDIR, or, when
 * none can be made there, in memory.  Either way every record comes out
 * whole and in order. */
static void held_records(const char *tmpdir) {
  char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
  if (tmpdir)
    setenv("TMPDIR", tmpdir, 1);
  char *text = NULL;
  size_t tlen = 0;
  FILE *out = open_memstream(&text, &tlen);
  assert_non_null(out);
  struct tf_records *r = tf_records_new(out, TF_REC_JSONL, false, true);
  assert_non_null(r);
  enum { N = 3000, LEN = 4000 }; /* 12 MB held */
  for (unsigned id = 2; id <= N + 1; id++) {
    unsigned k = id == N + 1 ? 1 : id; /* the long connection ends last */
    put_padded(r, k, LEN);
  }
  assert_int_equal(tf_records_status(r), 0);
  tf_records_free(r);
  fclose(out);
  assert_int_equal(tlen, (size_t)N * LEN);
  for (unsigned k = 1; k <= N; k++)
    check_padded(text + (size_t)(k - 1) * LEN, k, LEN);
  free(text);
  if (old) {
    setenv("TMPDIR", old, 1);
    free(old);
  } else {
    unsetenv("TMPDIR");
  }
}

static void records_held_in_a_file(void **state) {
  (void)state;
  held_records(NULL);
}

static void records_held_in_memory_without_tmpdir(void **state) {
  (void)state;
  held_records("/nonexistent/tlsfin-test");
}

/* A record that cannot be formatted for want of memory is lost, and
 * says so; the records held behind it still go out, in order. */
static void a_record_lost_to_memory_keeps_the_order(void **state) {
  (void)state;
  char *text = NULL;
  size_t tlen = 0;
  FILE *out = open_memstream(&text, &tlen);
  struct tf_records *r = tf_records_new(out, TF_REC_JSONL, false, true);
  char *two = strdup("{\"id\":2}\n");
  tf_records_put(r, 2, two, strlen(two)); /* held: 1 is not out yet */
  static struct tf_conn c;
  static struct tf_result res;
  c.id = 1;
  c.af = 4;
  fail_realloc = true;
  tf_records_sink(r)->conn(r, &c, &res);
  fail_realloc = false;
  tf_records_free(r);
  fclose(out);
  assert_string_equal(text, "{\"id\":2}\n");
  free(text);

  struct tf_buf b = {0};
  fail_realloc = true;
  tf_buf_put(&b, "x", 1);
  fail_realloc = false;
  assert_true(b.oom); /* a writer can tell its record is incomplete */
  tf_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(well_formed_is_copied),
      cmocka_unit_test(ill_formed_is_replaced),
      cmocka_unit_test(random_bytes_stay_valid),
      cmocka_unit_test(escapes_found_in_every_block_position),
      cmocka_unit_test(records_held_in_a_file),
      cmocka_unit_test(records_held_in_shuffled_batches),
      cmocka_unit_test(records_held_in_memory_without_tmpdir),
      cmocka_unit_test(a_record_lost_to_memory_keeps_the_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

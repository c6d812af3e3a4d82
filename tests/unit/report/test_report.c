/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON strings stay valid JSON (RFC 8259 §8.1: UTF-8) whatever bytes an
 * untrusted field (an SNI) carries: ill-formed UTF-8 becomes U+FFFD, one
 * per byte that starts no well-formed sequence (RFC 3629 §4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(well_formed_is_copied),
      cmocka_unit_test(ill_formed_is_replaced),
      cmocka_unit_test(random_bytes_stay_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

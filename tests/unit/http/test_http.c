/* SPDX-License-Identifier: BSD-2-Clause */
/* HTTP/1.1 framing (RFC 9112 §6): complete vs cut messages, fed whole and
 * split at every byte boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "http.h"

static uint8_t end_of(const char *s, size_t n, size_t split, uint64_t *lost) {
  struct tf_http h;
  tf_http_init(&h, true);
  if (split && split < n) {
    tf_http_feed(&h, (const uint8_t *)s, split);
    tf_http_feed(&h, (const uint8_t *)s + split, n - split);
  } else {
    tf_http_feed(&h, (const uint8_t *)s, n);
  }
  if (lost)
    *lost = h.lost_bytes;
  return h.end;
}

static void check_all_splits(const char *s, uint8_t want) {
  size_t n = strlen(s);
  for (size_t k = 0; k <= n; k++)
    assert_int_equal(end_of(s, n, k, NULL), want);
}

static const char CL_OK[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    "HTTP/1.1 404 Not Found\r\ncontent-length:0\r\n\r\n";
static const char CL_CUT[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";
static const char CHUNKED_OK[] =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;ext=1\r\nhello\r\n3\r\nabc\r\n0\r\nTrailer: x\r\n\r\n";
static const char CHUNKED_CUT[] =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhel";
static const char CLOSE_DELIM[] = "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nbody...";
static const char NO_BODY[] =
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n";
static const char MID_HEAD[] = "HTTP/1.1 200 OK\r\nContent-Le";

static void framing(void **state) {
  (void)state;
  check_all_splits(CL_OK, TF_HTTP_BOUNDARY);
  check_all_splits(CL_CUT, TF_HTTP_MID_BODY);
  check_all_splits(CHUNKED_OK, TF_HTTP_BOUNDARY);
  check_all_splits(CHUNKED_CUT, TF_HTTP_MID_BODY);
  check_all_splits(CLOSE_DELIM, TF_HTTP_UNTIL_CLOSE);
  check_all_splits(NO_BODY, TF_HTTP_BOUNDARY);
  check_all_splits(MID_HEAD, TF_HTTP_MID_HEADERS);
  uint64_t lost;
  end_of(CL_CUT, strlen(CL_CUT), 0, &lost);
  assert_int_equal(lost, 5);
  end_of(CHUNKED_CUT, strlen(CHUNKED_CUT), 0, &lost);
  assert_int_equal(lost, 2);
}

static void messages_counted(void **state) {
  (void)state;
  struct tf_http h;
  tf_http_init(&h, true);
  tf_http_feed(&h, (const uint8_t *)CL_OK, strlen(CL_OK));
  assert_int_equal(h.messages, 2);
  assert_int_equal(h.last_status, 404);
  tf_http_init(&h, false);
  const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\n"
                     "Content-Length: 3\r\n\r\nabc";
  assert_int_equal(tf_http_feed(&h, (const uint8_t *)req, strlen(req)), 0);
  assert_int_equal(h.messages, 2);
  assert_int_equal(h.end, TF_HTTP_BOUNDARY);
}

static void not_http(void **state) {
  (void)state;
  struct tf_http h;
  tf_http_init(&h, true);
  assert_int_equal(tf_http_feed(&h, (const uint8_t *)"\x16\x03\x03garbage", 10),
                   -1);
  assert_int_equal(h.end, TF_HTTP_NOT_HTTP);
  tf_http_init(&h, true);
  const char bad_cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n";
  assert_int_equal(tf_http_feed(&h, (const uint8_t *)bad_cl, strlen(bad_cl)),
                   -1);
  int st;
  int64_t cl;
  bool ch;
  assert_int_equal(
      tf_http_parse_head("HTTP/1.1 200 OK\r\n", 17, true, &st, &cl, &ch), -2);
  assert_int_equal(tf_http_parse_head("HTTP/1.1 200 OK\r\nA: b\r\n\r\nrest", 29,
                                      true, &st, &cl, &ch),
                   25);
  assert_int_equal(st, 200);
  assert_int_equal(cl, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(framing),
      cmocka_unit_test(messages_counted),
      cmocka_unit_test(not_http),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* The pcapng block builder of --annotate: block lengths (both copies),
 * 32-bit padding of bodies and option values, option encoding, comments
 * past the 16-bit option length cut at a UTF-8 boundary, the options
 * budget, DSB limits and splitting, and libpcap reading the result back
 * (data, lengths, nanosecond timestamps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapng_write.h"

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Checks one block at b->p + off: its type, a length that is a multiple of
 * 4 and the same at both ends, inside the buffer.  Returns its length. */
static size_t check_block(const struct tf_pcapng_buf *b, size_t off,
                          uint32_t type) {
  assert_true(off + 12 <= b->len);
  assert_int_equal(rd32(b->p + off), type);
  uint32_t len = rd32(b->p + off + 4);
  assert_int_equal(len % 4, 0);
  assert_true(len >= 12);
  assert_true(off + len <= b->len);
  assert_int_equal(rd32(b->p + off + len - 4), len);
  return len;
}

/* Walks the options in [p, end): each value padded to 32 bits, ending
 * with opt_endofopt exactly at end.  Fills codes/lens (up to max) and
 * returns the count (the end marker not counted). */
static size_t walk_options(const uint8_t *p, const uint8_t *end,
                           uint16_t *codes, uint16_t *lens,
                           const uint8_t **vals, size_t max) {
  size_t n = 0;
  for (;;) {
    assert_true(p + 4 <= end);
    uint16_t code = rd16(p), len = rd16(p + 2);
    if (code == 0) {
      assert_int_equal(len, 0);
      assert_ptr_equal(p + 4, end);
      return n;
    }
    size_t padded = ((size_t)len + 3) & ~(size_t)3;
    assert_true(p + 4 + padded <= end);
    for (size_t i = len; i < padded; i++)
      assert_int_equal(p[4 + i], 0); /* padding is zeros */
    if (n < max) {
      codes[n] = code;
      lens[n] = len;
      vals[n] = p + 4;
    }
    n++;
    p += 4 + padded;
  }
}

static void test_shb(void **state) {
  (void)state;
  struct tf_pcapng_buf b = {0};
  tf_pcapng_shb(&b, "tlsfin test");
  size_t len = check_block(&b, 0, TF_PCAPNG_BT_SHB);
  assert_int_equal(len, b.len);
  assert_int_equal(rd32(b.p + 8), 0x1A2B3C4Du);
  assert_int_equal(rd16(b.p + 12), 1);
  assert_int_equal(rd16(b.p + 14), 0);
  assert_int_equal(rd32(b.p + 16), UINT32_MAX); /* section length -1 */
  uint16_t codes[4], lens[4];
  const uint8_t *vals[4];
  size_t n = walk_options(b.p + 24, b.p + len - 4, codes, lens, vals, 4);
  assert_int_equal(n, 1);
  assert_int_equal(codes[0], 4); /* shb_userappl */
  assert_int_equal(lens[0], 11); /* padded to 12 */
  assert_memory_equal(vals[0], "tlsfin test", 11);
  tf_pcapng_buf_free(&b);
}

static void test_idb(void **state) {
  (void)state;
  struct tf_pcapng_buf b = {0};
  tf_pcapng_idb(&b, 1, 65535, "eth0", 9);
  size_t len = check_block(&b, 0, TF_PCAPNG_BT_IDB);
  assert_int_equal(rd16(b.p + 8), 1);
  assert_int_equal(rd16(b.p + 10), 0);
  assert_int_equal(rd32(b.p + 12), 65535);
  uint16_t codes[4], lens[4];
  const uint8_t *vals[4];
  size_t n = walk_options(b.p + 16, b.p + len - 4, codes, lens, vals, 4);
  assert_int_equal(n, 2);
  assert_int_equal(codes[0], 2); /* if_name */
  assert_memory_equal(vals[0], "eth0", 4);
  assert_int_equal(codes[1], 9); /* if_tsresol, one byte padded to 4 */
  assert_int_equal(lens[1], 1);
  assert_int_equal(vals[1][0], 9);
  /* no name: only the resolution */
  tf_pcapng_buf_free(&b);
  tf_pcapng_idb(&b, 101, 262144, NULL, 6);
  len = check_block(&b, 0, TF_PCAPNG_BT_IDB);
  assert_int_equal(len, 16 + 8 + 4 + 4);
  tf_pcapng_buf_free(&b);
}

static void test_epb_layout(void **state) {
  (void)state;
  struct tf_pcapng_buf b = {0};
  const uint8_t data[5] = {1, 2, 3, 4, 5};
  const char *comments[] = {"abc", NULL, "", "tlsfin: x"};
  uint64_t ts = ((uint64_t)0x12345678 << 32) | 0x9abcdef0u;
  assert_int_equal(
      tf_pcapng_epb(&b, 3, ts, data, sizeof data, 1500, comments, 4), 0);
  size_t len = check_block(&b, 0, TF_PCAPNG_BT_EPB);
  assert_int_equal(rd32(b.p + 8), 3);
  assert_int_equal(rd32(b.p + 12), 0x12345678u); /* timestamp high */
  assert_int_equal(rd32(b.p + 16), 0x9abcdef0u); /* and low */
  assert_int_equal(rd32(b.p + 20), 5);
  assert_int_equal(rd32(b.p + 24), 1500);
  assert_memory_equal(b.p + 28, data, 5);
  for (int i = 5; i < 8; i++)
    assert_int_equal(b.p[28 + i], 0); /* the packet padded to 32 bits */
  uint16_t codes[8], lens[8];
  const uint8_t *vals[8];
  size_t n = walk_options(b.p + 36, b.p + len - 4, codes, lens, vals, 8);
  assert_int_equal(n, 2); /* NULL and "" are skipped */
  assert_int_equal(codes[0], TF_PCAPNG_OPT_COMMENT);
  assert_int_equal(lens[0], 3);
  assert_memory_equal(vals[0], "abc", 3);
  assert_int_equal(codes[1], TF_PCAPNG_OPT_COMMENT);
  assert_int_equal(lens[1], 9);
  assert_memory_equal(vals[1], "tlsfin: x", 9);
  tf_pcapng_buf_free(&b);

  /* no comment: no options at all */
  assert_int_equal(tf_pcapng_epb(&b, 0, 0, data, 4, 4, NULL, 0), 0);
  len = check_block(&b, 0, TF_PCAPNG_BT_EPB);
  assert_int_equal(len, 28 + 4 + 4);
  tf_pcapng_buf_free(&b);

  /* an empty packet and a packet too large for readers */
  assert_int_equal(tf_pcapng_epb(&b, 0, 0, NULL, 0, 60, NULL, 0), 0);
  assert_int_equal(check_block(&b, 0, TF_PCAPNG_BT_EPB), 32);
  size_t before = b.len;
  assert_int_equal(tf_pcapng_epb(&b, 0, 0, data, TF_PCAPNG_SNAPLEN_MAX + 1,
                                 TF_PCAPNG_SNAPLEN_MAX + 1, NULL, 0),
                   -1);
  assert_int_equal(b.len, before); /* nothing appended */
  tf_pcapng_buf_free(&b);
}

/* A comment of 2-byte characters past 64 KiB: cut to the last whole
 * character that fits the 16-bit length. */
static void test_long_comment(void **state) {
  (void)state;
  size_t n = 70000;
  char *c = malloc(n + 1);
  assert_non_null(c);
  for (size_t i = 0; i < n; i += 2) {
    c[i] = (char)0xC3; /* U+00E9 */
    c[i + 1] = (char)0xA9;
  }
  c[n] = 0;
  assert_int_equal(tf_pcapng_utf8_cut(c, TF_PCAPNG_OPT_MAX), 65534);
  assert_int_equal(tf_pcapng_utf8_cut("abc", 2), 2);
  assert_int_equal(tf_pcapng_utf8_cut("abc", 3), 3);
  assert_int_equal(tf_pcapng_utf8_cut("\xc3\xa9", 1), 0);

  struct tf_pcapng_buf b = {0};
  const uint8_t data[1] = {0};
  const char *one[] = {c};
  assert_int_equal(tf_pcapng_epb(&b, 0, 0, data, 1, 1, one, 1), 0);
  size_t len = check_block(&b, 0, TF_PCAPNG_BT_EPB);
  uint16_t codes[4], lens[4];
  const uint8_t *vals[4];
  size_t k = walk_options(b.p + 32, b.p + len - 4, codes, lens, vals, 4);
  assert_int_equal(k, 1);
  assert_int_equal(lens[0], 65534);
  assert_int_equal((uint8_t)vals[0][65533], 0xA9); /* a whole character */
  tf_pcapng_buf_free(&b);

  /* three of them: the options stay within the budget, the last cut */
  const char *three[] = {c, c, c};
  assert_int_equal(tf_pcapng_epb(&b, 0, 0, data, 1, 1, three, 3), 0);
  len = check_block(&b, 0, TF_PCAPNG_BT_EPB);
  k = walk_options(b.p + 32, b.p + len - 4, codes, lens, vals, 4);
  assert_true(k >= 2 && k <= 3);
  assert_true(len - 32 - 4 <= TF_PCAPNG_OPTS_MAX);
  for (size_t i = 0; i < k && i < 4; i++)
    assert_true(lens[i] % 2 == 0); /* never half a character */
  tf_pcapng_buf_free(&b);
  free(c);
}

static void test_dsb(void **state) {
  (void)state;
  struct tf_pcapng_buf b = {0};
  const char text[] = "CLIENT_RANDOM aa bb\n"; /* 20 bytes */
  assert_int_equal(
      tf_pcapng_dsb(&b, TF_PCAPNG_SECRETS_TLS, text, sizeof text - 2), 0);
  size_t len = check_block(&b, 0, TF_PCAPNG_BT_DSB);
  assert_int_equal(rd32(b.p + 8), 0x544c534bu);
  assert_int_equal(rd32(b.p + 12), 19);
  assert_int_equal(len, 16 + 20 + 4); /* 19 bytes padded to 20 */
  assert_int_equal(b.p[16 + 19], 0);
  size_t before = b.len;
  assert_int_equal(
      tf_pcapng_dsb(&b, TF_PCAPNG_SECRETS_TLS, text, TF_PCAPNG_DSB_MAX + 1),
      -1);
  assert_int_equal(b.len, before);
  tf_pcapng_buf_free(&b);

  /* splitting a key log keeps whole lines */
  const char *log = "one\ntwo\nthree\n";
  assert_int_equal(tf_pcapng_text_cut(log, 14, 100), 14);
  assert_int_equal(tf_pcapng_text_cut(log, 14, 10), 8);
  assert_int_equal(tf_pcapng_text_cut(log, 14, 4), 4);
  assert_int_equal(tf_pcapng_text_cut(log, 14, 3), 3); /* a line too long */
}

static void test_linktype(void **state) {
  (void)state;
  assert_int_equal(tf_pcapng_linktype(1), 1);
  assert_int_equal(tf_pcapng_linktype(12), 101); /* DLT_RAW */
  assert_int_equal(tf_pcapng_linktype(276), 276);
  assert_int_equal(tf_pcapng_linktype(-1), -1);
  assert_int_equal(tf_pcapng_linktype(70000), -1);
}

/* libpcap reads back what was built: its own checks on block lengths,
 * interfaces and options pass, packets come out whole. */
static void test_libpcap_reads_back(void **state) {
  (void)state;
  char path[] = "/tmp/tlsfin-pcapng-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "wb");
  assert_non_null(f);
  struct tf_pcapng_buf b = {0};
  tf_pcapng_shb(&b, "test");
  tf_pcapng_idb(&b, 1, 262144, "one", 9);
  tf_pcapng_idb(&b, 1, 262144, "two", 9);
  tf_pcapng_dsb(&b, TF_PCAPNG_SECRETS_TLS, "x\n", 2);
  uint8_t pkt[61];
  for (size_t i = 0; i < sizeof pkt; i++)
    pkt[i] = (uint8_t)i;
  size_t n = 100000;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, 'a', n);
  big[n] = 0;
  const char *cs[] = {big, "second", big};
  uint64_t ts = 1700000000ull * 1000000000ull + 123456789ull;
  assert_int_equal(tf_pcapng_epb(&b, 1, ts, pkt, 61, 1514, cs, 3), 0);
  assert_int_equal(tf_pcapng_epb(&b, 0, ts + 1, pkt, 14, 14, NULL, 0), 0);
  assert_int_equal(tf_pcapng_buf_write(&b, f), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(fclose(f), 0);
  tf_pcapng_buf_free(&b);
  free(big);

  char err[PCAP_ERRBUF_SIZE];
  pcap_t *pc = pcap_open_offline_with_tstamp_precision(
      path, PCAP_TSTAMP_PRECISION_NANO, err);
  assert_non_null(pc);
  struct pcap_pkthdr *h;
  const u_char *d;
  assert_int_equal(pcap_next_ex(pc, &h, &d), 1);
  assert_int_equal(h->caplen, 61);
  assert_int_equal(h->len, 1514);
  assert_int_equal(h->ts.tv_sec, 1700000000);
  assert_int_equal(h->ts.tv_usec, 123456789); /* nanoseconds */
  assert_memory_equal(d, pkt, 61);
  assert_int_equal(pcap_next_ex(pc, &h, &d), 1);
  assert_int_equal(h->caplen, 14);
  assert_int_equal(h->ts.tv_usec, 123456790);
  assert_int_equal(pcap_next_ex(pc, &h, &d), PCAP_ERROR_BREAK);
  pcap_close(pc);
  unlink(path);
}

/* A failed write reports it: /dev/full. */
static void test_write_error(void **state) {
  (void)state;
  FILE *f = fopen("/dev/full", "wb");
  if (!f)
    skip();
  setvbuf(f, NULL, _IONBF, 0);
  struct tf_pcapng_buf b = {0};
  tf_pcapng_shb(&b, NULL);
  assert_int_equal(tf_pcapng_buf_write(&b, f), -1);
  fclose(f);
  tf_pcapng_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shb),
      cmocka_unit_test(test_idb),
      cmocka_unit_test(test_epb_layout),
      cmocka_unit_test(test_long_comment),
      cmocka_unit_test(test_dsb),
      cmocka_unit_test(test_linktype),
      cmocka_unit_test(test_libpcap_reads_back),
      cmocka_unit_test(test_write_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

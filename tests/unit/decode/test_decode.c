/* SPDX-License-Identifier: BSD-2-Clause */
/* --zeek-checksums in the decoder: IPv4 header and TCP checksums (IPv4 and
 * IPv6 pseudo-headers), checked only when asked for and only over a
 * segment captured whole, as Zeek does.  The packets are real ones from
 * Zeek's traces (tests/zeek/traces), whose checksums tcpdump agrees with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "decode.h"

#define LT_RAW 101

/* ftp__ipv4.pcap: 199.233.217.249:56667 -> 141.142.220.235:59378, PSH-ACK
 * with 77 bytes (an odd length: the last byte is padded), checksum right */
static const char v4_data[] =
    "45000081b3df400030068a3ac7e9d9f98d8edcebdd5be7f2fe028cc07e4cd02d"
    "8018020cc89f00000101080a00000001015ca1d1557365722d6167656e743a20"
    "2a0a446973616c6c6f773a202a2e74677a0a446973616c6c6f773a202a2e677a"
    "0a446973616c6c6f773a202a2e74627a0a446973616c6c6f773a202a2e627a32"
    "0a";
/* chksums/localhost-bad-chksum.pcap: the client's SYN, checksum offloaded
 * (0x13dd, right would be 0x3007), and the server's SYN-ACK, right */
static const char v4_bad_syn[] =
    "45000040000040004006270ec0a8011c23dd2e09cffe0050d186d41600000000"
    "b002ffff13dd0000020405b4010303060101080a43f0396e0000000004020000";
static const char v4_synack[] =
    "45000034000040003706301a23dd2e09c0a8011c0050cffebf4d3093d186d417"
    "8012ff28f68700000204058c0101040201030307";
/* ftp__ipv6.pcap: 2001:470:4867:99::21:57087 -> ...:49187, PSH-ACK with 43
 * bytes, checksum right */
static const char v6_data[] =
    "6005f70f004b063820010470486700990000000000000021200104701f11081f"
    "c9990d94aa7c2e3edeffc0233be32831fa8e3d2080180205969400000101080a"
    "000000013a020c877075620d0a2e6d6573736167650d0a6c732d6c52412e677a"
    "0d0a726f626f74732e7478740d0a6574630d0a";

static size_t unhex(const char *s, uint8_t *out, size_t max) {
  size_t n = 0;
  unsigned v;
  for (; s[0] && s[1]; s += 2) {
    assert_true(n < max && sscanf(s, "%2x", &v) == 1);
    out[n++] = (uint8_t)v;
  }
  return n;
}

/* Decodes b[0..n) as raw IP, checksums verified or not. */
static int decode(const uint8_t *b, size_t n, bool csum, struct tf_pkt *p) {
  struct tf_decap dc = {NULL, {0}, csum};
  const char *why = NULL;
  memset(p, 0, sizeof *p);
  int r = tf_decode_packet_decap(LT_RAW, b, n, p, &dc, &why);
  if (r != TF_DECODE_TCP)
    assert_non_null(why);
  return r;
}

static void ipv4_good_and_bad(void **st) {
  (void)st;
  uint8_t b[256];
  struct tf_pkt p;
  size_t n = unhex(v4_data, b, sizeof b);
  assert_int_equal(n, 129);
  assert_true(tf_ipv4_csum_ok(b, 20));
  assert_true(tf_tcp_csum_ok(4, b + 12, b + 16, b + 20, n - 20));
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_int_equal(p.len, 77);
  assert_false(p.bad_csum);

  n = unhex(v4_synack, b, sizeof b);
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_false(p.bad_csum);

  n = unhex(v4_bad_syn, b, sizeof b);
  assert_true(tf_ipv4_csum_ok(b, 20)); /* the IP header is right */
  assert_false(tf_tcp_csum_ok(4, b + 12, b + 16, b + 20, n - 20));
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_true(p.bad_csum);
  /* off by default: never marked */
  assert_int_equal(decode(b, n, false, &p), TF_DECODE_TCP);
  assert_false(p.bad_csum);
  /* the right checksum makes it good */
  b[36] = 0x30;
  b[37] = 0x07;
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_false(p.bad_csum);
}

static void ipv4_header(void **st) {
  (void)st;
  uint8_t b[256];
  struct tf_pkt p;
  size_t n = unhex(v4_data, b, sizeof b);
  b[8]--; /* TTL: the header checksum no longer matches */
  assert_false(tf_ipv4_csum_ok(b, 20));
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_SKIP); /* dropped */
  assert_int_equal(decode(b, n, false, &p), TF_DECODE_TCP);
  /* total length 0 (TSO): Zeek drops it when it verifies checksums */
  n = unhex(v4_data, b, sizeof b);
  b[2] = b[3] = 0;
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_SKIP);
  assert_int_equal(decode(b, n, false, &p), TF_DECODE_TCP);
}

static void ipv6_good_and_bad(void **st) {
  (void)st;
  uint8_t b[256];
  struct tf_pkt p;
  size_t n = unhex(v6_data, b, sizeof b);
  assert_int_equal(n, 40 + 75);
  assert_true(tf_tcp_csum_ok(6, b + 8, b + 24, b + 40, n - 40));
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_int_equal(p.len, 43);
  assert_false(p.bad_csum);
  b[n - 1] ^= 0x01; /* the payload's last (odd) byte */
  assert_false(tf_tcp_csum_ok(6, b + 8, b + 24, b + 40, n - 40));
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_true(p.bad_csum);
  assert_int_equal(decode(b, n, false, &p), TF_DECODE_TCP);
  assert_false(p.bad_csum);
  /* cut by the snaplen: not checked (Zeek: caplen >= len) */
  assert_int_equal(decode(b, n - 1, true, &p), TF_DECODE_TCP);
  assert_false(p.bad_csum);
  /* the IPv6 pseudo-header covers the addresses */
  b[n - 1] ^= 0x01;
  b[23] ^= 0x01;
  assert_int_equal(decode(b, n, true, &p), TF_DECODE_TCP);
  assert_true(p.bad_csum);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ipv4_good_and_bad),
      cmocka_unit_test(ipv4_header),
      cmocka_unit_test(ipv6_good_and_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Zeek conn_state / history for hand-built packet sequences, one per state
 * of conn_state() in base/protocols/conn/main.zeek, and the letter rules
 * (repeats only with a new sequence number, logarithmic t, flips). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zeek.h"

#define S TF_TH_SYN
#define A TF_TH_ACK
#define F TF_TH_FIN
#define R TF_TH_RST
#define P TF_TH_PUSH

struct pk {
  bool first;
  uint8_t flags;
  uint32_t seq, ack, len;
  uint16_t win;
};

static void run(const struct pk *p, size_t n, uint32_t sport, uint32_t dport,
                const char *state, const char *hist) {
  struct tf_zeek z;
  tf_zeek_init(&z);
  for (size_t i = 0; i < n; i++)
    tf_zeek_packet(&z, 0.001 * (double)i, p[i].first, p[i].flags, p[i].seq,
                   p[i].ack, p[i].len, p[i].len, p[i].win ? p[i].win : 1000,
                   p[i].first ? sport : dport, p[i].first ? dport : sport);
  assert_string_equal(tf_zeek_history(&z), hist);
  assert_string_equal(tf_zeek_conn_state(&z), state);
}
#define RUN(arr, st, h) run(arr, sizeof arr / sizeof arr[0], 50000, 443, st, h)

static void states(void **state) {
  (void)state;
  const struct pk s0[] = {{1, S, 100, 0, 0, 0}, {1, S, 100, 0, 0, 0}};
  RUN(s0, "S0", "S");
  const struct pk rej[] = {{1, S, 100, 0, 0, 0}, {0, R | A, 0, 101, 0, 0}};
  RUN(rej, "REJ", "Sr");
  const struct pk sf[] = {
      {1, S, 100, 0, 0, 0},        {0, S | A, 500, 101, 0, 0},
      {1, A, 101, 501, 0, 0},      {1, P | A, 101, 501, 10, 0},
      {0, P | A, 501, 111, 20, 0}, {1, F | A, 111, 521, 0, 0},
      {0, F | A, 521, 112, 0, 0},  {1, A, 112, 522, 0, 0}};
  RUN(sf, "SF", "ShADdFf"); /* no pure ACK from the responder: no a */
  const struct pk s1[] = {
      {1, S, 100, 0, 0, 0}, {0, S | A, 500, 101, 0, 0}, {1, A, 101, 501, 0, 0}};
  RUN(s1, "S1", "ShA");
  const struct pk rsto[] = {{1, S, 100, 0, 0, 0},
                            {0, S | A, 500, 101, 0, 0},
                            {1, A, 101, 501, 0, 0},
                            {1, R | A, 101, 501, 0, 0}};
  RUN(rsto, "RSTO", "ShAR");
  const struct pk rstr[] = {{1, S, 100, 0, 0, 0},
                            {0, S | A, 500, 101, 0, 0},
                            {1, A, 101, 501, 0, 0},
                            {1, P | A, 101, 501, 5, 0},
                            {0, R | A, 501, 106, 0, 0}};
  RUN(rstr, "RSTR", "ShADr");
  const struct pk s2[] = {{1, S, 100, 0, 0, 0},
                          {0, S | A, 500, 101, 0, 0},
                          {1, A, 101, 501, 0, 0},
                          {1, F | A, 101, 501, 0, 0}};
  RUN(s2, "S2", "ShAF");
  const struct pk rstos0[] = {{1, S, 100, 0, 0, 0}, {1, R, 101, 0, 0, 0}};
  RUN(rstos0, "RSTOS0", "SR");
  /* RST after a completed FIN exchange changes nothing (UpdateClosedState) */
  const struct pk sf_rst[] = {
      {1, S, 100, 0, 0, 0},       {0, S | A, 500, 101, 0, 0},
      {1, A, 101, 501, 0, 0},     {1, F | A, 101, 501, 0, 0},
      {0, F | A, 501, 102, 0, 0}, {1, R, 102, 0, 0, 0}};
  RUN(sf_rst, "SF", "ShAFfR");
}

static void letters(void **state) {
  (void)state;
  /* 11 retransmissions of the same data: 't' at the 1st and the 10th */
  struct pk rx[16] = {{1, S, 100, 0, 0, 0},
                      {0, S | A, 500, 101, 0, 0},
                      {1, A, 101, 501, 0, 0},
                      {0, P | A, 501, 101, 50, 0}};
  for (int i = 4; i < 15; i++)
    rx[i] = (struct pk){0, P | A, 501, 101, 50, 0};
  rx[15] = (struct pk){1, A, 101, 551, 0, 0};
  run(rx, 16, 50000, 443, "S1", "ShAdtt");
  /* a repeated SYN with a new sequence number is a new letter */
  const struct pk syns[] = {
      {1, S, 100, 0, 0, 0}, {1, S, 100, 0, 0, 0}, {1, S, 900, 0, 0, 0}};
  RUN(syns, "S0", "SS");
  /* zero window from the receiver */
  const struct pk w[] = {{1, S, 100, 0, 0, 0},
                         {0, S | A, 500, 101, 0, 0},
                         {1, P | A, 101, 501, 10, 0},
                         {0, A, 501, 111, 0, 0}};
  struct pk w2[4];
  for (int i = 0; i < 4; i++)
    w2[i] = w[i];
  w2[3].win = 0;
  w2[3].flags = A;
  struct tf_zeek z;
  tf_zeek_init(&z);
  for (int i = 0; i < 4; i++)
    tf_zeek_packet(&z, 0.001 * i, w2[i].first, w2[i].flags, w2[i].seq,
                   w2[i].ack, w2[i].len, w2[i].len, i == 3 ? 0 : 1000,
                   w2[i].first ? 50000 : 443, w2[i].first ? 443 : 50000);
  assert_string_equal(tf_zeek_history(&z), "ShDaw");
}

static void flips(void **state) {
  (void)state;
  /* midstream: the first packet comes from port 443 to an ephemeral port,
   * so Zeek makes its receiver the originator ('^') */
  const struct pk mid[] = {{1, P | A, 500, 100, 30, 0}, {0, A, 100, 530, 0, 0}};
  run(mid, 2, 443, 50000, "OTH", "^dA");
  struct tf_zeek z;
  tf_zeek_init(&z);
  tf_zeek_packet(&z, 0.0, true, P | A, 500, 100, 30, 30, 1000, 443, 50000);
  assert_false(tf_zeek_orig_is_first(&z));
  /* a SYN-ACK first between two unlikely ports, then productive traffic:
   * the late flip rewrites the history to "^h" */
  const struct pk synack[] = {{1, S | A, 500, 101, 0, 0},
                              {0, A, 101, 501, 0, 0}};
  run(synack, 2, 40000, 50000, "OTH", "^hA");
}

/* TCPSessionAdapter::AttemptTimer: a SYN unanswered for tcp_attempt_delay
 * ends the connection; the client's FIN 6 s later starts a new one (Zeek's
 * half-duplex-client baseline: "S0 SAD", then "SH ADF"). */
static void attempt_split(void **state) {
  (void)state;
  const struct {
    double ts;
    uint8_t flags;
    uint32_t seq, len;
  } p[] = {{0.0, S, 100, 0},
           {0.1, A, 101, 0},
           {0.2, P | A, 101, 20},
           {6.2, F | A, 121, 0}};
  struct tf_zeek z;
  tf_zeek_init(&z);
  for (size_t i = 0; i < 4; i++)
    tf_zeek_packet(&z, p[i].ts, true, p[i].flags, p[i].seq, 900, p[i].len,
                   p[i].len, 1000, 50000, 22);
  assert_int_equal(tf_zeek_nrows(&z), 2);
  assert_string_equal(tf_zeek_conn_state(&z), "S0");
  assert_string_equal(tf_zeek_history(&z), "SAD");
  const char *st, *h;
  double t;
  tf_zeek_row(&z, 1, &st, &h, &t);
  assert_string_equal(st, "SH");
  assert_string_equal(h, "F");
  assert_true(t > 6.0);
  /* an answered SYN is not split however late the rest comes */
  tf_zeek_init(&z);
  tf_zeek_packet(&z, 0.0, true, S, 100, 0, 0, 0, 1000, 50000, 22);
  tf_zeek_packet(&z, 0.1, false, S | A, 900, 101, 0, 0, 1000, 22, 50000);
  tf_zeek_packet(&z, 9.0, true, A, 101, 901, 0, 0, 1000, 50000, 22);
  assert_int_equal(tf_zeek_nrows(&z), 1);
  assert_string_equal(tf_zeek_conn_state(&z), "S1");
}

/* TCP_Reassembler::AckReceived -> Undelivered: an ACK past a hole that was
 * never filled is a content gap ('G' for the originator), even below the
 * highest byte seen; a filled hole is none (its late segment is a 'T'), and a
 * truncated payload never reaches the reassembler (TCP_Endpoint::DataSent), so
 * acking it is a gap. */
static void gaps(void **state) {
  (void)state;
  const struct pk hole[] = {
      {1, S, 100, 0, 0, 0},        {0, S | A, 900, 101, 0, 0},
      {1, A, 101, 901, 0, 0},      {1, P | A, 101, 901, 20, 0},
      {1, P | A, 141, 901, 20, 0}, {0, A, 901, 161, 0, 0}};
  RUN(hole, "S1", "ShADaG");
  const struct pk filled[] = {
      {1, S, 100, 0, 0, 0},        {0, S | A, 900, 101, 0, 0},
      {1, A, 101, 901, 0, 0},      {1, P | A, 101, 901, 20, 0},
      {1, P | A, 141, 901, 20, 0}, {1, P | A, 121, 901, 20, 0},
      {0, A, 901, 161, 0, 0}};
  RUN(filled, "S1", "ShADTa"); /* the late fill is a retransmission */
  struct tf_zeek z;
  tf_zeek_init(&z);
  tf_zeek_packet(&z, 0.0, true, S, 100, 0, 0, 0, 1000, 50000, 80);
  tf_zeek_packet(&z, 0.1, false, S | A, 900, 101, 0, 0, 1000, 80, 50000);
  tf_zeek_packet(&z, 0.2, true, A, 101, 901, 0, 0, 1000, 50000, 80);
  tf_zeek_packet(&z, 0.3, true, P | A, 101, 901, 474, 0, 1000, 50000, 80);
  tf_zeek_packet(&z, 0.4, false, A, 901, 575, 0, 0, 1000, 80, 50000);
  assert_string_equal(tf_zeek_history(&z), "ShADaG");
}

/* --zeek-checksums: a bad TCP checksum is a 'C'/'c' (at 1, 10, 100, ...),
 * the packet changes no state; a SYN-ACK while the originator is still
 * inactive (all it sent was dropped) is Zeek's IsReuse: a new connection
 * (Zeek's core.checksums_ignore_nets baseline: "OTH C", then the rest). */
static void checksums(void **state) {
  (void)state;
  struct tf_zeek z;
  tf_zeek_init(&z);
  tf_zeek_bad_checksum(&z, 0.0, true, S, 100, 50000, 9999);
  assert_string_equal(tf_zeek_history(&z), "C");
  assert_string_equal(tf_zeek_conn_state(&z), "OTH");
  tf_zeek_packet(&z, 0.1, false, S | A, 900, 101, 0, 0, 1000, 50000, 9999);
  assert_int_equal(tf_zeek_nrows(&z), 2);
  assert_string_equal(tf_zeek_history(&z), "C");
  const char *st, *h;
  double t;
  tf_zeek_row(&z, 1, &st, &h, &t);
  assert_string_equal(h, "H"); /* the SYN-ACK's sender is the originator */
  tf_zeek_bad_checksum(&z, 0.2, true, A, 101, 50000, 9999);
  tf_zeek_packet(&z, 0.3, false, F | A, 901, 101, 0, 0, 1000, 50000, 9999);
  tf_zeek_row(&z, 1, &st, &h, &t);
  assert_string_equal(h, "HcF");
  assert_string_equal(st, "SH");
  assert_true(t > 0.05);
  /* logarithmic, per endpoint; no state: the connection stays S1 */
  tf_zeek_init(&z);
  tf_zeek_packet(&z, 0.0, true, S, 100, 0, 0, 0, 1000, 50000, 443);
  tf_zeek_packet(&z, 0.1, false, S | A, 900, 101, 0, 0, 1000, 50000, 443);
  for (int i = 0; i < 10; i++)
    tf_zeek_bad_checksum(&z, 0.2, true, F | A, 101, 50000, 443);
  tf_zeek_bad_checksum(&z, 0.2, false, R, 901, 50000, 443);
  assert_int_equal(tf_zeek_nrows(&z), 1);
  assert_string_equal(tf_zeek_history(&z), "ShCCc");
  assert_string_equal(tf_zeek_conn_state(&z), "S1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(states), cmocka_unit_test(letters),
      cmocka_unit_test(flips),  cmocka_unit_test(attempt_split),
      cmocka_unit_test(gaps),   cmocka_unit_test(checksums),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

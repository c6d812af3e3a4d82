/* SPDX-License-Identifier: BSD-2-Clause */
/* The engine's clock: linger, attempt, idle and half-closed timeouts finish
 * connections with the verdict they have, time never runs backwards, and
 * flush writes the rest in order of first packet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "engine.h"

struct seen {
  int n;
  uint64_t ids[16];
  tlsfin_verdict v[16];
  bool expired[16];
};

static void on_conn(void *ctx, const struct tf_conn *c,
                    const struct tf_result *r) {
  struct seen *s = ctx;
  if (s->n < 16) {
    s->ids[s->n] = c->id;
    s->v[s->n] = r->verdict;
    s->expired[s->n] = c->expired;
  }
  s->n++;
}

/* A packet from client port cport to 192.0.2.2:443 (dir 0) or back. */
static void pkt(struct tf_engine *e, double ts, uint16_t cport, int dir,
                uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len) {
  static const uint8_t payload[64];
  struct tf_pkt p;
  memset(&p, 0, sizeof p);
  p.ts = ts;
  p.af = 4;
  uint8_t c[4] = {192, 0, 2, 1}, s[4] = {192, 0, 2, 2};
  memcpy(dir ? p.src : p.dst, s, 4);
  memcpy(dir ? p.dst : p.src, c, 4);
  p.sport = dir ? 443 : cport;
  p.dport = dir ? cport : 443;
  p.flags = flags;
  p.seq = seq;
  p.ack = ack;
  p.win = 512;
  p.ttl = 64;
  p.payload = payload;
  p.len = p.caplen = len;
  tf_engine_packet(e, &p, NULL);
}

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04
#define PSH 0x08

static void handshake(struct tf_engine *e, double t, uint16_t port) {
  pkt(e, t, port, 0, SYN, 100, 0, 0);
  pkt(e, t + 0.001, port, 1, SYN | ACK, 500, 101, 0);
  pkt(e, t + 0.002, port, 0, ACK, 101, 501, 0);
  pkt(e, t + 0.003, port, 0, PSH | ACK, 101, 501, 10);
  pkt(e, t + 0.004, port, 1, PSH | ACK, 501, 111, 20);
}

static struct tf_engine *mk(struct seen *s, struct tf_sink *sink) {
  struct tf_engine_opts o = {.linger = 2,
                             .attempt_timeout = 30,
                             .idle_timeout = 900,
                             .half_closed_timeout = 300};
  struct tf_engine *e = tf_engine_new(&o);
  assert_non_null(e);
  memset(s, 0, sizeof *s);
  *sink = (struct tf_sink){.ctx = s, .conn = on_conn};
  tf_engine_add_sink(e, sink);
  return e;
}

static void attempt_expires_as_no_answer(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  pkt(e, 1000, 40000, 0, SYN, 1, 0, 0);
  pkt(e, 1001, 40000, 0, SYN, 1, 0, 0); /* retransmitted: same attempt */
  tf_engine_advance(e, 1030.5);
  assert_int_equal(s.n, 0); /* 30 s after the last SYN, not the first */
  tf_engine_advance(e, 1031.5);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.v[0], TLSFIN_VERDICT_NO_ANSWER);
  assert_true(s.expired[0]);
  assert_int_equal(tf_engine_stats(e)->open, 0);
  assert_int_equal(tf_engine_stats(e)->expired, 1);
  tf_engine_free(e);
}

static void ended_connection_lingers(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  handshake(e, 1000, 40001);
  pkt(e, 1000.01, 40001, 0, FIN | ACK, 111, 521, 0);
  pkt(e, 1000.02, 40001, 1, FIN | ACK, 521, 112, 0);
  tf_engine_advance(e, 1001.9);
  assert_int_equal(s.n, 0); /* a trailing ACK may still come */
  pkt(e, 1001.95, 40001, 0, ACK, 112, 522, 0);
  tf_engine_advance(e, 1003.0);
  assert_int_equal(s.n, 0); /* lingers from its last packet */
  tf_engine_advance(e, 1004.0);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.v[0], TLSFIN_VERDICT_TCP_CLEAN);
  assert_false(s.expired[0]);
  tf_engine_free(e);
}

static void idle_and_half_closed(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  handshake(e, 1000, 40002); /* idle: open after 900 s */
  handshake(e, 1000, 40003); /* FIN one way: half_closed after 300 s */
  pkt(e, 1000.01, 40003, 0, FIN | ACK, 111, 521, 0);
  tf_engine_advance(e, 1299);
  assert_int_equal(s.n, 0);
  tf_engine_advance(e, 1301);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.v[0], TLSFIN_VERDICT_HALF_CLOSED);
  tf_engine_advance(e, 1901);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.v[1], TLSFIN_VERDICT_OPEN);
  assert_true(s.expired[1]);
  /* a packet after the idle timeout starts a new connection */
  pkt(e, 1902, 40002, 0, PSH | ACK, 111, 521, 5);
  assert_int_equal(tf_engine_stats(e)->open, 1);
  tf_engine_flush(e);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.ids[2], 3);
  tf_engine_free(e);
}

/* Time going backwards (a re-stamped capture) expires nothing and brings
 * nothing back; a jump forward finishes what timed out. */
static void clock_only_moves_forward(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  handshake(e, 1000, 40004);
  pkt(e, 10, 40004, 0, PSH | ACK, 111, 521, 5); /* backwards */
  tf_engine_advance(e, 500);
  assert_int_equal(s.n, 0);
  tf_engine_advance(e, 1000 + 901);
  assert_int_equal(s.n, 1);
  tf_engine_free(e);
}

/* One packet stamped ten years ahead does not expire everything; a clock
 * that really jumped (every later packet agrees) does move. */
static void lone_jump_ignored_real_jump_followed(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  pkt(e, 1000, 40010, 0, SYN, 1, 0, 0); /* an attempt */
  handshake(e, 1000, 40011);
  pkt(e, 1000 + 315e6, 40012, 0, SYN, 1, 0, 0); /* ten years ahead */
  pkt(e, 1001, 40013, 0, SYN, 1, 0, 0);
  assert_int_equal(s.n, 0); /* nothing expired */
  for (int i = 0; i < 8; i++)
    pkt(e, 5000 + i, (uint16_t)(40020 + i), 0, SYN, 1, 0, 0);
  /* 5000 > 1000 + 3600: a real jump, confirmed: the old attempts go */
  assert_true(s.n >= 2);
  assert_int_equal(s.v[0], TLSFIN_VERDICT_NO_ANSWER);
  tf_engine_free(e);
}

static void flush_in_first_packet_order(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  for (uint16_t p = 0; p < 10; p++)
    handshake(e, 1000 + p, (uint16_t)(41000 + (p * 7919) % 1000));
  tf_engine_flush(e);
  assert_int_equal(s.n, 10);
  for (int i = 0; i < 10; i++)
    assert_int_equal(s.ids[i], (uint64_t)i + 1);
  tf_engine_free(e);
}

/* With every timeout off (analyze's default), nothing expires. */
static void no_timeouts_no_expiry(void **state) {
  (void)state;
  struct seen s;
  memset(&s, 0, sizeof s);
  struct tf_engine *e = tf_engine_new(NULL);
  struct tf_sink k = {.ctx = &s, .conn = on_conn};
  tf_engine_add_sink(e, &k);
  pkt(e, 1000, 40005, 0, SYN, 1, 0, 0);
  handshake(e, 1000, 40006);
  tf_engine_advance(e, 1e9);
  assert_int_equal(s.n, 0);
  tf_engine_flush(e);
  assert_int_equal(s.n, 2);
  tf_engine_free(e);
}

/* A scan larger than the ceiling: memory stays under it, the oldest
 * attempts are written early (and counted), nothing is lost. */
/* A FIN the peer never acknowledged is retransmitted with backoff: its
 * connection lingers 5 s (Zeek's tcp_close_delay), an acknowledged one 2 s,
 * so the retransmission 3 s later stays with it in the first case only. */
static void unacked_fin_lingers_longer(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  handshake(e, 1000, 40010); /* client seq 111, server seq 521 */
  pkt(e, 1000.01, 40010, 0, FIN | ACK, 111, 521, 0);
  pkt(e, 1000.02, 40010, 1, FIN | ACK, 521, 112, 0); /* never acknowledged */
  pkt(e, 1003.02, 40010, 1, FIN | ACK, 521, 112, 0); /* its retransmission */
  assert_int_equal(s.n, 0);
  tf_engine_advance(e, 1007.0);
  assert_int_equal(s.n, 0); /* 5 s from the retransmission */
  tf_engine_advance(e, 1008.1);
  assert_int_equal(s.n, 1);
  assert_false(s.expired[0]);

  handshake(e, 2000, 40011);
  pkt(e, 2000.01, 40011, 0, FIN | ACK, 111, 521, 0);
  pkt(e, 2000.02, 40011, 1, FIN | ACK, 521, 112, 0);
  pkt(e, 2000.03, 40011, 0, ACK, 112, 522, 0);       /* acknowledged */
  pkt(e, 2003.03, 40011, 1, FIN | ACK, 521, 112, 0); /* after 2 s: late */
  assert_int_equal(s.n, 2); /* the first is over; the late FIN is a record */
  tf_engine_flush(e);
  assert_int_equal(s.n, 3);
  tf_engine_free(e);
}

/* Time that goes backwards: each connection still ends when its own
 * linger is over, not when one that looks older ahead of it in the list
 * does (analyze -j relies on it: a shard's list holds fewer of them). */
static void own_deadline_when_time_goes_back(void **state) {
  (void)state;
  struct seen s;
  struct tf_sink k;
  struct tf_engine *e = mk(&s, &k);
  pkt(e, 1000, 40020, 0, SYN, 1, 0, 0);
  pkt(e, 1000, 40020, 1, RST | ACK, 0, 2, 0); /* A ends at 1000 */
  pkt(e, 999, 40021, 0, SYN, 1, 0, 0);        /* B is stamped earlier */
  pkt(e, 999, 40021, 1, RST | ACK, 0, 2, 0);  /* and ends at 999 */
  tf_engine_advance(e, 1001.5);
  assert_int_equal(s.n, 1); /* B's linger is over, A's is not */
  assert_int_equal(s.ids[0], 2);
  tf_engine_advance(e, 1002.5);
  assert_int_equal(s.n, 2);
  tf_engine_free(e);
}

static void memory_ceiling(void **state) {
  (void)state;
  struct seen s;
  memset(&s, 0, sizeof s);
  struct tf_engine_opts o;
  tf_engine_opts_default(&o);
  o.max_memory = 1 << 20;
  struct tf_engine *e = tf_engine_new(&o);
  struct tf_sink k = {.ctx = &s, .conn = on_conn};
  tf_engine_add_sink(e, &k);
  for (int i = 0; i < 20000; i++) {
    pkt(e, 1000, (uint16_t)(1024 + i), 0, SYN, (uint32_t)i, 0, 0);
    assert_true(tf_engine_memory(e) <= o.max_memory + 4096);
  }
  assert_true(s.n > 15000);
  assert_int_equal(tf_engine_stats(e)->evicted, (uint64_t)s.n);
  assert_int_equal(s.v[0], TLSFIN_VERDICT_NO_ANSWER);
  assert_int_equal(s.ids[0], 1); /* the oldest first */
  tf_engine_flush(e);
  assert_int_equal(s.n, 20000);
  tf_engine_free(e);
}

/* A packet between 192.0.2.1:40000 and 192.0.2.2:50000 (no well-known
 * port: without a remembered role, a mid-stream packet's sender is taken
 * for the client); dir 1 is from the 50000 side. */
static void pkt_hi(struct tf_engine *e, double ts, int dir, uint8_t flags,
                   uint32_t seq, uint32_t ack) {
  struct tf_pkt p;
  memset(&p, 0, sizeof p);
  p.ts = ts;
  p.af = 4;
  uint8_t a[4] = {192, 0, 2, 1}, b[4] = {192, 0, 2, 2};
  memcpy(p.src, dir ? b : a, 4);
  memcpy(p.dst, dir ? a : b, 4);
  p.sport = dir ? 50000 : 40000;
  p.dport = dir ? 40000 : 50000;
  p.flags = flags;
  p.seq = seq;
  p.ack = ack;
  p.win = 512;
  tf_engine_packet(e, &p, NULL);
}

static uint16_t last_client_port;
static void on_conn_port(void *ctx, const struct tf_conn *c,
                         const struct tf_result *r) {
  (void)ctx;
  (void)r;
  last_client_port = c->s[0].port;
}

/* analyze -j's rebalance moves a slot to another shard with the roles its
 * finished tuples left: a late packet from the server then starts a record
 * with the roles the tuple had, in the engine the slot went to, as in the
 * engine it left.  A slot with an open connection does not move. */
static void slot_moves_with_its_roles(void **state) {
  (void)state;
  struct tf_engine_opts o = {.linger = 2, .idle_timeout = 900};
  struct tf_engine *a = tf_engine_new(&o), *b = tf_engine_new(&o),
                   *c = tf_engine_new(&o);
  struct tf_sink ka = {.conn = on_conn_port}, kb = ka, kc = ka;
  tf_engine_add_sink(a, &ka);
  tf_engine_add_sink(b, &kb);
  tf_engine_add_sink(c, &kc);
  assert_int_equal(tf_engine_track_slots(a), 0);
  assert_int_equal(tf_engine_track_slots(b), 0);
  struct tf_pkt key;
  memset(&key, 0, sizeof key);
  key.af = 4;
  memcpy(key.src, (uint8_t[4]){192, 0, 2, 1}, 4);
  memcpy(key.dst, (uint8_t[4]){192, 0, 2, 2}, 4);
  key.sport = 40000;
  key.dport = 50000;
  unsigned slot = tf_engine_slot(tf_engine_hash(&key));

  pkt_hi(a, 1000, 0, SYN, 100, 0);
  pkt_hi(a, 1000.001, 1, SYN | ACK, 500, 101);
  assert_int_equal(tf_engine_slot_open(a, slot), 1);
  assert_int_equal(tf_engine_move_slot(a, b, slot), -1); /* still open */
  pkt_hi(a, 1000.002, 0, RST | ACK, 101, 501);
  tf_engine_advance(a, 1010); /* past the linger: finished, role kept */
  assert_int_equal(last_client_port, 40000);
  assert_int_equal(tf_engine_slot_open(a, slot), 0);
  assert_int_equal(tf_engine_move_slot(a, b, slot), 0);

  /* the server's late packet: the roles came along */
  last_client_port = 0;
  pkt_hi(b, 1020, 1, ACK, 501, 101);
  tf_engine_flush(b);
  assert_int_equal(last_client_port, 40000);
  /* without the move, an engine takes the sender for the client */
  last_client_port = 0;
  pkt_hi(c, 1020, 1, ACK, 501, 101);
  tf_engine_flush(c);
  assert_int_equal(last_client_port, 50000);
  /* and the engine the slot left has forgotten it */
  last_client_port = 0;
  pkt_hi(a, 1020, 1, ACK, 501, 101);
  tf_engine_flush(a);
  assert_int_equal(last_client_port, 50000);
  tf_engine_free(a);
  tf_engine_free(b);
  tf_engine_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(slot_moves_with_its_roles),
      cmocka_unit_test(attempt_expires_as_no_answer),
      cmocka_unit_test(ended_connection_lingers),
      cmocka_unit_test(idle_and_half_closed),
      cmocka_unit_test(clock_only_moves_forward),
      cmocka_unit_test(lone_jump_ignored_real_jump_followed),
      cmocka_unit_test(flush_in_first_packet_order),
      cmocka_unit_test(no_timeouts_no_expiry),
      cmocka_unit_test(memory_ceiling),
      cmocka_unit_test(unacked_fin_lingers_longer),
      cmocka_unit_test(own_deadline_when_time_goes_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

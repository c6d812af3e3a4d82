/* SPDX-License-Identifier: BSD-2-Clause */
/* analyze -j's shards (par.c) write what one engine writes: the same JSONL
 * and summary, byte for byte, for 2, 3 and 5 shards, on a stream of
 * interleaved connections with every kind of ending, time that steps back
 * and jumps ahead, two inputs in a row, and payloads that the caller
 * overwrites after each call (the shards must have copied them).  A shard
 * whose clock ignored the other shards' packets fails it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "par.h"
#include "sinks.h"

#define SYN 0x02
#define ACK 0x10
#define FIN 0x01
#define RST 0x04
#define PSH 0x08

/* Where the packets go: one engine, or the shards. */
struct to {
  struct tf_engine *e;
  struct tf_par *p;
  bool stable;
};

static uint8_t payload[256];

static void send_pkt(struct to *t, double ts, uint32_t conn, int dir,
                     uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len) {
  struct tf_pkt p;
  memset(&p, 0, sizeof p);
  p.ts = ts;
  p.af = 4;
  uint8_t c[4] = {10, 0, (uint8_t)(conn >> 8), (uint8_t)conn};
  uint8_t s[4] = {192, 0, 2, (uint8_t)(1 + conn % 7)};
  uint16_t cport = (uint16_t)(20000 + conn), sport = conn % 3 ? 443 : 80;
  memcpy(dir ? p.src : p.dst, s, 4);
  memcpy(dir ? p.dst : p.src, c, 4);
  p.sport = dir ? sport : cport;
  p.dport = dir ? cport : sport;
  p.flags = flags;
  p.seq = seq;
  p.ack = ack;
  p.win = 512;
  p.ttl = 64;
  for (uint32_t i = 0; i < len && i < sizeof payload; i++)
    payload[i] = (uint8_t)(conn + i);
  p.payload = payload;
  p.len = p.caplen = len;
  if (t->e)
    tf_engine_packet(t->e, &p, NULL);
  else
    tf_par_packet(t->p, &p, t->stable);
  if (!t->stable)
    memset(payload, 0xee, sizeof payload); /* the caller's buffer is reused */
}

/* A deterministic capture: n connections opened in a row, their packets
 * interleaved, ending with FINs, RSTs, an unanswered SYN or not at all;
 * now and then a packet stamped up to 0.3 s back, and one jump of an hour
 * and a half in the middle. */
static void capture(struct to *t, uint32_t n, double t0) {
  uint32_t rnd = 12345;
  double now = t0;
  for (uint32_t step = 0; step < n * 8; step++) {
    rnd = rnd * 1103515245u + 12345u;
    uint32_t conn = (step / 8 + (rnd >> 16) % 4) % n;
    uint32_t phase = step % 8;
    now += 0.01;
    if (step == n * 4) {
      /* A jump, confirmed by the packets after it: each shard must count
       * every packet, or it confirms later than one engine and lets the
       * packets below join connections the idle timeout has ended. */
      now += 5400;
      for (uint32_t c = 0; c < n; c++, now += 0.001)
        send_pkt(t, now, c, 0, ACK, 2000 + c, 6000 + c, 0);
    }
    double ts = (rnd >> 8) % 13 == 0 ? now - 0.3 : now;
    int kind = (int)(conn % 5);
    uint32_t cs = 1000 + conn, ss = 5000 + conn;
    switch (phase) {
    case 0:
      send_pkt(t, ts, conn, 0, SYN, cs, 0, 0);
      break;
    case 1:
      if (kind != 4) /* kind 4: no answer */
        send_pkt(t, ts, conn, 1, SYN | ACK, ss, cs + 1, 0);
      break;
    case 2:
      if (kind != 4)
        send_pkt(t, ts, conn, 0, PSH | ACK, cs + 1, ss + 1, 100);
      break;
    case 3:
      if (kind != 4)
        send_pkt(t, ts, conn, 1, PSH | ACK, ss + 1, cs + 101, 200);
      break;
    case 4:
      if (kind == 0 || kind == 1)
        send_pkt(t, ts, conn, 0, FIN | ACK, cs + 101, ss + 201, 0);
      else if (kind == 2)
        send_pkt(t, ts, conn, 1, RST | ACK, ss + 201, cs + 101, 0);
      break;
    case 5:
      if (kind == 0 || kind == 1)
        send_pkt(t, ts, conn, 1, FIN | ACK, ss + 201, cs + 102, 0);
      break;
    case 6:
      if (kind == 0) /* kind 1 leaves the server's FIN unacknowledged */
        send_pkt(t, ts, conn, 0, ACK, cs + 102, ss + 202, 0);
      break;
    default:
      break; /* kind 3 stays open */
    }
  }
}

struct out {
  char *jsonl, *summary;
  size_t jlen, slen;
  struct tf_engine_stats st;
};

static void run(unsigned jobs, bool stable, bool ordered, struct out *o) {
  struct tf_engine_opts eo;
  tf_engine_opts_default(&eo);
  eo.attempt_timeout = 3;
  eo.idle_timeout = 60;
  FILE *jf = open_memstream(&o->jsonl, &o->jlen);
  FILE *sf = open_memstream(&o->summary, &o->slen);
  assert_non_null(jf);
  assert_non_null(sf);
  struct tf_records *r = tf_records_new(jf, TF_REC_JSONL, false, ordered);
  struct tf_summary *su = tf_summary_new();
  struct to t = {.stable = stable};
  char err[200];
  if (jobs == 1) {
    t.e = tf_engine_new(&eo);
    tf_engine_add_sink(t.e, tf_records_sink(r));
    tf_engine_add_sink(t.e, tf_summary_sink(su));
  } else {
    t.p = tf_par_new(jobs, &eo, r, TF_REC_JSONL, false, su, NULL, NULL, err,
                     sizeof err);
    assert_non_null(t.p);
  }
  /* two inputs in a row: each finished with its own clock */
  for (int input = 0; input < 2; input++) {
    capture(&t, 300, 1.7e9 + input * 100);
    if (t.e) {
      tf_engine_flush(t.e);
      tf_engine_reset_clock(t.e);
    } else {
      tf_par_flush(t.p);
    }
  }
  o->st = t.e ? *tf_engine_stats(t.e) : *tf_par_stats(t.p);
  tf_summary_write(su, &o->st, sf);
  tf_par_free(t.p);
  tf_engine_free(t.e);
  tf_records_free(r);
  tf_summary_free(su);
  fclose(jf);
  fclose(sf);
}

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of s, sorted, as one string. */
static char *sorted(char *s) {
  size_t n = 0, cap = 64;
  char **v = malloc(cap * sizeof *v);
  for (char *save = NULL, *l = strtok_r(s, "\n", &save); l;
       l = strtok_r(NULL, "\n", &save)) {
    if (n == cap)
      v = realloc(v, (cap *= 2) * sizeof *v);
    v[n++] = l;
  }
  qsort(v, n, sizeof *v, cmp_lines);
  size_t len = 1;
  for (size_t i = 0; i < n; i++)
    len += strlen(v[i]) + 1;
  char *o = calloc(1, len);
  for (size_t i = 0; i < n; i++) {
    strcat(o, v[i]);
    strcat(o, "\n");
  }
  free(v);
  return o;
}

static void free_out(struct out *o) {
  free(o->jsonl);
  free(o->summary);
}

static void shards_write_what_one_engine_writes(void **state) {
  (void)state;
  struct out ref;
  run(1, false, true, &ref);
  assert_true(ref.st.connections > 500);
  assert_true(ref.st.verdicts[TLSFIN_VERDICT_NO_ANSWER] > 0);
  assert_true(ref.st.verdicts[TLSFIN_VERDICT_RESET] > 0);
  assert_true(ref.st.verdicts[TLSFIN_VERDICT_TCP_CLEAN] > 0);
  assert_true(ref.st.verdicts[TLSFIN_VERDICT_OPEN] > 0);
  static const unsigned jobs[] = {2, 3, 5};
  for (size_t j = 0; j < sizeof jobs / sizeof jobs[0]; j++)
    for (int stable = 0; stable < 2; stable++) {
      struct out o;
      run(jobs[j], stable, true, &o);
      assert_int_equal(o.jlen, ref.jlen);
      assert_memory_equal(o.jsonl, ref.jsonl, ref.jlen);
      assert_string_equal(o.summary, ref.summary);
      assert_int_equal(o.st.packets, ref.st.packets);
      assert_int_equal(o.st.connections, ref.st.connections);
      assert_int_equal(o.st.expired, ref.st.expired);
      free_out(&o);
    }
  free_out(&ref);
}

static void unordered_same_records(void **state) {
  (void)state;
  struct out ref, o;
  run(1, false, true, &ref);
  run(3, false, false, &o);
  char *a = sorted(ref.jsonl), *b = sorted(o.jsonl);
  assert_string_equal(a, b);
  free(a);
  free(b);
  free_out(&ref);
  free_out(&o);
}

static void too_many_jobs_are_capped(void **state) {
  (void)state;
  struct tf_engine_opts eo;
  tf_engine_opts_default(&eo);
  char err[200];
  struct tf_par *p = tf_par_new(1000, &eo, NULL, TF_REC_JSONL, false, NULL,
                                NULL, NULL, err, sizeof err);
  assert_non_null(p);
  tf_par_flush(p);
  assert_int_equal(tf_par_stats(p)->connections, 0);
  tf_par_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(shards_write_what_one_engine_writes),
      cmocka_unit_test(unordered_same_records),
      cmocka_unit_test(too_many_jobs_are_capped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

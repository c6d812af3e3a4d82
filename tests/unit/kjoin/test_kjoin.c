/* SPDX-License-Identifier: BSD-2-Clause */
/* Kernel events joined to connections: the RST reason goes to the side
 * whose kernel sent it, only within the connection's time, the owner of a
 * socket wins over its closer, and entries expire. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kjoin.h"

static const uint8_t A[16] = {127, 0, 0, 1}, B[16] = {127, 0, 0, 2};

static struct tf_kevent ev(enum tf_kev_type t, double ts, const uint8_t *la,
                           uint16_t lp, const uint8_t *ra, uint16_t rp) {
  struct tf_kevent e;
  memset(&e, 0, sizeof e);
  e.type = t;
  e.ts = ts;
  e.af = 4;
  memcpy(e.laddr, la, 16);
  memcpy(e.raddr, ra, 16);
  e.lport = lp;
  e.rport = rp;
  e.state = -1;
  return e;
}

/* client A:1111 -> server B:443, [first, last] */
static void conn(struct tf_conn *c, double first, double last) {
  memset(c, 0, sizeof *c);
  c->af = 4;
  memcpy(c->s[0].addr, A, 16);
  c->s[0].port = 1111;
  memcpy(c->s[1].addr, B, 16);
  c->s[1].port = 443;
  c->first_ts = first;
  c->last_ts = last;
}

static void rst_goes_to_its_sender(void **state) {
  (void)state;
  struct tf_kjoin *j = tf_kjoin_new();
  struct tf_kevent e = ev(TF_KEV_RST_SENT, 105.0, B, 443, A, 1111);
  e.reason_name = "TCP_ABORT_ON_CLOSE";
  tf_kjoin_event(j, &e);
  struct tf_kevent p = ev(TF_KEV_PROC, 100.0, A, 1111, B, 443);
  p.pid = 42;
  memcpy(p.comm, "curl", 5);
  p.proc_event = "connect";
  tf_kjoin_event(j, &p);
  struct tf_kevent q = ev(TF_KEV_PROC, 100.1, B, 443, A, 1111);
  q.pid = 7;
  memcpy(q.comm, "nginx", 6);
  q.proc_event = "accept";
  tf_kjoin_event(j, &q);
  struct tf_kevent cl = ev(TF_KEV_PROC, 105.0, B, 443, A, 1111);
  cl.pid = 8; /* a worker closed it: the acceptor stays the owner */
  memcpy(cl.comm, "other", 6);
  cl.proc_event = "close";
  tf_kjoin_event(j, &cl);
  assert_int_equal(tf_kjoin_size(j), 2);

  struct tf_conn c;
  conn(&c, 100.0, 105.1);
  c.s[1].rst = true;
  c.s[1].rst_ts = 105.0;
  tf_kjoin_apply(j, &c);
  assert_null(c.kern[0].rst_reason);
  assert_string_equal(c.kern[1].rst_reason, "TCP_ABORT_ON_CLOSE");
  assert_true(c.kern[0].has_proc);
  assert_int_equal(c.kern[0].pid, 42);
  assert_string_equal(c.kern[0].comm, "curl");
  assert_int_equal(c.kern[1].pid, 7);
  assert_string_equal(c.kern[1].comm, "nginx");
  tf_kjoin_free(j);
}

static void outside_the_connection_is_not_its(void **state) {
  (void)state;
  struct tf_kjoin *j = tf_kjoin_new();
  struct tf_kevent e = ev(TF_KEV_RST_SENT, 50.0, B, 443, A, 1111);
  e.reason_name = "NO_SOCKET"; /* an earlier use of the same 4-tuple */
  tf_kjoin_event(j, &e);
  struct tf_kevent p = ev(TF_KEV_PROC, 50.0, A, 1111, B, 443);
  p.proc_event = "connect";
  tf_kjoin_event(j, &p);
  struct tf_conn c;
  conn(&c, 100.0, 105.0);
  c.s[1].rst = true;
  c.s[1].rst_ts = 105.0;
  tf_kjoin_apply(j, &c);
  assert_null(c.kern[1].rst_reason);
  assert_false(c.kern[0].has_proc);
  /* a side that sent no RST on the wire gets no reason */
  struct tf_kevent e2 = ev(TF_KEV_RST_SENT, 104.9, A, 1111, B, 443);
  e2.reason_name = "TCP_STATE";
  tf_kjoin_event(j, &e2);
  conn(&c, 100.0, 105.0);
  tf_kjoin_apply(j, &c);
  assert_null(c.kern[0].rst_reason);
  tf_kjoin_free(j);
}

static void the_closest_rst_wins(void **state) {
  (void)state;
  struct tf_kjoin *j = tf_kjoin_new();
  const char *names[] = {"TCP_ABORT_ON_CLOSE", "TCP_ABORT_ON_DATA", "NO_SOCKET",
                         "TCP_FLAGS", "TCP_STATE"};
  for (int i = 0; i < 5; i++) { /* one more than the slots */
    struct tf_kevent e = ev(TF_KEV_RST_SENT, 100.0 + i * 0.5, B, 443, A, 1111);
    e.reason_name = names[i];
    tf_kjoin_event(j, &e);
  }
  struct tf_conn c;
  conn(&c, 99.0, 102.0);
  c.s[1].rst = true;
  c.s[1].rst_ts = 100.6; /* 0.1 s from the second, 0.4 from the third */
  tf_kjoin_apply(j, &c);
  assert_string_equal(c.kern[1].rst_reason, "TCP_ABORT_ON_DATA");
  tf_kjoin_free(j);
}

static void entries_expire(void **state) {
  (void)state;
  struct tf_kjoin *j = tf_kjoin_new();
  for (uint16_t p = 0; p < 1000; p++) {
    struct tf_kevent e = ev(TF_KEV_RST_SENT, 100.0 + p, B, 443, A, p);
    e.reason_name = "NO_SOCKET";
    tf_kjoin_event(j, &e);
  }
  assert_int_equal(tf_kjoin_size(j), 1000);
  tf_kjoin_expire(j, 100.0 + 499 + TF_KJOIN_MAX_AGE + 0.5);
  assert_int_equal(tf_kjoin_size(j), 500);
  tf_kjoin_expire(j, 1e12);
  assert_int_equal(tf_kjoin_size(j), 0);
  tf_kjoin_free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rst_goes_to_its_sender),
      cmocka_unit_test(outside_the_connection_is_not_its),
      cmocka_unit_test(the_closest_rst_wins),
      cmocka_unit_test(entries_expire),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

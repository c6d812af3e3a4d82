/* SPDX-License-Identifier: BSD-2-Clause */
/* The public vocabulary must round-trip: every name parses back to its value,
 * and the names are exactly those of shared/design/TAXONOMY.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "tlsfin/taxonomy.h"

static void verdicts_round_trip(void **state) {
  (void)state;
  static const char *expected[] = {"no_answer",
                                   "refused",
                                   "stalled",
                                   "open",
                                   "tls_handshake_alert",
                                   "tls_handshake_reset",
                                   "tls_handshake_closed",
                                   "tls_truncated",
                                   "tls_close_then_reset",
                                   "reset",
                                   "half_closed",
                                   "tls_clean",
                                   "tls_one_sided",
                                   "tcp_clean"};
  assert_int_equal(TLSFIN_VERDICT_COUNT,
                   sizeof(expected) / sizeof(expected[0]));
  for (int i = 0; i < TLSFIN_VERDICT_COUNT; i++) {
    assert_string_equal(tlsfin_verdict_name((tlsfin_verdict)i), expected[i]);
    assert_int_equal(tlsfin_verdict_parse(expected[i]), i);
    assert_non_null(tlsfin_verdict_help((tlsfin_verdict)i));
  }
  assert_null(tlsfin_verdict_name(TLSFIN_VERDICT_COUNT));
  assert_int_equal(tlsfin_verdict_parse("nope"), -1);
}

static void causes_round_trip(void **state) {
  (void)state;
  static const char *expected[] = {"port_closed",
                                   "handshake_rejected",
                                   "data_after_close",
                                   "unread_data",
                                   "abort",
                                   "unknown_connection",
                                   "retransmission_timeout",
                                   "injected",
                                   "unknown"};
  assert_int_equal(TLSFIN_CAUSE_COUNT, sizeof(expected) / sizeof(expected[0]));
  for (int i = 0; i < TLSFIN_CAUSE_COUNT; i++) {
    assert_string_equal(tlsfin_cause_name((tlsfin_cause)i), expected[i]);
    assert_int_equal(tlsfin_cause_parse(expected[i]), i);
  }
  assert_string_equal(tlsfin_confidence_name(TLSFIN_CONFIDENCE_POSSIBLE),
                      "possible");
}

static void alerts_and_versions(void **state) {
  (void)state;
  assert_string_equal(tlsfin_alert_name(0), "close_notify");
  assert_string_equal(tlsfin_alert_name(70), "protocol_version");
  assert_string_equal(tlsfin_alert_name(90), "user_canceled");
  assert_null(tlsfin_alert_name(255));
  assert_int_equal(tlsfin_alert_parse("handshake_failure"), 40);
  assert_int_equal(tlsfin_alert_parse("x"), -1);
  assert_string_equal(tlsfin_version_name(0x0304), "TLS1.3");
  assert_string_equal(tlsfin_version_name(0x0300), "SSL3");
  assert_null(tlsfin_version_name(0x7f1c));
  assert_int_equal(tlsfin_version_parse("TLS1.1"), 0x0302);
  assert_int_equal(tlsfin_version_parse("TLS9"), 0);
}

/* TAXONOMY.md "The kernel's own reasons", as TLSFIN_KERNEL_REASON_MAP
 * implements it (docs/watch.md). */
static void kernel_reasons(void **state) {
  (void)state;
  const enum tlsfin_rst_answers O = TLSFIN_RST_ANSWERS_OTHER,
                                S = TLSFIN_RST_ANSWERS_SYN,
                                H = TLSFIN_RST_ANSWERS_HELLO;
  assert_int_equal(tlsfin_cause_from_kernel("NO_SOCKET", S),
                   TLSFIN_CAUSE_PORT_CLOSED);
  assert_int_equal(tlsfin_cause_from_kernel("NO_SOCKET", O),
                   TLSFIN_CAUSE_UNKNOWN_CONNECTION);
  assert_int_equal(tlsfin_cause_from_kernel("NO_SOCKET", H),
                   TLSFIN_CAUSE_UNKNOWN_CONNECTION);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_FLAGS", O),
                   TLSFIN_CAUSE_UNKNOWN_CONNECTION);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_ABORT_ON_CLOSE", O),
                   TLSFIN_CAUSE_UNREAD_DATA);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_ABORT_ON_CLOSE", H),
                   TLSFIN_CAUSE_HANDSHAKE_REJECTED);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_ABORT_ON_DATA", O),
                   TLSFIN_CAUSE_DATA_AFTER_CLOSE);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_TIMEWAIT_SOCKET", O),
                   TLSFIN_CAUSE_DATA_AFTER_CLOSE);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_STATE", O),
                   TLSFIN_CAUSE_ABORT);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_STATE", S),
                   TLSFIN_CAUSE_ABORT);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_STATE", H),
                   TLSFIN_CAUSE_HANDSHAKE_REJECTED);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_ABORT_ON_LINGER", O),
                   TLSFIN_CAUSE_ABORT);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_DISCONNECT_WITH_DATA", O),
                   TLSFIN_CAUSE_ABORT);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_ABORT_ON_MEMORY", O),
                   TLSFIN_CAUSE_ABORT);
  assert_int_equal(tlsfin_cause_from_kernel("TCP_KEEPALIVE_TIMEOUT", O),
                   TLSFIN_CAUSE_RETRANSMISSION_TIMEOUT);
  assert_int_equal(tlsfin_cause_from_kernel("NOT_SPECIFIED", O),
                   TLSFIN_CAUSE_UNKNOWN);
  assert_int_equal(tlsfin_cause_from_kernel("MPTCP_RST_EUNSPEC", O),
                   TLSFIN_CAUSE_UNKNOWN);
  assert_int_equal(tlsfin_cause_from_kernel(NULL, O), TLSFIN_CAUSE_UNKNOWN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(kernel_reasons),
      cmocka_unit_test(verdicts_round_trip),
      cmocka_unit_test(causes_round_trip),
      cmocka_unit_test(alerts_and_versions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

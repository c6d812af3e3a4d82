/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin taxonomy: the one vocabulary of the analyzer, the probe and libtlsfin.
 *
 * Each list is an X-macro (as libuv's UV_ERRNO_MAP): enum value, the public
 * name printed in JSON, and the help text come from the same line, so they
 * cannot drift apart.  The names are a public interface fixed by
 * shared/design/TAXONOMY.md: extend, never rename.
 */
#ifndef TLSFIN_TAXONOMY_H
#define TLSFIN_TAXONOMY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* VERDICT: exactly one per connection; the first rule that matches wins, in
 * this order. */
#define TLSFIN_VERDICT_MAP(X)                                                  \
  X(NO_ANSWER, "no_answer", "SYN(s) sent, nothing came back")                  \
  X(REFUSED, "refused", "SYN answered by RST")                                 \
  X(STALLED, "stalled",                                                        \
    "no FIN or RST; the last data was retransmitted without ever being "       \
    "acknowledged")                                                            \
  X(OPEN, "open", "neither side sent FIN or RST by the end of the capture")    \
  X(TLS_HANDSHAKE_ALERT, "tls_handshake_alert",                                \
    "TLS handshake ended by a fatal alert")                                    \
  X(TLS_HANDSHAKE_RESET, "tls_handshake_reset",                                \
    "RST before the TLS handshake completed")                                  \
  X(TLS_HANDSHAKE_CLOSED, "tls_handshake_closed",                              \
    "FIN before the TLS handshake completed, with no alert")                   \
  X(TLS_TRUNCATED, "tls_truncated",                                            \
    "the closing side sent FIN without close_notify after the handshake")      \
  X(TLS_CLOSE_THEN_RESET, "tls_close_then_reset",                              \
    "the closing side sent close_notify, then an RST ended the connection")    \
  X(RESET, "reset", "the connection ended with an RST")                        \
  X(HALF_CLOSED, "half_closed",                                                \
    "one side sent FIN, the other neither FIN nor RST")                        \
  X(TLS_CLEAN, "tls_clean", "both sides sent close_notify and FIN")            \
  X(TLS_ONE_SIDED, "tls_one_sided",                                            \
    "the closing side sent close_notify, the other closed with a bare FIN")    \
  X(TCP_CLEAN, "tcp_clean", "no TLS; both sides sent FIN")

/* CAUSE: why an RST was sent (rst.cause). */
#define TLSFIN_CAUSE_MAP(X)                                                    \
  X(PORT_CLOSED, "port_closed", "RST answers a SYN: nothing listens there")    \
  X(HANDSHAKE_REJECTED, "handshake_rejected",                                  \
    "RST from the server right after the client's first payload")              \
  X(DATA_AFTER_CLOSE, "data_after_close",                                      \
    "RST answers payload that arrived after the sender's own FIN")             \
  X(UNREAD_DATA, "unread_data",                                                \
    "the sender closed with received data it never read")                      \
  X(ABORT, "abort", "an unprovoked RST: SO_LINGER {1,0} or an abort")          \
  X(UNKNOWN_CONNECTION, "unknown_connection",                                  \
    "RST answers a segment for a connection the sender no longer knows")       \
  X(RETRANSMISSION_TIMEOUT, "retransmission_timeout",                          \
    "the sender retransmitted unacknowledged data, then gave up with RST")     \
  X(INJECTED, "injected", "the RST does not come from the endpoint")           \
  X(UNKNOWN, "unknown", "none of the known causes fits")

#define TLSFIN_CONFIDENCE_MAP(X)                                               \
  X(CERTAIN, "certain", "the rule is a protocol fact")                         \
  X(PROBABLE, "probable", "one heuristic matched")                             \
  X(POSSIBLE, "possible", "the evidence is weak or conflicting")

/* TLS alert descriptions: RFC 8446 §6 and RFC 5246 §7.2 names (plus the
 * RFC 7507 / 8446 / 5246-era ones still seen on the wire). */
#define TLSFIN_ALERT_MAP(X)                                                    \
  X(0, "close_notify")                                                         \
  X(10, "unexpected_message")                                                  \
  X(20, "bad_record_mac")                                                      \
  X(21, "decryption_failed")                                                   \
  X(22, "record_overflow")                                                     \
  X(30, "decompression_failure")                                               \
  X(40, "handshake_failure")                                                   \
  X(41, "no_certificate")                                                      \
  X(42, "bad_certificate")                                                     \
  X(43, "unsupported_certificate")                                             \
  X(44, "certificate_revoked")                                                 \
  X(45, "certificate_expired")                                                 \
  X(46, "certificate_unknown")                                                 \
  X(47, "illegal_parameter")                                                   \
  X(48, "unknown_ca")                                                          \
  X(49, "access_denied")                                                       \
  X(50, "decode_error")                                                        \
  X(51, "decrypt_error")                                                       \
  X(60, "export_restriction")                                                  \
  X(70, "protocol_version")                                                    \
  X(71, "insufficient_security")                                               \
  X(80, "internal_error")                                                      \
  X(86, "inappropriate_fallback")                                              \
  X(90, "user_canceled")                                                       \
  X(100, "no_renegotiation")                                                   \
  X(109, "missing_extension")                                                  \
  X(110, "unsupported_extension")                                              \
  X(111, "certificate_unobtainable")                                           \
  X(112, "unrecognized_name")                                                  \
  X(113, "bad_certificate_status_response")                                    \
  X(114, "bad_certificate_hash_value")                                         \
  X(115, "unknown_psk_identity")                                               \
  X(116, "certificate_required")                                               \
  X(120, "no_application_protocol")

typedef enum {
#define TLSFIN_X_(e, n, h) TLSFIN_VERDICT_##e,
  TLSFIN_VERDICT_MAP(TLSFIN_X_)
#undef TLSFIN_X_
      TLSFIN_VERDICT_COUNT
} tlsfin_verdict;

typedef enum {
#define TLSFIN_X_(e, n, h) TLSFIN_CAUSE_##e,
  TLSFIN_CAUSE_MAP(TLSFIN_X_)
#undef TLSFIN_X_
      TLSFIN_CAUSE_COUNT
} tlsfin_cause;

typedef enum {
#define TLSFIN_X_(e, n, h) TLSFIN_CONFIDENCE_##e,
  TLSFIN_CONFIDENCE_MAP(TLSFIN_X_)
#undef TLSFIN_X_
      TLSFIN_CONFIDENCE_COUNT
} tlsfin_confidence;

/* Names and help texts; NULL for a value out of range. */
const char *tlsfin_verdict_name(tlsfin_verdict v);
const char *tlsfin_verdict_help(tlsfin_verdict v);
const char *tlsfin_cause_name(tlsfin_cause c);
const char *tlsfin_cause_help(tlsfin_cause c);
const char *tlsfin_confidence_name(tlsfin_confidence c);

/* Parse a public name back to its value; -1 when unknown. */
int tlsfin_verdict_parse(const char *name);
int tlsfin_cause_parse(const char *name);

/* RFC name of an alert description, or NULL when unassigned. */
const char *tlsfin_alert_name(int description);
/* Alert description from its RFC name; -1 when unknown. */
int tlsfin_alert_parse(const char *name);

/* "TLS1.3", "TLS1.2", "TLS1.1", "TLS1.0", "SSL3", or NULL for anything else
 * (GREASE, drafts, SSL2). */
const char *tlsfin_version_name(uint16_t wire_version);

/* The Linux kernel's own RST reasons (enum sk_rst_reason, tracepoint
 * tcp:tcp_send_reset, Linux >= 6.10) and the CAUSE each maps to
 * (TAXONOMY.md "The kernel's own reasons"; docs/watch.md).  A reason whose
 * cause depends on what the RST answered names it in the third column:
 * SYN (an RST answering a SYN is port_closed) or HELLO (an RST answering a
 * TLS ClientHello is handshake_rejected: for the client, the server refused
 * the handshake, whether it disconnected or closed without reading). */
#define TLSFIN_KERNEL_REASON_MAP(X)                                            \
  X("NO_SOCKET", UNKNOWN_CONNECTION, SYN)                                      \
  X("TCP_FLAGS", UNKNOWN_CONNECTION, NONE)                                     \
  X("TCP_INVALID_ACK_SEQUENCE", UNKNOWN_CONNECTION, NONE)                      \
  X("TCP_RFC7323_PAWS", UNKNOWN_CONNECTION, NONE)                              \
  X("TCP_TOO_OLD_ACK", UNKNOWN_CONNECTION, NONE)                               \
  X("TCP_ACK_UNSENT_DATA", UNKNOWN_CONNECTION, NONE)                           \
  X("TCP_OLD_ACK", UNKNOWN_CONNECTION, NONE)                                   \
  X("INVALID_SYN", UNKNOWN_CONNECTION, NONE)                                   \
  X("TCP_ABORT_ON_CLOSE", UNREAD_DATA, HELLO)                                  \
  X("TCP_ABORT_ON_DATA", DATA_AFTER_CLOSE, NONE)                               \
  X("TCP_TIMEWAIT_SOCKET", DATA_AFTER_CLOSE, NONE)                             \
  X("TCP_STATE", ABORT, HELLO)                                                 \
  X("TCP_ABORT_ON_LINGER", ABORT, NONE)                                        \
  X("TCP_DISCONNECT_WITH_DATA", ABORT, NONE)                                   \
  X("TCP_ABORT_ON_MEMORY", ABORT, NONE)                                        \
  X("TCP_KEEPALIVE_TIMEOUT", RETRANSMISSION_TIMEOUT, NONE)

enum tlsfin_rst_answers {
  TLSFIN_RST_ANSWERS_OTHER = 0,
  TLSFIN_RST_ANSWERS_SYN,  /* the RST answers a SYN (no SYN-ACK sent) */
  TLSFIN_RST_ANSWERS_HELLO /* the RST answers a TLS ClientHello */
};
/* The cause for a kernel reason name; TLSFIN_CAUSE_UNKNOWN for a reason
 * not in the table (NOT_SPECIFIED, MPTCP_*, a newer kernel's). */
tlsfin_cause tlsfin_cause_from_kernel(const char *reason,
                                      enum tlsfin_rst_answers answers);
/* Wire version from its name; 0 when unknown. */
uint16_t tlsfin_version_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif

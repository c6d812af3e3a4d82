/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The plaintext upgrade before TLS (tlsfin probe --starttls=PROTO): on a
 * connected socket, the protocol's own dialogue up to the server's
 * go-ahead, so that the next byte on the socket is our ClientHello.
 */
#ifndef TLSFIN_PROBE_STARTTLS_H
#define TLSFIN_PROBE_STARTTLS_H
#include <stddef.h>

/* The set `openssl s_client -starttls` and testssl.sh cover. */
enum tf_starttls_proto {
  TF_STARTTLS_NONE = 0,
  TF_STARTTLS_SMTP,     /* RFC 3207 */
  TF_STARTTLS_IMAP,     /* RFC 2595 §3.1, RFC 3501 §6.2.1 */
  TF_STARTTLS_POP3,     /* RFC 2595 §4 */
  TF_STARTTLS_FTP,      /* RFC 4217 §4 */
  TF_STARTTLS_LDAP,     /* RFC 4511 §4.14 */
  TF_STARTTLS_POSTGRES, /* PostgreSQL protocol, SSLRequest */
  TF_STARTTLS_MYSQL,    /* MySQL protocol, SSLRequest */
  TF_STARTTLS_XMPP,     /* RFC 6120 §5 */
  TF_STARTTLS_COUNT
};

/* "smtp" ... "xmpp" to the enum; -1 when unknown. */
int tf_starttls_parse(const char *name);
/* The name, "" for TF_STARTTLS_NONE or a value out of range. */
const char *tf_starttls_name(int proto);
/* "smtp|imap|...|xmpp", for messages. */
const char *tf_starttls_names(void);

/*
 * Runs the upgrade dialogue on fd (connected; blocking or not: every read
 * and write waits with poll() until `deadline`, in ms on CLOCK_MONOTONIC).
 * `domain` is the server's name where the protocol carries one (XMPP's
 * stream to=); NULL or "" for none.  Returns 0 when the server said to go
 * ahead and sent nothing more (the next bytes are TLS), -1 with a reason
 * in why ("smtp: server does not offer STARTTLS (EHLO reply has no
 * STARTTLS)").  Everything the server sends is bounded: lines, packets,
 * the number of lines in a reply and the bytes of a reply.
 */
int tf_starttls(int proto, int fd, double deadline, const char *domain,
                char *why, size_t wl);
#endif

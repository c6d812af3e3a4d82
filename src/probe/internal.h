/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared between the probe (client) and --listen (server) sides. */
#ifndef TLSFIN_PROBE_INTERNAL_H
#define TLSFIN_PROBE_INTERNAL_H
#include <stddef.h>

#include "tlsfin/probe.h"

/* After SSL_read failed with SSL_ERROR_SSL: FIN for an EOF without
 * close_notify (or an alert), GARBAGE for bytes that are not TLS records.
 * Writes the reason into note (nl bytes) and clears the error queue. */
tlsfin_close_outcome tf_ssl_failure(char *note, size_t nl);

/* The monotonic clock in milliseconds: every deadline of the probe. */
double tf_probe_now_ms(void);
/* Waits for fd to become readable (POLLIN) or writable (POLLOUT) until
 * deadline (tf_probe_now_ms): 1 ready (or an error the next read or write
 * reports), 0 timed out. */
int tf_probe_wait_fd(int fd, short ev, double deadline);

/* closetests.c: the close tests beyond OpenSSL's API (data after our
 * close_notify, TLS 1.3 half-close, HTTP/2 GOAWAY, KeyUpdate).  handshake
 * opens a connection (with --starttls) and completes a handshake on ctx,
 * like the other close tests; on failure NULL with the reason in note. */
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
struct tf_close_env {
  SSL *(*handshake)(void *arg, SSL_CTX *ctx, int *fd, double deadline,
                    char *note, size_t nl);
  void *arg;
  uint16_t version; /* the best accepted: 0x0303 or 0x0304 for these */
  bool http;
  int timeout_ms;
  const char *host; /* for the Host header */
};
/* Fills c[TLSFIN_PROBE_DATA_AFTER_CN .. TLSFIN_PROBE_KEY_UPDATE]; each
 * left SKIPPED gets the reason in its note. */
void tf_close_extra(const struct tf_close_env *e, struct tlsfin_probe_close *c);
#endif

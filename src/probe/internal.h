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
#endif

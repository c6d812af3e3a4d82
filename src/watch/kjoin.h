/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Joins the eBPF collector's events (src/kernel) to the engine's
 * connections by 4-tuple and time: the kernel reason of each RST a local
 * endpoint sent, and the process that owned each local socket.
 *
 * Events arrive on their own path (a ring buffer), a little before or after
 * the packets they explain; the engine asks at a connection's end, after
 * its linger, when both have arrived.  Entries are keyed by (local,
 * remote) endpoint and expire by age, so memory is bounded by the number
 * of recent sockets, not by uptime.
 */
#ifndef TLSFIN_WATCH_KJOIN_H
#define TLSFIN_WATCH_KJOIN_H

#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "kernel.h"

/* An entry is kept this long after its last event (seconds). */
#define TF_KJOIN_MAX_AGE 600.0
/* At most this many entries; the oldest go first. */
#define TF_KJOIN_MAX_ENTRIES 262144

struct tf_kjoin;
struct tf_kjoin *tf_kjoin_new(void);
void tf_kjoin_free(struct tf_kjoin *j);
void tf_kjoin_event(struct tf_kjoin *j, const struct tf_kevent *e);
/* Fills c->kern[] from what the kernel said within the connection's
 * lifetime. */
void tf_kjoin_apply(struct tf_kjoin *j, struct tf_conn *c);
/* Drops entries older than TF_KJOIN_MAX_AGE at `now`. */
void tf_kjoin_expire(struct tf_kjoin *j, double now);
size_t tf_kjoin_size(const struct tf_kjoin *j);

#endif

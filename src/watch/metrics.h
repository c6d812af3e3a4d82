/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Prometheus metrics of tlsfin watch: a sink that counts finished
 * connections, and a small non-blocking HTTP server for the text exposition
 * format (version 0.0.4) driven by the watch loop's poll().
 */
#ifndef TLSFIN_WATCH_METRICS_H
#define TLSFIN_WATCH_METRICS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "report.h"

/* Servers that get their own label in tlsfin_truncations_total; later ones
 * are counted as server="other" (labels of a counter cannot be re-ranked,
 * so "top" means the first ones seen). */
#define TF_METRICS_TOP_SERVERS 20
#define TF_METRICS_MAX_CLIENTS 16

/* Live gauges and counters the watch loop owns. */
struct tf_metrics_live {
  uint64_t packets, bytes;  /* captured */
  uint64_t drops, if_drops; /* pcap_stats: kernel buffer, interface */
  uint64_t open;            /* connections in the table */
  uint64_t kernel_events, kernel_lost;
  uint64_t record_written, record_dropped;
  double start_time;
};

struct tf_metrics;
/* Listens on [ADDR:]PORT.  NULL with a one-line message on failure. */
struct tf_metrics *tf_metrics_new(const char *addr, char *err, size_t errlen);
struct tf_sink *tf_metrics_sink(struct tf_metrics *m);
/* The exposition text of everything counted so far. */
void tf_metrics_render(struct tf_metrics *m, const struct tf_metrics_live *l,
                       struct tf_buf *b);
/* Fills up to max pollfds (listening socket, clients); returns how many. */
int tf_metrics_pollfds(struct tf_metrics *m, struct pollfd *fds, int max);
/* Serves what poll() reported on those fds; now is the wall clock. */
void tf_metrics_serve(struct tf_metrics *m, const struct pollfd *fds, int n,
                      const struct tf_metrics_live *l, double now);
/* The port actually bound (for ":0"). */
int tf_metrics_port(const struct tf_metrics *m);
void tf_metrics_free(struct tf_metrics *m);

#endif

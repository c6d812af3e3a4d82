/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin watch: the analyze engine on live interfaces, for days.  A row per
 * connection as it ends, a flight recorder of the bad endings, Prometheus
 * metrics and, on Linux with eBPF, the kernel's own RST reasons and the
 * processes behind the sockets.
 *
 * libtls style: one opaque object, 0 / -1 returns, tlsfin_watch_error().
 * Configure, tlsfin_watch_start() (opens everything or nothing), then
 * tlsfin_watch_run() until tlsfin_watch_stop() (async-signal-safe) or the
 * duration, then tlsfin_watch_finish() (open connections written as open).
 */
#ifndef TLSFIN_WATCH_H
#define TLSFIN_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tlsfin/analyze.h"
#include "tlsfin/taxonomy.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tlsfin_watch;

struct tlsfin_watch *tlsfin_watch_new(void);
void tlsfin_watch_free(struct tlsfin_watch *w);
const char *tlsfin_watch_error(const struct tlsfin_watch *w);

/* An interface to capture on ("any" for all); may be called more than
 * once.  Default: "any". */
int tlsfin_watch_add_interface(struct tlsfin_watch *w, const char *name);
int tlsfin_watch_set_filter(struct tlsfin_watch *w, const char *bpf);
/* TLSFIN_FORMAT_TABLE or TLSFIN_FORMAT_JSONL. */
int tlsfin_watch_set_format(struct tlsfin_watch *w, enum tlsfin_format f);
int tlsfin_watch_set_output(struct tlsfin_watch *w, FILE *out);
int tlsfin_watch_set_color(struct tlsfin_watch *w, bool on);
int tlsfin_watch_set_keylog(struct tlsfin_watch *w, const char *path);
int tlsfin_watch_fail_on(struct tlsfin_watch *w, tlsfin_verdict v);
/* Kernel buffer per interface, MiB (default 64). */
int tlsfin_watch_set_buffer_mb(struct tlsfin_watch *w, unsigned mb);
int tlsfin_watch_set_snaplen(struct tlsfin_watch *w, unsigned snaplen);

/* Timeouts in seconds (see docs/watch.md); a negative value keeps the
 * default, 0 disables (not allowed for linger). */
int tlsfin_watch_set_timeouts(struct tlsfin_watch *w, double linger,
                              double attempt, double idle, double half_closed);

/* Memory ceiling of the connection table, bytes (default 192 MiB, 0 =
 * none): past it the oldest connections are written early. */
int tlsfin_watch_set_max_memory(struct tlsfin_watch *w, uint64_t bytes);

/* UDP ports that carry tunnels, as tlsfin_analyze_set_tunnel_port():
 * "TYPE:PORT[,PORT...]" or "TYPE:off"; repeatable. */
int tlsfin_watch_set_tunnel_port(struct tlsfin_watch *w, const char *spec);

/* Flight recorder: keep the last packets of each connection, write those
 * that end with a recorded verdict to pcapng files in dir. */
int tlsfin_watch_set_record(struct tlsfin_watch *w, const char *dir);
/* Replace the default set (every verdict except tls_clean, tcp_clean and
 * tls_one_sided); call once per verdict. */
int tlsfin_watch_record_verdict(struct tlsfin_watch *w, tlsfin_verdict v);
int tlsfin_watch_set_record_max_mb(struct tlsfin_watch *w, uint64_t mb);
int tlsfin_watch_set_record_packets(struct tlsfin_watch *w, unsigned n);

/* Prometheus metrics on [ADDR:]PORT ("9464", ":9464", "127.0.0.1:9464",
 * "[::1]:9464"). */
int tlsfin_watch_set_metrics(struct tlsfin_watch *w, const char *addr);

/* Summary counts on `err` every `seconds` (0: only at the end). */
int tlsfin_watch_set_summary(struct tlsfin_watch *w, FILE *err,
                             unsigned seconds);
/* Stop by itself after this many seconds (0: never). */
int tlsfin_watch_set_duration(struct tlsfin_watch *w, double seconds);

/* Capture threads (-j): 1 (the default) is one loop; N > 1 opens each
 * interface N times in one Linux PACKET_FANOUT group (hash mode: both
 * directions of a connection reach the same thread), each thread with its
 * own connection table; 0 means one per online CPU.  At most
 * TLSFIN_WATCH_MAX_THREADS.  Where the kernel refuses fanout, start()
 * says so on stderr and captures with one thread (docs/watch.md). */
#define TLSFIN_WATCH_MAX_THREADS 64
int tlsfin_watch_set_threads(struct tlsfin_watch *w, int n);
/* The threads in use after tlsfin_watch_start() (before it: as set). */
int tlsfin_watch_threads(const struct tlsfin_watch *w);

enum tlsfin_kernel_mode {
  TLSFIN_KERNEL_AUTO = 0, /* use eBPF when available, say why not */
  TLSFIN_KERNEL_OFF,
  TLSFIN_KERNEL_ON, /* fail to start without it */
};
int tlsfin_watch_set_kernel(struct tlsfin_watch *w, enum tlsfin_kernel_mode m);
/* With kernel evidence, also uprobes on the system's libssl: what OpenSSL
 * told each application (SSL_shutdown's returns, SSL_get_error's end
 * codes) becomes the "app" key.  Off by default: every process using that
 * libssl then pays a trap per probed call. */
int tlsfin_watch_set_libssl(struct tlsfin_watch *w, bool on);
/* Why kernel evidence is not used ("" when it is; "--kernel=off" when it
 * was turned off), after tlsfin_watch_start(). */
const char *tlsfin_watch_kernel_status(const struct tlsfin_watch *w);

/* Opens the interfaces, the record directory, the metrics port and the
 * kernel collector.  On failure nothing stays open and the message names
 * what failed. */
int tlsfin_watch_start(struct tlsfin_watch *w);
/* Runs until tlsfin_watch_stop() or the duration.  0, or -1 on a capture
 * error (an interface went away). */
int tlsfin_watch_run(struct tlsfin_watch *w);
/* Async-signal-safe. */
void tlsfin_watch_stop(struct tlsfin_watch *w);
/* Writes every open connection (as open), the final summary, and closes
 * everything. */
int tlsfin_watch_finish(struct tlsfin_watch *w);
bool tlsfin_watch_failed(const struct tlsfin_watch *w);

#ifdef __cplusplus
}
#endif
#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sinks of analyze and watch: where finished connections go.
 *  - records: one formatted record per connection (table row, JSONL), in
 *    order of first packet (held records spill to a temporary file) or as
 *    they end;
 *  - summary: counts per verdict and cause, servers with most resets;
 *  - ladder: the ladder diagram of one connection.
 * The flight recorder and the metrics live with watch (src/watch/).
 */
#ifndef TLSFIN_ANALYZE_SINKS_H
#define TLSFIN_ANALYZE_SINKS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

enum tf_rec_format { TF_REC_TABLE, TF_REC_JSONL, TF_REC_ZEEK, TF_REC_CSV };

struct tf_records;
struct tf_records *tf_records_new(FILE *out, enum tf_rec_format f, bool color,
                                  bool ordered);
struct tf_sink *tf_records_sink(struct tf_records *r);
struct tf_buf;
/* One connection's record in format f, appended to b (what the records
 * sink writes; analyze -j's shards format with it too). */
void tf_records_format(struct tf_buf *b, enum tf_rec_format f,
                       const struct tf_conn *c, const struct tf_result *r,
                       bool color, bool process);
/* A record formatted elsewhere (analyze -j), malloc'd: the records own
 * it.  ids count from 1 without gaps, as the engine numbers them; a
 * record lost to memory is put as NULL (len 0), so that the ones after it
 * still go out. */
void tf_records_put(struct tf_records *r, uint64_t id, char *s, size_t len);
/* Flush each record as it is written (pipes, -l, watch). */
void tf_records_set_flush(struct tf_records *r, bool on);
/* A PROCESS column in the table (kernel evidence available). */
void tf_records_set_process(struct tf_records *r, bool on);
/* The table header, once, before the first row. */
void tf_records_header(struct tf_records *r);
/* After the last record: Zeek's #close line. */
void tf_records_footer(struct tf_records *r);
/* -1 once a write to the output failed (disk full, closed pipe). */
int tf_records_status(const struct tf_records *r);
void tf_records_free(struct tf_records *r);

/* Servers the summary keeps per-server counts for (~64 bytes each). */
#define TF_SUMMARY_MAX_SERVERS 1000000u
struct tf_summary;
struct tf_summary *tf_summary_new(void);
struct tf_sink *tf_summary_sink(struct tf_summary *s);
/* One finished connection to the server at addr:port (analyze -j; the
 * sink does this for each connection it sees). */
void tf_summary_add(struct tf_summary *s, uint64_t id, uint8_t af,
                    const uint8_t *addr, uint16_t port, bool reset,
                    bool truncated);
/* Writes counts from the engine's stats and the top servers. */
void tf_summary_write(struct tf_summary *s, const struct tf_engine_stats *st,
                      FILE *out);
void tf_summary_free(struct tf_summary *s);

struct tf_ladder_sink;
struct tf_ladder_sink *tf_ladder_sink_new(FILE *out);
struct tf_sink *tf_ladder_sink(struct tf_ladder_sink *l);
bool tf_ladder_sink_done(const struct tf_ladder_sink *l);
void tf_ladder_sink_free(struct tf_ladder_sink *l);

#endif

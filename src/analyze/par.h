/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * analyze -j N: one reader (the caller's thread), N engines on N threads,
 * each owning the connections of one flow-hash shard, and the caller's
 * thread writing their records exactly as one engine writes them: the
 * same records, in the same order, with the same bytes.
 *
 *   reader --batches of decoded packets--> N shard engines
 *          <--formatted records, opened connections-- (per batch)
 *   reader: numbers connections, writes records in order, summary
 *
 * Why the output is the same as -j 1 (docs/scale.md):
 *  - every shard's engine sees the time of every packet (tf_engine_clock_run),
 *    so timeouts fire at the same packets; packets are numbered by the
 *    reader (tf_engine_packet_hashed), so evidence cites the same numbers;
 *  - connection ids are the order of first packets across all shards: the
 *    shards say which packet opened a connection, the reader numbers them
 *    once every shard is past that packet, and renumbers the record text
 *    (struct tf_buf's id_at);
 *  - the roles a finished tuple leaves behind are sharded by the same bits
 *    that pick their slot (tf_engine_slot), and move with the slot when
 *    the shares follow the load (tf_engine_move_slot: only a slot without
 *    open connections moves).
 * What can differ: the memory ceiling is split evenly between shards, so a
 * capture that reaches it can have different connections evicted.
 */
#ifndef TLSFIN_ANALYZE_PAR_H
#define TLSFIN_ANALYZE_PAR_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "sinks.h"

/* More shards than this buy nothing on any machine tlsfin runs on. */
#define TF_PAR_MAX_JOBS 64

struct tf_par;

/* jobs >= 2 shards; records and summary (either may be NULL) receive the
 * finished connections on the caller's thread; fail_on[v] (may be NULL)
 * sets *failed for verdict v; fmt is the records' format.  NULL when a
 * thread or memory is missing (err says which). */
struct tf_par *tf_par_new(unsigned jobs, const struct tf_engine_opts *o,
                          struct tf_records *records, enum tf_rec_format fmt,
                          bool color, struct tf_summary *summary,
                          const bool *fail_on, bool *failed, char *err,
                          size_t errlen);
/* Stops the threads (after finishing what was handed over) and frees. */
void tf_par_free(struct tf_par *p);

/* The key log every shard decrypts with (the shards are idle meanwhile). */
void tf_par_set_keylog(struct tf_par *p, struct tf_keylog *k);
/* A decoded TCP packet, copied; its payload too unless stable (the bytes
 * stay where they are until the tf_par_on_done callback says the packet is
 * done: a mapped file, whose pages the caller gives back then). */
void tf_par_packet(struct tf_par *p, const struct tf_pkt *pkt, bool stable);
/* The number the next packet will get (from 1). */
uint64_t tf_par_next(const struct tf_par *p);
/* fn(ctx, gpkt) once every shard is done with the packets numbered up to
 * gpkt (called on the caller's thread, from the calls above). */
void tf_par_on_done(struct tf_par *p, void (*fn)(void *ctx, uint64_t gpkt),
                    void *ctx);
/* As tf_engine_note_unfollowed. */
void tf_par_note_unfollowed(struct tf_par *p);
/* As tf_engine_flush then tf_engine_reset_clock on every shard: returns
 * once every record is written. */
void tf_par_flush(struct tf_par *p);
/* The shards' stats added up (current after tf_par_flush). */
const struct tf_engine_stats *tf_par_stats(struct tf_par *p);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The engine of tlsfin: sources hand it packets, it owns the connections
 * (table, lists by age, timeouts) and is the only place that decides
 * verdicts; finished connections go to its sinks.  analyze (files) and
 * watch (live interfaces) run this same code; what differs is the clock and
 * which sinks are attached (STYLE.md, "sources -> one engine -> sinks").
 *
 *   source (pcap file, stdin, live iface) --tf_engine_packet()--> engine
 *   engine --tf_sink.conn()--> records (table/jsonl), summary, ladder,
 *                              flight recorder, metrics
 */
#ifndef TLSFIN_ANALYZE_ENGINE_H
#define TLSFIN_ANALYZE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "flow.h"

struct tf_keylog;

/* The bytes of one captured packet, for sinks that keep packets (the
 * flight recorder).  iface is the source's interface index. */
struct tf_raw {
  const uint8_t *data;
  uint32_t caplen, len;
  int iface;
};

/* A sink receives every finished connection, with its verdict; sinks that
 * keep packets also see each packet with the connection it belongs to. */
struct tf_sink {
  void *ctx;
  void (*packet)(void *ctx, const struct tf_conn *c, int dir,
                 const struct tf_pkt *p, const struct tf_raw *raw);
  void (*conn)(void *ctx, const struct tf_conn *c, const struct tf_result *r);
  /* a connection was opened (may be NULL): analyze -j numbers connections
   * across shards from these */
  void (*open)(void *ctx, const struct tf_conn *c);
  struct tf_sink *next; /* owned by the engine's list */
};

/* Timeouts, in seconds of the capture clock (for live capture the capture
 * clock is the wall clock).  0 disables one. */
struct tf_engine_opts {
  /* an ended connection (RST, or FIN both ways) waits this long after its
   * last packet for trailing ACKs, retransmissions and the RSTs they
   * provoke */
  double linger;
  /* SYN(s) with no answer: written as no_answer (Zeek: tcp_attempt_delay) */
  double attempt_timeout;
  /* no packet in either direction: written with its verdict so far
   * (open, half_closed, stalled); later packets start a new connection */
  double idle_timeout;
  /* a connection with a FIN one way and nothing the other way
   * (half_closed) waits this long after its last packet */
  double half_closed_timeout;
  /* Memory ceiling for the connection table, bytes (0: none).  Past it the
   * oldest connections are finished early: ended ones first, then
   * attempts, half-closed and idle ones (stats.evicted). */
  size_t max_memory;
};
#define TF_ENGINE_LINGER_DEFAULT 2.0
/* ... and one whose FIN is not acknowledged waits at least this long: its
 * sender retransmits the FIN with backoff (0.2, 0.4, 0.8, 1.6 s ...), and
 * Zeek keeps a closed connection for tcp_close_delay, 5 s, before a later
 * packet makes a new one. */
#define TF_ENGINE_LINGER_UNACKED 5.0
/* Defaults (docs/analyze.md; watch sets its own idle timeouts): Linux
 * retries a SYN for about 127 s (tcp_syn_retries = 6), so an attempt is
 * over after 130 s.  Idle connections are not expired by default: a
 * connection idle for an hour and then reset by a rebooted peer is the
 * unknown_connection story itself, and splitting it would lose it; the
 * memory ceiling bounds them instead. */
#define TF_ENGINE_ATTEMPT_DEFAULT 130.0
#define TF_ENGINE_IDLE_DEFAULT 0.0
#define TF_ENGINE_HALF_CLOSED_DEFAULT 0.0
/* The table's ceiling, chosen so that the whole process (table, summary,
 * output buffers) stays under 256 MB on any capture (bench/hostile). */
#define TF_ENGINE_MAX_MEMORY_DEFAULT ((size_t)192 << 20)
void tf_engine_opts_default(struct tf_engine_opts *o);

/* Kernel evidence about a connection, filled by the enrich hook (watch
 * with the eBPF collector) just before the verdict. */
struct tf_enrich {
  void *ctx;
  void (*fn)(void *ctx, struct tf_conn *c);
};

struct tf_engine;

struct tf_engine *tf_engine_new(const struct tf_engine_opts *o);
void tf_engine_free(struct tf_engine *e);
/* Sinks are called in the order they were added. */
void tf_engine_add_sink(struct tf_engine *e, struct tf_sink *s);
void tf_engine_set_enrich(struct tf_engine *e, const struct tf_enrich *en);
void tf_engine_set_keylog(struct tf_engine *e, struct tf_keylog *k);
/* Keep a ladder (last packets) for connection id. */
void tf_engine_set_ladder(struct tf_engine *e, uint64_t id);
/* Keep the last `rows` packets of every connection (0: none). */
void tf_engine_set_ladder_all(struct tf_engine *e, unsigned rows);

/* The hash of a packet's connection (both directions alike). */
uint32_t tf_engine_hash(const struct tf_pkt *p);
/* analyze -j shards connections by the slot of their hash: the engine
 * remembers the roles of finished tuples in a table of that many slots
 * (overwritten on collision), so tuples that share a slot must share a
 * shard for -j N to forget what -j 1 forgets. */
#define TF_ENGINE_SLOTS 16384u
static inline unsigned tf_engine_slot(uint32_t hash) {
  return hash % TF_ENGINE_SLOTS;
}

/* analyze -j moves slots between shards as their load shifts: only a
 * slot without open connections moves, with the roles its finished tuples
 * left (the tomb at that slot), so that the engine it goes to decides as
 * the one it leaves would have.  track_slots keeps the per-slot count of
 * open connections (0, or -1 out of memory); move_slot is 0 when done,
 * -1 when the slot still has open connections in from (or out of
 * memory). */
int tf_engine_track_slots(struct tf_engine *e);
unsigned tf_engine_slot_open(const struct tf_engine *e, unsigned slot);
int tf_engine_move_slot(struct tf_engine *from, struct tf_engine *to,
                        unsigned slot);

/* One decoded TCP packet; raw may be NULL.  Times are p->ts. */
void tf_engine_packet(struct tf_engine *e, const struct tf_pkt *p,
                      const struct tf_raw *raw);
/* The same with the engine's packet number and the hash given: analyze -j
 * numbers the packets of all shards and hashes them (tf_engine_hash) in
 * the reader, and each shard's engine sees only its own packets (gpkt
 * strictly increasing). */
void tf_engine_packet_hashed(struct tf_engine *e, const struct tf_pkt *p,
                             const struct tf_raw *raw, uint64_t gpkt,
                             uint32_t hash);
/* A packet of this hash comes soon: start loading its connection (the
 * table's cache miss is most of a packet's cost). */
void tf_engine_prefetch(const struct tf_engine *e, uint32_t hash);
/* n packets in a row, times ts[0..n), went to other shards: the clock
 * moves exactly as if this engine had seen them (timeouts fire at the same
 * packets as with one engine, so -j N writes what -j 1 writes). */
void tf_engine_clock_run(struct tf_engine *e, const double *ts, size_t n);
/* Connection ids drawn from a counter shared by several engines (watch -j:
 * one engine per fanout socket, ids unique across them); NULL: the
 * engine's own counter. */
void tf_engine_set_id_counter(struct tf_engine *e, _Atomic uint64_t *next);
/* A source saw TCP it cannot follow (stats.unfollowed). */
void tf_engine_note_unfollowed(struct tf_engine *e);
/* The clock moved to `now` without a packet (live capture): finish what
 * has timed out. */
void tf_engine_advance(struct tf_engine *e, double now);
/* Finish every connection still open, in order of first packet. */
void tf_engine_flush(struct tf_engine *e);
/* After a flush: the next packet starts the clock again (a new capture
 * file may be older than the last one). */
void tf_engine_reset_clock(struct tf_engine *e);

struct tf_engine_stats {
  uint64_t packets;     /* TCP packets handed to the engine */
  uint64_t connections; /* finished */
  uint64_t open;        /* in the table now */
  uint64_t expired;     /* finished by a timeout */
  uint64_t evicted;     /* still open, finished early at the memory ceiling */
  uint64_t unfollowed;  /* TCP packets the sources could not decode (IP
                           fragments): their connections may be wrong */
  uint64_t verdicts[TLSFIN_VERDICT_COUNT];
  uint64_t causes[TLSFIN_CAUSE_COUNT];
};
const struct tf_engine_stats *tf_engine_stats(const struct tf_engine *e);
/* The table's estimate of its own memory (connections and what they hold). */
size_t tf_engine_memory(const struct tf_engine *e);

#endif

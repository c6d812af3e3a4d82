/* SPDX-License-Identifier: BSD-2-Clause */
/* analyze -j N: shards of the engine on threads, output as one engine
 * writes it (par.h says why it is the same). */
#include "par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

/* A batch is the unit every shard walks: big enough that the hand-over
 * (a mutex and a condition per batch and shard) costs nothing next to the
 * packets, small enough that the shards start early and the reader's
 * copies stay in cache. */
#define BATCH_PKTS 1024
#define ARENA_BYTES (1u << 20) /* payloads read from a pipe, tunnels */
/* Batches in flight: the shards' work per batch varies (a batch that ends
 * many connections costs more), and a deeper ring lets the threads even
 * it out instead of waiting for each other; a shallower one keeps the
 * batches in cache until the shards read them.  1024 x 16 and 2048 x 8 or
 * 32 measured the same within this machine's noise. */
#define RING 16
/* A waiting thread polls only briefly before it sleeps: a core that
 * polls slows the other one down (measured: the reader's thread took 30 %
 * longer beside a polling shard than beside a sleeping one), and a futex
 * wake per batch of BATCH_PKTS packets costs next to nothing. */
#define SPINS 64
/* What the reader's thread does besides its shard, next to the engines'
 * work: reading, decoding and handing out every packet, and with records
 * also renumbering, holding and writing them in order.  The reader's
 * thread runs shard 0 too, so shard 0 gets the share of the slots that
 * leaves every thread the same work (shard_slots).  Measured as CPU
 * samples per thread (perf) on bench/analyze/jobs' capture with -j 2:
 * summary R = 0.44 E, JSONL 0.5 E (shard 0's share then 28 % and 25 %). */
#define READ_SHARE 0.44
#define READ_SHARE_RECORDS 0.5

/* A finished connection as its shard formatted it. */
struct item {
  uint64_t first_gpkt; /* the packet that opened it: its id, later */
  char *text;          /* NULL: no records (summary only) */
  size_t len, id_at, id_len;
  int id_width;
  uint8_t verdict, af;
  bool reset, truncated;
  uint8_t addr[16]; /* the server, for the summary */
  uint16_t port;
};

struct outq {
  struct item *v;
  size_t n, cap;
  bool oom; /* an item was lost: said once, at the end */
};

enum cmd { CMD_PKTS, CMD_FLUSH, CMD_END };

struct batch {
  enum cmd cmd;
  size_t n;
  uint64_t gpkt0; /* the number of pkt[0] */
  struct tf_pkt *pkt;
  /* what every shard reads of every packet, apart from the packets: a
   * shard touches only its own packets' cache lines */
  double *ts;
  uint32_t *hash;
  uint8_t *shard, *opened;
  uint8_t *arena;
  size_t alen;
  struct outq *out;         /* one per shard */
  _Atomic unsigned pending; /* shards still on it */
};

struct worker {
  struct tf_par *par;
  unsigned idx;
  pthread_t th;
  bool started;
  struct tf_engine *e;
  struct tf_sink sink;
  struct batch *b;          /* the batch being walked */
  _Atomic uint64_t wait_ns; /* asleep for want of a batch (rebalance) */
};

/* The ids of connections not yet written: ids are consecutive, so a
 * window of first packets, searched by bisection, gives each record its
 * id; its head moves on as the oldest are written. */
struct opened {
  uint64_t gpkt;
  bool done;
};

struct tf_par {
  unsigned jobs;
  /* w[0] runs on the reader's thread, between batches: n threads on n
   * cores, none of them polling (SPINS) */
  struct worker *w;
  uint8_t slot_shard[TF_ENGINE_SLOTS];
  struct batch ring[RING];
  _Atomic uint64_t published; /* batches handed over */
  uint64_t merged;            /* batches written */
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  uint64_t next_gpkt;
  struct opened *win;
  size_t win_start, win_end, win_cap;
  uint64_t win_base; /* the id of win[win_start] */
  struct tf_records *records;
  enum tf_rec_format fmt;
  bool color;
  struct tf_summary *summary;
  const bool *fail_on;
  bool *failed;
  uint64_t unfollowed;
  struct tf_engine_stats st;
  void (*done_fn)(void *ctx, uint64_t gpkt);
  void *done_ctx;
  /* rebalance: batches handed over, when to look next, and since when
   * the reader's thread slept waiting for the shards */
  bool rebalance;
  uint64_t submitted, next_look;
  uint64_t wait_ns, since_ns;
  unsigned cursor; /* where the next search for movable slots starts */
  /* TLSFIN_PAR_SHUFFLE in the environment (tests): slots move at every
   * other batch, back and forth, so that golden.jobs sees moves whatever
   * the machine's timing */
  bool shuffle;
};

/* ---- the shards ---- */

static void outq_push(struct outq *q, const struct item *it) {
  if (q->n == q->cap) {
    size_t nc = q->cap ? q->cap * 2 : 64;
    struct item *nv = realloc(q->v, nc * sizeof *nv);
    if (!nv) {
      q->oom = true;
      free(it->text);
      return;
    }
    q->v = nv;
    q->cap = nc;
  }
  q->v[q->n++] = *it;
}

static void shard_open(void *ctx, const struct tf_conn *c) {
  struct worker *w = ctx;
  w->b->opened[c->first_gpkt - w->b->gpkt0] = 1;
}

static void shard_conn(void *ctx, const struct tf_conn *c,
                       const struct tf_result *r) {
  struct worker *w = ctx;
  struct tf_par *p = w->par;
  struct item it = {.first_gpkt = c->first_gpkt,
                    .verdict = (uint8_t)r->verdict,
                    .af = c->af,
                    .reset = r->has_rst,
                    .truncated = r->truncated,
                    .port = c->s[1].port};
  memcpy(it.addr, c->s[1].addr, sizeof it.addr);
  if (p->records) {
    struct tf_buf b = {0};
    tf_records_format(&b, p->fmt, c, r, p->color, false);
    if (b.p && !b.oom && b.id_at + b.id_len <= b.len) {
      it.text = b.p;
      it.len = b.len;
      it.id_at = b.id_at;
      it.id_len = b.id_len;
      it.id_width = b.id_width;
    } else {
      tf_buf_free(&b); /* written as an empty record: order goes on */
      w->b->out[w->idx].oom = true;
    }
  }
  outq_push(&w->b->out[w->idx], &it);
}

/* How many of its own packets ahead a shard starts loading connections
 * and packets: enough to cover a miss to memory behind a packet's work. */
#define PREFETCH_AHEAD 4

/* The next packet of shard idx at or after i, loading what it will need. */
static size_t prefetch_next(const struct worker *w, const struct batch *b,
                            size_t i) {
  while (i < b->n && b->shard[i] != w->idx)
    i++;
  if (i < b->n) {
    tf_engine_prefetch(w->e, b->hash[i]);
    __builtin_prefetch(&b->pkt[i]);
  }
  return i;
}

static void walk(struct worker *w, struct batch *b) {
  w->b = b;
  switch (b->cmd) {
  case CMD_PKTS: {
    size_t ahead = 0;
    for (int k = 0; k < PREFETCH_AHEAD; k++)
      ahead = prefetch_next(w, b, ahead) + 1;
    for (size_t i = 0; i < b->n;) {
      if (b->shard[i] == w->idx) {
        tf_engine_packet_hashed(w->e, &b->pkt[i], NULL, b->gpkt0 + i,
                                b->hash[i]);
        i++;
        if (ahead < b->n)
          ahead = prefetch_next(w, b, ahead) + 1;
        continue;
      }
      size_t j = i + 1; /* other shards' packets: their times only */
      while (j < b->n && b->shard[j] != w->idx)
        j++;
      tf_engine_clock_run(w->e, b->ts + i, j - i);
      i = j;
    }
    break;
  }
  case CMD_FLUSH:
    tf_engine_flush(w->e);
    tf_engine_reset_clock(w->e);
    break;
  case CMD_END:
    break;
  }
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Waits until batch seq is handed over. */
static void wait_published(struct worker *w, uint64_t seq) {
  struct tf_par *p = w->par;
  for (unsigned i = 0; i < SPINS; i++) {
    if (atomic_load_explicit(&p->published, memory_order_acquire) > seq)
      return;
    cpu_relax();
  }
  uint64_t t0 = mono_ns();
  pthread_mutex_lock(&p->mu);
  while (atomic_load(&p->published) <= seq)
    pthread_cond_wait(&p->work, &p->mu);
  pthread_mutex_unlock(&p->mu);
  atomic_fetch_add_explicit(&w->wait_ns, mono_ns() - t0, memory_order_relaxed);
}

/* One shard is done with b. */
static void shard_done(struct tf_par *p, struct batch *b) {
  if (atomic_fetch_sub_explicit(&b->pending, 1, memory_order_acq_rel) == 1) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_signal(&p->done);
    pthread_mutex_unlock(&p->mu);
  }
}

static void *shard_main(void *arg) {
  struct worker *w = arg;
  struct tf_par *p = w->par;
  char name[16]; /* what top -H and perf show */
  snprintf(name, sizeof name, "tlsfin-shard%u", w->idx);
  pthread_setname_np(pthread_self(), name);
  for (uint64_t seq = 0;; seq++) {
    wait_published(w, seq);
    struct batch *b = &p->ring[seq % RING];
    enum cmd cmd = b->cmd;
    walk(w, b);
    shard_done(p, b);
    if (cmd == CMD_END)
      return NULL;
  }
}

/* ---- the reader's side: ids and output ---- */

static int win_push(struct tf_par *p, uint64_t gpkt) {
  if (p->win_end == p->win_cap && p->win_start) { /* slide back */
    size_t live = p->win_end - p->win_start;
    memmove(p->win, p->win + p->win_start, live * sizeof *p->win);
    p->win_start = 0;
    p->win_end = live;
  }
  if (p->win_end == p->win_cap) {
    size_t nc = p->win_cap ? p->win_cap * 2 : 1024;
    struct opened *nw = realloc(p->win, nc * sizeof *nw);
    if (!nw)
      return -1;
    p->win = nw;
    p->win_cap = nc;
  }
  p->win[p->win_end++] = (struct opened){gpkt, false};
  return 0;
}

/* The id of the connection opened at gpkt; 0 when unknown (out of memory
 * earlier). */
static uint64_t win_take(struct tf_par *p, uint64_t gpkt) {
  size_t lo = p->win_start, hi = p->win_end;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p->win[mid].gpkt < gpkt)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == p->win_end || p->win[lo].gpkt != gpkt)
    return 0;
  p->win[lo].done = true;
  uint64_t id = p->win_base + (lo - p->win_start);
  while (p->win_start < p->win_end && p->win[p->win_start].done) {
    p->win_start++;
    p->win_base++;
  }
  return id;
}

/* The record with its shard's id replaced by the global one; a record
 * lost to memory is written empty, so that the ones after it go out. */
static void put_record(struct tf_par *p, uint64_t id, struct item *it) {
  if (!p->records)
    return;
  char num[32];
  int nl =
      snprintf(num, sizeof num, "%*llu", it->id_width, (unsigned long long)id);
  size_t tail = it->len - it->id_at - it->id_len;
  size_t len = it->id_at + (size_t)nl + tail;
  char *s = it->text ? malloc(len + 1) : NULL;
  if (!s) {
    tf_records_put(p->records, id, NULL, 0);
    return;
  }
  memcpy(s, it->text, it->id_at);
  memcpy(s + it->id_at, num, (size_t)nl);
  memcpy(s + it->id_at + nl, it->text + it->id_at + it->id_len, tail);
  s[len] = '\0';
  tf_records_put(p->records, id, s, len);
}

/* Batch b is walked by every shard: number the connections it opened (in
 * packet order, as one engine would), then write what finished in it. */
static void merge(struct tf_par *p, struct batch *b) {
  if (b->cmd == CMD_PKTS)
    for (size_t i = 0; i < b->n; i++)
      if (b->opened[i] && win_push(p, b->gpkt0 + i) < 0)
        fprintf(stderr, "tlsfin analyze: out of memory numbering "
                        "connections: records may be lost\n");
  for (unsigned s = 0; s < p->jobs; s++) {
    struct outq *q = &b->out[s];
    for (size_t i = 0; i < q->n; i++) {
      struct item *it = &q->v[i];
      uint64_t id = win_take(p, it->first_gpkt);
      if (id) {
        put_record(p, id, it);
        if (p->summary)
          tf_summary_add(p->summary, id, it->af, it->addr, it->port, it->reset,
                         it->truncated);
      }
      free(it->text);
      if (p->fail_on && p->fail_on[it->verdict])
        *p->failed = true;
    }
    if (q->oom)
      fprintf(stderr, "tlsfin analyze: out of memory: a record was lost\n");
    q->n = 0;
    q->oom = false;
  }
  if (b->cmd == CMD_PKTS && b->n && p->done_fn)
    p->done_fn(p->done_ctx, b->gpkt0 + b->n - 1);
  b->n = 0;
  b->alen = 0;
}

static void wait_done(struct tf_par *p, struct batch *b) {
  for (unsigned i = 0; i < SPINS; i++) {
    if (!atomic_load_explicit(&b->pending, memory_order_acquire))
      return;
    cpu_relax();
  }
  uint64_t t0 = mono_ns();
  pthread_mutex_lock(&p->mu);
  while (atomic_load(&b->pending))
    pthread_cond_wait(&p->done, &p->mu);
  pthread_mutex_unlock(&p->mu);
  p->wait_ns += mono_ns() - t0;
}

static void merge_ready(struct tf_par *p, bool all);

/* ---- rebalance ----
 * The reader's share of the work (READ_SHARE) depends on the capture (on
 * small packets the reading weighs more) and on the machine, so the
 * shares move as the run goes: every REBALANCE_EVERY batches (sooner at
 * the start), with every shard idle, the thread that slept less gets
 * fewer slots.  Only slots without open connections move, with their
 * tombs (tf_engine_move_slot): what the output says does not depend on
 * which shard ran a connection, so it stays the bytes of -j 1. */
#define REBALANCE_EVERY 128
/* Shares within this of balance are left alone: a move costs nothing,
 * but chasing noise would move slots back and forth. */
#define REBALANCE_DEADBAND 0.01
#define REBALANCE_MAX_STEP 0.05

/* Moves up to k slots without open connections from shard `from` (or,
 * with from == -1, from any shard but 0) to shard `to` (or, with to ==
 * -1, round robin over the shards but 0). */
static void move_slots(struct tf_par *p, int from, int to, unsigned k) {
  unsigned rr = 0, start = p->cursor;
  for (unsigned i = 0; i < TF_ENGINE_SLOTS && k; i++) {
    unsigned s = (start + i) % TF_ENGINE_SLOTS;
    unsigned a = p->slot_shard[s];
    if (from >= 0 ? a != (unsigned)from : a == 0)
      continue;
    unsigned b = to >= 0 ? (unsigned)to : 1 + rr % (p->jobs - 1);
    if (tf_engine_move_slot(p->w[a].e, p->w[b].e, s) < 0)
      continue;
    p->slot_shard[s] = (uint8_t)b;
    rr++;
    k--;
    p->cursor = (s + 1) % TF_ENGINE_SLOTS;
  }
}

/* The share of the slots to move from shard 0 to the others (negative:
 * the other way) after a window of win ns in which shard 0's thread slept
 * `mine` ns and the others `others` on average; 0 within the dead band. */
static double balance_step(const struct tf_par *p, uint64_t win, double mine,
                           double others) {
  /* busy time of shard 0's thread (reading too) and of another one: with
   * a share x of the slots and engine work E, m = R + x E and
   * o = (1 - x) E / (n - 1), so moving dx of the slots to the others
   * changes m - o by -dx E n / (n - 1) */
  double m = (double)win - mine, o = (double)win - others;
  unsigned own = 0;
  for (unsigned i = 0; i < TF_ENGINE_SLOTS; i++)
    own += p->slot_shard[i] == 0;
  double x = (double)own / TF_ENGINE_SLOTS;
  if (win == 0 || o <= 0 || x >= 1)
    return 0;
  double n = p->jobs, e = o * (n - 1) / (1 - x);
  /* half the step the estimate asks for: the waits are noisy, and a
   * full step overshot back and forth */
  double dx = 0.5 * (m - o) / (e * n / (n - 1));
  if (dx > REBALANCE_MAX_STEP)
    dx = REBALANCE_MAX_STEP;
  if (dx < -REBALANCE_MAX_STEP)
    dx = -REBALANCE_MAX_STEP;
  if (dx > -REBALANCE_DEADBAND && dx < REBALANCE_DEADBAND)
    return 0;
  return dx;
}

static void rebalance(struct tf_par *p) {
  /* the window's waits first: the drain below is this look's own cost */
  uint64_t win = mono_ns() - p->since_ns;
  double others = 0;
  for (unsigned i = 1; i < p->jobs; i++)
    others += (double)atomic_exchange(&p->w[i].wait_ns, 0);
  others /= p->jobs - 1;
  double mine = (double)p->wait_ns;
  merge_ready(p, true); /* every shard idle: engines and map are ours */
  p->wait_ns = 0;
  p->since_ns = mono_ns();
  p->next_look = p->submitted < REBALANCE_EVERY
                     ? p->submitted * 2
                     : p->submitted + REBALANCE_EVERY;
  double dx;
  if (p->shuffle) { /* tests: a full step at every other look, whatever the
                       load, one way then the other */
    p->next_look = p->submitted + 2;
    dx = p->submitted % 4 < 2 ? REBALANCE_MAX_STEP : -REBALANCE_MAX_STEP;
  } else if ((dx = balance_step(p, win, mine, others)) == 0) {
    return;
  }
  unsigned k = (unsigned)((dx > 0 ? dx : -dx) * TF_ENGINE_SLOTS);
  if (dx > 0)
    move_slots(p, 0, -1, k);
  else
    move_slots(p, -1, 0, k);
}

/* Writes every batch the shards are done with; with all, waits for them. */
static void merge_ready(struct tf_par *p, bool all) {
  while (p->merged < atomic_load(&p->published)) {
    struct batch *b = &p->ring[p->merged % RING];
    if (all)
      wait_done(p, b);
    else if (atomic_load_explicit(&b->pending, memory_order_acquire))
      return;
    merge(p, b);
    p->merged++;
  }
}

/* Hands the batch being filled to the shards, and walks shard 0 of it on
 * this thread. */
static void submit(struct tf_par *p, enum cmd cmd) {
  uint64_t seq = atomic_load(&p->published);
  struct batch *b = &p->ring[seq % RING];
  b->cmd = cmd;
  atomic_store(&b->pending, p->jobs);
  pthread_mutex_lock(&p->mu);
  atomic_store_explicit(&p->published, seq + 1, memory_order_release);
  pthread_cond_broadcast(&p->work);
  pthread_mutex_unlock(&p->mu);
  walk(&p->w[0], b);
  shard_done(p, b);
  merge_ready(p, false);
  if (p->rebalance && cmd == CMD_PKTS && ++p->submitted >= p->next_look)
    rebalance(p);
  /* the next batch to fill must be written out first */
  if (atomic_load(&p->published) - p->merged == RING) {
    wait_done(p, &p->ring[p->merged % RING]);
    merge_ready(p, false);
  }
}

static struct batch *filling(struct tf_par *p) {
  return &p->ring[atomic_load(&p->published) % RING];
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

uint64_t tf_par_next(const struct tf_par *p) { return p->next_gpkt + 1; }

void tf_par_on_done(struct tf_par *p, void (*fn)(void *ctx, uint64_t gpkt),
                    void *ctx) {
  p->done_fn = fn;
  p->done_ctx = ctx;
}

void tf_par_packet(struct tf_par *p, const struct tf_pkt *pkt, bool stable) {
  size_t caplen = pkt->payload ? pkt->caplen : 0;
  if (caplen > ARENA_BYTES / 2) /* no capture has such segments */
    caplen = ARENA_BYTES / 2;
  size_t need = (stable ? 0 : align8(caplen)) +
                (pkt->tunnel ? align8(sizeof *pkt->tunnel) : 0);
  struct batch *b = filling(p);
  if (b->n == BATCH_PKTS || b->alen + need > ARENA_BYTES) {
    submit(p, CMD_PKTS);
    b = filling(p);
  }
  size_t i = b->n++;
  if (i == 0)
    b->gpkt0 = p->next_gpkt + 1;
  p->next_gpkt++;
  struct tf_pkt *q = &b->pkt[i];
  *q = *pkt;
  q->dc = NULL;
  q->caplen = (uint32_t)caplen;
  if (caplen && !stable) {
    memcpy(b->arena + b->alen, pkt->payload, caplen);
    q->payload = b->arena + b->alen;
    b->alen += align8(caplen);
  }
  if (pkt->tunnel) {
    memcpy(b->arena + b->alen, pkt->tunnel, sizeof *pkt->tunnel);
    q->tunnel = (const struct tf_tunnel *)(void *)(b->arena + b->alen);
    b->alen += align8(sizeof *pkt->tunnel);
  }
  b->ts[i] = pkt->ts;
  b->hash[i] = tf_engine_hash(pkt);
  b->shard[i] = p->slot_shard[tf_engine_slot(b->hash[i])];
  b->opened[i] = 0;
}

void tf_par_note_unfollowed(struct tf_par *p) { p->unfollowed++; }

/* Every batch handed over and written: the shards wait for the next. */
static void quiesce(struct tf_par *p) {
  if (filling(p)->n)
    submit(p, CMD_PKTS);
  merge_ready(p, true);
}

void tf_par_flush(struct tf_par *p) {
  if (filling(p)->n)
    submit(p, CMD_PKTS);
  submit(p, CMD_FLUSH);
  merge_ready(p, true);
}

void tf_par_set_keylog(struct tf_par *p, struct tf_keylog *k) {
  quiesce(p);
  for (unsigned i = 0; i < p->jobs; i++)
    tf_engine_set_keylog(p->w[i].e, k);
}

const struct tf_engine_stats *tf_par_stats(struct tf_par *p) {
  quiesce(p);
  memset(&p->st, 0, sizeof p->st);
  for (unsigned i = 0; i < p->jobs; i++) {
    const struct tf_engine_stats *s = tf_engine_stats(p->w[i].e);
    p->st.packets += s->packets;
    p->st.connections += s->connections;
    p->st.open += s->open;
    p->st.expired += s->expired;
    p->st.evicted += s->evicted;
    for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
      p->st.verdicts[v] += s->verdicts[v];
    for (int c = 0; c < TLSFIN_CAUSE_COUNT; c++)
      p->st.causes[c] += s->causes[c];
  }
  p->st.unfollowed = p->unfollowed;
  return &p->st;
}

/* ---- life ---- */

/* Which shard owns each slot.  The reader's thread also reads and decodes
 * every packet, so its shard gets fewer slots: with n shards and reading
 * a READ_SHARE of the work E, balance R + x E = (1 - x) E / (n - 1) gives
 * x = (1 - (n - 1) READ_SHARE) / n (at least 1/(4n)).  The others share
 * the rest evenly, slot by slot. */
static void shard_slots(struct tf_par *p) {
  unsigned n = p->jobs;
  double r = p->records ? READ_SHARE_RECORDS : READ_SHARE;
  double x = (1.0 - (n - 1) * r) / n;
  if (x < 0.25 / n)
    x = 0.25 / n;
  unsigned first = (unsigned)(x * TF_ENGINE_SLOTS);
  for (unsigned i = 0; i < TF_ENGINE_SLOTS; i++)
    p->slot_shard[i] = i < first ? 0 : (uint8_t)(1 + (i - first) % (n - 1));
}

static void batch_free(struct batch *b, unsigned jobs) {
  free(b->pkt);
  free(b->ts);
  free(b->hash);
  free(b->shard);
  free(b->opened);
  free(b->arena);
  if (b->out)
    for (unsigned s = 0; s < jobs; s++) {
      for (size_t i = 0; i < b->out[s].n; i++)
        free(b->out[s].v[i].text);
      free(b->out[s].v);
    }
  free(b->out);
}

struct tf_par *tf_par_new(unsigned jobs, const struct tf_engine_opts *o,
                          struct tf_records *records, enum tf_rec_format fmt,
                          bool color, struct tf_summary *summary,
                          const bool *fail_on, bool *failed, char *err,
                          size_t errlen) {
  struct tf_par *p = calloc(1, sizeof *p);
  if (!p)
    goto oom;
  if (jobs < 2)
    jobs = 2;
  if (jobs > TF_PAR_MAX_JOBS)
    jobs = TF_PAR_MAX_JOBS;
  p->jobs = jobs;
  p->records = records;
  p->fmt = fmt;
  p->color = color;
  p->summary = summary;
  p->fail_on = fail_on;
  p->failed = failed;
  p->win_base = 1;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->work, NULL);
  pthread_cond_init(&p->done, NULL);
  for (int i = 0; i < RING; i++) {
    struct batch *b = &p->ring[i];
    b->pkt = malloc(BATCH_PKTS * sizeof *b->pkt);
    b->ts = malloc(BATCH_PKTS * sizeof *b->ts);
    b->hash = malloc(BATCH_PKTS * sizeof *b->hash);
    b->shard = malloc(BATCH_PKTS);
    b->opened = calloc(BATCH_PKTS, 1);
    b->arena = malloc(ARENA_BYTES);
    b->out = calloc(jobs, sizeof *b->out);
    if (!b->pkt || !b->ts || !b->hash || !b->shard || !b->opened || !b->arena ||
        !b->out)
      goto oom;
  }
  if (!(p->w = calloc(jobs, sizeof *p->w)))
    goto oom;
  shard_slots(p);
  /* the ceiling is the process's: each shard gets its share */
  struct tf_engine_opts so = *o;
  if (so.max_memory)
    so.max_memory /= jobs;
  for (unsigned i = 0; i < jobs; i++) {
    struct worker *w = &p->w[i];
    w->par = p;
    w->idx = i;
    if (!(w->e = tf_engine_new(&so)))
      goto oom;
    w->sink =
        (struct tf_sink){.ctx = w, .conn = shard_conn, .open = shard_open};
    tf_engine_add_sink(w->e, &w->sink);
  }
  p->rebalance = true;
  for (unsigned i = 0; i < jobs; i++)
    if (tf_engine_track_slots(p->w[i].e) < 0)
      p->rebalance = false; /* the first shares stay */
  p->next_look = 16;
  p->since_ns = mono_ns();
  p->shuffle = getenv("TLSFIN_PAR_SHUFFLE") != NULL;
  if (p->shuffle)
    p->next_look = 2;
  for (unsigned i = 1; i < jobs; i++) {
    int rc = pthread_create(&p->w[i].th, NULL, shard_main, &p->w[i]);
    if (rc) {
      snprintf(err, errlen, "-j %u: cannot start a thread: %s", jobs,
               strerror(rc));
      tf_par_free(p);
      return NULL;
    }
    p->w[i].started = true;
  }
  return p;
oom:
  snprintf(err, errlen, "out of memory");
  tf_par_free(p);
  return NULL;
}

void tf_par_free(struct tf_par *p) {
  if (!p)
    return;
  unsigned started = 0;
  for (unsigned i = 1; p->w && i < p->jobs; i++)
    started += p->w[i].started;
  if (started) {
    quiesce(p);
    /* the threads that started stop at this batch; shard 0 is this
     * thread, and threads not started take no share */
    uint64_t seq = atomic_load(&p->published);
    struct batch *b = &p->ring[seq % RING];
    b->cmd = CMD_END;
    atomic_store(&b->pending, started);
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->published, seq + 1);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 1; i < p->jobs; i++)
      if (p->w[i].started)
        pthread_join(p->w[i].th, NULL);
    p->merged++;
  }
  for (unsigned i = 0; p->w && i < p->jobs; i++)
    tf_engine_free(p->w[i].e);
  free(p->w);
  for (int i = 0; i < RING; i++)
    batch_free(&p->ring[i], p->jobs);
  free(p->win);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->work);
  pthread_cond_destroy(&p->done);
  free(p);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The connection engine shared by analyze and watch: a hash table of TCP
 * connections (4-tuple + port reuse), three age lists that make every
 * timeout O(1) per packet, and the one place where a finished connection
 * gets its verdict and is handed to the sinks.
 */
#include "engine.h"

#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "seq.h"
#include "siphash.h"

/* Each connection is on exactly one list, ordered by its last packet, so
 * the oldest of each kind is at the head and expiry looks at heads only. */
enum tf_list {
  L_ATTEMPT, /* SYNs from the client and nothing else yet */
  L_ACTIVE,  /* anything else still open */
  L_HALF,    /* one side sent FIN, the other nothing since */
  L_ENDED,   /* RST, or FIN both ways: lingering for trailing packets */
  /* FIN both ways, one not acknowledged: its sender retransmits it with
   * backoff, so these linger as long as Zeek's tcp_close_delay */
  L_ENDED_UNACKED,
  L_COUNT
};

/* The roles of recently finished connections, by 4-tuple: a late packet
 * (an RST answering a stray segment after the linger) starts a new record,
 * which must keep the roles the tuple had rather than take the late
 * packet's sender for the client.  Direct-mapped and overwritten on
 * collision: bounded memory, and a miss only falls back to the usual
 * rules. */
#define TOMB_SLOTS TF_ENGINE_SLOTS
#define TOMB_SECONDS 300.0
struct tomb {
  uint32_t hash;
  uint8_t af;
  uint8_t caddr[16];
  uint16_t cport;
  double ts;
};

struct tf_engine {
  struct tf_engine_opts o;
  struct tf_sink *sinks, **sinks_tail;
  struct tf_enrich enrich;
  struct tf_keylog *keylog;
  uint64_t ladder_id;
  unsigned ladder_all; /* rows kept for every connection (HTML report) */
  uint64_t next_id;
  _Atomic uint64_t *shared_id; /* tf_engine_set_id_counter */
  uint64_t gpkt;               /* packets across inputs: the order of events */
  double now;                  /* the latest time seen (capture clock) */
  /* A jump far ahead waits for confirmation (see packet_clock). */
  double jump_ts;
  unsigned jump_seen;
  struct tf_conn **buckets;
  size_t nbuckets;
  unsigned shift; /* 32 - log2(nbuckets): see bucket_of */
  struct {
    struct tf_conn *head, *tail;
  } lists[L_COUNT];
  /* The earliest time a list head times out (expire() does nothing
   * before it), recomputed when a head changed: most packets then cost
   * the clock one comparison. */
  double next_expiry;
  bool heads_changed;
  struct tf_engine_stats st;
  struct tomb *tombs;  /* TOMB_SLOTS, allocated on the first finish */
  size_t tunnel_bytes; /* what the open connections' tunnels hold */
  /* open connections per slot (tf_engine_track_slots), NULL: not kept */
  uint32_t *slot_open;
};

void tf_engine_opts_default(struct tf_engine_opts *o) {
  *o = (struct tf_engine_opts){
      TF_ENGINE_LINGER_DEFAULT, TF_ENGINE_ATTEMPT_DEFAULT,
      TF_ENGINE_IDLE_DEFAULT, TF_ENGINE_HALF_CLOSED_DEFAULT,
      TF_ENGINE_MAX_MEMORY_DEFAULT};
}

/* What one connection costs: its struct, its share of the hash table, and
 * a TLS connection's reassembly (the out-of-order segments it holds are
 * bounded per direction, flow.c). */
#define CONN_COST (sizeof(struct tf_conn) + 2 * sizeof(void *) + 256)

size_t tf_engine_memory(const struct tf_engine *e) {
  size_t per = CONN_COST;
  if (e->ladder_all)
    per +=
        sizeof(struct tf_ladder) + e->ladder_all * sizeof(struct tf_ladder_row);
  return (size_t)e->st.open * per + e->nbuckets * sizeof(void *) +
         e->tunnel_bytes;
}

struct tf_engine *tf_engine_new(const struct tf_engine_opts *o) {
  struct tf_engine *e = calloc(1, sizeof *e);
  if (!e)
    return NULL;
  if (o)
    e->o = *o;
  e->next_id = 1;
  e->heads_changed = true;
  e->sinks_tail = &e->sinks;
  e->nbuckets = 1024;
  e->shift = 32 - 10;
  e->buckets = calloc(e->nbuckets, sizeof *e->buckets);
  if (!e->buckets) {
    free(e);
    return NULL;
  }
  return e;
}

void tf_engine_add_sink(struct tf_engine *e, struct tf_sink *s) {
  s->next = NULL;
  *e->sinks_tail = s;
  e->sinks_tail = &s->next;
}

void tf_engine_set_enrich(struct tf_engine *e, const struct tf_enrich *en) {
  e->enrich = *en;
}
void tf_engine_set_keylog(struct tf_engine *e, struct tf_keylog *k) {
  e->keylog = k;
}
void tf_engine_set_ladder_all(struct tf_engine *e, unsigned rows) {
  e->ladder_all = rows;
}

void tf_engine_set_ladder(struct tf_engine *e, uint64_t id) {
  e->ladder_id = id;
}
const struct tf_engine_stats *tf_engine_stats(const struct tf_engine *e) {
  return &e->st;
}

/* ---- connection table ---- */

/* Addresses compared with a constant length, so the compiler inlines the
 * compare (a call to memcmp with a variable length was ~3 % of analyze's
 * time on captures of short connections: every packet compares two). */
static inline bool addr_eq(uint8_t af, const uint8_t *a, const uint8_t *b) {
  return af == 4 ? !memcmp(a, b, 4) : !memcmp(a, b, 16);
}

/* Big-endian loads: comparing them as numbers orders the bytes as
 * memcmp does. */
static inline uint64_t be64(const uint8_t *a) {
  uint64_t v;
  memcpy(&v, a, 8);
  return __builtin_bswap64(v);
}
static inline uint32_t be32(const uint8_t *a) {
  uint32_t v;
  memcpy(&v, a, 4);
  return __builtin_bswap32(v);
}

/* <0, 0, >0 as memcmp of the addresses, then the ports. */
static int ep_cmp(uint8_t af, const uint8_t *a1, uint16_t p1, const uint8_t *a2,
                  uint16_t p2) {
  if (af == 4) {
    uint32_t x = be32(a1), y = be32(a2);
    if (x != y)
      return x < y ? -1 : 1;
  } else {
    uint64_t x = be64(a1), y = be64(a2);
    if (x == y) {
      x = be64(a1 + 8);
      y = be64(a2 + 8);
    }
    if (x != y)
      return x < y ? -1 : 1;
  }
  return (int)p1 - (int)p2;
}

/* The 4-tuple in canonical order (both directions hash alike) under a keyed
 * hash: crafted tuples cannot pile into one bucket (siphash.h). */
static uint32_t tuple_hash(const struct tf_pkt *p) {
  const uint8_t *a1 = p->src, *a2 = p->dst;
  uint16_t p1 = p->sport, p2 = p->dport;
  if (ep_cmp(p->af, a1, p1, a2, p2) > 0) {
    a1 = p->dst;
    a2 = p->src;
    p1 = p->dport;
    p2 = p->sport;
  }
  uint8_t k[37];
  size_t n = p->af == 4 ? 4 : 16, l = 0;
  k[l++] = p->af;
  memcpy(k + l, a1, n);
  l += n;
  memcpy(k + l, a2, n);
  l += n;
  k[l++] = (uint8_t)(p1 >> 8);
  k[l++] = (uint8_t)p1;
  k[l++] = (uint8_t)(p2 >> 8);
  k[l++] = (uint8_t)p2;
  return (uint32_t)tf_siphash(k, l);
}

uint32_t tf_engine_hash(const struct tf_pkt *p) { return tuple_hash(p); }

/* -1 no match, else the direction of the packet in c. */
static int match(const struct tf_conn *c, const struct tf_pkt *p) {
  if (c->af != p->af)
    return -1;
  const struct tf_side *s0 = &c->s[0], *s1 = &c->s[1];
  if (s0->port == p->sport && s1->port == p->dport &&
      addr_eq(p->af, s0->addr, p->src) && addr_eq(p->af, s1->addr, p->dst))
    return 0;
  if (s1->port == p->sport && s0->port == p->dport &&
      addr_eq(p->af, s1->addr, p->src) && addr_eq(p->af, s0->addr, p->dst))
    return 1;
  return -1;
}

/* A connection's bucket: the top bits of its hash times 2^32/phi
 * (Fibonacci hashing) rather than its low bits, which analyze -j has made
 * alike in each shard (tf_engine_slot): with the low bits, a shard of a
 * quarter of the slots used a quarter of its buckets. */
static inline size_t bucket_of(unsigned shift, uint32_t h) {
  return (uint32_t)(h * 0x9E3779B1u) >> shift;
}

void tf_engine_prefetch(const struct tf_engine *e, uint32_t hash) {
  struct tf_conn *const *slot = &e->buckets[bucket_of(e->shift, hash)];
  __builtin_prefetch(slot);
  /* the slot itself may still be on its way: its connection only if not */
  if (*slot)
    __builtin_prefetch(*slot);
}

static void table_grow(struct tf_engine *e) {
  size_t nb = e->nbuckets * 2;
  struct tf_conn **b = calloc(nb, sizeof *b);
  if (!b)
    return; /* keep the longer chains */
  for (size_t i = 0; i < e->nbuckets; i++) {
    struct tf_conn *c = e->buckets[i];
    while (c) {
      struct tf_conn *n = c->hnext;
      size_t j = bucket_of(e->shift - 1, c->hash);
      c->hnext = b[j];
      b[j] = c;
      c = n;
    }
  }
  free(e->buckets);
  e->buckets = b;
  e->nbuckets = nb;
  e->shift--;
}

static void table_remove(struct tf_engine *e, struct tf_conn *c) {
  if (e->slot_open)
    e->slot_open[tf_engine_slot(c->hash)]--;
  struct tf_conn **pp = &e->buckets[bucket_of(e->shift, c->hash)];
  while (*pp && *pp != c)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = c->hnext;
  e->st.open--;
}

/* L_COUNT: on no list (a new connection). */
static void list_unlink(struct tf_engine *e, struct tf_conn *c) {
  if (c->list == L_COUNT)
    return;
  if (!c->lprev)
    e->heads_changed = true;
  if (c->lprev)
    c->lprev->lnext = c->lnext;
  else
    e->lists[c->list].head = c->lnext;
  if (c->lnext)
    c->lnext->lprev = c->lprev;
  else
    e->lists[c->list].tail = c->lprev;
  c->lprev = c->lnext = NULL;
  c->list = L_COUNT;
}

/* Past this many steps back, a connection whose last packet is older than
 * the list's youngest (time went backwards in the capture) is put where
 * the walk stopped: a capture stamped backwards on purpose costs bounded
 * work per packet (a few microseconds), and only such a capture can make
 * analyze -j end a connection at another packet than one engine does. */
#define LIST_WALK_MAX 1024

/* Moves c into list l in order of last packet time, from the tail: the
 * list stays ordered by when each connection times out, so expire() can
 * stop at the first head that has not, and every connection ends when its
 * own time is up (not when an older-looking one ahead of it does), which
 * is also what makes analyze -j's shards end connections exactly when one
 * engine does.  Captures in time order never walk.
 *
 * A packet that leaves its connection on the same list does not move it
 * (tf_engine_packet_hashed): moving touched two other connections' memory
 * per packet.  The list is ordered by lkey, the last_ts each connection had
 * when placed, a lower bound of its last_ts; expire() and the ceiling
 * place a head again when its last_ts moved on, so a head is finished
 * only when its own last packet is the oldest. */
static void list_push(struct tf_engine *e, struct tf_conn *c, enum tf_list l) {
  list_unlink(e, c);
  c->list = (uint8_t)l;
  c->lkey = c->last_ts;
  struct tf_conn *after = e->lists[l].tail;
  for (unsigned n = 0; after && after->lkey > c->lkey && n < LIST_WALK_MAX; n++)
    after = after->lprev;
  c->lprev = after;
  c->lnext = after ? after->lnext : e->lists[l].head;
  if (c->lnext)
    c->lnext->lprev = c;
  else
    e->lists[l].tail = c;
  if (after)
    after->lnext = c;
  else {
    e->lists[l].head = c;
    e->heads_changed = true;
  }
}

/* Well-known service ports: decide roles of a capture that starts
 * mid-connection (TAXONOMY: "the host that sent to the lower-numbered
 * well-known port is the server"). */
static bool well_known(uint16_t port) {
  static const uint16_t extra[] = {1433, 1883, 2376, 3306, 4433,
                                   5061, 5432, 5671, 6379, 6443,
                                   8080, 8443, 8883, 9093, 9443};
  if (port < 1024)
    return true;
  for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
    if (extra[i] == port)
      return true;
  return false;
}

static size_t tunnel_size(uint8_t n) {
  return sizeof(struct tf_conn_tunnel) + n * sizeof(struct tf_tunnel_layer);
}

/* Only tunneled connections pay for their layers (out of memory: the
 * record says "no tunnel" rather than losing the connection). */
static void tunnel_keep(struct tf_engine *e, struct tf_conn *c,
                        const struct tf_tunnel *t) {
  c->tunnel = malloc(tunnel_size(t->n));
  if (!c->tunnel)
    return;
  c->tunnel->n = t->n;
  memcpy(c->tunnel->l, t->l, t->n * sizeof t->l[0]);
  e->tunnel_bytes += tunnel_size(t->n);
}

static void tunnel_drop(struct tf_engine *e, struct tf_conn *c) {
  if (!c->tunnel)
    return;
  e->tunnel_bytes -= tunnel_size(c->tunnel->n);
  free(c->tunnel);
  c->tunnel = NULL;
}

static struct tf_conn *conn_new(struct tf_engine *e, const struct tf_pkt *p,
                                uint32_t hash) {
  struct tf_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  const bool syn = p->flags & TF_TH_SYN, ack = p->flags & TF_TH_ACK;
  bool sender_is_client;
  if (syn && !ack)
    sender_is_client = true;
  else if (syn && ack)
    sender_is_client = false;
  else if (well_known(p->dport) != well_known(p->sport))
    sender_is_client = well_known(p->dport);
  else if (well_known(p->dport) && well_known(p->sport))
    sender_is_client = p->dport < p->sport;
  else
    sender_is_client = true;
  size_t n = p->af == 4 ? 4 : 16;
  const struct tomb *t = e->tombs ? &e->tombs[hash % TOMB_SLOTS] : NULL;
  if (!syn && t && t->hash == hash && t->af == p->af &&
      p->ts - t->ts < TOMB_SECONDS &&
      ((!memcmp(t->caddr, p->src, n) && t->cport == p->sport) ||
       (!memcmp(t->caddr, p->dst, n) && t->cport == p->dport)))
    sender_is_client = !memcmp(t->caddr, p->src, n) && t->cport == p->sport;
  int cl = sender_is_client ? 0 : 1;
  memcpy(c->s[cl].addr, p->src, n);
  c->s[cl].port = p->sport;
  memcpy(c->s[!cl].addr, p->dst, n);
  c->s[!cl].port = p->dport;
  c->af = p->af;
  c->hash = hash;
  c->id = e->shared_id ? atomic_fetch_add(e->shared_id, 1) : e->next_id++;
  c->first_gpkt = e->gpkt;
  c->first_ts = p->ts;
  c->last_ts = p->ts; /* its place in the lists (list_push) */
  c->first_is_client = sender_is_client;
  c->start = TF_START_MIDSTREAM;
  tf_zeek_init(&c->zeek);
  tf_tls_init(&c->tls);
  c->tls.keylog = e->keylog;
  if (e->ladder_id && c->id == e->ladder_id)
    c->ladder = tf_ladder_new(TF_LADDER_MAX);
  else if (e->ladder_all)
    c->ladder = tf_ladder_new(e->ladder_all);
  if (p->tunnel) /* keyed by the inner 4-tuple; the first tunnel is kept */
    tunnel_keep(e, c, p->tunnel);
  size_t j = bucket_of(e->shift, hash);
  c->hnext = e->buckets[j];
  e->buckets[j] = c;
  c->list = L_COUNT;
  list_push(e, c, L_ACTIVE);
  if (e->slot_open)
    e->slot_open[tf_engine_slot(hash)]++;
  if (++e->st.open > e->nbuckets)
    table_grow(e);
  for (struct tf_sink *s = e->sinks; s; s = s->next)
    if (s->open)
      s->open(s->ctx, c);
  return c;
}

/* ---- finishing ---- */

static void remember_roles(struct tf_engine *e, const struct tf_conn *c) {
  if (!e->tombs && !(e->tombs = calloc(TOMB_SLOTS, sizeof *e->tombs)))
    return;
  struct tomb *t = &e->tombs[c->hash % TOMB_SLOTS];
  t->hash = c->hash;
  t->af = c->af;
  memcpy(t->caddr, c->s[0].addr, sizeof t->caddr);
  t->cport = c->s[0].port;
  t->ts = c->last_ts;
}

static void conn_finalize(struct tf_engine *e, struct tf_conn *c) {
  struct tf_result r;
  remember_roles(e, c);
  tf_flow_finish(c);
  if (e->enrich.fn)
    e->enrich.fn(e->enrich.ctx, c);
  tf_conn_verdict(c, &r);
  e->st.connections++;
  e->st.verdicts[r.verdict]++;
  if (r.has_rst)
    e->st.causes[r.cause]++;
  if (c->expired)
    e->st.expired++;
  for (struct tf_sink *s = e->sinks; s; s = s->next)
    if (s->conn)
      s->conn(s->ctx, c, &r);
  list_unlink(e, c);
  table_remove(e, c);
  tf_flow_release(c);
  tunnel_drop(e, c);
  free(c->ladder);
  free(c);
}

static bool conn_done(const struct tf_conn *c) {
  return c->s[0].rst || c->s[1].rst || (c->s[0].fin && c->s[1].fin);
}

/* A FIN the other side has not acknowledged (yet). */
static bool fin_unacked(const struct tf_conn *c, int i) {
  const struct tf_side *s = &c->s[i], *o = &c->s[!i];
  return s->fin && !(o->ack_known && SEQ_GEQ(o->ack, s->fin_seq + 1));
}

/* The list a connection belongs on after its latest packet. */
static enum tf_list list_for(const struct tf_conn *c) {
  if (conn_done(c))
    return !c->s[0].rst && !c->s[1].rst &&
                   (fin_unacked(c, 0) || fin_unacked(c, 1))
               ? L_ENDED_UNACKED
               : L_ENDED;
  if (c->s[0].fin != c->s[1].fin)
    return L_HALF;
  if (c->client_syn_seen && !c->server_any && !c->s[0].has_data)
    return L_ATTEMPT;
  return L_ACTIVE;
}

static double timeout_of(const struct tf_engine *e, enum tf_list l) {
  switch (l) {
  case L_ATTEMPT:
    return e->o.attempt_timeout ? e->o.attempt_timeout : e->o.idle_timeout;
  case L_ACTIVE:
    return e->o.idle_timeout;
  case L_HALF:
    return e->o.half_closed_timeout ? e->o.half_closed_timeout
                                    : e->o.idle_timeout;
  case L_ENDED_UNACKED: {
    double l = e->o.linger > 0 ? e->o.linger : TF_ENGINE_LINGER_DEFAULT;
    return l > TF_ENGINE_LINGER_UNACKED ? l : TF_ENGINE_LINGER_UNACKED;
  }
  case L_ENDED:
  case L_COUNT:
    break;
  }
  return e->o.linger > 0 ? e->o.linger : TF_ENGINE_LINGER_DEFAULT;
}

/* A head placed before its latest packets goes to its place by them
 * (true): only a head whose own last packet is the oldest may be
 * finished (list_push). */
static bool head_moved_on(struct tf_engine *e, struct tf_conn *c) {
  if (c->last_ts == c->lkey)
    return false;
  list_push(e, c, (enum tf_list)c->list);
  return true;
}

/* Finishes every connection whose list timeout has passed at `now`. */
static void expire(struct tf_engine *e, double now) {
  for (int l = 0; l < L_COUNT; l++) {
    double t = timeout_of(e, (enum tf_list)l);
    if (t <= 0)
      continue;
    struct tf_conn *c;
    while ((c = e->lists[l].head) && c->lkey + t < now) {
      if (head_moved_on(e, c))
        continue;
      c->expired = l != L_ENDED && l != L_ENDED_UNACKED;
      conn_finalize(e, c);
    }
  }
}

/* Over the memory ceiling: finish the oldest connection of the list whose
 * early end loses least, ended ones first (they only wait for stragglers),
 * then attempts, half-closed and idle ones.  Memory stays bounded by the
 * ceiling, whatever the capture holds: a scan, a flood, frozen time. */
static void enforce_ceiling(struct tf_engine *e) {
  if (!e->o.max_memory)
    return;
  static const enum tf_list order[] = {L_ENDED, L_ENDED_UNACKED, L_ATTEMPT,
                                       L_HALF, L_ACTIVE};
  while (tf_engine_memory(e) > e->o.max_memory) {
    struct tf_conn *c = NULL;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && !c; i++)
      c = e->lists[order[i]].head;
    if (!c)
      return;
    if (head_moved_on(e, c))
      continue;
    /* An ended connection loses only its linger; one still open may lose
     * its end: only that is worth a warning. */
    c->expired = c->list != L_ENDED && c->list != L_ENDED_UNACKED;
    if (c->expired)
      e->st.evicted++;
    conn_finalize(e, c);
  }
}

void tf_engine_advance(struct tf_engine *e, double now) {
  /* Time that goes backwards (reordered or re-stamped capture) never
   * brings connections back: the clock only moves forward. */
  if (now > e->now)
    e->now = now;
  if (e->heads_changed) {
    e->heads_changed = false;
    e->next_expiry = HUGE_VAL;
    for (int l = 0; l < L_COUNT; l++) {
      double t = timeout_of(e, (enum tf_list)l);
      if (t > 0 && e->lists[l].head &&
          e->lists[l].head->lkey + t < e->next_expiry)
        e->next_expiry = e->lists[l].head->lkey + t;
    }
  }
  /* expire() finishes a head when last_ts + timeout < now */
  if (e->now > e->next_expiry)
    expire(e, e->now);
}

/* A SYN on a tuple that already has a connection starts a new one when the
 * old one is over, or when the SYN's ISN differs from the one we know
 * (port reuse), or when the old one had more than SYNs. */
static bool syn_starts_new(const struct tf_conn *c, int dir,
                           const struct tf_pkt *p) {
  const struct tf_side *s = &c->s[dir];
  if (!(p->flags & TF_TH_SYN) || (p->flags & TF_TH_ACK) ||
      (p->flags & TF_TH_RST))
    return false;
  if (conn_done(c))
    return !(s->isn_known && s->isn == p->seq && !c->s[!dir].has_data &&
             !s->has_data && !c->s[!dir].rst);
  if (s->isn_known)
    return s->isn != p->seq;
  /* A SYN-ACK seen before the SYN it answers (reordered capture) belongs
   * to the same connection. */
  const struct tf_side *o = &c->s[!dir];
  if (o->syn && o->ack_known && o->ack == p->seq + 1 && !s->has_data &&
      !o->has_data)
    return false;
  return s->has_data || o->has_data || c->synack_seen;
}

/* A packet stamped far ahead of the clock (one bad timestamp in a capture,
 * a sensor whose clock was wrong) would expire every connection at once.
 * Such a jump moves the clock only when the packets after it confirm it;
 * a lone outlier is ignored (its connection keeps the stamp it got). */
#define JUMP_SECONDS 3600.0
#define JUMP_CONFIRM 8

static void packet_clock(struct tf_engine *e, double ts) {
  if (e->now == 0 || ts <= e->now + JUMP_SECONDS) {
    e->jump_seen = 0;
    tf_engine_advance(e, ts);
    return;
  }
  if (!e->jump_seen || ts < e->jump_ts)
    e->jump_ts = ts; /* the earliest of the jumped packets */
  if (++e->jump_seen >= JUMP_CONFIRM) {
    e->jump_seen = 0;
    tf_engine_advance(e, e->jump_ts);
  }
}

void tf_engine_set_id_counter(struct tf_engine *e, _Atomic uint64_t *next) {
  e->shared_id = next;
}

void tf_engine_clock_run(struct tf_engine *e, const double *ts, size_t n) {
  for (size_t i = 0; i < n; i++)
    packet_clock(e, ts[i]);
}

void tf_engine_packet(struct tf_engine *e, const struct tf_pkt *p,
                      const struct tf_raw *raw) {
  tf_engine_packet_hashed(e, p, raw, e->gpkt + 1, tuple_hash(p));
}

void tf_engine_packet_hashed(struct tf_engine *e, const struct tf_pkt *p,
                             const struct tf_raw *raw, uint64_t gpkt,
                             uint32_t h) {
  e->gpkt = gpkt;
  e->st.packets++;
  packet_clock(e, p->ts);
  struct tf_conn *c = e->buckets[bucket_of(e->shift, h)];
  int dir = -1;
  for (; c; c = c->hnext)
    if (c->hash == h && (dir = match(c, p)) >= 0)
      break;
  if (c && syn_starts_new(c, dir, p)) {
    conn_finalize(e, c);
    c = NULL;
  }
  if (!c) {
    enforce_ceiling(e);
    c = conn_new(e, p, h);
    if (!c)
      return;
    dir = match(c, p);
  }
  if (p->bad_csum) {
    /* --zeek-checksums: a bad TCP checksum is only Zeek's 'C'/'c' (the
     * connection's time still starts at it: conn_new) */
    tf_zeek_bad_checksum(&c->zeek, p->ts, dir == (c->first_is_client ? 0 : 1),
                         p->flags, p->seq,
                         c->first_is_client ? c->s[0].port : c->s[1].port,
                         c->first_is_client ? c->s[1].port : c->s[0].port);
    return;
  }
  const bool syn = p->flags & TF_TH_SYN, ack = p->flags & TF_TH_ACK;
  if (dir == 0 && syn && !ack) {
    c->client_syn_seen = true;
    if (c->start == TF_START_MIDSTREAM && !c->s[0].has_data && !c->s[1].packets)
      c->start = TF_START_SYN_ONLY;
  }
  if (dir == 1) {
    c->server_any = true;
    if (syn && ack) {
      c->synack_seen = true;
      if (c->start == TF_START_SYN_ONLY)
        c->start = TF_START_HANDSHAKE;
    }
  }
  if (c->ladder) {
    struct tf_ladder_row row = {e->gpkt,  p->no,  p->ts,  (uint8_t)dir,
                                p->flags, p->seq, p->ack, p->len};
    tf_ladder_add(c->ladder, &row);
  }
  tf_zeek_packet(&c->zeek, p->ts, dir == (c->first_is_client ? 0 : 1), p->flags,
                 p->seq, p->ack, p->len, p->caplen, p->win,
                 c->first_is_client ? c->s[0].port : c->s[1].port,
                 c->first_is_client ? c->s[1].port : c->s[0].port);
  tf_flow_packet(c, dir, p, e->gpkt);
  c->last_ts = p->ts > c->last_ts ? p->ts : c->last_ts;
  c->last_pkt = e->gpkt;
  if (!c->first_no)
    c->first_no = p->no;
  c->last_no = p->no;
  for (struct tf_sink *s = e->sinks; s; s = s->next)
    if (s->packet)
      s->packet(s->ctx, c, dir, p, raw);
  /* it ages from its last packet: a new list places it now, its own list
   * when its turn to expire comes (list_push) */
  enum tf_list l = list_for(c);
  if (l != c->list)
    list_push(e, c, l);
}

static int cmp_conn_id(const void *x, const void *y) {
  const struct tf_conn *a = *(struct tf_conn *const *)x;
  const struct tf_conn *b = *(struct tf_conn *const *)y;
  return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

void tf_engine_flush(struct tf_engine *e) {
  while (e->st.open) {
    size_t n = e->st.open, k = 0;
    struct tf_conn **all = malloc(n * sizeof *all);
    if (!all) { /* out of memory: any order still gives every record */
      for (size_t i = 0; i < e->nbuckets && !k; i++)
        if (e->buckets[i]) {
          conn_finalize(e, e->buckets[i]);
          k = 1;
        }
      continue;
    }
    for (size_t i = 0; i < e->nbuckets; i++)
      for (struct tf_conn *c = e->buckets[i]; c; c = c->hnext)
        all[k++] = c;
    qsort(all, k, sizeof *all, cmp_conn_id);
    for (size_t i = 0; i < k; i++)
      conn_finalize(e, all[i]);
    free(all);
  }
}

void tf_engine_reset_clock(struct tf_engine *e) { e->now = 0; }

int tf_engine_track_slots(struct tf_engine *e) {
  if (!e->slot_open &&
      !(e->slot_open = calloc(TF_ENGINE_SLOTS, sizeof(uint32_t))))
    return -1;
  return 0;
}

unsigned tf_engine_slot_open(const struct tf_engine *e, unsigned slot) {
  return e->slot_open ? e->slot_open[slot % TF_ENGINE_SLOTS] : 0;
}

int tf_engine_move_slot(struct tf_engine *from, struct tf_engine *to,
                        unsigned slot) {
  slot %= TF_ENGINE_SLOTS;
  if (tf_engine_slot_open(from, slot))
    return -1;
  if (!from->tombs)
    return 0;
  if (!to->tombs && !(to->tombs = calloc(TOMB_SLOTS, sizeof *to->tombs)))
    return -1;
  to->tombs[slot] = from->tombs[slot];
  memset(&from->tombs[slot], 0, sizeof from->tombs[slot]);
  return 0;
}
void tf_engine_note_unfollowed(struct tf_engine *e) { e->st.unfollowed++; }

void tf_engine_free(struct tf_engine *e) {
  if (!e)
    return;
  for (size_t i = 0; i < e->nbuckets; i++) {
    struct tf_conn *c = e->buckets[i];
    while (c) {
      struct tf_conn *n = c->hnext;
      tf_flow_release(c);
      free(c->tunnel);
      free(c->ladder);
      free(c);
      c = n;
    }
  }
  free(e->buckets);
  free(e->tombs);
  free(e->slot_open);
  free(e);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Sinks of finished connections: records (table, JSONL), summary, ladder. */
#include "sinks.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "siphash.h"
#include "xsort.h"

/* ---- records ---- */

/* A finished record waiting for earlier connections to finish. */
struct pend {
  uint8_t kind; /* PEND_EMPTY, PEND_MEM (s), PEND_STAGED, PEND_SPILLED */
  uint32_t len;
  union {
    char *s;        /* PEND_MEM */
    uint32_t batch; /* PEND_SPILLED: the batch it was written in */
  } u;
  /* PEND_STAGED: its index in the stage; PEND_SPILLED: where in the file */
  uint64_t off;
};
enum { PEND_EMPTY = 0, PEND_MEM, PEND_STAGED, PEND_SPILLED };
/* Ordered output holds finished records behind a long-lived connection;
 * past this many bytes they go to a temporary file, so memory stays
 * bounded by the open connections, not by the capture. */
#define PEND_MEM_MAX (8u << 20)
/* Records bound for the file gather in a stage of this size, and go out
 * sorted by id (a batch). */
#define SPILL_BUF (1u << 20)
/* What the batches' read windows may hold together, and the bounds of
 * one window. */
#define WIN_BUDGET (2u << 20)
#define WIN_MIN (4u << 10)
#define WIN_MAX (64u << 10)

/* A record in the stage. */
struct staged {
  uint64_t id;
  uint32_t len; /* UINT32_MAX: written out already, from the stage */
  uint32_t at;  /* where in stage */
};

/* One batch of the file: its records are in id order, and they are read
 * back in id order, so each batch is read front to back through a window
 * (one pread per window, not one per record). */
struct batch {
  uint64_t end;  /* where its bytes in the file end */
  uint32_t left; /* its records not yet written out */
  char *win;     /* the window: [wstart, wstart + wlen) of the file */
  uint64_t wstart;
  size_t wlen, wcap;
};

struct tf_records {
  struct tf_sink sink;
  FILE *out;
  enum tf_rec_format format;
  bool color, ordered, flush, header_done, process;
  int status;
  struct pend *pending;
  size_t pend_cap; /* ring indexed by id - emit_id */
  size_t pend_head;
  size_t pend_bytes; /* formatted records held in memory */
  /* Records held past PEND_MEM_MAX wait in the stage, then go to the file
   * a batch at a time, sorted by id.  They come out in id order, which is
   * each batch's order: one read per window of a batch.  (Written in the
   * order they ended, they came back with one pread each.) */
  struct tf_spill spill;
  bool spill_failed; /* none could be made: said once, kept in memory */
  char *stage;       /* SPILL_BUF, once needed */
  size_t stage_len;
  struct staged *staged;
  size_t nstaged, staged_cap;
  struct batch *batches;
  size_t nbatches, batches_cap;
  size_t live_batches; /* batches with records still to write out */
  uint64_t emit_id;
};

static void rec_write(struct tf_records *r, const char *s, size_t n) {
  if (n && fwrite(s, 1, n, r->out) != n)
    r->status = -1;
}

/* The pending entry of id (held, so within the ring). */
static struct pend *pend_of(struct tf_records *r, uint64_t id) {
  return &r->pending[(r->pend_head + (size_t)(id - r->emit_id)) % r->pend_cap];
}

/* A spilled record's bytes, from its batch's window (read when the record
 * is not all in it); NULL on a read error. */
static const char *batch_bytes(struct tf_records *r, const struct pend *p) {
  struct batch *b = &r->batches[p->u.batch];
  if (!b->win || p->off < b->wstart || p->off + p->len > b->wstart + b->wlen) {
    size_t w = WIN_BUDGET / (r->live_batches ? r->live_batches : 1);
    w = w < WIN_MIN ? WIN_MIN : w > WIN_MAX ? WIN_MAX : w;
    if (w < p->len)
      w = p->len;
    if (w > b->end - p->off)
      w = (size_t)(b->end - p->off);
    if (w > b->wcap) {
      char *nw = realloc(b->win, w);
      if (!nw)
        return NULL;
      b->win = nw;
      b->wcap = w;
    }
    if (tf_spill_read(&r->spill, p->off, b->win, w) < 0)
      return NULL;
    b->wstart = p->off;
    b->wlen = w;
  }
  return b->win + (p->off - b->wstart);
}

static void emit_pending(struct tf_records *r, struct pend *p) {
  if (p->kind == PEND_MEM) {
    rec_write(r, p->u.s, p->len);
    free(p->u.s);
    r->pend_bytes -= p->len;
  } else if (p->kind == PEND_STAGED) {
    struct staged *st = &r->staged[p->off];
    rec_write(r, r->stage + st->at, p->len);
    st->len = UINT32_MAX;
  } else if (p->kind == PEND_SPILLED) {
    const char *bytes = batch_bytes(r, p);
    if (bytes)
      rec_write(r, bytes, p->len);
    else
      r->status = -1;
    struct batch *b = &r->batches[p->u.batch];
    if (--b->left == 0) {
      free(b->win);
      b->win = NULL;
      b->wcap = b->wlen = 0;
      r->live_batches--;
    }
  }
  memset(p, 0, sizeof *p);
}

/* The file could not take a batch (or be made): said once; the staged
 * records stay in memory from now on. */
static void spill_refused(struct tf_records *r) {
  if (!r->spill_failed)
    fprintf(stderr,
            "tlsfin analyze: warning: records waiting for a long "
            "connection stay in memory: %s\n",
            r->spill.err);
  r->spill_failed = true;
}

static int by_id(const void *x, const void *y) {
  const struct staged *a = x, *b = y;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* The stage to the file as one batch, in id order.  Records that cannot
 * go there stay in memory (or, without memory, go out empty). */
static void flush_stage(struct tf_records *r) {
  size_t n = 0, total = 0;
  for (size_t i = 0; i < r->nstaged; i++)
    if (r->staged[i].len != UINT32_MAX)
      r->staged[n++] = r->staged[i];
  r->nstaged = n;
  if (n > 1)
    qsort(r->staged, n, sizeof *r->staged, by_id);
  if (r->nbatches == r->batches_cap && n) {
    size_t nc = r->batches_cap ? r->batches_cap * 2 : 16;
    struct batch *nb = realloc(r->batches, nc * sizeof *nb);
    if (nb) {
      r->batches = nb;
      r->batches_cap = nc;
    } else {
      snprintf(r->spill.err, sizeof r->spill.err, "out of memory");
    }
  }
  /* written from the stage in id order (vectors, no copy) */
  uint64_t base = 0;
  struct iovec *iov = n ? malloc(n * sizeof *iov) : NULL;
  bool out = iov && r->nbatches < r->batches_cap;
  if (n && !iov)
    snprintf(r->spill.err, sizeof r->spill.err, "out of memory");
  if (out) {
    for (size_t i = 0; i < n; i++) {
      iov[i].iov_base = r->stage + r->staged[i].at;
      iov[i].iov_len = r->staged[i].len;
      total += r->staged[i].len;
    }
    out = tf_spill_appendv(&r->spill, iov, (int)n, &base) == 0;
  }
  free(iov);
  if (n && !out)
    spill_refused(r);
  for (size_t i = 0, at = 0; i < n; i++) {
    struct staged *st = &r->staged[i];
    struct pend *p = pend_of(r, st->id);
    if (out) {
      p->kind = PEND_SPILLED;
      p->u.batch = (uint32_t)r->nbatches;
      p->off = base + at;
      at += st->len;
    } else {
      char *c = malloc(st->len);
      if (c)
        memcpy(c, r->stage + st->at, st->len);
      else {
        fprintf(stderr, "tlsfin: out of memory: a record was lost\n");
        p->len = 0;
      }
      p->kind = PEND_MEM;
      p->u.s = c;
      r->pend_bytes += p->len;
    }
  }
  if (out) {
    r->batches[r->nbatches++] =
        (struct batch){base + total, (uint32_t)n, NULL, 0, 0, 0};
    r->live_batches++;
  }
  r->nstaged = 0;
  r->stage_len = 0;
}

/* Puts a record bound for the file in the stage: 0, or -1 when it must
 * stay in memory. */
static int stage_put(struct tf_records *r, uint64_t id, const char *s,
                     size_t len, struct pend *p) {
  if (r->spill_failed || len > SPILL_BUF)
    return -1;
  if (tf_spill_open(&r->spill) < 0) {
    spill_refused(r); /* no file can be made: better know now */
    return -1;
  }
  if (r->stage_len + len > SPILL_BUF)
    flush_stage(r);
  if (r->spill_failed)
    return -1;
  if (!r->stage && !(r->stage = malloc(SPILL_BUF)))
    return -1;
  if (r->nstaged == r->staged_cap) {
    size_t nc = r->staged_cap ? r->staged_cap * 2 : 1024;
    struct staged *ns = realloc(r->staged, nc * sizeof *ns);
    if (!ns)
      return -1;
    r->staged = ns;
    r->staged_cap = nc;
  }
  memcpy(r->stage + r->stage_len, s, len);
  r->staged[r->nstaged] =
      (struct staged){id, (uint32_t)len, (uint32_t)r->stage_len};
  p->off = r->nstaged++;
  r->stage_len += len;
  return 0;
}

/* An entry for a record, in memory or, past PEND_MEM_MAX, bound for the
 * spill file. */
static struct pend make_pend(struct tf_records *r, uint64_t id, char *s,
                             size_t len) {
  struct pend p = {0};
  p.len = (uint32_t)len;
  if (len && r->pend_bytes + p.len > PEND_MEM_MAX &&
      stage_put(r, id, s, len, &p) == 0) {
    p.kind = PEND_STAGED;
    free(s);
    return p;
  }
  p.kind = PEND_MEM;
  p.u.s = s;
  r->pend_bytes += p.len;
  return p;
}

static void write_now(struct tf_records *r, char *s, size_t len) {
  rec_write(r, s, len);
  free(s);
}

/* Queue the record of connection id and write every record that is now in
 * order. */
static void queue_record(struct tf_records *r, uint64_t id, char *s,
                         size_t len) {
  if (!r->ordered) {
    write_now(r, s, len);
    return;
  }
  size_t off = (size_t)(id - r->emit_id);
  if (off >= r->pend_cap) {
    size_t ncap = r->pend_cap ? r->pend_cap : 256;
    while (ncap <= off)
      ncap *= 2;
    struct pend *np = calloc(ncap, sizeof *np);
    if (!np) { /* out of memory: order is lost, data is not */
      write_now(r, s, len);
      return;
    }
    for (size_t i = 0; i < r->pend_cap; i++)
      np[i] = r->pending[(r->pend_head + i) % r->pend_cap];
    free(r->pending);
    r->pending = np;
    r->pend_cap = ncap;
    r->pend_head = 0;
  }
  r->pending[(r->pend_head + off) % r->pend_cap] = make_pend(r, id, s, len);
  while (r->pend_cap && r->pending[r->pend_head].kind != PEND_EMPTY) {
    emit_pending(r, &r->pending[r->pend_head]);
    r->pend_head = (r->pend_head + 1) % r->pend_cap;
    r->emit_id++;
  }
}

void tf_records_put(struct tf_records *r, uint64_t id, char *s, size_t len) {
  queue_record(r, id, s, len);
  if (r->flush && fflush(r->out) != 0)
    r->status = -1;
}

void tf_records_header(struct tf_records *r) {
  if (r->header_done)
    return;
  r->header_done = true;
  if (r->format == TF_REC_TABLE)
    tf_report_table_header(r->out, r->color, r->process);
  else if (r->format == TF_REC_ZEEK)
    tf_report_zeek_header(r->out, (double)time(NULL));
  else if (r->format == TF_REC_CSV)
    tf_report_csv_header(r->out);
}

void tf_records_format(struct tf_buf *b, enum tf_rec_format f,
                       const struct tf_conn *c, const struct tf_result *r,
                       bool color, bool process) {
  switch (f) {
  case TF_REC_JSONL:
    tf_report_jsonl(b, c, r);
    break;
  case TF_REC_ZEEK:
    tf_report_zeek_row(b, c, r);
    break;
  case TF_REC_CSV:
    tf_report_csv_row(b, c, r);
    break;
  case TF_REC_TABLE:
    tf_report_table_row(b, c, r, color, process);
    break;
  }
}

static void records_conn(void *ctx, const struct tf_conn *c,
                         const struct tf_result *res) {
  struct tf_records *r = ctx;
  struct tf_buf b = {0};
  tf_records_header(r);
  tf_records_format(&b, r->format, c, res, r->color, r->process);
  if (!b.p || b.oom) {
    /* out of memory: this record is lost, not the others; it goes out
     * empty, so that the ones held behind it still go out in order */
    tf_buf_free(&b);
    fprintf(stderr, "tlsfin: out of memory: a record was lost\n");
  }
  queue_record(r, c->id, b.p, b.len);
  if (r->flush && fflush(r->out) != 0)
    r->status = -1;
}

struct tf_records *tf_records_new(FILE *out, enum tf_rec_format f, bool color,
                                  bool ordered) {
  struct tf_records *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->out = out;
  r->format = f;
  r->color = color;
  r->ordered = ordered;
  r->emit_id = 1;
  /* batches are written whole (tf_spill_appendv): the block is unused */
  r->spill.cap = 0;
  r->sink.ctx = r;
  r->sink.conn = records_conn;
  return r;
}
struct tf_sink *tf_records_sink(struct tf_records *r) {
  return &r->sink;
}
void tf_records_set_flush(struct tf_records *r, bool on) { r->flush = on; }
void tf_records_set_process(struct tf_records *r, bool on) { r->process = on; }
int tf_records_status(const struct tf_records *r) {
  return r->status || ferror(r->out) ? -1 : 0;
}

/* Zeek's ASCII writer ends a log with its #close line. */
void tf_records_footer(struct tf_records *r) {
  if (r->format == TF_REC_ZEEK && r->header_done)
    tf_report_zeek_footer(r->out, (double)time(NULL));
}

void tf_records_free(struct tf_records *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->pend_cap; i++)
    if (r->pending[i].kind == PEND_MEM)
      free(r->pending[i].u.s);
  free(r->pending);
  for (size_t i = 0; i < r->nbatches; i++)
    free(r->batches[i].win);
  free(r->batches);
  free(r->staged);
  free(r->stage);
  tf_spill_close(&r->spill);
  free(r);
}

/* ---- summary ---- */

struct server_stat {
  uint8_t af, addr[16];
  uint16_t port;
  uint64_t conns, resets, truncated;
  uint64_t first_id; /* its first connection: ties in the top ten */
  uint32_t next;     /* hash chain: index + 1, 0 ends it */
  uint32_t hash;
};

/* Servers in an array (sorted at the end) indexed by a keyed hash table of
 * chains through it: a capture of a million hosts costs a million cheap
 * inserts, not a million scans. */
struct tf_summary {
  struct tf_sink sink;
  struct server_stat *servers;
  size_t n, cap;
  uint32_t *heads; /* index + 1 of each chain's first server */
  size_t nheads;
  uint64_t dropped; /* connections of servers past the table's bound */
};

static int grow_heads(struct tf_summary *su) {
  size_t nh = su->nheads ? su->nheads * 2 : 1024;
  uint32_t *h = calloc(nh, sizeof *h);
  if (!h)
    return -1;
  for (size_t i = 0; i < su->n; i++) {
    struct server_stat *x = &su->servers[i];
    x->next = h[x->hash & (nh - 1)];
    h[x->hash & (nh - 1)] = (uint32_t)(i + 1);
  }
  free(su->heads);
  su->heads = h;
  su->nheads = nh;
  return 0;
}

void tf_summary_add(struct tf_summary *su, uint64_t id, uint8_t af,
                    const uint8_t *addr, uint16_t port, bool reset,
                    bool truncated) {
  size_t n = af == 4 ? 4 : 16;
  uint8_t key[19];
  key[0] = af;
  memcpy(key + 1, addr, n);
  key[1 + n] = (uint8_t)(port >> 8);
  key[2 + n] = (uint8_t)port;
  uint32_t h = (uint32_t)tf_siphash(key, 3 + n);
  struct server_stat *st = NULL;
  if (su->nheads)
    for (uint32_t i = su->heads[h & (su->nheads - 1)]; i;
         i = su->servers[i - 1].next) {
      struct server_stat *x = &su->servers[i - 1];
      if (x->hash == h && x->af == af && x->port == port &&
          !memcmp(x->addr, addr, n)) {
        st = x;
        break;
      }
    }
  if (!st) {
    /* Bounded like everything else: past this many servers the rest go
     * uncounted in the per-server table (the totals still count them). */
    if (su->n >= TF_SUMMARY_MAX_SERVERS) {
      su->dropped++;
      return;
    }
    if (su->n == su->cap) {
      size_t nc = su->cap ? su->cap * 2 : 64;
      struct server_stat *ns = realloc(su->servers, nc * sizeof *ns);
      if (!ns)
        return;
      su->servers = ns;
      su->cap = nc;
    }
    if (su->n >= su->nheads && grow_heads(su) < 0 && !su->nheads)
      return;
    st = &su->servers[su->n++];
    memset(st, 0, sizeof *st);
    st->af = af;
    memcpy(st->addr, addr, n);
    st->port = port;
    st->hash = h;
    st->next = su->heads[h & (su->nheads - 1)];
    su->heads[h & (su->nheads - 1)] = (uint32_t)su->n;
  }
  if (!st->conns || id < st->first_id)
    st->first_id = id;
  st->conns++;
  if (reset)
    st->resets++;
  if (truncated)
    st->truncated++;
}

static void summary_conn(void *ctx, const struct tf_conn *c,
                         const struct tf_result *r) {
  tf_summary_add(ctx, c->id, c->af, c->s[1].addr, c->s[1].port, r->has_rst,
                 r->truncated);
}

struct tf_summary *tf_summary_new(void) {
  struct tf_summary *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->sink.ctx = s;
  s->sink.conn = summary_conn;
  return s;
}
struct tf_sink *tf_summary_sink(struct tf_summary *s) {
  return &s->sink;
}

static uint64_t server_key(const struct server_stat *s) {
  return s->resets + s->truncated;
}

/* More resets + truncations first; ties by first connection, which does
 * not depend on the order connections finished in (analyze -j). */
static bool server_before(const struct server_stat *a,
                          const struct server_stat *b) {
  uint64_t ka = server_key(a), kb = server_key(b);
  return ka > kb || (ka == kb && a->first_id < b->first_id);
}

void tf_summary_write(struct tf_summary *su, const struct tf_engine_stats *st,
                      FILE *o) {
  fprintf(o, "connections: %llu\n\nverdict                 count\n",
          (unsigned long long)st->connections);
  for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
    if (st->verdicts[v])
      fprintf(o, "%-22s %6llu  %s\n", tlsfin_verdict_name((tlsfin_verdict)v),
              (unsigned long long)st->verdicts[v],
              tlsfin_verdict_help((tlsfin_verdict)v));
  bool any = false;
  for (int k = 0; k < TLSFIN_CAUSE_COUNT; k++)
    if (st->causes[k]) {
      if (!any)
        fprintf(o, "\nrst cause               count\n");
      any = true;
      fprintf(o, "%-22s %6llu  %s\n", tlsfin_cause_name((tlsfin_cause)k),
              (unsigned long long)st->causes[k],
              tlsfin_cause_help((tlsfin_cause)k));
    }
  if (st->unfollowed)
    fprintf(o,
            "\n%llu TCP packet(s) skipped: carried in IP fragments, which "
            "tlsfin does not reassemble; their connections may be reported "
            "wrong\n",
            (unsigned long long)st->unfollowed);
  if (st->evicted)
    fprintf(o,
            "\n%llu connection(s) finished early at the memory ceiling "
            "(--max-memory)\n",
            (unsigned long long)st->evicted);
  if (!su)
    return;
  /* The ten with most resets + truncations, ties by first connection, in
   * one pass: the array is not reordered, so the hash chains through it
   * stay valid for later summaries (watch). */
  size_t top[10], ntop = 0;
  for (size_t i = 0; i < su->n; i++) {
    const struct server_stat *x = &su->servers[i];
    if (!server_key(x) ||
        (ntop == 10 && !server_before(x, &su->servers[top[9]])))
      continue;
    size_t j = ntop < 10 ? ntop++ : 9;
    while (j > 0 && server_before(x, &su->servers[top[j - 1]])) {
      top[j] = top[j - 1];
      j--;
    }
    top[j] = i;
  }
  any = false;
  if (su->dropped)
    fprintf(o,
            "\n(%llu connection(s) to servers beyond the first %u are in the "
            "totals only)\n",
            (unsigned long long)su->dropped, (unsigned)TF_SUMMARY_MAX_SERVERS);
  for (size_t t = 0; t < ntop; t++) {
    const struct server_stat *s = &su->servers[top[t]];
    if (!any)
      fprintf(o,
              "\nservers with most resets/truncations\n"
              "%-46s %6s %6s %9s\n",
              "server", "conns", "resets", "truncated");
    any = true;
    char addr[INET6_ADDRSTRLEN + 2], ep[80];
    tf_format_addr(addr, sizeof addr, s->af, s->addr);
    snprintf(ep, sizeof ep, s->af == 6 ? "[%s]:%u" : "%s:%u", addr, s->port);
    fprintf(o, "%-46s %6llu %6llu %9llu\n", ep, (unsigned long long)s->conns,
            (unsigned long long)s->resets, (unsigned long long)s->truncated);
  }
}

void tf_summary_free(struct tf_summary *s) {
  if (!s)
    return;
  free(s->heads);
  free(s->servers);
  free(s);
}

/* ---- ladder ---- */

struct tf_ladder_sink {
  struct tf_sink sink;
  FILE *out;
  bool done;
};

static void ladder_conn(void *ctx, const struct tf_conn *c,
                        const struct tf_result *r) {
  struct tf_ladder_sink *l = ctx;
  if (!c->ladder)
    return;
  tf_report_ladder(l->out, c, r);
  l->done = true;
}

struct tf_ladder_sink *tf_ladder_sink_new(FILE *out) {
  struct tf_ladder_sink *l = calloc(1, sizeof *l);
  if (!l)
    return NULL;
  l->out = out;
  l->sink.ctx = l;
  l->sink.conn = ladder_conn;
  return l;
}
struct tf_sink *tf_ladder_sink(struct tf_ladder_sink *l) {
  return &l->sink;
}
bool tf_ladder_sink_done(const struct tf_ladder_sink *l) { return l->done; }
void tf_ladder_sink_free(struct tf_ladder_sink *l) { free(l); }

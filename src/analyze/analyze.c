/*
 * tlsfin analyze: reads captures with libpcap, keeps a table of TCP
 * connections (4-tuple + port reuse), and writes each connection's record
 * once it is finished: streaming, so memory follows the number of open
 * connections, not the size of the file.  Records come out in the order of
 * the connections' first packets (TAXONOMY.md) unless unordered output is
 * asked for.
 */
#include "tlsfin/analyze.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "decode.h"
#include "flow.h"
#include "keylog.h"
#include "report.h"
#include "seq.h"

/* A connection that ended (RST, or FIN both ways) stays in the table this
 * long after its last packet so that trailing ACKs, retransmissions and the
 * RSTs they provoke are still counted with it (capture time, seconds). */
#define LINGER_SECONDS 2.0
#define PROGRESS_MIN_BYTES (100ull * 1024 * 1024)
#define MAX_BAD_REPORTS 5

struct tlsfin_analyze {
  char err[512];
  enum tlsfin_format format;
  FILE *out, *progress;
  char *filter;
  bool fail_on[TLSFIN_VERDICT_COUNT];
  bool failed, color, unordered;
  uint64_t conn_id_wanted; /* ladder */
  bool ladder_done;
  uint64_t counts[TLSFIN_VERDICT_COUNT];
  uint64_t cause_counts[TLSFIN_CAUSE_COUNT];
  uint64_t next_id, nconns;
  uint64_t gpkt; /* packets across files: the order of events */
  /* connection table */
  struct tf_conn **buckets;
  size_t nbuckets, live;
  struct tf_conn *linger_head, *linger_tail;
  /* ordered output: records waiting for earlier connections to finish */
  struct pend *pending;
  size_t pend_cap; /* ring indexed by id - emit_id */
  size_t pend_head;
  size_t pend_bytes; /* formatted records held in memory */
  FILE *spill;       /* records held past PEND_MEM_MAX */
  uint64_t spill_end;
  uint64_t emit_id;
  bool table_header_done;
  /* summary: servers by resets / truncations */
  struct server_stat *servers;
  size_t nservers, cap_servers;
  struct tf_keylog *keylog;
  char keylog_warning[300];
  /* per file */
  const char *path;
  uint64_t bad_packets;
};

/* A finished record waiting for earlier connections to finish. */
struct pend {
  uint8_t kind; /* PEND_EMPTY, PEND_MEM (s), PEND_NONE, PEND_SPILLED */
  uint32_t len;
  char *s;
  uint64_t off;
};
enum { PEND_EMPTY = 0, PEND_MEM, PEND_NONE, PEND_SPILLED };
/* Ordered output holds finished records behind a long-lived connection;
 * past this many bytes they go to a temporary file, so memory stays
 * bounded by the open connections, not by the capture. */
#define PEND_MEM_MAX (8u << 20)

struct server_stat {
  uint8_t af, addr[16];
  uint16_t port;
  uint64_t conns, resets, truncated;
};

static void seterr(struct tlsfin_analyze *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void seterr(struct tlsfin_analyze *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->err, sizeof a->err, fmt, ap);
  va_end(ap);
}

struct tlsfin_analyze *tlsfin_analyze_new(void) {
  struct tlsfin_analyze *a = calloc(1, sizeof *a);
  if (!a)
    return NULL;
  a->out = stdout;
  a->next_id = 1;
  a->emit_id = 1;
  a->nbuckets = 1024;
  a->buckets = calloc(a->nbuckets, sizeof *a->buckets);
  if (!a->buckets) {
    free(a);
    return NULL;
  }
  return a;
}

const char *tlsfin_analyze_error(const struct tlsfin_analyze *a) {
  return a->err;
}
int tlsfin_analyze_set_format(struct tlsfin_analyze *a, enum tlsfin_format f) {
  if ((int)f < 0 || f > TLSFIN_FORMAT_LADDER) {
    seterr(a, "unknown output format");
    return -1;
  }
  a->format = f;
  return 0;
}
int tlsfin_analyze_set_output(struct tlsfin_analyze *a, FILE *out) {
  a->out = out;
  return 0;
}
int tlsfin_analyze_set_filter(struct tlsfin_analyze *a, const char *bpf) {
  free(a->filter);
  a->filter = bpf ? strdup(bpf) : NULL;
  return 0;
}
int tlsfin_analyze_fail_on(struct tlsfin_analyze *a, tlsfin_verdict v) {
  if ((int)v < 0 || v >= TLSFIN_VERDICT_COUNT) {
    seterr(a, "unknown verdict");
    return -1;
  }
  a->fail_on[v] = true;
  return 0;
}
int tlsfin_analyze_set_keylog(struct tlsfin_analyze *a, const char *path) {
  if (!a->keylog && !(a->keylog = tf_keylog_new())) {
    seterr(a, "out of memory");
    return -1;
  }
  char err[300] = "";
  if (tf_keylog_load_file(a->keylog, path, err, sizeof err) < 0) {
    seterr(a, "--keylog %s", err);
    return -1;
  }
  snprintf(a->keylog_warning, sizeof a->keylog_warning, "%s", err);
  return 0;
}

const char *tlsfin_analyze_keylog_warning(const struct tlsfin_analyze *a) {
  return a->keylog_warning;
}

int tlsfin_analyze_set_conn(struct tlsfin_analyze *a, uint64_t id) {
  a->conn_id_wanted = id;
  a->format = TLSFIN_FORMAT_LADDER;
  return 0;
}
int tlsfin_analyze_set_color(struct tlsfin_analyze *a, bool on) {
  a->color = on;
  return 0;
}
int tlsfin_analyze_set_progress(struct tlsfin_analyze *a, FILE *err) {
  a->progress = err;
  return 0;
}
int tlsfin_analyze_set_unordered(struct tlsfin_analyze *a, bool on) {
  a->unordered = on;
  return 0;
}
uint64_t tlsfin_analyze_count(const struct tlsfin_analyze *a,
                              tlsfin_verdict v) {
  return ((int)v >= 0 && v < TLSFIN_VERDICT_COUNT) ? a->counts[v] : 0;
}
uint64_t tlsfin_analyze_connections(const struct tlsfin_analyze *a) {
  return a->nconns;
}
bool tlsfin_analyze_failed(const struct tlsfin_analyze *a) { return a->failed; }

/* ---- connection table ---- */

static int ep_cmp(uint8_t af, const uint8_t *a1, uint16_t p1, const uint8_t *a2,
                  uint16_t p2) {
  int c = memcmp(a1, a2, af == 4 ? 4 : 16);
  if (c)
    return c;
  return (int)p1 - (int)p2;
}

/* FNV-1a over the endpoints in canonical order: both directions hash alike. */
static uint32_t tuple_hash(const struct tf_pkt *p) {
  const uint8_t *a1 = p->src, *a2 = p->dst;
  uint16_t p1 = p->sport, p2 = p->dport;
  if (ep_cmp(p->af, a1, p1, a2, p2) > 0) {
    a1 = p->dst;
    a2 = p->src;
    p1 = p->dport;
    p2 = p->sport;
  }
  uint32_t h = 2166136261u;
  size_t n = p->af == 4 ? 4 : 16;
  for (size_t i = 0; i < n; i++)
    h = (h ^ a1[i]) * 16777619u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ a2[i]) * 16777619u;
  h = (h ^ (p1 & 0xff)) * 16777619u;
  h = (h ^ (p1 >> 8)) * 16777619u;
  h = (h ^ (p2 & 0xff)) * 16777619u;
  h = (h ^ (p2 >> 8)) * 16777619u;
  return h ^ p->af;
}

/* -1 no match, else the direction of the packet in c. */
static int match(const struct tf_conn *c, const struct tf_pkt *p) {
  if (c->af != p->af)
    return -1;
  size_t n = p->af == 4 ? 4 : 16;
  const struct tf_side *s0 = &c->s[0], *s1 = &c->s[1];
  if (s0->port == p->sport && s1->port == p->dport &&
      !memcmp(s0->addr, p->src, n) && !memcmp(s1->addr, p->dst, n))
    return 0;
  if (s1->port == p->sport && s0->port == p->dport &&
      !memcmp(s1->addr, p->src, n) && !memcmp(s0->addr, p->dst, n))
    return 1;
  return -1;
}

static void table_grow(struct tlsfin_analyze *a) {
  size_t nb = a->nbuckets * 2;
  struct tf_conn **b = calloc(nb, sizeof *b);
  if (!b)
    return; /* keep the longer chains */
  for (size_t i = 0; i < a->nbuckets; i++) {
    struct tf_conn *c = a->buckets[i];
    while (c) {
      struct tf_conn *n = c->hnext;
      size_t j = c->hash & (nb - 1);
      c->hnext = b[j];
      b[j] = c;
      c = n;
    }
  }
  free(a->buckets);
  a->buckets = b;
  a->nbuckets = nb;
}

static void table_remove(struct tlsfin_analyze *a, struct tf_conn *c) {
  struct tf_conn **pp = &a->buckets[c->hash & (a->nbuckets - 1)];
  while (*pp && *pp != c)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = c->hnext;
  a->live--;
}

static void linger_unlink(struct tlsfin_analyze *a, struct tf_conn *c) {
  if (!c->lingering)
    return;
  if (c->lprev)
    c->lprev->lnext = c->lnext;
  else
    a->linger_head = c->lnext;
  if (c->lnext)
    c->lnext->lprev = c->lprev;
  else
    a->linger_tail = c->lprev;
  c->lprev = c->lnext = NULL;
  c->lingering = false;
}

static void linger_push(struct tlsfin_analyze *a, struct tf_conn *c) {
  linger_unlink(a, c);
  c->lprev = a->linger_tail;
  c->lnext = NULL;
  if (a->linger_tail)
    a->linger_tail->lnext = c;
  else
    a->linger_head = c;
  a->linger_tail = c;
  c->lingering = true;
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

static struct tf_conn *conn_new(struct tlsfin_analyze *a,
                                const struct tf_pkt *p, uint32_t hash) {
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
  int cl = sender_is_client ? 0 : 1;
  memcpy(c->s[cl].addr, p->src, n);
  c->s[cl].port = p->sport;
  memcpy(c->s[!cl].addr, p->dst, n);
  c->s[!cl].port = p->dport;
  c->af = p->af;
  c->hash = hash;
  c->id = a->next_id++;
  c->first_ts = p->ts;
  c->first_is_client = sender_is_client;
  c->start = TF_START_MIDSTREAM;
  tf_zeek_init(&c->zeek);
  tf_tls_init(&c->tls);
  c->tls.keylog = a->keylog;
  if (a->format == TLSFIN_FORMAT_LADDER && c->id == a->conn_id_wanted)
    c->ladder = calloc(1, sizeof *c->ladder);
  size_t j = hash & (a->nbuckets - 1);
  c->hnext = a->buckets[j];
  a->buckets[j] = c;
  if (++a->live > a->nbuckets)
    table_grow(a);
  return c;
}

/* ---- output ---- */

static void emit_pending(struct tlsfin_analyze *a, struct pend *p) {
  if (p->kind == PEND_MEM) {
    fwrite(p->s, 1, p->len, a->out);
    free(p->s);
    a->pend_bytes -= p->len;
  } else if (p->kind == PEND_SPILLED) {
    char buf[8192];
    uint64_t left = p->len;
    if (fseeko(a->spill, (off_t)p->off, SEEK_SET) == 0)
      while (left) {
        size_t n =
            fread(buf, 1, left < sizeof buf ? left : sizeof buf, a->spill);
        if (!n)
          break;
        fwrite(buf, 1, n, a->out);
        left -= n;
      }
    fseeko(a->spill, 0, SEEK_END);
  }
  memset(p, 0, sizeof *p);
}

/* Makes an entry for a record (NULL when the format prints nothing per
 * connection), in memory or, past PEND_MEM_MAX, in the spill file. */
static struct pend make_pend(struct tlsfin_analyze *a, char *s) {
  struct pend p = {0};
  if (!s) {
    p.kind = PEND_NONE;
    return p;
  }
  p.len = (uint32_t)strlen(s);
  if (a->pend_bytes + p.len > PEND_MEM_MAX &&
      (a->spill || (a->spill = tmpfile()) != NULL) &&
      fwrite(s, 1, p.len, a->spill) == p.len) {
    p.kind = PEND_SPILLED;
    p.off = a->spill_end;
    a->spill_end += p.len;
    free(s);
    return p;
  }
  p.kind = PEND_MEM;
  p.s = s;
  a->pend_bytes += p.len;
  return p;
}

/* Queue the record of connection id and write every record that is now in
 * order. */
static void queue_record(struct tlsfin_analyze *a, uint64_t id, char *s) {
  if (a->unordered) {
    if (s)
      fputs(s, a->out);
    free(s);
    return;
  }
  size_t off = (size_t)(id - a->emit_id);
  if (off >= a->pend_cap) {
    size_t ncap = a->pend_cap ? a->pend_cap : 256;
    while (ncap <= off)
      ncap *= 2;
    struct pend *np = calloc(ncap, sizeof *np);
    if (!np) { /* out of memory: order is lost, data is not */
      if (s)
        fputs(s, a->out);
      free(s);
      return;
    }
    for (size_t i = 0; i < a->pend_cap; i++)
      np[i] = a->pending[(a->pend_head + i) % a->pend_cap];
    free(a->pending);
    a->pending = np;
    a->pend_cap = ncap;
    a->pend_head = 0;
  }
  a->pending[(a->pend_head + off) % a->pend_cap] = make_pend(a, s);
  while (a->pend_cap && a->pending[a->pend_head].kind != PEND_EMPTY) {
    emit_pending(a, &a->pending[a->pend_head]);
    a->pend_head = (a->pend_head + 1) % a->pend_cap;
    a->emit_id++;
  }
}

static void count_server(struct tlsfin_analyze *a, const struct tf_conn *c,
                         const struct tf_result *r) {
  const struct tf_side *sv = &c->s[1];
  size_t n = c->af == 4 ? 4 : 16;
  struct server_stat *st = NULL;
  for (size_t i = 0; i < a->nservers; i++) {
    struct server_stat *x = &a->servers[i];
    if (x->af == c->af && x->port == sv->port &&
        !memcmp(x->addr, sv->addr, n)) {
      st = x;
      break;
    }
  }
  if (!st) {
    if (a->nservers == a->cap_servers) {
      size_t nc = a->cap_servers ? a->cap_servers * 2 : 64;
      struct server_stat *ns = realloc(a->servers, nc * sizeof *ns);
      if (!ns)
        return;
      a->servers = ns;
      a->cap_servers = nc;
    }
    st = &a->servers[a->nservers++];
    memset(st, 0, sizeof *st);
    st->af = c->af;
    memcpy(st->addr, sv->addr, n);
    st->port = sv->port;
  }
  st->conns++;
  if (r->has_rst)
    st->resets++;
  if (r->truncated)
    st->truncated++;
}

static void conn_finalize(struct tlsfin_analyze *a, struct tf_conn *c) {
  struct tf_result r;
  tf_flow_finish(c);
  tf_conn_verdict(c, &r);
  a->nconns++;
  a->counts[r.verdict]++;
  if (r.has_rst)
    a->cause_counts[r.cause]++;
  if (a->fail_on[r.verdict])
    a->failed = true;
  char *rec = NULL;
  struct tf_buf b = {0};
  switch (a->format) {
  case TLSFIN_FORMAT_JSONL:
    tf_report_jsonl(&b, c, &r);
    rec = b.p;
    break;
  case TLSFIN_FORMAT_TABLE:
    tf_report_table_row(&b, c, &r, a->color);
    rec = b.p;
    break;
  case TLSFIN_FORMAT_SUMMARY:
    count_server(a, c, &r);
    break;
  case TLSFIN_FORMAT_LADDER:
    if (c->ladder) {
      tf_report_ladder(a->out, c, &r);
      a->ladder_done = true;
    }
    break;
  }
  queue_record(a, c->id, rec);
  linger_unlink(a, c);
  table_remove(a, c);
  tf_flow_release(c);
  free(c->ladder);
  free(c);
}

static bool conn_done(const struct tf_conn *c) {
  return c->s[0].rst || c->s[1].rst || (c->s[0].fin && c->s[1].fin);
}

static void expire(struct tlsfin_analyze *a, double now) {
  while (a->linger_head && a->linger_head->last_ts + LINGER_SECONDS < now)
    conn_finalize(a, a->linger_head);
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

static void on_packet(struct tlsfin_analyze *a, const struct tf_pkt *p) {
  uint32_t h = tuple_hash(p);
  struct tf_conn *c = a->buckets[h & (a->nbuckets - 1)];
  int dir = -1;
  for (; c; c = c->hnext)
    if (c->hash == h && (dir = match(c, p)) >= 0)
      break;
  if (c && syn_starts_new(c, dir, p)) {
    conn_finalize(a, c);
    c = NULL;
  }
  if (!c) {
    c = conn_new(a, p, h);
    if (!c)
      return;
    dir = match(c, p);
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
    struct tf_ladder_row row = {a->gpkt,  p->no,  p->ts,  (uint8_t)dir,
                                p->flags, p->seq, p->ack, p->len};
    tf_ladder_add(c->ladder, &row);
  }
  tf_zeek_packet(&c->zeek, dir == (c->first_is_client ? 0 : 1), p->flags,
                 p->seq, p->ack, p->len, p->win,
                 c->first_is_client ? c->s[0].port : c->s[1].port,
                 c->first_is_client ? c->s[1].port : c->s[0].port);
  tf_flow_packet(c, dir, p, a->gpkt);
  c->last_ts = p->ts;
  c->last_pkt = a->gpkt;
  if (conn_done(c))
    linger_push(a, c); /* refreshes its place: lingers after its last packet */
}

static int cmp_conn_id(const void *x, const void *y) {
  const struct tf_conn *a = *(struct tf_conn *const *)x;
  const struct tf_conn *b = *(struct tf_conn *const *)y;
  return a->id < b->id ? -1 : a->id > b->id ? 1 : 0;
}

/* End of input: finalize every connection still in the table, in id order
 * so that ordered output drains as we go. */
static void flush_all(struct tlsfin_analyze *a) {
  while (a->live) {
    size_t n = a->live, k = 0;
    struct tf_conn **all = malloc(n * sizeof *all);
    if (!all) { /* out of memory: any order still gives every record */
      for (size_t i = 0; i < a->nbuckets && !k; i++)
        if (a->buckets[i]) {
          conn_finalize(a, a->buckets[i]);
          k = 1;
        }
      continue;
    }
    for (size_t i = 0; i < a->nbuckets; i++)
      for (struct tf_conn *c = a->buckets[i]; c; c = c->hnext)
        all[k++] = c;
    qsort(all, k, sizeof *all, cmp_conn_id);
    for (size_t i = 0; i < k; i++)
      conn_finalize(a, all[i]);
    free(all);
  }
}

static int cmp_u64(const void *x, const void *y) {
  const struct server_stat *a = x, *b = y;
  uint64_t ka = a->resets + a->truncated, kb = b->resets + b->truncated;
  return ka < kb ? 1 : ka > kb ? -1 : 0;
}

static void write_summary(struct tlsfin_analyze *a) {
  FILE *o = a->out;
  fprintf(o, "connections: %llu\n\nverdict                 count\n",
          (unsigned long long)a->nconns);
  for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
    if (a->counts[v])
      fprintf(o, "%-22s %6llu  %s\n", tlsfin_verdict_name((tlsfin_verdict)v),
              (unsigned long long)a->counts[v],
              tlsfin_verdict_help((tlsfin_verdict)v));
  bool any = false;
  for (int k = 0; k < TLSFIN_CAUSE_COUNT; k++)
    if (a->cause_counts[k]) {
      if (!any)
        fprintf(o, "\nrst cause               count\n");
      any = true;
      fprintf(o, "%-22s %6llu  %s\n", tlsfin_cause_name((tlsfin_cause)k),
              (unsigned long long)a->cause_counts[k],
              tlsfin_cause_help((tlsfin_cause)k));
    }
  if (a->nservers) /* qsort(NULL, 0, ...) is undefined */
    qsort(a->servers, a->nservers, sizeof *a->servers, cmp_u64);
  any = false;
  for (size_t i = 0; i < a->nservers && i < 10; i++) {
    const struct server_stat *s = &a->servers[i];
    if (!s->resets && !s->truncated)
      break;
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

int tlsfin_analyze_finish(struct tlsfin_analyze *a) {
  flush_all(a);
  if (a->format == TLSFIN_FORMAT_SUMMARY)
    write_summary(a);
  if (a->format == TLSFIN_FORMAT_LADDER && !a->ladder_done) {
    seterr(a, "no connection %llu in the input (it has %llu)",
           (unsigned long long)a->conn_id_wanted,
           (unsigned long long)a->nconns);
    return -1;
  }
  fflush(a->out);
  return 0;
}

void tlsfin_analyze_free(struct tlsfin_analyze *a) {
  if (!a)
    return;
  for (size_t i = 0; i < a->nbuckets; i++) {
    struct tf_conn *c = a->buckets[i];
    while (c) {
      struct tf_conn *n = c->hnext;
      tf_flow_release(c);
      free(c->ladder);
      free(c);
      c = n;
    }
  }
  for (size_t i = 0; i < a->pend_cap; i++)
    if (a->pending[i].kind == PEND_MEM)
      free(a->pending[i].s);
  free(a->pending);
  if (a->spill)
    fclose(a->spill);
  free(a->buckets);
  free(a->servers);
  free(a->filter);
  tf_keylog_free(a->keylog);
  free(a);
}

/* ---- input ---- */

static double now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int analyze_pcap(struct tlsfin_analyze *a, pcap_t *pc, const char *path,
                        long long fsize);

static void open_failed(struct tlsfin_analyze *a, const char *path,
                        const char *errbuf) {
  /* libpcap's "unknown file format" is cryptic for a user who passed a
   * text file or a truncated header. */
  if (strstr(errbuf, "unknown file format") ||
      strstr(errbuf, "truncated dump file") ||
      strstr(errbuf, "truncated pcapng"))
    seterr(a, "%s: not a pcap or pcapng capture (%s)", path, errbuf);
  else
    seterr(a, "%s: %s", path, errbuf);
}

int tlsfin_analyze_stream(struct tlsfin_analyze *a, FILE *f, const char *name) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(
      f, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!pc) {
    open_failed(a, name, errbuf);
    return -1;
  }
  return analyze_pcap(a, pc, name, 0);
}

int tlsfin_analyze_file(struct tlsfin_analyze *a, const char *path) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pc = pcap_open_offline_with_tstamp_precision(
      path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  if (!pc) {
    open_failed(a, path, errbuf);
    return -1;
  }
  long long fsize = 0;
  struct stat st;
  if (strcmp(path, "-") != 0 && stat(path, &st) == 0) {
    fsize = (long long)st.st_size;
    /* keys carried inside the capture (pcapng DSB) */
    struct tf_keylog *k = a->keylog ? a->keylog : tf_keylog_new();
    if (k && tf_pcapng_load_secrets(k, path) > 0)
      a->keylog = k;
    else if (k != a->keylog)
      tf_keylog_free(k);
  }
  return analyze_pcap(a, pc, path, fsize);
}

/* Reads pc to its end and closes it. */
static int analyze_pcap(struct tlsfin_analyze *a, pcap_t *pc, const char *path,
                        long long fsize) {
  a->path = path;
  a->bad_packets = 0;
  if (a->format == TLSFIN_FORMAT_TABLE && !a->table_header_done) {
    tf_report_table_header(a->out, a->color);
    a->table_header_done = true;
  }
  int lt = pcap_datalink(pc);
  if (!tf_linktype_supported(lt)) {
    seterr(a,
           "%s: unsupported link type %s (%d); supported: Ethernet, "
           "Linux cooked SLL/SLL2, raw IP, BSD loopback",
           path, tf_linktype_name(lt), lt);
    pcap_close(pc);
    return -1;
  }
  if (a->filter) {
    struct bpf_program prog;
    if (pcap_compile(pc, &prog, a->filter, 1, PCAP_NETMASK_UNKNOWN) < 0 ||
        pcap_setfilter(pc, &prog) < 0) {
      seterr(a, "--filter '%s': %s", a->filter, pcap_geterr(pc));
      pcap_close(pc);
      return -1;
    }
    pcap_freecode(&prog);
  }
  bool progress = a->progress && fsize > (long long)PROGRESS_MIN_BYTES;
  double last_progress = now_mono();

  struct pcap_pkthdr *hdr;
  const u_char *data;
  uint64_t no = 0;
  int rc, ret = 0;
  char firstbad[256] = "";
  while ((rc = pcap_next_ex(pc, &hdr, &data)) == 1) {
    no++;
    a->gpkt++;
    struct tf_pkt p;
    const char *why = NULL;
    int d = tf_decode_packet(lt, data, hdr->caplen, &p, &why);
    if (d == TF_DECODE_BAD) {
      if (a->bad_packets < MAX_BAD_REPORTS)
        fprintf(stderr, "tlsfin: %s: packet %llu: %s (skipped)\n", path,
                (unsigned long long)no, why);
      if (!a->bad_packets)
        snprintf(firstbad, sizeof firstbad, "packet %llu: %s",
                 (unsigned long long)no, why);
      a->bad_packets++;
      continue;
    }
    if (d != TF_DECODE_TCP)
      continue;
    p.ts = (double)hdr->ts.tv_sec + hdr->ts.tv_usec / 1e6;
    p.no = no;
    if (a->linger_head)
      expire(a, p.ts);
    on_packet(a, &p);
    if (progress && (no & 0xffff) == 0) {
      double t = now_mono();
      if (t - last_progress > 1.0) {
        long pos = ftell(pcap_file(pc));
        fprintf(a->progress, "\rtlsfin: %s: %3.0f%% (%llu packets)", path,
                pos > 0 ? 100.0 * (double)pos / (double)fsize : 0.0,
                (unsigned long long)no);
        last_progress = t;
      }
    }
  }
  if (progress)
    fprintf(a->progress, "\r\033[K");
  if (rc == PCAP_ERROR) {
    seterr(a, "%s: after packet %llu: %s", path, (unsigned long long)no,
           pcap_geterr(pc));
    ret = -1;
  } else if (a->bad_packets) {
    seterr(a, "%s: %llu malformed packet(s) skipped, first at %s", path,
           (unsigned long long)a->bad_packets, firstbad);
    ret = -1;
  }
  pcap_close(pc);
  /* Connections do not span files: each capture is finished on its own. */
  flush_all(a);
  return ret;
}

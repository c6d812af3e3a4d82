/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin watch: live interfaces are the source, the analyze engine owns the
 * connections, and the sinks are the rows (table/JSONL, written as each
 * connection ends), the flight recorder, the metrics and the summary.  What
 * differs from analyze is time: the engine's clock is the wall clock, so an
 * ended connection is written after its linger even when no packet comes,
 * and idle ones are finished by timeouts (docs/watch.md).
 *
 * Capture uses libpcap's TPACKET_V3 ring (not immediate mode, which makes
 * libpcap fall back to TPACKET_V2): packets reach the engine within the
 * 100 ms block timeout, well inside the 2 s linger before a row is written.
 *
 * -j N (N > 1): each interface is opened N times and the N sockets join one
 * PACKET_FANOUT group (hash mode: the kernel's symmetric flow hash, so both
 * directions of a connection reach the same socket).  Worker k reads socket
 * k of every interface into an engine of its own (its connections, its
 * timeouts; connection ids from one shared counter) and its own recorder
 * shard (the per-packet sink: no lock per packet).  The sinks called once
 * per finished connection (rows, summary, metrics, --fail-on) are shared
 * under one mutex; the main thread serves the metrics, tails the key log,
 * drains the kernel collector and writes the summaries from totals the
 * workers publish.  -j 1 is the single loop it always was (docs/watch.md).
 */
#include "tlsfin/watch.h"

#include <errno.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "kernel.h"
#include "keylog.h"
#include "kjoin.h"
#include "metrics.h"
#include "recorder.h"
#include "report.h"
#include "sinks.h"
#include "source.h"

#define MAX_IFACES 16
#define POLL_MS 100
/* pcap_dispatch calls per interface per wake-up, so one busy interface
 * cannot starve the others, the timers or the metrics endpoint. */
#define DISPATCH_ROUNDS 64
/* A drop warning at most this often (seconds). */
#define DROP_WARN_EVERY 10.0

/* Defaults: docs/watch.md explains each (attempt and memory: engine.h).
 * Live, idle connections are written after an hour so that rows come and
 * memory follows what is open now, not what ever was. */
#define DEF_IDLE 3600.0
#define DEF_HALF_CLOSED 300.0
#define DEF_BUFFER_MB 64u
#define DEF_SNAPLEN 65535u

/* An interface, whatever the number of threads reading it. */
struct iface {
  char *name;
  int rec_iface;            /* the recorder's index for it */
  uint64_t drops, if_drops; /* from pcap_stats (all its sockets), last read */
  uint64_t drops_warned;
};

/* One capture socket: the interface's only one, or a member of its fanout
 * group.  Read and queried (pcap_stats) only by its worker. */
struct handle {
  pcap_t *pc;
  struct tf_source src;
  uint64_t drops, if_drops; /* from pcap_stats, as last read */
};

/* What a running worker last published for the main thread. */
struct worker_snap {
  struct tf_engine_stats st;
  uint64_t packets, bytes, rec_dropped;
  uint64_t drops[MAX_IFACES], if_drops[MAX_IFACES];
};

/* A capture thread (with -j 1 the main thread runs worker 0 itself): a
 * socket per interface, an engine, a recorder shard. */
struct worker {
  struct tlsfin_watch *w;
  int idx;
  struct handle h[MAX_IFACES]; /* h[i] reads w->ifs[i] */
  int nh;
  struct tf_engine *engine;
  struct tf_recorder_shard *rec; /* NULL: the recorder's own rings */
  struct tf_sink rec_sink, shared_sink;
  uint64_t packets, bytes; /* captured */
  double skip_before;      /* fanout: packets older than the group */
  double last_rec_warn, last_stats, last_publish;
  pthread_t thread;
  bool thread_started;
  int rc;
  char err[512];
  pthread_mutex_t snap_lock;
  struct worker_snap snap;
};

struct tlsfin_watch {
  char err[512];
  char kernel_status[300];
  /* configuration */
  char *names[MAX_IFACES];
  int nnames;
  char *filter;
  struct tf_filter compiled;
  struct tf_tunnel_ports tunnel_ports; /* UDP tunnels (decode_tunnel.c) */
  enum tlsfin_format format;
  FILE *out, *summary_out;
  bool color;
  bool fail_on[TLSFIN_VERDICT_COUNT];
  unsigned buffer_mb, snaplen, summary_every;
  int threads_wanted; /* -j: 0 = one per online CPU */
  double duration;
  struct tf_engine_opts eo;
  char *record_dir;
  bool record_set[TLSFIN_VERDICT_COUNT];
  bool record_custom;
  uint64_t record_max_mb;
  unsigned record_packets;
  char *metrics_addr;
  enum tlsfin_kernel_mode kernel_mode;
  bool libssl;
  char *keylog_path;
  /* running */
  bool started;
  atomic_int stop;
  atomic_bool failed;
  struct iface ifs[MAX_IFACES];
  int nifs;
  struct worker *workers; /* nworkers of them */
  int nworkers;
  bool threaded;        /* nworkers > 1: workers run in threads */
  bool threads_running; /* between spawning and joining them */
  _Atomic uint64_t next_id;
  /* -j > 1: the sinks of finished connections (records, summary, metrics,
   * fail) and the main thread's reads of them */
  pthread_mutex_t shared_lock;
  /* the kernel join: events from the main thread, lookups from workers */
  pthread_mutex_t kjoin_lock;
  /* the key log file's reader (keylog_f, keylog_off): every thread reads
   * what was appended before it reads packets */
  pthread_mutex_t keylog_lock;
  bool tunnel_warned; /* under shared_lock */
  double t_joined;    /* fanout groups complete */
  struct tf_records *records;
  struct tf_summary *summary;
  struct tf_metrics *metrics;
  struct tf_metrics_live live;
  struct tf_recorder *recorder;
  struct tf_kernel *kernel;
  struct tf_kjoin *kjoin;
  struct tf_keylog *keylog;
  FILE *keylog_f;
  off_t keylog_off;
  struct tf_sink fail_sink, rec_sink;
  double t_start, last_summary, last_second, last_drop_warn;
};

static void seterr(struct tlsfin_watch *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void seterr(struct tlsfin_watch *w, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->err, sizeof w->err, fmt, ap);
  va_end(ap);
}

static double now_real(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct tlsfin_watch *tlsfin_watch_new(void) {
  struct tlsfin_watch *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->out = stdout;
  w->summary_out = stderr;
  w->threads_wanted = 1;
  pthread_mutex_init(&w->shared_lock, NULL);
  pthread_mutex_init(&w->kjoin_lock, NULL);
  pthread_mutex_init(&w->keylog_lock, NULL);
  w->buffer_mb = DEF_BUFFER_MB;
  w->snaplen = DEF_SNAPLEN;
  tf_engine_opts_default(&w->eo);
  tf_tunnel_ports_default(&w->tunnel_ports);
  w->eo.idle_timeout = DEF_IDLE;
  w->eo.half_closed_timeout = DEF_HALF_CLOSED;
  w->record_max_mb = TF_RECORDER_DEFAULT_DIR_MAX >> 20;
  w->record_packets = TF_RECORDER_DEFAULT_RING_PACKETS;
  for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
    w->record_set[v] = v != TLSFIN_VERDICT_TLS_CLEAN &&
                       v != TLSFIN_VERDICT_TCP_CLEAN &&
                       v != TLSFIN_VERDICT_TLS_ONE_SIDED;
  return w;
}

const char *tlsfin_watch_error(const struct tlsfin_watch *w) { return w->err; }

static int set_str(char **dst, const char *s) {
  char *d = s ? strdup(s) : NULL;
  if (s && !d)
    return -1;
  free(*dst);
  *dst = d;
  return 0;
}

int tlsfin_watch_add_interface(struct tlsfin_watch *w, const char *name) {
  if (!name || !*name) {
    seterr(w, "-i: empty interface name");
    return -1;
  }
  if (w->nnames == MAX_IFACES) {
    seterr(w, "-i: at most %d interfaces", MAX_IFACES);
    return -1;
  }
  if (!(w->names[w->nnames] = strdup(name))) {
    seterr(w, "out of memory");
    return -1;
  }
  w->nnames++;
  return 0;
}
int tlsfin_watch_set_filter(struct tlsfin_watch *w, const char *bpf) {
  return set_str(&w->filter, bpf);
}
int tlsfin_watch_set_format(struct tlsfin_watch *w, enum tlsfin_format f) {
  if (f != TLSFIN_FORMAT_TABLE && f != TLSFIN_FORMAT_JSONL) {
    seterr(w, "watch writes table or jsonl");
    return -1;
  }
  w->format = f;
  return 0;
}
int tlsfin_watch_set_output(struct tlsfin_watch *w, FILE *out) {
  w->out = out;
  return 0;
}
int tlsfin_watch_set_color(struct tlsfin_watch *w, bool on) {
  w->color = on;
  return 0;
}
int tlsfin_watch_set_keylog(struct tlsfin_watch *w, const char *path) {
  return set_str(&w->keylog_path, path);
}
int tlsfin_watch_fail_on(struct tlsfin_watch *w, tlsfin_verdict v) {
  if ((int)v < 0 || v >= TLSFIN_VERDICT_COUNT) {
    seterr(w, "unknown verdict");
    return -1;
  }
  w->fail_on[v] = true;
  return 0;
}
int tlsfin_watch_set_buffer_mb(struct tlsfin_watch *w, unsigned mb) {
  if (mb < 1 || mb > 4096) {
    seterr(w, "--buffer-mb: %u is not between 1 and 4096", mb);
    return -1;
  }
  w->buffer_mb = mb;
  return 0;
}
int tlsfin_watch_set_snaplen(struct tlsfin_watch *w, unsigned snaplen) {
  if (snaplen < 96 || snaplen > 262144) {
    seterr(w, "--snaplen: %u is not between 96 and 262144", snaplen);
    return -1;
  }
  w->snaplen = snaplen;
  return 0;
}
int tlsfin_watch_set_timeouts(struct tlsfin_watch *w, double linger,
                              double attempt, double idle, double half_closed) {
  if (linger == 0) {
    seterr(w, "--linger must be more than 0");
    return -1;
  }
  if (linger > 0)
    w->eo.linger = linger;
  if (attempt >= 0)
    w->eo.attempt_timeout = attempt;
  if (idle >= 0)
    w->eo.idle_timeout = idle;
  if (half_closed >= 0)
    w->eo.half_closed_timeout = half_closed;
  return 0;
}
int tlsfin_watch_set_max_memory(struct tlsfin_watch *w, uint64_t bytes) {
  if (bytes && bytes < (1u << 20)) {
    seterr(w, "--max-memory: at least 1 MB");
    return -1;
  }
  w->eo.max_memory = (size_t)bytes;
  return 0;
}
int tlsfin_watch_set_tunnel_port(struct tlsfin_watch *w, const char *spec) {
  char err[200];
  if (tf_tunnel_ports_parse(&w->tunnel_ports, spec, err, sizeof err) < 0) {
    seterr(w, "--tunnel-port: %s", err);
    return -1;
  }
  return 0;
}
int tlsfin_watch_set_record(struct tlsfin_watch *w, const char *dir) {
  return set_str(&w->record_dir, dir);
}
int tlsfin_watch_record_verdict(struct tlsfin_watch *w, tlsfin_verdict v) {
  if ((int)v < 0 || v >= TLSFIN_VERDICT_COUNT) {
    seterr(w, "unknown verdict");
    return -1;
  }
  if (!w->record_custom) {
    memset(w->record_set, 0, sizeof w->record_set);
    w->record_custom = true;
  }
  w->record_set[v] = true;
  return 0;
}
int tlsfin_watch_set_record_max_mb(struct tlsfin_watch *w, uint64_t mb) {
  if (mb > (UINT64_MAX >> 20)) {
    seterr(w, "--record-max-mb: too large");
    return -1;
  }
  w->record_max_mb = mb;
  return 0;
}
int tlsfin_watch_set_record_packets(struct tlsfin_watch *w, unsigned n) {
  if (n < 1 || n > 65536) {
    seterr(w, "--record-packets: %u is not between 1 and 65536", n);
    return -1;
  }
  w->record_packets = n;
  return 0;
}
int tlsfin_watch_set_metrics(struct tlsfin_watch *w, const char *addr) {
  return set_str(&w->metrics_addr, addr);
}
int tlsfin_watch_set_summary(struct tlsfin_watch *w, FILE *err,
                             unsigned seconds) {
  w->summary_out = err;
  w->summary_every = seconds;
  return 0;
}
int tlsfin_watch_set_duration(struct tlsfin_watch *w, double seconds) {
  if (seconds < 0) {
    seterr(w, "--duration must not be negative");
    return -1;
  }
  w->duration = seconds;
  return 0;
}
int tlsfin_watch_set_threads(struct tlsfin_watch *w, int n) {
  if (n < 0 || n > TLSFIN_WATCH_MAX_THREADS) {
    seterr(w, "-j: %d is not between 0 and %d", n, TLSFIN_WATCH_MAX_THREADS);
    return -1;
  }
  w->threads_wanted = n;
  return 0;
}
int tlsfin_watch_threads(const struct tlsfin_watch *w) {
  return w->nworkers ? w->nworkers : w->threads_wanted;
}
int tlsfin_watch_set_kernel(struct tlsfin_watch *w, enum tlsfin_kernel_mode m) {
  w->kernel_mode = m;
  return 0;
}
int tlsfin_watch_set_libssl(struct tlsfin_watch *w, bool on) {
  w->libssl = on;
  return 0;
}
const char *tlsfin_watch_kernel_status(const struct tlsfin_watch *w) {
  return w->kernel_status;
}
bool tlsfin_watch_failed(const struct tlsfin_watch *w) {
  return atomic_load(&w->failed);
}
void tlsfin_watch_stop(struct tlsfin_watch *w) { atomic_store(&w->stop, 1); }

/* ---- sinks of watch ---- */

static void fail_conn(void *ctx, const struct tf_conn *c,
                      const struct tf_result *r) {
  struct tlsfin_watch *w = ctx;
  (void)c;
  if (w->fail_on[r->verdict])
    atomic_store(&w->failed, true);
}

static void rec_packet(void *ctx, const struct tf_conn *c, int dir,
                       const struct tf_pkt *p, const struct tf_raw *raw) {
  struct worker *k = ctx;
  (void)dir;
  if (!raw)
    return;
  if (k->rec)
    tf_recorder_shard_packet(k->rec, c->id, raw->iface, p->ts, raw->data,
                             raw->caplen, raw->len);
  else
    tf_recorder_packet(k->w->recorder, c->id, raw->iface, p->ts, raw->data,
                       raw->caplen, raw->len);
}

static void rec_conn(void *ctx, const struct tf_conn *c,
                     const struct tf_result *r) {
  struct worker *wk = ctx;
  struct tlsfin_watch *w = wk->w;
  bool keep = w->record_set[r->verdict];
  char comment[1024] = "";
  char keys[2048] = "";
  size_t klen = 0;
  if (keep) {
    char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
    tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
    tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
    int n = snprintf(comment, sizeof comment,
                     "tlsfin watch: %s:%u -> %s:%u verdict %s: %s", a0,
                     c->s[0].port, a1, c->s[1].port,
                     tlsfin_verdict_name(r->verdict), r->explain);
    if (r->has_rst && n > 0 && (size_t)n < sizeof comment)
      snprintf(comment + n, sizeof comment - (size_t)n,
               " RST by the %s, cause %s (%s): %s",
               r->rst_by ? "server" : "client", tlsfin_cause_name(r->cause),
               tlsfin_confidence_name(r->confidence), r->rst_detail);
    const struct tf_keys *k =
        w->keylog && c->tls.client_hello
            ? tf_keylog_find(w->keylog, c->tls.client_random)
            : NULL;
    if (k) { /* a copy: the main loop may be adding to the key log */
      struct tf_keys copy;
      tf_keylog_read(w->keylog, k, &copy);
      klen = tf_keylog_format(&copy, c->tls.client_random, keys, sizeof keys);
    }
  }
  int rc = wk->rec ? tf_recorder_shard_end(wk->rec, c->id, keep, comment,
                                           klen ? keys : NULL, klen)
                   : tf_recorder_end(w->recorder, c->id, keep, comment,
                                     klen ? keys : NULL, klen);
  if (rc < 0) {
    double t = now_real();
    if (t - wk->last_rec_warn > DROP_WARN_EVERY) {
      fprintf(stderr, "tlsfin watch: warning: --record: %s\n",
              wk->rec ? tf_recorder_shard_error(wk->rec)
                      : tf_recorder_error(w->recorder));
      wk->last_rec_warn = t;
    }
  }
}

/* The kernel's flow hash reads these tunnels' outer headers only (UDP
 * ports, MPLS labels): the two directions of a connection inside may be
 * given to two threads (docs/watch.md, "Threads"). */
static bool tunnel_splits(const struct tf_conn *c) {
  if (!c->tunnel)
    return false;
  for (unsigned i = 0; i < c->tunnel->n; i++) {
    unsigned t = c->tunnel->l[i].type;
    if (t != TF_TUN_IPIP && t != TF_TUN_GRE && t != TF_TUN_ERSPAN &&
        t != TF_TUN_PPPOE)
      return true;
  }
  return false;
}

/* -j > 1: every sink of finished connections that the workers share, in
 * the order -j 1 adds them, under one lock (once per connection). */
static void shared_conn(void *ctx, const struct tf_conn *c,
                        const struct tf_result *r) {
  struct worker *k = ctx;
  struct tlsfin_watch *w = k->w;
  pthread_mutex_lock(&w->shared_lock);
  if (!w->tunnel_warned && tunnel_splits(c)) {
    w->tunnel_warned = true;
    fprintf(stderr,
            "tlsfin watch: warning: -j %d: tunneled traffic (UDP tunnels or "
            "MPLS): the kernel spreads it by its outer headers, so the two "
            "directions of a connection inside may go to different threads "
            "and be reported as two one-sided connections; use -j 1 for "
            "such traffic\n",
            w->nworkers);
  }
  fail_conn(w, c, r);
  if (w->metrics)
    tf_metrics_sink(w->metrics)->conn(w->metrics, c, r);
  struct tf_sink *rs = tf_records_sink(w->records);
  struct tf_sink *ss = tf_summary_sink(w->summary);
  if (rs->conn)
    rs->conn(rs->ctx, c, r);
  if (ss->conn)
    ss->conn(ss->ctx, c, r);
  pthread_mutex_unlock(&w->shared_lock);
}

static void shared_open(void *ctx, const struct tf_conn *c) {
  struct worker *k = ctx;
  struct tlsfin_watch *w = k->w;
  struct tf_sink *rs = tf_records_sink(w->records);
  struct tf_sink *ss = tf_summary_sink(w->summary);
  if (!rs->open && !ss->open)
    return;
  pthread_mutex_lock(&w->shared_lock);
  if (rs->open)
    rs->open(rs->ctx, c);
  if (ss->open)
    ss->open(ss->ctx, c);
  pthread_mutex_unlock(&w->shared_lock);
}

static void enrich(void *ctx, struct tf_conn *c) {
  struct tlsfin_watch *w = ctx;
  pthread_mutex_lock(&w->kjoin_lock);
  tf_kjoin_apply(w->kjoin, c);
  pthread_mutex_unlock(&w->kjoin_lock);
}

static void on_kevent(void *ctx, const struct tf_kevent *e) {
  struct tlsfin_watch *w = ctx;
  w->live.kernel_events++;
  pthread_mutex_lock(&w->kjoin_lock);
  tf_kjoin_event(w->kjoin, e);
  pthread_mutex_unlock(&w->kjoin_lock);
}

/* ---- start / stop ---- */

static void join_workers(struct tlsfin_watch *w);

static void close_all(struct tlsfin_watch *w) {
  join_workers(w);
  for (int k = 0; k < w->nworkers; k++) {
    struct worker *wk = &w->workers[k];
    for (int i = 0; i < wk->nh; i++)
      if (wk->h[i].pc)
        pcap_close(wk->h[i].pc);
    tf_engine_free(wk->engine);
    tf_recorder_shard_free(wk->rec);
    pthread_mutex_destroy(&wk->snap_lock);
  }
  free(w->workers);
  w->workers = NULL;
  w->nworkers = 0;
  w->threaded = false;
  for (int i = 0; i < w->nifs; i++)
    free(w->ifs[i].name);
  w->nifs = 0;
  tf_records_free(w->records);
  w->records = NULL;
  tf_summary_free(w->summary);
  w->summary = NULL;
  tf_metrics_free(w->metrics);
  w->metrics = NULL;
  tf_recorder_free(w->recorder);
  w->recorder = NULL;
  if (w->kernel)
    tf_kernel_close(w->kernel);
  w->kernel = NULL;
  tf_kjoin_free(w->kjoin);
  w->kjoin = NULL;
  tf_filter_free(&w->compiled);
  if (w->keylog_f)
    fclose(w->keylog_f);
  w->keylog_f = NULL;
  w->started = false;
}

/* Reads what was appended to the key log since the last call: programs
 * write SSLKEYLOGFILE lines as their connections start, after watch did.
 * Only whole lines are taken.  Any thread (keylog_lock). */
static void keylog_tail_locked(struct tlsfin_watch *w);
static void keylog_tail(struct tlsfin_watch *w) {
  if (!w->keylog_path)
    return;
  pthread_mutex_lock(&w->keylog_lock);
  keylog_tail_locked(w);
  pthread_mutex_unlock(&w->keylog_lock);
}
static void keylog_tail_locked(struct tlsfin_watch *w) {
  if (!w->keylog_f && !(w->keylog_f = fopen(w->keylog_path, "r")))
    return; /* not created yet */
  struct stat st;
  if (fstat(fileno(w->keylog_f), &st) < 0)
    return;
  if (st.st_size < w->keylog_off) /* truncated or replaced: start over */
    w->keylog_off = 0;
  if (st.st_size == w->keylog_off)
    return;
  size_t want = (size_t)(st.st_size - w->keylog_off);
  if (want > (64u << 20))
    want = 64u << 20;
  char *buf = malloc(want);
  if (!buf)
    return;
  if (fseeko(w->keylog_f, w->keylog_off, SEEK_SET) == 0) {
    size_t n = fread(buf, 1, want, w->keylog_f);
    size_t whole = n;
    while (whole && buf[whole - 1] != '\n')
      whole--;
    if (whole) {
      tf_keylog_add_text(w->keylog, buf, whole, NULL, NULL);
      w->keylog_off += (off_t)whole;
    }
  }
  clearerr(w->keylog_f);
  free(buf);
}

/* ---- opening ---- */

/* libpcap's handle on one interface, activated; NULL with the message set. */
static pcap_t *open_pcap(struct tlsfin_watch *w, const char *name,
                         unsigned buffer_mb) {
  char eb[PCAP_ERRBUF_SIZE] = "";
  pcap_t *pc = pcap_create(name, eb);
  if (!pc) {
    seterr(w, "-i %s: %s", name, eb);
    return NULL;
  }
  pcap_set_snaplen(pc, (int)w->snaplen);
  pcap_set_promisc(pc, 1);
  pcap_set_timeout(pc, POLL_MS);
  /* --buffer-mb 2048 and more are past an int's bytes: libpcap's most. */
  uint64_t bytes = (uint64_t)buffer_mb << 20;
  pcap_set_buffer_size(pc, bytes > INT_MAX ? INT_MAX : (int)bytes);
  int rc = pcap_activate(pc);
  if (rc < 0) {
    const char *msg = pcap_geterr(pc);
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
      seterr(w, "-i %s: no such interface (see 'ip link')", name);
    else if (rc == PCAP_ERROR_PERM_DENIED)
      seterr(w,
             "-i %s: no permission to capture (run as root or give tlsfin "
             "CAP_NET_RAW and CAP_NET_ADMIN)",
             name);
    else if (rc == PCAP_ERROR_IFACE_NOT_UP)
      seterr(w, "-i %s: the interface is down", name);
    else
      seterr(w, "-i %s: %s", name, *msg ? msg : pcap_statustostr(rc));
    pcap_close(pc);
    return NULL;
  }
  if (rc > 0)
    fprintf(stderr, "tlsfin watch: warning: -i %s: %s\n", name,
            pcap_statustostr(rc));
  /* "any" gives Linux cooked headers; SLL2 also names the interface. */
  if (!strcmp(name, "any"))
    pcap_set_datalink(pc, DLT_LINUX_SLL2);
  return pc;
}

/* Joins packet socket fd to an interface's fanout group in hash mode.  The
 * first socket creates the group (*id < 0) under an id the kernel picks
 * unused (PACKET_FANOUT_FLAG_UNIQUEID, Linux 4.6), so that we never join
 * another program's group; a kernel without it gets an id made of our pid
 * and the interface's slot.  -1 with errno. */
static int fanout_join(int fd, int *id, int slot) {
  if (*id < 0) {
    int arg = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) == 0) {
      int got = 0;
      socklen_t len = sizeof got;
      if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &got, &len) < 0)
        return -1;
      *id = got & 0xffff;
      return 0;
    }
    if (errno != EINVAL)
      return -1;
    *id = (int)((((unsigned)getpid() << 4) | (unsigned)slot) & 0xffff);
  }
  int arg = *id | (PACKET_FANOUT_HASH << 16);
  return setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg);
}

/* Opens interface `name` once per worker; with -j > 1 the sockets form one
 * fanout group.  When the very first socket cannot join a group (a kernel
 * or sandbox without PACKET_FANOUT), watch says so and goes on with one
 * thread; a later failure is an error. */
static int open_iface(struct tlsfin_watch *w, const char *name) {
  char eb[PCAP_ERRBUF_SIZE] = "";
  int i = w->nifs;
  struct iface *f = &w->ifs[i];
  memset(f, 0, sizeof *f);
  if (!(f->name = strdup(name))) {
    seterr(w, "out of memory");
    return -1;
  }
  w->nifs++; /* owned from here: close_all releases it */
  f->rec_iface = i;
  int group = -1;
  for (int k = 0; k < w->nworkers; k++) {
    struct worker *wk = &w->workers[k];
    struct handle *h = &wk->h[i];
    memset(h, 0, sizeof *h);
    /* --buffer-mb is the interface's: its sockets share it (at least
     * 8 MiB each, a burst on one flow still fits). */
    unsigned mb = w->buffer_mb / (unsigned)w->nworkers;
    unsigned floor_mb = w->buffer_mb < 8 ? w->buffer_mb : 8;
    if (mb < floor_mb)
      mb = floor_mb;
    if (!(h->pc = open_pcap(w, f->name, mb)))
      return -1;
    wk->nh = i + 1; /* owned: close_all closes it */
    if (w->threaded && fanout_join(pcap_fileno(h->pc), &group, i) < 0) {
      int e = errno;
      if (i != 0 || k != 0) {
        seterr(w, "-i %s: -j %d: joining the PACKET_FANOUT group: %s", name,
               w->nworkers, strerror(e));
        return -1;
      }
      fprintf(stderr,
              "tlsfin watch: warning: -j %d: PACKET_FANOUT is not available "
              "(-i %s: %s): capturing with one thread\n",
              w->nworkers, name, strerror(e));
      for (int x = 1; x < w->nworkers; x++)
        pthread_mutex_destroy(&w->workers[x].snap_lock);
      w->nworkers = 1;
      w->threaded = false;
      pcap_close(h->pc);
      wk->nh = 0;
      if (!(h->pc = open_pcap(w, f->name, w->buffer_mb)))
        return -1;
      wk->nh = i + 1;
    }
    h->src.iface = f->rec_iface;
    w->compiled.expr = w->filter;
    h->src.tunnel_ports = &w->tunnel_ports;
    if (tf_source_init(&h->src, h->pc, f->name, &w->compiled, w->err,
                       sizeof w->err) < 0)
      return -1;
    if (pcap_setnonblock(h->pc, 1, eb) < 0) {
      seterr(w, "-i %s: %s", name, eb);
      return -1;
    }
    if (pcap_get_selectable_fd(h->pc) < 0) {
      seterr(w, "-i %s: cannot be polled", name);
      return -1;
    }
  }
  return 0;
}

static int thread_count(const struct tlsfin_watch *w) {
  if (w->threads_wanted > 0)
    return w->threads_wanted;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1)
    return 1;
  return n > TLSFIN_WATCH_MAX_THREADS ? TLSFIN_WATCH_MAX_THREADS : (int)n;
}

/* The sinks of each worker's engine: with -j 1 those of the engine as
 * always (in this order: fail, metrics, recorder, rows, summary); with
 * -j > 1 the recorder shard and the shared sinks under their lock. */
static void attach_sinks(struct tlsfin_watch *w, struct worker *wk) {
  if (w->kjoin)
    tf_engine_set_enrich(wk->engine,
                         &(struct tf_enrich){.ctx = w, .fn = enrich});
  wk->rec_sink =
      (struct tf_sink){.ctx = wk, .packet = rec_packet, .conn = rec_conn};
  if (!w->threaded) {
    w->fail_sink = (struct tf_sink){.ctx = w, .conn = fail_conn};
    tf_engine_add_sink(wk->engine, &w->fail_sink);
    if (w->metrics)
      tf_engine_add_sink(wk->engine, tf_metrics_sink(w->metrics));
    if (w->recorder)
      tf_engine_add_sink(wk->engine, &wk->rec_sink);
    tf_engine_add_sink(wk->engine, tf_records_sink(w->records));
    tf_engine_add_sink(wk->engine, tf_summary_sink(w->summary));
    return;
  }
  if (w->recorder)
    tf_engine_add_sink(wk->engine, &wk->rec_sink);
  wk->shared_sink =
      (struct tf_sink){.ctx = wk, .conn = shared_conn, .open = shared_open};
  tf_engine_add_sink(wk->engine, &wk->shared_sink);
}

int tlsfin_watch_start(struct tlsfin_watch *w) {
  if (w->started) {
    seterr(w, "already started");
    return -1;
  }
  w->started = true;
  w->t_start = now_real();
  w->live.start_time = w->t_start;
  w->last_summary = w->last_second = w->t_start;
  if (w->keylog_path) {
    if (!w->keylog && !(w->keylog = tf_keylog_new())) {
      seterr(w, "out of memory");
      goto fail;
    }
    /* The file may be empty or not exist yet: programs create it when
     * their first connection starts. */
    w->keylog_f = fopen(w->keylog_path, "r");
    if (!w->keylog_f && errno != ENOENT) {
      seterr(w, "--keylog %s: %s", w->keylog_path, strerror(errno));
      goto fail;
    }
    keylog_tail(w);
  }
  int n = thread_count(w);
  if (!(w->workers = calloc((size_t)n, sizeof *w->workers)))
    goto oom;
  w->nworkers = n;
  w->threaded = n > 1;
  for (int k = 0; k < n; k++) {
    w->workers[k].w = w;
    w->workers[k].idx = k;
    pthread_mutex_init(&w->workers[k].snap_lock, NULL);
  }
  atomic_store(&w->next_id, 1);
  /* In the order of what fails most often, and the record directory
   * last: a failed start leaves nothing behind, not even an empty DIR. */
  if (!w->nnames && tlsfin_watch_add_interface(w, "any") < 0)
    goto fail;
  for (int i = 0; i < w->nnames; i++)
    if (open_iface(w, w->names[i]) < 0)
      goto fail;
  if (w->threaded) {
    /* A socket sees every packet until it joins its group: what came
     * before the last one joined may be in two sockets, and is skipped. */
    w->t_joined = now_real();
    for (int k = 0; k < w->nworkers; k++)
      w->workers[k].skip_before = w->t_joined;
  }
  for (int k = 0; k < w->nworkers; k++) {
    struct worker *wk = &w->workers[k];
    if (!(wk->engine = tf_engine_new(&w->eo)))
      goto oom;
    tf_engine_set_keylog(wk->engine, w->keylog);
    if (w->threaded)
      tf_engine_set_id_counter(wk->engine, &w->next_id);
  }
  if (w->kernel_mode == TLSFIN_KERNEL_OFF) {
    snprintf(w->kernel_status, sizeof w->kernel_status, "--kernel=off");
  } else {
    char kerr[256] = "";
    w->kernel =
        tf_kernel_open_with(w->libssl ? TF_KERNEL_SSL : 0, kerr, sizeof kerr);
    if (w->kernel && w->libssl && *tf_kernel_ssl_status(w->kernel))
      fprintf(stderr, "tlsfin watch: warning: --libssl: %s\n",
              tf_kernel_ssl_status(w->kernel));
    if (!w->kernel) {
      snprintf(w->kernel_status, sizeof w->kernel_status, "%s", kerr);
      if (w->kernel_mode == TLSFIN_KERNEL_ON) {
        seterr(w, "--kernel: %s", kerr);
        goto fail;
      }
    } else if (!(w->kjoin = tf_kjoin_new())) {
      goto oom;
    }
  }
  if (w->metrics_addr) {
    char merr[300];
    if (!(w->metrics = tf_metrics_new(w->metrics_addr, merr, sizeof merr))) {
      seterr(w, "%s", merr);
      goto fail;
    }
  }
  if (w->record_dir) {
    struct tf_recorder_opts ro;
    tf_recorder_opts_init(&ro);
    ro.dir = w->record_dir;
    ro.ring_packets = w->record_packets;
    /* Whole packets: a TLS record cut by a short snaplen hides the
     * handshake's end and close_notify, and the recorded file must give
     * the verdict the live row gave.  mem_max bounds the total. */
    ro.snaplen = w->snaplen;
    ro.dir_max_bytes = w->record_max_mb << 20;
    char rerr[300];
    if (!(w->recorder = tf_recorder_new(&ro, rerr, sizeof rerr))) {
      seterr(w, "%s", rerr);
      goto fail;
    }
    for (int i = 0; i < w->nifs; i++) {
      int ri = tf_recorder_add_interface(w->recorder,
                                         w->workers[0].h[i].src.linktype,
                                         w->snaplen, w->ifs[i].name);
      w->ifs[i].rec_iface = ri;
      for (int k = 0; k < w->nworkers; k++)
        w->workers[k].h[i].src.iface = ri;
    }
    /* Threads: each its own rings, sharing the memory bound. */
    for (int k = 0; w->threaded && k < w->nworkers; k++)
      if (!(w->workers[k].rec = tf_recorder_shard_new(
                w->recorder, ro.mem_max / (size_t)w->nworkers)))
        goto oom;
  }
  w->records = tf_records_new(
      w->out, w->format == TLSFIN_FORMAT_JSONL ? TF_REC_JSONL : TF_REC_TABLE,
      w->color, false);
  if (!w->records || !(w->summary = tf_summary_new()))
    goto oom;
  tf_records_set_flush(w->records, true);
  tf_records_set_process(w->records, w->kernel != NULL);
  for (int k = 0; k < w->nworkers; k++)
    attach_sinks(w, &w->workers[k]);
  tf_records_header(w->records);
  fflush(w->out);
  return 0;
oom:
  seterr(w, "out of memory");
fail:
  close_all(w);
  return -1;
}

/* ---- the workers ---- */

struct dispatch_ctx {
  struct worker *k;
  struct handle *h;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *data) {
  struct dispatch_ctx *d = (struct dispatch_ctx *)(void *)user;
  struct worker *k = d->k;
  if (k->skip_before > 0 && tf_source_ts(h) < k->skip_before)
    return;
  k->packets++;
  k->bytes += h->len;
  tf_source_packet(&d->h->src, k->engine, h, data);
}

/* Reads what each of the worker's sockets has; -1 when one failed (its
 * interface went away), with k->err set. */
static int worker_dispatch(struct worker *k) {
  for (int i = 0; i < k->nh; i++) {
    struct dispatch_ctx d = {k, &k->h[i]};
    for (int round = 0; round < DISPATCH_ROUNDS; round++) {
      int n = pcap_dispatch(k->h[i].pc, -1, on_packet, (u_char *)&d);
      if (n < 0) {
        snprintf(k->err, sizeof k->err, "-i %s: %s", k->w->ifs[i].name,
                 pcap_geterr(k->h[i].pc));
        return -1;
      }
      if (n == 0)
        break;
    }
  }
  return 0;
}

static void read_pcap_stats(struct worker *k) {
  for (int i = 0; i < k->nh; i++) {
    struct pcap_stat ps;
    if (pcap_stats(k->h[i].pc, &ps) < 0)
      continue;
    k->h[i].drops = ps.ps_drop;
    k->h[i].if_drops = ps.ps_ifdrop;
  }
}

/* The worker's counters as they are now; from its own thread, or from any
 * thread when the worker does not run. */
static void worker_snap(struct worker *k, struct worker_snap *s) {
  memset(s, 0, sizeof *s);
  s->st = *tf_engine_stats(k->engine);
  s->packets = k->packets;
  s->bytes = k->bytes;
  if (k->rec) {
    struct tf_recorder_stats rs;
    tf_recorder_shard_stats(k->rec, &rs);
    s->rec_dropped = rs.packets_dropped;
  }
  for (int i = 0; i < k->nh; i++) {
    s->drops[i] = k->h[i].drops;
    s->if_drops[i] = k->h[i].if_drops;
  }
}

#define PUBLISH_EVERY 0.05

static void publish(struct worker *k) {
  struct worker_snap s;
  worker_snap(k, &s);
  pthread_mutex_lock(&k->snap_lock);
  k->snap = s;
  pthread_mutex_unlock(&k->snap_lock);
}

static void *worker_main(void *arg) {
  struct worker *k = arg;
  struct tlsfin_watch *w = k->w;
  struct pollfd fds[MAX_IFACES];
  while (!atomic_load(&w->stop)) {
    for (int i = 0; i < k->nh; i++)
      fds[i] = (struct pollfd){.fd = pcap_get_selectable_fd(k->h[i].pc),
                               .events = POLLIN};
    if (poll(fds, (nfds_t)k->nh, POLL_MS) < 0 && errno != EINTR) {
      snprintf(k->err, sizeof k->err, "poll: %s", strerror(errno));
      k->rc = -1;
      break;
    }
    /* Keys first, as with -j 1: the packets about to be read may need
     * them, and the main thread's next look may come too late for a short
     * connection. */
    keylog_tail(w);
    if (worker_dispatch(k) < 0) {
      k->rc = -1;
      break;
    }
    double now = now_real();
    tf_engine_advance(k->engine, now);
    if (now - k->last_stats >= 1.0) {
      k->last_stats = now;
      read_pcap_stats(k);
    }
    if (now - k->last_publish >= PUBLISH_EVERY) {
      k->last_publish = now;
      publish(k);
    }
  }
  if (k->rc < 0)
    atomic_store(&w->stop, 1); /* one thread's capture error stops all */
  publish(k);
  return NULL;
}

static int spawn_workers(struct tlsfin_watch *w) {
  /* Signals go to the main thread: the workers block them all. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = 0;
  w->threads_running = true;
  for (int k = 0; k < w->nworkers; k++) {
    struct worker *wk = &w->workers[k];
    wk->last_stats = wk->last_publish = now_real();
    publish(wk);
    int e = pthread_create(&wk->thread, NULL, worker_main, wk);
    if (e) {
      seterr(w, "-j %d: starting a capture thread: %s", w->nworkers,
             strerror(e));
      rc = -1;
      break;
    }
    wk->thread_started = true;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc < 0)
    join_workers(w);
  return rc;
}

static void join_workers(struct tlsfin_watch *w) {
  if (!w->threads_running)
    return;
  atomic_store(&w->stop, 1);
  for (int k = 0; k < w->nworkers; k++)
    if (w->workers[k].thread_started) {
      pthread_join(w->workers[k].thread, NULL);
      w->workers[k].thread_started = false;
    }
  w->threads_running = false;
}

/* ---- totals, the main thread's ---- */

/* Every worker's counters added up: what they published while they run,
 * else read from them. */
static void collect(struct tlsfin_watch *w, struct worker_snap *t) {
  memset(t, 0, sizeof *t);
  for (int k = 0; k < w->nworkers; k++) {
    struct worker *wk = &w->workers[k];
    struct worker_snap s;
    if (w->threads_running) {
      pthread_mutex_lock(&wk->snap_lock);
      s = wk->snap;
      pthread_mutex_unlock(&wk->snap_lock);
    } else {
      worker_snap(wk, &s);
    }
    t->st.packets += s.st.packets;
    t->st.connections += s.st.connections;
    t->st.open += s.st.open;
    t->st.expired += s.st.expired;
    t->st.evicted += s.st.evicted;
    t->st.unfollowed += s.st.unfollowed;
    for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
      t->st.verdicts[v] += s.st.verdicts[v];
    for (int c = 0; c < TLSFIN_CAUSE_COUNT; c++)
      t->st.causes[c] += s.st.causes[c];
    t->packets += s.packets;
    t->bytes += s.bytes;
    t->rec_dropped += s.rec_dropped;
    for (int i = 0; i < w->nifs; i++) {
      t->drops[i] += s.drops[i];
      t->if_drops[i] += s.if_drops[i];
    }
  }
}

static void check_drops(struct tlsfin_watch *w, double now) {
  if (!w->threads_running)
    for (int k = 0; k < w->nworkers; k++)
      read_pcap_stats(&w->workers[k]);
  struct worker_snap t;
  collect(w, &t);
  uint64_t drops = 0, if_drops = 0;
  for (int i = 0; i < w->nifs; i++) {
    w->ifs[i].drops = t.drops[i];
    w->ifs[i].if_drops = t.if_drops[i];
    drops += t.drops[i];
    if_drops += t.if_drops[i];
  }
  w->live.drops = drops;
  w->live.if_drops = if_drops;
  /* A live tool that silently loses packets gives wrong verdicts: say so
   * when it happens (rate-limited), and in every summary. */
  for (int i = 0; i < w->nifs; i++) {
    struct iface *f = &w->ifs[i];
    uint64_t lost = f->drops + f->if_drops;
    if (lost > f->drops_warned && now - w->last_drop_warn >= DROP_WARN_EVERY) {
      fprintf(stderr,
              "tlsfin watch: warning: -i %s: %llu packet(s) dropped before "
              "tlsfin saw them (%llu in total): verdicts of the connections "
              "they belonged to may be wrong; raise --buffer-mb or narrow "
              "--filter\n",
              f->name, (unsigned long long)(lost - f->drops_warned),
              (unsigned long long)lost);
      f->drops_warned = lost;
      w->last_drop_warn = now;
    }
  }
}

static void update_live(struct tlsfin_watch *w) {
  struct worker_snap t;
  collect(w, &t);
  w->live.open = t.st.open;
  w->live.packets = t.packets;
  w->live.bytes = t.bytes;
  if (w->kernel)
    w->live.kernel_lost = tf_kernel_lost(w->kernel);
  if (w->recorder) {
    struct tf_recorder_stats rs;
    tf_recorder_stats(w->recorder, &rs);
    w->live.record_written = rs.conns_written;
    w->live.record_dropped = rs.packets_dropped + t.rec_dropped;
  }
}

static void write_summary(struct tlsfin_watch *w, double now) {
  FILE *o = w->summary_out;
  if (!o)
    return;
  struct worker_snap t;
  collect(w, &t);
  fprintf(o,
          "\n== tlsfin watch: %.0f s, %llu packets, %llu open connections "
          "==\n",
          now - w->t_start, (unsigned long long)t.packets,
          (unsigned long long)t.st.open);
  pthread_mutex_lock(&w->shared_lock);
  tf_summary_write(w->summary, &t.st, o);
  pthread_mutex_unlock(&w->shared_lock);
  fprintf(o, "\ncapture");
  for (int i = 0; i < w->nifs; i++)
    fprintf(o, "%s %s: %llu dropped by the kernel, %llu by the interface",
            i ? ";" : "", w->ifs[i].name, (unsigned long long)w->ifs[i].drops,
            (unsigned long long)w->ifs[i].if_drops);
  if (w->threaded) {
    /* How evenly the kernel's hash spread the packets. */
    fprintf(o, " (%d threads, PACKET_FANOUT; packets per thread:", w->nworkers);
    for (int k = 0; k < w->nworkers; k++) {
      struct worker *wk = &w->workers[k];
      uint64_t p;
      if (w->threads_running) {
        pthread_mutex_lock(&wk->snap_lock);
        p = wk->snap.packets;
        pthread_mutex_unlock(&wk->snap_lock);
      } else {
        p = wk->packets;
      }
      fprintf(o, " %llu", (unsigned long long)p);
    }
    fprintf(o, ")");
  }
  fprintf(o, "\n");
  if (w->kernel)
    fprintf(o, "kernel: %llu events, %llu lost\n",
            (unsigned long long)w->live.kernel_events,
            (unsigned long long)w->live.kernel_lost);
  else
    fprintf(o, "kernel: not used (%s): RST causes are read from the wire\n",
            w->kernel_status);
  if (w->recorder) {
    struct tf_recorder_stats rs;
    tf_recorder_stats(w->recorder, &rs);
    fprintf(o, "recorder: %llu connections written to %s, %llu files\n",
            (unsigned long long)rs.conns_written, w->record_dir,
            (unsigned long long)rs.files_written);
  }
  fflush(o);
}

/* ---- the loop ---- */

int tlsfin_watch_run(struct tlsfin_watch *w) {
  if (!w->started) {
    seterr(w, "not started");
    return -1;
  }
  if (w->threaded && spawn_workers(w) < 0)
    return -1;
  /* -j 1: the main thread is worker 0 and polls its sockets too. */
  struct worker *w0 = w->threaded ? NULL : &w->workers[0];
  struct pollfd fds[MAX_IFACES + 1 + TF_METRICS_MAX_CLIENTS + 1];
  int rc = 0;
  while (!atomic_load(&w->stop)) {
    int n = 0;
    for (int i = 0; w0 && i < w0->nh; i++)
      fds[n++] = (struct pollfd){.fd = pcap_get_selectable_fd(w0->h[i].pc),
                                 .events = POLLIN};
    /* The collector's ring buffer is not polled: it would wake the loop
     * for every event.  Events are needed only when a connection is
     * written, after its linger, so the ring is drained whenever the loop
     * wakes anyway (packets, or every POLL_MS); tf_kernel_lost() counts
     * what a full ring would drop. */
    int mfirst = n;
    if (w->metrics)
      n += tf_metrics_pollfds(w->metrics, fds + n,
                              (int)(sizeof fds / sizeof fds[0]) - n);
    int prc = poll(fds, (nfds_t)n, POLL_MS);
    if (prc < 0 && errno != EINTR) {
      seterr(w, "poll: %s", strerror(errno));
      rc = -1;
      break;
    }
    /* Keys first: the packets about to be read may need them. */
    keylog_tail(w);
    if (w0 && worker_dispatch(w0) < 0) {
      seterr(w, "%s", w0->err);
      rc = -1;
      break;
    }
    if (w->kernel)
      tf_kernel_poll(w->kernel, 0, on_kevent, w);
    double now = now_real();
    if (w0)
      tf_engine_advance(w0->engine, now);
    if (w->metrics) {
      update_live(w);
      pthread_mutex_lock(&w->shared_lock);
      tf_metrics_serve(w->metrics, fds + mfirst, n - mfirst, &w->live, now);
      pthread_mutex_unlock(&w->shared_lock);
    }
    if (now - w->last_second >= 1.0) {
      w->last_second = now;
      check_drops(w, now);
      if (w->kjoin) {
        pthread_mutex_lock(&w->kjoin_lock);
        tf_kjoin_expire(w->kjoin, now);
        pthread_mutex_unlock(&w->kjoin_lock);
      }
      pthread_mutex_lock(&w->shared_lock);
      int st = w->records ? tf_records_status(w->records) : 0;
      pthread_mutex_unlock(&w->shared_lock);
      if (st < 0) {
        seterr(w, "writing the rows: %s", strerror(errno ? errno : EIO));
        rc = -1;
        break;
      }
    }
    if (w->summary_every && now - w->last_summary >= w->summary_every) {
      w->last_summary = now;
      update_live(w);
      write_summary(w, now);
    }
    if (w->duration > 0 && now - w->t_start >= w->duration)
      break;
  }
  join_workers(w);
  for (int k = 0; rc == 0 && w->threaded && k < w->nworkers; k++)
    if (w->workers[k].rc < 0) {
      seterr(w, "%s", w->workers[k].err);
      rc = -1;
    }
  return rc;
}

int tlsfin_watch_finish(struct tlsfin_watch *w) {
  if (!w->started)
    return 0;
  join_workers(w);
  /* What is already captured and reported still counts. */
  for (int k = 0; k < w->nworkers; k++)
    worker_dispatch(&w->workers[k]);
  if (w->kernel)
    tf_kernel_poll(w->kernel, 0, on_kevent, w);
  check_drops(w, now_real());
  for (int k = 0; k < w->nworkers; k++)
    tf_engine_flush(w->workers[k].engine);
  update_live(w);
  write_summary(w, now_real());
  int rc = 0;
  if (fflush(w->out) != 0 || tf_records_status(w->records) < 0) {
    seterr(w, "writing the rows: %s", strerror(errno ? errno : EIO));
    rc = -1;
  }
  close_all(w);
  return rc;
}

void tlsfin_watch_free(struct tlsfin_watch *w) {
  if (!w)
    return;
  close_all(w);
  for (int i = 0; i < w->nnames; i++)
    free(w->names[i]);
  free(w->filter);
  free(w->record_dir);
  free(w->metrics_addr);
  free(w->keylog_path);
  tf_keylog_free(w->keylog);
  pthread_mutex_destroy(&w->shared_lock);
  pthread_mutex_destroy(&w->kjoin_lock);
  pthread_mutex_destroy(&w->keylog_lock);
  free(w);
}

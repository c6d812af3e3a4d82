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
 */
#include "tlsfin/watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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

struct iface {
  char *name;
  pcap_t *pc;
  struct tf_source src;
  uint64_t drops, if_drops; /* from pcap_stats, as last read */
  uint64_t drops_warned;
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
  volatile sig_atomic_t stop;
  bool failed;
  struct iface ifs[MAX_IFACES];
  int nifs;
  struct tf_engine *engine;
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
bool tlsfin_watch_failed(const struct tlsfin_watch *w) { return w->failed; }
void tlsfin_watch_stop(struct tlsfin_watch *w) { w->stop = 1; }

/* ---- sinks of watch ---- */

static void fail_conn(void *ctx, const struct tf_conn *c,
                      const struct tf_result *r) {
  struct tlsfin_watch *w = ctx;
  (void)c;
  if (w->fail_on[r->verdict])
    w->failed = true;
}

static void rec_packet(void *ctx, const struct tf_conn *c, int dir,
                       const struct tf_pkt *p, const struct tf_raw *raw) {
  struct tlsfin_watch *w = ctx;
  (void)dir;
  if (raw)
    tf_recorder_packet(w->recorder, c->id, raw->iface, p->ts, raw->data,
                       raw->caplen, raw->len);
}

static void rec_conn(void *ctx, const struct tf_conn *c,
                     const struct tf_result *r) {
  struct tlsfin_watch *w = ctx;
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
    if (k)
      klen = tf_keylog_format(k, c->tls.client_random, keys, sizeof keys);
  }
  if (tf_recorder_end(w->recorder, c->id, keep, comment, klen ? keys : NULL,
                      klen) < 0) {
    double t = now_real();
    if (t - w->last_drop_warn > DROP_WARN_EVERY) {
      fprintf(stderr, "tlsfin watch: warning: --record: %s\n",
              tf_recorder_error(w->recorder));
      w->last_drop_warn = t;
    }
  }
}

static void enrich(void *ctx, struct tf_conn *c) { tf_kjoin_apply(ctx, c); }

static void on_kevent(void *ctx, const struct tf_kevent *e) {
  struct tlsfin_watch *w = ctx;
  w->live.kernel_events++;
  tf_kjoin_event(w->kjoin, e);
}

/* ---- start / stop ---- */

static void close_all(struct tlsfin_watch *w) {
  for (int i = 0; i < w->nifs; i++) {
    if (w->ifs[i].pc)
      pcap_close(w->ifs[i].pc);
    free(w->ifs[i].name);
  }
  w->nifs = 0;
  tf_engine_free(w->engine);
  w->engine = NULL;
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
 * Only whole lines are taken. */
static void keylog_tail(struct tlsfin_watch *w) {
  if (!w->keylog_path)
    return;
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

static int open_iface(struct tlsfin_watch *w, const char *name) {
  char eb[PCAP_ERRBUF_SIZE] = "";
  struct iface *f = &w->ifs[w->nifs];
  memset(f, 0, sizeof *f);
  pcap_t *pc = pcap_create(name, eb);
  if (!pc) {
    seterr(w, "-i %s: %s", name, eb);
    return -1;
  }
  pcap_set_snaplen(pc, (int)w->snaplen);
  pcap_set_promisc(pc, 1);
  pcap_set_timeout(pc, POLL_MS);
  pcap_set_buffer_size(pc, (int)(w->buffer_mb << 20));
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
    return -1;
  }
  if (rc > 0)
    fprintf(stderr, "tlsfin watch: warning: -i %s: %s\n", name,
            pcap_statustostr(rc));
  /* "any" gives Linux cooked headers; SLL2 also names the interface. */
  if (!strcmp(name, "any"))
    pcap_set_datalink(pc, DLT_LINUX_SLL2);
  f->name = strdup(name);
  f->pc = pc;
  w->nifs++; /* owned from here: close_all releases it */
  if (!f->name) {
    seterr(w, "out of memory");
    return -1;
  }
  f->src.iface = w->nifs - 1;
  w->compiled.expr = w->filter;
  f->src.tunnel_ports = &w->tunnel_ports;
  if (tf_source_init(&f->src, pc, f->name, &w->compiled, w->err,
                     sizeof w->err) < 0)
    return -1;
  if (pcap_setnonblock(pc, 1, eb) < 0) {
    seterr(w, "-i %s: %s", name, eb);
    return -1;
  }
  if (pcap_get_selectable_fd(pc) < 0) {
    seterr(w, "-i %s: cannot be polled", name);
    return -1;
  }
  return 0;
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
  if (!(w->engine = tf_engine_new(&w->eo)))
    goto oom;
  tf_engine_set_keylog(w->engine, w->keylog);
  w->fail_sink = (struct tf_sink){.ctx = w, .conn = fail_conn};
  tf_engine_add_sink(w->engine, &w->fail_sink);
  /* In the order of what fails most often, and the record directory
   * last: a failed start leaves nothing behind, not even an empty DIR. */
  if (!w->nnames && tlsfin_watch_add_interface(w, "any") < 0)
    goto fail;
  for (int i = 0; i < w->nnames; i++)
    if (open_iface(w, w->names[i]) < 0)
      goto fail;
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
    } else {
      tf_engine_set_enrich(w->engine,
                           &(struct tf_enrich){.ctx = w->kjoin, .fn = enrich});
    }
  }
  if (w->metrics_addr) {
    char merr[300];
    if (!(w->metrics = tf_metrics_new(w->metrics_addr, merr, sizeof merr))) {
      seterr(w, "%s", merr);
      goto fail;
    }
    tf_engine_add_sink(w->engine, tf_metrics_sink(w->metrics));
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
    w->rec_sink =
        (struct tf_sink){.ctx = w, .packet = rec_packet, .conn = rec_conn};
    tf_engine_add_sink(w->engine, &w->rec_sink);
    for (int i = 0; i < w->nifs; i++)
      w->ifs[i].src.iface = tf_recorder_add_interface(
          w->recorder, w->ifs[i].src.linktype, w->snaplen, w->ifs[i].name);
  }
  w->records = tf_records_new(
      w->out, w->format == TLSFIN_FORMAT_JSONL ? TF_REC_JSONL : TF_REC_TABLE,
      w->color, false);
  if (!w->records || !(w->summary = tf_summary_new()))
    goto oom;
  tf_records_set_flush(w->records, true);
  tf_records_set_process(w->records, w->kernel != NULL);
  tf_engine_add_sink(w->engine, tf_records_sink(w->records));
  tf_engine_add_sink(w->engine, tf_summary_sink(w->summary));
  tf_records_header(w->records);
  fflush(w->out);
  return 0;
oom:
  seterr(w, "out of memory");
fail:
  close_all(w);
  return -1;
}

/* ---- the loop ---- */

struct dispatch_ctx {
  struct tlsfin_watch *w;
  struct iface *f;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h,
                      const u_char *data) {
  struct dispatch_ctx *d = (struct dispatch_ctx *)(void *)user;
  d->w->live.packets++;
  d->w->live.bytes += h->len;
  tf_source_packet(&d->f->src, d->w->engine, h, data);
}

/* Reads what each interface has; -1 when one failed (went away). */
static int dispatch(struct tlsfin_watch *w) {
  for (int i = 0; i < w->nifs; i++) {
    struct dispatch_ctx d = {w, &w->ifs[i]};
    for (int round = 0; round < DISPATCH_ROUNDS; round++) {
      int n = pcap_dispatch(w->ifs[i].pc, -1, on_packet, (u_char *)&d);
      if (n < 0) {
        seterr(w, "-i %s: %s", w->ifs[i].name, pcap_geterr(w->ifs[i].pc));
        return -1;
      }
      if (n == 0)
        break;
    }
  }
  return 0;
}

static void check_drops(struct tlsfin_watch *w, double now) {
  uint64_t drops = 0, if_drops = 0;
  for (int i = 0; i < w->nifs; i++) {
    struct pcap_stat ps;
    if (pcap_stats(w->ifs[i].pc, &ps) < 0)
      continue;
    w->ifs[i].drops = ps.ps_drop;
    w->ifs[i].if_drops = ps.ps_ifdrop;
    drops += ps.ps_drop;
    if_drops += ps.ps_ifdrop;
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

static void write_summary(struct tlsfin_watch *w, double now) {
  FILE *o = w->summary_out;
  if (!o)
    return;
  const struct tf_engine_stats *st = tf_engine_stats(w->engine);
  fprintf(o,
          "\n== tlsfin watch: %.0f s, %llu packets, %llu open connections "
          "==\n",
          now - w->t_start, (unsigned long long)w->live.packets,
          (unsigned long long)st->open);
  tf_summary_write(w->summary, st, o);
  fprintf(o, "\ncapture");
  for (int i = 0; i < w->nifs; i++)
    fprintf(o, "%s %s: %llu dropped by the kernel, %llu by the interface",
            i ? ";" : "", w->ifs[i].name, (unsigned long long)w->ifs[i].drops,
            (unsigned long long)w->ifs[i].if_drops);
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

static void update_live(struct tlsfin_watch *w) {
  w->live.open = tf_engine_stats(w->engine)->open;
  if (w->kernel)
    w->live.kernel_lost = tf_kernel_lost(w->kernel);
  if (w->recorder) {
    struct tf_recorder_stats rs;
    tf_recorder_stats(w->recorder, &rs);
    w->live.record_written = rs.conns_written;
    w->live.record_dropped = rs.packets_dropped;
  }
}

int tlsfin_watch_run(struct tlsfin_watch *w) {
  if (!w->started) {
    seterr(w, "not started");
    return -1;
  }
  struct pollfd fds[MAX_IFACES + 1 + TF_METRICS_MAX_CLIENTS + 1];
  while (!w->stop) {
    int n = 0;
    for (int i = 0; i < w->nifs; i++)
      fds[n++] = (struct pollfd){.fd = pcap_get_selectable_fd(w->ifs[i].pc),
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
    int rc = poll(fds, (nfds_t)n, POLL_MS);
    if (rc < 0 && errno != EINTR) {
      seterr(w, "poll: %s", strerror(errno));
      return -1;
    }
    /* Keys first: the packets about to be read may need them. */
    keylog_tail(w);
    if (dispatch(w) < 0)
      return -1;
    if (w->kernel)
      tf_kernel_poll(w->kernel, 0, on_kevent, w);
    double now = now_real();
    tf_engine_advance(w->engine, now);
    if (w->metrics) {
      update_live(w);
      tf_metrics_serve(w->metrics, fds + mfirst, n - mfirst, &w->live, now);
    }
    if (now - w->last_second >= 1.0) {
      w->last_second = now;
      check_drops(w, now);
      if (w->kjoin)
        tf_kjoin_expire(w->kjoin, now);
      if (w->records && tf_records_status(w->records) < 0) {
        seterr(w, "writing the rows: %s", strerror(errno ? errno : EIO));
        return -1;
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
  return 0;
}

int tlsfin_watch_finish(struct tlsfin_watch *w) {
  if (!w->started)
    return 0;
  /* What is already captured and reported still counts. */
  dispatch(w);
  if (w->kernel)
    tf_kernel_poll(w->kernel, 0, on_kevent, w);
  check_drops(w, now_real());
  tf_engine_flush(w->engine);
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
  free(w);
}

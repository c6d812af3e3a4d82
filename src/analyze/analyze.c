/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin analyze: capture files are the source, the engine (engine.c) owns
 * the connections and decides verdicts, and the format picks the sink
 * (sinks.c).  Streaming: a record is written once its connection has ended,
 * so memory follows the number of open connections, not the size of the
 * file.  Records come out in the order of the connections' first packets
 * (TAXONOMY.md) unless unordered output is asked for.
 */
#include "tlsfin/analyze.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "annotate.h"
#include "engine.h"
#include "html.h"
#include "input.h"
#include "pcapfile.h"
#include "keylog.h"
#include "par.h"
#include "sinks.h"
#include "source.h"

#define PROGRESS_MIN_BYTES (100ull * 1024 * 1024)
#define HOLDS 1024
#define HOLD_EVERY 512

struct tlsfin_analyze {
  char err[512];
  enum tlsfin_format format;
  FILE *out, *progress;
  char *filter;
  struct tf_filter compiled;
  bool fail_on[TLSFIN_VERDICT_COUNT];
  bool failed, color, unordered, flush;
  uint64_t conn_id_wanted; /* ladder */
  struct tf_engine *engine;
  struct tf_records *records;
  struct tf_summary *summary;
  struct tf_ladder_sink *ladder;
  struct tf_html *html;
  struct tf_sink fail_sink;
  struct tf_keylog *keylog;
  /* keys found embedded in the inputs (pcapng DSB) while there is no key
   * log yet: adopted as the key log once it holds a key */
  struct tf_keylog *embedded;
  char keylog_warning[300];
  struct tf_engine_opts eo;
  struct tf_tunnel_ports tunnel_ports; /* UDP tunnels (decode_tunnel.c) */
  bool zeek_csum;         /* --zeek-checksums (decode.h, struct tf_decap) */
  struct tf_annot *annot; /* --annotate: its sink and its second pass */
  bool annot_sink;        /* the sink is on the engine */
  unsigned jobs;          /* -j: shards of the engine on threads */
  struct tf_par *par;     /* instead of engine when jobs > 1 */
  struct tf_keylog *par_keylog; /* what the shards have */
  /* -j on a mapped file: the shards read packets in place, so the pages
   * go back only once every shard is past them (tf_pcapfile_hold): a
   * packet every HOLD_EVERY, with its file, in order */
  struct hold {
    uint64_t gpkt;
    struct tf_pcapfile *mm;
    const u_char *data;
  } holds[HOLDS];
  size_t hold_head, hold_n;
  uint64_t hold_next; /* the next packet number to note */
};

/* The engine's counts, or the shards' added up. */
static const struct tf_engine_stats *stats_of(const struct tlsfin_analyze *a) {
  return a->par ? tf_par_stats(a->par) : tf_engine_stats(a->engine);
}
static bool have_engine(const struct tlsfin_analyze *a) {
  return a->engine || a->par;
}

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
  tf_engine_opts_default(&a->eo);
  tf_tunnel_ports_default(&a->tunnel_ports);
  return a;
}

int tlsfin_analyze_set_tunnel_port(struct tlsfin_analyze *a, const char *spec) {
  char err[200];
  if (tf_tunnel_ports_parse(&a->tunnel_ports, spec, err, sizeof err) < 0) {
    seterr(a, "--tunnel-port: %s", err);
    return -1;
  }
  return 0;
}

int tlsfin_analyze_set_max_memory(struct tlsfin_analyze *a, uint64_t bytes) {
  if (bytes && bytes < (1u << 20)) {
    seterr(a, "--max-memory: at least 1 MB");
    return -1;
  }
  a->eo.max_memory = (size_t)bytes;
  return 0;
}

int tlsfin_analyze_set_timeouts(struct tlsfin_analyze *a, double attempt,
                                double idle, double half_closed) {
  if (attempt >= 0)
    a->eo.attempt_timeout = attempt;
  if (idle >= 0)
    a->eo.idle_timeout = idle;
  if (half_closed >= 0)
    a->eo.half_closed_timeout = half_closed;
  return 0;
}

int tlsfin_analyze_set_zeek_checksums(struct tlsfin_analyze *a, bool on) {
  a->zeek_csum = on;
  return 0;
}

uint64_t tlsfin_analyze_evicted(const struct tlsfin_analyze *a) {
  return have_engine(a) ? stats_of(a)->evicted : 0;
}
const char *tlsfin_analyze_error(const struct tlsfin_analyze *a) {
  return a->err;
}
int tlsfin_analyze_set_format(struct tlsfin_analyze *a, enum tlsfin_format f) {
  if ((int)f < 0 || f > TLSFIN_FORMAT_HTML) {
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
  tf_filter_free(&a->compiled);
  a->compiled.expr = a->filter;
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

int tlsfin_analyze_set_annotate(struct tlsfin_analyze *a, const char *path) {
  /* The second pass numbers packets from the first one read. */
  if (a->annot_sink || (have_engine(a) && stats_of(a)->packets)) {
    seterr(a, "--annotate must be set once, before any input is read");
    return -1;
  }
  tf_annot_free(a->annot);
  a->annot = NULL;
  if (path && !(a->annot = tf_annot_new(path, a->err, sizeof a->err)))
    return -1;
  if (a->annot)
    tf_annot_set_keylog_ref(a->annot, &a->keylog);
  return 0;
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
int tlsfin_analyze_set_flush(struct tlsfin_analyze *a, bool on) {
  a->flush = on;
  return 0;
}
int tlsfin_analyze_set_unordered(struct tlsfin_analyze *a, bool on) {
  a->unordered = on;
  return 0;
}
uint64_t tlsfin_analyze_count(const struct tlsfin_analyze *a,
                              tlsfin_verdict v) {
  if (!have_engine(a) || (int)v < 0 || v >= TLSFIN_VERDICT_COUNT)
    return 0;
  return stats_of(a)->verdicts[v];
}
uint64_t tlsfin_analyze_connections(const struct tlsfin_analyze *a) {
  return have_engine(a) ? stats_of(a)->connections : 0;
}

int tlsfin_analyze_set_jobs(struct tlsfin_analyze *a, unsigned n) {
  if (have_engine(a)) {
    seterr(a, "-j must be set before any input is read");
    return -1;
  }
  if (n > TF_PAR_MAX_JOBS) {
    seterr(a, "-j %u: at most %u", n, (unsigned)TF_PAR_MAX_JOBS);
    return -1;
  }
  if (n == 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c < 1 ? 1 : c > TF_PAR_MAX_JOBS ? TF_PAR_MAX_JOBS : (unsigned)c;
  }
  a->jobs = n;
  return 0;
}
bool tlsfin_analyze_failed(const struct tlsfin_analyze *a) { return a->failed; }

/* ---- engine and sinks ---- */

static void fail_conn(void *ctx, const struct tf_conn *c,
                      const struct tf_result *r) {
  struct tlsfin_analyze *a = ctx;
  (void)c;
  if (a->fail_on[r->verdict])
    a->failed = true;
}

static enum tf_rec_format rec_format(enum tlsfin_format f) {
  return f == TLSFIN_FORMAT_JSONL  ? TF_REC_JSONL
         : f == TLSFIN_FORMAT_ZEEK ? TF_REC_ZEEK
         : f == TLSFIN_FORMAT_CSV  ? TF_REC_CSV
                                   : TF_REC_TABLE;
}

/* The shards are done with every packet up to gpkt: give back the pages
 * before the noted packets up to there. */
static void shards_done(void *ctx, uint64_t gpkt) {
  struct tlsfin_analyze *a = ctx;
  while (a->hold_n && a->holds[a->hold_head].gpkt <= gpkt) {
    struct hold *h = &a->holds[a->hold_head];
    tf_pcapfile_release(h->mm, h->data);
    a->hold_head = (a->hold_head + 1) % HOLDS;
    a->hold_n--;
  }
}

/* Notes where a packet of a held file is, now and then. */
static void hold_packet(struct tlsfin_analyze *a, struct tf_source *src,
                        const u_char *data) {
  uint64_t g = tf_par_next(a->par);
  bool other = a->hold_n &&
               a->holds[(a->hold_head + a->hold_n - 1) % HOLDS].mm != src->mm;
  if ((g < a->hold_next && !other) || a->hold_n == HOLDS)
    return;
  a->holds[(a->hold_head + a->hold_n++) % HOLDS] =
      (struct hold){g, src->mm, data};
  a->hold_next = g + HOLD_EVERY;
}

/* The formats written connection by connection, records or a summary:
 * the ones -j can shard. */
static bool by_connection(enum tlsfin_format f) {
  return f == TLSFIN_FORMAT_TABLE || f == TLSFIN_FORMAT_JSONL ||
         f == TLSFIN_FORMAT_ZEEK || f == TLSFIN_FORMAT_CSV ||
         f == TLSFIN_FORMAT_SUMMARY;
}
/* Their sink: 0, or -1 out of memory. */
static int make_records(struct tlsfin_analyze *a) {
  if (a->format == TLSFIN_FORMAT_SUMMARY)
    return (a->summary = tf_summary_new()) ? 0 : -1;
  if (!(a->records = tf_records_new(a->out, rec_format(a->format), a->color,
                                    !a->unordered)))
    return -1;
  tf_records_set_flush(a->records, a->flush);
  return 0;
}

/* -j N: the records or the summary fed by the shards (par.h). */
static int ensure_par(struct tlsfin_analyze *a) {
  if (make_records(a) < 0)
    goto oom;
  if (!(a->par = tf_par_new(a->jobs, &a->eo, a->records, rec_format(a->format),
                            a->color, a->summary, a->fail_on, &a->failed,
                            a->err, sizeof a->err)))
    return -1;
  tf_par_set_keylog(a->par, a->par_keylog = a->keylog);
  tf_par_on_done(a->par, shards_done, a);
  return 0;
oom:
  seterr(a, "out of memory");
  return -1;
}

/* The key log to decrypt with from now on. */
static void use_keylog(struct tlsfin_analyze *a) {
  if (a->engine)
    tf_engine_set_keylog(a->engine, a->keylog);
  else if (a->par && a->par_keylog != a->keylog)
    tf_par_set_keylog(a->par, a->par_keylog = a->keylog);
}

/* Every connection still open finished; the next input starts its clock
 * again. */
static void flush_engine(struct tlsfin_analyze *a) {
  if (a->par) {
    tf_par_flush(a->par);
    a->hold_n = 0; /* the inputs are closed next */
    return;
  }
  tf_engine_flush(a->engine);
  tf_engine_reset_clock(a->engine);
}

/* The engine and the sink for the format, made at the first input (every
 * option is known by then). */
static int ensure_engine(struct tlsfin_analyze *a) {
  if (have_engine(a))
    return 0;
  /* -j shards the engine for the formats written record by record; the
   * HTML page, --annotate and the ladder need every connection in one
   * engine, and run on one thread (docs/scale.md). */
  if (a->jobs > 1 && !a->annot && by_connection(a->format))
    return ensure_par(a);
  if (!(a->engine = tf_engine_new(&a->eo)))
    goto oom;
  tf_engine_set_keylog(a->engine, a->keylog);
  a->fail_sink = (struct tf_sink){.ctx = a, .conn = fail_conn};
  tf_engine_add_sink(a->engine, &a->fail_sink);
  switch (a->format) {
  case TLSFIN_FORMAT_TABLE:
  case TLSFIN_FORMAT_JSONL:
  case TLSFIN_FORMAT_ZEEK:
  case TLSFIN_FORMAT_CSV:
  case TLSFIN_FORMAT_SUMMARY:
    if (make_records(a) < 0)
      goto oom;
    tf_engine_add_sink(a->engine, a->records ? tf_records_sink(a->records)
                                             : tf_summary_sink(a->summary));
    break;
  case TLSFIN_FORMAT_LADDER:
    if (!(a->ladder = tf_ladder_sink_new(a->out)))
      goto oom;
    tf_engine_set_ladder(a->engine, a->conn_id_wanted);
    tf_engine_add_sink(a->engine, tf_ladder_sink(a->ladder));
    break;
  case TLSFIN_FORMAT_HTML:
    /* the end of every connection, for its ladder on the page */
    if (!(a->html = tf_html_new(a->out)))
      goto oom;
    tf_engine_set_ladder_all(a->engine, TF_HTML_LADDER_ROWS);
    tf_engine_add_sink(a->engine, tf_html_sink(a->html));
    break;
  }
  return 0;
oom:
  seterr(a, "out of memory");
  return -1;
}

static int annotate_write(struct tlsfin_analyze *a);

int tlsfin_analyze_finish(struct tlsfin_analyze *a) {
  if (ensure_engine(a) < 0)
    return -1;
  flush_engine(a);
  if (a->records)
    tf_records_footer(a->records);
  if (a->format == TLSFIN_FORMAT_SUMMARY)
    tf_summary_write(a->summary, stats_of(a), a->out);
  if (a->html && tf_html_write(a->html, tf_engine_stats(a->engine)) < 0) {
    seterr(a, "the HTML report could not be written: %s",
           tf_html_error(a->html));
    return -1;
  }
  if (a->format == TLSFIN_FORMAT_LADDER && !tf_ladder_sink_done(a->ladder)) {
    seterr(a, "no connection %llu in the input (it has %llu)",
           (unsigned long long)a->conn_id_wanted,
           (unsigned long long)tf_engine_stats(a->engine)->connections);
    return -1;
  }
  fflush(a->out); /* the records first: the second pass takes a while */
  return annotate_write(a);
}

void tlsfin_analyze_free(struct tlsfin_analyze *a) {
  if (!a)
    return;
  tf_par_free(a->par); /* before the records it writes */
  tf_engine_free(a->engine);
  tf_records_free(a->records);
  tf_summary_free(a->summary);
  tf_ladder_sink_free(a->ladder);
  tf_html_free(a->html);
  tf_filter_free(&a->compiled);
  free(a->filter);
  tf_keylog_free(a->keylog);
  tf_keylog_free(a->embedded);
  tf_annot_free(a->annot);
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
  /* libpcap often starts its message with the path already: name it once */
  size_t pl = strlen(path);
  if (!strncmp(errbuf, path, pl) && !strncmp(errbuf + pl, ": ", 2))
    errbuf += pl + 2;
  /* libpcap's "unknown file format" is cryptic for a user who passed a
   * text file or a truncated header. */
  if (strstr(errbuf, "unknown file format") ||
      strstr(errbuf, "truncated dump file") ||
      strstr(errbuf, "truncated pcapng"))
    seterr(a, "%s: not a pcap or pcapng capture (%s)", path, errbuf);
  else
    seterr(a, "%s: %s", path, errbuf);
}

/* libpcap over the stream f (which it then owns), with the keys embedded
 * in it (pcapng DSB) taken in the same single pass; NULL with the message
 * set when f holds no capture (kind says whether it was decompressed).
 * The replay (--annotate's second pass) takes no keys and reads
 * nanoseconds, to write the timestamps back exactly. */
static pcap_t *open_stream(struct tlsfin_analyze *a, FILE *f, const char *name,
                           enum tf_compression kind, bool replay) {
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  if (!replay && !a->keylog && !a->embedded)
    a->embedded = tf_keylog_new();
  struct tf_keylog *keys = replay ? NULL : a->keylog ? a->keylog : a->embedded;
  FILE *s = keys ? tf_pcapng_scan_secrets(f, keys) : f;
  if (!s) {
    fclose(f);
    seterr(a, "%s: out of memory", name);
    return NULL;
  }
  pcap_t *pc = pcap_fopen_offline_with_tstamp_precision(
      s, replay ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO,
      errbuf);
  if (pc)
    return pc;
  fclose(s); /* libpcap closes it only when it opened */
  if (kind != TF_COMP_NONE)
    seterr(a, "%s: %s-compressed, but not a pcap or pcapng inside (%s)", name,
           kind == TF_COMP_GZIP ? "gzip" : "zstd", errbuf);
  else
    open_failed(a, name, errbuf);
  return NULL;
}

static pcap_t *open_input(struct tlsfin_analyze *a, const char *path,
                          const char *name, bool replay);

/* --annotate: its sink sees every connection from the first packet on. */
static int annot_start(struct tlsfin_analyze *a) {
  if (ensure_engine(a) < 0)
    return -1;
  if (!a->annot_sink)
    tf_engine_add_sink(a->engine, tf_annot_sink(a->annot));
  a->annot_sink = true;
  return 0;
}

int tlsfin_analyze_stream(struct tlsfin_analyze *a, FILE *f, const char *name) {
  if (a->annot) { /* read twice: from a spool */
    const char *real;
    if (annot_start(a) < 0) {
      fclose(f);
      return -1;
    }
    if (tf_annot_run_stream(a->annot, f, name, &real, a->err, sizeof a->err) <
        0)
      return -1;
    pcap_t *pc = open_input(a, real, name, false);
    return pc ? analyze_pcap(a, pc, name, 0) : -1;
  }
  pcap_t *pc = open_stream(a, f, name, TF_COMP_NONE, false);
  return pc ? analyze_pcap(a, pc, name, 0) : -1;
}

/* A capture file ("-": stdin), decompressed when it is gzip or zstd; name
 * is the path in messages (the user's, when path is a spool). */
static pcap_t *open_input(struct tlsfin_analyze *a, const char *path,
                          const char *name, bool replay) {
  enum tf_compression kind = TF_COMP_NONE;
  if (!replay && strcmp(path, "-") != 0) { /* mapped, when it can be */
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    int st;
    if (!a->keylog && !a->embedded)
      a->embedded = tf_keylog_new();
    pcap_t *pc = tf_capture_open_mapped(
        path, a->keylog ? a->keylog : a->embedded, errbuf, &st);
    if (st < 0)
      open_failed(a, name, errbuf);
    if (st != 0)
      return pc;
  }
  FILE *f = !strcmp(path, "-") ? stdin : tf_input_open(path, &kind);
  if (!f) {
    seterr(a, "%s: %s", name, strerror(errno));
    return NULL;
  }
  return open_stream(a, f, name, kind, replay);
}

/* Keys met in an input become the key log once there is one. */
static void adopt_embedded(struct tlsfin_analyze *a) {
  if (!a->keylog && a->embedded && tf_keylog_count(a->embedded)) {
    a->keylog = a->embedded;
    a->embedded = NULL;
    use_keylog(a);
  }
}

int tlsfin_analyze_file(struct tlsfin_analyze *a, const char *path) {
  const char *const *real = &path;
  if (a->annot &&
      (annot_start(a) < 0 ||
       tf_annot_run(a->annot, &path, 1, &real, a->err, sizeof a->err) < 0))
    return -1;
  pcap_t *pc = open_input(a, real[0], path, false);
  if (!pc)
    return -1;
  long long fsize = 0;
  struct stat st;
  if (strcmp(real[0], "-") != 0 && stat(real[0], &st) == 0 &&
      S_ISREG(st.st_mode))
    fsize = (long long)st.st_size;
  return analyze_pcap(a, pc, path, fsize);
}

/* One packet to the engine.  --annotate notes whether the engine
 * numbered it: the replay finds the engine's packet numbers again from
 * these marks, whatever the decoders made of each packet. */
static void source_packet(struct tlsfin_analyze *a, struct tf_source *src,
                          const struct pcap_pkthdr *h, const u_char *data) {
  if (a->par) {
    struct tf_pkt p;
    int d = tf_source_decode(src, h, data, &p);
    if (d == TF_DECODE_TCP && src->mm)
      hold_packet(a, src, data);
    if (d == TF_DECODE_TCP)
      tf_par_packet(a->par, &p, src->mm != NULL);
    else if (d == TF_DECODE_UNFOLLOWED)
      tf_par_note_unfollowed(a->par);
    return;
  }
  uint64_t before = a->annot ? tf_engine_stats(a->engine)->packets : 0;
  tf_source_packet(src, a->engine, h, data);
  if (a->annot)
    tf_annot_mark(a->annot, tf_engine_stats(a->engine)->packets != before);
}

/* An input reached its end (rc: pcap_next_ex's last result): warns about
 * the TCP it could not follow, and returns -1 with the message set when it
 * could not be read whole. */
static int input_ended(struct tlsfin_analyze *a, const struct tf_source *src,
                       int rc) {
  if (src->unfollowed)
    fprintf(stderr,
            "tlsfin: %s: warning: %llu TCP packet(s) skipped (%s, first): IP "
            "fragments are not reassembled, so the connections they belong "
            "to may be reported wrong\n",
            src->name, (unsigned long long)src->unfollowed,
            src->unfollowed_why);
  if (rc == PCAP_ERROR) {
    seterr(a, "%s: after packet %llu: %s", src->name,
           (unsigned long long)src->no, tf_source_error(src));
    return -1;
  }
  if (src->bad) {
    seterr(a, "%s: %llu malformed packet(s) skipped, first at %s", src->name,
           (unsigned long long)src->bad, src->firstbad);
    return -1;
  }
  return 0;
}

/* Reads pc to its end and closes it. */
static int analyze_pcap(struct tlsfin_analyze *a, pcap_t *pc, const char *path,
                        long long fsize) {
  struct tf_source src = {0};
  src.tunnel_ports = &a->tunnel_ports;
  src.zeek_csum = a->zeek_csum;
  if (ensure_engine(a) < 0 ||
      tf_source_init(&src, pc, path, &a->compiled, a->err, sizeof a->err) < 0) {
    tf_capture_close(pc);
    return -1;
  }
  if (a->annot)
    tf_annot_input_opened(a->annot, 0, src.linktype,
                          (uint32_t)pcap_snapshot(pc));
  if (a->par && src.mm)
    tf_pcapfile_hold(src.mm);
  use_keylog(a);
  if (a->records) /* the table's header once an input is open, not before */
    tf_records_header(a->records);
  if (a->html)
    tf_html_add_input(a->html, path);
  bool progress = a->progress && fsize > (long long)PROGRESS_MIN_BYTES;
  double last_progress = now_mono();

  struct pcap_pkthdr *hdr;
  const u_char *data;
  int rc, ret = 0;
  while ((rc = tf_source_next(&src, &hdr, &data)) == 1) {
    if (a->embedded)
      adopt_embedded(a);
    source_packet(a, &src, hdr, data);
    if (progress && (src.no & 0xffff) == 0) {
      double t = now_mono();
      if (t - last_progress > 1.0) {
        long long pos = tf_capture_tell(pc);
        fprintf(a->progress, "\rtlsfin: %s: %3.0f%% (%llu packets)", path,
                pos > 0 ? 100.0 * (double)pos / (double)fsize : 0.0,
                (unsigned long long)src.no);
        last_progress = t;
      }
    }
  }
  if (progress)
    fprintf(a->progress, "\r\033[K");
  ret = input_ended(a, &src, rc);
  /* Connections do not span files: each capture is finished on its own,
   * with its own clock. */
  flush_engine(a);
  tf_capture_close(pc);
  return ret;
}

/* ---- several inputs as one capture ---- */

struct input {
  const char *path;
  pcap_t *pc;
  struct tf_source src;
  struct pcap_pkthdr *hdr; /* the next packet, valid until the next read */
  const u_char *data;
  double ts;
  size_t order; /* position on the command line: ties go in this order */
  int iface;    /* the replay: its interface in the annotated file */
};

static bool input_before(const struct input *x, const struct input *y) {
  return x->ts < y->ts || (x->ts == y->ts && x->order < y->order);
}

static void heap_down(struct input **h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < n && input_before(h[l], h[m]))
      m = l;
    if (l + 1 < n && input_before(h[l + 1], h[m]))
      m = l + 1;
    if (m == i)
      return;
    struct input *t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static void report(struct tlsfin_analyze *a, int *failed) {
  fprintf(stderr, "tlsfin analyze: %s\n", a->err);
  (*failed)++;
}

/* The replay reads nanoseconds; its merge key is the microsecond one the
 * first pass computed (libpcap truncates in both), so both passes merge
 * the packets in the very same order. */
static double ts_micro(const struct pcap_pkthdr *h) {
  struct pcap_pkthdr m = *h;
  m.ts.tv_usec = h->ts.tv_usec / 1000;
  return tf_source_ts(&m);
}

/* Reads the next packet of in; false at its end (or on an error, reported
 * by the first pass; the replay meets the same end again). */
static bool input_next(struct tlsfin_analyze *a, struct input *in, int *failed,
                       bool replay) {
  int rc = tf_source_next(&in->src, &in->hdr, &in->data);
  if (rc == 1) {
    in->ts = replay ? ts_micro(in->hdr) : tf_source_ts(in->hdr);
    return true;
  }
  if (!replay && input_ended(a, &in->src, rc) < 0)
    report(a, failed);
  return false;
}

#define FIRST_PASS SIZE_MAX

/* An input failed: the first pass reports it and goes on with the others;
 * the replay stops, as its packet numbers would no longer match. */
static void input_failed(struct tlsfin_analyze *a, int *failed, bool replay) {
  if (replay)
    (*failed)++;
  else
    report(a, failed);
}

/* Reads paths[0..n) (names: for messages) as one capture: the packets of
 * every input in time order.  The first pass hands them to the engine;
 * the replay of run `run` (--annotate's second pass) hands them to the
 * annotation, in the same order: same inputs, same filter, same keys. */
static int read_merged(struct tlsfin_analyze *a, const char *const *paths,
                       const char *const *names, size_t n, size_t run) {
  const bool replay = run != FIRST_PASS;
  struct input *ins = calloc(n ? n : 1, sizeof *ins);
  struct input **heap = calloc(n ? n : 1, sizeof *heap);
  if (!ins || !heap) {
    free(ins);
    free(heap);
    seterr(a, "out of memory");
    return -1;
  }
  int failed = 0;
  size_t nheap = 0;
  for (size_t i = 0; i < n; i++) {
    struct input *in = &ins[i];
    in->path = names[i];
    in->order = i;
    /* the replay skips what the first pass could not open, and stops at
     * any new failure: the packet numbers would no longer match */
    if (replay && (in->iface = tf_annot_iface(a->annot, run, i)) < 0)
      continue;
    in->pc = open_input(a, paths[i], names[i], replay);
    if (!in->pc) {
      input_failed(a, &failed, replay);
      if (replay)
        break;
      continue;
    }
    in->src.tunnel_ports = &a->tunnel_ports;
    in->src.zeek_csum = a->zeek_csum;
    if (tf_source_init(&in->src, in->pc, names[i], &a->compiled, a->err,
                       sizeof a->err) < 0) {
      input_failed(a, &failed, replay);
      tf_capture_close(in->pc);
      in->pc = NULL;
      if (replay)
        break;
      continue;
    }
    if (!replay && a->annot)
      tf_annot_input_opened(a->annot, i, in->src.linktype,
                            (uint32_t)pcap_snapshot(in->pc));
    if (!replay && a->par && in->src.mm)
      tf_pcapfile_hold(in->src.mm);
    if (!replay && a->records)
      tf_records_header(a->records);
    if (!replay && a->html)
      tf_html_add_input(a->html, names[i]);
    if (input_next(a, in, &failed, replay))
      heap[nheap++] = in;
  }
  if (!replay)
    use_keylog(a);
  else if (failed)
    nheap = 0;
  for (size_t i = nheap; i-- > 0;)
    heap_down(heap, nheap, i);
  /* One engine, one clock: packets of every input in time order, so a
   * connection that spans files (a rotated series) is one connection. */
  while (nheap) {
    struct input *in = heap[0];
    if (replay) {
      if (tf_annot_packet(a->annot, in->iface, in->hdr, in->data) < 0) {
        seterr(a, "%s", tf_annot_error(a->annot));
        failed++;
        break;
      }
    } else {
      if (a->embedded)
        adopt_embedded(a);
      source_packet(a, &in->src, in->hdr, in->data);
    }
    if (!input_next(a, in, &failed, replay))
      heap[0] = heap[--nheap];
    heap_down(heap, nheap, 0);
  }
  if (!replay)
    flush_engine(a);
  for (size_t i = 0; i < n; i++)
    if (ins[i].pc)
      tf_capture_close(ins[i].pc);
  free(ins);
  free(heap);
  return failed ? -1 : 0;
}

int tlsfin_analyze_files(struct tlsfin_analyze *a, const char *const *paths,
                         size_t n) {
  if (ensure_engine(a) < 0)
    return -1;
  const char *const *real = paths;
  if (a->annot &&
      (annot_start(a) < 0 ||
       tf_annot_run(a->annot, paths, n, &real, a->err, sizeof a->err) < 0)) {
    int failed = 0; /* failures are written as they happen (analyze.h) */
    report(a, &failed);
    return -1;
  }
  return read_merged(a, real, paths, n, FIRST_PASS);
}

/* --annotate's second pass: every run again, in order, into the file,
 * after the records are out. */
static int annotate_write(struct tlsfin_analyze *a) {
  if (!a->annot)
    return 0;
  if (tf_annot_empty(a->annot)) { /* the inputs' failures were reported */
    tf_annot_abort(a->annot);
    return 0;
  }
  int rc = tf_annot_begin(a->annot);
  if (rc < 0)
    seterr(a, "%s", tf_annot_error(a->annot));
  for (size_t r = 0; rc == 0 && r < tf_annot_runs(a->annot); r++) {
    const char *const *real = NULL, *const *names = NULL;
    size_t n = 0;
    tf_annot_run_inputs(a->annot, r, &real, &names, &n);
    if ((rc = read_merged(a, real, names, n, r)) < 0 &&
        strncmp(a->err, "--annotate", 10) != 0) {
      char why[sizeof a->err];
      snprintf(why, sizeof why, "%s", a->err);
      seterr(a, "--annotate: reading the input again: %s", why);
    }
  }
  if (rc == 0 && (rc = tf_annot_commit(a->annot)) < 0)
    seterr(a, "%s", tf_annot_error(a->annot));
  if (rc < 0)
    tf_annot_abort(a->annot);
  return rc;
}

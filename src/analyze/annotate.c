/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin analyze --annotate: verdicts as packet comments (annotate.h). */
#include "annotate.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keylog.h"
#include "pcapng_write.h"
#include "tlsfin/taxonomy.h"
#include "tlsfin/tlsfin.h"
#include "xsort.h"

/* A packet belongs to one connection, which makes at most 15 notes at
 * one packet (verdict, 8 alerts, 2 close_notify, 2 FIN, 2 RST). */
#define NOTES_PER_PACKET 32
#define NOTE_MAX 640 /* "tlsfin: conn N: " and the body, cut there */
/* The notes are made as connections end and written at their packets: an
 * external sort by packet number (xsort.h) holds them, in memory up to
 * this many bytes and past it in sorted runs on disk, so that memory does
 * not follow the number of connections.  TLSFIN_SORT_MEM (bytes) sets it
 * in tests, to make them go through the runs on small captures. */
#define NOTES_MEM (4u << 20)

struct input {
  char *name; /* as given, for messages and the interface name */
  char *real; /* the path opened: the name, or a spool */
  int spool;  /* the spool's descriptor (unlinked file), -1 */
  int iface;  /* -1 until it opened in the first pass */
  int dlt;
  uint32_t snaplen;
};

struct run {
  size_t first, n;   /* inputs[first .. first + n) */
  const char **real; /* views of the inputs' strings, per run */
  const char **names;
};

struct tf_annot {
  char *out;
  char *tmp;   /* written here, renamed to out; NULL when direct */
  bool direct; /* out is not a regular file (FIFO, device): written as is */
  bool out_exists;
  dev_t out_dev;
  ino_t out_ino;
  FILE *f;
  struct tf_sink sink;
  struct tf_keylog *const *keylog_ref;

  struct tf_xsort *notes; /* the text of each note, keyed by its packet */
  char *keys;             /* key log lines of the connections with keys */
  size_t keys_len, keys_cap;
  bool oom;

  struct input *inputs;
  size_t ninputs, capinputs;
  struct run *runs;
  size_t nruns, capruns;
  int nifaces;

  /* one bit per packet of the first pass: the engine numbered it */
  uint64_t *marks;
  size_t marks_cap; /* in words */
  uint64_t nmarks, replayed;

  uint64_t gpkt, packets, commented;
  struct tf_pcapng_buf buf;
  const char *comments[NOTES_PER_PACKET];
  char ctext[NOTES_PER_PACKET][NOTE_MAX]; /* what comments point to */
  bool began, committed;
  char err[PATH_MAX + 160];
};

static void seterr(struct tf_annot *an, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void seterr(struct tf_annot *an, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(an->err, sizeof an->err, fmt, ap);
  va_end(ap);
}

const char *tf_annot_error(const struct tf_annot *an) { return an->err; }
uint64_t tf_annot_packets(const struct tf_annot *an) { return an->packets; }
uint64_t tf_annot_commented(const struct tf_annot *an) { return an->commented; }

/* ---- the output file ---- */

/* The temporary file lives beside OUT (same file system: the rename is
 * atomic), hidden, with the mode a plain fopen would have given. */
static FILE *open_tmp(struct tf_annot *an, char *err, size_t errlen) {
  const char *slash = strrchr(an->out, '/');
  int dirlen = slash ? (int)(slash - an->out + 1) : 0;
  const char *base = slash ? slash + 1 : an->out;
  size_t n = strlen(an->out) + 32;
  if (!(an->tmp = malloc(n))) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(an->tmp, n, "%.*s.%s.tlsfin-XXXXXX", dirlen, an->out, base);
  int fd = mkstemp(an->tmp);
  if (fd < 0) {
    snprintf(err, errlen, "--annotate %s: cannot create a file in %.*s: %s",
             an->out, dirlen ? dirlen : 1, dirlen ? an->out : ".",
             strerror(errno));
    free(an->tmp);
    an->tmp = NULL;
    return NULL;
  }
  mode_t mask = umask(0);
  umask(mask);
  (void)fchmod(fd, 0666 & ~mask);
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    snprintf(err, errlen, "--annotate %s: %s", an->out, strerror(errno));
    close(fd);
    unlink(an->tmp);
    free(an->tmp);
    an->tmp = NULL;
  }
  return f;
}

struct tf_annot *tf_annot_new(const char *out, char *err, size_t errlen) {
  if (!out || !*out) {
    snprintf(err, errlen, "--annotate: no file name");
    return NULL;
  }
  struct stat st, so, dn;
  bool exists = stat(out, &st) == 0;
  /* Standard output carries the records: pcapng mixed into them would
   * break both (both going to /dev/null is fine). */
  bool is_stdout = exists && fstat(STDOUT_FILENO, &so) == 0 &&
                   st.st_dev == so.st_dev && st.st_ino == so.st_ino;
  if (is_stdout && stat("/dev/null", &dn) == 0 && S_ISCHR(st.st_mode) &&
      st.st_rdev == dn.st_rdev)
    is_stdout = false;
  if (!strcmp(out, "-") || is_stdout) {
    snprintf(err, errlen,
             "--annotate %s: standard output carries the records; name a "
             "file for the pcapng",
             out);
    return NULL;
  }
  if (exists && S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "--annotate %s: is a directory", out);
    return NULL;
  }
  struct tf_annot *an = calloc(1, sizeof *an);
  if (an)
    an->notes = tf_xsort_new(tf_sort_budget(NOTES_MEM));
  if (!an || !an->notes || !(an->out = strdup(out))) {
    if (an)
      tf_xsort_free(an->notes);
    free(an);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  an->out_exists = exists;
  an->out_dev = exists ? st.st_dev : 0;
  an->out_ino = exists ? st.st_ino : 0;
  /* A FIFO or a device (/dev/null, a process substitution) cannot be
   * replaced by a rename: it is written directly. */
  an->direct = exists && !S_ISREG(st.st_mode);
  if (an->direct) {
    an->f = fopen(out, "wb");
    if (!an->f)
      snprintf(err, errlen, "--annotate %s: %s", out, strerror(errno));
  } else {
    an->f = open_tmp(an, err, errlen);
  }
  if (!an->f) {
    tf_annot_free(an);
    return NULL;
  }
  an->sink.ctx = an;
  return an;
}

void tf_annot_free(struct tf_annot *an) {
  if (!an)
    return;
  if (an->f)
    fclose(an->f);
  if (an->tmp && !an->committed)
    unlink(an->tmp);
  free(an->tmp);
  free(an->out);
  tf_xsort_free(an->notes);
  free(an->keys);
  free(an->marks);
  for (size_t i = 0; i < an->ninputs; i++) {
    free(an->inputs[i].name);
    free(an->inputs[i].real);
    if (an->inputs[i].spool >= 0)
      close(an->inputs[i].spool);
  }
  free(an->inputs);
  for (size_t i = 0; i < an->nruns; i++) {
    free(an->runs[i].real);
    free(an->runs[i].names);
  }
  free(an->runs);
  tf_pcapng_buf_free(&an->buf);
  free(an);
}

/* ---- notes (first pass) ---- */

static void add_note(struct tf_annot *an, const struct tf_conn *c,
                     uint64_t gpkt, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add_note(struct tf_annot *an, const struct tf_conn *c,
                     uint64_t gpkt, const char *fmt, ...) {
  if (an->oom || !gpkt)
    return;
  char body[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  char text[NOTE_MAX];
  int n = snprintf(text, sizeof text, "tlsfin: conn %llu: %s",
                   (unsigned long long)c->id, body);
  size_t len = n < 0                     ? 0
               : (size_t)n < sizeof text ? (size_t)n
                                         : sizeof text - 1;
  /* notes of one packet come back in the order they were made */
  if (tf_xsort_add(an->notes, gpkt, text, len) < 0)
    an->oom = true;
}

static const char *side(int d) { return d == 0 ? "client" : "server"; }

/* The engine numbers packets from 1: the connection's first is the
 * earlier of its sides' first packets. */
static uint64_t conn_first(const struct tf_conn *c) {
  uint64_t a = c->s[0].first_pkt, b = c->s[1].first_pkt;
  return !a ? b : !b ? a : a < b ? a : b;
}

static void alert_notes(struct tf_annot *an, const struct tf_conn *c) {
  for (int i = 0; i < c->tls.nalerts && i < TF_TLS_MAX_ALERTS; i++) {
    const struct tf_tls_alert *a = &c->tls.alerts[i];
    const char *name = a->desc >= 0 ? tlsfin_alert_name(a->desc) : NULL;
    char attrs[64] = "";
    size_t l = 0;
    const char *w[3] = {a->level == 2   ? "fatal"
                        : a->level == 1 ? "warning"
                                        : NULL,
                        a->encrypted ? "encrypted" : NULL,
                        a->inferred ? "inferred" : NULL};
    for (int k = 0; k < 3; k++)
      if (w[k] && l < sizeof attrs)
        l += (size_t)snprintf(attrs + l, sizeof attrs - l, "%s%s",
                              l ? ", " : " (", w[k]);
    if (l && l < sizeof attrs - 1)
      snprintf(attrs + l, sizeof attrs - l, ")");
    if (name)
      add_note(an, c, a->pkt, "%s alert %s%s", side(a->dir), name, attrs);
    else /* an encrypted record known to be an alert, by type or size */
      add_note(an, c, a->pkt, "%s encrypted alert, description unknown",
               side(a->dir));
  }
}

/* A seen close_notify is also an alert of the list: named once. */
static bool alert_named_close_notify(const struct tf_conn *c, int d) {
  for (int i = 0; i < c->tls.nalerts && i < TF_TLS_MAX_ALERTS; i++) {
    const struct tf_tls_alert *a = &c->tls.alerts[i];
    if (a->dir == d && a->pkt == c->tls.d[d].cn_pkt && a->desc == 0)
      return true;
  }
  return false;
}

static void add_keys(struct tf_annot *an, const struct tf_conn *c) {
  const struct tf_keylog *k = c->tls.keylog;
  if (!k && an->keylog_ref)
    k = *an->keylog_ref;
  const struct tf_keys *keys =
      k && c->tls.client_hello ? tf_keylog_find(k, c->tls.client_random) : NULL;
  if (!keys)
    return;
  char text[1024];
  size_t n = tf_keylog_format(keys, c->tls.client_random, text, sizeof text);
  if (!n || an->oom)
    return;
  if (an->keys_len + n > an->keys_cap) {
    size_t cap = an->keys_cap ? an->keys_cap : 4096;
    while (cap < an->keys_len + n)
      cap *= 2;
    char *p = realloc(an->keys, cap);
    if (!p) {
      an->oom = true;
      return;
    }
    an->keys = p;
    an->keys_cap = cap;
  }
  memcpy(an->keys + an->keys_len, text, n);
  an->keys_len += n;
}

static void on_conn(void *ctx, const struct tf_conn *c,
                    const struct tf_result *r) {
  struct tf_annot *an = ctx;
  /* Within a packet the notes keep this order: the verdict, what TLS
   * said, then TCP's FIN and RST. */
  add_note(an, c, conn_first(c), "%s \xe2\x80\x94 %s",
           tlsfin_verdict_name(r->verdict), r->explain);
  if (c->tls.state == TF_TLS_YES) {
    alert_notes(an, c);
    for (int d = 0; d < 2; d++)
      if (c->tls.d[d].cn != TF_CN_NONE && !alert_named_close_notify(c, d))
        add_note(an, c, c->tls.d[d].cn_pkt, "%s close_notify%s", side(d),
                 c->tls.d[d].cn == TF_CN_PROBABLE ? " (probable)" : "");
  }
  for (int d = 0; d < 2; d++) {
    const struct tf_side *s = &c->s[d];
    if (!s->fin)
      continue;
    /* first_close is the side whose first FIN or RST came first: the FIN
     * is the first close when it came before that side's RST */
    bool first = r->first_close == d && (!s->rst || s->fin_pkt < s->rst_pkt);
    add_note(an, c, s->fin_pkt, "%s FIN%s", side(d),
             first ? " (first close)" : "");
  }
  for (int d = 0; d < 2; d++) {
    const struct tf_side *s = &c->s[d];
    if (!s->rst)
      continue;
    if (r->has_rst && r->rst_by == d)
      add_note(an, c, s->rst_pkt, "RST by %s: %s (%s)%s%s%s%s", side(d),
               tlsfin_cause_name(r->cause),
               tlsfin_confidence_name(r->confidence),
               r->rst_detail[0] ? ": " : "", r->rst_detail,
               r->kernel_reason ? "; kernel: " : "",
               r->kernel_reason ? r->kernel_reason : "");
    else
      add_note(an, c, s->rst_pkt, "RST by %s (after the %s's)", side(d),
               side(!d));
  }
  add_keys(an, c);
}

struct tf_sink *tf_annot_sink(struct tf_annot *an) {
  an->sink.ctx = an;
  an->sink.conn = on_conn;
  return &an->sink;
}

void tf_annot_set_keylog_ref(struct tf_annot *an,
                             struct tf_keylog *const *ref) {
  an->keylog_ref = ref;
}

/* ---- runs (first pass) ---- */

static bool same_as_out(const struct tf_annot *an, const char *path) {
  struct stat st;
  return an->out_exists && stat(path, &st) == 0 && st.st_dev == an->out_dev &&
         st.st_ino == an->out_ino;
}

/* Copies in to an unlinked temporary file: the replay reads it again
 * through /proc/self/fd (nothing is left behind, even after a crash). */
static int spool(struct input *in, FILE *f, char *err, size_t errlen) {
  char why[256];
  int fd = tf_tmp_fd(why, sizeof why);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot spool it for --annotate: %s", in->name,
             why);
    return -1;
  }
  char buf[65536];
  size_t n;
  for (uint64_t off = 0; (n = fread(buf, 1, sizeof buf, f)) > 0; off += n) {
    if (tf_pwrite_all(fd, buf, n, off) < 0) {
      snprintf(err, errlen, "%s: spooling it for --annotate in %s: %s",
               in->name, tf_tmp_dir(), strerror(errno));
      close(fd);
      return -1;
    }
  }
  if (ferror(f)) {
    snprintf(err, errlen, "%s: reading: %s", in->name, strerror(EIO));
    close(fd);
    return -1;
  }
  char real[64];
  snprintf(real, sizeof real, "/proc/self/fd/%d", fd);
  if (!(in->real = strdup(real))) {
    snprintf(err, errlen, "out of memory");
    close(fd);
    return -1;
  }
  in->spool = fd;
  return 0;
}

/* Adds a run of n inputs (their strings filled by the caller). */
static struct run *new_run(struct tf_annot *an, size_t n, char *err,
                           size_t errlen) {
  if (an->nruns == an->capruns) {
    size_t cap = an->capruns ? an->capruns * 2 : 4;
    struct run *r = realloc(an->runs, cap * sizeof *r);
    if (!r)
      goto oom;
    an->runs = r;
    an->capruns = cap;
  }
  if (n > SIZE_MAX / sizeof(struct input) - an->ninputs)
    goto oom;
  if (an->ninputs + n > an->capinputs) {
    size_t cap = an->capinputs ? an->capinputs : 8;
    while (cap < an->ninputs + n)
      cap *= 2;
    struct input *in = realloc(an->inputs, cap * sizeof *in);
    if (!in)
      goto oom;
    an->inputs = in;
    an->capinputs = cap;
  }
  struct run *r = &an->runs[an->nruns];
  *r = (struct run){an->ninputs, n, calloc(n ? n : 1, sizeof(char *)),
                    calloc(n ? n : 1, sizeof(char *))};
  if (!r->real || !r->names) {
    free(r->real);
    free(r->names);
    goto oom;
  }
  for (size_t i = 0; i < n; i++)
    an->inputs[an->ninputs + i] = (struct input){.spool = -1, .iface = -1};
  return r;
oom:
  snprintf(err, errlen, "out of memory");
  return NULL;
}

/* The run's inputs are complete: it counts. */
static void end_run(struct tf_annot *an, struct run *r) {
  for (size_t i = 0; i < r->n; i++) {
    r->real[i] = an->inputs[r->first + i].real;
    r->names[i] = an->inputs[r->first + i].name;
  }
  an->ninputs += r->n;
  an->nruns++;
}

static void drop_inputs(struct tf_annot *an, struct run *r, size_t upto) {
  for (size_t i = 0; i < upto; i++) {
    struct input *in = &an->inputs[r->first + i];
    free(in->name);
    free(in->real);
    if (in->spool >= 0)
      close(in->spool);
  }
  free(r->real);
  free(r->names);
}

int tf_annot_run(struct tf_annot *an, const char *const *names, size_t n,
                 const char *const **real, char *err, size_t errlen) {
  struct run *r = new_run(an, n, err, errlen);
  if (!r)
    return -1;
  for (size_t i = 0; i < n; i++) {
    struct input *in = &an->inputs[r->first + i];
    if (!(in->name = strdup(names[i]))) {
      snprintf(err, errlen, "out of memory");
      drop_inputs(an, r, i + 1);
      return -1;
    }
    if (!strcmp(names[i], "-")) {
      if (spool(in, stdin, err, errlen) < 0) {
        drop_inputs(an, r, i + 1);
        return -1;
      }
      continue;
    }
    if (same_as_out(an, names[i])) {
      snprintf(err, errlen,
               "--annotate %s is also an input: write the annotated capture "
               "to another file",
               an->out);
      drop_inputs(an, r, i + 1);
      return -1;
    }
    if (!(in->real = strdup(names[i]))) {
      snprintf(err, errlen, "out of memory");
      drop_inputs(an, r, i + 1);
      return -1;
    }
  }
  end_run(an, r);
  *real = r->real;
  return 0;
}

int tf_annot_run_stream(struct tf_annot *an, FILE *f, const char *name,
                        const char **real, char *err, size_t errlen) {
  struct run *r = new_run(an, 1, err, errlen);
  if (!r) {
    fclose(f);
    return -1;
  }
  struct input *in = &an->inputs[r->first];
  int rc = (in->name = strdup(name)) ? spool(in, f, err, errlen) : -1;
  if (!in->name)
    snprintf(err, errlen, "out of memory");
  fclose(f);
  if (rc < 0) {
    drop_inputs(an, r, 1);
    return -1;
  }
  end_run(an, r);
  *real = r->real[0];
  return 0;
}

void tf_annot_mark(struct tf_annot *an, bool counted) {
  if (an->oom)
    return;
  size_t w = (size_t)(an->nmarks / 64);
  if (w >= an->marks_cap) {
    size_t cap = an->marks_cap ? an->marks_cap * 2 : 1024;
    uint64_t *m = realloc(an->marks, cap * sizeof *m);
    if (!m) {
      an->oom = true;
      return;
    }
    memset(m + an->marks_cap, 0, (cap - an->marks_cap) * sizeof *m);
    an->marks = m;
    an->marks_cap = cap;
  }
  if (counted)
    an->marks[w] |= (uint64_t)1 << (an->nmarks % 64);
  an->nmarks++;
}

void tf_annot_input_opened(struct tf_annot *an, size_t i, int dlt,
                           uint32_t snaplen) {
  if (!an->nruns || i >= an->runs[an->nruns - 1].n)
    return;
  struct input *in = &an->inputs[an->runs[an->nruns - 1].first + i];
  if (in->iface >= 0)
    return;
  in->iface = an->nifaces++;
  in->dlt = dlt;
  in->snaplen = snaplen;
}

/* ---- second pass ---- */

size_t tf_annot_runs(const struct tf_annot *an) { return an->nruns; }
bool tf_annot_empty(const struct tf_annot *an) { return an->nifaces == 0; }

void tf_annot_run_inputs(const struct tf_annot *an, size_t r,
                         const char *const **real, const char *const **names,
                         size_t *n) {
  if (r >= an->nruns) {
    *n = 0;
    return;
  }
  *real = an->runs[r].real;
  *names = an->runs[r].names;
  *n = an->runs[r].n;
}

int tf_annot_iface(const struct tf_annot *an, size_t r, size_t i) {
  if (r >= an->nruns || i >= an->runs[r].n)
    return -1;
  return an->inputs[an->runs[r].first + i].iface;
}

static int write_buf(struct tf_annot *an) {
  errno = 0;
  if (tf_pcapng_buf_write(&an->buf, an->f) < 0) {
    seterr(an, "--annotate %s: writing: %s", an->out, strerror(errno));
    return -1;
  }
  return 0;
}

int tf_annot_begin(struct tf_annot *an) {
  if (an->began || !an->f) {
    seterr(an, "--annotate %s: already written", an->out);
    return -1;
  }
  an->began = true;
  if (!an->nifaces) {
    seterr(an, "--annotate %s: no capture could be read: nothing written",
           an->out);
    return -1;
  }
  if (*tf_xsort_error(an->notes) || tf_xsort_finish(an->notes) < 0) {
    seterr(an, "--annotate %s: keeping the notes: %s", an->out,
           tf_xsort_error(an->notes));
    return -1;
  }
  if (an->oom) {
    seterr(an, "--annotate %s: out of memory collecting the notes", an->out);
    return -1;
  }
  /* One snapshot length for every interface: libpcap refuses a file whose
   * interfaces differ in it, and a larger one only describes. */
  uint32_t snap = 0;
  for (size_t i = 0; i < an->ninputs; i++)
    if (an->inputs[i].iface >= 0 && an->inputs[i].snaplen > snap)
      snap = an->inputs[i].snaplen;
  if (!snap || snap > TF_PCAPNG_SNAPLEN_MAX)
    snap = TF_PCAPNG_SNAPLEN_MAX;
  tf_pcapng_shb(&an->buf,
                "tlsfin " TLSFIN_VERSION_STRING " analyze --annotate");
  for (size_t i = 0; i < an->ninputs; i++) {
    const struct input *in = &an->inputs[i];
    if (in->iface < 0)
      continue;
    int lt = tf_pcapng_linktype(in->dlt);
    if (lt < 0) {
      seterr(an, "--annotate %s: %s: link type %d cannot be written", an->out,
             in->name, in->dlt);
      return -1;
    }
    /* Nanoseconds (if_tsresol 9): the inputs' timestamps, whatever their
     * resolution, are kept exactly. */
    tf_pcapng_idb(&an->buf, (uint16_t)lt, snap,
                  strcmp(in->name, "-") ? in->name : "stdin", 9);
  }
  /* The keys before the first packet, so that Wireshark decrypts the file
   * alone; split in whole lines under libpcap's block size limit. */
  for (size_t off = 0; off < an->keys_len;) {
    size_t n = tf_pcapng_text_cut(an->keys + off, an->keys_len - off,
                                  TF_PCAPNG_DSB_MAX);
    tf_pcapng_dsb(&an->buf, TF_PCAPNG_SECRETS_TLS, an->keys + off, n);
    off += n;
  }
  return write_buf(an);
}

/* The notes of the packet the engine numbered gpkt, in the order they
 * were made: one comment each, *n of them.  0, or -1 when they cannot be
 * read back. */
static int comments_for(struct tf_annot *an, uint64_t gpkt, size_t *n) {
  uint64_t k;
  const void *p;
  size_t len;
  int rc;
  *n = 0;
  while ((rc = tf_xsort_peek(an->notes, &k)) == 1 && k <= gpkt) {
    if (tf_xsort_next(an->notes, &k, &p, &len) < 0)
      return -1;
    if (k < gpkt || *n == NOTES_PER_PACKET)
      continue; /* numbers the replay never reached: none expected */
    if (len >= NOTE_MAX)
      len = NOTE_MAX - 1;
    memcpy(an->ctext[*n], p, len);
    an->ctext[*n][len] = '\0';
    an->comments[*n] = an->ctext[*n];
    (*n)++;
  }
  return rc < 0 ? -1 : 0;
}

/* Nanoseconds since the epoch; pcap's 32-bit seconds after 2038 come out
 * negative from libpcap and are read back as unsigned (tf_source_ts). */
static uint64_t ts_nsec(const struct pcap_pkthdr *h) {
  long long s = (long long)h->ts.tv_sec;
  uint64_t sec = s < 0 && s >= INT32_MIN ? (uint64_t)(uint32_t)s
                 : s < 0                 ? 0
                                         : (uint64_t)s;
  uint64_t frac = h->ts.tv_usec < 0 ? 0 : (uint64_t)h->ts.tv_usec;
  if (sec > UINT64_MAX / 1000000000u - 1)
    return UINT64_MAX;
  return sec * 1000000000u + (frac < 1000000000u ? frac : 999999999u);
}

int tf_annot_packet(struct tf_annot *an, int iface, const struct pcap_pkthdr *h,
                    const uint8_t *data) {
  if (!an->began && tf_annot_begin(an) < 0)
    return -1;
  if (!an->f) {
    seterr(an, "--annotate %s: already written", an->out);
    return -1;
  }
  size_t nc = 0;
  uint64_t k = an->replayed++;
  if (k < an->nmarks && (an->marks[k / 64] >> (k % 64) & 1) &&
      comments_for(an, ++an->gpkt, &nc) < 0) {
    seterr(an, "--annotate %s: reading the notes back: %s", an->out,
           tf_xsort_error(an->notes));
    return -1;
  }
  if (tf_pcapng_epb(&an->buf, (uint32_t)iface, ts_nsec(h), data, h->caplen,
                    h->len, an->comments, nc) < 0) {
    seterr(an,
           "--annotate %s: a packet of %u bytes is larger than pcapng "
           "readers accept",
           an->out, h->caplen);
    return -1;
  }
  an->packets++;
  if (nc)
    an->commented++;
  return write_buf(an);
}

int tf_annot_commit(struct tf_annot *an) {
  if (!an->began && tf_annot_begin(an) < 0)
    goto fail;
  if (!an->f) {
    seterr(an, "--annotate %s: already written", an->out);
    return -1;
  }
  /* A file that changed between the passes would be commented wrong. */
  if (an->replayed != an->nmarks) {
    seterr(an,
           "--annotate %s: the input changed while it was read (%llu "
           "packets, then %llu)",
           an->out, (unsigned long long)an->nmarks,
           (unsigned long long)an->replayed);
    goto fail;
  }
  FILE *f = an->f;
  an->f = NULL;
  errno = 0;
  bool bad = fflush(f) != 0 || ferror(f);
  int e = errno;
  if (fclose(f) != 0 && !bad) {
    bad = true;
    e = errno;
  }
  if (bad) {
    seterr(an, "--annotate %s: writing: %s", an->out, strerror(e ? e : EIO));
    goto fail;
  }
  if (an->tmp && rename(an->tmp, an->out) < 0) {
    seterr(an, "--annotate %s: %s", an->out, strerror(errno));
    goto fail;
  }
  an->committed = true;
  return 0;
fail:
  tf_annot_abort(an);
  return -1;
}

void tf_annot_abort(struct tf_annot *an) {
  if (an->committed)
    return;
  if (an->f)
    fclose(an->f);
  an->f = NULL;
  if (an->tmp) {
    unlink(an->tmp);
    free(an->tmp);
    an->tmp = NULL;
  }
}

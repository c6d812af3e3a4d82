/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin analyze --format=html.  Each finished connection is serialised at
 * once into a compact JSON array (docs/html.md: positions, not keys, and
 * every repeated string interned); the page is written at the end,
 * connections in id order.  Rows and strings past their budgets wait in
 * temporary files (docs/html.md, "Memory"), so memory stays bounded.
 */
#include "html.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dconv.h"
#include "report.h"
#include "tlsdec.h"
#include "tlsfin/taxonomy.h"
#include "xsort.h"

#ifndef TLSFIN_VERSION
#define TLSFIN_VERSION "0"
#endif

/* The page template with its CSS and JavaScript inlined (generated from
 * src/html/ by cmake/inline_html.cmake). */
#include "html_template.h"

#define DATA_MARKER "<!--@DATA@-->"

/* The connections finish in one order and are written in id order: they
 * wait in an external sort by id (xsort.h), in memory up to this many
 * bytes and past it in sorted runs in $TMPDIR, so that the report's
 * memory does not follow the number of connections; TLSFIN_SORT_MEM
 * (bytes) sets it in tests.  Each record is the connection's first and
 * last timestamps, then its array's tail (fields 3..). */
#define ROWS_MEM (4u << 20)
#define ROW_TS (2 * sizeof(double))

/* Strings (addresses, explanations, and one Wireshark filter per
 * connection) are interned in a table written before the connections.
 * Past STRS_MEM bytes of them in memory, new ones go to an unlinked file
 * in $TMPDIR and the table keeps only where each is (16 bytes): the
 * strings seen first are the common ones, and a later one is mostly a
 * connection's own filter, never looked up again. */
#define STRS_MEM (4u << 20)
#define STR_DISK 0x80000000u /* in len: the string is in the file */
#define STAGE (1u << 16)     /* the file is written in blocks this big */

struct str {
  union {
    char *s;      /* in memory, NUL-terminated */
    uint64_t off; /* in the file */
  } u;
  uint32_t hash, len; /* len | STR_DISK */
};

struct tf_html {
  FILE *out;
  struct tf_sink sink;
  struct tf_xsort *rows;
  struct tf_buf b; /* the connection being added */
  uint64_t n;
  size_t bytes; /* the tails' bytes, for data_estimate */
  double t0;    /* the earliest first_ts */
  struct str *strs;
  size_t nstrs, scap;
  size_t strs_mem, strs_bytes; /* budget; all strings' bytes */
  uint32_t *slots;             /* open addressing: string index + 1, 0 empty */
  size_t nslots;
  struct tf_spill sfile; /* the strings past the budget */
  char **inputs;
  size_t ninputs;
  bool oom;
  char err[300];
};

static uint32_t fnv1a(const char *s) {
  uint32_t x = 2166136261u;
  for (; *s; s++)
    x = (x ^ (uint8_t)*s) * 16777619u;
  return x;
}

static bool rehash(struct tf_html *h) {
  size_t n = h->nslots ? h->nslots * 2 : 1024;
  uint32_t *s = calloc(n, sizeof *s);
  if (!s)
    return false;
  for (size_t i = 0; i < h->nstrs; i++) {
    size_t j = h->strs[i].hash & (n - 1);
    while (s[j])
      j = (j + 1) & (n - 1);
    s[j] = (uint32_t)i + 1;
  }
  free(h->slots);
  h->slots = s;
  h->nslots = n;
  return true;
}

/* The strings' file failed: its reason is the report's. */
static bool file_fail(struct tf_html *h) {
  if (!h->err[0])
    snprintf(h->err, sizeof h->err, "%s", h->sfile.err);
  h->oom = true;
  return false;
}

/* Whether table entry e holds s (len bytes, same hash). */
static bool str_is(struct tf_html *h, const struct str *e, const char *s,
                   size_t len) {
  if ((e->len & ~STR_DISK) != len)
    return false;
  if (!(e->len & STR_DISK))
    return !memcmp(e->u.s, s, len);
  char small[512], *buf = len <= sizeof small ? small : malloc(len);
  if (!buf) {
    h->oom = true;
    return false;
  }
  bool same = tf_spill_read(&h->sfile, e->u.off, buf, len) == 0
                  ? !memcmp(buf, s, len)
                  : file_fail(h);
  if (buf != small)
    free(buf);
  return same;
}

/* The index of s in the string table, adding it: -1 when out of memory or
 * the strings' file failed. */
static long intern(struct tf_html *h, const char *s) {
  if (h->oom)
    return -1;
  if ((h->nstrs + 1) * 2 > h->nslots && !rehash(h))
    goto oom;
  size_t len = strlen(s);
  if (len >= STR_DISK)
    goto oom;
  uint32_t hv = fnv1a(s);
  size_t j = hv & (h->nslots - 1);
  while (h->slots[j]) {
    const struct str *e = &h->strs[h->slots[j] - 1];
    if (e->hash == hv && str_is(h, e, s, len))
      return (long)h->slots[j] - 1;
    if (h->oom)
      return -1;
    j = (j + 1) & (h->nslots - 1);
  }
  if (h->nstrs == h->scap) {
    size_t cap = h->scap ? h->scap * 2 : 256;
    struct str *v = realloc(h->strs, cap * sizeof *v);
    if (!v)
      goto oom;
    h->strs = v;
    h->scap = cap;
  }
  struct str *e = &h->strs[h->nstrs];
  e->hash = hv;
  e->len = (uint32_t)len;
  if (h->strs_bytes + len + 1 <= h->strs_mem) {
    if (!(e->u.s = strdup(s)))
      goto oom;
  } else if (tf_spill_append(&h->sfile, s, len, &e->u.off) == 0) {
    e->len |= STR_DISK;
  } else {
    file_fail(h);
    return -1;
  }
  h->strs_bytes += len + 1;
  h->slots[j] = (uint32_t)++h->nstrs;
  return (long)h->nstrs - 1;
oom:
  h->oom = true;
  return -1;
}

static long intern_or_none(struct tf_html *h, const char *s) {
  return s && *s ? intern(h, s) : -1;
}

static void html_conn(void *ctx, const struct tf_conn *c,
                      const struct tf_result *r) {
  struct tf_html *h = ctx;
  if (h->oom)
    return;
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
  tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
  tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
  char vbuf[12];
  const char *v = tf_tls_column(c, r, vbuf, sizeof vbuf);
  const char *hend = tf_http_end_column(c);
  char wf[TF_WIRESHARK_FILTER_LEN];
  tf_wireshark_filter(c, wf, sizeof wf);

  /* The array's fields 3.. (docs/html.md), after the times' place.  The
   * strings are interned in field order, one statement each: their
   * indices then do not depend on the compiler's order of evaluation. */
  struct tf_buf *b = &h->b;
  static const char times[ROW_TS];
  b->len = 0;
  tf_buf_put(b, times, sizeof times);
  int64_t f[20];
  int k = 0;
  f[k++] = intern(h, a0);
  f[k++] = c->s[0].port;
  f[k++] = intern(h, a1);
  f[k++] = c->s[1].port;
  f[k++] = (int)r->verdict;
  f[k++] = r->has_rst ? r->rst_by : -1;
  f[k++] = r->has_rst ? (int)r->cause : -1;
  f[k++] = r->has_rst ? intern(h, tlsfin_confidence_name(r->confidence)) : -1;
  f[k++] = r->has_rst ? intern_or_none(h, r->rst_detail) : -1;
  f[k++] = r->first_close;
  f[k++] = intern_or_none(h, v);
  f[k++] = r->is_tls ? intern_or_none(h, r->handshake) : -1;
  f[k++] = r->is_tls ? (int)c->tls.d[0].cn : 0;
  f[k++] = r->is_tls ? (int)c->tls.d[1].cn : 0;
  f[k++] = r->truncated ? 1 : 0;
  f[k++] = r->is_tls ? intern_or_none(h, c->tls.sni) : -1;
  for (int i = 0; i < k; i++) {
    tf_buf_i64(b, f[i]);
    tf_buf_put(b, ",", 1);
  }
  for (int d = 0; d < 2; d++) {
    tf_buf_u64(b, c->s[d].bytes);
    tf_buf_put(b, ",", 1);
  }
  k = 0;
  f[k++] = intern(h, r->explain);
  f[k++] = intern_or_none(h, hend);
  f[k++] = r->has_rst ? intern_or_none(h, r->kernel_reason) : -1;
  f[k++] = intern(h, wf);
  for (int i = 0; i < k; i++) {
    tf_buf_i64(b, f[i]);
    tf_buf_put(b, ",", 1);
  }
  const struct tf_ladder *l = c->ladder;
  tf_buf_put(b, "[", 1);
  tf_buf_u64(b, l ? l->total : 0);
  double prev = c->first_ts;
  for (unsigned i = 0; l && i < l->n; i++) {
    const struct tf_ladder_row *row = tf_ladder_row_at(l, i);
    char notes[160];
    tf_tls_notes(notes, sizeof notes, c, row->gpkt, row->dir);
    double dt = (row->ts - prev) * 1e6;
    prev = row->ts;
    /* NaN, negative: 0; past what int64_t holds: its largest (dconv.h) */
    int64_t us = dt > 0 ? tf_i64_sat(dt + 0.5) : 0;
    int64_t rf[5] = {us, row->dir, row->flags, row->len,
                     notes[0] ? intern(h, notes + 1) : -1}; /* ' ' first */
    for (int j = 0; j < 5; j++) {
      tf_buf_put(b, ",", 1);
      tf_buf_i64(b, rf[j]);
    }
    tf_buf_put(b, ",", 1);
    tf_buf_u64(b, row->no);
  }
  tf_buf_put(b, "]]", 2);
  if (h->b.oom)
    h->oom = true;
  if (h->oom)
    return;
  memcpy(h->b.p, &c->first_ts, sizeof c->first_ts);
  memcpy(h->b.p + sizeof c->first_ts, &c->last_ts, sizeof c->last_ts);
  if (tf_xsort_add(h->rows, c->id, h->b.p, h->b.len) < 0) {
    h->oom = true;
    return;
  }
  if (!h->n++ || c->first_ts < h->t0)
    h->t0 = c->first_ts;
  h->bytes += h->b.len - ROW_TS;
}

struct tf_html *tf_html_new(FILE *out) {
  struct tf_html *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  if (!(h->rows = tf_xsort_new(tf_sort_budget(ROWS_MEM)))) {
    free(h);
    return NULL;
  }
  h->strs_mem = tf_sort_budget(STRS_MEM);
  h->sfile.cap = STAGE;
  h->out = out;
  h->sink = (struct tf_sink){.ctx = h, .conn = html_conn};
  return h;
}

struct tf_sink *tf_html_sink(struct tf_html *h) {
  return &h->sink;
}

void tf_html_add_input(struct tf_html *h, const char *name) {
  char **v = realloc(h->inputs, (h->ninputs + 1) * sizeof *v);
  if (!v || !(v[h->ninputs] = strdup(name ? name : "-"))) {
    if (v)
      h->inputs = v;
    h->oom = true;
    return;
  }
  h->inputs = v;
  h->ninputs++;
}

/* A JSON string safe inside <script>: '<' is \u003c so nothing can close
 * the element, control bytes are escaped, and bytes that are not UTF-8
 * (an SNI is whatever the client sent) are read as Latin-1 so the document
 * stays valid JSON. */
static void json_str(FILE *f, const char *s) {
  putc('"', f);
  const uint8_t *p = (const uint8_t *)s;
  while (*p) {
    uint8_t ch = *p;
    if (ch == '"' || ch == '\\') {
      putc('\\', f);
      putc(ch, f);
    } else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&') {
      fprintf(f, "\\u%04x", ch);
    } else if (ch < 0x80) {
      putc(ch, f);
    } else {
      /* a valid UTF-8 sequence passes; anything else is one Latin-1 byte */
      int n = (ch & 0xe0) == 0xc0   ? 1
              : (ch & 0xf0) == 0xe0 ? 2
              : (ch & 0xf8) == 0xf0 ? 3
                                    : -1;
      int k = 0;
      while (n > 0 && k < n && (p[k + 1] & 0xc0) == 0x80)
        k++;
      if (n > 0 && k == n && ch >= 0xc2) {
        fwrite(p, 1, (size_t)n + 1, f);
        p += n + 1;
        continue;
      }
      fprintf(f, "\\u%04x", ch);
    }
    p++;
  }
  putc('"', f);
}

/* The string table: the file's strings, in the order they were written,
 * come back through a window of it. */
static int write_strings(struct tf_html *h, FILE *f) {
  uint64_t end = h->sfile.disk + h->sfile.len;
  char *win = NULL;
  size_t wcap = 0, wlen = 0;
  uint64_t woff = 0;
  int rc = 0;
  for (size_t i = 0; i < h->nstrs && rc == 0; i++) {
    if (i)
      putc(',', f);
    const struct str *e = &h->strs[i];
    if (!(e->len & STR_DISK)) {
      json_str(f, e->u.s);
      continue;
    }
    size_t len = e->len & ~STR_DISK;
    if (e->u.off < woff || e->u.off + len + 1 > woff + wlen) {
      size_t want = len + 1 > STAGE ? len + 1 : STAGE;
      if (want > wcap) {
        char *w = realloc(win, want);
        if (!w) {
          snprintf(h->err, sizeof h->err, "out of memory");
          rc = -1;
          break;
        }
        win = w;
        wcap = want;
      }
      woff = e->u.off;
      wlen = end - woff < wcap - 1 ? (size_t)(end - woff) : wcap - 1;
      if (wlen < len) /* never: every string was appended whole */
        snprintf(h->sfile.err, sizeof h->sfile.err, "a string was cut short");
      if (wlen < len || tf_spill_read(&h->sfile, woff, win, wlen) < 0) {
        file_fail(h);
        rc = -1;
        break;
      }
    }
    /* the window has a byte to spare past every string */
    char *p = win + (e->u.off - woff), keep = p[len];
    p[len] = '\0';
    json_str(f, p);
    p[len] = keep;
  }
  free(win);
  return rc;
}

/* The data document (docs/html.md) into f: 0, or -1 when the strings or
 * the connections cannot be read back. */
static int write_data(struct tf_html *h, FILE *f,
                      const struct tf_engine_stats *st) {
  double t0 = h->n ? h->t0 : 0;
  fprintf(f,
          "{\"format\":\"tlsfin-html\",\"version\":1,\"generator\":\"tlsfin "
          "%s\",\"inputs\":[",
          TLSFIN_VERSION);
  for (size_t i = 0; i < h->ninputs; i++) {
    if (i)
      putc(',', f);
    json_str(f, h->inputs[i]);
  }
  fprintf(f, "],\"t0\":%.6f,\"verdicts\":[", t0);
  for (int i = 0; i < TLSFIN_VERDICT_COUNT; i++) {
    if (i)
      putc(',', f);
    json_str(f, tlsfin_verdict_name((tlsfin_verdict)i));
  }
  fputs("],\"causes\":[", f);
  for (int i = 0; i < TLSFIN_CAUSE_COUNT; i++) {
    if (i)
      putc(',', f);
    json_str(f, tlsfin_cause_name((tlsfin_cause)i));
  }
  fputs("],\"verdict_text\":[", f);
  for (int i = 0; i < TLSFIN_VERDICT_COUNT; i++) {
    if (i)
      putc(',', f);
    json_str(f, tlsfin_verdict_help((tlsfin_verdict)i));
  }
  fputs("],\"cause_text\":[", f);
  for (int i = 0; i < TLSFIN_CAUSE_COUNT; i++) {
    if (i)
      putc(',', f);
    json_str(f, tlsfin_cause_help((tlsfin_cause)i));
  }
  fputs("],\"strings\":[", f);
  if (write_strings(h, f) < 0)
    return -1;
  fprintf(f, "],\"packets\":%llu,\"ladder_rows\":%u,\"conns\":[",
          (unsigned long long)st->packets, TF_HTML_LADDER_ROWS);
  uint64_t id;
  const void *p;
  size_t len;
  int rc;
  for (uint64_t i = 0; (rc = tf_xsort_next(h->rows, &id, &p, &len)) == 1; i++) {
    double first, last;
    if (len < ROW_TS)
      return -1; /* never: every record starts with its times */
    memcpy(&first, p, sizeof first);
    memcpy(&last, (const char *)p + sizeof first, sizeof last);
    fprintf(f, "%s[%llu,%.3f,%.3f,", i ? ",\n" : "\n", (unsigned long long)id,
            (first - t0) * 1e3, (last - t0) * 1e3);
    fwrite((const char *)p + ROW_TS, 1, len - ROW_TS, f);
  }
  fputs("]}", f);
  return rc;
}

/* A stream that gzips (RFC 1952) then base64-encodes (RFC 4648 §4) what is
 * written to it, into out: what the page's DecompressionStream("gzip")
 * reads back.  The data document is written straight through it, never
 * held whole. */
struct gz64 {
  FILE *out;
  z_stream z;
  unsigned char carry[3];
  size_t ncarry;
  bool failed;
};

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_put(struct gz64 *g, const unsigned char *p, size_t n) {
  for (size_t k = 0; k < n;) {
    while (g->ncarry < 3 && k < n)
      g->carry[g->ncarry++] = p[k++];
    if (g->ncarry < 3)
      break;
    const unsigned char *c = g->carry;
    char q[4] = {b64[c[0] >> 2], b64[((c[0] & 3) << 4) | (c[1] >> 4)],
                 b64[((c[1] & 15) << 2) | (c[2] >> 6)], b64[c[2] & 63]};
    fwrite(q, 1, 4, g->out);
    g->ncarry = 0;
  }
}

static int gz_run(struct gz64 *g, int flush) {
  unsigned char buf[16384];
  int rc;
  do {
    g->z.next_out = buf;
    g->z.avail_out = sizeof buf;
    rc = deflate(&g->z, flush);
    if (rc == Z_STREAM_ERROR)
      return -1;
    b64_put(g, buf, sizeof buf - g->z.avail_out);
  } while (g->z.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  return 0;
}

static ssize_t gz_write(void *cookie, const char *p, size_t n) {
  struct gz64 *g = cookie;
  g->z.next_in = (Bytef *)(uintptr_t)p;
  g->z.avail_in = (uInt)n; /* stdio hands over at most its buffer */
  if (gz_run(g, Z_NO_FLUSH) < 0) {
    g->failed = true;
    return -1;
  }
  return (ssize_t)n;
}

static int gz_close(void *cookie) {
  struct gz64 *g = cookie;
  g->z.avail_in = 0;
  if (gz_run(g, Z_FINISH) < 0)
    g->failed = true;
  deflateEnd(&g->z);
  if (g->ncarry) {
    unsigned char *c = g->carry, c1 = g->ncarry > 1 ? c[1] : 0;
    char q[4] = {b64[c[0] >> 2], b64[((c[0] & 3) << 4) | (c1 >> 4)],
                 g->ncarry > 1 ? b64[(c1 & 15) << 2] : '=', '='};
    fwrite(q, 1, 4, g->out);
  }
  return g->failed ? -1 : 0;
}

/* The data's size, near enough to choose between plain and compressed. */
static size_t data_estimate(const struct tf_html *h) {
  return h->bytes + h->n * 32 + 8192 + h->strs_bytes + 2 * h->nstrs;
}

const char *tf_html_error(const struct tf_html *h) { return h->err; }

int tf_html_write(struct tf_html *h, const struct tf_engine_stats *st) {
  if (*tf_xsort_error(h->rows) || tf_xsort_finish(h->rows) < 0) {
    snprintf(h->err, sizeof h->err, "keeping the connections: %s",
             tf_xsort_error(h->rows));
    return -1;
  }
  if (h->oom) { /* or the strings' file failed: err says so */
    if (!h->err[0])
      snprintf(h->err, sizeof h->err, "out of memory");
    return -1;
  }
  FILE *f = h->out;
  const char *tpl = (const char *)tf_html_template;
  size_t tlen = sizeof tf_html_template;
  const char *mark = memmem(tpl, tlen, DATA_MARKER, sizeof DATA_MARKER - 1);
  if (!mark)
    return -1; /* the build checks the marker; never here */
  fwrite(tpl, 1, (size_t)(mark - tpl), f);
  int rc = 0, drc;
  if (data_estimate(h) <= TF_HTML_PLAIN_MAX) {
    fputs("<script type=\"application/json\" id=\"tlsfin-data\">", f);
    drc = write_data(h, f, st);
  } else {
    fputs("<script type=\"application/octet-stream\" id=\"tlsfin-data\" "
          "data-encoding=\"gzip-base64\">",
          f);
    struct gz64 g = {.out = f};
    /* 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&g.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      snprintf(h->err, sizeof h->err, "out of memory");
      return -1;
    }
    FILE *z = fopencookie(
        &g, "w", (cookie_io_functions_t){.write = gz_write, .close = gz_close});
    if (!z) {
      deflateEnd(&g.z);
      snprintf(h->err, sizeof h->err, "out of memory");
      return -1;
    }
    drc = write_data(h, z, st);
    rc = fclose(z);
  }
  if (drc < 0) { /* the page is cut: said, and the exit says it too */
    if (!h->err[0])
      snprintf(h->err, sizeof h->err, "reading the connections back: %s",
               tf_xsort_error(h->rows));
    return -1;
  }
  fputs("</script>", f);
  const char *rest = mark + sizeof DATA_MARKER - 1;
  fwrite(rest, 1, tlen - (size_t)(rest - tpl), f);
  fflush(f);
  if (rc != 0 || ferror(f)) {
    snprintf(h->err, sizeof h->err, "the output failed");
    return -1;
  }
  return 0;
}

void tf_html_free(struct tf_html *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->nstrs; i++)
    if (!(h->strs[i].len & STR_DISK))
      free(h->strs[i].u.s);
  tf_spill_close(&h->sfile);
  for (size_t i = 0; i < h->ninputs; i++)
    free(h->inputs[i]);
  free(h->strs);
  free(h->inputs);
  free(h->slots);
  tf_xsort_free(h->rows);
  tf_buf_free(&h->b);
  free(h);
}

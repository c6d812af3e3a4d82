/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin analyze --format=html.  Each finished connection is serialised at
 * once into a compact JSON array (docs/html.md: positions, not keys, and
 * every repeated string interned), so memory follows the page's size, not
 * the table's; the page is written at the end, connections in id order.
 */
#include "html.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "report.h"
#include "tlsdec.h"
#include "tlsfin/taxonomy.h"

#ifndef TLSFIN_VERSION
#define TLSFIN_VERSION "0"
#endif

/* The page template with its CSS and JavaScript inlined (generated from
 * src/html/ by cmake/inline_html.cmake). */
#include "html_template.h"

#define DATA_MARKER "<!--@DATA@-->"

struct ent {
  uint64_t id;
  double first_ts, last_ts;
  size_t off; /* the array's tail (fields 3..) in buf */
  size_t len;
};

struct tf_html {
  FILE *out;
  struct tf_sink sink;
  struct tf_buf b; /* each connection's array tail (fields 3..) */
  struct ent *ents;
  size_t n, ecap;
  char **strs;
  size_t nstrs, scap;
  uint32_t *slots; /* open addressing: string index + 1, 0 empty */
  size_t nslots;
  char **inputs;
  size_t ninputs;
  bool oom;
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
    size_t j = fnv1a(h->strs[i]) & (n - 1);
    while (s[j])
      j = (j + 1) & (n - 1);
    s[j] = (uint32_t)i + 1;
  }
  free(h->slots);
  h->slots = s;
  h->nslots = n;
  return true;
}

/* The index of s in the string table, adding it: -1 when out of memory. */
static long intern(struct tf_html *h, const char *s) {
  if (h->oom)
    return -1;
  if ((h->nstrs + 1) * 2 > h->nslots && !rehash(h))
    goto oom;
  size_t j = fnv1a(s) & (h->nslots - 1);
  while (h->slots[j]) {
    if (!strcmp(h->strs[h->slots[j] - 1], s))
      return (long)h->slots[j] - 1;
    j = (j + 1) & (h->nslots - 1);
  }
  if (h->nstrs == h->scap) {
    size_t cap = h->scap ? h->scap * 2 : 256;
    char **v = realloc(h->strs, cap * sizeof *v);
    if (!v)
      goto oom;
    h->strs = v;
    h->scap = cap;
  }
  if (!(h->strs[h->nstrs] = strdup(s)))
    goto oom;
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
  if (h->n == h->ecap) {
    size_t cap = h->ecap ? h->ecap * 2 : 1024;
    struct ent *v = realloc(h->ents, cap * sizeof *v);
    if (!v) {
      h->oom = true;
      return;
    }
    h->ents = v;
    h->ecap = cap;
  }
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
  tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
  tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
  char vbuf[12];
  const char *v = tf_tls_column(c, r, vbuf, sizeof vbuf);
  const char *hend = tf_http_end_column(c);
  char wf[TF_WIRESHARK_FILTER_LEN];
  tf_wireshark_filter(c, wf, sizeof wf);

  size_t start = h->b.len;
  tf_buf_printf(
      &h->b,
      "%ld,%u,%ld,%u,%d,%d,%d,%ld,%ld,%d,%ld,%ld,%d,%d,%d,%ld,%llu,%llu,",
      intern(h, a0), c->s[0].port, intern(h, a1), c->s[1].port, (int)r->verdict,
      r->has_rst ? r->rst_by : -1, r->has_rst ? (int)r->cause : -1,
      r->has_rst ? intern(h, tlsfin_confidence_name(r->confidence)) : -1,
      r->has_rst ? intern_or_none(h, r->rst_detail) : -1, r->first_close,
      intern_or_none(h, v), r->is_tls ? intern_or_none(h, r->handshake) : -1,
      r->is_tls ? (int)c->tls.d[0].cn : 0, r->is_tls ? (int)c->tls.d[1].cn : 0,
      r->truncated ? 1 : 0, r->is_tls ? intern_or_none(h, c->tls.sni) : -1,
      (unsigned long long)c->s[0].bytes, (unsigned long long)c->s[1].bytes);
  tf_buf_printf(&h->b, "%ld,%ld,%ld,%ld,[", intern(h, r->explain),
                intern_or_none(h, hend),
                r->has_rst ? intern_or_none(h, r->kernel_reason) : -1,
                intern(h, wf));
  const struct tf_ladder *l = c->ladder;
  tf_buf_printf(&h->b, "%llu", l ? (unsigned long long)l->total : 0ull);
  double prev = c->first_ts;
  for (unsigned i = 0; l && i < l->n; i++) {
    const struct tf_ladder_row *row = tf_ladder_row_at(l, i);
    char notes[160];
    tf_tls_notes(notes, sizeof notes, c, row->gpkt, row->dir);
    double dt = (row->ts - prev) * 1e6;
    prev = row->ts;
    tf_buf_printf(
        &h->b, ",%lld,%u,%u,%u,%ld,%llu", dt > 0 ? (long long)(dt + 0.5) : 0ll,
        row->dir, row->flags, row->len,
        notes[0] ? intern(h, notes + 1) : -1, /* notes start with ' ' */
        (unsigned long long)row->no);
  }
  tf_buf_printf(&h->b, "]]");
  if (h->b.oom)
    h->oom = true;
  if (h->oom)
    return;
  h->ents[h->n++] =
      (struct ent){c->id, c->first_ts, c->last_ts, start, h->b.len - start};
}

struct tf_html *tf_html_new(FILE *out) {
  struct tf_html *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
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

static int by_id(const void *a, const void *b) {
  const struct ent *x = a, *y = b;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The data document (docs/html.md) into f. */
static void write_data(struct tf_html *h, FILE *f,
                       const struct tf_engine_stats *st) {
  qsort(h->ents, h->n, sizeof *h->ents, by_id);
  double t0 = 0;
  for (size_t i = 0; i < h->n; i++)
    if (i == 0 || h->ents[i].first_ts < t0)
      t0 = h->ents[i].first_ts;
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
  for (size_t i = 0; i < h->nstrs; i++) {
    if (i)
      putc(',', f);
    json_str(f, h->strs[i]);
  }
  fprintf(f, "],\"packets\":%llu,\"ladder_rows\":%u,\"conns\":[",
          (unsigned long long)st->packets, TF_HTML_LADDER_ROWS);
  for (size_t i = 0; i < h->n; i++) {
    const struct ent *e = &h->ents[i];
    fprintf(f, "%s[%llu,%.3f,%.3f,", i ? ",\n" : "\n",
            (unsigned long long)e->id, (e->first_ts - t0) * 1e3,
            (e->last_ts - t0) * 1e3);
    fwrite(h->b.p + e->off, 1, e->len, f);
  }
  fputs("]}", f);
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
  size_t n = h->b.len + h->n * 32 + 8192;
  for (size_t i = 0; i < h->nstrs; i++)
    n += strlen(h->strs[i]) + 3;
  return n;
}

int tf_html_write(struct tf_html *h, const struct tf_engine_stats *st) {
  if (h->oom)
    return -1;
  FILE *f = h->out;
  const char *tpl = (const char *)tf_html_template;
  size_t tlen = sizeof tf_html_template;
  const char *mark = memmem(tpl, tlen, DATA_MARKER, sizeof DATA_MARKER - 1);
  if (!mark)
    return -1; /* the build checks the marker; never here */
  fwrite(tpl, 1, (size_t)(mark - tpl), f);
  int rc = 0;
  if (data_estimate(h) <= TF_HTML_PLAIN_MAX) {
    fputs("<script type=\"application/json\" id=\"tlsfin-data\">", f);
    write_data(h, f, st);
  } else {
    fputs("<script type=\"application/octet-stream\" id=\"tlsfin-data\" "
          "data-encoding=\"gzip-base64\">",
          f);
    struct gz64 g = {.out = f};
    /* 15 + 16: a gzip header and trailer instead of zlib's */
    if (deflateInit2(&g.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
      return -1;
    FILE *z = fopencookie(
        &g, "w", (cookie_io_functions_t){.write = gz_write, .close = gz_close});
    if (!z) {
      deflateEnd(&g.z);
      return -1;
    }
    write_data(h, z, st);
    rc = fclose(z);
  }
  fputs("</script>", f);
  const char *rest = mark + sizeof DATA_MARKER - 1;
  fwrite(rest, 1, tlen - (size_t)(rest - tpl), f);
  fflush(f);
  return rc != 0 || ferror(f) ? -1 : 0;
}

void tf_html_free(struct tf_html *h) {
  if (!h)
    return;
  for (size_t i = 0; i < h->nstrs; i++)
    free(h->strs[i]);
  for (size_t i = 0; i < h->ninputs; i++)
    free(h->inputs[i]);
  free(h->strs);
  free(h->inputs);
  free(h->slots);
  free(h->ents);
  tf_buf_free(&h->b);
  free(h);
}

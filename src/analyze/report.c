/* SPDX-License-Identifier: BSD-2-Clause */
#include "report.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "community_id.h"
#include "dconv.h"
#include "tlsdec.h"

void tf_buf_printf(struct tf_buf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0)
      return;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t ncap = b->cap ? b->cap * 2 : 2048;
    while (ncap - b->len <= (size_t)n)
      ncap *= 2;
    char *np = realloc(b->p, ncap);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = ncap;
  }
}

/* Length of the well-formed UTF-8 sequence at p, 0 if ill-formed.  RFC
 * 3629 §4 (the Unicode table of well-formed byte sequences): the second
 * byte's range depends on the first, which excludes overlong forms (E0
 * 80..9F, F0 80..8F), UTF-16 surrogates (ED A0..BF) and code points past
 * U+10FFFF (F4 90..BF); C0, C1 and F5..FF never appear.  Reads stop at the
 * first byte that does not continue the sequence, so the NUL that ends the
 * string is never passed. */
static int utf8_len(const unsigned char *p) {
  unsigned char lo = 0x80, hi = 0xbf;
  int n;
  if (p[0] >= 0xc2 && p[0] <= 0xdf)
    n = 2;
  else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    if (p[0] == 0xe0)
      lo = 0xa0;
    else if (p[0] == 0xed)
      hi = 0x9f;
  } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    if (p[0] == 0xf0)
      lo = 0x90;
    else if (p[0] == 0xf4)
      hi = 0x8f;
  } else
    return 0;
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (int i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

static int buf_reserve(struct tf_buf *b, size_t n) {
  if (b->cap - b->len > n)
    return 0;
  size_t ncap = b->cap ? b->cap * 2 : 2048; /* a record is ~1.2 KB */
  while (ncap - b->len <= n)
    ncap *= 2;
  char *np = realloc(b->p, ncap);
  if (!np) {
    b->oom = true; /* the record is incomplete: its writer drops it */
    return -1;
  }
  b->p = np;
  b->cap = ncap;
  return 0;
}

/* Inline, so that a literal's constant length makes memcpy a few moves
 * (LIT): a record is some sixty small appends. */
static inline void buf_put(struct tf_buf *b, const char *s, size_t n) {
  if (b->cap - b->len <= n && buf_reserve(b, n) < 0)
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = 0;
}
#define LIT(b, s) buf_put((b), (s), sizeof(s) - 1)
static inline void buf_str(struct tf_buf *b, const char *s) {
  buf_put(b, s, strlen(s));
}
static inline void buf_bool(struct tf_buf *b, bool v) {
  if (v)
    LIT(b, "true");
  else
    LIT(b, "false");
}

/* How many bytes from p (n of them) need no care in a JSON string: not a
 * quote or backslash, not a control or DEL, not past ASCII (RFC 8259 §7;
 * those are checked as UTF-8).  Sixteen at a time where SSE2 is (every
 * x86-64): a record's strings (explain, the filter, the history) are
 * half of it. */
static size_t json_plain(const unsigned char *p, size_t n) {
  size_t i = 0;
#ifdef __SSE2__
  const __m128i flip = _mm_set1_epi8((char)0x80);
  const __m128i ctl = _mm_set1_epi8((char)(0x20 ^ 0x80)); /* < 0x20 */
  const __m128i del = _mm_set1_epi8((char)(0x7e ^ 0x80)); /* > 0x7e */
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
    __m128i u = _mm_xor_si128(v, flip); /* unsigned order as signed */
    __m128i bad = _mm_or_si128(
        _mm_or_si128(_mm_cmplt_epi8(u, ctl), _mm_cmpgt_epi8(u, del)),
        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    int m = _mm_movemask_epi8(bad);
    if (m)
      return i + (size_t)__builtin_ctz((unsigned)m);
  }
#endif
  while (i < n && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
    i++;
  return i;
}

/* JSON string: runs of plain characters are copied at once (this is on the
 * hot path: every record has several strings). */
void tf_buf_json_str(struct tf_buf *b, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  size_t k = json_plain(p, n);
  if (k == n) { /* the usual case: nothing needs care */
    LIT(b, "\"");
    buf_put(b, s, n);
    LIT(b, "\"");
    return;
  }
  LIT(b, "\"");
  const unsigned char *end = p + n;
  while (p < end) {
    k = json_plain(p, (size_t)(end - p));
    if (k)
      buf_put(b, (const char *)p, k);
    p += k;
    if (p == end)
      break;
    if (*p == '"' || *p == '\\') {
      char esc[2] = {'\\', (char)*p};
      buf_put(b, esc, 2);
    } else if (*p < 0x20 || *p == 0x7f) {
      tf_buf_printf(b, "\\u%04x", *p);
    } else {
      /* untrusted bytes (SNI) may not be UTF-8: invalid ones become U+FFFD
       * so the line stays valid JSON */
      int u = utf8_len(p);
      if (u) {
        buf_put(b, (const char *)p, (size_t)u);
        p += u - 1;
      } else {
        LIT(b, "\\ufffd");
      }
    }
    p++;
  }
  LIT(b, "\"");
}

/* v in decimal, at the end of t (NUL-terminated); returns where it
 * starts. */
static char *u64_str(char t[24], uint64_t v) {
  /* two digits per division: a record prints some twenty numbers */
  static const char pairs[201] = "00010203040506070809"
                                 "10111213141516171819"
                                 "20212223242526272829"
                                 "30313233343536373839"
                                 "40414243444546474849"
                                 "50515253545556575859"
                                 "60616263646566676869"
                                 "70717273747576777879"
                                 "80818283848586878889"
                                 "90919293949596979899";
  char *p = t + 23;
  *p = 0;
  while (v >= 100) {
    unsigned d = (unsigned)(v % 100) * 2;
    v /= 100;
    *--p = pairs[d + 1];
    *--p = pairs[d];
  }
  if (v >= 10) {
    *--p = pairs[v * 2 + 1];
    *--p = pairs[v * 2];
  } else {
    *--p = (char)('0' + v);
  }
  return p;
}

static void buf_u64(struct tf_buf *b, uint64_t v) {
  char t[24], *s = u64_str(t, v);
  buf_put(b, s, (size_t)(t + 23 - s));
}

static void buf_i64(struct tf_buf *b, int64_t v) {
  if (v < 0) {
    buf_put(b, "-", 1);
    buf_u64(b, -(uint64_t)v);
  } else {
    buf_u64(b, (uint64_t)v);
  }
}

void tf_buf_put(struct tf_buf *b, const void *s, size_t n) { buf_put(b, s, n); }
void tf_buf_u64(struct tf_buf *b, uint64_t v) { buf_u64(b, v); }
void tf_buf_i64(struct tf_buf *b, int64_t v) { buf_i64(b, v); }

/* A timestamp with 6 decimals (microseconds, rounded). */
static void buf_ts(struct tf_buf *b, double ts) {
  if (!(ts >= 0)) /* negative, or NaN */
    ts = 0;
  uint64_t sec, f;
  double us = ts * 1e6 + 0.5;
  if (us < TF_DBL_BELOW_2_64) {
    sec = (uint64_t)us / 1000000;
    f = (uint64_t)us % 1000000;
  } else {
    /* past 2^64 microseconds (a pcapng clock in seconds can say so):
     * whole seconds, as such a double has no fraction left (its step is
     * past 2 ms); past 2^64 seconds it saturates (dconv.h) */
    sec = tf_u64_sat(ts);
    f = 0;
  }
  char frac[7];
  for (int i = 6; i >= 1; i--, f /= 10)
    frac[i] = (char)('0' + f % 10);
  frac[0] = '.';
  buf_u64(b, sec);
  buf_put(b, frac, 7);
}

/* A small printf for the hot JSON path (vsnprintf per field was most of
 * the cost of analyze on large captures): %s raw string, %q JSON-quoted
 * string, %d int, %u unsigned, %U uint64_t, %b bool, %t timestamp (6
 * decimals), %% percent. */
static void jfmt(struct tf_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  const char *p = fmt;
  while (*p) {
    const char *lit = p;
    p = strchrnul(p, '%'); /* vectorised in glibc: literals are long */
    if (p > lit)
      buf_put(b, lit, (size_t)(p - lit));
    if (!*p)
      break;
    switch (p[1]) {
    case 's': {
      const char *v = va_arg(ap, const char *);
      buf_put(b, v, strlen(v));
      break;
    }
    case 'q':
      tf_buf_json_str(b, va_arg(ap, const char *));
      break;
    case 'd':
      buf_i64(b, va_arg(ap, int));
      break;
    case 'u':
      buf_u64(b, va_arg(ap, unsigned));
      break;
    case 'U':
      buf_u64(b, va_arg(ap, uint64_t));
      break;
    case 'b':
      if (va_arg(ap, int))
        buf_put(b, "true", 4);
      else
        buf_put(b, "false", 5);
      break;
    case 't':
      buf_ts(b, va_arg(ap, double));
      break;
    default:
      buf_put(b, "%", 1);
      break;
    }
    p += 2;
  }
  va_end(ap);
}

void tf_buf_free(struct tf_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
  b->oom = false;
}

/* The connection id, with where it went (struct tf_buf). */
static void put_id(struct tf_buf *b, uint64_t id, int width) {
  size_t at = b->len;
  if (width)
    tf_buf_printf(b, "%*llu", width, (unsigned long long)id);
  else
    buf_u64(b, id);
  b->id_at = at;
  b->id_len = b->len - at;
  b->id_width = width;
}

/* Dotted quad by hand: glibc's inet_ntop formats IPv4 through sprintf,
 * and every record prints two addresses. */
static size_t ipv4_str(char *dst, const uint8_t *a) {
  size_t l = 0;
  for (int i = 0; i < 4; i++) {
    unsigned v = a[i];
    if (i)
      dst[l++] = '.';
    if (v >= 100)
      dst[l++] = (char)('0' + v / 100);
    if (v >= 10)
      dst[l++] = (char)('0' + v / 10 % 10);
    dst[l++] = (char)('0' + v % 10);
  }
  dst[l] = 0;
  return l;
}

void tf_format_addr(char *dst, size_t n, uint8_t af, const uint8_t *addr) {
  if (af == 4 && n >= INET_ADDRSTRLEN) {
    ipv4_str(dst, addr);
    return;
  }
  if (!inet_ntop(af == 4 ? AF_INET : AF_INET6, addr, dst, (socklen_t)n))
    snprintf(dst, n, "?");
}

static const char *side(int d) {
  return d == 0 ? "\"client\"" : d == 1 ? "\"server\"" : "null";
}
static const char *cn_name(uint8_t cn) {
  return cn == TF_CN_SEEN ? "seen" : cn == TF_CN_PROBABLE ? "probable" : "none";
}
static const char *start_name(uint8_t s) {
  return s == TF_START_HANDSHAKE  ? "handshake"
         : s == TF_START_SYN_ONLY ? "syn_only"
                                  : "midstream";
}

/* "name" */
static void buf_name(struct tf_buf *b, const char *n) {
  LIT(b, "\"");
  buf_str(b, n);
  LIT(b, "\"");
}

static void json_version(struct tf_buf *b, uint16_t v) {
  const char *n = tlsfin_version_name(v);
  if (n)
    buf_name(b, n);
  else
    LIT(b, "null");
}

/* KEY{"client":c,"server":s}, KEY a literal (with its comma and colon) */
#define CS_U64(b, key, c, s) cs_u64((b), (key), sizeof(key) - 1, (c), (s))
static void cs_u64(struct tf_buf *b, const char *key, size_t klen, uint64_t c,
                   uint64_t s) {
  buf_put(b, key, klen);
  LIT(b, "{\"client\":");
  buf_u64(b, c);
  LIT(b, ",\"server\":");
  buf_u64(b, s);
  LIT(b, "}");
}

static void json_tls(struct tf_buf *b, const struct tf_conn *c,
                     const struct tf_result *r) {
  const struct tf_tls *t = &c->tls;
  if (!r->is_tls) {
    LIT(b, "null");
    return;
  }
  LIT(b, "{\"version\":");
  json_version(b, t->version);
  LIT(b, ",\"client_max_version\":");
  json_version(b, t->client_max_version);
  LIT(b, ",\"sni\":");
  if (t->sni[0])
    tf_buf_json_str(b, t->sni);
  else
    LIT(b, "null");
  LIT(b, ",\"handshake\":");
  buf_name(b, r->handshake);
  LIT(b, ",\"alerts\":[");
  for (int i = 0; i < t->nalerts; i++) {
    const struct tf_tls_alert *a = &t->alerts[i];
    const char *name = a->desc >= 0 ? tlsfin_alert_name(a->desc) : NULL;
    if (i)
      LIT(b, ",");
    LIT(b, "{\"by\":");
    buf_str(b, side(a->dir));
    LIT(b, ",\"level\":");
    if (a->level == 2)
      LIT(b, "\"fatal\"");
    else if (a->level == 1)
      LIT(b, "\"warning\"");
    else
      LIT(b, "null");
    LIT(b, ",\"description\":");
    if (name)
      buf_name(b, name);
    else
      LIT(b, "null");
    LIT(b, ",\"encrypted\":");
    buf_bool(b, a->encrypted);
    LIT(b, ",\"inferred\":");
    buf_bool(b, a->inferred);
    LIT(b, "}");
  }
  LIT(b, "],\"close_notify\":{\"client\":");
  buf_name(b, cn_name(t->d[0].cn));
  LIT(b, ",\"server\":");
  buf_name(b, cn_name(t->d[1].cn));
  LIT(b, "},\"first_close_notify\":");
  buf_str(b, side(r->first_cn));
  CS_U64(b, ",\"app_data\":", t->d[0].app_data, t->d[1].app_data);
  LIT(b, ",\"data_after_close_notify\":{\"client\":");
  buf_bool(b, t->d[0].data_after_cn);
  LIT(b, ",\"server\":");
  buf_bool(b, t->d[1].data_after_cn);
  LIT(b, "},\"truncated\":");
  buf_bool(b, r->truncated);
  /* tlsfin extensions (docs/analyze.md): what the key log made of it */
  LIT(b, ",\"decryption\":");
  buf_name(b, tf_keys_status_name(t->keys_status));
  LIT(b, ",\"http\":");
  const struct tf_http *rq = t->crypto ? t->crypto->http[0] : NULL;
  const struct tf_http *rs = t->crypto ? t->crypto->http[1] : NULL;
  if (rs && rs->end != TF_HTTP_NOT_HTTP && rs->end != TF_HTTP_NONE)
    jfmt(b,
         "{\"requests\":%u,\"responses\":%u,\"last_response\":\"%s\","
         "\"lost_bytes\":%U}}",
         rq ? rq->messages : 0u, rs->messages, tf_http_end_name(rs->end),
         rs->lost_bytes);
  else
    LIT(b, "null}");
}

/* dst holds n bytes; appends s, truncating (the filter never nears n) */
static size_t put_str(char *dst, size_t n, size_t l, const char *s) {
  size_t k = strlen(s);
  if (l + k >= n)
    k = l < n ? n - 1 - l : 0;
  memcpy(dst + l, s, k);
  dst[l + k] = 0;
  return l + k;
}

/* Wireshark's own conversation filter (Statistics > Conversations >
 * TCP, "Apply as Filter"), the form its users know: it selects this
 * connection's packets; a reused 4-tuple is told apart by first_packet and
 * last_packet.  From addresses already formatted (a record has them). */
static void wireshark_filter(const struct tf_conn *c, const char *a0,
                             const char *a1, char *dst, size_t n) {
  const char *ip = c->af == 6 ? "(ipv6.addr eq " : "(ip.addr eq ";
  const char *ip2 = c->af == 6 ? " and ipv6.addr eq " : " and ip.addr eq ";
  size_t l = 0;
  if (!n)
    return;
  l = put_str(dst, n, l, ip);
  l = put_str(dst, n, l, a0);
  l = put_str(dst, n, l, ip2);
  l = put_str(dst, n, l, a1);
  l = put_str(dst, n, l, ") and (tcp.port eq ");
  char t[24];
  l = put_str(dst, n, l, u64_str(t, c->s[0].port));
  l = put_str(dst, n, l, " and tcp.port eq ");
  l = put_str(dst, n, l, u64_str(t, c->s[1].port));
  put_str(dst, n, l, ")");
}

void tf_wireshark_filter(const struct tf_conn *c, char *dst, size_t n) {
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
  tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
  tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
  wireshark_filter(c, a0, a1, dst, n);
}

/* docs/watch.md: the process that owned each local endpoint's socket, as
 * the kernel reported it; null when the kernel said nothing (analyze). */
static void json_process(struct tf_buf *b, const struct tf_conn *c) {
  if (!c->kern[0].has_proc && !c->kern[1].has_proc) {
    LIT(b, "null");
    return;
  }
  for (int d = 0; d < 2; d++) {
    jfmt(b, d ? ",\"server\":" : "{\"client\":");
    if (c->kern[d].has_proc)
      jfmt(b, "{\"pid\":%u,\"comm\":%q}", (unsigned)c->kern[d].pid,
           c->kern[d].comm);
    else
      jfmt(b, "null");
  }
  jfmt(b, "}");
}

/* docs/watch.md, "app": what OpenSSL told the application on each local
 * endpoint (watch --libssl), and whether the wire agrees: the gap seeds
 * 001 and 004 are about. */
static const char *ssl_error_name(int e) {
  return e == 1   ? "SSL_ERROR_SSL"
         : e == 5 ? "SSL_ERROR_SYSCALL"
         : e == 6 ? "SSL_ERROR_ZERO_RETURN"
                  : NULL;
}

static const char *ssl_told(int e, int arg) {
  switch (e) {
  case 6:
    return "the peer's close_notify";
  case 1:
    return arg == 0 ? "unexpected EOF: the connection ended without "
                      "close_notify (OpenSSL 3)"
                    : "a TLS protocol error";
  case 5:
    return arg == 0 ? "EOF without close_notify (OpenSSL 1.1)"
                    : "a socket error (a reset, usually)";
  }
  return NULL;
}

static void json_app(struct tf_buf *b, const struct tf_conn *c) {
  if (!c->kern[0].has_app && !c->kern[1].has_app) {
    LIT(b, "null");
    return;
  }
  for (int d = 0; d < 2; d++) {
    const struct tf_kside *k = &c->kern[d];
    jfmt(b, d ? ",\"server\":" : "{\"client\":");
    if (!k->has_app) {
      jfmt(b, "null");
      continue;
    }
    jfmt(b, "{\"pid\":%u,\"comm\":%q,\"shutdown\":[", (unsigned)k->app_pid,
         k->app_comm);
    for (int i = 0; i < k->nshutdown; i++)
      jfmt(b, i ? ",%d" : "%d", (int)k->shutdown[i]);
    const char *en = ssl_error_name(k->ssl_error);
    bool peer_cn = c->tls.state == TF_TLS_YES && c->tls.d[!d].cn != TF_CN_NONE;
    /* ZERO_RETURN means the peer's close_notify arrived; the EOF and
     * error codes mean it did not: the wire says which was true. */
    int agrees = !en ? -1 : k->ssl_error == 6 ? peer_cn : !peer_cn;
    jfmt(b, "],\"error\":%s%s%s,\"told\":", en ? "\"" : "", en ? en : "null",
         en ? "\"" : "");
    if (en)
      jfmt(b, "%q", ssl_told(k->ssl_error, k->ssl_error_arg));
    else
      jfmt(b, "null");
    jfmt(b, ",\"wire_agrees\":%s}",
         agrees < 0 ? "null"
         : agrees   ? "true"
                    : "false");
  }
  jfmt(b, "}");
}

/* docs/analyze.md, "Tunnels": the layers the connection came through,
 * outermost first, or null; each names its type, the outer IP endpoints
 * (null for MPLS and PPPoE, carried on a link) and its identifier. */
static void json_tunnel(struct tf_buf *b, const struct tf_conn *c) {
  if (!c->tunnel) {
    LIT(b, "null");
    return;
  }
  for (unsigned i = 0; i < c->tunnel->n; i++) {
    const struct tf_tunnel_layer *l = &c->tunnel->l[i];
    jfmt(b, "%s{\"type\":\"%s\",\"outer\":", i ? "," : "[",
         tf_tunnel_type_name(l->type));
    if (l->af) {
      char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
      tf_format_addr(s, sizeof s, l->af, l->u.ip.src);
      tf_format_addr(d, sizeof d, l->af, l->u.ip.dst);
      jfmt(b, "{\"src\":\"%s\",\"dst\":\"%s\"}", s, d);
    } else {
      jfmt(b, "null");
    }
    if (l->type == TF_TUN_ERSPAN)
      jfmt(b, ",\"version\":%u", (unsigned)l->version);
    if (l->has_id) {
      const char *k = l->type == TF_TUN_GRE      ? "key"
                      : l->type == TF_TUN_GTPU   ? "teid"
                      : l->type == TF_TUN_VXLAN  ? "vni"
                      : l->type == TF_TUN_GENEVE ? "vni"
                                                 : "session";
      jfmt(b, ",\"%s\":%u", k, (unsigned)l->id);
    }
    if (l->type == TF_TUN_MPLS) {
      jfmt(b, ",\"labels\":[");
      for (unsigned j = 0; j < l->nlabels; j++)
        jfmt(b, j ? ",%u" : "%u", (unsigned)l->u.labels[j]);
      jfmt(b, "]");
    }
    jfmt(b, "}");
  }
  jfmt(b, "]");
}

void tf_report_jsonl(struct tf_buf *b, const struct tf_conn *c,
                     const struct tf_result *r) {
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
  tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
  tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
  const struct tf_side *cl = &c->s[0], *sv = &c->s[1];
  /* appends, not a format string: parsing one per field was half of a
   * record's cost, and records are most of analyze's on short
   * connections (bench/analyze/costs) */
  LIT(b, "{\"id\":");
  put_id(b, c->id, 0);
  LIT(b, ",\"first_ts\":");
  buf_ts(b, c->first_ts);
  LIT(b, ",\"last_ts\":");
  buf_ts(b, c->last_ts);
  LIT(b, ",\"client\":{\"ip\":");
  buf_name(b, a0);
  LIT(b, ",\"port\":");
  buf_u64(b, cl->port);
  LIT(b, "},\"server\":{\"ip\":");
  buf_name(b, a1);
  LIT(b, ",\"port\":");
  buf_u64(b, sv->port);
  struct tf_zeek *zk = (struct tf_zeek *)&c->zeek;
  LIT(b, "},\"zeek_conn_state\":");
  buf_name(b, tf_zeek_conn_state(zk));
  LIT(b, ",\"zeek_history\":");
  tf_buf_json_str(b, tf_zeek_history(zk));
  /* zeek_rows: null, or Zeek's conn.log rows when its timers split the
   * connection (src/analyze/zeek.h); zeek_conn_state/history are row 0 */
  unsigned zn = tf_zeek_nrows(zk);
  if (zn > 1)
    LIT(b, ",\"zeek_rows\":[");
  else
    LIT(b, ",\"zeek_rows\":null");
  for (unsigned i = 0; zn > 1 && i < zn; i++) {
    const char *zs, *zh;
    double zt;
    tf_zeek_row(zk, i, &zs, &zh, &zt);
    jfmt(b, "%s{\"conn_state\":\"%s\",\"history\":%q,\"first_ts\":%t}",
         i ? "," : "", zs, zh, zt);
  }
  if (zn > 1)
    LIT(b, "]");
  LIT(b, ",\"tcp\":{\"start\":");
  buf_name(b, start_name(c->start));
  LIT(b, ",\"client_fin\":");
  buf_bool(b, cl->fin);
  LIT(b, ",\"server_fin\":");
  buf_bool(b, sv->fin);
  LIT(b, ",\"client_rst\":");
  buf_bool(b, cl->rst);
  LIT(b, ",\"server_rst\":");
  buf_bool(b, sv->rst);
  LIT(b, ",\"first_close\":");
  buf_str(b, side(r->first_close));
  CS_U64(b, ",\"bytes\":", cl->bytes, sv->bytes);
  CS_U64(b, ",\"packets\":", cl->packets, sv->packets);
  CS_U64(b, ",\"retransmissions\":", cl->retrans, sv->retrans);
  CS_U64(b, ",\"missing_bytes\":", cl->missing, sv->missing);
  LIT(b, "},\"rst\":");
  if (r->has_rst) {
    LIT(b, "{\"by\":");
    buf_str(b, side(r->rst_by));
    LIT(b, ",\"cause\":");
    buf_name(b, tlsfin_cause_name(r->cause));
    LIT(b, ",\"confidence\":");
    buf_name(b, tlsfin_confidence_name(r->confidence));
    LIT(b, ",\"detail\":");
    tf_buf_json_str(b, r->rst_detail);
    LIT(b, ",\"kernel_reason\":");
    if (r->kernel_reason)
      buf_name(b, r->kernel_reason);
    else
      LIT(b, "null");
    LIT(b, "}");
  } else {
    LIT(b, "null");
  }
  LIT(b, ",\"tls\":");
  json_tls(b, c, r);
  char cid[TF_COMMUNITY_ID_LEN];
  tf_community_id(c, cid);
  LIT(b, ",\"community_id\":");
  tf_buf_json_str(b, cid);
  LIT(b, ",\"first_packet\":");
  buf_u64(b, c->first_no);
  LIT(b, ",\"last_packet\":");
  buf_u64(b, c->last_no);
  char wf[TF_WIRESHARK_FILTER_LEN];
  wireshark_filter(c, a0, a1, wf, sizeof wf);
  LIT(b, ",\"wireshark_filter\":");
  tf_buf_json_str(b, wf);
  LIT(b, ",\"process\":");
  json_process(b, c);
  LIT(b, ",\"app\":");
  json_app(b, c);
  LIT(b, ",\"tunnel\":");
  json_tunnel(b, c);
  LIT(b, ",\"verdict\":");
  buf_name(b, tlsfin_verdict_name(r->verdict));
  LIT(b, ",\"explain\":");
  tf_buf_json_str(b, r->explain);
  LIT(b, "}\n");
}

/* ---- Zeek conn.log and CSV ---- */

/* Zeek's conn.log (TSV, logging framework ASCII writer): the header names
 * each column and its type, so zeek-cut and Zeek pipelines read the file;
 * tlsfin's verdict, RST and community id are extra columns at the end. */
/* The ASCII writer's time format for #open and #close. */
static void zeek_time(char *dst, size_t n, double ts) {
  time_t t = (time_t)ts;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(dst, n, "%Y-%m-%d-%H-%M-%S", &tm);
}

void tf_report_zeek_footer(FILE *out, double close_ts) {
  char when[32];
  zeek_time(when, sizeof when, close_ts);
  fprintf(out, "#close\t%s\n", when);
}

void tf_report_zeek_header(FILE *out, double open_ts) {
  char when[32];
  zeek_time(when, sizeof when, open_ts);
  fprintf(out,
          "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
          "#unset_field\t-\n#path\tconn\n#open\t%s\n"
          "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\t"
          "proto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\t"
          "missed_bytes\thistory\torig_pkts\tresp_pkts\tcommunity_id\t"
          "tlsfin_verdict\ttlsfin_rst_by\ttlsfin_rst_cause\t"
          "tlsfin_rst_confidence\ttlsfin_tls_version\ttlsfin_explain\n"
          "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\t"
          "interval\tcount\tcount\tstring\tcount\tstring\tcount\tcount\t"
          "string\tstring\tstring\tstring\tstring\tstring\tstring\n",
          when);
}

/* A Zeek string field: tab, newline and backslash escaped as \xNN (the
 * ASCII writer's escaping), "-" when unset, "(empty)" when empty. */
static void zeek_str(struct tf_buf *b, const char *s) {
  if (!s) {
    jfmt(b, "-");
    return;
  }
  if (!*s) {
    jfmt(b, "(empty)");
    return;
  }
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p < 0x20 || *p == '\\' || *p >= 0x7f)
      tf_buf_printf(b, "\\x%02x", *p);
    else
      buf_put(b, (const char *)p, 1);
  }
}

void tf_report_zeek_row(struct tf_buf *b, const struct tf_conn *c,
                        const struct tf_result *r) {
  const struct tf_side *o = &c->s[0], *s = &c->s[1];
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN], cid[TF_COMMUNITY_ID_LEN];
  tf_format_addr(a0, sizeof a0, c->af, o->addr);
  tf_format_addr(a1, sizeof a1, c->af, s->addr);
  tf_community_id(c, cid);
  const char *ver = r->is_tls ? tlsfin_version_name(c->tls.version) : NULL;
  jfmt(b, "%t\tCt", c->first_ts);
  put_id(b, c->id, 0);
  jfmt(b, "\t%s\t%u\t%s\t%u\ttcp\t%s\t", a0, (unsigned)o->port, a1,
       (unsigned)s->port, r->is_tls ? "ssl" : "-");
  tf_buf_printf(b, "%.6f", c->last_ts - c->first_ts);
  jfmt(b, "\t%U\t%U\t%s\t%U\t", o->bytes + o->missing, s->bytes + s->missing,
       tf_zeek_conn_state((struct tf_zeek *)&c->zeek), o->missing + s->missing);
  zeek_str(b, tf_zeek_history((struct tf_zeek *)&c->zeek));
  jfmt(b, "\t%U\t%U\t%s\t%s\t%s\t%s\t%s\t%s\t", o->packets, s->packets, cid,
       tlsfin_verdict_name(r->verdict),
       r->has_rst ? (r->rst_by ? "server" : "client") : "-",
       r->has_rst ? tlsfin_cause_name(r->cause) : "-",
       r->has_rst ? tlsfin_confidence_name(r->confidence) : "-",
       ver ? ver : "-");
  zeek_str(b, r->explain);
  jfmt(b, "\n");
}

/* CSV (RFC 4180): one row per connection, the JSONL contract's scalar
 * fields flattened with '_' (tls alerts as "by:level:description;..."). */
static const char *const csv_columns =
    "id,first_ts,last_ts,client_ip,client_port,server_ip,server_port,"
    "zeek_conn_state,zeek_history,tcp_start,client_fin,server_fin,client_rst,"
    "server_rst,first_close,client_bytes,server_bytes,client_packets,"
    "server_packets,client_retransmissions,server_retransmissions,"
    "client_missing_bytes,server_missing_bytes,rst_by,rst_cause,"
    "rst_confidence,rst_kernel_reason,rst_detail,tls_version,"
    "tls_client_max_version,tls_sni,tls_handshake,tls_alerts,"
    "tls_close_notify_client,tls_close_notify_server,tls_first_close_notify,"
    "tls_truncated,tls_decryption,verdict,explain,community_id,first_packet,"
    "last_packet\n";

void tf_report_csv_header(FILE *out) { fputs(csv_columns, out); }

/* A CSV field, quoted when it holds a comma, quote or line break. */
static void csv_str(struct tf_buf *b, const char *s) {
  if (!s)
    return;
  if (!strpbrk(s, ",\"\r\n")) {
    buf_put(b, s, strlen(s));
    return;
  }
  buf_put(b, "\"", 1);
  for (const char *p = s; *p; p++) {
    if (*p == '"')
      buf_put(b, "\"", 1); /* a quote is doubled */
    buf_put(b, p, 1);
  }
  buf_put(b, "\"", 1);
}

static const char *csv_side(int d) {
  return d == 0 ? "client" : d == 1 ? "server" : "";
}

void tf_report_csv_row(struct tf_buf *b, const struct tf_conn *c,
                       const struct tf_result *r) {
  const struct tf_side *cl = &c->s[0], *sv = &c->s[1];
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN], cid[TF_COMMUNITY_ID_LEN];
  tf_format_addr(a0, sizeof a0, c->af, cl->addr);
  tf_format_addr(a1, sizeof a1, c->af, sv->addr);
  tf_community_id(c, cid);
  put_id(b, c->id, 0);
  jfmt(b, ",%t,%t,%s,%u,%s,%u,%s,", c->first_ts, c->last_ts, a0,
       (unsigned)cl->port, a1, (unsigned)sv->port,
       tf_zeek_conn_state((struct tf_zeek *)&c->zeek));
  csv_str(b, tf_zeek_history((struct tf_zeek *)&c->zeek));
  jfmt(b, ",%s,%b,%b,%b,%b,%s,%U,%U,%U,%U,%U,%U,%U,%U,", start_name(c->start),
       cl->fin, sv->fin, cl->rst, sv->rst, csv_side(r->first_close), cl->bytes,
       sv->bytes, cl->packets, sv->packets, cl->retrans, sv->retrans,
       cl->missing, sv->missing);
  if (r->has_rst) {
    jfmt(b, "%s,%s,%s,%s,", csv_side(r->rst_by), tlsfin_cause_name(r->cause),
         tlsfin_confidence_name(r->confidence),
         r->kernel_reason ? r->kernel_reason : "");
    csv_str(b, r->rst_detail);
  } else {
    jfmt(b, ",,,,");
  }
  jfmt(b, ",");
  if (r->is_tls) {
    const char *v = tlsfin_version_name(c->tls.version);
    const char *mv = tlsfin_version_name(c->tls.client_max_version);
    jfmt(b, "%s,%s,", v ? v : "", mv ? mv : "");
    csv_str(b, c->tls.sni[0] ? c->tls.sni : NULL);
    jfmt(b, ",%s,", r->handshake ? r->handshake : "");
    struct tf_buf al = {0};
    for (int i = 0; i < c->tls.nalerts; i++) {
      const struct tf_tls_alert *x = &c->tls.alerts[i];
      const char *d = x->desc >= 0 ? tlsfin_alert_name(x->desc) : NULL;
      tf_buf_printf(&al, "%s%s:%s:%s", i ? ";" : "", csv_side(x->dir),
                    x->level == 2   ? "fatal"
                    : x->level == 1 ? "warning"
                                    : "",
                    d ? d : (x->encrypted ? "encrypted" : ""));
    }
    csv_str(b, al.p);
    tf_buf_free(&al);
    jfmt(b, ",%s,%s,%s,%b,%s,", cn_name(c->tls.d[0].cn),
         cn_name(c->tls.d[1].cn), csv_side(r->first_cn), r->truncated,
         tf_keys_status_name(c->tls.keys_status));
  } else {
    jfmt(b, ",,,,,,,,,,");
  }
  jfmt(b, "%s,", tlsfin_verdict_name(r->verdict));
  csv_str(b, r->explain);
  jfmt(b, ",%s,%U,%U\n", cid, c->first_no, c->last_no);
}

/* ---- table ---- */

#define COLOR_RED "\033[31m"
#define COLOR_YEL "\033[33m"
#define COLOR_GRN "\033[32m"
#define COLOR_OFF "\033[0m"

static const char *verdict_color(tlsfin_verdict v) {
  switch (v) {
  case TLSFIN_VERDICT_TLS_CLEAN:
  case TLSFIN_VERDICT_TCP_CLEAN:
  case TLSFIN_VERDICT_TLS_ONE_SIDED:
    return COLOR_GRN;
  case TLSFIN_VERDICT_OPEN:
  case TLSFIN_VERDICT_HALF_CLOSED:
  case TLSFIN_VERDICT_TLS_CLOSE_THEN_RESET:
    return COLOR_YEL;
  default:
    return COLOR_RED;
  }
}

void tf_report_table_header(FILE *out, bool color, bool process) {
  fprintf(out, "%s%5s  %-44s %-7s %-21s %-6s %-8s %-9s %-22s %s%s%s\n",
          color ? "\033[1m" : "", "ID", "CLIENT -> SERVER", "TLS", "VERDICT",
          "CLOSE", "CN c/s", "RST BY", "RST CAUSE",
          process ? "HTTP END  " : "HTTP END", process ? "PROCESS" : "",
          color ? COLOR_OFF : "");
}

static char cn_letter(uint8_t cn) {
  return cn == TF_CN_SEEN ? 'Y' : cn == TF_CN_PROBABLE ? 'p' : '-';
}

/* "curl[812] -> nginx[45]": the processes behind the two endpoints, in the
 * order of the CLIENT -> SERVER column; "-" for an endpoint not local. */
static void process_text(char *dst, size_t n, const struct tf_conn *c) {
  char p[2][40];
  for (int d = 0; d < 2; d++) {
    if (c->kern[d].has_proc)
      snprintf(p[d], sizeof p[d], "%.16s[%u]", c->kern[d].comm,
               (unsigned)c->kern[d].pid);
    else
      snprintf(p[d], sizeof p[d], "-");
  }
  snprintf(dst, n, "%s -> %s", p[0], p[1]);
}

const char *tf_tls_column(const struct tf_conn *c, const struct tf_result *r,
                          char *buf, size_t n) {
  if (!r->is_tls)
    return NULL;
  const char *v = tlsfin_version_name(c->tls.version);
  if (v)
    return v;
  if (!tlsfin_version_name(c->tls.client_max_version))
    return "TLS?";
  /* nothing negotiated: the highest version the client offered, starred */
  snprintf(buf, n, "%s*", tlsfin_version_name(c->tls.client_max_version));
  return buf;
}

const char *tf_http_end_column(const struct tf_conn *c) {
  const struct tf_http *h = c->tls.crypto ? c->tls.crypto->http[1] : NULL;
  return h && h->end != TF_HTTP_NOT_HTTP && h->end != TF_HTTP_NONE
             ? tf_http_end_name(h->end)
             : NULL;
}

void tf_report_table_row(struct tf_buf *b, const struct tf_conn *c,
                         const struct tf_result *r, bool color, bool process) {
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN], ep[120];
  tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
  tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
  if (c->af == 6)
    snprintf(ep, sizeof ep, "[%s]:%u -> [%s]:%u", a0, c->s[0].port, a1,
             c->s[1].port);
  else
    snprintf(ep, sizeof ep, "%s:%u -> %s:%u", a0, c->s[0].port, a1,
             c->s[1].port);
  char vbuf[12];
  const char *v = tf_tls_column(c, r, vbuf, sizeof vbuf);
  const char *hend = tf_http_end_column(c);
  if (!hend)
    hend = "-";
  char cns[8] = "-";
  if (r->is_tls)
    snprintf(cns, sizeof cns, "%c/%c", cn_letter(c->tls.d[0].cn),
             cn_letter(c->tls.d[1].cn));
  char proc[100] = "";
  if (process)
    process_text(proc, sizeof proc, c);
  put_id(b, c->id, 5);
  tf_buf_printf(b, "  %-44s %-7s %s%-21s%s %-6s %-8s %-9s %-22s %-*s%s\n", ep,
                v ? v : "-", color ? verdict_color(r->verdict) : "",
                tlsfin_verdict_name(r->verdict), color ? COLOR_OFF : "",
                r->first_close == 0   ? "client"
                : r->first_close == 1 ? "server"
                                      : "-",
                cns, r->has_rst ? (r->rst_by == 0 ? "client" : "server") : "-",
                r->has_rst ? tlsfin_cause_name(r->cause) : "-",
                process ? 10 : 0, hend, proc);
}

/* ---- ladder ---- */

struct tf_ladder *tf_ladder_new(unsigned cap) {
  if (!cap)
    return NULL;
  struct tf_ladder *l = calloc(1, sizeof *l + cap * sizeof l->rows[0]);
  if (l)
    l->cap = cap;
  return l;
}

void tf_ladder_add(struct tf_ladder *l, const struct tf_ladder_row *row) {
  l->rows[l->head] = *row;
  l->head = (l->head + 1) % l->cap;
  if (l->n < l->cap)
    l->n++;
  l->total++;
}

const struct tf_ladder_row *tf_ladder_row_at(const struct tf_ladder *l,
                                             unsigned i) {
  return &l->rows[(l->head + l->cap - l->n + i) % l->cap];
}

static void flag_string(char *dst, size_t n, uint8_t f) {
  snprintf(dst, n, "%s%s%s%s%s", (f & TF_TH_SYN) ? "SYN " : "",
           (f & TF_TH_FIN) ? "FIN " : "", (f & TF_TH_RST) ? "RST " : "",
           (f & TF_TH_PUSH) ? "PSH " : "", (f & TF_TH_ACK) ? "ACK" : "");
  size_t l = strlen(dst);
  if (l && dst[l - 1] == ' ')
    dst[l - 1] = 0;
}

/* What the TLS dissector says happened in this packet. */
void tf_tls_notes(char *dst, size_t n, const struct tf_conn *c, uint64_t gpkt,
                  int dir) {
  dst[0] = 0;
  if (c->tls.state != TF_TLS_YES)
    return;
  size_t l = 0;
  for (int i = 0; i < c->tls.nalerts; i++) {
    const struct tf_tls_alert *a = &c->tls.alerts[i];
    if (a->pkt != gpkt || a->dir != dir)
      continue;
    const char *name = a->desc >= 0 ? tlsfin_alert_name(a->desc) : NULL;
    l += (size_t)snprintf(dst + l, n - l, " %s%s%s", name ? name : "alert",
                          a->encrypted ? " (encrypted)" : "",
                          a->inferred ? "?" : "");
    if (l >= n)
      return;
  }
  if (c->tls.d[dir].cn != TF_CN_NONE && c->tls.d[dir].cn_pkt == gpkt &&
      !strstr(dst, "close_notify"))
    snprintf(dst + l, n - l, " close_notify%s",
             c->tls.d[dir].cn == TF_CN_PROBABLE ? " (probable)" : "");
}

void tf_report_ladder(FILE *out, const struct tf_conn *c,
                      const struct tf_result *r) {
  char a0[INET6_ADDRSTRLEN], a1[INET6_ADDRSTRLEN];
  tf_format_addr(a0, sizeof a0, c->af, c->s[0].addr);
  tf_format_addr(a1, sizeof a1, c->af, c->s[1].addr);
  const struct tf_ladder *l = c->ladder;
  fprintf(out, "connection %llu: client %s:%u  <->  server %s:%u\n",
          (unsigned long long)c->id, a0, c->s[0].port, a1, c->s[1].port);
  if (l && l->total > l->n)
    fprintf(out, "(last %u of %llu packets)\n", l->n,
            (unsigned long long)l->total);
  fprintf(out, "%10s %8s  %-28s %-28s\n", "packet", "+ms", "client", "server");
  for (unsigned i = 0; l && i < l->n; i++) {
    const struct tf_ladder_row *row = tf_ladder_row_at(l, i);
    char fl[32], notes[160], label[240];
    flag_string(fl, sizeof fl, row->flags);
    tf_tls_notes(notes, sizeof notes, c, row->gpkt, row->dir);
    if (row->len)
      snprintf(label, sizeof label, "%s len=%u%s", fl, row->len, notes);
    else
      snprintf(label, sizeof label, "%s%s", fl, notes);
    double ms = (row->ts - c->first_ts) * 1000.0;
    if (row->dir == 0)
      fprintf(out, "%10llu %8.1f  %s ---->\n", (unsigned long long)row->no, ms,
              label);
    else
      fprintf(out, "%10llu %8.1f  %28s <---- %s\n", (unsigned long long)row->no,
              ms, "", label);
  }
  fprintf(out, "verdict: %s\n", tlsfin_verdict_name(r->verdict));
  if (r->has_rst)
    fprintf(out, "rst: by %s, %s (%s): %s\n",
            r->rst_by == 0 ? "client" : "server", tlsfin_cause_name(r->cause),
            tlsfin_confidence_name(r->confidence), r->rst_detail);
  fprintf(out, "%s\n", r->explain);
}

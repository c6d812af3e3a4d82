/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Benchmark capture generator: a classic pcap (Ethernet, IPv4 with some
 * IPv6) of N TCP connections, mostly TLS, interleaved K at a time, with a
 * realistic mix of endings.  Deterministic for a seed.  Writes the number of
 * connections per expected verdict to OUT.truth.json so the benchmark can
 * check tlsfin's answers, not only its speed.
 *
 * usage: gen_capture -o OUT [--size-mb 1024] [--conns 120000] [--seed 1]
 *                    [--concurrent 2000]
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ending {
  E_TLS_CLEAN,
  E_TLS_TRUNCATED,
  E_TLS_CLOSE_THEN_RESET,
  E_RESET_UNREAD,
  E_HS_ALERT,
  E_HS_RESET,
  E_REFUSED,
  E_NO_ANSWER,
  E_TCP_CLEAN,
  E_TLS_ONE_SIDED,
  E_COUNT
};
static const char *verdict_of[E_COUNT] = {
    "tls_clean",    "tls_truncated",       "tls_close_then_reset",
    "reset",        "tls_handshake_alert", "tls_handshake_reset",
    "refused",      "no_answer",           "tcp_clean",
    "tls_one_sided"};
/* per mille */
static const int mix[E_COUNT] = {380, 150, 100, 70, 50, 40, 40, 20, 80, 70};

#define MSS 1448
#define F 0x01
#define S 0x02
#define R 0x04
#define P 0x08
#define A 0x10

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

struct conn {
  int live;
  enum ending e;
  int v6;
  uint32_t caddr, saddr;
  uint16_t cport, sport;
  uint32_t cseq, sseq;
  int step;           /* script position */
  uint32_t down_left; /* bytes of application data still to send */
  int tls13;
};

static FILE *out;
static uint64_t written, pkts;
static double now = 1700000000.0;
static uint8_t junk[70000];

static void put_pkt(const uint8_t *frame, uint32_t len) {
  uint32_t hdr[4];
  uint32_t sec = (uint32_t)now;
  hdr[0] = sec;
  hdr[1] = (uint32_t)((now - sec) * 1e6);
  hdr[2] = hdr[3] = len;
  fwrite(hdr, 4, 4, out);
  fwrite(frame, 1, len, out);
  written += 16 + len;
  pkts++;
  now += 0.00001;
}

/* One TCP segment from dir (0 client) with payload p (or junk). */
static void seg(struct conn *c, int dir, uint8_t flags, const uint8_t *p,
                uint32_t len) {
  static uint8_t fr[80 + 70000];
  uint32_t *seq = dir ? &c->sseq : &c->cseq, *ack = dir ? &c->cseq : &c->sseq;
  uint8_t *ip = fr + 14;
  memset(fr, 0x02, 6);
  memset(fr + 6, 0x04, 6);
  uint32_t iplen;
  uint8_t *tcp;
  if (c->v6) {
    fr[12] = 0x86, fr[13] = 0xdd;
    iplen = 40;
    memset(ip, 0, 40);
    ip[0] = 0x60;
    uint16_t pl = htons((uint16_t)(20 + len));
    memcpy(ip + 4, &pl, 2);
    ip[6] = 6, ip[7] = 64;
    ip[8] = 0x20, ip[9] = 0x01, ip[10] = 0x0d, ip[11] = 0xb8;
    ip[24] = 0x20, ip[25] = 0x01, ip[26] = 0x0d, ip[27] = 0xb8;
    uint32_t a = dir ? c->saddr : c->caddr, b = dir ? c->caddr : c->saddr;
    memcpy(ip + 20, &a, 4);
    memcpy(ip + 36, &b, 4);
  } else {
    fr[12] = 0x08, fr[13] = 0x00;
    iplen = 20;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    uint16_t tl = htons((uint16_t)(20 + 20 + len));
    memcpy(ip + 2, &tl, 2);
    ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
    uint32_t a = dir ? c->saddr : c->caddr, b = dir ? c->caddr : c->saddr;
    memcpy(ip + 12, &a, 4);
    memcpy(ip + 16, &b, 4);
  }
  tcp = ip + iplen;
  uint16_t sp = htons(dir ? c->sport : c->cport),
           dp = htons(dir ? c->cport : c->sport);
  uint32_t sq = htonl(*seq), ak = htonl((flags & A) ? *ack : 0);
  memcpy(tcp, &sp, 2);
  memcpy(tcp + 2, &dp, 2);
  memcpy(tcp + 4, &sq, 4);
  memcpy(tcp + 8, &ak, 4);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp[14] = 0xff, tcp[15] = 0xff;
  tcp[16] = tcp[17] = tcp[18] = tcp[19] = 0;
  memcpy(tcp + 20, p ? p : junk, len);
  put_pkt(fr, 14 + iplen + 20 + len);
  if (!(flags & R))
    *seq += len + ((flags & (S | F)) ? 1 : 0);
}

static uint32_t record(uint8_t *dst, uint8_t type, uint16_t ver, uint32_t len,
                       uint8_t fill) {
  dst[0] = type;
  dst[1] = (uint8_t)(ver >> 8), dst[2] = (uint8_t)ver;
  dst[3] = (uint8_t)(len >> 8), dst[4] = (uint8_t)len;
  memset(dst + 5, fill, len);
  return len + 5;
}

static uint32_t client_hello(uint8_t *b, int max13, int offer_only_11) {
  static const char sni[] = "bench.tlsfin.test";
  uint8_t body[512];
  uint32_t n = 0;
  body[n++] = 3, body[n++] = offer_only_11 ? 2 : 3;
  for (int i = 0; i < 32; i++)
    body[n++] = (uint8_t)rnd();
  body[n++] = 0;
  body[n++] = 0, body[n++] = 4, body[n++] = 0x13, body[n++] = 0x01,
  body[n++] = 0xc0, body[n++] = 0x2f;
  body[n++] = 1, body[n++] = 0;
  uint32_t extlen_at = n;
  n += 2;
  uint16_t sl = (uint16_t)strlen(sni);
  body[n++] = 0, body[n++] = 0, body[n++] = 0, body[n++] = (uint8_t)(sl + 5);
  body[n++] = 0, body[n++] = (uint8_t)(sl + 3), body[n++] = 0, body[n++] = 0,
  body[n++] = (uint8_t)sl;
  memcpy(body + n, sni, sl);
  n += sl;
  if (!offer_only_11) {
    body[n++] = 0, body[n++] = 43, body[n++] = 0, body[n++] = max13 ? 7 : 5;
    body[n++] = max13 ? 6 : 4;
    body[n++] = 0x0a, body[n++] = 0x0a; /* GREASE */
    if (max13)
      body[n++] = 3, body[n++] = 4;
    body[n++] = 3, body[n++] = 3;
  }
  uint32_t el = n - extlen_at - 2;
  body[extlen_at] = (uint8_t)(el >> 8), body[extlen_at + 1] = (uint8_t)el;
  b[0] = 22, b[1] = 3, b[2] = 1, b[3] = (uint8_t)((n + 4) >> 8),
  b[4] = (uint8_t)(n + 4);
  b[5] = 1, b[6] = 0, b[7] = (uint8_t)(n >> 8), b[8] = (uint8_t)n;
  memcpy(b + 9, body, n);
  return n + 9;
}

static uint32_t server_hello(uint8_t *b, int tls13) {
  uint8_t body[128];
  uint32_t n = 0;
  body[n++] = 3, body[n++] = 3;
  for (int i = 0; i < 32; i++)
    body[n++] = (uint8_t)rnd();
  body[n++] = 0;
  body[n++] = tls13 ? 0x13 : 0xc0, body[n++] = tls13 ? 0x01 : 0x2f;
  body[n++] = 0;
  if (tls13) {
    body[n++] = 0, body[n++] = 6;
    body[n++] = 0, body[n++] = 43, body[n++] = 0, body[n++] = 2, body[n++] = 3,
    body[n++] = 4;
  } else {
    body[n++] = 0, body[n++] = 0;
  }
  b[0] = 22, b[1] = 3, b[2] = 3, b[3] = 0, b[4] = (uint8_t)(n + 4);
  b[5] = 2, b[6] = 0, b[7] = 0, b[8] = (uint8_t)n;
  memcpy(b + 9, body, n);
  return n + 9;
}

/* Sends a buffer as MSS-sized segments. */
static void send_stream(struct conn *c, int dir, const uint8_t *p,
                        uint32_t len) {
  while (len) {
    uint32_t n = len > MSS ? MSS : len;
    seg(c, dir, P | A, p, n);
    if (p)
      p += n;
    len -= n;
  }
}

/* One step of a connection's script; returns 0 when it is finished. */
static int step(struct conn *c) {
  static uint8_t buf[70000];
  uint32_t n;
  int alert13 = 19;
  switch (c->step++) {
  case 0:
    seg(c, 0, S, NULL, 0);
    if (c->e == E_NO_ANSWER) {
      c->cseq--; /* the same SYN again: a retransmission */
      seg(c, 0, S, NULL, 0);
      return 0;
    }
    return 1;
  case 1:
    if (c->e == E_REFUSED) {
      seg(c, 1, R | A, NULL, 0);
      return 0;
    }
    seg(c, 1, S | A, NULL, 0);
    return 1;
  case 2:
    seg(c, 0, A, NULL, 0);
    return 1;
  case 3:
    if (c->e == E_TCP_CLEAN) {
      send_stream(c, 0, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18);
      return 1;
    }
    n = client_hello(buf, c->tls13, c->e == E_HS_ALERT);
    seg(c, 0, P | A, buf, n);
    return 1;
  case 4:
    if (c->e == E_HS_ALERT) {
      n = record(buf, 21, 0x0303, 2, 0);
      buf[5] = 2, buf[6] = 70; /* fatal protocol_version */
      seg(c, 1, P | A, buf, n);
      seg(c, 1, F | A, NULL, 0);
      seg(c, 0, F | A, NULL, 0);
      seg(c, 1, A, NULL, 0);
      return 0;
    }
    if (c->e == E_HS_RESET) {
      seg(c, 1, A, NULL, 0);
      seg(c, 1, R | A, NULL, 0);
      return 0;
    }
    if (c->e == E_TCP_CLEAN) {
      n = c->down_left > 60000 ? 60000 : c->down_left;
      send_stream(c, 1, NULL, n);
      seg(c, 1, F | A, NULL, 0);
      seg(c, 0, F | A, NULL, 0);
      seg(c, 1, A, NULL, 0);
      return 0;
    }
    n = server_hello(buf, c->tls13);
    n += record(buf + n, 20, 0x0303, 1, 1);
    if (!c->tls13)
      n += record(buf + n, 22, 0x0303, 40, 0x55);
    else
      n += record(buf + n, 23, 0x0303, 2600, 0x55);
    send_stream(c, 1, buf, n);
    return 1;
  case 5:
    n = record(buf, 20, 0x0303, 1, 1);
    n += record(buf + n, c->tls13 ? 23 : 22, 0x0303, c->tls13 ? 53 : 40, 0x66);
    n += record(buf + n, 23, 0x0303, 90, 0x77); /* request */
    seg(c, 0, P | A, buf, n);
    return 1;
  default:
    if (c->down_left) { /* 16 KiB records, MSS segments, one flight */
      uint32_t take = c->down_left > 64000 ? 64000 : c->down_left, o = 0;
      while (o < take) {
        uint32_t r = take - o > 16384 ? 16384 : take - o;
        o += record(buf + o, 23, 0x0303, r < 40 ? 40 : r, 0x88);
      }
      c->down_left -= take;
      send_stream(c, 1, buf, o);
      seg(c, 0, A, NULL, 0);
      if ((rnd() & 255) == 0) { /* a retransmission now and then */
        c->sseq -= MSS;
        seg(c, 1, P | A, buf, MSS);
      }
      return 1;
    }
    /* endings */
    uint32_t cn = c->tls13 ? record(buf, 23, 0x0303, alert13, 0x99)
                           : record(buf, 21, 0x0303, 26, 0x99);
    switch (c->e) {
    case E_TLS_CLEAN:
      seg(c, 0, P | A, buf, cn);
      seg(c, 0, F | A, NULL, 0);
      seg(c, 1, P | A, buf, cn);
      seg(c, 1, F | A, NULL, 0);
      seg(c, 0, A, NULL, 0);
      break;
    case E_TLS_ONE_SIDED:
      seg(c, 1, P | A, buf, cn);
      seg(c, 1, F | A, NULL, 0);
      seg(c, 0, F | A, NULL, 0);
      seg(c, 1, A, NULL, 0);
      break;
    case E_TLS_TRUNCATED:
      seg(c, 1, F | A, NULL, 0);
      seg(c, 0, F | A, NULL, 0);
      seg(c, 1, A, NULL, 0);
      break;
    case E_TLS_CLOSE_THEN_RESET:
      seg(c, 0, P | A, buf, cn);
      seg(c, 0, F | A, NULL, 0);
      seg(c, 1, R | A, NULL, 0);
      break;
    default: /* E_RESET_UNREAD: the server resets with a request unread */
      seg(c, 0, P | A, buf + 5, 120);
      seg(c, 1, R | A, NULL, 0);
      break;
    }
    return 0;
  }
}

int main(int argc, char **argv) {
  const char *path = NULL;
  uint64_t size_mb = 1024, nconns = 120000, conc = 2000, seed = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc)
      path = argv[++i];
    else if (!strcmp(argv[i], "--size-mb") && i + 1 < argc)
      size_mb = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
      nconns = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--concurrent") && i + 1 < argc)
      conc = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      seed = strtoull(argv[++i], NULL, 10);
    else {
      fprintf(stderr,
              "usage: %s -o OUT [--size-mb N] [--conns N] "
              "[--concurrent N] [--seed N]\n",
              argv[0]);
      return 2;
    }
  }
  if (!path || !nconns || !conc) {
    fprintf(stderr, "gen_capture: -o OUT is required\n");
    return 2;
  }
  rng ^= seed * 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (uint8_t)rnd();
  out = fopen(path, "wb");
  if (!out) {
    perror(path);
    return 2;
  }
  static char obuf[1 << 20];
  setvbuf(out, obuf, _IOFBF, sizeof obuf);
  uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 262144, 1};
  fwrite(gh, 4, 6, out);
  /* average download per TLS connection so that the file reaches size_mb */
  /* Not every connection downloads (handshake failures, refusals) and
   * headers add ~4%: scale so the file lands near size_mb. */
  uint64_t per = size_mb * 1024 * 1024 / nconns;
  per = per > 8000 ? (per - 5000) * 13 / 10 : 2000;
  struct conn *slots = calloc(conc, sizeof *slots);
  uint64_t started = 0, finished = 0, truth[E_COUNT] = {0};
  int live = 0;
  while (finished < nconns) {
    while (live < (int)conc && started < nconns) {
      struct conn *c = NULL;
      for (uint64_t i = 0; i < conc; i++)
        if (!slots[(started + i) % conc].live) {
          c = &slots[(started + i) % conc];
          break;
        }
      memset(c, 0, sizeof *c);
      c->live = 1;
      int r = (int)(rnd() % 1000), e = 0;
      while (r >= mix[e]) {
        r -= mix[e];
        e++;
      }
      c->e = (enum ending)e;
      c->v6 = (rnd() % 10) == 0;
      c->caddr = htonl(0x0a000000u | (uint32_t)(started % 60000 + 1));
      c->saddr = htonl(0xc0000200u | (uint32_t)(rnd() % 50 + 1));
      c->cport = (uint16_t)(1024 + started % 60000);
      c->sport = e == E_TCP_CLEAN ? 80 : 443;
      c->cseq = rnd();
      c->sseq = rnd();
      c->tls13 = (rnd() % 4) != 0;
      c->down_left = (uint32_t)(per / 2 + rnd() % (per + 1));
      started++;
      live++;
    }
    struct conn *c = &slots[rnd() % conc];
    if (!c->live)
      continue;
    if (!step(c)) {
      truth[c->e]++;
      c->live = 0;
      live--;
      finished++;
      now += 0.00002;
    }
  }
  fclose(out);
  char tpath[4096];
  snprintf(tpath, sizeof tpath, "%s.truth.json", path);
  FILE *t = fopen(tpath, "w");
  if (!t) {
    perror(tpath);
    return 2;
  }
  fprintf(
      t, "{\"connections\":%llu,\"packets\":%llu,\"bytes\":%llu,\"verdicts\":{",
      (unsigned long long)nconns, (unsigned long long)pkts,
      (unsigned long long)written + 24);
  for (int e = 0; e < E_COUNT; e++) {
    /* two endings map to the same verdict name */
    uint64_t n = truth[e];
    if (e == E_RESET_UNREAD)
      continue;
    fprintf(t, "%s\"%s\":%llu", e ? "," : "", verdict_of[e],
            (unsigned long long)n);
  }
  fprintf(t, ",\"reset\":%llu}}\n", (unsigned long long)truth[E_RESET_UNREAD]);
  fclose(t);
  free(slots);
  fprintf(stderr, "gen_capture: %s: %llu connections, %llu packets, %.1f MB\n",
          path, (unsigned long long)nconns, (unsigned long long)pkts,
          (double)written / 1e6);
  return 0;
}

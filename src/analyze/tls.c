/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS record-layer dissector (no keys): records of each direction are
 * parsed from the in-order TCP stream; handshake messages are reassembled
 * only while they are in the clear (ClientHello, ServerHello); every other
 * record body is skipped without copying, since this runs on every byte of
 * large captures.
 */
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "tlsdec.h"

#define CT_CCS 20
#define CT_ALERT 21
#define CT_HANDSHAKE 22
#define CT_APPDATA 23
#define CT_HEARTBEAT 24
#define CT_SSL2 0 /* an SSLv2-compatible ClientHello, skipped */
/* RFC 8446 §5.1/§5.2: 2^14 plaintext plus expansion; 2^14 + 2048 for TLS
 * 1.2 ciphertext (RFC 5246 §6.2.3). */
#define MAX_RECORD (16384 + 2048)
#define MAX_HS_MSG (64 * 1024)

/* HelloRetryRequest is a ServerHello with this random (RFC 8446 §4.1.3). */
static const uint8_t hrr_random[32] = {
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C,
    0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB,
    0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};

void tf_tls_init(struct tf_tls *t) { memset(t, 0, sizeof *t); }

void tf_tls_free(struct tf_tls *t) {
  tf_tlsdec_free(t->crypto);
  t->crypto = NULL;
  for (int d = 0; d < 2; d++) {
    free(t->d[d].hs_buf);
    t->d[d].hs_buf = NULL;
    t->d[d].hs_have = t->d[d].hs_cap = 0;
  }
}

static bool is_grease(uint16_t v) {
  return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static bool real_version(uint16_t v) { return v >= 0x0300 && v <= 0x0304; }

static void set_why(struct tf_tls *t, const char *fmt, int dir, long a) {
  if (!t->why[0])
    snprintf(t->why, sizeof t->why, fmt, dir ? "server" : "client", a);
}

/* RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2 */
int tf_tls_parse_client_hello(const uint8_t *p, size_t n, struct tf_tls *t) {
  struct tf_cur c = tf_cur_make(p, n), exts;
  uint16_t legacy, cslen, extlen;
  uint8_t sidlen, cmlen;
  TF_GUARD(tf_get_be16(&c, &legacy));
  TF_GUARD(tf_get_sub(&c, 32, &(struct tf_cur){0}));
  TF_GUARD(tf_get_u8(&c, &sidlen));
  TF_GUARD(tf_skip(&c, sidlen));
  TF_GUARD(tf_get_be16(&c, &cslen));
  TF_GUARD(tf_skip(&c, cslen));
  TF_GUARD(tf_get_u8(&c, &cmlen));
  TF_GUARD(tf_skip(&c, cmlen));
  uint16_t best = real_version(legacy) ? legacy : 0;
  if (tf_cur_left(&c) >= 2) {
    TF_GUARD(tf_get_be16(&c, &extlen));
    TF_GUARD(tf_get_sub(&c, extlen, &exts));
    while (tf_cur_left(&exts) >= 4) {
      uint16_t type, len;
      struct tf_cur e;
      TF_GUARD(tf_get_be16(&exts, &type));
      TF_GUARD(tf_get_be16(&exts, &len));
      TF_GUARD(tf_get_sub(&exts, len, &e));
      if (type == 43) { /* supported_versions: replaces legacy_version */
        uint8_t l;
        TF_GUARD(tf_get_u8(&e, &l));
        struct tf_cur vs;
        TF_GUARD(tf_get_sub(&e, l, &vs));
        uint16_t top = 0;
        while (tf_cur_left(&vs) >= 2) {
          uint16_t v;
          TF_GUARD(tf_get_be16(&vs, &v));
          if (!is_grease(v) && real_version(v) && v > top)
            top = v;
        }
        if (top)
          best = top;
      } else if (type == 0) { /* server_name, RFC 6066 §3 */
        uint16_t listlen;
        struct tf_cur list;
        TF_GUARD(tf_get_be16(&e, &listlen));
        TF_GUARD(tf_get_sub(&e, listlen, &list));
        while (tf_cur_left(&list) >= 3) {
          uint8_t nt;
          uint16_t nl;
          struct tf_cur name;
          TF_GUARD(tf_get_u8(&list, &nt));
          TF_GUARD(tf_get_be16(&list, &nl));
          TF_GUARD(tf_get_sub(&list, nl, &name));
          if (nt == 0 && nl > 0 && nl < sizeof t->sni && !t->sni[0]) {
            memcpy(t->sni, name.p, nl);
            t->sni[nl] = 0;
          }
        }
      }
    }
  }
  memcpy(t->client_random, p + 2, 32);
  t->client_max_version = best;
  t->client_hello = true;
  return 0;
}

/* RFC 8446 §4.1.3 */
int tf_tls_parse_server_hello(const uint8_t *p, size_t n, struct tf_tls *t) {
  struct tf_cur c = tf_cur_make(p, n), exts;
  uint16_t legacy, suite, extlen;
  uint8_t sidlen, comp;
  TF_GUARD(tf_get_be16(&c, &legacy));
  TF_ENSURE(tf_cur_left(&c) >= 32);
  bool hrr = memcmp(c.p, hrr_random, 32) == 0;
  const uint8_t *random = c.p;
  TF_GUARD(tf_skip(&c, 32));
  TF_GUARD(tf_get_u8(&c, &sidlen));
  TF_GUARD(tf_skip(&c, sidlen));
  TF_GUARD(tf_get_be16(&c, &suite));
  TF_GUARD(tf_get_u8(&c, &comp));
  uint16_t version = legacy;
  if (tf_cur_left(&c) >= 2) {
    TF_GUARD(tf_get_be16(&c, &extlen));
    TF_GUARD(tf_get_sub(&c, extlen, &exts));
    while (tf_cur_left(&exts) >= 4) {
      uint16_t type, len, v;
      struct tf_cur e;
      TF_GUARD(tf_get_be16(&exts, &type));
      TF_GUARD(tf_get_be16(&exts, &len));
      TF_GUARD(tf_get_sub(&exts, len, &e));
      if (type == 43 && tf_get_be16(&e, &v) == 0)
        version = v;
      if (type == 22) /* encrypt_then_mac, RFC 7366 */
        t->etm = true;
    }
  }
  if (hrr) {
    t->hrr = true;
    return 0; /* the real ServerHello follows the second ClientHello */
  }
  memcpy(t->server_random, random, 32);
  t->version = version;
  t->cipher = suite;
  t->server_hello = true;
  return 0;
}

static bool tls13_alert_sized(const struct tf_tls *t, uint16_t len);

static void add_alert(struct tf_tls *t, int dir, int level, int desc,
                      bool encrypted, bool inferred, uint64_t pkt) {
  if (t->nalerts == TF_TLS_MAX_ALERTS) {
    t->alerts_dropped++;
    return;
  }
  struct tf_tls_alert *a = &t->alerts[t->nalerts++];
  a->dir = (uint8_t)dir;
  a->level = (int8_t)level;
  a->desc = (int16_t)desc;
  a->encrypted = encrypted;
  a->inferred = inferred;
  a->pkt = pkt;
}

static void check_complete(struct tf_tls *t, uint64_t pkt) {
  if (t->hs_complete)
    return;
  bool done;
  if (t->version == 0x0304)
    done = t->server_hello && t->d[0].enc_after_sh; /* client Finished */
  else
    done = t->d[0].fin_sent && t->d[1].fin_sent;
  if (done) {
    t->hs_complete = true;
    t->hs_complete_pkt = pkt;
  }
}

/* A complete plaintext handshake message. */
static int on_hs_msg(struct tf_tls *t, int dir, uint8_t type, const uint8_t *b,
                     size_t n) {
  if (dir == 0 && type == 1)
    return tf_tls_parse_client_hello(b, n, t);
  if (dir == 1 && type == 2) {
    TF_GUARD(tf_tls_parse_server_hello(b, n, t));
    if (t->server_hello && t->version == 0x0304) {
      /* RFC 8446 §2: everything after the ServerHello is encrypted */
      t->d[0].encrypted = true;
      t->d[1].encrypted = true;
    }
    if (t->server_hello && t->keylog)
      tf_tlsdec_start(t);
  }
  return 0;
}

/* Reassembles plaintext handshake messages across records. */
static int hs_bytes(struct tf_tls *t, int dir, const uint8_t *p, size_t n) {
  struct tf_tls_dir *d = &t->d[dir];
  if (d->hs_done || n == 0)
    return 0;
  if (d->hs_have + n > d->hs_cap) {
    size_t cap = d->hs_cap ? d->hs_cap : 1024;
    while (cap < d->hs_have + n)
      cap *= 2;
    if (cap > MAX_HS_MSG + 4) {
      d->hs_done = true; /* a huge certificate chain: not needed */
      return 0;
    }
    uint8_t *nb = realloc(d->hs_buf, cap);
    if (!nb)
      return -1;
    d->hs_buf = nb;
    d->hs_cap = (uint32_t)cap;
  }
  memcpy(d->hs_buf + d->hs_have, p, n);
  d->hs_have += (uint32_t)n;
  while (d->hs_have >= 4) {
    uint32_t len = (uint32_t)d->hs_buf[1] << 16 | (uint32_t)d->hs_buf[2] << 8 |
                   d->hs_buf[3];
    if (len > MAX_HS_MSG) {
      d->hs_done = true;
      break;
    }
    if (d->hs_have < 4 + len)
      break;
    if (on_hs_msg(t, dir, d->hs_buf[0], d->hs_buf + 4, len) < 0)
      return -1;
    memmove(d->hs_buf, d->hs_buf + 4 + len, d->hs_have - 4 - len);
    d->hs_have -= 4 + len;
    /* Only the hellos matter: stop buffering once ours is parsed. */
    if ((dir == 0 && t->client_hello) || (dir == 1 && t->server_hello)) {
      d->hs_done = true;
      break;
    }
  }
  if (d->hs_done) {
    free(d->hs_buf);
    d->hs_buf = NULL;
    d->hs_have = d->hs_cap = 0;
  }
  return 0;
}

static void note_app_data(struct tf_tls_dir *d, uint32_t n, uint64_t pkt) {
  d->app_data += n;
  d->last_app_pkt = pkt;
  d->app_pkts[2] = d->app_pkts[1];
  d->app_pkts[1] = d->app_pkts[0];
  d->app_pkts[0] = pkt;
}

/* A record whose content was decrypted: the facts are read, not guessed. */
static void on_plain_record(struct tf_tls *t, int dir, uint8_t inner,
                            const uint8_t *p, int n, uint64_t pkt) {
  struct tf_tls_dir *d = &t->d[dir];
  switch (inner) {
  case CT_ALERT:
    if (n >= 2) {
      add_alert(t, dir, p[0], p[1], false, false, pkt);
      if (p[1] == 0 && d->cn != TF_CN_SEEN) {
        d->cn = TF_CN_SEEN; /* RFC 8446 §6.1, read with the keys */
        d->cn_pkt = pkt;
      }
    }
    break;
  case CT_APPDATA:
    note_app_data(d, (uint32_t)n, pkt);
    break;
  case CT_HANDSHAKE:
    /* TLS 1.3: the client's Finished; TLS 1.2: Finished after CCS */
    if (t->version == 0x0304 && dir == 0 && t->server_hello)
      d->enc_after_sh = true;
    if (d->ccs)
      d->fin_sent = true;
    break;
  default:
    break;
  }
  check_complete(t, pkt);
}

static void on_record(struct tf_tls *t, int dir, uint64_t pkt) {
  struct tf_tls_dir *d = &t->d[dir];
  uint8_t type = d->cur_type;
  d->records++;
  d->last[1] = d->last[0];
  d->last[0] = (struct tf_tls_rec){type, d->cur_len, pkt};
  if (d->buffering && d->rec_have == d->cur_len) {
    const uint8_t *plain;
    uint8_t inner;
    int n = tf_tlsdec_record(t, dir, type, t->crypto->rec[dir], d->cur_len,
                             &plain, &inner);
    if (n >= 0) {
      on_plain_record(t, dir, inner, plain, n, pkt);
      return;
    }
  }
  switch (type) {
  case CT_CCS:
    /* TLS <= 1.2: CCS switches to the negotiated keys.  A CCS before the
     * (real) ServerHello is TLS 1.3's middlebox compatibility CCS around a
     * HelloRetryRequest (RFC 8446 appendix D.4): nothing changes. */
    if (t->server_hello && t->version != 0x0304) {
      d->ccs = true;
      d->encrypted = true;
    }
    break;
  case CT_ALERT:
    if (!d->cur_enc && d->cur_len == 2) {
      add_alert(t, dir, d->alert[0], d->alert[1], false, false, pkt);
      if (d->alert[1] == 0 && d->cn != TF_CN_SEEN) {
        d->cn = TF_CN_SEEN; /* RFC 5246 §7.2.1 in the clear */
        d->cn_pkt = pkt;
      }
    } else if (d->cur_enc) {
      add_alert(t, dir, -1, -1, true, false, pkt);
      d->enc_alerts++;
    }
    break;
  case CT_HANDSHAKE:
    if (d->ccs && !d->fin_sent) /* the encrypted Finished after CCS */
      d->fin_sent = true;
    break;
  case CT_APPDATA:
    note_app_data(d, d->cur_len, pkt);
    if (t->version == 0x0304 && t->server_hello && dir == 0 &&
        !t->hs_complete) {
      /* The client's first encrypted record is its Finished (RFC 8446
       * §4.4.4), unless it is alert-sized: an encrypted handshake alert
       * (e.g. the client rejected the server's certificate). */
      if (tls13_alert_sized(t, d->cur_len)) {
        add_alert(t, dir, -1, -1, true, false, pkt);
      } else {
        d->enc_after_sh = true;
      }
    }
    break;
  default:
    break;
  }
  check_complete(t, pkt);
}

static bool plausible_header(const uint8_t h[5]) {
  uint16_t len = (uint16_t)(h[3] << 8 | h[4]);
  return h[0] >= CT_CCS && h[0] <= CT_HEARTBEAT && h[1] == 3 && h[2] <= 4 &&
         len > 0 && len <= MAX_RECORD;
}

int tf_tls_feed(struct tf_tls *t, int dir, const uint8_t *p, size_t n,
                uint64_t pkt) {
  struct tf_tls_dir *d = &t->d[dir];
  if (t->state == TF_TLS_NO || d->lost)
    return -1;
  size_t i = 0;
  while (i < n) {
    if (d->hdr_have < 5) {
      size_t take = 5 - d->hdr_have;
      if (take > n - i)
        take = n - i;
      memcpy(d->hdr + d->hdr_have, p + i, take);
      d->hdr_have += (uint8_t)take;
      i += take;
      if (d->hdr_have < 5)
        break;
      /* SSLv2-compatible ClientHello (RFC 5246 appendix E.2): a 2-byte
       * header with the high bit set, msg_type 1, then the highest version
       * offered.  Its length is known, so it is skipped exactly and the TLS
       * records that follow are read as usual (the handshake completes). */
      if (t->state == TF_TLS_UNKNOWN && dir == 0 && (d->hdr[0] & 0x80) &&
          d->hdr[2] == 1 && d->hdr[3] == 3) {
        uint16_t len = (uint16_t)((d->hdr[0] & 0x7f) << 8 | d->hdr[1]);
        if (len < 3) {
          t->state = TF_TLS_NO;
          return -1;
        }
        t->state = TF_TLS_YES;
        t->client_hello = true;
        t->client_max_version = (uint16_t)(d->hdr[3] << 8 | d->hdr[4]);
        d->cur_type = CT_SSL2;
        d->cur_len = len;
        d->cur_enc = false;
        d->buffering = false;
        d->rec_have = 0;
        d->body_left = (uint32_t)len + 2 - 5; /* the 5 bytes read are in */
        if (d->body_left == 0) {
          d->records++;
          d->hdr_have = 0;
        }
        continue;
      }
      if (!plausible_header(d->hdr) ||
          (t->state == TF_TLS_UNKNOWN &&
           (dir != 0 || d->hdr[0] != CT_HANDSHAKE))) {
        if (t->state == TF_TLS_UNKNOWN) {
          t->state = TF_TLS_NO;
          return -1;
        }
        set_why(t, "%s record header invalid after %ld records", dir,
                (long)d->records);
        d->lost = true;
        return -1;
      }
      t->state = TF_TLS_YES;
      d->cur_type = d->hdr[0];
      d->cur_len = (uint16_t)(d->hdr[3] << 8 | d->hdr[4]);
      d->body_left = d->cur_len;
      /* RFC 8446 §5.2: every protected TLS 1.3 record has the outer type
       * application_data; an alert record is in the clear (a client that
       * rejects the certificate before it has handshake keys). */
      d->cur_enc = d->encrypted && d->cur_type != CT_CCS &&
                   !(t->version == 0x0304 && d->cur_type == CT_ALERT);
      d->rec_have = 0;
      /* Live capture: an application logs its keys about when it sends
       * the packets that need them, so they may reach the key log after
       * the ServerHello did.  Look again at each encrypted record while
       * keys are missing and the log has grown. */
      if (d->cur_enc && !t->crypto && t->keylog && t->server_hello &&
          t->keys_status == TF_KEYS_MISSING &&
          tf_keylog_count(t->keylog) != t->keylog_seen)
        tf_tlsdec_start(t);
      d->buffering = d->cur_enc && t->crypto;
      if (d->buffering && !t->crypto->rec[dir]) {
        t->crypto->rec[dir] = malloc(MAX_RECORD);
        d->buffering = t->crypto->rec[dir] != NULL;
      }
    }
    size_t take = d->body_left;
    if (take > n - i)
      take = n - i;
    if (d->cur_type == CT_HANDSHAKE && !d->encrypted) {
      if (hs_bytes(t, dir, p + i, take) < 0) {
        set_why(t, "%s handshake message malformed (record %ld)", dir,
                (long)d->records + 1);
        d->lost = true;
        return -1;
      }
    } else if (d->buffering) {
      memcpy(t->crypto->rec[dir] + d->rec_have, p + i, take);
      d->rec_have += (uint32_t)take;
    }
    if (d->cur_type == CT_ALERT && !d->buffering) {
      uint32_t off = d->cur_len - d->body_left;
      for (size_t k = 0; k < take && off + k < 2; k++)
        d->alert[off + k] = p[i + k];
    }
    i += take;
    d->body_left -= (uint32_t)take;
    if (d->body_left == 0) {
      on_record(t, dir, pkt);
      d->hdr_have = 0;
    }
  }
  return 0;
}

void tf_tls_gap(struct tf_tls *t, int dir, uint64_t n) {
  if (n == 0 || t->state == TF_TLS_NO)
    return;
  if (t->state == TF_TLS_UNKNOWN) {
    t->state = TF_TLS_NO;
    return;
  }
  struct tf_tls_dir *d = &t->d[dir];
  /* Bytes inside the current record body can be skipped exactly. */
  if (!d->lost && d->hdr_have == 5 && d->body_left >= n &&
      !(d->cur_type == CT_HANDSHAKE && !d->encrypted)) {
    d->body_left -= (uint32_t)n;
    return;
  }
  if (!d->lost) {
    set_why(t, "%s stream has a gap after %ld records", dir, (long)d->records);
    d->lost_gap = true;
  }
  d->lost = true;
}

/* Size of an encrypted alert record body in TLS 1.3: 2 alert bytes, the
 * inner content type and the AEAD tag (RFC 8446 §5.2): 19 with the 16-byte
 * tags of AES-GCM, ChaCha20-Poly1305 and AES-CCM, 11 with AES-CCM-8; the
 * JDK pads its alerts (record body 35). */
static bool tls13_alert_sized(const struct tf_tls *t, uint16_t len) {
  if (t->cipher == 0x1305)
    return len == 11;
  return len == 19 || len == 35;
}

static bool alert_record(const struct tf_tls *t, const struct tf_tls_dir *d,
                         const struct tf_tls_rec *r) {
  if (r->len == 0)
    return false;
  if (r->type == CT_ALERT)
    return d->encrypted;
  return t->version == 0x0304 && r->type == CT_APPDATA &&
         tls13_alert_sized(t, r->len);
}

void tf_tls_end(struct tf_tls *t, int dir, bool by_fin_or_rst, uint64_t pkt) {
  struct tf_tls_dir *d = &t->d[dir];
  (void)pkt;
  if (t->state != TF_TLS_YES || !by_fin_or_rst || d->cn != TF_CN_NONE ||
      d->lost || !t->hs_complete)
    return;
  /* With keys, what the records said is known: nothing to infer. */
  if (t->crypto && t->crypto->records_ok)
    return;
  const struct tf_tls_rec *r = &d->last[0];
  if (!alert_record(t, d, r))
    return;
  /* The final record of the direction is an encrypted alert: probably
   * close_notify (RFC 8446 §6.1: the last thing a closing side sends). */
  d->cn = TF_CN_PROBABLE;
  d->cn_pkt = r->pkt;
  if (t->version == 0x0304) {
    /* In TLS 1.3 an alert-sized record before it is user_canceled or
     * another warning sent just before close_notify. */
    int trailing = 1;
    if (alert_record(t, d, &d->last[1]) && d->records >= 2 &&
        d->last[1].pkt >= t->hs_complete_pkt) {
      add_alert(t, dir, -1, -1, true, false, d->last[1].pkt);
      trailing = 2;
      if (d->app_data >= d->last[1].len)
        d->app_data -= d->last[1].len;
    }
    add_alert(t, dir, 1, 0, true, true, r->pkt);
    if (d->app_data >= r->len)
      d->app_data -= r->len; /* it was an alert, not application data */
    /* the last application data is the record before the alerts */
    d->last_app_pkt = d->app_pkts[trailing];
  } else {
    /* Name the encrypted alert already listed. */
    for (int i = t->nalerts - 1; i >= 0; i--)
      if (t->alerts[i].dir == dir && t->alerts[i].pkt == r->pkt &&
          t->alerts[i].desc < 0) {
        t->alerts[i].desc = 0;
        t->alerts[i].level = 1;
        t->alerts[i].inferred = true;
        break;
      }
  }
}

void tf_tls_finish(struct tf_tls *t) {
  if (t->state != TF_TLS_YES)
    return;
  for (int x = 0; x < 2; x++) {
    const struct tf_tls_dir *o = &t->d[!x];
    t->d[x].data_after_cn =
        o->cn != TF_CN_NONE && t->d[x].last_app_pkt > o->cn_pkt;
  }
}

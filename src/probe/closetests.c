/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The close tests that OpenSSL's API cannot perform on its own:
 *  - data_after_cn: application data after our close_notify.  OpenSSL
 *    writes nothing after SSL_shutdown, so the record is sealed here with
 *    the connection's traffic keys (key log callback for TLS 1.3, master
 *    secret for TLS 1.2) and the next write sequence number (records
 *    counted by the message callback); a control record on a first
 *    connection proves the construction before it is trusted.
 *  - half_close_13: the server closes first (Connection: close); we write
 *    after its close_notify, as RFC 8446 §6.1 allows.
 *  - h2_goaway: HTTP/2 over ALPN h2; after the SETTINGS exchange our GOAWAY
 *    (RFC 9113 §6.8): does the server close, and how?
 *  - key_update: KeyUpdate(update_requested) right before close_notify
 *    (RFC 8446 §4.6.3): is it answered, and the close clean?
 * The server's records after our close are read from the raw socket and
 * decrypted here: OpenSSL refuses to read some of them (it discards or
 * mistrusts records after its close_notify).
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tlsfin/taxonomy.h"
#include "tlsrecord.h"

/* What the callbacks learn about the connection being tested: one at a
 * time per context, so the context's app data holds it. */
struct keys {
  uint8_t csecret[64], ssecret[64]; /* TLS 1.3 application traffic secrets */
  size_t clen, slen;
  uint64_t wr, rd;   /* records written and read (message callback) */
  uint64_t wr0, rd0; /* the same when the handshake completed */
};

static int unhex(const char *h, uint8_t *out, size_t cap, size_t *len) {
  size_t n = 0;
  for (; h[0] && h[1] && h[0] != '\n'; h += 2) {
    unsigned v;
    if (n >= cap || sscanf(h, "%2x", &v) != 1)
      return -1;
    out[n++] = (uint8_t)v;
  }
  *len = n;
  return 0;
}

/* NSS key log lines: "LABEL <client_random hex> <secret hex>". */
static void keylog_cb(const SSL *s, const char *line) {
  struct keys *k = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
  const char *sp = strchr(line, ' ');
  const char *sec = sp ? strchr(sp + 1, ' ') : NULL;
  if (!k || !sec)
    return;
  if (!strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24))
    unhex(sec + 1, k->csecret, sizeof k->csecret, &k->clen);
  else if (!strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24))
    unhex(sec + 1, k->ssecret, sizeof k->ssecret, &k->slen);
}

/* Every record header passes here (OpenSSL 1.1.1+ reports both
 * directions): the counts give the sequence numbers (RFC 8446 §5.3, RFC
 * 5246 §6.1) OpenSSL does not expose. */
static void msg_cb(int write_p, int version, int type, const void *buf,
                   size_t len, SSL *s, void *arg) {
  (void)version, (void)buf, (void)len, (void)arg;
  struct keys *k = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
  if (k && type == SSL3_RT_HEADER) {
    if (write_p)
      k->wr++;
    else
      k->rd++;
  }
}

static SSL_CTX *make_ctx(uint16_t version, bool h2, struct keys *k) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx)
    return NULL;
  SSL_CTX_set_security_level(ctx, 0);
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  /* AEAD only, so that our records can be sealed (tlsrecord.c) */
  SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:"
                               "DHE+CHACHA20:RSA+AESGCM:@SECLEVEL=0");
  SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                                "TLS_CHACHA20_POLY1305_SHA256");
  /* no tickets to store, and none to count as records we might not see */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_keylog_callback(ctx, keylog_cb);
  SSL_CTX_set_msg_callback(ctx, msg_cb);
  SSL_CTX_set_app_data(ctx, k);
  if (h2) {
    static const uint8_t alpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn);
  }
  return ctx;
}

/* One connection of a test: the socket, the session, the record states
 * of both directions. */
struct conn {
  SSL *s;
  int fd;
  struct tf_dec w, r;
  bool keys;
  uint8_t buf[2 * (5 + 16384 + 2048)]; /* raw bytes not yet a record */
  size_t n;
  uint8_t h2[2 * (9 + 16384)]; /* HTTP/2 frames not yet whole */
};

static bool open_conn(const struct tf_close_env *e, SSL_CTX *ctx,
                      struct keys *k, struct conn *c, char *note, size_t nl) {
  memset(k, 0, sizeof *k);
  c->n = 0;
  c->keys = false;
  c->s = e->handshake(e->arg, ctx, &c->fd, tf_probe_now_ms() + e->timeout_ms,
                      note, nl);
  if (!c->s)
    return false;
  k->wr0 = k->wr;
  k->rd0 = k->rd;
  return true;
}

static void close_conn(struct conn *c) {
  if (!c->s)
    return;
  /* an abortive close: a probe leaves no state behind on the server */
  struct linger lg = {1, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  SSL_free(c->s);
  close(c->fd);
  c->s = NULL;
}

/* Both directions' record states from the session's secrets; the
 * sequence numbers are set by sync_seq() before each use. */
static int setup_keys(struct conn *c, const struct keys *k, char *note,
                      size_t nl) {
  const SSL_CIPHER *ci = SSL_get_current_cipher(c->s);
  uint16_t id = ci ? SSL_CIPHER_get_protocol_id(ci) : 0;
  const struct tf_suite *su = tf_suite_find(id);
  if (!su || su->kind == TF_KIND_CBC) {
    snprintf(note, nl, "suite 0x%04x is not an AEAD tlsfin can seal", id);
    return -1;
  }
  int v = SSL_version(c->s);
  if (v == TLS1_3_VERSION) {
    /* RFC 8446 §7.3: key and iv by HKDF-Expand-Label from the traffic
     * secrets the key log callback gave */
    if (tf_dec_init_tls13(&c->w, su, k->csecret, k->clen) < 0 ||
        tf_dec_init_tls13(&c->r, su, k->ssecret, k->slen) < 0) {
      snprintf(note, nl, "no TLS 1.3 traffic secrets from the key log");
      return -1;
    }
  } else {
    /* RFC 5246 §6.3: the key block from the master secret and randoms */
    uint8_t m[48], cr[32], sr[32];
    if (SSL_SESSION_get_master_key(SSL_get_session(c->s), m, 48) != 48 ||
        SSL_get_client_random(c->s, cr, 32) != 32 ||
        SSL_get_server_random(c->s, sr, 32) != 32 ||
        tf_dec_init_tls12(&c->w, &c->r, su, (uint16_t)v, m, cr, sr) < 0) {
      snprintf(note, nl, "cannot derive the TLS 1.2 key block");
      return -1;
    }
  }
  c->keys = true;
  return 0;
}

/* Sequence numbers from the records OpenSSL wrote and read since the
 * handshake.  TLS 1.2: each side's Finished was the first record under the
 * new keys (seq 0, RFC 5246 §6.1), and both were done by then; TLS 1.3:
 * the application keys start at 0 after the Finished (RFC 8446 §5.3). */
static void sync_seq(struct conn *c, const struct keys *k) {
  uint64_t base = SSL_version(c->s) == TLS1_3_VERSION ? 0 : 1;
  c->w.seq = base + (k->wr - k->wr0);
  c->r.seq = base + (k->rd - k->rd0);
}

/* The start every sealed-record test shares: a connection, its record
 * keys, and the deadline of its first step.  false with the reason in
 * note, the connection closed. */
static bool open_keyed(const struct tf_close_env *e, SSL_CTX *ctx,
                       struct keys *k, struct conn *c, char *note, size_t nl,
                       double *deadline) {
  if (!open_conn(e, ctx, k, c, note, nl))
    return false;
  *deadline = tf_probe_now_ms() + e->timeout_ms;
  if (setup_keys(c, k, note, nl) < 0) {
    close_conn(c);
    return false;
  }
  return true;
}

static int send_all(int fd, const uint8_t *b, size_t n, double deadline) {
  while (n > 0) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
    if (w > 0) {
      b += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!tf_probe_wait_fd(fd, POLLOUT, deadline))
        return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

static int send_sealed(struct conn *c, uint8_t type, const void *pt, size_t len,
                       double deadline) {
  uint8_t rec[5 + 8 + 1024 + 1 + 16];
  int n = tf_seal_record(&c->w, type, pt, len, rec, sizeof rec);
  return n < 0 ? -1 : send_all(c->fd, rec, (size_t)n, deadline);
}

/* What the raw socket said next. */
enum ev {
  EV_NONE, /* the deadline */
  EV_FIN,  /* TCP FIN */
  EV_RST,  /* TCP RST (or another receive error) */
  EV_CLOSE_NOTIFY,
  EV_ALERT,      /* another alert: *alert */
  EV_DATA,       /* application data */
  EV_KEY_UPDATE, /* the server's KeyUpdate (keys already updated) */
  EV_GARBAGE     /* not a record, or one that does not decrypt */
};

/* Reads and decrypts the server's next record (skipping NewSessionTicket
 * and ChangeCipherSpec) or the end of the stream, until deadline.  Every
 * length comes from the server and is checked by tf_record_next() against
 * the RFC 8446 §5.2 / RFC 5246 §6.2.3 limits before use. */
static enum ev raw_next(struct conn *c, double deadline, int *alert) {
  for (;;) {
    uint8_t type;
    const uint8_t *body;
    size_t blen, used;
    int r = tf_record_next(c->buf, c->n, &type, &body, &blen, &used);
    if (r < 0)
      return EV_GARBAGE;
    if (r > 0) {
      uint8_t pt[16384 + 2048], inner = type;
      int m =
          type == 20 ? 0 : tf_dec_record(&c->r, type, body, blen, pt, &inner);
      if (m < 0 && type == 21 && blen == 2) {
        /* a plaintext alert: some stacks send one when decryption of
         * ours failed (RFC 8446 §5.2 says encrypted, not all obey) */
        memcpy(pt, body, 2);
        m = 2;
        inner = 21;
      }
      memmove(c->buf, c->buf + used, c->n - used);
      c->n -= used;
      if (m < 0)
        return EV_GARBAGE;
      if (type == 20)
        continue; /* compatibility ChangeCipherSpec (RFC 8446 §D.4) */
      if (inner == 21 && m >= 2) {
        *alert = pt[1];
        return pt[1] == 0 ? EV_CLOSE_NOTIFY : EV_ALERT;
      }
      if (inner == 22) {
        /* RFC 8446 §4.6.3: the server's KeyUpdate; its next records are
         * under the next generation of its traffic secret */
        if (m >= 5 && pt[0] == 24 && SSL_version(c->s) == TLS1_3_VERSION) {
          tf_dec_key_update(&c->r);
          return EV_KEY_UPDATE;
        }
        continue; /* NewSessionTicket */
      }
      if (inner == 23)
        return EV_DATA;
      return EV_GARBAGE;
    }
    if (!tf_probe_wait_fd(c->fd, POLLIN, deadline))
      return EV_NONE;
    ssize_t got = recv(c->fd, c->buf + c->n, sizeof c->buf - c->n, 0);
    if (got > 0)
      c->n += (size_t)got;
    else if (got == 0)
      return EV_FIN;
    else if (errno != EAGAIN && errno != EINTR)
      return EV_RST;
  }
}

static const char *ev_name(enum ev v, int alert) {
  switch (v) {
  case EV_NONE:
    return "nothing";
  case EV_FIN:
    return "FIN";
  case EV_RST:
    return "RST";
  case EV_CLOSE_NOTIFY:
    return "close_notify";
  case EV_ALERT: {
    const char *a = tlsfin_alert_name(alert);
    return a ? a : "alert";
  }
  case EV_DATA:
    return "data";
  case EV_KEY_UPDATE:
    return "KeyUpdate";
  default:
    return "garbage";
  }
}

static tlsfin_close_outcome ev_outcome(enum ev v) {
  switch (v) {
  case EV_FIN:
    return TLSFIN_CLOSE_FIN;
  case EV_RST:
    return TLSFIN_CLOSE_RST;
  case EV_CLOSE_NOTIFY:
    return TLSFIN_CLOSE_CLOSE_NOTIFY;
  case EV_ALERT:
    return TLSFIN_CLOSE_ALERT;
  case EV_DATA:
    return TLSFIN_CLOSE_DATA;
  case EV_GARBAGE:
    return TLSFIN_CLOSE_GARBAGE;
  default:
    return TLSFIN_CLOSE_NOTHING;
  }
}

static void addf(char *note, size_t nl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void addf(char *note, size_t nl, const char *fmt, ...) {
  size_t have = strlen(note);
  if (have + 1 >= nl)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(note + have, nl - have, fmt, ap);
  va_end(ap);
}

/* The server's side after our last move at t0: the first event is the
 * outcome (close_notify, an alert, data, FIN, RST), the end of the stream
 * that follows is "then"; every event goes into the note with its time. */
static void observe(struct conn *c, double t0, double deadline,
                    struct tlsfin_probe_close *r, bool *key_update) {
  r->outcome = TLSFIN_CLOSE_NOTHING;
  r->then = TLSFIN_CLOSE_SKIPPED;
  char evs[120] = "";
  for (int i = 0; i < 12; i++) {
    int alert = -1;
    enum ev v = raw_next(c, deadline, &alert);
    double ms = tf_probe_now_ms() - t0;
    if (v != EV_NONE)
      addf(evs, sizeof evs, "%s%s %.1f ms", evs[0] ? ", " : "",
           ev_name(v, alert), ms);
    if (v == EV_KEY_UPDATE) {
      if (key_update)
        *key_update = true;
      continue;
    }
    if (r->outcome == TLSFIN_CLOSE_NOTHING) {
      r->outcome = ev_outcome(v);
      r->ms = ms;
      if (v == EV_NONE)
        break;
      if (v == EV_FIN || v == EV_RST || v == EV_GARBAGE)
        break;
      r->then = TLSFIN_CLOSE_NOTHING; /* until the stream ends */
      continue;
    }
    if (v == EV_FIN || v == EV_RST || v == EV_GARBAGE) {
      r->then = ev_outcome(v);
      break;
    }
    if (v == EV_NONE)
      break;
  }
  if (r->outcome == TLSFIN_CLOSE_NOTHING)
    r->ms = tf_probe_now_ms() - t0;
  addf(r->note, sizeof r->note, "%s%s", r->note[0] ? "; " : "",
       evs[0] ? evs : "nothing before the deadline");
}

static int shutdown_write(struct conn *c, double deadline) {
  for (;;) {
    int r = SSL_shutdown(c->s);
    if (r >= 0)
      return 0;
    int e = SSL_get_error(c->s, r);
    if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
        tf_probe_wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline))
      continue;
    ERR_clear_error();
    return -1;
  }
}

static int ssl_write_all(struct conn *c, const char *b, double deadline) {
  for (;;) {
    int r = SSL_write(c->s, b, (int)strlen(b));
    if (r > 0)
      return 0;
    int e = SSL_get_error(c->s, r);
    if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
        tf_probe_wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline))
      continue;
    ERR_clear_error();
    return -1;
  }
}

/* The control: the same construction before any close must be accepted.
 * With --http the request's first line goes through OpenSSL and the rest
 * in our record, so both the keys and the sequence counting must be right
 * for the response to come; without it in TLS 1.3 our record is a
 * KeyUpdate(update_requested), answered at once by some servers (RFC 8446
 * §4.6.3); in TLS 1.2 an empty application_data record (RFC 5246 §6.2.1
 * allows it); without --http the proof may be only the absence of an
 * alert within a second. */
static bool control(const struct tf_close_env *e, SSL_CTX *ctx, struct keys *k,
                    struct conn *c, char *note, size_t nl) {
  char why[160] = "";
  double deadline;
  if (!open_keyed(e, ctx, k, c, why, sizeof why, &deadline)) {
    snprintf(note, nl, "control: %s", why);
    return false;
  }
  bool ok = false;
  bool tls13 = SSL_version(c->s) == TLS1_3_VERSION;
  int sent;
  if (e->http) {
    char rest[400];
    if (ssl_write_all(c, "GET / HTTP/1.1\r\n", deadline) < 0) {
      snprintf(note, nl, "control: cannot send the request");
      goto out;
    }
    snprintf(rest, sizeof rest,
             "Host: %.200s\r\nUser-Agent: tlsfin-probe\r\n\r\n", e->host);
    sync_seq(c, k);
    sent = send_sealed(c, 23, rest, strlen(rest), deadline);
  } else if (tls13) {
    static const uint8_t ku[] = {24, 0, 0, 1, 1}; /* update_requested */
    sync_seq(c, k);
    sent = send_sealed(c, 22, ku, sizeof ku, deadline);
  } else {
    sync_seq(c, k);
    sent = send_sealed(c, 23, "", 0, deadline);
  }
  if (sent < 0) {
    snprintf(note, nl, "control: cannot send our record");
    goto out;
  }
  /* Without --http there may be no answer: OpenSSL defers its KeyUpdate to
   * its next application data (RFC 8446 §4.6.3 allows it), so silence is
   * the answer, and a record that does not authenticate draws its alert at
   * once (bad_record_mac, RFC 8446 §5.2). */
  if (!e->http)
    deadline =
        tf_probe_now_ms() + (e->timeout_ms < 1000 ? e->timeout_ms : 1000);
  for (;;) {
    int alert = -1;
    enum ev v = raw_next(c, deadline, &alert);
    if ((e->http && v == EV_DATA) || (!e->http && v == EV_KEY_UPDATE) ||
        (!e->http && v == EV_NONE)) {
      ok = true;
      break;
    }
    if (v == EV_DATA || v == EV_KEY_UPDATE)
      continue;
    snprintf(note, nl, "control record refused (%s): not tested",
             ev_name(v, alert));
    break;
  }
out:
  close_conn(c);
  return ok;
}

static void t_data_after_cn(const struct tf_close_env *e, SSL_CTX *ctx,
                            struct keys *k, struct conn *c,
                            struct tlsfin_probe_close *r) {
  double deadline;
  if (!control(e, ctx, k, c, r->note, sizeof r->note) ||
      !open_keyed(e, ctx, k, c, r->note, sizeof r->note, &deadline))
    return;
  if (shutdown_write(c, deadline) < 0) {
    snprintf(r->note, sizeof r->note, "could not send close_notify");
    goto out;
  }
  /* OpenSSL's close_notify was counted: ours is the next record.  RFC 8446
   * §6.1 / RFC 5246 §7.2.1: nothing may follow a close_notify; how the
   * server treats a record that does is the test. */
  sync_seq(c, k);
  char req[400];
  snprintf(req, sizeof req,
           e->http ? "GET / HTTP/1.1\r\nHost: %.200s\r\n"
                     "User-Agent: tlsfin-probe\r\n\r\n"
                   : "\r\n",
           e->host);
  double t0 = tf_probe_now_ms();
  deadline = t0 + e->timeout_ms;
  if (send_sealed(c, 23, req, strlen(req), deadline) < 0) {
    snprintf(r->note, sizeof r->note, "could not send the data record");
    goto out;
  }
  snprintf(r->note, sizeof r->note, "control ok");
  observe(c, t0, deadline, r, NULL);
out:
  close_conn(c);
}

/* The server closes first: a request with Connection: close, its response
 * and close_notify read through OpenSSL; then our data (RFC 8446 §6.1:
 * each side closes its own direction, the other may still send). */
static void t_half_close_13(const struct tf_close_env *e, SSL_CTX *ctx,
                            struct keys *k, struct conn *c,
                            struct tlsfin_probe_close *r) {
  double deadline;
  if (!open_keyed(e, ctx, k, c, r->note, sizeof r->note, &deadline))
    return;
  char req[400], buf[16384];
  snprintf(req, sizeof req,
           "GET / HTTP/1.1\r\nHost: %.200s\r\nUser-Agent: tlsfin-probe\r\n"
           "Connection: close\r\n\r\n",
           e->host);
  if (ssl_write_all(c, req, deadline) < 0) {
    snprintf(r->note, sizeof r->note, "could not send the request");
    goto out;
  }
  for (;;) {
    int n = SSL_read(c->s, buf, sizeof buf);
    if (n > 0) {
      r->response = true;
      continue;
    }
    int err = SSL_get_error(c->s, n);
    if (err == SSL_ERROR_WANT_READ && tf_probe_wait_fd(c->fd, POLLIN, deadline))
      continue;
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN)
      break;
    snprintf(r->note, sizeof r->note,
             "the server did not close with close_notify (%s): no half-close "
             "to test",
             err == SSL_ERROR_WANT_READ ? "timeout" : "FIN, RST or alert");
    goto out;
  }
  /* FIN already here?  Then only an RST can still come. */
  char peek;
  bool fin = recv(c->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  double t0 = tf_probe_now_ms();
  deadline = t0 + e->timeout_ms;
  if (ssl_write_all(c, req, deadline) < 0) {
    /* OpenSSL refused (or the socket did): our own record then */
    sync_seq(c, k);
    if (send_sealed(c, 23, req, strlen(req), deadline) < 0) {
      r->outcome = TLSFIN_CLOSE_RST;
      r->ms = tf_probe_now_ms() - t0;
      snprintf(r->note, sizeof r->note, "our write failed: %s",
               strerror(errno));
      goto out;
    }
  }
  sync_seq(c, k);
  if (fin) {
    double settle = t0 + (e->timeout_ms < 1000 ? e->timeout_ms : 1000);
    deadline = settle < deadline ? settle : deadline;
  }
  snprintf(r->note, sizeof r->note, "%s",
           fin ? "FIN came with its close_notify"
               : "its close_notify came before its FIN");
  observe(c, t0, deadline, r, NULL);
  /* no complaint is acceptance: a FIN (now or earlier), or silence */
  if (r->outcome == TLSFIN_CLOSE_FIN || r->outcome == TLSFIN_CLOSE_NOTHING)
    r->outcome = TLSFIN_CLOSE_ACCEPTED;
out:
  close_conn(c);
}

/* RFC 9113 §4.1 frame header: length (24), type, flags, stream (31). */
static size_t h2_frame(uint8_t *o, uint8_t type, uint8_t flags,
                       const uint8_t *payload, size_t len) {
  o[0] = (uint8_t)(len >> 16);
  o[1] = (uint8_t)(len >> 8);
  o[2] = (uint8_t)len;
  o[3] = type;
  o[4] = flags;
  memset(o + 5, 0, 4); /* stream 0: connection-level frames only */
  if (len)
    memcpy(o + 9, payload, len);
  return 9 + len;
}

static int ssl_write_bytes(struct conn *c, const uint8_t *b, size_t n,
                           double deadline) {
  for (;;) {
    int r = SSL_write(c->s, b, (int)n);
    if (r > 0)
      return 0;
    int e = SSL_get_error(c->s, r);
    if ((e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) &&
        tf_probe_wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline))
      continue;
    ERR_clear_error();
    return -1;
  }
}

/* How SSL_read ended, as a close outcome; an alert is named in the note. */
static tlsfin_close_outcome ssl_end(int err, char *note, size_t nl) {
  if (err == SSL_ERROR_ZERO_RETURN)
    return TLSFIN_CLOSE_CLOSE_NOTIFY;
  if (err == SSL_ERROR_SYSCALL && errno == ECONNRESET) {
    ERR_clear_error();
    return TLSFIN_CLOSE_RST;
  }
  unsigned long ee = ERR_peek_error();
  int reason = ERR_GET_REASON(ee);
  if (ee && ERR_GET_LIB(ee) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET &&
      reason < SSL_AD_REASON_OFFSET + 256) {
    const char *a = tlsfin_alert_name(reason - SSL_AD_REASON_OFFSET);
    addf(note, nl, "%salert %s", note[0] ? "; " : "", a ? a : "?");
    ERR_clear_error();
    return TLSFIN_CLOSE_ALERT;
  }
  if (err == SSL_ERROR_SSL)
    return tf_ssl_failure(note, nl);
  ERR_clear_error();
  return TLSFIN_CLOSE_FIN;
}

static void t_h2_goaway(const struct tf_close_env *e, SSL_CTX *ctx,
                        struct keys *k, struct conn *c,
                        struct tlsfin_probe_close *r) {
  if (!open_conn(e, ctx, k, c, r->note, sizeof r->note))
    return;
  const unsigned char *alpn = NULL;
  unsigned alen = 0;
  SSL_get0_alpn_selected(c->s, &alpn, &alen);
  if (alen != 2 || memcmp(alpn, "h2", 2)) {
    snprintf(r->note, sizeof r->note, "the server did not negotiate h2");
    goto out;
  }
  double deadline = tf_probe_now_ms() + e->timeout_ms;
  /* RFC 9113 §3.4: the preface, then our (empty) SETTINGS */
  uint8_t out[64];
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  size_t n = sizeof preface - 1;
  memcpy(out, preface, n);
  n += h2_frame(out + n, 4, 0, NULL, 0);
  if (ssl_write_bytes(c, out, n, deadline) < 0) {
    snprintf(r->note, sizeof r->note, "could not send the preface");
    goto out;
  }
  /* Frames are parsed from a buffer; every length is the server's and is
   * bounded by our SETTINGS_MAX_FRAME_SIZE, the default 16384 (RFC 9113
   * §4.2): a longer frame is a protocol error, reported as garbage. */
  uint8_t *fb = c->h2;
  size_t fn = 0;
  bool settings = false, goaway_sent = false;
  double t0 = 0;
  r->outcome = TLSFIN_CLOSE_NOTHING;
  r->then = TLSFIN_CLOSE_SKIPPED;
  char evs[110] = "";
  for (;;) {
    while (fn >= 9) {
      size_t flen = (size_t)fb[0] << 16 | (size_t)fb[1] << 8 | fb[2];
      if (flen > 16384) {
        r->outcome = TLSFIN_CLOSE_GARBAGE;
        snprintf(r->note, sizeof r->note, "HTTP/2 frame of %zu bytes", flen);
        goto out;
      }
      if (fn < 9 + flen)
        break;
      uint8_t type = fb[3], flags = fb[4];
      if (type == 4 && !(flags & 1)) /* SETTINGS, not an ACK */
        settings = true;
      if (type == 7 && flen >= 8 && goaway_sent) { /* §6.8 GOAWAY */
        uint32_t last = ((uint32_t)fb[9] << 24 | (uint32_t)fb[10] << 16 |
                         (uint32_t)fb[11] << 8 | fb[12]) &
                        0x7fffffffu;
        uint32_t code = (uint32_t)fb[13] << 24 | (uint32_t)fb[14] << 16 |
                        (uint32_t)fb[15] << 8 | fb[16];
        addf(evs, sizeof evs, "%sGOAWAY(last %u, error %u) %.1f ms",
             evs[0] ? ", " : "", last, code, tf_probe_now_ms() - t0);
      }
      memmove(fb, fb + 9 + flen, fn - 9 - flen);
      fn -= 9 + flen;
    }
    if (settings && !goaway_sent) {
      /* RFC 9113 §6.5.3 ACK theirs; §6.8 GOAWAY, last stream 0, NO_ERROR */
      static const uint8_t ga[8] = {0};
      n = h2_frame(out, 4, 1, NULL, 0);
      n += h2_frame(out + n, 7, 0, ga, sizeof ga);
      if (ssl_write_bytes(c, out, n, deadline) < 0) {
        snprintf(r->note, sizeof r->note, "could not send GOAWAY");
        goto out;
      }
      goaway_sent = true;
      t0 = tf_probe_now_ms();
      deadline = t0 + e->timeout_ms;
    }
    int got = SSL_read(c->s, fb + fn, (int)(sizeof c->h2 - fn));
    if (got > 0) {
      fn += (size_t)got;
      continue;
    }
    int err = SSL_get_error(c->s, got);
    if (err == SSL_ERROR_WANT_READ && tf_probe_wait_fd(c->fd, POLLIN, deadline))
      continue;
    if (!goaway_sent) {
      snprintf(r->note, sizeof r->note, "no SETTINGS from the server");
      ERR_clear_error();
      goto out;
    }
    r->ms = tf_probe_now_ms() - t0;
    if (err == SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      break; /* NOTHING */
    }
    r->outcome = ssl_end(err, r->note, sizeof r->note);
    addf(evs, sizeof evs, "%s%s %.1f ms", evs[0] ? ", " : "",
         tlsfin_close_outcome_name(r->outcome), r->ms);
    if (r->outcome == TLSFIN_CLOSE_CLOSE_NOTIFY) {
      /* and then: the TCP end, read raw (OpenSSL is done reading) */
      setup_keys(c, k, evs, 0);
      sync_seq(c, k);
      int alert;
      enum ev v = raw_next(c, deadline, &alert);
      r->then = v == EV_NONE ? TLSFIN_CLOSE_NOTHING : ev_outcome(v);
      if (v != EV_NONE)
        addf(evs, sizeof evs, ", %s %.1f ms", ev_name(v, alert),
             tf_probe_now_ms() - t0);
    }
    break;
  }
  addf(r->note, sizeof r->note, "%s%s", r->note[0] ? "; " : "",
       evs[0] ? evs : "nothing after our GOAWAY");
out:
  close_conn(c);
}

/* RFC 8446 §4.6.3: KeyUpdate(update_requested), then close_notify under
 * the new key.  The server must update its receiving key, answer with its
 * own KeyUpdate, and may then close. */
static void t_key_update(const struct tf_close_env *e, SSL_CTX *ctx,
                         struct keys *k, struct conn *c,
                         struct tlsfin_probe_close *r) {
  double deadline;
  if (!open_keyed(e, ctx, k, c, r->note, sizeof r->note, &deadline))
    return;
  if (SSL_key_update(c->s, SSL_KEY_UPDATE_REQUESTED) != 1) {
    snprintf(r->note, sizeof r->note, "OpenSSL refused the KeyUpdate");
    ERR_clear_error();
    goto out;
  }
  /* SSL_do_handshake() sends the pending KeyUpdate now (SSL_key_update(3)) */
  for (;;) {
    int h = SSL_do_handshake(c->s);
    if (h == 1)
      break;
    int err = SSL_get_error(c->s, h);
    if ((err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) &&
        tf_probe_wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline))
      continue;
    snprintf(r->note, sizeof r->note, "could not send the KeyUpdate");
    ERR_clear_error();
    goto out;
  }
  double t0 = tf_probe_now_ms();
  deadline = t0 + e->timeout_ms;
  if (shutdown_write(c, deadline) < 0) {
    snprintf(r->note, sizeof r->note, "could not send close_notify");
    goto out;
  }
  sync_seq(c, k);
  bool answered = false;
  observe(c, t0, deadline, r, &answered);
  /* not answering before close_notify is allowed: §4.6.3 asks for the
   * KeyUpdate before the next application data, and none follows */
  addf(r->note, sizeof r->note, "; %s",
       answered ? "KeyUpdate answered" : "no KeyUpdate back");
out:
  close_conn(c);
}

void tf_close_extra(const struct tf_close_env *e,
                    struct tlsfin_probe_close *c) {
  struct tlsfin_probe_close *dac = &c[TLSFIN_PROBE_DATA_AFTER_CN],
                            *hc = &c[TLSFIN_PROBE_HALF_CLOSE_13],
                            *h2 = &c[TLSFIN_PROBE_H2_GOAWAY],
                            *ku = &c[TLSFIN_PROBE_KEY_UPDATE];
  /* 40 KB of buffer: not on the stack, and one per call, since --targets
   * -j probes several servers at once from threads */
  struct conn *conn = calloc(1, sizeof *conn);
  struct keys k;
  bool tls13 = e->version == TLS1_3_VERSION;
  SSL_CTX *ctx = conn && e->version >= TLS1_2_VERSION
                     ? make_ctx(e->version, false, &k)
                     : NULL;
  if (!conn) {
    for (int i = 0; i < 4; i++) {
      struct tlsfin_probe_close *t =
          (struct tlsfin_probe_close *[]){dac, hc, h2, ku}[i];
      snprintf(t->note, sizeof t->note, "out of memory");
    }
    return;
  }
  if (!ctx) {
    free(conn);
    snprintf(dac->note, sizeof dac->note, "needs TLS 1.2 or 1.3 (AEAD)");
    snprintf(hc->note, sizeof hc->note, "needs TLS 1.3");
    snprintf(h2->note, sizeof h2->note, "needs TLS 1.2 or 1.3");
    snprintf(ku->note, sizeof ku->note, "needs TLS 1.3");
    return;
  }
  t_data_after_cn(e, ctx, &k, conn, dac);
  if (tls13 && e->http)
    t_half_close_13(e, ctx, &k, conn, hc);
  else
    snprintf(hc->note, sizeof hc->note, "%s",
             tls13 ? "needs --http" : "needs TLS 1.3");
  if (tls13)
    t_key_update(e, ctx, &k, conn, ku);
  else
    snprintf(ku->note, sizeof ku->note, "needs TLS 1.3");
  SSL_CTX_free(ctx);
  if (e->http && (ctx = make_ctx(e->version, true, &k)) != NULL) {
    t_h2_goaway(e, ctx, &k, conn, h2);
    SSL_CTX_free(ctx);
  } else {
    snprintf(h2->note, sizeof h2->note, "needs --http");
  }
  free(conn);
}

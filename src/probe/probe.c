/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin probe: the version matrix with hand-built ClientHellos whose
 * replies are read by the analyzer's own TLS dissector, and close tests on
 * full OpenSSL handshakes.  Every step has a deadline (poll); nothing
 * blocks on a silent, slow, resetting or garbage-speaking server.
 */
#include "tlsfin/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hello.h"
#include "internal.h"
#include "starttls.h"
#include "tls.h"
#include "tlsfin/taxonomy.h"

struct tlsfin_probe {
  char err[300];
  /* why the target could not be tested, without the target's name: the
   * record's "reason"; empty when it was tested */
  char reason[280];
  bool ran, tested; /* the version matrix ran; a server answered */
  int conn_errno;   /* the first connect() failure, for the reason */
  char host[256], port[16], sni[256], target[300];
  bool http;
  int timeout_ms, idle_max;
  int starttls;           /* enum tf_starttls_proto; 0: TLS from the start */
  char xmpp_host[256];    /* XMPP's to=; "" for the SNI, else the host */
  char starttls_err[280]; /* the first upgrade failure, for the reason */
  int vrun;               /* version rows that ran */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  bool have_target;
  struct tlsfin_probe_version v[TLSFIN_PROBE_VERSIONS];
  struct tlsfin_probe_close c[TLSFIN_PROBE_CLOSE_TESTS];
  uint16_t best; /* best accepted version, for the close tests */
};

static const uint16_t versions[TLSFIN_PROBE_VERSIONS] = {0x0300, 0x0301, 0x0302,
                                                         0x0303, 0x0304, 0};

#define NAME_ROW(e, n, h) n,
static const char *const vnames[] = {TLSFIN_VERSION_OUTCOME_MAP(NAME_ROW)};
static const char *const cnames[] = {TLSFIN_CLOSE_OUTCOME_MAP(NAME_ROW)};
/* Never NULL: the names go straight into printf. */
const char *tlsfin_version_outcome_name(tlsfin_version_outcome o) {
  return (int)o >= 0 && o < TLSFIN_VERSION_OUTCOME_COUNT ? vnames[o] : "?";
}
const char *tlsfin_close_outcome_name(tlsfin_close_outcome o) {
  return (int)o >= 0 && o < TLSFIN_CLOSE_OUTCOME_COUNT ? cnames[o] : "?";
}

static void seterr(struct tlsfin_probe *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void seterr(struct tlsfin_probe *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err, sizeof p->err, fmt, ap);
  va_end(ap);
}

struct tlsfin_probe *tlsfin_probe_new(void) {
  struct tlsfin_probe *p = calloc(1, sizeof *p);
  if (p)
    p->timeout_ms = 3000;
  return p;
}
void tlsfin_probe_free(struct tlsfin_probe *p) { free(p); }
const char *tlsfin_probe_error(const struct tlsfin_probe *p) { return p->err; }
bool tlsfin_probe_tested(const struct tlsfin_probe *p) { return p->tested; }
const char *tlsfin_probe_reason(const struct tlsfin_probe *p) {
  return p->tested ? NULL : p->reason[0] ? p->reason : p->err;
}

/* The target could not be tested: the reason for the record, and the
 * same with the target's name (or the host's: prefix) for the message. */
static void untested(struct tlsfin_probe *p, const char *prefix,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void untested(struct tlsfin_probe *p, const char *prefix,
                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->reason, sizeof p->reason, fmt, ap);
  va_end(ap);
  p->tested = false;
  seterr(p, "%s: %s", prefix, p->reason);
}

int tlsfin_probe_set_target(struct tlsfin_probe *p, const char *t) {
  p->have_target = false; /* until this one is known to be well formed */
  /* the record of a target that is not well formed names it as given */
  snprintf(p->target, sizeof p->target, "%s", t);
  p->reason[0] = 0;
  const char *colon;
  size_t hl;
  if (t[0] == '[') { /* [v6]:port */
    const char *rb = strchr(t, ']');
    if (!rb || rb[1] != ':') {
      seterr(p, "target '%s': expected [ADDRESS]:PORT", t);
      return -1;
    }
    hl = (size_t)(rb - t - 1);
    colon = rb + 1;
    t++;
  } else {
    colon = strrchr(t, ':');
    if (!colon) {
      seterr(p, "target '%s': expected HOST:PORT", t);
      return -1;
    }
    hl = (size_t)(colon - t);
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (hl == 0 || hl >= sizeof p->host || *end || port < 1 || port > 65535) {
    seterr(p, "target '%s': expected HOST:PORT with a port 1-65535", t);
    return -1;
  }
  memcpy(p->host, t, hl);
  p->host[hl] = 0;
  snprintf(p->port, sizeof p->port, "%ld", port);
  snprintf(p->target, sizeof p->target, "%s:%s", p->host, p->port);
  /* Resolved in tlsfin_probe_run(), under the timeout in force then: a
   * name lookup here would have no deadline. */
  p->addrlen = 0;
  p->have_target = true;
  if (!p->sni[0]) {
    /* RFC 6066 §3: no IP literals in SNI */
    unsigned char buf[16];
    if (inet_pton(AF_INET, p->host, buf) != 1 &&
        inet_pton(AF_INET6, p->host, buf) != 1)
      snprintf(p->sni, sizeof p->sni, "%s", p->host);
  }
  return 0;
}
int tlsfin_probe_set_sni(struct tlsfin_probe *p, const char *sni) {
  snprintf(p->sni, sizeof p->sni, "%s", sni);
  return 0;
}
int tlsfin_probe_set_http(struct tlsfin_probe *p, bool on) {
  p->http = on;
  return 0;
}
int tlsfin_probe_set_starttls(struct tlsfin_probe *p, const char *proto) {
  int s = proto && proto[0] ? tf_starttls_parse(proto) : TF_STARTTLS_NONE;
  if (s < 0) {
    seterr(p, "starttls '%s': expected %s", proto, tf_starttls_names());
    return -1;
  }
  p->starttls = s;
  return 0;
}
int tlsfin_probe_set_xmpp_host(struct tlsfin_probe *p, const char *name) {
  snprintf(p->xmpp_host, sizeof p->xmpp_host, "%s", name ? name : "");
  return 0;
}
int tlsfin_probe_set_timeout_ms(struct tlsfin_probe *p, int ms) {
  if (ms < 50) {
    seterr(p, "timeout must be at least 50 ms");
    return -1;
  }
  p->timeout_ms = ms;
  return 0;
}
int tlsfin_probe_set_idle_max(struct tlsfin_probe *p, int s) {
  p->idle_max = s < 0 ? 0 : s;
  return 0;
}
const struct tlsfin_probe_version *
tlsfin_probe_version(const struct tlsfin_probe *p, int i) {
  return i >= 0 && i < TLSFIN_PROBE_VERSIONS ? &p->v[i] : NULL;
}
const struct tlsfin_probe_close *
tlsfin_probe_close(const struct tlsfin_probe *p,
                   enum tlsfin_probe_close_test t) {
  return (int)t >= 0 && t < TLSFIN_PROBE_CLOSE_TESTS ? &p->c[t] : NULL;
}

double tf_probe_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int tf_probe_wait_fd(int fd, short ev, double deadline) {
  for (;;) {
    int left = (int)(deadline - tf_probe_now_ms());
    if (left <= 0)
      return 0;
    struct pollfd pf = {fd, ev, 0};
    int r = poll(&pf, 1, left);
    if (r > 0)
      return 1;
    if (r == 0)
      return 0;
    if (errno != EINTR)
      return 1; /* let the caller's read/write report the error */
  }
}

/* Non-blocking connect with a deadline; -1 with errno on failure. */
static int connect_to(struct tlsfin_probe *p, double deadline) {
  int fd = socket(p->addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&p->addr, p->addrlen) < 0 &&
      errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  if (!tf_probe_wait_fd(fd, POLLOUT, deadline)) {
    close(fd);
    errno = ETIMEDOUT;
    return -1;
  }
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  if (soerr) {
    close(fd);
    errno = soerr;
    return -1;
  }
  return fd;
}

/* --starttls: the plaintext dialogue on a fresh connection, as a step of
 * its own with its own deadline, so that the TLS step after it keeps the
 * whole --timeout.  The first failure's reason is kept: it is the
 * record's reason when no connection got as far as TLS. */
static int upgrade(struct tlsfin_probe *p, int fd, char *why, size_t wl) {
  if (!p->starttls)
    return 0;
  const char *domain = p->xmpp_host[0] ? p->xmpp_host
                       : p->sni[0]     ? p->sni
                                       : p->host;
  if (tf_starttls(p->starttls, fd, tf_probe_now_ms() + p->timeout_ms, domain,
                  why, wl) == 0)
    return 0;
  if (!p->starttls_err[0])
    snprintf(p->starttls_err, sizeof p->starttls_err, "%s", why);
  return -1;
}

/*
 * Is the server's first flight TLS at all?  Checked on the raw bytes before
 * the dissector has to wait for anything, so that a stream that is not TLS
 * is called garbage at its first bad header instead of being buffered until
 * the deadline:
 *  - a record header needs a known content type (20-24), major version 3
 *    and a length within RFC 8446 §5.1 / RFC 5246 §6.2.3 limits.  The
 *    version is not negotiated yet, so the loosest one applies: 2^14 + 2048
 *    (TLSCiphertext in 1.2; 1.3 allows 2^14 + 256).
 *  - the handshake messages before the ServerHello: a ServerHello body is at
 *    most 2+32+1+32+2+1+2+65535 bytes (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3),
 *    and nothing longer may come first, so a 16 MB "message" is refused from
 *    its 4-byte header on, without reading the 16 MB.
 */
#define MAX_RECORD (16384 + 2048)
#define MAX_SERVER_HELLO (2 + 32 + 1 + 32 + 2 + 1 + 2 + 65535)
struct rscan {
  uint8_t hdr[5];
  unsigned hdr_have;
  uint32_t body_left; /* of the current record */
  uint8_t hs[4];      /* current handshake message header */
  unsigned hs_have;
  uint32_t hs_left; /* of the current handshake message body */
  bool past_hello;  /* a ServerHello header was seen: stop checking */
};

/* Feeds bytes; returns a reason when they cannot be TLS, else NULL. */
static const char *rscan_feed(struct rscan *s, const uint8_t *b, size_t n) {
  while (n > 0) {
    if (s->body_left == 0) { /* in a record header */
      s->hdr[s->hdr_have++] = *b++;
      n--;
      if (s->hdr_have < 5)
        continue;
      s->hdr_have = 0;
      unsigned len = (unsigned)s->hdr[3] << 8 | s->hdr[4];
      if (s->hdr[0] < 20 || s->hdr[0] > 24 || s->hdr[1] != 3 || s->hdr[2] > 4)
        return "bad record header";
      if (len > MAX_RECORD)
        return "record longer than TLS allows";
      s->body_left = len;
      continue;
    }
    size_t take = n < s->body_left ? n : s->body_left;
    if (s->hdr[0] == 22 && !s->past_hello) { /* handshake bytes */
      for (size_t i = 0; i < take; i++) {
        if (s->hs_left > 0) {
          size_t skip = take - i < s->hs_left ? take - i : s->hs_left;
          s->hs_left -= (uint32_t)skip;
          i += skip - 1;
          continue;
        }
        s->hs[s->hs_have++] = b[i];
        if (s->hs_have < 4)
          continue;
        s->hs_have = 0;
        s->hs_left =
            (uint32_t)s->hs[1] << 16 | (uint32_t)s->hs[2] << 8 | s->hs[3];
        if (s->hs_left > MAX_SERVER_HELLO)
          return "handshake message longer than a ServerHello can be";
        if (s->hs[0] == 2) { /* ServerHello: the dissector takes it from here */
          s->past_hello = true;
          break;
        }
      }
    }
    s->body_left -= (uint32_t)take;
    b += take;
    n -= take;
  }
  return NULL;
}

/* One version: send the hello, read the answer through the analyzer's TLS
 * dissector until it says what happened. */
static void probe_version(struct tlsfin_probe *p, int i) {
  struct tlsfin_probe_version *v = &p->v[i];
  uint8_t hello[1024], buf[16384];
  double t0 = tf_probe_now_ms(), deadline = t0 + p->timeout_ms;
  v->offered = versions[i];
  v->alert = -1;
  int fd = connect_to(p, deadline);
  if (fd < 0) {
    if (!p->conn_errno)
      p->conn_errno = errno;
    v->outcome = TLSFIN_VERSION_UNREACHABLE;
    v->ms = tf_probe_now_ms() - t0;
    return;
  }
  if (p->starttls) {
    char why[280];
    if (upgrade(p, fd, why, sizeof why) < 0) {
      v->outcome = TLSFIN_VERSION_STARTTLS_FAILED;
      v->ms = tf_probe_now_ms() - t0;
      close(fd);
      return;
    }
    /* the TLS answer is timed, and has its deadline, from the ClientHello,
     * as without an upgrade */
    t0 = tf_probe_now_ms();
    deadline = t0 + p->timeout_ms;
  }
  size_t n = tf_build_client_hello(hello, sizeof hello, versions[i], p->sni);
  struct tf_tls t;
  tf_tls_init(&t);
  tf_tls_feed(&t, 0, hello, n, 1);
  v->outcome = TLSFIN_VERSION_TIMEOUT;
  if (send(fd, hello, n, MSG_NOSIGNAL) != (ssize_t)n) {
    v->outcome = TLSFIN_VERSION_RESET;
    goto done;
  }
  struct rscan sc = {0};
  for (uint64_t pkt = 2;; pkt++) {
    /* checked on every pass, not only when a read would block: a server
     * that trickles valid-looking records forever must not hold us */
    if (tf_probe_now_ms() >= deadline ||
        !tf_probe_wait_fd(fd, POLLIN, deadline))
      break; /* TIMEOUT */
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r > 0) {
      const char *bad = rscan_feed(&sc, buf, (size_t)r);
      tf_tls_feed(&t, 1, buf, (size_t)r, pkt);
      if (t.server_hello || t.hrr) {
        v->outcome = TLSFIN_VERSION_ACCEPTED;
        v->negotiated = t.hrr && !t.server_hello ? 0x0304 : t.version;
        break;
      }
      if (t.nalerts) {
        v->outcome = TLSFIN_VERSION_ALERT;
        v->alert = t.alerts[0].desc;
        break;
      }
      if (bad || t.state == TF_TLS_NO || t.d[1].lost) {
        v->outcome = TLSFIN_VERSION_GARBAGE;
        break;
      }
      continue;
    }
    if (r == 0) {
      v->outcome = TLSFIN_VERSION_CLOSED;
      break;
    }
    if (errno == EINTR || errno == EAGAIN)
      continue;
    v->outcome = TLSFIN_VERSION_RESET; /* ECONNRESET */
    break;
  }
done:
  v->ms = tf_probe_now_ms() - t0;
  tf_tls_free(&t);
  /* The answer was read: an abortive close is the polite one for a probe
   * here, the server must not keep state for us. */
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* A full handshake with OpenSSL at the best accepted version. */
static SSL *handshake(struct tlsfin_probe *p, SSL_CTX *ctx, int *fdp,
                      double deadline, char *note, size_t nl) {
  int fd = connect_to(p, deadline);
  if (fd < 0) {
    snprintf(note, nl, "connect: %s", strerror(errno));
    return NULL;
  }
  if (p->starttls) {
    char why[280];
    if (upgrade(p, fd, why, sizeof why) < 0) {
      snprintf(note, nl, "%.150s", why);
      close(fd);
      return NULL;
    }
    deadline = tf_probe_now_ms() + p->timeout_ms; /* the handshake's own step */
  }
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  if (p->sni[0])
    SSL_set_tlsext_host_name(s, p->sni);
  for (;;) {
    int r = SSL_connect(s);
    if (r == 1)
      break;
    int e = SSL_get_error(s, r);
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
        tf_probe_wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                         deadline))
      continue;
    unsigned long ee = ERR_peek_last_error();
    snprintf(note, nl, "handshake failed: %s",
             ee ? ERR_reason_error_string(ee) : "timeout");
    ERR_clear_error();
    SSL_free(s);
    close(fd);
    return NULL;
  }
  *fdp = fd;
  return s;
}

/* What an SSL_ERROR_SSL from SSL_read means: an EOF without close_notify
 * (OpenSSL 3 says SSL_R_UNEXPECTED_EOF_WHILE_READING; 1.1.1 said
 * SSL_ERROR_SYSCALL with errno 0), an alert from the peer, or bytes that
 * are not TLS records (a bad header, a record over the RFC 8446 §5.1
 * limits, one that does not decrypt), which OpenSSL refuses at the first
 * bad header without reading the rest. */
tlsfin_close_outcome tf_ssl_failure(char *note, size_t nl) {
  unsigned long ee = ERR_peek_error();
  int reason = ERR_GET_REASON(ee);
  tlsfin_close_outcome o = TLSFIN_CLOSE_FIN;
  if (ee && ERR_GET_LIB(ee) == ERR_LIB_SSL &&
      reason != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    const char *rs = ERR_reason_error_string(ee);
    if (reason >= SSL_AD_REASON_OFFSET) { /* an alert: TLS, then its end */
      if (nl && !note[0])
        snprintf(note, nl, "alert: %s", rs ? rs : "?");
    } else {
      o = TLSFIN_CLOSE_GARBAGE;
      if (nl)
        snprintf(note, nl, "not TLS: %s", rs ? rs : "?");
    }
  }
  ERR_clear_error();
  return o;
}

/* Reads until the server ends its side: close_notify (then FIN or RST),
 * FIN, RST, bytes that are not TLS, or the deadline.  Application data
 * seen on the way is noted; data still flowing at the deadline is DATA.
 * With from_data, the time is counted from the last application data
 * instead of t0: an idle connection is idle from the end of the response. */
static void read_end(SSL *s, int fd, double deadline, double t0, bool from_data,
                     struct tlsfin_probe_close *c) {
  char buf[16384];
  bool flowing = false; /* the last read returned data */
  c->outcome = TLSFIN_CLOSE_NOTHING;
  c->then = TLSFIN_CLOSE_SKIPPED;
  for (;;) {
    /* every pass, not only when a read would block: a server that keeps
     * sending would otherwise keep us here forever */
    if (tf_probe_now_ms() >= deadline) {
      if (flowing)
        c->outcome = TLSFIN_CLOSE_DATA;
      break;
    }
    int r = SSL_read(s, buf, sizeof buf);
    if (r > 0) {
      c->response = true;
      flowing = true;
      if (from_data)
        t0 = tf_probe_now_ms();
      continue;
    }
    int e = SSL_get_error(s, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      flowing = false;
      if (!tf_probe_wait_fd(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                            deadline))
        break;
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) { /* RFC 8446 §6.1 close_notify */
      c->outcome = TLSFIN_CLOSE_CLOSE_NOTIFY;
      c->ms = tf_probe_now_ms() - t0;
      /* and then: FIN, RST, or nothing? */
      c->then = TLSFIN_CLOSE_NOTHING;
      /* tf_probe_wait_fd() checks the deadline on every pass, so bytes that
       * keep coming after the close_notify end here too: as DATA */
      bool more = false;
      for (;;) {
        if (!tf_probe_wait_fd(fd, POLLIN, deadline)) {
          if (more)
            c->then = TLSFIN_CLOSE_DATA;
          break;
        }
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          more = true;
          continue;
        }
        if (n == 0)
          c->then = TLSFIN_CLOSE_FIN;
        else if (errno == EINTR || errno == EAGAIN)
          continue;
        else
          c->then = TLSFIN_CLOSE_RST;
        break;
      }
      break;
    }
    c->ms = tf_probe_now_ms() - t0;
    if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET)
      c->outcome = TLSFIN_CLOSE_RST;
    else if (e == SSL_ERROR_SSL)
      c->outcome = tf_ssl_failure(c->note, sizeof c->note);
    else
      c->outcome = TLSFIN_CLOSE_FIN;
    ERR_clear_error();
    break;
  }
  if (c->outcome == TLSFIN_CLOSE_NOTHING || c->outcome == TLSFIN_CLOSE_DATA)
    c->ms = tf_probe_now_ms() - t0;
}

static void close_test(struct tlsfin_probe *p, SSL_CTX *ctx,
                       enum tlsfin_probe_close_test which) {
  struct tlsfin_probe_close *c = &p->c[which];
  int fd = -1;
  double wait =
      which == TLSFIN_PROBE_IDLE ? p->idle_max * 1000.0 : (double)p->timeout_ms;
  double deadline = tf_probe_now_ms() + p->timeout_ms;
  SSL *s = handshake(p, ctx, &fd, deadline, c->note, sizeof c->note);
  if (!s) {
    c->outcome = TLSFIN_CLOSE_SKIPPED;
    return;
  }
  char req[600];
  snprintf(req, sizeof req,
           "GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsfin-probe\r\n\r\n",
           p->sni[0] ? p->sni : p->host);
  /* The idle test with --http asks first: an HTTP server times out a
   * connection that never sent a request with its header timeout (nginx
   * client_header_timeout), one idle between requests with its keep-alive
   * timeout, and the second is the one clients live with. */
  bool ask = which == TLSFIN_PROBE_HALF_CLOSE ||
             (which == TLSFIN_PROBE_IDLE && p->http);
  if (ask && SSL_write(s, req, (int)strlen(req)) <= 0)
    snprintf(c->note, sizeof c->note, "could not send the request");
  double t0 = tf_probe_now_ms();
  deadline = t0 + wait;
  if (which == TLSFIN_PROBE_CLOSE_NOTIFY || which == TLSFIN_PROBE_HALF_CLOSE) {
    SSL_shutdown(s); /* sends our close_notify; the read side stays open */
  } else if (which == TLSFIN_PROBE_TRUNCATION) {
    shutdown(fd, SHUT_WR); /* a bare FIN: no close_notify */
  }
  read_end(s, fd, deadline, t0, which == TLSFIN_PROBE_IDLE && ask, c);
  if (which == TLSFIN_PROBE_HALF_CLOSE && !c->note[0])
    snprintf(c->note, sizeof c->note, "%s",
             c->response ? "the HTTP response arrived after our close_notify"
                         : "no response after our close_notify");
  if (which == TLSFIN_PROBE_IDLE && !c->note[0])
    snprintf(c->note, sizeof c->note, "%s",
             !ask          ? "silent since the handshake"
             : c->response ? "idle since the HTTP response (keep-alive)"
                           : "no response to the HTTP request; idle since it");
  SSL_free(s);
  close(fd);
}

/*
 * Name resolution under the probe's deadline.  getaddrinfo() has no timeout
 * of its own (the resolver's is resolv.conf's, 5 s x 2 attempts by
 * default), so the lookup runs in a detached thread and we wait for it on a
 * condition variable until the deadline.  Not getaddrinfo_a(): gai_cancel()
 * cannot stop a lookup that has started, and its gaicb must then stay valid
 * until glibc's helper finishes, so the caller would have to block or leak.
 * Here the waiter and the thread share one reference-counted record: at the
 * deadline the waiter drops its reference and returns, and whichever side
 * lets go last frees it, so an abandoned lookup costs one idle thread until
 * the resolver gives up, and nothing leaks.
 */
struct resolve {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int refs; /* the waiter and the thread */
  bool done;
  int rc;
  char host[256], port[16];
  struct sockaddr_storage addr;
  socklen_t addrlen;
};

static void resolve_put(struct resolve *r) {
  pthread_mutex_lock(&r->mu);
  int left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left == 0) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
  }
}

static int lookup(const char *host, const char *port, int flags,
                  struct sockaddr_storage *addr, socklen_t *addrlen) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc == 0) {
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addrlen = res->ai_addrlen;
    freeaddrinfo(res);
  }
  return rc;
}

static void *resolve_thread(void *arg) {
  struct resolve *r = arg;
  struct sockaddr_storage addr = {0};
  socklen_t addrlen = 0;
  int rc = lookup(r->host, r->port, 0, &addr, &addrlen);
  pthread_mutex_lock(&r->mu);
  r->rc = rc;
  r->addr = addr;
  r->addrlen = addrlen;
  r->done = true;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  resolve_put(r);
  return NULL;
}

static int resolve_target(struct tlsfin_probe *p) {
  /* An address needs no lookup, and no thread: --targets files are mostly
   * addresses, thousands of them. */
  if (lookup(p->host, p->port, AI_NUMERICHOST, &p->addr, &p->addrlen) == 0)
    return 0;
  struct resolve *r = calloc(1, sizeof *r);
  if (!r) {
    untested(p, p->target, "out of memory");
    return -1;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  /* the deadline is on the monotonic clock, like every other here */
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&r->mu, NULL);
  r->refs = 2;
  snprintf(r->host, sizeof r->host, "%s", p->host);
  snprintf(r->port, sizeof r->port, "%s", p->port);
  pthread_attr_t ta;
  pthread_attr_init(&ta);
  pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  int e = pthread_create(&th, &ta, resolve_thread, r);
  pthread_attr_destroy(&ta);
  if (e != 0) {
    r->refs = 1;
    resolve_put(r);
    untested(p, p->host, "cannot start name resolution: %s", strerror(e));
    return -1;
  }
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += p->timeout_ms / 1000;
  dl.tv_nsec += (long)(p->timeout_ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&r->mu);
  while (!r->done && pthread_cond_timedwait(&r->cv, &r->mu, &dl) != ETIMEDOUT)
    ;
  bool done = r->done;
  int rc = r->rc;
  if (done) {
    p->addr = r->addr;
    p->addrlen = r->addrlen;
  }
  pthread_mutex_unlock(&r->mu);
  resolve_put(r);
  if (!done) {
    untested(p, p->host, "name resolution timed out after %d ms",
             p->timeout_ms);
    return -1;
  }
  if (rc != 0) {
    untested(p, p->target, "name resolution failed: %s", gai_strerror(rc));
    return -1;
  }
  return 0;
}

static SSL *env_handshake(void *arg, SSL_CTX *ctx, int *fd, double deadline,
                          char *note, size_t nl) {
  return handshake(arg, ctx, fd, deadline, note, nl);
}

int tlsfin_probe_run(struct tlsfin_probe *p) {
  /* a fresh record: nothing of an earlier run may show in this one */
  memset(p->v, 0, sizeof p->v);
  memset(p->c, 0, sizeof p->c);
  p->ran = p->tested = false;
  p->conn_errno = 0;
  p->reason[0] = 0;
  p->starttls_err[0] = 0;
  p->vrun = 0;
  if (!p->have_target) {
    if (!p->err[0])
      seterr(p, "no target");
    return -1;
  }
  if (!p->addrlen && resolve_target(p) < 0)
    return -1;
  for (int i = 0; i < TLSFIN_PROBE_VERSIONS; i++) {
    probe_version(p, i);
    p->vrun = i + 1;
    /* An upgrade refused on the first connection is refused on every one
     * (no STARTTLS offered, TLS not enabled): the rest would only repeat
     * the dialogue, and cost a --timeout each against a silent server. */
    if (i == 0 && p->v[0].outcome == TLSFIN_VERSION_STARTTLS_FAILED)
      break;
  }
  p->ran = true;
  /* Tested once the server answered anything at all, even a reset or
   * garbage: that is its version handling.  No connection, or silence on
   * every ClientHello until the deadline, tells nothing about it. */
  bool connected = false, answered = false;
  p->best = 0;
  for (int i = 0; i < p->vrun; i++) {
    tlsfin_version_outcome o = p->v[i].outcome;
    connected |= o != TLSFIN_VERSION_UNREACHABLE;
    answered |= o != TLSFIN_VERSION_UNREACHABLE &&
                o != TLSFIN_VERSION_TIMEOUT &&
                o != TLSFIN_VERSION_STARTTLS_FAILED;
    if (o == TLSFIN_VERSION_ACCEPTED && versions[i] > p->best)
      p->best = versions[i];
  }
  if (!connected) {
    if (p->conn_errno == ETIMEDOUT)
      untested(p, p->target, "cannot connect: no answer within %d ms",
               p->timeout_ms);
    else
      untested(p, p->target, "cannot connect: %s",
               strerror(p->conn_errno ? p->conn_errno : ECONNREFUSED));
    return -1;
  }
  if (!answered && p->starttls_err[0]) {
    /* no ClientHello got through the upgrade: its reason is the story */
    untested(p, p->target, "%s", p->starttls_err);
    return -1;
  }
  if (!answered) {
    untested(p, p->target, "no answer to any ClientHello within %d ms",
             p->timeout_ms);
    return -1;
  }
  p->tested = true;
  for (int t = 0; t < TLSFIN_PROBE_CLOSE_TESTS; t++)
    p->c[t].outcome = p->c[t].then = TLSFIN_CLOSE_SKIPPED;
  if (!p->best || p->best < 0x0301) {
    for (int t = 0; t < TLSFIN_PROBE_CLOSE_TESTS; t++)
      snprintf(p->c[t].note, sizeof p->c[t].note,
               "no version usable for a full handshake");
    return 0;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    untested(p, p->target, "OpenSSL: cannot create a context");
    return -1;
  }
  SSL_CTX_set_security_level(ctx, 0); /* probe old servers too */
  SSL_CTX_set_min_proto_version(ctx, p->best);
  SSL_CTX_set_max_proto_version(ctx, p->best);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  close_test(p, ctx, TLSFIN_PROBE_CLOSE_NOTIFY);
  if (p->http)
    close_test(p, ctx, TLSFIN_PROBE_HALF_CLOSE);
  else
    snprintf(p->c[TLSFIN_PROBE_HALF_CLOSE].note,
             sizeof p->c[TLSFIN_PROBE_HALF_CLOSE].note, "needs --http");
  close_test(p, ctx, TLSFIN_PROBE_TRUNCATION);
  if (p->idle_max > 0)
    close_test(p, ctx, TLSFIN_PROBE_IDLE);
  else
    snprintf(p->c[TLSFIN_PROBE_IDLE].note, sizeof p->c[TLSFIN_PROBE_IDLE].note,
             "needs --idle-max SECONDS");
  SSL_CTX_free(ctx);
  /* the tests that need their own records and contexts (closetests.c) */
  struct tf_close_env env = {.handshake = env_handshake,
                             .arg = p,
                             .version = p->best,
                             .http = p->http,
                             .timeout_ms = p->timeout_ms,
                             .host = p->sni[0] ? p->sni : p->host};
  tf_close_extra(&env, p->c);
  return 0;
}

static const char *vname(uint16_t v) {
  const char *n = tlsfin_version_name(v);
  return n ? n : "?";
}

static const char *test_names[TLSFIN_PROBE_CLOSE_TESTS] = {
    "close_notify",  "half_close",    "truncation", "idle",
    "data_after_cn", "half_close_13", "h2_goaway",  "key_update"};

int tlsfin_probe_write_table(const struct tlsfin_probe *p, FILE *o) {
  fprintf(o, "target %s%s%s%s%s\n", p->target, p->sni[0] ? "  sni " : "",
          p->sni, p->starttls ? "  starttls " : "",
          tf_starttls_name(p->starttls));
  if (!p->tested) {
    /* one record per target, the untested too: what was seen, and why */
    fprintf(o, "not tested: %s\n", tlsfin_probe_reason(p));
    /* the rows say something only when a connection was made (JSON has
     * them all the same, for a stable shape) */
    bool connected = false;
    for (int i = 0; p->ran && i < p->vrun; i++)
      connected |= p->v[i].outcome != TLSFIN_VERSION_UNREACHABLE;
    if (!connected)
      return 0;
  }
  fprintf(o, "\n%-10s %-12s %s\n", "VERSION", "OUTCOME", "DETAIL");
  for (int i = 0; i < p->vrun; i++) {
    const struct tlsfin_probe_version *v = &p->v[i];
    char detail[120] = "";
    if (v->outcome == TLSFIN_VERSION_ACCEPTED)
      snprintf(detail, sizeof detail, "%s%s",
               i == TLSFIN_PROBE_VERSIONS - 1 ? "server chose " : "negotiated ",
               vname(v->negotiated));
    else if (v->outcome == TLSFIN_VERSION_ALERT)
      snprintf(detail, sizeof detail, "alert %s",
               v->alert >= 0 && tlsfin_alert_name(v->alert)
                   ? tlsfin_alert_name(v->alert)
                   : "(unknown)");
    fprintf(o, "%-10s %-12s %-36s %7.1f ms\n",
            i == TLSFIN_PROBE_VERSIONS - 1 ? "TLS1.0-1.3" : vname(v->offered),
            tlsfin_version_outcome_name(v->outcome), detail, v->ms);
  }
  if (!p->tested)
    return 0; /* no close test ran */
  fprintf(o, "\n%-14s %-13s %-8s %s\n", "CLOSE TEST", "SERVER DID", "THEN",
          "DETAIL");
  for (int t = 0; t < TLSFIN_PROBE_CLOSE_TESTS; t++) {
    const struct tlsfin_probe_close *c = &p->c[t];
    char ms[24] = "";
    if (c->outcome != TLSFIN_CLOSE_SKIPPED)
      snprintf(ms, sizeof ms, "after %.1f ms", c->ms);
    fprintf(o, "%-14s %-13s %-8s %s%s%s\n", test_names[t],
            tlsfin_close_outcome_name(c->outcome),
            c->then == TLSFIN_CLOSE_SKIPPED
                ? "-"
                : tlsfin_close_outcome_name(c->then),
            ms, ms[0] && c->note[0] ? "; " : "", c->note);
  }
  return 0;
}

static void json_str(FILE *o, const char *s) {
  fputc('"', o);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(o, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      fprintf(o, "\\u%04x", ch);
    else
      fputc(ch, o);
  }
  fputc('"', o);
}

int tlsfin_probe_write_json(const struct tlsfin_probe *p, FILE *o) {
  fprintf(o, "{\"target\":");
  json_str(o, p->target);
  fprintf(o, ",\"sni\":");
  if (p->sni[0])
    json_str(o, p->sni);
  else
    fprintf(o, "null");
  /* the upgrade before TLS, null for TLS from the first byte */
  fprintf(o, ",\"starttls\":");
  if (p->starttls)
    json_str(o, tf_starttls_name(p->starttls));
  else
    fprintf(o, "null");
  /* the same shape for every record: an untested target has "tested"
   * false, its reason, the version rows that ran (none when it was never
   * reached) and no close test */
  fprintf(o, ",\"tested\":%s,\"reason\":", p->tested ? "true" : "false");
  if (p->tested)
    fprintf(o, "null");
  else
    json_str(o, tlsfin_probe_reason(p));
  fprintf(o, ",\"versions\":[");
  for (int i = 0; p->ran && i < p->vrun; i++) {
    const struct tlsfin_probe_version *v = &p->v[i];
    const char *an = v->alert >= 0 ? tlsfin_alert_name(v->alert) : NULL;
    fprintf(o, "%s{\"offered\":\"%s\",\"outcome\":\"%s\",\"version\":",
            i ? "," : "",
            i == TLSFIN_PROBE_VERSIONS - 1 ? "max" : vname(v->offered),
            tlsfin_version_outcome_name(v->outcome));
    if (v->outcome == TLSFIN_VERSION_ACCEPTED)
      fprintf(o, "\"%s\"", vname(v->negotiated));
    else
      fprintf(o, "null");
    fprintf(o, ",\"alert\":");
    if (an)
      fprintf(o, "\"%s\"", an);
    else
      fprintf(o, "null");
    fprintf(o, ",\"ms\":%.1f}", v->ms);
  }
  fprintf(o, "],\"close\":{");
  for (int t = 0; p->tested && t < TLSFIN_PROBE_CLOSE_TESTS; t++) {
    const struct tlsfin_probe_close *c = &p->c[t];
    fprintf(o, "%s\"%s\":{\"server\":\"%s\",\"then\":", t ? "," : "",
            test_names[t], tlsfin_close_outcome_name(c->outcome));
    if (c->then == TLSFIN_CLOSE_SKIPPED)
      fprintf(o, "null");
    else
      fprintf(o, "\"%s\"", tlsfin_close_outcome_name(c->then));
    fprintf(o, ",\"ms\":");
    if (c->outcome == TLSFIN_CLOSE_SKIPPED)
      fprintf(o, "null");
    else
      fprintf(o, "%.1f", c->ms);
    if (t == TLSFIN_PROBE_HALF_CLOSE || t == TLSFIN_PROBE_IDLE)
      fprintf(o, ",\"response\":%s", c->response ? "true" : "false");
    fprintf(o, ",\"note\":");
    json_str(o, c->note);
    fprintf(o, "}");
  }
  fprintf(o, "}}\n");
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libtlsfin: the close sequences and the one place where OpenSSL's ways of
 * reporting an end (1.1.1, 3.0, 3.2+, SSL_OP_IGNORE_UNEXPECTED_EOF) become
 * facts in struct tlsfin_end.
 */
#include "tlsfin/tlsfin.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum cstate {
  CS_START = 0,
  CS_SEND_CN,
  CS_SHUT_WR,
  CS_READ,
  CS_WAIT_EOF,
  CS_DRAIN,
  CS_DONE,
  CS_FAILED /* the descriptor was gone: nothing sent, nothing closed */
};

struct tlsfin_conn {
  SSL *ssl;
  int fd;
  bool nonblock;
  size_t budget;
  void (*cb)(void *, const void *, size_t);
  void *arg;
  struct tlsfin_end end;
  char err[256];
  enum cstate cs;
  enum tlsfin_close_mode mode;
  double t0, deadline;
  bool cn_before_rst;
  bool restore_ignore_eof;
  bool owns_ssl;
  int fail_errno; /* CS_FAILED: the errno every later close returns */
  dev_t fd_dev;   /* identity of the wrapped socket, so that a number */
  ino_t fd_ino;   /* closed and reused behind our back is not ours */
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void seterr(struct tlsfin_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void seterr(struct tlsfin_conn *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, sizeof c->err, fmt, ap);
  va_end(ap);
}

/* OpenSSL writes with write(2), which raises SIGPIPE on a connection the
 * peer reset; its default action kills the process.  MSG_NOSIGNAL cannot
 * be passed through OpenSSL's socket BIO, so around the calls that may
 * write, SIGPIPE is blocked in the calling thread and one it raised there
 * is discarded before the old mask comes back (libpq does the same). */
struct sigpipe_guard {
  sigset_t old;
  bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g) {
  sigset_t pipe, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigemptyset(&pending);
  sigpending(&pending);
  g->was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

static void sigpipe_restore(struct sigpipe_guard *g) {
  sigset_t pipe, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigemptyset(&pending);
  /* a SIGPIPE pending before the call is the application's: leave it */
  if (!g->was_pending && sigpending(&pending) == 0 &&
      sigismember(&pending, SIGPIPE) == 1) {
    const struct timespec zero = {0, 0};
    int saved = errno;
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
      ;
    errno = saved;
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* 0 when fd is still the socket that was wrapped, else an errno: EBADF
 * when it was closed behind the conn's back, even when its number has
 * been reused since by another open (then close() would hit a descriptor
 * that belongs to someone else). */
static int fd_state(const struct tlsfin_conn *c) {
  struct stat st;
  if (c->fd < 0)
    return EBADF;
  if (fstat(c->fd, &st) != 0)
    return errno;
  if (st.st_dev != c->fd_dev || st.st_ino != c->fd_ino)
    return EBADF;
  return 0;
}

int tf_conn_fd_state(const struct tlsfin_conn *c) {
  if (c->cs != CS_START)
    return EINVAL; /* a close has started: the conn is not reusable */
  return fd_state(c);
}

/* The descriptor is gone: report it, send nothing more, close nothing
 * (the number is not ours any more), and stay failed. */
static int fail_fd(struct tlsfin_conn *c, int err) {
  seterr(c, "close: descriptor %d: %s%s", c->fd, strerror(err),
         err == EBADF ? " (closed behind the conn's back?)" : "");
  c->fd = -1;
  c->cs = CS_FAILED;
  c->fail_errno = err;
  if (c->t0 > 0)
    c->end.close_ms = now_ms() - c->t0;
  errno = err;
  return -1;
}

struct tlsfin_conn *tlsfin_conn_wrap(SSL *ssl, int fd) {
  if (!ssl || fd < 0) {
    errno = EINVAL;
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0)
    return NULL; /* errno EBADF: there is nothing to wrap */
  struct tlsfin_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->ssl = ssl;
  c->fd = fd;
  c->fd_dev = st.st_dev;
  c->fd_ino = st.st_ino;
  c->end.first_close = c->end.first_close_notify = -1;
  c->end.alert_sent = c->end.alert_received = -1;
  c->end.is_server = SSL_is_server(ssl);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  /* With this option OpenSSL 3 reports a bare EOF exactly like a
   * close_notify (ZERO_RETURN and SSL_RECEIVED_SHUTDOWN): truncation would
   * become invisible.  tlsfin_conn_read returns 0 at either end anyway, so
   * the option is lifted while wrapped, and restored by tlsfin_conn_free. */
  if (SSL_get_options(ssl) & SSL_OP_IGNORE_UNEXPECTED_EOF) {
    SSL_clear_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    c->restore_ignore_eof = true;
  }
#endif
  return c;
}

void tlsfin_conn_free(struct tlsfin_conn *c) {
  if (!c)
    return;
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  if (c->restore_ignore_eof)
    SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  if (c->owns_ssl) {
    SSL_free(c->ssl);
    /* never close a number that is no longer the wrapped socket */
    if (c->cs != CS_DONE && c->cs != CS_FAILED && fd_state(c) == 0)
      close(c->fd);
  }
  free(c);
}

struct tlsfin_conn *tlsfin_conn_connect(SSL_CTX *ctx, const char *host,
                                        const char *port, int timeout_ms,
                                        const char **err) {
  const char *dummy;
  if (!err)
    err = &dummy;
  if (!ctx || !host || !port || timeout_ms <= 0) {
    *err = "invalid argument";
    errno = EINVAL;
    return NULL;
  }
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0) {
    *err = "cannot resolve the host";
    return NULL;
  }
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd < 0) {
    freeaddrinfo(res);
    *err = "cannot create a socket";
    return NULL;
  }
  double deadline = now_ms() + timeout_ms;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  int rc = connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  struct pollfd pf = {fd, POLLOUT, 0};
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if ((rc != 0 && errno != EINPROGRESS) ||
      (rc != 0 && poll(&pf, 1, timeout_ms) != 1) ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
    *err = "cannot connect";
    close(fd);
    return NULL;
  }
  SSL *ssl = SSL_new(ctx);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    *err = "out of memory";
    SSL_free(ssl);
    close(fd);
    return NULL;
  }
  SSL_set_tlsext_host_name(ssl, host);
  for (;;) {
    struct sigpipe_guard g; /* a server that resets mid-handshake */
    sigpipe_block(&g);
    int r = SSL_connect(ssl);
    sigpipe_restore(&g);
    if (r == 1)
      break;
    int e = SSL_get_error(ssl, r);
    double left = deadline - now_ms();
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left > 0) {
      pf.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      if (poll(&pf, 1, (int)left + 1) == 1)
        continue;
    }
    *err = left > 0 ? "TLS handshake failed" : "TLS handshake timed out";
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    return NULL;
  }
  /* back to blocking I/O for the simple use; close is deadline-bound */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  struct tlsfin_conn *c = tlsfin_conn_wrap(ssl, fd);
  if (!c) {
    SSL_free(ssl);
    close(fd);
    *err = "out of memory";
    return NULL;
  }
  c->owns_ssl = true;
  return c;
}
SSL *tlsfin_conn_ssl(const struct tlsfin_conn *c) { return c ? c->ssl : NULL; }
bool tf_conn_owns_ssl(const struct tlsfin_conn *c) { return c->owns_ssl; }
const char *tlsfin_conn_error(const struct tlsfin_conn *c) {
  return c ? c->err : "invalid argument: no conn (NULL)";
}
const struct tlsfin_end *tlsfin_conn_end(const struct tlsfin_conn *c) {
  return c ? &c->end : NULL;
}
int tlsfin_conn_set_nonblocking(struct tlsfin_conn *c, bool on) {
  if (!c) {
    errno = EINVAL;
    return -1;
  }
  c->nonblock = on;
  return 0;
}
int tlsfin_conn_set_drain(struct tlsfin_conn *c, size_t budget,
                          void (*cb)(void *, const void *, size_t), void *arg) {
  if (!c) {
    errno = EINVAL;
    return -1;
  }
  c->budget = budget;
  c->cb = cb;
  c->arg = arg;
  return 0;
}

static int local_side(const struct tlsfin_conn *c) {
  return c->end.is_server ? 1 : 0;
}
static void first_close(struct tlsfin_conn *c, int side) {
  if (c->end.first_close < 0)
    c->end.first_close = side;
}
static void first_cn(struct tlsfin_conn *c, int side) {
  if (c->end.first_close_notify < 0)
    c->end.first_close_notify = side;
}

static void got_rst(struct tlsfin_conn *c, enum tlsfin_phase ph) {
  if (!c->end.rst_received) {
    c->end.rst_received = true;
    c->end.rst_phase = ph;
    c->cn_before_rst = c->end.close_notify_sent || c->end.close_notify_received;
    first_close(c, !local_side(c));
  }
}

static void got_peer_eof(struct tlsfin_conn *c, bool mid_record) {
  if (c->end.peer_eof)
    return;
  c->end.peer_eof = true;
  first_close(c, !local_side(c));
  if (!c->end.close_notify_received) {
    /* RFC 8446 §6.1: an EOF without close_notify is a truncation */
    c->end.truncated = true;
    c->end.eof_mid_record = mid_record;
  }
}

/* The one place that maps OpenSSL's ways of saying "the peer ended" to
 * facts.  Returns 0 when the peer has ended (or failed), a TLSFIN_WANT_*
 * code, or -1 for a local error (message set). */
static int classify(struct tlsfin_conn *c, int ret, enum tlsfin_phase ph) {
  int e = SSL_get_error(c->ssl, ret);
  int saved = errno;
  switch (e) {
  case SSL_ERROR_WANT_READ:
    return TLSFIN_WANT_POLLIN;
  case SSL_ERROR_WANT_WRITE:
    return TLSFIN_WANT_POLLOUT;
  case SSL_ERROR_ZERO_RETURN:
    /* A close_notify (SSL_OP_IGNORE_UNEXPECTED_EOF, which would make a bare
     * EOF look the same, is lifted in tlsfin_conn_wrap). */
    if (SSL_get_shutdown(c->ssl) & SSL_RECEIVED_SHUTDOWN) {
      if (!c->end.close_notify_received) {
        c->end.close_notify_received = true;
        first_cn(c, !local_side(c));
      }
    } else {
      got_peer_eof(c, false);
    }
    return 0;
  case SSL_ERROR_SYSCALL:
    ERR_clear_error();
    if (saved == ECONNRESET || saved == EPIPE) {
      got_rst(c, ph);
      return 0;
    }
    if (ret == 0 || saved == 0) { /* OpenSSL 1.1.1: EOF, errno 0 */
      got_peer_eof(c, SSL_has_pending(c->ssl));
      return 0;
    }
    seterr(c, "%s: %s", ph == TLSFIN_PHASE_DATA ? "read" : "close",
           strerror(saved));
    errno = saved;
    return -1;
  case SSL_ERROR_SSL: {
    unsigned long err = ERR_peek_last_error();
    int reason = ERR_GET_REASON(err);
    ERR_clear_error();
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) { /* OpenSSL 3 */
      got_peer_eof(c, SSL_has_pending(c->ssl));
      return 0;
    }
#endif
    if (reason == SSL_R_APPLICATION_DATA_AFTER_CLOSE_NOTIFY) {
      c->end.data_after_close_notify = true;
      return 0;
    }
    /* SSL_R_SSLV3_ALERT_* / SSL_R_TLSV1_ALERT_*: reason = 1000 + alert */
    if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
      c->end.alert_received = reason - SSL_AD_REASON_OFFSET;
      first_close(c, !local_side(c));
      return 0;
    }
    seterr(c, "TLS: %s", err ? ERR_reason_error_string(err) : "error");
    return -1;
  }
  default:
    seterr(c, "unexpected SSL_get_error %d", e);
    return -1;
  }
}

int tlsfin_conn_read(struct tlsfin_conn *c, void *buf, size_t n) {
  if (!c) {
    errno = EINVAL;
    return -1;
  }
  if (!buf || n == 0) {
    /* 0 would read as "the peer has ended" */
    seterr(c, "read: invalid argument: %s", buf ? "n is 0" : "buf is NULL");
    errno = EINVAL;
    return -1;
  }
  if (c->cs != CS_START) {
    /* the close owns the connection (and may have closed fd, whose
     * number can already belong to another open) */
    bool ended = c->cs == CS_DONE || c->cs == CS_FAILED;
    seterr(c, "read: the connection is %s", ended ? "closed" : "closing");
    errno = ended ? EBADF : EINVAL;
    return -1;
  }
  struct sigpipe_guard g; /* SSL_read may write (e.g. a KeyUpdate) */
  sigpipe_block(&g);
  int r = SSL_read(c->ssl, buf, (int)(n > 1 << 30 ? 1 << 30 : n));
  int k = r > 0 ? r : classify(c, r, TLSFIN_PHASE_DATA);
  int saved = errno;
  sigpipe_restore(&g);
  errno = saved;
  return k;
}

/* Reads and throws away (or hands over) what the peer still sends. */
static void deliver(struct tlsfin_conn *c, const char *buf, int n) {
  if (c->end.close_notify_sent)
    c->end.data_after_close_notify = true;
  if (c->cb) {
    c->cb(c->arg, buf, (size_t)n);
    c->end.bytes_delivered += (uint64_t)n;
  } else {
    c->end.bytes_discarded += (uint64_t)n;
  }
}

/* Bytes the close has read so far: what the budget counts. */
static uint64_t drained(const struct tlsfin_conn *c) {
  return c->end.bytes_discarded + c->end.bytes_delivered;
}

/* How many more bytes the budget allows (SIZE_MAX: no budget). */
static size_t budget_left(const struct tlsfin_conn *c) {
  if (!c->budget)
    return SIZE_MAX;
  uint64_t used = drained(c);
  return used >= c->budget ? 0 : (size_t)(c->budget - used);
}

/* Waits (blocking mode) or tells the caller to wait (non-blocking).
 * Returns 1 to retry, 0 when the deadline passed, or a TLSFIN_WANT_*. */
static int wait_or_want(struct tlsfin_conn *c, int want) {
  double left = c->deadline - now_ms();
  if (left <= 0)
    return 0;
  if (c->nonblock)
    return want;
  struct pollfd pf = {c->fd, want == TLSFIN_WANT_POLLOUT ? POLLOUT : POLLIN, 0};
  int r = poll(&pf, 1, (int)left + 1);
  return r == 0 ? 0 : 1;
}

/* After a WANT: 1 to retry now, or the WANT code for the caller.  When
 * the deadline has passed, the close moves on to draining (and retries). */
static int on_want(struct tlsfin_conn *c, int want) {
  int w = wait_or_want(c, want);
  if (w == 0) {
    c->end.deadline_hit = true;
    c->cs = CS_DRAIN;
    return 1;
  }
  return w;
}

/* After every read that returned data.  A peer that keeps sending never
 * makes a read block, so the deadline cannot be left to on_want alone: it
 * is checked here too, after the drain callback ran.  Returns 1 to go on,
 * or (non-blocking) the WANT code that ends this call's slice. */
static int after_data(struct tlsfin_conn *c, size_t *slice, size_t n) {
  if (now_ms() >= c->deadline) {
    c->end.deadline_hit = true;
    c->cs = CS_DRAIN;
    return 1;
  }
  *slice += n;
  if (c->nonblock && *slice >= TLSFIN_CLOSE_SLICE_BYTES) {
    /* Hand control back to the caller's event loop.  POLLIN is true
     * only if the socket holds the rest; records OpenSSL already buffered
     * (read-ahead) would not wake a poll, so then ask for POLLOUT, which
     * our shut write side reports at once. */
    if (c->cs == CS_READ && SSL_has_pending(c->ssl))
      return TLSFIN_WANT_POLLOUT;
    return TLSFIN_WANT_POLLIN;
  }
  return 1;
}

/* Reads whatever is readable now, up to max bytes, so close() sends FIN,
 * not RST (RFC 9293 §3.10.4: unread data makes close an abort on Linux). */
static void drain_now(struct tlsfin_conn *c, size_t max) {
  char buf[16384];
  for (int i = 0; i < 64 && max > 0; i++) {
    ssize_t n =
        recv(c->fd, buf, max < sizeof buf ? max : sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      c->end.bytes_discarded += (uint64_t)n;
      max -= (size_t)n;
      continue;
    }
    if (n == 0)
      got_peer_eof(c, false);
    else if (errno == ECONNRESET)
      got_rst(c, TLSFIN_PHASE_CLOSING);
    break;
  }
}

static int finish(struct tlsfin_conn *c) {
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  c->cs = CS_DONE;
  c->end.close_ms = now_ms() - c->t0;
  return 0;
}

static int close_run(struct tlsfin_conn *c);

int tlsfin_conn_close(struct tlsfin_conn *c, enum tlsfin_close_mode mode,
                      int deadline_ms) {
  if (!c) {
    errno = EINVAL;
    return -1;
  }
  if (c->cs == CS_DONE)
    return 0;
  if (c->cs == CS_FAILED) {
    errno = c->fail_errno;
    return -1;
  }
  if (mode != TLSFIN_CLOSE_GRACEFUL && mode != TLSFIN_CLOSE_FAST &&
      mode != TLSFIN_CLOSE_ABORT) {
    seterr(c, "close: invalid mode %d", (int)mode);
    errno = EINVAL;
    return -1;
  }
  if (c->cs != CS_START && mode != c->mode) {
    seterr(c, "close resumed with another mode");
    errno = EINVAL;
    return -1;
  }
  /* Checked on every call: a non-blocking close may be resumed after the
   * application closed fd, and nothing may be sent to (or closed on) a
   * number that is not the wrapped socket any more. */
  int gone = fd_state(c);
  if (gone) {
    if (c->cs == CS_START)
      c->t0 = now_ms();
    return fail_fd(c, gone);
  }
  if (c->cs == CS_START) {
    c->mode = mode;
    c->t0 = now_ms();
    c->deadline = c->t0 + (deadline_ms > 0 ? deadline_ms : 0);
  }
  struct sigpipe_guard g; /* close_notify to a peer that reset */
  sigpipe_block(&g);
  int r = close_run(c);
  int saved = errno;
  sigpipe_restore(&g);
  errno = saved;
  return r;
}

static int close_run(struct tlsfin_conn *c) {
  char buf[16384];
  size_t slice = 0; /* bytes read by this call (non-blocking slice) */
  if (c->cs == CS_START) {
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    if (c->mode == TLSFIN_CLOSE_ABORT) {
      struct linger lg = {1, 0};
      setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      c->end.local_abort = true;
      first_close(c, local_side(c));
      return finish(c);
    }
    c->cs = CS_SEND_CN;
  }
  for (;;) {
    switch (c->cs) {
    case CS_SEND_CN: {
      if (c->end.rst_received) {
        c->cs = CS_DRAIN;
        break;
      }
      int r = SSL_shutdown(c->ssl); /* RFC 8446 §6.1 close_notify */
      if (r >= 0) {
        c->end.close_notify_sent = true;
        first_cn(c, local_side(c));
        if (r == 1 && !c->end.close_notify_received) {
          c->end.close_notify_received = true;
          first_cn(c, !local_side(c));
        }
        c->cs = CS_SHUT_WR;
        break;
      }
      int k = classify(c, r, TLSFIN_PHASE_CLOSING);
      if (k == TLSFIN_WANT_POLLIN || k == TLSFIN_WANT_POLLOUT) {
        int w = on_want(c, k);
        if (w != 1)
          return w;
        break;
      }
      int gone = k < 0 ? fd_state(c) : 0; /* closed behind our back? */
      if (gone)
        return fail_fd(c, gone);
      c->cs = CS_DRAIN; /* RST or error: nothing more to say */
      break;
    }
    case CS_SHUT_WR:
      shutdown(c->fd, SHUT_WR); /* our FIN follows our close_notify */
      if (!c->end.peer_eof && !c->end.rst_received)
        first_close(c, local_side(c));
      c->cs = c->mode == TLSFIN_CLOSE_FAST ? CS_DRAIN : CS_READ;
      break;
    case CS_READ: {
      /* RFC 8446 §6.1 / RFC 5246 §7.2.1: after our close_notify the peer
       * may still send (TLS 1.3 half-close) until its own close_notify. */
      if (c->end.close_notify_received || c->end.peer_eof ||
          c->end.rst_received) {
        c->cs = CS_WAIT_EOF;
        break;
      }
      size_t left = budget_left(c);
      int r;
      if (left == 0) {
        /* The budget is spent: look without taking more.  A close_notify
         * or EOF still ends the close cleanly; more data means the peer
         * has more to say than the budget allows. */
        r = SSL_peek(c->ssl, buf, 1);
        if (r > 0) {
          c->end.budget_hit = true;
          c->cs = CS_DRAIN;
          break;
        }
      } else {
        r = SSL_read(c->ssl, buf, (int)(left < sizeof buf ? left : sizeof buf));
        if (r > 0) {
          deliver(c, buf, r);
          int w = after_data(c, &slice, (size_t)r);
          if (w != 1)
            return w;
          break;
        }
      }
      int k = classify(c, r, TLSFIN_PHASE_CLOSING);
      if (k == TLSFIN_WANT_POLLIN || k == TLSFIN_WANT_POLLOUT) {
        int w = on_want(c, k);
        if (w != 1)
          return w;
        break;
      }
      int gone = k < 0 ? fd_state(c) : 0; /* closed behind our back? */
      if (gone)
        return fail_fd(c, gone);
      c->cs = k < 0 ? CS_DRAIN : CS_WAIT_EOF;
      break;
    }
    case CS_WAIT_EOF: {
      /* after the peer's close_notify, wait for its FIN so that our
       * close() finds nothing unread */
      if (c->end.peer_eof || c->end.rst_received) {
        c->cs = CS_DRAIN;
        break;
      }
      size_t left = budget_left(c);
      ssize_t n;
      if (left == 0) {
        n = recv(c->fd, buf, 1, MSG_DONTWAIT | MSG_PEEK);
        if (n > 0) {
          c->end.budget_hit = true;
          c->cs = CS_DRAIN;
          break;
        }
      } else {
        n = recv(c->fd, buf, left < sizeof buf ? left : sizeof buf,
                 MSG_DONTWAIT);
        if (n > 0) {
          c->end.bytes_discarded += (uint64_t)n;
          int w = after_data(c, &slice, (size_t)n);
          if (w != 1)
            return w;
          break;
        }
      }
      if (n == 0) {
        got_peer_eof(c, false);
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        int w = on_want(c, TLSFIN_WANT_POLLIN);
        if (w != 1)
          return w;
        break;
      }
      if (errno == EBADF || errno == ENOTSOCK)
        return fail_fd(c, errno);
      got_rst(c, TLSFIN_PHASE_CLOSING);
      c->cs = CS_DRAIN;
      break;
    }
    case CS_DRAIN: {
      /* Bounded: at most 1 MiB, and never past the budget. */
      size_t left = budget_left(c);
      drain_now(c, left < (1u << 20) ? left : (1u << 20));
      return finish(c);
    }
    default:
      return finish(c);
    }
  }
}

tlsfin_verdict tlsfin_end_verdict(const struct tlsfin_end *e) {
  if (!e)
    return TLSFIN_VERDICT_COUNT; /* not a verdict: there is no end */
  int local = e->is_server ? 1 : 0;
  /* TAXONOMY: close_notify first, then an RST, is tls_close_then_reset;
   * an RST that came first is a plain reset */
  if (e->local_abort || e->rst_received)
    return e->first_close_notify >= 0 && !e->local_abort
               ? TLSFIN_VERDICT_TLS_CLOSE_THEN_RESET
               : TLSFIN_VERDICT_RESET;
  if (e->alert_received >= 0)
    return TLSFIN_VERDICT_RESET;
  /* the side that started the end: its close_notify or FIN came first */
  int closing =
      e->first_close_notify >= 0 ? e->first_close_notify : e->first_close;
  if (closing < 0)
    return TLSFIN_VERDICT_OPEN;
  if (closing != local && e->truncated)
    return TLSFIN_VERDICT_TLS_TRUNCATED;
  if (!e->peer_eof)
    return TLSFIN_VERDICT_HALF_CLOSED;
  if (e->close_notify_sent && e->close_notify_received)
    return TLSFIN_VERDICT_TLS_CLEAN;
  if (e->close_notify_sent || e->close_notify_received)
    return TLSFIN_VERDICT_TLS_ONE_SIDED;
  return TLSFIN_VERDICT_TLS_TRUNCATED;
}

const char *tlsfin_strend(const struct tlsfin_end *e, char *buf, size_t n) {
  if (!buf || n == 0)
    return ""; /* nowhere to write: still a string callers can print */
  if (!e) {
    snprintf(buf, n, "no end record");
    return buf;
  }
  const char *peer = e->is_server ? "client" : "server";
  tlsfin_verdict v = tlsfin_end_verdict(e);
  int len = 0;
  switch (v) {
  case TLSFIN_VERDICT_TLS_CLEAN:
    len = snprintf(buf, n, "clean TLS close: close_notify both ways");
    break;
  case TLSFIN_VERDICT_TLS_ONE_SIDED:
    len = snprintf(buf, n, "%s close_notify, but the %s closed %s",
                   e->close_notify_sent ? "we sent" : "the peer sent", peer,
                   e->close_notify_received ? "after it" : "with a bare FIN");
    break;
  case TLSFIN_VERDICT_TLS_TRUNCATED:
    len = snprintf(buf, n, "the %s closed without close_notify%s: a truncation",
                   peer, e->eof_mid_record ? " in the middle of a record" : "");
    break;
  case TLSFIN_VERDICT_TLS_CLOSE_THEN_RESET:
  case TLSFIN_VERDICT_RESET:
    if (e->local_abort)
      len = snprintf(buf, n, "we reset the connection (abort)");
    else
      len = snprintf(buf, n, "the %s reset the connection%s", peer,
                     e->rst_phase == TLSFIN_PHASE_CLOSING ? " while we closed"
                                                          : "");
    break;
  case TLSFIN_VERDICT_HALF_CLOSED:
    len = snprintf(buf, n, "we closed; the %s had not closed %s", peer,
                   e->budget_hit     ? "within the drain budget"
                   : e->deadline_hit ? "by the deadline"
                                     : "yet");
    break;
  default:
    len = snprintf(buf, n, "%s", tlsfin_verdict_help(v));
  }
  if (len >= 0 && (size_t)len < n && e->alert_received >= 0) {
    const char *a = tlsfin_alert_name(e->alert_received);
    len += snprintf(buf + len, n - (size_t)len, "; fatal alert %s received",
                    a ? a : "(unknown)");
  }
  if (len >= 0 && (size_t)len < n)
    snprintf(buf + len, n - (size_t)len, " (%.1f ms, %llu bytes discarded%s)",
             e->close_ms, (unsigned long long)e->bytes_discarded,
             e->data_after_close_notify ? ", data after close_notify" : "");
  return buf;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libtlsfin: close TLS connections right, and say exactly how each ended.
 *
 * libtls-style: a small opaque object, 0 / -1 returns, the message of the
 * last failure with tlsfin_conn_error(); non-blocking calls return
 * TLSFIN_WANT_POLLIN / TLSFIN_WANT_POLLOUT and are called again when the
 * descriptor is ready.  How a connection ended is data (struct tlsfin_end),
 * with the names of shared/design/TAXONOMY.md where they overlap, so that
 * the library's report and `tlsfin analyze`'s verdict of the same
 * connection compare one to one.
 *
 * Bad arguments never crash: every function below says what it does with
 * NULL.  Where there is no object to hold a message, -1 or NULL comes with
 * errno set (EINVAL for NULL).  A descriptor that is gone (closed behind
 * the conn's back: EBADF) is an error, -1 with errno EBADF and a message;
 * a connection the peer reset is not an error but how it ended: the end
 * record says rst_received.  Calls that may write to the socket block
 * SIGPIPE in the calling thread while they run and discard one they
 * caused, so a peer's reset cannot kill a process that kept SIGPIPE's
 * default action.
 */
#ifndef TLSFIN_TLSFIN_H
#define TLSFIN_TLSFIN_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsfin/taxonomy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version (the project's; CMake checks they agree). */
#define TLSFIN_VERSION_MAJOR 0
#define TLSFIN_VERSION_MINOR 1
#define TLSFIN_VERSION_PATCH 0
#define TLSFIN_VERSION_STRING "0.1.0"

#define TLSFIN_WANT_POLLIN (-2)
#define TLSFIN_WANT_POLLOUT (-3)
/* The slice of a non-blocking tlsfin_conn_close: once a call has read this
 * many bytes (the read that crosses it is at most one 16 KiB record), it
 * returns TLSFIN_WANT_POLLIN, so that the caller's event loop runs even
 * while the peer keeps sending, or TLSFIN_WANT_POLLOUT when OpenSSL already
 * buffered more records (read-ahead: the socket would not poll readable;
 * our write side is shut by then, so it polls writable at once).  The call
 * that ends the close may also read up to 1 MiB already queued, without
 * waiting and never past the budget, so that close() does not reset. */
#define TLSFIN_CLOSE_SLICE_BYTES (64 * 1024)

enum tlsfin_close_mode {
  /* close_notify, flush, shutdown(SHUT_WR), read on (discarding or handing
   * data to the drain callback, up to a byte budget) until the peer's
   * close_notify or EOF or the deadline, drain what is unread, close: no
   * RST when the peer behaves (RFC 8446 §6.1, RFC 5246 §7.2.1). */
  TLSFIN_CLOSE_GRACEFUL = 0,
  /* The deadline and the byte budget are checked after every read, not
   * only when a read would block: a peer that never stops sending (before
   * or after its close_notify) cannot hold the close past either. */
  /* close_notify and FIN, do not wait (allowed by RFC 8446 §6.1). */
  TLSFIN_CLOSE_FAST,
  /* SO_LINGER {1,0} and close: an RST, on purpose. */
  TLSFIN_CLOSE_ABORT,
};

/* Where the connection was when something happened. */
enum tlsfin_phase {
  TLSFIN_PHASE_NONE = 0,
  TLSFIN_PHASE_DATA,    /* during normal reads (tlsfin_conn_read) */
  TLSFIN_PHASE_CLOSING, /* inside tlsfin_conn_close */
};

/* How the connection ended. Sides use TAXONOMY's client/server. */
struct tlsfin_end {
  int first_close;            /* tcp.first_close: 0 client, 1 server, -1 */
  int first_close_notify;     /* tls.first_close_notify: 0, 1, -1 */
  bool close_notify_sent;     /* we sent close_notify */
  bool close_notify_received; /* the peer's close_notify was read */
  bool peer_eof;              /* the peer's FIN was read */
  bool truncated;             /* the peer's EOF came without close_notify */
  bool eof_mid_record;        /* ... and inside a record (data cut) */
  bool rst_received;
  enum tlsfin_phase rst_phase;
  bool data_after_close_notify; /* the peer sent data after our close_notify */
  int alert_sent;               /* fatal alert description we sent, or -1 */
  int alert_received;           /* fatal alert description received, or -1 */
  bool deadline_hit;            /* GRACEFUL gave up waiting (deadline) */
  bool local_abort;             /* ABORT: we reset the connection */
  uint64_t bytes_discarded;     /* read while draining, not delivered (TLS
                                 * plaintext; raw bytes after the peer's
                                 * close_notify) */
  uint64_t bytes_delivered;     /* handed to the drain callback */
  double close_ms;              /* from the start of close to its end */
  bool is_server;               /* our role */
  bool budget_hit; /* GRACEFUL stopped reading: the peer had more to send
                    * than the drain budget (tlsfin_conn_set_drain) allows;
                    * bytes_discarded + bytes_delivered <= the budget */
};

struct tlsfin_conn;

/* Wraps an established connection (handshake done by the caller).  The
 * conn does not take ownership of ssl; it closes fd when closing.  NULL
 * with errno EINVAL when ssl is NULL or fd < 0, EBADF when fd is not an
 * open descriptor, ENOMEM when out of memory. */
struct tlsfin_conn *tlsfin_conn_wrap(SSL *ssl, int fd);
/* For simple uses: connects to host:port, completes a TLS handshake with
 * ctx (SNI = host) within timeout_ms, and owns the SSL object (freed by
 * tlsfin_conn_free).  NULL on failure; *err (if err is not NULL) says why:
 * "invalid argument" when ctx, host or port is NULL or timeout_ms <= 0. */
struct tlsfin_conn *tlsfin_conn_connect(SSL_CTX *ctx, const char *host,
                                        const char *port, int timeout_ms,
                                        const char **err);
/* Frees c (NULL: does nothing).  A conn from tlsfin_conn_connect also
 * frees its SSL object and, if no close ran, closes its descriptor unless
 * that was closed behind its back. */
void tlsfin_conn_free(struct tlsfin_conn *c);
/* The message of the last failure ("" if none); with NULL, a fixed string
 * that says so.  Never NULL. */
const char *tlsfin_conn_error(const struct tlsfin_conn *c);

/* Non-blocking mode: close returns TLSFIN_WANT_POLLIN/POLLOUT instead of
 * waiting; call it again (same mode) when fd is ready.  The deadline is
 * checked only when the conn is called, so poll with a timeout.  0, or -1
 * with errno EINVAL when c is NULL. */
int tlsfin_conn_set_nonblocking(struct tlsfin_conn *c, bool on);
/* Data that arrives while a graceful close drains (TLS 1.3 half-close: the
 * peer may still send) is handed to cb instead of discarded (cb NULL:
 * discarded); at most budget bytes are read (0: no limit).  When the peer
 * has more to send than that, the close stops reading (end.budget_hit),
 * reads nothing more and closes; whatever the peer sends on is left
 * unread, so the kernel may answer it with an RST (RFC 9293 §3.10.4).  A
 * peer whose close_notify or FIN comes within the budget ends cleanly.
 * 0, or -1 with errno EINVAL when c is NULL. */
int tlsfin_conn_set_drain(struct tlsfin_conn *c, size_t budget,
                          void (*cb)(void *arg, const void *data, size_t n),
                          void *arg);

/* SSL_read that records how the peer ended (close_notify, EOF, RST,
 * alert) in the end record instead of leaving the caller to decode
 * OpenSSL's error queue.  > 0 bytes, 0 the peer has ended (see
 * tlsfin_conn_end; a reset is an end too: rst_received), TLSFIN_WANT_*,
 * or -1: errno EINVAL when c or buf is NULL or n is 0 (so that 0 keeps
 * meaning the end), EINVAL while a close is in progress, EBADF once the
 * conn is closed, and the socket's errno (e.g. EBADF for a descriptor
 * closed behind the conn's back) with a message in tlsfin_conn_error. */
int tlsfin_conn_read(struct tlsfin_conn *c, void *buf, size_t n);

/* Closes: 0 when done (fd is closed; again 0 if called after that),
 * TLSFIN_WANT_* in non-blocking mode, -1 on a local error with errno and
 * tlsfin_conn_error: EINVAL when c is NULL, mode is not a close mode, or a
 * non-blocking close is resumed with another mode; EBADF when fd is no
 * longer the socket that was wrapped (closed behind the conn's back, even
 * if its number was reused since): then nothing more is sent, fd is not
 * closed (it is not the conn's any more), and every later call returns -1
 * with EBADF again.  A peer that reset the connection is not an error:
 * 0, with end.rst_received.  deadline_ms bounds GRACEFUL's wait (from the
 * first call; <= 0: do not wait). */
int tlsfin_conn_close(struct tlsfin_conn *c, enum tlsfin_close_mode mode,
                      int deadline_ms);

/* The end record, valid until tlsfin_conn_free; NULL when c is NULL. */
const struct tlsfin_end *tlsfin_conn_end(const struct tlsfin_conn *c);

/* The SSL object the conn wraps; NULL when c is NULL. */
SSL *tlsfin_conn_ssl(const struct tlsfin_conn *c);

/*
 * A keep-alive pool for clients (the bug class of JDK-6618387: idle
 * connections dropped without close_notify).  Idle connections are closed
 * GRACEFULLY on expiry and on tlsfin_pool_free; tlsfin_pool_get checks a
 * connection before reuse and detects a pending close_notify, FIN or RST
 * from the server without consuming application data.  The pool owns what
 * it holds: the conn, its SSL object (SSL_free) and its descriptor.
 */
struct tlsfin_pool;
/* NULL when out of memory. */
struct tlsfin_pool *tlsfin_pool_new(int idle_ms, int close_deadline_ms);
/* Closes every idle connection with close_notify, then frees the pool
 * (NULL: does nothing). */
void tlsfin_pool_free(struct tlsfin_pool *p);
/* Hands an idle connection to the pool under key (e.g. "host:port").  0,
 * or -1 with errno: EINVAL when p, key or c is NULL or a close of c has
 * started, EBADF when c's descriptor was closed behind its back, ENOMEM.
 * On -1 the caller still owns c. */
int tlsfin_pool_put(struct tlsfin_pool *p, const char *key,
                    struct tlsfin_conn *c);
/* A live idle connection for key (the caller owns it again), or NULL
 * (errno EINVAL when p or key is NULL).  Dead ones met on the way (ended
 * by the server, or whose descriptor was closed behind the pool's back)
 * are closed; their end is passed to the pool's observer when one is
 * set. */
struct tlsfin_conn *tlsfin_pool_get(struct tlsfin_pool *p, const char *key);
/* Closes connections idle longer than idle_ms, or dead; returns how many,
 * or -1 with errno EINVAL when p is NULL. */
int tlsfin_pool_expire(struct tlsfin_pool *p);
/* Called with the end record of each connection the pool closes.  p NULL:
 * does nothing; fn NULL: no observer. */
void tlsfin_pool_set_observer(struct tlsfin_pool *p,
                              void (*fn)(void *arg, const char *key,
                                         const struct tlsfin_end *e),
                              void *arg);
/* Idle connections held; 0 when p is NULL. */
size_t tlsfin_pool_size(const struct tlsfin_pool *p);

/* The verdict `tlsfin analyze` would give a capture of this connection,
 * judged from what the library saw.  TLSFIN_VERDICT_COUNT (not a verdict;
 * tlsfin_verdict_name gives NULL for it) when e is NULL. */
tlsfin_verdict tlsfin_end_verdict(const struct tlsfin_end *e);
/* A plain-English sentence for logs, written to buf and returned.  e NULL:
 * "no end record".  buf NULL or n 0: returns "" (never NULL). */
const char *tlsfin_strend(const struct tlsfin_end *e, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif

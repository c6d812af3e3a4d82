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

#define TLSFIN_WANT_POLLIN (-2)
#define TLSFIN_WANT_POLLOUT (-3)

enum tlsfin_close_mode {
  /* close_notify, flush, shutdown(SHUT_WR), read on (discarding or handing
   * data to the drain callback, up to a byte budget) until the peer's
   * close_notify or EOF or the deadline, drain what is unread, close: no
   * RST when the peer behaves (RFC 8446 §6.1, RFC 5246 §7.2.1). */
  TLSFIN_CLOSE_GRACEFUL = 0,
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
  bool deadline_hit;            /* GRACEFUL gave up waiting */
  bool local_abort;             /* ABORT: we reset the connection */
  uint64_t bytes_discarded;     /* read while draining, not delivered */
  uint64_t bytes_delivered;     /* handed to the drain callback */
  double close_ms;              /* from the start of close to its end */
  bool is_server;               /* our role */
};

struct tlsfin_conn;

/* Wraps an established connection (handshake done by the caller).  The
 * conn does not take ownership of ssl; it closes fd when closing. */
struct tlsfin_conn *tlsfin_conn_wrap(SSL *ssl, int fd);
/* For simple uses: connects to host:port, completes a TLS handshake with
 * ctx (SNI = host) within timeout_ms, and owns the SSL object (freed by
 * tlsfin_conn_free).  NULL on failure; *err (if not NULL) says why. */
struct tlsfin_conn *tlsfin_conn_connect(SSL_CTX *ctx, const char *host,
                                        const char *port, int timeout_ms,
                                        const char **err);
void tlsfin_conn_free(struct tlsfin_conn *c);
const char *tlsfin_conn_error(const struct tlsfin_conn *c);

/* Non-blocking mode: close returns TLSFIN_WANT_POLLIN/POLLOUT instead of
 * waiting; call it again (same mode) when fd is ready. */
int tlsfin_conn_set_nonblocking(struct tlsfin_conn *c, bool on);
/* Data that arrives while a graceful close drains (TLS 1.3 half-close: the
 * peer may still send) is handed to cb instead of discarded; at most budget
 * bytes are read (0: no limit) before the close stops waiting. */
int tlsfin_conn_set_drain(struct tlsfin_conn *c, size_t budget,
                          void (*cb)(void *arg, const void *data, size_t n),
                          void *arg);

/* SSL_read that records how the peer ended (close_notify, EOF, RST,
 * alert) in the end record instead of leaving the caller to decode
 * OpenSSL's error queue.  > 0 bytes, 0 the peer has ended (see
 * tlsfin_conn_end), TLSFIN_WANT_*, or -1. */
int tlsfin_conn_read(struct tlsfin_conn *c, void *buf, size_t n);

/* Closes: 0 when done (fd is closed), TLSFIN_WANT_* in non-blocking mode,
 * -1 on a local error.  deadline_ms bounds GRACEFUL's wait (from the first
 * call). */
int tlsfin_conn_close(struct tlsfin_conn *c, enum tlsfin_close_mode mode,
                      int deadline_ms);

const struct tlsfin_end *tlsfin_conn_end(const struct tlsfin_conn *c);

/* The SSL object the conn wraps. */
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
struct tlsfin_pool *tlsfin_pool_new(int idle_ms, int close_deadline_ms);
/* Closes every idle connection with close_notify, then frees the pool. */
void tlsfin_pool_free(struct tlsfin_pool *p);
/* Hands an idle connection to the pool under key (e.g. "host:port"). */
int tlsfin_pool_put(struct tlsfin_pool *p, const char *key,
                    struct tlsfin_conn *c);
/* A live idle connection for key (the caller owns it again), or NULL.
 * Dead ones met on the way are closed; their end is passed to the pool's
 * observer when one is set. */
struct tlsfin_conn *tlsfin_pool_get(struct tlsfin_pool *p, const char *key);
/* Closes connections idle longer than idle_ms; returns how many. */
int tlsfin_pool_expire(struct tlsfin_pool *p);
/* Called with the end record of each connection the pool closes. */
void tlsfin_pool_set_observer(struct tlsfin_pool *p,
                              void (*fn)(void *arg, const char *key,
                                         const struct tlsfin_end *e),
                              void *arg);
size_t tlsfin_pool_size(const struct tlsfin_pool *p);

/* The verdict `tlsfin analyze` would give a capture of this connection,
 * judged from what the library saw. */
tlsfin_verdict tlsfin_end_verdict(const struct tlsfin_end *e);
/* A plain-English sentence for logs. */
const char *tlsfin_strend(const struct tlsfin_end *e, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif

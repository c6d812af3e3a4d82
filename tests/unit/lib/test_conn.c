/* SPDX-License-Identifier: BSD-2-Clause */
/* libtlsfin close sequences against a real OpenSSL server in a child
 * process on loopback, one behaviour per test: it answers close_notify, it
 * closes with a bare FIN, it stays silent (deadline), it truncates first,
 * it keeps sending after our close_notify (TLS 1.3 half-close), it floods
 * without end (deadline, budget, non-blocking slices), it resets, and our
 * abort; then every public function with NULL and with a descriptor that
 * is gone.  The child reports what it saw through a pipe, so a test can
 * also assert the peer's side (e.g. GRACEFUL caused no RST). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlsfin/tlsfin.h"

static EVP_PKEY *pkey;
static X509 *cert;

static void make_cert(void) {
  pkey = EVP_EC_gen("P-256");
  cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, pkey);
  X509_NAME *n = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"t",
                             -1, -1, 0);
  X509_set_issuer_name(cert, n);
  X509_sign(cert, pkey, EVP_sha256());
}

enum behave {
  ANSWER_CN,
  ANSWER_CN_SLOW,
  BARE_FIN,
  SILENT,
  TRUNCATE_FIRST,
  DATA_AFTER_CN,
  EXPECT_RST,
  IDLE_CLOSE,
  EXPECT_CN,
  ECHO_THEN_CN,
  FLOOD,          /* application data, forever (TLS 1.3 half-close) */
  FLOOD_AFTER_CN, /* close_notify, then bytes forever */
  RESET           /* SO_LINGER {1,0} and close: an RST */
};

struct peer {
  pid_t pid;
  int port;
  int report; /* read end of the child's report pipe */
};

/* The child: accept one connection, behave, write one line on the pipe. */
static void child(int lfd, int wr, enum behave b, long version) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, pkey);
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  int fd = accept(lfd, NULL, NULL);
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  char buf[4096], msg[128] = "?";
  if (SSL_accept(s) != 1)
    _exit(3);
  SSL_write(s, "hello", 5);
  int r;
  switch (b) {
  case ANSWER_CN_SLOW:
    usleep(150000); /* the non-blocking close must wait for this */
    /* fall through */
  case ANSWER_CN:
    r = SSL_read(s, buf, sizeof buf); /* our close_notify: 0 */
    SSL_shutdown(s);
    shutdown(fd, SHUT_WR);
    r = (int)recv(fd, buf, sizeof buf, 0); /* the client's FIN: 0 */
    snprintf(msg, sizeof msg, "fin %d errno %d", r, r < 0 ? errno : 0);
    break;
  case BARE_FIN:
    r = SSL_read(s, buf, sizeof buf);
    shutdown(fd, SHUT_WR);
    r = (int)recv(fd, buf, sizeof buf, 0);
    snprintf(msg, sizeof msg, "fin %d errno %d", r, r < 0 ? errno : 0);
    break;
  case SILENT:
    sleep(3);
    snprintf(msg, sizeof msg, "silent");
    break;
  case TRUNCATE_FIRST:
    usleep(50000);
    shutdown(fd, SHUT_WR); /* FIN without close_notify */
    r = (int)recv(fd, buf, sizeof buf, 0);
    snprintf(msg, sizeof msg, "read %d", r);
    break;
  case DATA_AFTER_CN:
    r = SSL_read(s, buf, sizeof buf); /* the client's close_notify */
    SSL_write(s, "late data", 9);     /* TLS 1.3 half-close: still allowed */
    SSL_shutdown(s);
    shutdown(fd, SHUT_WR);
    r = (int)recv(fd, buf, sizeof buf, 0);
    snprintf(msg, sizeof msg, "fin %d errno %d", r, r < 0 ? errno : 0);
    break;
  case FLOOD:
  case FLOOD_AFTER_CN: {
    /* Never stops by itself: only our close (an RST, since the flood
     * leaves data unread) or the alarm ends it. */
    alarm(30);
    static char big[16384];
    memset(big, 'x', sizeof big);
    if (b == FLOOD_AFTER_CN) {
      SSL_shutdown(s);
      /* record-shaped bytes (application_data, 16379 bytes) after the
       * close_notify: what a broken peer would send */
      memcpy(big, "\x17\x03\x03\x3f\xfb", 5);
      while (write(fd, big, sizeof big) > 0)
        ;
    } else {
      while (SSL_write(s, big, sizeof big) > 0)
        ;
    }
    snprintf(msg, sizeof msg, "flood ended");
    break;
  }
  case RESET: {
    usleep(200000); /* the client has read "hello": an RST now would
                     * also discard it */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    snprintf(msg, sizeof msg, "reset");
    break;
  }
  case EXPECT_RST:
    r = (int)recv(fd, buf, sizeof buf, 0);
    snprintf(msg, sizeof msg, "read %d errno %d", r, r < 0 ? errno : 0);
    break;
  case IDLE_CLOSE: /* like nginx's keepalive_timeout: close_notify + FIN */
    usleep(100000);
    SSL_shutdown(s);
    shutdown(fd, SHUT_WR);
    /* then: what does the client answer? */
    __attribute__((fallthrough));
  case EXPECT_CN:
  case ECHO_THEN_CN:
    for (;;) {
      r = SSL_read(s, buf, sizeof buf);
      if (r > 0 && b == ECHO_THEN_CN) {
        SSL_write(s, buf, r);
        continue;
      }
      if (r > 0)
        continue;
      break;
    }
    snprintf(msg, sizeof msg, "%s",
             (SSL_get_shutdown(s) & SSL_RECEIVED_SHUTDOWN) ? "close_notify"
             : SSL_get_error(s, r) == SSL_ERROR_SYSCALL    ? "rst"
                                                           : "eof");
    break;
  }
  if (write(wr, msg, strlen(msg) + 1) < 0)
    _exit(4);
  close(fd);
  _exit(0);
}

static struct peer start_peer(enum behave b, long version) {
  struct peer p = {0};
  int lfd = socket(AF_INET, SOCK_STREAM, 0), pfd[2];
  struct sockaddr_in a = {0};
  socklen_t al = sizeof a;
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(lfd, 1), 0);
  getsockname(lfd, (struct sockaddr *)&a, &al);
  p.port = ntohs(a.sin_port);
  assert_int_equal(pipe(pfd), 0);
  p.pid = fork();
  if (p.pid == 0) {
    close(pfd[0]);
    child(lfd, pfd[1], b, version);
  }
  close(pfd[1]);
  close(lfd);
  p.report = pfd[0];
  return p;
}

static void peer_report(struct peer *p, char *buf, size_t n) {
  ssize_t r = read(p->report, buf, n - 1);
  buf[r > 0 ? r : 0] = 0;
  close(p->report);
  int st;
  waitpid(p->pid, &st, 0);
}

static SSL_CTX *cctx;

static struct tlsfin_conn *connect_client(struct peer *p, SSL **sp, int *fdp) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)p->port);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  SSL *s = SSL_new(cctx);
  SSL_set_fd(s, fd);
  assert_int_equal(SSL_connect(s), 1);
  char buf[16];
  assert_int_equal(SSL_read(s, buf, sizeof buf), 5); /* "hello" */
  *sp = s;
  *fdp = fd;
  return tlsfin_conn_wrap(s, fd);
}

static void graceful_peer_answers(void **state) {
  (void)state;
  long versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};
  for (int i = 0; i < 2; i++) {
    struct peer p = start_peer(ANSWER_CN, versions[i]);
    SSL *s;
    int fd;
    struct tlsfin_conn *c = connect_client(&p, &s, &fd);
    assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000), 0);
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    assert_true(e->close_notify_sent && e->close_notify_received);
    assert_true(e->peer_eof);
    assert_false(e->rst_received || e->truncated || e->deadline_hit);
    assert_int_equal(e->first_close_notify, 0);
    assert_int_equal(e->first_close, 0);
    assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_TLS_CLEAN);
    char rep[128];
    peer_report(&p, rep, sizeof rep);
    /* the peer saw our FIN, not an RST: GRACEFUL never resets a peer that
     * behaves */
    assert_string_equal(rep, "fin 0 errno 0");
    char sentence[256];
    assert_non_null(
        strstr(tlsfin_strend(e, sentence, sizeof sentence), "clean TLS close"));
    tlsfin_conn_free(c);
    SSL_free(s);
  }
}

static void graceful_peer_bare_fin(void **state) {
  (void)state;
  struct peer p = start_peer(BARE_FIN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_true(e->close_notify_sent);
  assert_false(e->close_notify_received);
  assert_true(e->peer_eof);
  assert_false(e->rst_received);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_TLS_ONE_SIDED);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "fin 0 errno 0");
  tlsfin_conn_free(c);
  SSL_free(s);
}

static void graceful_deadline(void **state) {
  (void)state;
  struct peer p = start_peer(SILENT, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 300), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_true(e->deadline_hit);
  assert_false(e->peer_eof);
  assert_true(e->close_ms >= 250 && e->close_ms < 2500);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_HALF_CLOSED);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
}

static void peer_truncates(void **state) {
  (void)state;
  struct peer p = start_peer(TRUNCATE_FIRST, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  char buf[64];
  /* OpenSSL 3 reports SSL_R_UNEXPECTED_EOF_WHILE_READING: a fact here */
  assert_int_equal(tlsfin_conn_read(c, buf, sizeof buf), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_true(e->peer_eof && e->truncated);
  assert_int_equal(e->first_close, 1);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 1000), 0);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_TLS_TRUNCATED);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
}

struct sink {
  char data[64];
  size_t n;
};
static void collect(void *arg, const void *d, size_t n) {
  struct sink *k = arg;
  if (k->n + n < sizeof k->data) {
    memcpy(k->data + k->n, d, n);
    k->n += n;
  }
}

static void half_close_delivers(void **state) {
  (void)state;
  struct peer p = start_peer(DATA_AFTER_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct sink k = {{0}, 0};
  tlsfin_conn_set_drain(c, 0, collect, &k);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_int_equal(k.n, 9);
  assert_memory_equal(k.data, "late data", 9);
  assert_int_equal(e->bytes_delivered, 9);
  assert_true(e->data_after_close_notify);
  assert_true(e->close_notify_received && e->peer_eof);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_TLS_CLEAN);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "fin 0 errno 0");
  tlsfin_conn_free(c);
  SSL_free(s);
}

static void abort_resets(void **state) {
  (void)state;
  struct peer p = start_peer(EXPECT_RST, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_ABORT, 0), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_true(e->local_abort);
  assert_false(e->close_notify_sent);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_RESET);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  char want[64];
  snprintf(want, sizeof want, "read -1 errno %d", ECONNRESET);
  assert_string_equal(rep, want); /* ABORT always resets */
  tlsfin_conn_free(c);
  SSL_free(s);
}

static void nonblocking_graceful(void **state) {
  (void)state;
  struct peer p = start_peer(ANSWER_CN_SLOW, TLS1_2_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  tlsfin_conn_set_nonblocking(c, true);
  int r, rounds = 0;
  for (;;) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    r = tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    /* a non-blocking call never waits for the peer itself */
    assert_true(
        (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 100);
    if (r != TLSFIN_WANT_POLLIN && r != TLSFIN_WANT_POLLOUT)
      break;
    struct pollfd pf = {fd, r == TLSFIN_WANT_POLLIN ? POLLIN : POLLOUT, 0};
    poll(&pf, 1, 1000);
    rounds++;
  }
  assert_int_equal(r, 0);
  assert_true(rounds >= 1); /* the peer answered 150 ms later */
  assert_int_equal(tlsfin_end_verdict(tlsfin_conn_end(c)),
                   TLSFIN_VERDICT_TLS_CLEAN);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
}

static void fast_does_not_wait(void **state) {
  (void)state;
  struct peer p = start_peer(SILENT, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_FAST, 5000), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_true(e->close_notify_sent);
  assert_true(e->close_ms < 200);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
}

struct seen {
  int n;
  tlsfin_verdict last;
  bool cn_received;
};
static void observe(void *arg, const char *key, const struct tlsfin_end *e) {
  (void)key;
  struct seen *k = arg;
  k->n++;
  k->last = tlsfin_end_verdict(e);
  k->cn_received = e->close_notify_received;
}

/* The seed 000 fix: idle pooled connections are closed with close_notify
 * when the pool goes away, not dropped. */
static void pool_free_sends_close_notify(void **state) {
  (void)state;
  struct peer p = start_peer(EXPECT_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct tlsfin_pool *pool = tlsfin_pool_new(60000, 1000);
  struct seen k = {0, 0, false};
  tlsfin_pool_set_observer(pool, observe, &k);
  assert_int_equal(tlsfin_pool_put(pool, "srv", c), 0);
  assert_int_equal(tlsfin_pool_size(pool), 1);
  tlsfin_pool_free(pool);
  assert_int_equal(k.n, 1);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "close_notify");
}

/* A connection the server closed while idle (close_notify + FIN) is not
 * handed out again; the pool answers its close_notify. */
static void pool_detects_server_close(void **state) {
  (void)state;
  struct peer p = start_peer(IDLE_CLOSE, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct tlsfin_pool *pool = tlsfin_pool_new(60000, 1000);
  struct seen k = {0, 0, false};
  tlsfin_pool_set_observer(pool, observe, &k);
  tlsfin_pool_put(pool, "srv", c);
  usleep(300000); /* the server closes after 100 ms */
  assert_null(tlsfin_pool_get(pool, "srv"));
  assert_int_equal(k.n, 1);
  assert_true(k.cn_received);
  assert_int_equal(k.last, TLSFIN_VERDICT_TLS_CLEAN);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "close_notify");
  tlsfin_pool_free(pool);
}

/* A live connection comes back usable, and expiry closes with
 * close_notify. */
static void pool_reuse_and_expire(void **state) {
  (void)state;
  struct peer p = start_peer(ECHO_THEN_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct tlsfin_pool *pool = tlsfin_pool_new(200, 1000);
  tlsfin_pool_put(pool, "srv", c);
  assert_null(tlsfin_pool_get(pool, "other"));
  struct tlsfin_conn *again = tlsfin_pool_get(pool, "srv");
  assert_ptr_equal(again, c);
  char buf[16];
  assert_int_equal(SSL_write(s, "ping", 4), 4);
  assert_int_equal(tlsfin_conn_read(again, buf, sizeof buf), 4);
  tlsfin_pool_put(pool, "srv", again);
  assert_int_equal(tlsfin_pool_expire(pool), 0);
  usleep(300000);
  assert_int_equal(tlsfin_pool_expire(pool), 1);
  assert_int_equal(tlsfin_pool_size(pool), 0);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "close_notify");
  tlsfin_pool_free(pool);
}

/* SSL_OP_IGNORE_UNEXPECTED_EOF makes OpenSSL 3 report a bare EOF as
 * SSL_ERROR_ZERO_RETURN with SSL_RECEIVED_SHUTDOWN, exactly like a real
 * close_notify: the library must still call it a truncation. */
static void ignore_unexpected_eof_is_still_truncation(void **state) {
  (void)state;
  struct peer p = start_peer(TRUNCATE_FIRST, TLS1_2_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  /* the application asked for it; wrap again so the library sees it */
  tlsfin_conn_free(c);
  SSL_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
  c = tlsfin_conn_wrap(s, fd);
  char buf[64];
  assert_int_equal(tlsfin_conn_read(c, buf, sizeof buf), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_true(e->truncated);
  assert_false(e->close_notify_received);
  tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 1000);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_TLS_TRUNCATED);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  /* the application's option is back */
  assert_true(SSL_get_options(s) & SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_free(s);
}

static double ms_since(const struct timespec *a) {
  struct timespec b;
  clock_gettime(CLOCK_MONOTONIC, &b);
  return (double)(b.tv_sec - a->tv_sec) * 1e3 +
         (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

static uint64_t bytes_read(const struct tlsfin_end *e) {
  return e->bytes_discarded + e->bytes_delivered;
}

static void slow_drain(void *arg, const void *d, size_t n) {
  (void)d;
  *(uint64_t *)arg += n;
  usleep(1000); /* an application that takes 1 ms per chunk */
}

/* Drives a non-blocking close the way an event loop does.  Every single
 * call must come back within max_call_ms whatever the peer does; returns
 * the final result and counts the calls that asked to be called again. */
static int close_nonblocking(struct tlsfin_conn *c, int fd, int deadline_ms,
                             double max_call_ms, int *wants) {
  *wants = 0;
  for (;;) {
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, deadline_ms);
    double took = ms_since(&a);
    if (took >= max_call_ms)
      fail_msg("one non-blocking close call took %.1f ms", took);
    if (r != TLSFIN_WANT_POLLIN && r != TLSFIN_WANT_POLLOUT)
      return r;
    (*wants)++;
    struct pollfd pf = {fd, r == TLSFIN_WANT_POLLIN ? POLLIN : POLLOUT, 0};
    poll(&pf, 1, 100); /* a loop with a timer: the deadline is the lib's */
  }
}

/* Upper bound for a 300 ms deadline: generous for a loaded machine, far
 * below the tens of seconds (or forever) a flood used to take. */
#define FLOOD_BOUND_MS 5000.0

/* A peer that never stops sending application data: the deadline holds
 * although no read ever blocks. */
static void flood_deadline_blocking(void **state) {
  (void)state;
  struct peer p = start_peer(FLOOD, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct timespec a;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 300), 0);
  double took = ms_since(&a);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  print_message("flood, blocking, 300 ms deadline: %.1f ms, %llu bytes\n", took,
                (unsigned long long)bytes_read(e));
  assert_true(took < FLOOD_BOUND_MS);
  assert_true(took >= 250);
  assert_true(e->deadline_hit);
  assert_false(e->budget_hit);
  assert_true(e->data_after_close_notify);
  assert_false(e->close_notify_received);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "flood ended");
  tlsfin_conn_free(c);
  SSL_free(s);
}

/* The same with a drain callback that takes 1 ms per chunk: the deadline
 * is checked after each callback, not only when a read would block. */
static void flood_deadline_slow_callback(void **state) {
  (void)state;
  for (int nb = 0; nb < 2; nb++) {
    struct peer p = start_peer(FLOOD, TLS1_3_VERSION);
    SSL *s;
    int fd;
    struct tlsfin_conn *c = connect_client(&p, &s, &fd);
    uint64_t got = 0;
    assert_int_equal(tlsfin_conn_set_drain(c, 0, slow_drain, &got), 0);
    assert_int_equal(tlsfin_conn_set_nonblocking(c, nb), 0);
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int wants = 0;
    int r = nb ? close_nonblocking(c, fd, 300, 1000, &wants)
               : tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 300);
    double took = ms_since(&a);
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    print_message("flood, %s, 1 ms callback: %.1f ms, %llu delivered\n",
                  nb ? "non-blocking" : "blocking", took,
                  (unsigned long long)e->bytes_delivered);
    assert_int_equal(r, 0);
    assert_true(took < FLOOD_BOUND_MS);
    assert_true(e->deadline_hit);
    assert_true(e->bytes_delivered > 0);
    assert_int_equal(e->bytes_delivered, got);
    char rep[128];
    peer_report(&p, rep, sizeof rep);
    tlsfin_conn_free(c);
    SSL_free(s);
  }
}

/* Non-blocking: each call returns after a bounded slice of work while the
 * peer floods, and the whole close still ends at the deadline. */
static void flood_nonblocking_slices(void **state) {
  (void)state;
  enum behave bs[] = {FLOOD, FLOOD_AFTER_CN};
  for (int i = 0; i < 2; i++) {
    struct peer p = start_peer(bs[i], TLS1_3_VERSION);
    SSL *s;
    int fd;
    struct tlsfin_conn *c = connect_client(&p, &s, &fd);
    tlsfin_conn_set_nonblocking(c, true);
    /* the first call alone: it must not read the flood to its end */
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 300);
    double first = ms_since(&a);
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    assert_true(r == TLSFIN_WANT_POLLIN || r == TLSFIN_WANT_POLLOUT);
    assert_true(first < 1000);
    /* one slice: TLSFIN_CLOSE_SLICE_BYTES plus at most one record */
    assert_true(bytes_read(e) <= TLSFIN_CLOSE_SLICE_BYTES + 16384 + 256);
    int wants = 0;
    r = close_nonblocking(c, fd, 300, 1000, &wants);
    double took = ms_since(&a);
    print_message("flood%s, non-blocking: first call %.2f ms, %d more "
                  "calls, %.1f ms, %llu bytes\n",
                  bs[i] == FLOOD_AFTER_CN ? " after close_notify" : "", first,
                  wants + 1, took, (unsigned long long)bytes_read(e));
    assert_int_equal(r, 0);
    assert_true(took < FLOOD_BOUND_MS);
    assert_true(e->deadline_hit);
    assert_true(wants >= 1);
    assert_int_equal(e->close_notify_received, bs[i] == FLOOD_AFTER_CN);
    char rep[128];
    peer_report(&p, rep, sizeof rep);
    tlsfin_conn_free(c);
    SSL_free(s);
  }
}

/* The peer's close_notify came, then bytes without end: the wait for its
 * FIN is bound by the deadline too (it used to read gigabytes). */
static void flood_after_close_notify_deadline(void **state) {
  (void)state;
  struct peer p = start_peer(FLOOD_AFTER_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct timespec a;
  clock_gettime(CLOCK_MONOTONIC, &a);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 300), 0);
  double took = ms_since(&a);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  print_message("flood after close_notify, blocking: %.1f ms, %llu bytes\n",
                took, (unsigned long long)bytes_read(e));
  assert_true(took < FLOOD_BOUND_MS);
  assert_true(e->deadline_hit);
  assert_true(e->close_notify_received);
  assert_false(e->peer_eof);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
}

/* A 64 KiB budget: reading stops at the budget, long before the deadline,
 * and the end says so; before and after the peer's close_notify, blocking
 * and non-blocking, discarding and delivering. */
static void flood_budget(void **state) {
  (void)state;
  const size_t budget = 64 * 1024;
  enum behave bs[] = {FLOOD, FLOOD_AFTER_CN};
  for (int i = 0; i < 4; i++) {
    bool nb = i & 1;
    enum behave b = bs[i >> 1];
    struct peer p = start_peer(b, TLS1_3_VERSION);
    SSL *s;
    int fd;
    struct tlsfin_conn *c = connect_client(&p, &s, &fd);
    uint64_t got = 0;
    assert_int_equal(
        tlsfin_conn_set_drain(c, budget, nb ? slow_drain : NULL, &got), 0);
    tlsfin_conn_set_nonblocking(c, nb);
    struct timespec a;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int wants = 0;
    int r = nb ? close_nonblocking(c, fd, 10000, 1000, &wants)
               : tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 10000);
    double took = ms_since(&a);
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    print_message("flood%s, %s, 64 KiB budget: %.1f ms, %llu bytes\n",
                  b == FLOOD_AFTER_CN ? " after close_notify" : "",
                  nb ? "non-blocking" : "blocking", took,
                  (unsigned long long)bytes_read(e));
    assert_int_equal(r, 0);
    assert_true(e->budget_hit);
    assert_false(e->deadline_hit);
    /* at most the budget plus one record (the lib stops at the budget) */
    assert_true(bytes_read(e) <= budget + 16384 + 256);
    assert_true(bytes_read(e) <= budget);
    assert_true(took < FLOOD_BOUND_MS);
    assert_int_equal(e->close_notify_received, b == FLOOD_AFTER_CN);
    if (nb && b == FLOOD)
      assert_int_equal(e->bytes_delivered, got);
    assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_HALF_CLOSED);
    char sentence[256];
    assert_non_null(
        strstr(tlsfin_strend(e, sentence, sizeof sentence), "drain budget"));
    char rep[128];
    peer_report(&p, rep, sizeof rep);
    tlsfin_conn_free(c);
    SSL_free(s);
  }
}

/* A budget the peer stays within is not "hit": its close_notify and FIN
 * still end the close cleanly. */
static void budget_not_hit_by_a_polite_peer(void **state) {
  (void)state;
  struct peer p = start_peer(DATA_AFTER_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  tlsfin_conn_set_drain(c, 9, NULL, NULL); /* exactly "late data" */
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000), 0);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  assert_int_equal(e->bytes_discarded, 9);
  assert_false(e->budget_hit);
  assert_true(e->close_notify_received && e->peer_eof);
  assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_TLS_CLEAN);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "fin 0 errno 0");
  tlsfin_conn_free(c);
  SSL_free(s);
}

/* Every public function given NULL: a documented value, never a crash. */
static void null_arguments(void **state) {
  (void)state;
  const char *err = NULL;
  errno = 0;
  assert_null(tlsfin_conn_wrap(NULL, 0));
  assert_int_equal(errno, EINVAL);
  assert_null(tlsfin_conn_connect(NULL, "127.0.0.1", "1", 100, &err));
  assert_non_null(err);
  err = NULL;
  assert_null(tlsfin_conn_connect(cctx, NULL, "1", 100, &err));
  assert_non_null(err);
  assert_null(tlsfin_conn_connect(cctx, "127.0.0.1", NULL, 100, NULL));
  assert_null(tlsfin_conn_connect(cctx, "127.0.0.1", "1", 0, NULL));
  tlsfin_conn_free(NULL);
  assert_non_null(tlsfin_conn_error(NULL));
  errno = 0;
  assert_int_equal(tlsfin_conn_set_nonblocking(NULL, true), -1);
  assert_int_equal(errno, EINVAL);
  errno = 0;
  assert_int_equal(tlsfin_conn_set_drain(NULL, 1, NULL, NULL), -1);
  assert_int_equal(errno, EINVAL);
  char buf[16];
  errno = 0;
  assert_int_equal(tlsfin_conn_read(NULL, buf, sizeof buf), -1);
  assert_int_equal(errno, EINVAL);
  errno = 0;
  assert_int_equal(tlsfin_conn_close(NULL, TLSFIN_CLOSE_GRACEFUL, 100), -1);
  assert_int_equal(errno, EINVAL);
  assert_null(tlsfin_conn_end(NULL));
  assert_null(tlsfin_conn_ssl(NULL));
  assert_int_equal(tlsfin_end_verdict(NULL), TLSFIN_VERDICT_COUNT);
  assert_string_equal(tlsfin_strend(NULL, buf, sizeof buf), "no end record");
  assert_string_equal(tlsfin_strend(NULL, NULL, 0), "");
  assert_string_equal(tlsfin_strend(NULL, buf, 0), "");

  tlsfin_pool_free(NULL);
  struct tlsfin_pool *pool = tlsfin_pool_new(1000, 100);
  assert_non_null(pool);
  errno = 0;
  assert_int_equal(tlsfin_pool_put(NULL, "k", NULL), -1);
  assert_int_equal(errno, EINVAL);
  assert_int_equal(tlsfin_pool_put(pool, "k", NULL), -1);
  assert_null(tlsfin_pool_get(NULL, "k"));
  assert_null(tlsfin_pool_get(pool, NULL));
  assert_int_equal(tlsfin_pool_expire(NULL), -1);
  tlsfin_pool_set_observer(NULL, NULL, NULL);
  assert_int_equal(tlsfin_pool_size(NULL), 0);

  /* a conn, for its NULL-buffer and bad-mode cases (no handshake needed) */
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  SSL *s = SSL_new(cctx);
  struct tlsfin_conn *c = tlsfin_conn_wrap(s, sv[0]);
  assert_non_null(c);
  assert_int_equal(tlsfin_pool_put(pool, NULL, c), -1);
  assert_string_equal(tlsfin_conn_error(c), "");
  errno = 0;
  assert_int_equal(tlsfin_conn_read(c, NULL, 4), -1);
  assert_int_equal(errno, EINVAL);
  assert_non_null(strstr(tlsfin_conn_error(c), "buf is NULL"));
  assert_int_equal(tlsfin_conn_read(c, buf, 0), -1);
  errno = 0;
  assert_int_equal(tlsfin_conn_close(c, (enum tlsfin_close_mode)42, 0), -1);
  assert_int_equal(errno, EINVAL);
  assert_non_null(strstr(tlsfin_conn_error(c), "invalid mode"));
  tlsfin_conn_free(c);
  SSL_free(s);
  close(sv[0]);
  close(sv[1]);
  tlsfin_pool_free(pool);
}

/* tlsfin_conn_wrap of a descriptor that is not open: NULL, EBADF. */
static void wrap_dead_descriptor(void **state) {
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  close(fd);
  SSL *s = SSL_new(cctx);
  errno = 0;
  assert_null(tlsfin_conn_wrap(s, fd));
  assert_int_equal(errno, EBADF);
  SSL_free(s);
}

static bool fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/* The application closed fd behind the conn's back: every mode returns -1
 * with EBADF (nothing was sent), and keeps saying so. */
static void close_after_fd_closed(void **state) {
  (void)state;
  enum tlsfin_close_mode modes[] = {TLSFIN_CLOSE_GRACEFUL, TLSFIN_CLOSE_FAST,
                                    TLSFIN_CLOSE_ABORT};
  for (int i = 0; i < 3; i++) {
    struct peer p = start_peer(EXPECT_CN, TLS1_3_VERSION);
    SSL *s;
    int fd;
    struct tlsfin_conn *c = connect_client(&p, &s, &fd);
    close(fd);
    errno = 0;
    assert_int_equal(tlsfin_conn_close(c, modes[i], 1000), -1);
    assert_int_equal(errno, EBADF);
    assert_non_null(strstr(tlsfin_conn_error(c), strerror(EBADF)));
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    assert_false(e->close_notify_sent);
    assert_false(e->local_abort);
    errno = 0;
    assert_int_equal(tlsfin_conn_close(c, modes[i], 1000), -1); /* again */
    assert_int_equal(errno, EBADF);
    char buf[16];
    assert_int_equal(tlsfin_conn_read(c, buf, sizeof buf), -1);
    char rep[128];
    peer_report(&p, rep, sizeof rep);
    assert_string_equal(rep, "eof"); /* a bare FIN: our close(fd) */
    tlsfin_conn_free(c);
    SSL_free(s);
  }
}

/* The number was closed and reused by another open before close: the
 * conn must not send on it nor close it. */
static void close_after_fd_reused(void **state) {
  (void)state;
  struct peer p = start_peer(EXPECT_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  int other = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(dup2(other, fd) == fd); /* closes ours, reuses the number */
  errno = 0;
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 1000), -1);
  assert_int_equal(errno, EBADF);
  assert_true(fd_open(fd)); /* someone else's descriptor: left alone */
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "eof");
  tlsfin_conn_free(c);
  SSL_free(s);
  close(fd);
  close(other);
}

/* A non-blocking close resumed after the application closed fd. */
static void nonblocking_close_fd_closed_between_calls(void **state) {
  (void)state;
  struct peer p = start_peer(SILENT, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  tlsfin_conn_set_nonblocking(c, true);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000),
                   TLSFIN_WANT_POLLIN);
  close(fd);
  errno = 0;
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000), -1);
  assert_int_equal(errno, EBADF);
  assert_true(tlsfin_conn_end(c)->close_notify_sent); /* before the close */
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
}

/* A pooled conn whose fd was closed behind the pool's back: not handed
 * out, retired with EBADF and reported, no crash; and one cannot be put. */
static void pool_fd_closed(void **state) {
  (void)state;
  struct peer p = start_peer(EXPECT_CN, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  struct tlsfin_pool *pool = tlsfin_pool_new(60000, 1000);
  struct seen k = {0, 0, false};
  tlsfin_pool_set_observer(pool, observe, &k);
  assert_int_equal(tlsfin_pool_put(pool, "srv", c), 0);
  close(fd);
  assert_null(tlsfin_pool_get(pool, "srv"));
  assert_int_equal(k.n, 1);
  assert_int_equal(tlsfin_pool_size(pool), 0);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  assert_string_equal(rep, "eof");

  /* a conn with a dead descriptor is refused */
  p = start_peer(EXPECT_CN, TLS1_3_VERSION);
  c = connect_client(&p, &s, &fd);
  close(fd);
  errno = 0;
  assert_int_equal(tlsfin_pool_put(pool, "srv", c), -1);
  assert_int_equal(errno, EBADF);
  peer_report(&p, rep, sizeof rep);
  tlsfin_conn_free(c);
  SSL_free(s);
  tlsfin_pool_free(pool);
}

static void wait_readable(int fd) {
  struct pollfd pf = {fd, POLLIN, 0};
  assert_int_equal(poll(&pf, 1, 2000), 1);
}

/* The peer reset the connection before our close: close returns 0, the
 * end records the RST, and nothing crashes. */
static void close_after_peer_reset(void **state) {
  (void)state;
  enum tlsfin_close_mode modes[] = {TLSFIN_CLOSE_GRACEFUL, TLSFIN_CLOSE_FAST,
                                    TLSFIN_CLOSE_ABORT};
  for (int i = 0; i < 3; i++) {
    struct peer p = start_peer(RESET, TLS1_3_VERSION);
    SSL *s;
    int fd;
    struct tlsfin_conn *c = connect_client(&p, &s, &fd);
    char rep[128];
    peer_report(&p, rep, sizeof rep); /* the child has reset by now */
    assert_string_equal(rep, "reset");
    wait_readable(fd);
    assert_int_equal(tlsfin_conn_close(c, modes[i], 1000), 0);
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    if (modes[i] == TLSFIN_CLOSE_ABORT) {
      assert_true(e->local_abort);
    } else {
      assert_true(e->rst_received);
      assert_int_equal(e->rst_phase, TLSFIN_PHASE_CLOSING);
      assert_false(e->close_notify_sent);
      assert_int_equal(tlsfin_end_verdict(e), TLSFIN_VERDICT_RESET);
    }
    tlsfin_conn_free(c);
    SSL_free(s);
  }
}

/* The same after the application already took the reset itself, so that
 * close_notify goes to a dead socket: write(2) raises SIGPIPE, which must
 * not kill a process that kept the default action. */
static void close_after_peer_reset_sigpipe(void **state) {
  (void)state;
  struct peer p = start_peer(RESET, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  wait_readable(fd);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    char b[16];
    if (recv(fd, b, sizeof b, 0) != -1 || errno != ECONNRESET)
      _exit(2); /* the reset is consumed: the next write gets EPIPE */
    int r = tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 1000);
    const struct tlsfin_end *e = tlsfin_conn_end(c);
    _exit(r == 0 && e->rst_received && !e->close_notify_sent ? 0 : 3);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (WIFSIGNALED(st))
    fail_msg("close was killed by signal %d", WTERMSIG(st));
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 1000);
  tlsfin_conn_free(c);
  SSL_free(s);
}

/* tlsfin_conn_read on a reset socket and on a closed one. */
static void read_after_reset_and_closed(void **state) {
  (void)state;
  struct peer p = start_peer(RESET, TLS1_3_VERSION);
  SSL *s;
  int fd;
  struct tlsfin_conn *c = connect_client(&p, &s, &fd);
  char rep[128];
  peer_report(&p, rep, sizeof rep);
  wait_readable(fd);
  char buf[16];
  assert_int_equal(tlsfin_conn_read(c, buf, sizeof buf), 0);
  assert_true(tlsfin_conn_end(c)->rst_received);
  assert_int_equal(tlsfin_conn_end(c)->rst_phase, TLSFIN_PHASE_DATA);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 100), 0);
  errno = 0;
  assert_int_equal(tlsfin_conn_read(c, buf, sizeof buf), -1); /* closed */
  assert_int_equal(errno, EBADF);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 100), 0);
  tlsfin_conn_free(c);
  SSL_free(s);

  p = start_peer(EXPECT_CN, TLS1_3_VERSION);
  c = connect_client(&p, &s, &fd);
  close(fd);
  errno = 0;
  assert_int_equal(tlsfin_conn_read(c, buf, sizeof buf), -1);
  assert_int_equal(errno, EBADF);
  assert_non_null(strstr(tlsfin_conn_error(c), strerror(EBADF)));
  peer_report(&p, rep, sizeof rep);
  assert_int_equal(tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 100), -1);
  tlsfin_conn_free(c);
  SSL_free(s);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  make_cert();
  cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(graceful_peer_answers),
      cmocka_unit_test(graceful_peer_bare_fin),
      cmocka_unit_test(graceful_deadline),
      cmocka_unit_test(peer_truncates),
      cmocka_unit_test(half_close_delivers),
      cmocka_unit_test(abort_resets),
      cmocka_unit_test(nonblocking_graceful),
      cmocka_unit_test(fast_does_not_wait),
      cmocka_unit_test(pool_free_sends_close_notify),
      cmocka_unit_test(pool_detects_server_close),
      cmocka_unit_test(pool_reuse_and_expire),
      cmocka_unit_test(ignore_unexpected_eof_is_still_truncation),
      cmocka_unit_test(flood_deadline_blocking),
      cmocka_unit_test(flood_deadline_slow_callback),
      cmocka_unit_test(flood_nonblocking_slices),
      cmocka_unit_test(flood_after_close_notify_deadline),
      cmocka_unit_test(flood_budget),
      cmocka_unit_test(budget_not_hit_by_a_polite_peer),
      cmocka_unit_test(null_arguments),
      cmocka_unit_test(wrap_dead_descriptor),
      cmocka_unit_test(close_after_fd_closed),
      cmocka_unit_test(close_after_fd_reused),
      cmocka_unit_test(nonblocking_close_fd_closed_between_calls),
      cmocka_unit_test(pool_fd_closed),
      cmocka_unit_test(close_after_peer_reset),
      cmocka_unit_test(close_after_peer_reset_sigpipe),
      cmocka_unit_test(read_after_reset_and_closed),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  SSL_CTX_free(cctx);
  X509_free(cert);
  EVP_PKEY_free(pkey);
  return rc;
}

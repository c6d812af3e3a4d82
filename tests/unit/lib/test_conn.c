/* libtlsfin close sequences against a real OpenSSL server in a child
 * process on loopback, one behaviour per test: it answers close_notify, it
 * closes with a bare FIN, it stays silent (deadline), it truncates first,
 * it keeps sending after our close_notify (TLS 1.3 half-close), and our
 * abort.  The child reports what it saw through a pipe, so a test can also
 * assert the peer's side (e.g. GRACEFUL caused no RST). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
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
  ECHO_THEN_CN
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
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  SSL_CTX_free(cctx);
  X509_free(cert);
  EVP_PKEY_free(pkey);
  return rc;
}

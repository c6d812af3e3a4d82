/* SPDX-License-Identifier: BSD-2-Clause */
/* libssl uprobes of the kernel collector, against the running kernel and the
 * system's libssl, on loopback only: a real OpenSSL client and server in
 * this process end TLS connections in the ways seeds 001 and 004 are about,
 * and each return value the application saw must come back as a TF_KEV_SSL
 * event joined to the right TCP 4-tuple.
 *
 * Exits 77 (skip) when the collector or its libssl probes are unavailable
 * (stub build, not root, no uprobes, this binary's libssl is not the one
 * probed), 0 when every check passes, 1 otherwise. */
#include "kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

#define MAX_EVENTS 1024

static struct tf_kevent events[MAX_EVENTS];
static size_t nevents;
/* SSL events of other processes: the pid filter should leave none. */
static size_t foreign;

static void collect(void *ctx, const struct tf_kevent *e) {
  (void)ctx;
  if (e->type != TF_KEV_SSL)
    return;
  if (e->pid != (uint32_t)getpid()) {
    foreign++;
    return;
  }
  /* Overflowing just stops recording; the checks then fail visibly. */
  if (nevents < MAX_EVENTS)
    events[nevents++] = *e;
}

/* What an expected SSL event must match; ports are always compared. */
struct want {
  const char *func;
  int ret;
  int check_arg;
  int arg;
  int af;
  uint16_t lport, rport;
  int fd;
};

static int addr_is_lo(const struct tf_kevent *e, const uint8_t *a) {
  static const uint8_t lo6[16] = {[15] = 1};
  static const uint8_t lo4[4] = {127, 0, 0, 1};
  if (e->af == 4)
    return memcmp(a, lo4, 4) == 0;
  return e->af == 6 && memcmp(a, lo6, 16) == 0;
}

static int matches(const struct tf_kevent *e, const struct want *w) {
  return e->ssl_func && strcmp(e->ssl_func, w->func) == 0 &&
         e->ssl_ret == w->ret && (!w->check_arg || e->ssl_arg == w->arg) &&
         e->af == w->af && addr_is_lo(e, e->laddr) && addr_is_lo(e, e->raddr) &&
         e->lport == w->lport && e->rport == w->rport && e->ssl_fd == w->fd;
}

static size_t count(const struct want *w, const struct tf_kevent **first) {
  size_t n = 0;
  for (size_t i = 0; i < nevents; i++)
    if (matches(&events[i], w)) {
      if (n == 0 && first)
        *first = &events[i];
      n++;
    }
  return n;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls until an event matching w has arrived (up to 3 s), then a little
 * longer so duplicates would be seen too.  Returns how many matched. */
static size_t wait_for(struct tf_kernel *k, const struct want *w,
                       const struct tf_kevent **first) {
  long long deadline = now_ms() + 3000;
  while (count(w, NULL) == 0 && now_ms() < deadline)
    tf_kernel_poll(k, 100, collect, NULL);
  tf_kernel_poll(k, 50, collect, NULL);
  return count(w, first);
}

static void describe(const struct want *w) {
  fprintf(stderr, "  wanted %s ret %d", w->func, w->ret);
  if (w->check_arg)
    fprintf(stderr, " arg %d", w->arg);
  fprintf(stderr, " af %d %u->%u fd %d; this pid's events:\n", w->af, w->lport,
          w->rport, w->fd);
  for (size_t i = 0; i < nevents; i++)
    fprintf(stderr, "    %s ret %d arg %d af %u %u->%u fd %d state %d\n",
            events[i].ssl_func, events[i].ssl_ret, events[i].ssl_arg,
            events[i].af, events[i].lport, events[i].rport, events[i].ssl_fd,
            events[i].state);
}

/* Exactly one event like w; returns it (or NULL after reporting). */
static const struct tf_kevent *expect(struct tf_kernel *k, const struct want *w,
                                      const char *what) {
  const struct tf_kevent *e = NULL;
  size_t n = wait_for(k, w, &e);
  CHECK(n == 1, "%s: %zu matching events", what, n);
  if (n != 1)
    describe(w);
  return n == 1 ? e : NULL;
}

/* ---- OpenSSL endpoints ---- */

/* A throwaway self-signed P-256 certificate, made in memory so the test
 * needs no files. */
static SSL_CTX *server_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *crt = X509_new();
  X509_NAME *name;
  int ok = ctx && key && crt;

  if (ok) {
    ASN1_INTEGER_set(X509_get_serialNumber(crt), 1);
    X509_gmtime_adj(X509_getm_notBefore(crt), -60);
    X509_gmtime_adj(X509_getm_notAfter(crt), 3600);
    name = X509_get_subject_name(crt);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"tlsfin-test", -1, -1, 0);
    ok = X509_set_issuer_name(crt, name) && X509_set_pubkey(crt, key) &&
         X509_sign(crt, key, EVP_sha256()) > 0 &&
         SSL_CTX_use_certificate(ctx, crt) == 1 &&
         SSL_CTX_use_PrivateKey(ctx, key) == 1;
  }
  X509_free(crt);
  EVP_PKEY_free(key);
  if (!ok) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static SSL_CTX *client_ctx(void) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (ctx)
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  return ctx;
}

static uint16_t local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int set_nonblocking(int fd, int on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0)
    return -1;
  return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* A connected loopback TCP pair (ports from bind(0)). */
static int tcp_pair(int af, int *cfd, int *sfd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int lfd = socket(af, SOCK_STREAM, 0);
  int rc = -1;

  *cfd = socket(af, SOCK_STREAM, 0);
  *sfd = -1;
  memset(&ss, 0, sizeof ss);
  if (af == AF_INET6) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_loopback;
    len = sizeof *s6;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *s4;
  }
  if (lfd >= 0 && *cfd >= 0 && bind(lfd, (struct sockaddr *)&ss, len) == 0 &&
      listen(lfd, 1) == 0 &&
      getsockname(lfd, (struct sockaddr *)&ss, &len) == 0 &&
      connect(*cfd, (struct sockaddr *)&ss, len) == 0 &&
      (*sfd = accept(lfd, NULL, NULL)) >= 0)
    rc = 0;
  if (lfd >= 0)
    close(lfd);
  return rc;
}

struct tls_pair {
  int af;
  int cfd, sfd;
  SSL *c, *s;
  uint16_t cport, sport;
};

/* Handshakes both ends in this thread, stepping them over non-blocking
 * sockets, then makes the sockets blocking again so each case reads like
 * an ordinary blocking application.  client_bio: give the client its
 * socket through BIO_new_socket + SSL_set_bio instead of SSL_set_fd, the
 * other way the collector follows descriptors. */
static int tls_pair_open(struct tls_pair *p, int af, SSL_CTX *cctx,
                         SSL_CTX *sctx, int client_bio) {
  long long deadline = now_ms() + 5000;
  int cdone = 0, sdone = 0;

  memset(p, 0, sizeof *p);
  p->af = af;
  if (tcp_pair(af, &p->cfd, &p->sfd) != 0)
    return -1;
  p->cport = local_port(p->cfd);
  p->sport = local_port(p->sfd);
  p->c = SSL_new(cctx);
  p->s = SSL_new(sctx);
  if (!p->c || !p->s || set_nonblocking(p->cfd, 1) ||
      set_nonblocking(p->sfd, 1))
    return -1;
  if (client_bio) {
    BIO *b = BIO_new_socket(p->cfd, BIO_NOCLOSE);
    if (!b)
      return -1;
    SSL_set_bio(p->c, b, b);
  } else if (SSL_set_fd(p->c, p->cfd) != 1) {
    return -1;
  }
  if (SSL_set_fd(p->s, p->sfd) != 1)
    return -1;
  SSL_set_connect_state(p->c);
  SSL_set_accept_state(p->s);
  while (!(cdone && sdone) && now_ms() < deadline) {
    struct pollfd pf[2] = {{.fd = p->cfd, .events = POLLIN},
                           {.fd = p->sfd, .events = POLLIN}};
    int rc;
    if (!cdone && (rc = SSL_do_handshake(p->c)) != 1) {
      int e = SSL_get_error(p->c, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return -1;
    } else {
      cdone = 1;
    }
    if (!sdone && (rc = SSL_do_handshake(p->s)) != 1) {
      int e = SSL_get_error(p->s, rc);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return -1;
    } else {
      sdone = 1;
    }
    if (!(cdone && sdone))
      poll(pf, 2, 20);
  }
  if (!(cdone && sdone) || set_nonblocking(p->cfd, 0) ||
      set_nonblocking(p->sfd, 0))
    return -1;
  return 0;
}

static void tls_pair_close(struct tls_pair *p) {
  SSL_free(p->c);
  SSL_free(p->s);
  if (p->cfd >= 0)
    close(p->cfd);
  if (p->sfd >= 0)
    close(p->sfd);
  ERR_clear_error();
}

/* ---- cases ---- */

/* (1) The server sends close_notify (SSL_shutdown returns 0: its own
 * alert sent, the peer's not yet received); the client's SSL_read returns 0
 * and SSL_get_error says SSL_ERROR_ZERO_RETURN. */
static void test_close_notify(struct tf_kernel *k, SSL_CTX *cctx, SSL_CTX *sctx,
                              int af) {
  const char *lo = af == AF_INET6 ? "::1" : "127.0.0.1";
  int a = af == AF_INET6 ? 6 : 4;
  struct tls_pair p;
  const struct tf_kevent *rd, *ge;
  char buf[16];
  int sret, r, err;

  if (tls_pair_open(&p, af, cctx, sctx, 0) != 0) {
    CHECK(0, "%s: TLS pair: %s", lo, strerror(errno));
    tls_pair_close(&p);
    return;
  }
  sret = SSL_shutdown(p.s);
  CHECK(sret == 0, "%s: server SSL_shutdown returned %d", lo, sret);
  r = SSL_read(p.c, buf, sizeof buf);
  err = SSL_get_error(p.c, r);
  CHECK(r == 0 && err == SSL_ERROR_ZERO_RETURN,
        "%s: client SSL_read %d, SSL_get_error %d", lo, r, err);

  struct want w_shut = {.func = "SSL_shutdown",
                        .ret = sret,
                        .af = a,
                        .lport = p.sport,
                        .rport = p.cport,
                        .fd = p.sfd};
  expect(k, &w_shut, "close_notify: server's SSL_shutdown");
  struct want w_read = {.func = "SSL_read",
                        .ret = r,
                        .af = a,
                        .lport = p.cport,
                        .rport = p.sport,
                        .fd = p.cfd};
  rd = expect(k, &w_read, "close_notify: client's SSL_read");
  struct want w_err = {.func = "SSL_get_error",
                       .ret = SSL_ERROR_ZERO_RETURN,
                       .check_arg = 1,
                       .arg = r,
                       .af = a,
                       .lport = p.cport,
                       .rport = p.sport,
                       .fd = p.cfd};
  ge = expect(k, &w_err, "close_notify: client's SSL_get_error");
  if (rd && ge)
    CHECK(rd->ts <= ge->ts, "SSL_read at %.6f after SSL_get_error at %.6f",
          rd->ts, ge->ts);
  if (ge) {
    double d = ge->ts - (double)time(NULL);
    CHECK(d > -2.0 && d < 2.0, "ts %.6f is %.3f s from time(NULL)", ge->ts, d);
    /* close_notify came without a FIN: the TCP connection is still up. */
    CHECK(ge->state == 1 /* TCP_ESTABLISHED */, "state %d", ge->state);
  }
  tls_pair_close(&p);
}

/* (2) The server closes its TCP socket without close_notify: OpenSSL 3
 * reports the EOF to the client as SSL_ERROR_SSL ("unexpected eof while
 * reading").  The client's socket comes from BIO_new_socket + SSL_set_bio. */
static void test_unexpected_eof(struct tf_kernel *k, SSL_CTX *cctx,
                                SSL_CTX *sctx) {
  struct tls_pair p;
  const struct tf_kevent *ge;
  char buf[16];
  int r, err;

  if (tls_pair_open(&p, AF_INET, cctx, sctx, 1) != 0) {
    CHECK(0, "TLS pair: %s", strerror(errno));
    tls_pair_close(&p);
    return;
  }
  /* No SSL_shutdown: SSL_free sends nothing, close() sends the FIN. */
  SSL_free(p.s);
  p.s = NULL;
  close(p.sfd);
  p.sfd = -1;
  r = SSL_read(p.c, buf, sizeof buf);
  err = SSL_get_error(p.c, r);
  CHECK(r <= 0 && err == SSL_ERROR_SSL,
        "client SSL_read %d, SSL_get_error %d (want SSL_ERROR_SSL)", r, err);

  struct want w_read = {.func = "SSL_read",
                        .ret = r,
                        .af = 4,
                        .lport = p.cport,
                        .rport = p.sport,
                        .fd = p.cfd};
  expect(k, &w_read, "unexpected eof: client's SSL_read");
  struct want w_err = {.func = "SSL_get_error",
                       .ret = SSL_ERROR_SSL,
                       .check_arg = 1,
                       .arg = r,
                       .af = 4,
                       .lport = p.cport,
                       .rport = p.sport,
                       .fd = p.cfd};
  ge = expect(k, &w_err, "unexpected eof: client's SSL_get_error");
  /* The wire's side: the server's FIN put the client in CLOSE_WAIT, but
   * OpenSSL answers the unexpected EOF with a fatal alert, which the
   * server's closed socket (a FIN_WAIT2 timewait socket) answers with an
   * RST (TCP_TIMEWAIT_SOCKET); on loopback that usually lands before
   * SSL_read returns.  The 4-tuple must survive either way (TCP_CLOSE
   * gives the local port back, see sock_copy). */
  if (ge)
    CHECK(ge->state == 8 /* TCP_CLOSE_WAIT */ || ge->state == 7 /* CLOSE */,
          "state %d", ge->state);
  tls_pair_close(&p);
}

/* (3) Bidirectional shutdown: the client's first SSL_shutdown returns 0,
 * the server reads the close_notify (SSL_ERROR_ZERO_RETURN) and answers
 * with its own (SSL_shutdown returns 1), and the client's second
 * SSL_shutdown, receiving it, returns 1. */
static void test_bidirectional(struct tf_kernel *k, SSL_CTX *cctx,
                               SSL_CTX *sctx) {
  struct tls_pair p;
  const struct tf_kevent *first, *second;
  char buf[16];
  int c1, c2, s1, r, err;

  if (tls_pair_open(&p, AF_INET, cctx, sctx, 0) != 0) {
    CHECK(0, "TLS pair: %s", strerror(errno));
    tls_pair_close(&p);
    return;
  }
  c1 = SSL_shutdown(p.c);
  r = SSL_read(p.s, buf, sizeof buf);
  err = SSL_get_error(p.s, r);
  s1 = SSL_shutdown(p.s);
  c2 = SSL_shutdown(p.c);
  CHECK(c1 == 0 && r == 0 && err == SSL_ERROR_ZERO_RETURN && s1 == 1 && c2 == 1,
        "client shutdown %d, server read %d / %d, server shutdown %d, "
        "client shutdown %d",
        c1, r, err, s1, c2);

  struct want w_c1 = {.func = "SSL_shutdown",
                      .ret = 0,
                      .af = 4,
                      .lport = p.cport,
                      .rport = p.sport,
                      .fd = p.cfd};
  first = expect(k, &w_c1, "bidirectional: client's first SSL_shutdown");
  struct want w_err = {.func = "SSL_get_error",
                       .ret = SSL_ERROR_ZERO_RETURN,
                       .check_arg = 1,
                       .arg = 0,
                       .af = 4,
                       .lport = p.sport,
                       .rport = p.cport,
                       .fd = p.sfd};
  expect(k, &w_err, "bidirectional: server's SSL_get_error");
  struct want w_s1 = {.func = "SSL_shutdown",
                      .ret = 1,
                      .af = 4,
                      .lport = p.sport,
                      .rport = p.cport,
                      .fd = p.sfd};
  expect(k, &w_s1, "bidirectional: server's SSL_shutdown");
  struct want w_c2 = {.func = "SSL_shutdown",
                      .ret = 1,
                      .af = 4,
                      .lport = p.cport,
                      .rport = p.sport,
                      .fd = p.cfd};
  second = expect(k, &w_c2, "bidirectional: client's second SSL_shutdown");
  if (first && second)
    CHECK(first->ts < second->ts, "SSL_shutdown 0 at %.6f, 1 at %.6f",
          first->ts, second->ts);
  tls_pair_close(&p);
}

/* Where this process mapped libssl from, to compare with the probed file:
 * uprobes are per file, so a test binary linked against another libssl
 * would see nothing (and that is not a collector failure). */
static int mapped_libssl(char *out, size_t outlen) {
  FILE *f = fopen("/proc/self/maps", "re");
  char line[PATH_MAX + 128];
  int found = 0;
  if (!f)
    return -1;
  while (!found && fgets(line, sizeof line, f)) {
    char *path = strchr(line, '/');
    if (!path || !strstr(path, "/libssl.so"))
      continue;
    path[strcspn(path, "\n")] = '\0';
    found = realpath(path, out) != NULL && strlen(out) < outlen;
  }
  fclose(f);
  return found ? 0 : -1;
}

int main(void) {
  char err[256], mine[PATH_MAX], probed[PATH_MAX];
  struct tf_kernel *k;
  const char *status, *lib;
  SSL_CTX *cctx, *sctx;

  k = tf_kernel_open_with(TF_KERNEL_SSL, err, sizeof err);
  if (!k) {
    printf("SKIP: kernel collector unavailable: %s\n", err);
    return 77;
  }
  status = tf_kernel_ssl_status(k);
  lib = tf_kernel_ssl_library(k);
  if (status[0] && strncmp(status, "partial:", 8) != 0) {
    printf("SKIP: libssl uprobes unavailable: %s\n", status);
    tf_kernel_close(k);
    return 77;
  }
  /* Make sure libssl is mapped (and initialised) before comparing. */
  cctx = client_ctx();
  sctx = server_ctx();
  if (!cctx || !sctx) {
    fprintf(stderr, "FAIL: OpenSSL contexts\n");
    return 1;
  }
  if (mapped_libssl(mine, sizeof mine) != 0 || !lib || !realpath(lib, probed) ||
      strcmp(mine, probed) != 0) {
    printf("SKIP: probes on %s, this test uses another libssl\n",
           lib ? lib : "(none)");
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    tf_kernel_close(k);
    return 77;
  }
  printf("libssl probes on %s%s%s\n", lib, status[0] ? ": " : "", status);
  CHECK(tf_kernel_set_ssl_pid(k, (uint32_t)getpid()) == 0, "pid filter");
  /* Other processes' events from before the filter may still be queued. */
  tf_kernel_poll(k, 0, collect, NULL);
  foreign = 0;

  test_close_notify(k, cctx, sctx, AF_INET);
  test_close_notify(k, cctx, sctx, AF_INET6);
  /* Needs the BIO_set_fd probe in libcrypto. */
  if (!status[0])
    test_unexpected_eof(k, cctx, sctx);
  else
    printf("unexpected-eof case skipped (SSL_set_bio not followed)\n");
  test_bidirectional(k, cctx, sctx);

  tf_kernel_poll(k, 100, collect, NULL);
  CHECK(foreign == 0, "%zu SSL events from other processes despite the filter",
        foreign);
  CHECK(tf_kernel_lost(k) == 0, "%llu events lost",
        (unsigned long long)tf_kernel_lost(k));
  SSL_CTX_free(cctx);
  SSL_CTX_free(sctx);
  tf_kernel_close(k);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all libssl probe checks passed\n");
  return 0;
}

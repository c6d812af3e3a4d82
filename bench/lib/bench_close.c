/* SPDX-License-Identifier: BSD-2-Clause */
/* Graceful closes per second of many concurrent connections, libtlsfin
 * (non-blocking GRACEFUL, all connections at once under poll) vs the naive
 * loop (SSL_shutdown + close, one by one), against a real server.
 * usage: bench_close PORT N */
#include <arpa/inet.h>
#include <malloc.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsfin/tlsfin.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static SSL *open_one(SSL_CTX *ctx, int port, int *fdp) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    return NULL;
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  if (SSL_connect(s) != 1)
    return NULL;
  const char req[] = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
  char buf[4096];
  SSL_write(s, req, sizeof req - 1);
  SSL_read(s, buf, sizeof buf); /* keep-alive response */
  *fdp = fd;
  return s;
}

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  signal(SIGPIPE, SIG_IGN);
  int port = atoi(argv[1]), n = atoi(argv[2]);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL **ss = calloc((size_t)n, sizeof *ss);
  int *fds = calloc((size_t)n, sizeof *fds);
  struct tlsfin_conn **cs = calloc((size_t)n, sizeof *cs);
  struct pollfd *pf = calloc((size_t)n, sizeof *pf);
  /* naive */
  for (int i = 0; i < n; i++)
    if (!(ss[i] = open_one(ctx, port, &fds[i])))
      return 3;
  double t0 = now();
  for (int i = 0; i < n; i++) {
    SSL_shutdown(ss[i]);
    close(fds[i]);
  }
  double naive = now() - t0;
  for (int i = 0; i < n; i++)
    SSL_free(ss[i]);
  /* tlsfin GRACEFUL, non-blocking, all at once */
  for (int i = 0; i < n; i++) {
    if (!(ss[i] = open_one(ctx, port, &fds[i])))
      return 3;
    cs[i] = tlsfin_conn_wrap(ss[i], fds[i]);
    tlsfin_conn_set_nonblocking(cs[i], true);
  }
  struct mallinfo2 m0 = mallinfo2();
  t0 = now();
  int left = n;
  int *state = calloc((size_t)n, sizeof *state); /* last return */
  for (int i = 0; i < n; i++)
    state[i] = tlsfin_conn_close(cs[i], TLSFIN_CLOSE_GRACEFUL, 5000);
  for (;;) {
    int k = 0;
    for (int i = 0; i < n; i++)
      if (state[i] == TLSFIN_WANT_POLLIN || state[i] == TLSFIN_WANT_POLLOUT) {
        pf[k].fd = fds[i];
        pf[k].events = state[i] == TLSFIN_WANT_POLLIN ? POLLIN : POLLOUT;
        pf[k].revents = 0;
        k++;
      }
    left = k;
    if (!k)
      break;
    poll(pf, (nfds_t)k, 100);
    for (int i = 0; i < n; i++)
      if (state[i] == TLSFIN_WANT_POLLIN || state[i] == TLSFIN_WANT_POLLOUT)
        state[i] = tlsfin_conn_close(cs[i], TLSFIN_CLOSE_GRACEFUL, 5000);
  }
  double graceful = now() - t0;
  struct mallinfo2 m1 = mallinfo2();
  int clean = 0, rst = 0, peer_fin = 0;
  for (int i = 0; i < n; i++) {
    const struct tlsfin_end *e = tlsfin_conn_end(cs[i]);
    clean += tlsfin_end_verdict(e) == TLSFIN_VERDICT_TLS_CLEAN;
    peer_fin += e->peer_eof;
    rst += e->rst_received;
    tlsfin_conn_free(cs[i]);
    SSL_free(ss[i]);
  }
  printf("connections: %d (left pending: %d)\n", n, left);
  printf(
      "naive SSL_shutdown+close loop: %.3f s, %.0f closes/s (does not wait for "
      "the peer: no end is known)\n",
      naive, n / naive);
  printf("tlsfin GRACEFUL, non-blocking: %.3f s, %.0f closes/s; peer FIN seen "
         "on %d, "
         "tls_clean %d, RST received %d\n",
         graceful, n / graceful, peer_fin, clean, rst);
  printf("heap in use across the close phase: %+lld bytes\n",
         (long long)m1.uordblks - (long long)m0.uordblks);
  return 0;
}

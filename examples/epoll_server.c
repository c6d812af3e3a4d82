/* SPDX-License-Identifier: BSD-2-Clause */
/* A non-blocking epoll TLS echo server that ends every connection right:
 * when the client sends close_notify, or after IDLE_MS of silence, the
 * connection is closed GRACEFULLY by tlsfin_conn_close driven from the same
 * epoll loop (TLSFIN_WANT_POLLIN/POLLOUT), and one line per connection says
 * how it ended.  usage: epoll_server PORT CERT KEY [IDLE_MS] [MAX_CONNS] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsfin/tlsfin.h"

enum { HANDSHAKE, ECHO, CLOSING };
struct client {
  int fd, state;
  SSL *ssl;
  struct tlsfin_conn *c;
  double last;
};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void watch(int ep, struct client *k, int want) {
  struct epoll_event ev = {want == TLSFIN_WANT_POLLOUT ? EPOLLOUT : EPOLLIN,
                           {.ptr = k}};
  epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Runs the close state machine; frees the client when it is done. */
static int closing(int ep, struct client *k) {
  int r = tlsfin_conn_close(k->c, TLSFIN_CLOSE_GRACEFUL, 2000);
  if (r == TLSFIN_WANT_POLLIN || r == TLSFIN_WANT_POLLOUT) {
    watch(ep, k, r);
    return 0;
  }
  char why[256];
  const struct tlsfin_end *e = tlsfin_conn_end(k->c);
  printf("end: %s: %s\n", tlsfin_verdict_name(tlsfin_end_verdict(e)),
         tlsfin_strend(e, why, sizeof why));
  fflush(stdout);
  tlsfin_conn_free(k->c); /* the fd is closed by tlsfin_conn_close */
  SSL_free(k->ssl);
  free(k);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s PORT CERT KEY [IDLE_MS] [MAX_CONNS]\n", argv[0]);
    return 2;
  }
  int idle_ms = argc > 4 ? atoi(argv[4]) : 1000,
      max = argc > 5 ? atoi(argv[5]) : 0;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
    fprintf(stderr, "cannot load %s / %s\n", argv[2], argv[3]);
    return 2;
  }
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(argv[1]));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
    perror("listen");
    return 2;
  }
  int ep = epoll_create1(0);
  struct epoll_event lev = {EPOLLIN, {.ptr = NULL}};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  printf("ready %s\n", argv[1]);
  fflush(stdout);
  int accepted = 0, open_conns = 0;
  struct client *all[256] = {0};
  while (!max || accepted < max || open_conns > 0) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, 100);
    for (int i = 0; i < n; i++) {
      struct client *k = evs[i].data.ptr;
      if (!k) { /* a new connection */
        int fd = accept(ls, NULL, NULL);
        if (fd < 0 || open_conns >= 256)
          continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        k = calloc(1, sizeof *k);
        k->fd = fd;
        k->ssl = SSL_new(ctx);
        SSL_set_fd(k->ssl, fd);
        k->last = now_ms();
        struct epoll_event ev = {EPOLLIN, {.ptr = k}};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        for (int j = 0; j < 256; j++)
          if (!all[j]) {
            all[j] = k;
            break;
          }
        accepted++;
        open_conns++;
      }
      k->last = now_ms();
      if (k->state == HANDSHAKE) {
        int r = SSL_accept(k->ssl);
        if (r == 1) {
          k->state = ECHO;
          k->c = tlsfin_conn_wrap(k->ssl, k->fd);
          tlsfin_conn_set_nonblocking(k->c, true);
        } else {
          int e = SSL_get_error(k->ssl, r);
          if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            printf("end: handshake failed\n");
            epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
            close(k->fd);
            SSL_free(k->ssl);
            for (int j = 0; j < 256; j++)
              if (all[j] == k)
                all[j] = NULL;
            free(k);
            open_conns--;
          }
          continue;
        }
      }
      if (k->state == ECHO) {
        char buf[4096];
        int r;
        while ((r = tlsfin_conn_read(k->c, buf, sizeof buf)) > 0)
          SSL_write(k->ssl, buf, r); /* small echoes: fits the send buffer */
        if (r == TLSFIN_WANT_POLLIN || r == TLSFIN_WANT_POLLOUT)
          continue;
        k->state = CLOSING; /* the client ended (close_notify, EOF, RST) */
      }
      if (k->state == CLOSING && closing(ep, k)) {
        for (int j = 0; j < 256; j++)
          if (all[j] == k)
            all[j] = NULL;
        open_conns--;
      }
    }
    /* idle connections: we end them, gracefully */
    double t = now_ms();
    for (int j = 0; j < 256; j++) {
      struct client *k = all[j];
      if (k && k->state == ECHO && t - k->last > idle_ms) {
        k->state = CLOSING;
        if (closing(ep, k)) {
          all[j] = NULL;
          open_conns--;
        }
      }
    }
  }
  SSL_CTX_free(ctx);
  close(ls);
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* The seed 000 fix: a client keeps its keep-alive connection in a
 * tlsfin_pool; when it is done, the pool closes the idle connection with
 * close_notify instead of dropping it.  usage: pool_client HOST PORT */
#include <stdlib.h>

#include "common.h"
#include "tlsfin/tlsfin.h"

static void report(void *arg, const char *key, const struct tlsfin_end *e) {
  (void)arg;
  char why[256];
  printf("pool closed %s: %s: %s\n", key,
         tlsfin_verdict_name(tlsfin_end_verdict(e)),
         tlsfin_strend(e, why, sizeof why));
}

static int get(SSL *s, struct tlsfin_conn *c, const char *host) {
  char req[512], buf[65536];
  snprintf(req, sizeof req, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
  SSL_write(s, req, (int)strlen(req));
  int n = tlsfin_conn_read(c, buf, sizeof buf); /* one read: a small page */
  return n;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  char key[300];
  snprintf(key, sizeof key, "%s:%s", argv[1], argv[2]);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  struct tlsfin_pool *pool = tlsfin_pool_new(5000, 2000);
  tlsfin_pool_set_observer(pool, report, NULL);
  for (int i = 0; i < 3; i++) {
    struct tlsfin_conn *c = tlsfin_pool_get(pool, key);
    int fd, n = 0;
    SSL *s = NULL;
    if (c) {
      s = tlsfin_conn_ssl(c);
      printf("request %d: reusing the pooled connection\n", i + 1);
      n = get(s, c, argv[1]);
      if (n <= 0) {
        /* the server closed it between the check and the request (a race
         * no check can win): close it properly, retry on a new one, as
         * HTTP clients do for idempotent requests */
        tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000);
        report(NULL, key, tlsfin_conn_end(c));
        tlsfin_conn_free(c);
        SSL_free(s);
        c = NULL;
      }
    }
    if (!c) {
      s = example_connect(ctx, argv[1], argv[2], &fd);
      if (!s) {
        fprintf(stderr, "%s: cannot connect\n", key);
        return 2;
      }
      c = tlsfin_conn_wrap(s, fd);
      printf("request %d: new connection\n", i + 1);
      n = get(s, c, argv[1]);
    }
    printf("  %d bytes\n", n);
    tlsfin_pool_put(pool, key, c); /* back to the keep-alive pool */
  }
  tlsfin_pool_free(pool); /* close_notify to every idle connection */
  SSL_CTX_free(ctx);
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* A blocking HTTPS client that ends its connection right and says how it
 * ended.  usage: blocking_client HOST PORT [graceful|fast|abort] */
#include <stdlib.h>

#include <stdio.h>
#include <string.h>
#include "tlsfin/tlsfin.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s HOST PORT [graceful|fast|abort]\n", argv[0]);
    return 2;
  }
  enum tlsfin_close_mode mode = TLSFIN_CLOSE_GRACEFUL;
  if (argc > 3)
    mode = !strcmp(argv[3], "fast")    ? TLSFIN_CLOSE_FAST
           : !strcmp(argv[3], "abort") ? TLSFIN_CLOSE_ABORT
                                       : TLSFIN_CLOSE_GRACEFUL;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* an example: no PKI */
  const char *err;
  struct tlsfin_conn *c =
      tlsfin_conn_connect(ctx, argv[1], argv[2], 3000, &err);
  if (!c) {
    fprintf(stderr, "%s:%s: %s\n", argv[1], argv[2], err);
    return 2;
  }
  SSL *s = tlsfin_conn_ssl(c);
  char req[512], buf[4096];
  snprintf(req, sizeof req, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", argv[1]);
  SSL_write(s, req, (int)strlen(req));
  int n, total = 0;
  /* HTTP/1.0: the server ends the response by closing; tlsfin_conn_read
   * says whether it did so with close_notify or truncated it */
  while ((n = tlsfin_conn_read(c, buf, sizeof buf)) > 0)
    total += n;
  tlsfin_conn_close(c, mode, 2000);
  char why[256];
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  printf("%d bytes; %s: %s\n", total,
         tlsfin_verdict_name(tlsfin_end_verdict(e)),
         tlsfin_strend(e, why, sizeof why));
  tlsfin_conn_free(c); /* and the SSL object: tlsfin_conn_connect made it */
  SSL_CTX_free(ctx);
  return 0;
}

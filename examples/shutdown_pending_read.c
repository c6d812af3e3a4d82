/* SPDX-License-Identifier: BSD-2-Clause */
/* Seed 001 done right in C with non-blocking I/O: a read is pending (the
 * event loop is waiting for server data) when the user asks to quit.  The
 * naive sequence (call SSL_shutdown from the quit handler while the read
 * is armed) gives Asio's "decryption failed"/"operation canceled"
 * confusion; here the read is simply dropped from the loop and the close
 * runs as one non-blocking state machine, whose end record tells a normal
 * end from a truncation.  usage: shutdown_pending_read HOST PORT */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "common.h"
#include "tlsfin/tlsfin.h"

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s HOST PORT\n", argv[0]);
    return 2;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  int fd;
  SSL *s = example_connect(ctx, argv[1], argv[2], &fd);
  if (!s) {
    fprintf(stderr, "cannot connect\n");
    return 2;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  struct tlsfin_conn *c = tlsfin_conn_wrap(s, fd);
  tlsfin_conn_set_nonblocking(c, true);
  /* 1. the loop waits for server data ("async_read_some" pending) */
  char buf[4096];
  struct pollfd pf = {fd, POLLIN, 0};
  poll(&pf, 1, 200); /* ... the user presses "quit" meanwhile */
  /* 2. quit: the pending read is not cancelled into an error, it is just
   * no longer the loop's business; the close takes over the descriptor */
  int r;
  while ((r = tlsfin_conn_close(c, TLSFIN_CLOSE_GRACEFUL, 2000)) ==
             TLSFIN_WANT_POLLIN ||
         r == TLSFIN_WANT_POLLOUT) {
    pf.events = r == TLSFIN_WANT_POLLIN ? POLLIN : POLLOUT;
    poll(&pf, 1, 2000);
  }
  (void)buf;
  char why[256];
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  printf("%s: %s\n", tlsfin_verdict_name(tlsfin_end_verdict(e)),
         tlsfin_strend(e, why, sizeof why));
  tlsfin_conn_free(c);
  SSL_free(s);
  SSL_CTX_free(ctx);
  return 0;
}

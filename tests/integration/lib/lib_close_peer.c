/* SPDX-License-Identifier: BSD-2-Clause */
/* Connects to HOST PORT with OpenSSL, sends a line, reads the reply, closes
 * with libtlsfin in MODE (graceful|fast|abort) and prints one JSON line:
 * the library's end record and verdict.  usage: lib_close_peer PORT MODE */
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlsfin/tlsfin.h"

int main(int argc, char **argv) {
  if (argc != 3)
    return 2;
  signal(SIGPIPE, SIG_IGN);
  enum tlsfin_close_mode mode = !strcmp(argv[2], "graceful")
                                    ? TLSFIN_CLOSE_GRACEFUL
                                : !strcmp(argv[2], "fast") ? TLSFIN_CLOSE_FAST
                                                           : TLSFIN_CLOSE_ABORT;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(argv[1]));
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    return 3;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  if (SSL_connect(s) != 1)
    return 4;
  SSL_write(s, "hello\n", 6);
  usleep(100000); /* let the server echo and send its session tickets */
  struct tlsfin_conn *c = tlsfin_conn_wrap(s, fd);
  int r = tlsfin_conn_close(c, mode, 2000);
  const struct tlsfin_end *e = tlsfin_conn_end(c);
  char sentence[256];
  printf(
      "{\"mode\":\"%s\",\"rc\":%d,\"verdict\":\"%s\",\"close_notify_sent\":%s,"
      "\"close_notify_received\":%s,\"rst_received\":%s,\"local_abort\":%s,"
      "\"explain\":\"%s\"}\n",
      argv[2], r, tlsfin_verdict_name(tlsfin_end_verdict(e)),
      e->close_notify_sent ? "true" : "false",
      e->close_notify_received ? "true" : "false",
      e->rst_received ? "true" : "false", e->local_abort ? "true" : "false",
      tlsfin_strend(e, sentence, sizeof sentence));
  tlsfin_conn_free(c);
  SSL_free(s);
  SSL_CTX_free(ctx);
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by the examples: a blocking TCP+TLS client connection. */
#ifndef TLSFIN_EXAMPLES_COMMON_H
#define TLSFIN_EXAMPLES_COMMON_H
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connects to host:port and completes a TLS handshake; NULL on failure. */
static inline SSL *example_connect(SSL_CTX *ctx, const char *host,
                                   const char *port, int *fdp) {
  struct addrinfo hints = {0}, *res;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0)
    return NULL;
  int fd = socket(res->ai_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
    freeaddrinfo(res);
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  freeaddrinfo(res);
  SSL *s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  SSL_set_tlsext_host_name(s, host);
  if (SSL_connect(s) != 1) {
    SSL_free(s);
    close(fd);
    return NULL;
  }
  *fdp = fd;
  return s;
}
#endif

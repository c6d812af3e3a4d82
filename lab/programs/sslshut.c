/* SPDX-License-Identifier: BSD-2-Clause */
/* sslshut — the ways an OpenSSL application ends a TLS connection (seed 004).
 *
 *   sslshut server PORT CERT KEY MODE          one connection, then exit
 *   sslshut client PORT MODE VERSION KEYLOG    VERSION: 1.2 or 1.3
 *
 * MODE (both sides get the same one):
 *   uni       client: SSL_shutdown() once (close_notify sent), close() at
 *             once.  Server: answers with its own close_notify 50 ms later,
 *             which reaches a closed socket -> RST from the client.
 *   bidi      client: SSL_shutdown() until it returns 1 (peer's close_notify
 *             received), then close().  Server: the same on its side.
 *   appdata   client: reads the first part of a streamed response, then
 *             SSL_shutdown(); the server keeps streaming, so the second
 *             SSL_shutdown() meets application data after close_notify.
 *             The client then close()s with that data unread -> RST.
 *   nonblock  bidi on a non-blocking socket: SSL_shutdown() is retried on
 *             SSL_ERROR_WANT_READ/WANT_WRITE until it returns 1; the server
 *             answers 100 ms late so retries are needed; prints the count.
 *   early     client: reads one record of a 64 KB response, decides it is
 *             bad, SSL_shutdown() once and close() with the rest unread -> RST.
 *
 * Everything the program observes (return values, SSL_get_error, the OpenSSL
 * error queue, errno) is printed on stdout, one line each.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static FILE *keylog;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void msleep(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Print what OpenSSL says about the last call: the SSL_get_error code, the
 * error queue (e.g. "application data after close notify") and errno. */
static void report(SSL *ssl, const char *what, int ret) {
  if (ret == 0 && strstr(what, "SSL_shutdown")) {
    /* 0 is not an error here: ours is sent, the peer's not yet received. */
    say("%s returned 0: close_notify sent", what);
    return;
  }
  int e = SSL_get_error(ssl, ret);
  int saved = errno;
  static const char *names[] = {"SSL_ERROR_NONE",
                                "SSL_ERROR_SSL",
                                "SSL_ERROR_WANT_READ",
                                "SSL_ERROR_WANT_WRITE",
                                "SSL_ERROR_WANT_X509_LOOKUP",
                                "SSL_ERROR_SYSCALL",
                                "SSL_ERROR_ZERO_RETURN"};
  say("%s returned %d: %s%s%s", what, ret,
      e >= 0 && e <= 6 ? names[e] : "other",
      e == SSL_ERROR_SYSCALL && saved ? " errno: " : "",
      e == SSL_ERROR_SYSCALL && saved ? strerror(saved) : "");
  unsigned long code;
  char buf[256];
  while ((code = ERR_get_error()) != 0) {
    ERR_error_string_n(code, buf, sizeof buf);
    say("  openssl error: %s", buf);
  }
}

static void keylog_cb(const SSL *ssl, const char *line) {
  (void)ssl;
  if (keylog) {
    fprintf(keylog, "%s\n", line);
    fflush(keylog);
  }
}

static int wait_fd(int fd, short ev, int ms) {
  struct pollfd p = {.fd = fd, .events = ev};
  return poll(&p, 1, ms);
}

static int server(int port, const char *cert, const char *key,
                  const char *mode) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!SSL_CTX_use_certificate_file(ctx, cert, SSL_FILETYPE_PEM) ||
      !SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
    ERR_print_errors_fp(stdout);
    return 1;
  }
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1)) {
    perror("bind/listen");
    return 1;
  }
  say("ready %d", port);
  int fd = accept(ls, NULL, NULL);
  close(ls);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  int r = SSL_accept(ssl);
  if (r != 1) {
    report(ssl, "SSL_accept", r);
    return 1;
  }
  say("server: handshake %s %s", SSL_get_version(ssl), SSL_get_cipher(ssl));
  char buf[16384];
  r = SSL_read(ssl, buf, sizeof buf);
  say("server: request %d bytes", r);

  if (!strcmp(mode, "appdata")) {
    /* Stream 1000-byte chunks 100 ms apart without reading, each in its own
     * segment (TCP_NODELAY): the client's close_notify goes out after the
     * first, so the next chunks really follow it on the wire. */
    int nodelay = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
    memset(buf, 'x', 1000);
    for (int i = 0; i < 10; i++) {
      r = SSL_write(ssl, buf, 1000);
      if (r <= 0) {
        report(ssl, "server: SSL_write", r);
        break;
      }
      msleep(100);
    }
    say("server: streamed until chunk end or error");
  } else if (!strcmp(mode, "early")) {
    static char big[65536];
    memset(big, 'y', sizeof big);
    r = SSL_write(ssl, big, sizeof big);
    say("server: wrote %d bytes", r);
    r = SSL_read(ssl, buf, sizeof buf);
    report(ssl, "server: SSL_read", r);
    /* A second read sees what the client's close() did. */
    r = SSL_read(ssl, buf, sizeof buf);
    report(ssl, "server: SSL_read", r);
  } else {
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    SSL_write(ssl, resp, (int)strlen(resp));
    r = SSL_read(ssl, buf, sizeof buf);
    report(ssl, "server: SSL_read", r);
    if (!strcmp(mode, "uni"))
      msleep(50); /* ordering: the client's FIN is in before we answer */
    if (!strcmp(mode, "nonblock"))
      msleep(100); /* make the client's SSL_shutdown() wait for us */
    r = SSL_shutdown(ssl);
    report(ssl, "server: SSL_shutdown", r);
    if (!strcmp(mode, "uni")) {
      msleep(50);
      r = SSL_read(ssl, buf, sizeof buf);
      report(ssl, "server: SSL_read after shutdown", r);
    }
  }
  close(fd);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  say("server: closed");
  return 0;
}

static int client(int port, const char *mode, const char *ver,
                  const char *keylog_path) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int v = !strcmp(ver, "1.2") ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, v);
  SSL_CTX_set_max_proto_version(ctx, v);
  keylog = fopen(keylog_path, "a");
  SSL_CTX_set_keylog_callback(ctx, keylog_cb);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    perror("connect");
    return 1;
  }
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "tlsfin.test");
  int r = SSL_connect(ssl);
  if (r != 1) {
    report(ssl, "SSL_connect", r);
    return 1;
  }
  say("client: handshake %s %s", SSL_get_version(ssl), SSL_get_cipher(ssl));
  const char *req = "GET / HTTP/1.1\r\nHost: tlsfin.test\r\n\r\n";
  SSL_write(ssl, req, (int)strlen(req));
  char buf[16384];
  r = SSL_read(ssl, buf, sizeof buf);
  say("client: read %d bytes", r);

  if (!strcmp(mode, "early")) {
    /* The rest of the response is arriving: let it land in the receive
     * buffer before giving up (ordering, not readiness). */
    wait_fd(fd, POLLIN, 1000);
    msleep(20);
  }
  if (!strcmp(mode, "uni") || !strcmp(mode, "early")) {
    /* RFC 8446 §6.1: a side may close its write direction and need not wait
     * for the peer's close_notify.  One SSL_shutdown() call sends ours. */
    r = SSL_shutdown(ssl);
    report(ssl, "client: SSL_shutdown", r);
  } else if (!strcmp(mode, "bidi") || !strcmp(mode, "appdata")) {
    r = SSL_shutdown(ssl);
    report(ssl, "client: SSL_shutdown", r);
    if (r == 0) {
      r = SSL_shutdown(ssl); /* waits for the peer's close_notify */
      report(ssl, "client: SSL_shutdown (2nd)", r);
    }
    if (!strcmp(mode, "appdata")) {
      /* More of the stream is on its way: close() with it unread. */
      wait_fd(fd, POLLIN, 1000);
    }
  } else if (!strcmp(mode, "nonblock")) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int retries = 0, want_read = 0, want_write = 0;
    for (;;) {
      r = SSL_shutdown(ssl);
      if (r == 1)
        break;
      if (r == 0) { /* sent ours; call again to receive theirs */
        retries++;
        continue;
      }
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ) {
        want_read++;
        wait_fd(fd, POLLIN, 2000);
      } else if (e == SSL_ERROR_WANT_WRITE) {
        want_write++;
        wait_fd(fd, POLLOUT, 2000);
      } else {
        report(ssl, "client: SSL_shutdown", r);
        break;
      }
      retries++;
    }
    say("client: non-blocking SSL_shutdown returned %d after %d retries "
        "(%d SSL_ERROR_WANT_READ, %d SSL_ERROR_WANT_WRITE)",
        r, retries, want_read, want_write);
  }
  close(fd);
  say("client: closed");
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  if (keylog)
    fclose(keylog);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN); /* see EPIPE as an error, not a death */
  if (argc == 6 && !strcmp(argv[1], "server"))
    return server(atoi(argv[2]), argv[3], argv[4], argv[5]);
  if (argc == 6 && !strcmp(argv[1], "client"))
    return client(atoi(argv[2]), argv[3], argv[4], argv[5]);
  fprintf(stderr, "usage: sslshut server PORT CERT KEY MODE | client PORT "
                  "MODE VERSION KEYLOG\n");
  return 2;
}

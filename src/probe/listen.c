/*
 * tlsfin probe --listen: act as a TLS server and report how each client
 * that connects behaves: the versions it offers, whether it sends
 * close_notify before its FIN, and how it reacts when the server misbehaves
 * (--behave).  One client at a time, every step under a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsfin/probe.h"
#include "tlsfin/taxonomy.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

const char *tlsfin_behave_name(enum tlsfin_behave b) {
  static const char *n[] = {"close-notify", "fin-mid-response", "reset",
                            "idle-close"};
  return (int)b >= 0 && b < 4 ? n[b] : NULL;
}
int tlsfin_behave_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, tlsfin_behave_name((enum tlsfin_behave)i)))
      return i;
  return -1;
}

/* The highest version a ClientHello offers (supported_versions first). */
static int client_hello_cb(SSL *s, int *al, void *arg) {
  (void)al;
  struct tlsfin_listen_client *r = arg;
  const unsigned char *ext;
  size_t len;
  unsigned max = SSL_client_hello_get0_legacy_version(s);
  if (SSL_client_hello_get0_ext(s, 43, &ext, &len) && len >= 1) {
    for (size_t i = 1; i + 1 < len && i < (size_t)ext[0] + 1; i += 2) {
      unsigned v = (unsigned)ext[i] << 8 | ext[i + 1];
      if ((v & 0x0f0f) != 0x0a0a && v <= 0x0304 && v > max)
        max = v;
    }
  }
  r->client_max_version = (uint16_t)max;
  return SSL_CLIENT_HELLO_SUCCESS;
}

static int make_cert(SSL_CTX *ctx) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *x = X509_new();
  if (!k || !x)
    return -1;
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, k);
  X509_NAME *n = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                             (const unsigned char *)"tlsfin-probe", -1, -1, 0);
  X509_set_issuer_name(x, n);
  X509_sign(x, k, EVP_sha256());
  int ok = SSL_CTX_use_certificate(ctx, x) == 1 &&
           SSL_CTX_use_PrivateKey(ctx, k) == 1;
  X509_free(x);
  EVP_PKEY_free(k);
  return ok ? 0 : -1;
}

/* Waits for the client's end after ours, or its reaction: close_notify
 * (then FIN/RST), bare FIN, RST, more data, or nothing. */
static void observe_client(SSL *s, int fd, double deadline,
                           struct tlsfin_listen_client *r) {
  char buf[4096];
  r->reaction = TLSFIN_CLOSE_NOTHING;
  for (;;) {
    int n = SSL_read(s, buf, sizeof buf);
    if (n > 0) {
      r->reaction = TLSFIN_CLOSE_DATA;
      continue;
    }
    int e = SSL_get_error(s, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      struct pollfd pf = {fd, POLLIN, 0};
      int left = (int)(deadline - now_ms());
      if (left <= 0 || poll(&pf, 1, left) != 1)
        break;
      continue;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
      r->reaction = TLSFIN_CLOSE_CLOSE_NOTIFY;
      r->sent_close_notify = true;
      /* then its FIN? */
      struct pollfd pf = {fd, POLLIN, 0};
      int left = (int)(deadline - now_ms());
      if (left > 0 && poll(&pf, 1, left) == 1) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        r->then = k == 0                         ? TLSFIN_CLOSE_FIN
                  : k < 0 && errno == ECONNRESET ? TLSFIN_CLOSE_RST
                                                 : TLSFIN_CLOSE_DATA;
      }
    } else if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET) {
      r->reaction = TLSFIN_CLOSE_RST;
    } else {
      r->reaction = TLSFIN_CLOSE_FIN; /* EOF without close_notify */
    }
    ERR_clear_error();
    break;
  }
  r->ms = 0;
}

int tlsfin_probe_listen(const char *addr, enum tlsfin_behave behave, int count,
                        int timeout_ms,
                        void (*report)(void *arg,
                                       const struct tlsfin_listen_client *c),
                        void *arg, char *err, size_t errlen) {
  char host[256] = "127.0.0.1", port[16];
  const char *colon = strrchr(addr, ':');
  if (colon) {
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) {
      snprintf(err, errlen, "--listen '%s': address too long", addr);
      return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = 0;
    snprintf(port, sizeof port, "%s", colon + 1);
  } else {
    snprintf(port, sizeof port, "%s", addr);
  }
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  if (getaddrinfo(host, port, &hints, &res) != 0) {
    snprintf(err, errlen, "--listen '%s': expected [ADDRESS:]PORT", addr);
    return -1;
  }
  int ls = socket(res->ai_family, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, res->ai_addr, res->ai_addrlen) != 0 || listen(ls, 16) != 0) {
    snprintf(err, errlen, "--listen %s: %s", addr, strerror(errno));
    freeaddrinfo(res);
    close(ls);
    return -1;
  }
  freeaddrinfo(res);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_security_level(ctx, 0); /* let old clients show themselves */
  if (make_cert(ctx) < 0) {
    snprintf(err, errlen, "cannot make a certificate");
    SSL_CTX_free(ctx);
    close(ls);
    return -1;
  }
  fprintf(stderr, "tlsfin probe: listening on %s (behave %s)\n", addr,
          tlsfin_behave_name(behave));
  for (int served = 0; !count || served < count; served++) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0)
      continue;
    struct tlsfin_listen_client r;
    memset(&r, 0, sizeof r);
    r.then = TLSFIN_CLOSE_SKIPPED;
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    getpeername(fd, (struct sockaddr *)&peer, &pl);
    getnameinfo((struct sockaddr *)&peer, pl, r.peer, sizeof r.peer, NULL, 0,
                NI_NUMERICHOST);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, &r);
    SSL *s = SSL_new(ctx);
    SSL_set_fd(s, fd);
    double t0 = now_ms(), deadline = t0 + timeout_ms;
    int ok = 0;
    for (;;) {
      int k = SSL_accept(s);
      if (k == 1) {
        ok = 1;
        break;
      }
      int e = SSL_get_error(s, k);
      struct pollfd pf = {fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0};
      int left = (int)(deadline - now_ms());
      if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
          left <= 0 || poll(&pf, 1, left) != 1)
        break;
    }
    ERR_clear_error();
    if (ok) {
      r.version = (uint16_t)SSL_version(s);
      const char *sni = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name);
      snprintf(r.sni, sizeof r.sni, "%s", sni ? sni : "");
      /* read the request (whatever the client sends first) */
      char buf[4096];
      for (;;) {
        int n = SSL_read(s, buf, sizeof buf);
        if (n > 0) {
          r.request = true;
          if (memmem(buf, (size_t)n, "\r\n\r\n", 4) || n < (int)sizeof buf)
            break;
          continue;
        }
        int e = SSL_get_error(s, n);
        struct pollfd pf = {fd, POLLIN, 0};
        int left = (int)(deadline - now_ms());
        if (e != SSL_ERROR_WANT_READ || left <= 0 || poll(&pf, 1, left) != 1)
          break;
      }
      static const char body[] = "hello from tlsfin probe\n";
      char resp[256];
      int full = snprintf(
          resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
          sizeof body - 1 +
              (behave == TLSFIN_BEHAVE_FIN_MID_RESPONSE ? 1000 : 0),
          body);
      SSL_write(s, resp, full);
      switch (behave) {
      case TLSFIN_BEHAVE_CLOSE_NOTIFY:
        SSL_shutdown(s); /* our close_notify: does the client answer? */
        shutdown(fd, SHUT_WR);
        break;
      case TLSFIN_BEHAVE_FIN_MID_RESPONSE:
        shutdown(fd, SHUT_WR); /* 1000 body bytes short, no close_notify */
        break;
      case TLSFIN_BEHAVE_RESET: {
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        r.reaction = TLSFIN_CLOSE_SKIPPED;
        break;
      }
      case TLSFIN_BEHAVE_IDLE_CLOSE:
        break; /* keep-alive: how does the client close an idle connection? */
      }
      if (behave != TLSFIN_BEHAVE_RESET)
        observe_client(s, fd, deadline, &r);
    } else {
      snprintf(r.note, sizeof r.note, "handshake failed");
    }
    r.ms = now_ms() - t0;
    r.handshake = ok;
    report(arg, &r);
    SSL_free(s);
    close(fd);
  }
  SSL_CTX_free(ctx);
  close(ls);
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin probe --listen: act as a TLS server and report how each client
 * that connects behaves: the versions it offers, whether it sends
 * close_notify before its FIN, and how it reacts when the server misbehaves
 * (--behave).
 *
 * Clients are served concurrently by one thread: a poll() loop drives a
 * small state machine per client over non-blocking OpenSSL.  Not a pool of
 * threads: a client that connects and says nothing costs a thread for its
 * whole deadline, so a pool of N lets N idle connects hold a real client in
 * the backlog for a deadline or more; here an idle client costs a socket
 * and an SSL object, and the loop only ever waits in poll().  Each client
 * has its own deadline, counted from its accept(); every read loop checks it
 * on every pass, so a client that keeps sending cannot hold its slot.  At
 * most TLSFIN_LISTEN_MAX_CLIENTS are served at once (fewer when the file
 * limit is lower); the next connections wait in the kernel's listen backlog
 * until a slot frees, none is refused.  Each client is reported when it
 * finishes, in the order clients finish.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tlsfin/probe.h"
#include "tlsfin/taxonomy.h"

#include "internal.h"

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
  (void)arg;
  struct tlsfin_listen_client *r = SSL_get_app_data(s);
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

enum cstate {
  ST_HANDSHAKE, /* SSL_accept */
  ST_REQUEST,   /* read whatever the client sends first */
  ST_RESPOND,   /* our response, then our --behave */
  ST_OBSERVE,   /* the client's reaction */
  ST_THEN,      /* after its close_notify: FIN, RST or data? */
  ST_DONE
};

struct client {
  int fd;
  SSL *s;
  enum cstate st;
  short want; /* poll events the state waits for */
  double t0, deadline;
  struct tlsfin_listen_client r;
};

struct server {
  enum tlsfin_behave behave;
  char resp[256];
  int resp_len;
};

/* Reads in one step at most this many times, then lets the others run:
 * one client flooding us must not starve the rest between its deadlines. */
#define STEP_READS 64

static void set_want(struct client *c, int e) {
  c->want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
}

/* Advances c as far as it can go without waiting.  Returns when it waits
 * (c->want set) or is done. */
static void step(struct server *sv, struct client *c) {
  char buf[4096];
  int reads = 0;
  while (c->st != ST_DONE) {
    bool late = tf_probe_now_ms() >= c->deadline;
    switch (c->st) {
    case ST_HANDSHAKE: {
      if (late) {
        snprintf(c->r.note, sizeof c->r.note, "handshake failed: timeout");
        c->st = ST_DONE;
        break;
      }
      int k = SSL_accept(c->s);
      if (k == 1) {
        c->r.handshake = true;
        c->r.version = (uint16_t)SSL_version(c->s);
        const char *sni = SSL_get_servername(c->s, TLSEXT_NAMETYPE_host_name);
        snprintf(c->r.sni, sizeof c->r.sni, "%s", sni ? sni : "");
        c->st = ST_REQUEST;
        break;
      }
      int e = SSL_get_error(c->s, k);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        set_want(c, e);
        return;
      }
      unsigned long ee = ERR_peek_error();
      const char *why = ee ? ERR_reason_error_string(ee) : NULL;
      snprintf(c->r.note, sizeof c->r.note, "handshake failed%s%s",
               why ? ": " : "", why ? why : "");
      ERR_clear_error();
      c->st = ST_DONE;
      break;
    }
    case ST_REQUEST: {
      /* at the deadline we still answer: the observation then ends at
       * once with "nothing", as it always did */
      if (late) {
        c->st = ST_RESPOND;
        break;
      }
      if (reads++ == STEP_READS) {
        c->want = POLLIN;
        return;
      }
      int n = SSL_read(c->s, buf, sizeof buf);
      if (n > 0) {
        c->r.request = true;
        if (memmem(buf, (size_t)n, "\r\n\r\n", 4) || n < (int)sizeof buf)
          c->st = ST_RESPOND;
        break;
      }
      int e = SSL_get_error(c->s, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        set_want(c, e);
        return;
      }
      ERR_clear_error();
      c->st = ST_RESPOND; /* it closed or failed: answer anyway */
      break;
    }
    case ST_RESPOND: {
      int k = SSL_write(c->s, sv->resp, sv->resp_len);
      if (k <= 0 && !late) {
        int e = SSL_get_error(c->s, k);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
          set_want(c, e);
          return;
        }
      }
      ERR_clear_error();
      switch (sv->behave) {
      case TLSFIN_BEHAVE_CLOSE_NOTIFY:
        SSL_shutdown(c->s); /* our close_notify: does the client answer? */
        shutdown(c->fd, SHUT_WR);
        break;
      case TLSFIN_BEHAVE_FIN_MID_RESPONSE:
        shutdown(c->fd, SHUT_WR); /* 1000 body bytes short, no close_notify */
        break;
      case TLSFIN_BEHAVE_RESET: {
        struct linger lg = {1, 0}; /* the close() below sends the RST */
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        c->r.reaction = TLSFIN_CLOSE_SKIPPED;
        c->st = ST_DONE;
        continue;
      }
      case TLSFIN_BEHAVE_IDLE_CLOSE:
        break; /* keep-alive: how does the client close an idle connection? */
      }
      ERR_clear_error();
      c->r.reaction = TLSFIN_CLOSE_NOTHING;
      c->st = ST_OBSERVE;
      break;
    }
    case ST_OBSERVE: {
      if (late || reads++ == STEP_READS) {
        if (late) {
          c->st = ST_DONE; /* reaction: nothing, or data if it sent some */
          break;
        }
        c->want = POLLIN;
        return;
      }
      int n = SSL_read(c->s, buf, sizeof buf);
      if (n > 0) {
        c->r.reaction = TLSFIN_CLOSE_DATA;
        break;
      }
      int e = SSL_get_error(c->s, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        set_want(c, e);
        return;
      }
      if (e == SSL_ERROR_ZERO_RETURN) {
        c->r.reaction = TLSFIN_CLOSE_CLOSE_NOTIFY;
        c->r.sent_close_notify = true;
        c->st = ST_THEN;
        ERR_clear_error();
        break;
      }
      if (e == SSL_ERROR_SYSCALL && errno == ECONNRESET)
        c->r.reaction = TLSFIN_CLOSE_RST;
      else if (e == SSL_ERROR_SSL)
        c->r.reaction = tf_ssl_failure(c->r.note, sizeof c->r.note);
      else
        c->r.reaction = TLSFIN_CLOSE_FIN; /* EOF without close_notify */
      ERR_clear_error();
      c->st = ST_DONE;
      break;
    }
    case ST_THEN: {
      if (late) {
        c->st = ST_DONE;
        break;
      }
      ssize_t k = recv(c->fd, buf, sizeof buf, 0);
      if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->want = POLLIN;
        return;
      }
      c->r.then = k == 0                         ? TLSFIN_CLOSE_FIN
                  : k < 0 && errno == ECONNRESET ? TLSFIN_CLOSE_RST
                                                 : TLSFIN_CLOSE_DATA;
      c->st = ST_DONE;
      break;
    }
    case ST_DONE:
      break;
    }
  }
}

/* How many clients at once: the cap, or what the file limit allows (it is
 * raised to the hard limit when needed). */
static int client_cap(void) {
  struct rlimit rl;
  rlim_t want = TLSFIN_LISTEN_MAX_CLIENTS + 32; /* + stdio, listener, slack */
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 64;
  if (rl.rlim_cur < want && rl.rlim_cur != RLIM_INFINITY) {
    rl.rlim_cur =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
    return TLSFIN_LISTEN_MAX_CLIENTS;
  return rl.rlim_cur > 64 ? (int)rl.rlim_cur - 32 : 16;
}

static struct client *new_client(SSL_CTX *ctx, int fd, int timeout_ms) {
  struct client *c = calloc(1, sizeof *c);
  SSL *s = c ? SSL_new(ctx) : NULL;
  if (!s) {
    free(c);
    close(fd);
    return NULL;
  }
  c->fd = fd;
  c->s = s;
  c->st = ST_HANDSHAKE;
  c->want = POLLIN;
  c->t0 = tf_probe_now_ms();
  c->deadline = c->t0 + timeout_ms;
  /* no reaction to report unless the handshake gets that far */
  c->r.reaction = c->r.then = TLSFIN_CLOSE_SKIPPED;
  struct sockaddr_storage peer;
  socklen_t pl = sizeof peer;
  if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0) {
    char serv[16] = "";
    getnameinfo((struct sockaddr *)&peer, pl, c->r.peer, sizeof c->r.peer, serv,
                sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV);
    c->r.peer_port = (uint16_t)atoi(serv);
    /* an IPv4 client of a dual-stack socket comes as ::ffff:a.b.c.d: it
     * is an IPv4 client, shown as one */
    if (!strncmp(c->r.peer, "::ffff:", 7) && strchr(c->r.peer, '.'))
      memmove(c->r.peer, c->r.peer + 7, strlen(c->r.peer + 7) + 1);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  SSL_set_fd(s, fd);
  SSL_set_app_data(s, &c->r);
  return c;
}

static void free_client(struct client *c) {
  SSL_free(c->s);
  close(c->fd);
  free(c);
}

/* The certificate: the user's (--cert/--key), checked against its key, or
 * a self-signed one. */
static int load_cert(SSL_CTX *ctx, const struct tlsfin_listen_opts *o,
                     char *err, size_t errlen) {
  if (!o->cert_file) {
    if (make_cert(ctx) == 0)
      return 0;
    snprintf(err, errlen, "cannot make a certificate");
    return -1;
  }
  /* unreadable files first: OpenSSL would only say "system lib" */
  const char *files[2] = {o->cert_file, o->key_file};
  const char *opts[2] = {"--cert", "--key"};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "r");
    if (!f) {
      snprintf(err, errlen, "%s %s: %s", opts[i], files[i], strerror(errno));
      return -1;
    }
    fclose(f);
  }
  const char *why = NULL;
  int bad = 0; /* which file */
  if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
    why = "no PEM certificate in it";
  } else {
    bad = 1;
    /* a key that does not match the certificate fails here already */
    if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) != 1)
      why = "not a PEM private key, or not the certificate's";
    else if (SSL_CTX_check_private_key(ctx) != 1)
      why = "not the key of the certificate";
  }
  unsigned long ee = ERR_peek_last_error();
  const char *detail = ee ? ERR_reason_error_string(ee) : NULL;
  ERR_clear_error();
  if (!why)
    return 0;
  snprintf(err, errlen, "%s %s: %s%s%s%s", opts[bad], files[bad], why,
           detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
  return -1;
}

/* [ADDRESS:]PORT: ADDRESS an IPv4 address or an IPv6 one in brackets
 * (a bare one is ambiguous: ::1:443). */
static int parse_listen(const char *addr, char *host, size_t hcap, char *port,
                        size_t pcap) {
  const char *colon = strrchr(addr, ':'), *h = addr;
  size_t hl = colon ? (size_t)(colon - addr) : 0;
  if (!colon) {
    snprintf(host, hcap, "127.0.0.1");
    snprintf(port, pcap, "%s", addr);
    return 0;
  }
  if (addr[0] == '[') {
    if (hl < 2 || addr[hl - 1] != ']')
      return -1;
    h++;
    hl -= 2;
  } else if (memchr(addr, ':', hl)) {
    return -1;
  }
  if (hl == 0 || hl >= hcap)
    return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  snprintf(port, pcap, "%s", colon + 1);
  return 0;
}

int tlsfin_probe_listen(const struct tlsfin_listen_opts *o,
                        void (*report)(void *arg,
                                       const struct tlsfin_listen_client *c),
                        void *arg, char *err, size_t errlen) {
  const char *addr = o->addr;
  enum tlsfin_behave behave = o->behave;
  int count = o->count, timeout_ms = o->timeout_ms;
  char host[256], port[16];
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  char *end;
  if (parse_listen(addr, host, sizeof host, port, sizeof port) < 0 ||
      strtol(port, &end, 10) < 1 || *end || strtol(port, NULL, 10) > 65535 ||
      getaddrinfo(host, port, &hints, &res) != 0) {
    snprintf(err, errlen,
             "--listen '%s': expected [ADDRESS:]PORT (IPv6 in brackets)", addr);
    return -1;
  }
  int cap = client_cap();
  int ls = socket(res->ai_family, SOCK_STREAM, 0), one = 1, zero = 0;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* [::] means every address, IPv4 ones too, even where the system
   * default (net.ipv6.bindv6only) says otherwise; a given IPv6 address
   * is that address only */
  if (res->ai_family == AF_INET6) {
    struct in6_addr any = IN6ADDR_ANY_INIT;
    bool dual =
        !memcmp(&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, &any, 16);
    setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one);
  }
  /* the backlog is where clients beyond the cap wait: as deep as the
   * kernel allows (net.core.somaxconn) */
  if (ls < 0 || bind(ls, res->ai_addr, res->ai_addrlen) != 0 ||
      listen(ls, SOMAXCONN) != 0) {
    snprintf(err, errlen, "--listen %s: %s", addr, strerror(errno));
    freeaddrinfo(res);
    if (ls >= 0)
      close(ls);
    return -1;
  }
  freeaddrinfo(res);
  fcntl(ls, F_SETFL, fcntl(ls, F_GETFL) | O_NONBLOCK);
  struct client **cl = calloc((size_t)cap, sizeof *cl);
  struct pollfd *pf = calloc((size_t)cap + 1, sizeof *pf);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!cl || !pf || !ctx) {
    snprintf(err, errlen, "out of memory");
    free(cl);
    free(pf);
    SSL_CTX_free(ctx);
    close(ls);
    return -1;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
  SSL_CTX_set_security_level(ctx, 0); /* let old clients show themselves */
  /* idle clients hold no read/write buffers: hundreds of them are cheap */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, NULL);
  if (load_cert(ctx, o, err, errlen) < 0) {
    free(cl);
    free(pf);
    SSL_CTX_free(ctx);
    close(ls);
    return -1;
  }
  struct server sv = {.behave = behave};
  static const char body[] = "hello from tlsfin probe\n";
  sv.resp_len = snprintf(
      sv.resp, sizeof sv.resp,
      "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
      sizeof body - 1 + (behave == TLSFIN_BEHAVE_FIN_MID_RESPONSE ? 1000 : 0),
      body);
  fprintf(stderr,
          "tlsfin probe: listening on %s (behave %s, up to %d clients at "
          "once)\n",
          addr, tlsfin_behave_name(behave), cap);
  int n = 0;                   /* clients in cl[] */
  long accepted = 0, done = 0; /* for --count */
  bool paused = false;         /* out of descriptors: wait for a slot */
  while (!count || done < count) {
    bool listening = n < cap && !paused && (!count || accepted < count);
    int np = 0, wait = -1;
    double now = tf_probe_now_ms();
    if (listening)
      pf[np++] = (struct pollfd){ls, POLLIN, 0};
    for (int i = 0; i < n; i++) {
      pf[np++] = (struct pollfd){cl[i]->fd, cl[i]->want, 0};
      int left = (int)(cl[i]->deadline - now + 1);
      if (left < 0)
        left = 0;
      if (wait < 0 || left < wait)
        wait = left;
    }
    if (np == 0)
      break; /* nothing left to wait for (cannot happen with count) */
    if (poll(pf, (nfds_t)np, wait) < 0 && errno != EINTR) {
      snprintf(err, errlen, "poll: %s", strerror(errno));
      break;
    }
    int base = listening ? 1 : 0;
    now = tf_probe_now_ms();
    /* clients first, so the indexes of pf[] still match cl[] */
    for (int i = 0; i < n; i++)
      if (pf[base + i].revents || now >= cl[i]->deadline)
        step(&sv, cl[i]);
    /* finished ones: reported in the order they finished */
    for (int i = 0; i < n;) {
      if (cl[i]->st != ST_DONE) {
        i++;
        continue;
      }
      cl[i]->r.ms = tf_probe_now_ms() - cl[i]->t0;
      report(arg, &cl[i]->r);
      free_client(cl[i]);
      cl[i] = cl[--n];
      done++;
      paused = false;
    }
    if (listening && (pf[0].revents & POLLIN)) {
      while (n < cap && (!count || accepted < count)) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
          if (errno == EMFILE || errno == ENFILE) {
            /* retry when one of ours has closed, or in a while when the
             * descriptors are someone else's: not in a busy loop */
            paused = n > 0;
            if (n == 0)
              poll(NULL, 0, 100);
          }
          break;
        }
        struct client *c = new_client(ctx, fd, timeout_ms);
        if (!c)
          break;
        accepted++;
        cl[n++] = c;
        step(&sv, c); /* its ClientHello may be here already */
      }
    }
  }
  for (int i = 0; i < n; i++)
    free_client(cl[i]);
  free(cl);
  free(pf);
  SSL_CTX_free(ctx);
  close(ls);
  return 0;
}

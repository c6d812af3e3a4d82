/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Keep-alive pool: idle TLS connections are closed with close_notify (not
 * dropped, not reset) when they expire and when the pool goes away, and a
 * connection is checked before reuse: a server that already sent
 * close_notify, FIN or RST is detected with SSL_peek, which processes
 * alerts and session tickets but leaves application data unread.
 */
#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tlsfin/tlsfin.h"

struct entry {
  struct entry *next;
  char *key;
  struct tlsfin_conn *c;
  double since;
};

struct tlsfin_pool {
  struct entry *head;
  int idle_ms, deadline_ms;
  void (*observer)(void *, const char *, const struct tlsfin_end *);
  void *arg;
  size_t n;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct tlsfin_pool *tlsfin_pool_new(int idle_ms, int close_deadline_ms) {
  struct tlsfin_pool *p = calloc(1, sizeof *p);
  if (p) {
    p->idle_ms = idle_ms;
    p->deadline_ms = close_deadline_ms;
  }
  return p;
}

void tlsfin_pool_set_observer(struct tlsfin_pool *p,
                              void (*fn)(void *, const char *,
                                         const struct tlsfin_end *),
                              void *arg) {
  if (!p)
    return;
  p->observer = fn;
  p->arg = arg;
}

size_t tlsfin_pool_size(const struct tlsfin_pool *p) { return p ? p->n : 0; }

/* Graceful close of a pooled connection, reported, then freed. */
static void retire(struct tlsfin_pool *p, struct entry *e) {
  SSL *ssl = tlsfin_conn_ssl(e->c);
  tlsfin_conn_close(e->c, TLSFIN_CLOSE_GRACEFUL, p->deadline_ms);
  if (p->observer)
    p->observer(p->arg, e->key, tlsfin_conn_end(e->c));
  bool owned = tf_conn_owns_ssl(e->c);
  tlsfin_conn_free(e->c);
  if (!owned)
    SSL_free(ssl);
  free(e->key);
  free(e);
  p->n--;
}

int tlsfin_pool_put(struct tlsfin_pool *p, const char *key,
                    struct tlsfin_conn *c) {
  if (!p || !key || !c) {
    errno = EINVAL;
    return -1;
  }
  /* A conn already closing, or whose descriptor is gone, would be handed
   * out again as if it were live (poll() ignores a closed fd). */
  int bad = tf_conn_fd_state(c);
  if (bad) {
    errno = bad;
    return -1;
  }
  struct entry *e = calloc(1, sizeof *e);
  if (!e || !(e->key = strdup(key))) {
    free(e);
    return -1;
  }
  e->c = c;
  e->since = now_ms();
  e->next = p->head;
  p->head = e;
  p->n++;
  return 0;
}

/* Is the idle connection still usable?  Nothing readable: yes.  Something
 * readable: let OpenSSL look without consuming application data. */
static bool alive(struct tlsfin_conn *c) {
  if (tf_conn_fd_state(c) != 0)
    return false; /* closed behind the pool's back: retire reports EBADF */
  SSL *ssl = tlsfin_conn_ssl(c);
  int fd = SSL_get_fd(ssl);
  struct pollfd pf = {fd, POLLIN, 0};
  if (poll(&pf, 1, 0) == 0 && !SSL_has_pending(ssl))
    return true;
  char b;
  /* tlsfin_conn_read's mapping, without consuming: SSL_peek */
  int r = SSL_peek(ssl, &b, 1);
  if (r > 0)
    return false; /* unsolicited data on an idle connection: not reusable */
  int err = SSL_get_error(ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
    return true; /* a session ticket or part of a record: still fine */
  ERR_clear_error();
  return false; /* close_notify, EOF, RST: the server ended it */
}

struct tlsfin_conn *tlsfin_pool_get(struct tlsfin_pool *p, const char *key) {
  if (!p || !key) {
    errno = EINVAL;
    return NULL;
  }
  struct entry **pp = &p->head;
  double now = now_ms();
  while (*pp) {
    struct entry *e = *pp;
    if (strcmp(e->key, key) != 0) {
      pp = &e->next;
      continue;
    }
    *pp = e->next;
    if (now - e->since <= p->idle_ms && alive(e->c)) {
      struct tlsfin_conn *c = e->c;
      free(e->key);
      free(e);
      p->n--;
      return c;
    }
    retire(p, e); /* expired or ended by the server: answer it properly */
  }
  return NULL;
}

int tlsfin_pool_expire(struct tlsfin_pool *p) {
  if (!p) {
    errno = EINVAL;
    return -1;
  }
  int n = 0;
  double now = now_ms();
  struct entry **pp = &p->head;
  while (*pp) {
    struct entry *e = *pp;
    if (now - e->since > p->idle_ms || !alive(e->c)) {
      *pp = e->next;
      retire(p, e);
      n++;
    } else {
      pp = &e->next;
    }
  }
  return n;
}

void tlsfin_pool_free(struct tlsfin_pool *p) {
  if (!p)
    return;
  while (p->head) {
    struct entry *e = p->head;
    p->head = e->next;
    retire(p, e); /* close_notify, not a reset: the seed 000 fix */
  }
  free(p);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Kernel events joined to connections by 4-tuple and time (kjoin.h). */
#include "kjoin.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* RSTs kept per endpoint pair: a reused 4-tuple can see several. */
#define RST_SLOTS 4
/* How far outside a connection's first/last packet an event may lie and
 * still be its own (the ring buffer and the capture are two paths with
 * their own delays). */
#define SLACK 2.0

struct proc {
  double ts;
  uint32_t pid;
  char comm[16];
  bool set;
};

struct entry {
  struct entry *hnext;       /* hash chain */
  struct entry *prev, *next; /* age list, oldest first */
  uint32_t hash;
  uint8_t af, laddr[16], raddr[16];
  uint16_t lport, rport;
  double updated;
  struct {
    double ts;
    const char *reason;
  } rst[RST_SLOTS];
  unsigned nrst;
  struct proc owner;  /* connect / accept: the process the socket is for */
  struct proc closer; /* close: who closed it (sockets older than watch) */
  /* what libssl told the application on this socket (TF_KEV_SSL) */
  struct {
    double first, last; /* times of the first and last such event */
    uint8_t nshutdown;
    int8_t shutdown[4];
    int error, error_arg; /* last SSL_get_error that ends, -1 none */
    struct proc who;
  } app;
};

struct tf_kjoin {
  struct entry **buckets;
  size_t nbuckets, n;
  struct entry *oldest, *newest;
};

struct tf_kjoin *tf_kjoin_new(void) {
  struct tf_kjoin *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->nbuckets = 4096;
  j->buckets = calloc(j->nbuckets, sizeof *j->buckets);
  if (!j->buckets) {
    free(j);
    return NULL;
  }
  return j;
}

static uint32_t key_hash(uint8_t af, const uint8_t *la, uint16_t lp,
                         const uint8_t *ra, uint16_t rp) {
  size_t n = af == 4 ? 4 : 16;
  uint32_t h = 2166136261u ^ af;
  for (size_t i = 0; i < n; i++)
    h = (h ^ la[i]) * 16777619u;
  for (size_t i = 0; i < n; i++)
    h = (h ^ ra[i]) * 16777619u;
  h = (h ^ lp) * 16777619u;
  h = (h ^ rp) * 16777619u;
  return h;
}

static struct entry *find(struct tf_kjoin *j, uint8_t af, const uint8_t *la,
                          uint16_t lp, const uint8_t *ra, uint16_t rp,
                          uint32_t h) {
  size_t n = af == 4 ? 4 : 16;
  for (struct entry *e = j->buckets[h & (j->nbuckets - 1)]; e; e = e->hnext)
    if (e->hash == h && e->af == af && e->lport == lp && e->rport == rp &&
        !memcmp(e->laddr, la, n) && !memcmp(e->raddr, ra, n))
      return e;
  return NULL;
}

static void age_unlink(struct tf_kjoin *j, struct entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    j->oldest = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    j->newest = e->prev;
  e->prev = e->next = NULL;
}

static void age_push(struct tf_kjoin *j, struct entry *e) {
  e->prev = j->newest;
  e->next = NULL;
  if (j->newest)
    j->newest->next = e;
  else
    j->oldest = e;
  j->newest = e;
}

static void drop(struct tf_kjoin *j, struct entry *e) {
  struct entry **pp = &j->buckets[e->hash & (j->nbuckets - 1)];
  while (*pp && *pp != e)
    pp = &(*pp)->hnext;
  if (*pp)
    *pp = e->hnext;
  age_unlink(j, e);
  free(e);
  j->n--;
}

static void grow(struct tf_kjoin *j) {
  size_t nb = j->nbuckets * 2;
  struct entry **b = calloc(nb, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < j->nbuckets; i++)
    for (struct entry *e = j->buckets[i], *n; e; e = n) {
      n = e->hnext;
      e->hnext = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
  free(j->buckets);
  j->buckets = b;
  j->nbuckets = nb;
}

/* SSL_ERROR_SSL (1), SSL_ERROR_SYSCALL (5) and SSL_ERROR_ZERO_RETURN (6)
 * are the codes with which OpenSSL tells an application that a connection
 * ended; the others (want read/write, ...) are not ends. */
static bool ending_error(int code) {
  return code == 1 || code == 5 || code == 6;
}

static void app_event(struct entry *e, const struct tf_kevent *ev) {
  bool shutdown = !strcmp(ev->ssl_func, "SSL_shutdown");
  bool error = !strcmp(ev->ssl_func, "SSL_get_error");
  if (!shutdown && !(error && ending_error(ev->ssl_ret)))
    return; /* a failed read is told by the SSL_get_error that follows */
  /* A reused 4-tuple starts over: an event long after the last one is
   * another connection's. */
  if (e->app.last && ev->ts - e->app.last > TF_KJOIN_MAX_AGE) {
    e->app.nshutdown = 0;
    e->app.error = -1;
    e->app.first = 0;
  }
  if (!e->app.first)
    e->app.first = ev->ts;
  e->app.last = ev->ts;
  if (shutdown && e->app.nshutdown < 4)
    e->app.shutdown[e->app.nshutdown++] =
        (int8_t)(ev->ssl_ret < -1  ? -1
                 : ev->ssl_ret > 1 ? 1
                                   : ev->ssl_ret);
  if (error) {
    e->app.error = ev->ssl_ret;
    e->app.error_arg = ev->ssl_arg;
  }
  e->app.who.ts = ev->ts;
  e->app.who.pid = ev->pid;
  memcpy(e->app.who.comm, ev->comm, sizeof e->app.who.comm);
  e->app.who.comm[sizeof e->app.who.comm - 1] = 0;
  e->app.who.set = true;
}

void tf_kjoin_event(struct tf_kjoin *j, const struct tf_kevent *ev) {
  if (ev->type == TF_KEV_RST_RECV || (ev->af != 4 && ev->af != 6))
    return;
  if (ev->type == TF_KEV_SSL && !ev->ssl_func)
    return;
  uint32_t h = key_hash(ev->af, ev->laddr, ev->lport, ev->raddr, ev->rport);
  struct entry *e =
      find(j, ev->af, ev->laddr, ev->lport, ev->raddr, ev->rport, h);
  if (!e) {
    if (j->n >= TF_KJOIN_MAX_ENTRIES)
      drop(j, j->oldest);
    if (!(e = calloc(1, sizeof *e)))
      return;
    e->hash = h;
    e->af = ev->af;
    memcpy(e->laddr, ev->laddr, 16);
    memcpy(e->raddr, ev->raddr, 16);
    e->lport = ev->lport;
    e->rport = ev->rport;
    e->app.error = -1;
    e->hnext = j->buckets[h & (j->nbuckets - 1)];
    j->buckets[h & (j->nbuckets - 1)] = e;
    if (++j->n > j->nbuckets)
      grow(j);
  } else {
    age_unlink(j, e);
  }
  e->updated = ev->ts;
  age_push(j, e);
  if (ev->type == TF_KEV_RST_SENT) {
    /* the latest RSTs: when full, the oldest makes room */
    if (e->nrst == RST_SLOTS) {
      memmove(&e->rst[0], &e->rst[1], sizeof e->rst[0] * (RST_SLOTS - 1));
      e->nrst--;
    }
    e->rst[e->nrst].ts = ev->ts;
    e->rst[e->nrst].reason = ev->reason_name;
    e->nrst++;
    return;
  }
  if (ev->type == TF_KEV_SSL) {
    app_event(e, ev);
    return;
  }
  bool owner = ev->proc_event && strcmp(ev->proc_event, "close") != 0;
  struct proc *p = owner ? &e->owner : &e->closer;
  p->ts = ev->ts;
  p->pid = ev->pid;
  memcpy(p->comm, ev->comm, sizeof p->comm);
  p->comm[sizeof p->comm - 1] = 0;
  p->set = true;
}

static bool within(double ts, const struct tf_conn *c) {
  return ts >= c->first_ts - SLACK && ts <= c->last_ts + SLACK;
}

void tf_kjoin_apply(struct tf_kjoin *j, struct tf_conn *c) {
  for (int d = 0; d < 2; d++) {
    const struct tf_side *l = &c->s[d], *r = &c->s[!d];
    uint32_t h = key_hash(c->af, l->addr, l->port, r->addr, r->port);
    struct entry *e = find(j, c->af, l->addr, l->port, r->addr, r->port, h);
    if (!e)
      continue;
    struct tf_kside *k = &c->kern[d];
    /* The RST closest in time to the one this side sent on the wire. */
    if (l->rst) {
      double best = SLACK;
      for (unsigned i = 0; i < e->nrst; i++) {
        double dt = fabs(e->rst[i].ts - l->rst_ts);
        if (e->rst[i].reason && dt <= best) {
          best = dt;
          k->rst_reason = e->rst[i].reason;
          k->local = true;
        }
      }
    }
    const struct proc *p = e->owner.set && within(e->owner.ts, c) ? &e->owner
                           : e->closer.set && within(e->closer.ts, c)
                               ? &e->closer
                               : NULL;
    if (p) {
      k->local = true;
      k->has_proc = true;
      k->pid = p->pid;
      memcpy(k->comm, p->comm, sizeof k->comm);
    }
    /* The application's view: its libssl calls on this socket while the
     * connection lived (a close may come after the last packet). */
    if (e->app.who.set && e->app.last >= c->first_ts - SLACK &&
        e->app.first <= c->last_ts + SLACK) {
      k->local = true;
      k->has_app = true;
      k->nshutdown = e->app.nshutdown;
      memcpy(k->shutdown, e->app.shutdown, sizeof k->shutdown);
      k->ssl_error = e->app.error;
      k->ssl_error_arg = e->app.error_arg;
      k->app_pid = e->app.who.pid;
      memcpy(k->app_comm, e->app.who.comm, sizeof k->app_comm);
    }
  }
}

void tf_kjoin_expire(struct tf_kjoin *j, double now) {
  while (j->oldest && j->oldest->updated + TF_KJOIN_MAX_AGE < now)
    drop(j, j->oldest);
}

size_t tf_kjoin_size(const struct tf_kjoin *j) { return j->n; }

void tf_kjoin_free(struct tf_kjoin *j) {
  if (!j)
    return;
  while (j->oldest)
    drop(j, j->oldest);
  free(j->buckets);
  free(j);
}

/* SPDX-License-Identifier: BSD-2-Clause */
#include "keylog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"

struct entry {
  struct entry *next;
  uint64_t hash;
  uint8_t cr[32];
  struct tf_keys keys;
};

/* Chained hash table keyed by the client random under a keyed hash
 * (siphash.h): a key log can hold millions of lines, and its randoms are
 * chosen by whoever made the connections. */
struct tf_keylog {
  struct entry **b;
  size_t nb, n;
  /* Readers (analyze -j shards, watch -j threads) look up while a reader
   * of the inputs adds the keys it meets (pcapng DSB, a growing file).
   * Entries are never freed before the log: a found entry stays valid. */
  pthread_rwlock_t lock;
};

#define KL_MIN_BUCKETS 1024

struct tf_keylog *tf_keylog_new(void) {
  struct tf_keylog *k = calloc(1, sizeof *k);
  if (!k)
    return NULL;
  k->nb = KL_MIN_BUCKETS;
  if (!(k->b = calloc(k->nb, sizeof *k->b))) {
    free(k);
    return NULL;
  }
  pthread_rwlock_init(&k->lock, NULL);
  return k;
}

void tf_keylog_free(struct tf_keylog *k) {
  if (!k)
    return;
  for (size_t i = 0; i < k->nb; i++) {
    struct entry *e = k->b[i];
    while (e) {
      struct entry *n = e->next;
      free(e);
      e = n;
    }
  }
  free(k->b);
  pthread_rwlock_destroy(&k->lock);
  free(k);
}

/* Doubles the buckets so chains stay about one entry long; on failure the
 * chains just get longer. */
static void grow(struct tf_keylog *k) {
  size_t nb = k->nb * 2;
  struct entry **b = calloc(nb, sizeof *b);
  if (!b)
    return;
  for (size_t i = 0; i < k->nb; i++)
    for (struct entry *e = k->b[i], *n; e; e = n) {
      n = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
    }
  free(k->b);
  k->b = b;
  k->nb = nb;
}

static struct entry *lookup(const struct tf_keylog *k, const uint8_t cr[32],
                            uint64_t h) {
  for (struct entry *e = k->b[h & (k->nb - 1)]; e; e = e->next)
    if (e->hash == h && !memcmp(e->cr, cr, 32))
      return e;
  return NULL;
}

const struct tf_keys *tf_keylog_find(const struct tf_keylog *k,
                                     const uint8_t cr[32]) {
  if (!k)
    return NULL;
  struct tf_keylog *w = (struct tf_keylog *)k; /* the lock only */
  pthread_rwlock_rdlock(&w->lock);
  const struct entry *e = lookup(k, cr, tf_siphash(cr, 32));
  pthread_rwlock_unlock(&w->lock);
  return e ? &e->keys : NULL;
}

void tf_keylog_read(const struct tf_keylog *k, const struct tf_keys *e,
                    struct tf_keys *out) {
  struct tf_keylog *w = (struct tf_keylog *)k; /* the lock only */
  pthread_rwlock_rdlock(&w->lock);
  *out = *e;
  pthread_rwlock_unlock(&w->lock);
}

size_t tf_keylog_count(const struct tf_keylog *k) {
  /* read for every packet while no key log is adopted: no lock */
  return k ? __atomic_load_n(&k->n, __ATOMIC_RELAXED) : 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes exactly the hex word [s, e) into out (at most max bytes). */
static int unhex(const char *s, const char *e, uint8_t *out, size_t max) {
  size_t n = (size_t)(e - s);
  if (n == 0 || n % 2 || n / 2 > max)
    return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return (int)(n / 2);
}

/* Labels indexed by enum tf_secret. */
static const char *const secret_label[TF_SECRET_COUNT] = {
    [TF_SECRET_MASTER] = "CLIENT_RANDOM",
    [TF_SECRET_CLIENT_HS] = "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    [TF_SECRET_SERVER_HS] = "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    [TF_SECRET_CLIENT_AP0] = "CLIENT_TRAFFIC_SECRET_0",
    [TF_SECRET_SERVER_AP0] = "SERVER_TRAFFIC_SECRET_0",
};

size_t tf_keylog_format(const struct tf_keys *k, const uint8_t cr[32],
                        char *out, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t used = 0;
  for (int w = 0; w < TF_SECRET_COUNT; w++) {
    size_t need = strlen(secret_label[w]) + 1 + 64 + 1 + 2u * k->len[w] + 1;
    if (!k->len[w] || used + need >= n)
      continue;
    used += (size_t)snprintf(out + used, n - used, "%s ", secret_label[w]);
    for (int i = 0; i < 32; i++) {
      out[used++] = hex[cr[i] >> 4];
      out[used++] = hex[cr[i] & 15];
    }
    out[used++] = ' ';
    for (int i = 0; i < k->len[w]; i++) {
      out[used++] = hex[k->secret[w][i] >> 4];
      out[used++] = hex[k->secret[w][i] & 15];
    }
    out[used++] = '\n';
    out[used] = 0;
  }
  return used;
}

static int label_of(const char *s, size_t n) {
  for (int w = 0; w < TF_SECRET_COUNT; w++)
    if (strlen(secret_label[w]) == n && !memcmp(secret_label[w], s, n))
      return w;
  /* Known labels that carry nothing tlsfin needs. */
  if ((n == 15 && !memcmp(s, "EXPORTER_SECRET", 15)) ||
      (n == 21 && !memcmp(s, "EARLY_EXPORTER_SECRET", 21)) ||
      (n == 27 && !memcmp(s, "CLIENT_EARLY_TRAFFIC_SECRET", 27)))
    return TF_SECRET_COUNT;
  return -1;
}

/* One line; returns 1 added, 0 ignorable, -1 malformed. */
static int add_line(struct tf_keylog *k, const char *s, const char *end) {
  while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
    s++;
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    end--;
  if (s == end || *s == '#')
    return 0;
  const char *w[3];
  const char *we[3];
  int nw = 0;
  const char *p = s;
  while (p < end && nw < 3) {
    w[nw] = p;
    while (p < end && *p != ' ' && *p != '\t')
      p++;
    we[nw++] = p;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
  }
  if (nw != 3 || p != end)
    return -1;
  int which = label_of(w[0], (size_t)(we[0] - w[0]));
  if (which < 0)
    return -1;
  uint8_t cr[32], secret[sizeof((struct tf_keys *)0)->secret[0]];
  if (unhex(w[1], we[1], cr, 32) != 32)
    return -1;
  int slen = unhex(w[2], we[2], secret, sizeof secret);
  if (slen < 0 || (which == TF_SECRET_MASTER && slen != 48))
    return -1;
  if (which == TF_SECRET_COUNT)
    return 0;
  uint64_t h = tf_siphash(cr, 32);
  struct entry *e = lookup(k, cr, h);
  if (!e) {
    e = calloc(1, sizeof *e);
    if (!e)
      return 0;
    memcpy(e->cr, cr, 32);
    e->hash = h;
    e->next = k->b[h & (k->nb - 1)];
    k->b[h & (k->nb - 1)] = e;
    __atomic_store_n(&k->n, k->n + 1, __ATOMIC_RELAXED);
    if (k->n > k->nb)
      grow(k);
  }
  e->keys.len[which] = (uint8_t)slen;
  memcpy(e->keys.secret[which], secret, (size_t)slen);
  return 1;
}

int tf_keylog_add_text(struct tf_keylog *k, const char *text, size_t len,
                       unsigned *bad, unsigned *first_bad_line) {
  int added = 0;
  unsigned line = 0;
  pthread_rwlock_wrlock(&k->lock);
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    line++;
    int r = add_line(k, p, le);
    if (r > 0)
      added++;
    else if (r < 0) {
      if (bad)
        (*bad)++;
      if (first_bad_line && !*first_bad_line)
        *first_bad_line = line;
    }
    p = nl ? nl + 1 : end;
  }
  pthread_rwlock_unlock(&k->lock);
  return added;
}

int tf_keylog_load_file(struct tf_keylog *k, const char *path, char *err,
                        size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  /* Line by line through a fixed buffer: memory follows the keys, not the
   * file (a million lines were read whole, 256 MB of buffer).  No key log
   * line is longer than ~300 bytes; a longer one is malformed and skipped
   * to its end. */
  char line[1024];
  unsigned bad = 0, first = 0, lineno = 0;
  int added = 0;
  while (fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    lineno++;
    if (n == sizeof line - 1 && line[n - 1] != '\n') {
      int ch;
      while ((ch = fgetc(f)) != EOF && ch != '\n')
        ;
      bad++;
      if (!first)
        first = lineno;
      continue;
    }
    int r = add_line(k, line, line + n - (n && line[n - 1] == '\n'));
    if (r > 0)
      added++;
    else if (r < 0) {
      bad++;
      if (!first)
        first = lineno;
    }
  }
  int read_error = ferror(f);
  fclose(f);
  if (read_error) {
    snprintf(err, errlen, "%s: read error", path);
    return -1;
  }
  if (added == 0 && bad > 0) {
    snprintf(err, errlen,
             "%s: not an SSLKEYLOGFILE (line %u: expected 'LABEL "
             "<64 hex client random> <hex secret>')",
             path, first);
    return -1;
  }
  if (bad)
    snprintf(err, errlen, "%s: %u malformed line(s) ignored, first at line %u",
             path, bad, first);
  else if (errlen)
    err[0] = 0;
  return added;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* External sort in bounded memory (xsort.h). */
#include "xsort.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A record on disk: its key and length (host order: the file is this
 * process's own and unlinked), then its bytes. */
#define HDR (sizeof(uint64_t) + sizeof(uint32_t))
#define STAGE (1u << 16)    /* writes to the file go out in blocks this big */
#define RBUF_MIN 4096u      /* a run's read buffer, at least */
#define RBUF_MAX (1u << 16) /* and at most */
#define MEM_MAX (1u << 30)  /* offsets in the memory run are 32 bits */

/* A record of the run in memory: its bytes are arena[off, off + len). */
struct mrec {
  uint64_t key;
  uint32_t off, len;
};

/* A source of the merge: a run on disk, or (the last) the run in memory. */
struct src {
  uint64_t pos, end; /* disk: the run's bytes not yet read */
  char *buf;         /* disk: [bstart, bend) read, not yet taken */
  size_t cap, bstart, bend;
  size_t i; /* memory: the next record's index */
  /* the head: the source's smallest record not yet taken */
  uint64_t key;
  const char *p;
  uint32_t len;
};

struct run {
  uint64_t start, end;
};

struct tf_xsort {
  size_t mem;
  char *arena;
  size_t alen, acap;
  struct mrec *recs;
  size_t n, rcap;
  struct tf_spill file; /* the runs, made at the first */
  struct run *runs;
  size_t nruns, runcap;
  uint64_t count;
  bool finished, failed;
  /* reading: a heap of source indices, smallest head first (equal keys:
   * the lower index, i.e. the earlier run) */
  struct src *srcs;
  size_t nsrcs;
  size_t *heap, nheap;
  long taken; /* the source whose head was last returned, -1 */
  char err[256];
};

static int fail(struct tf_xsort *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct tf_xsort *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->err, sizeof x->err, fmt, ap);
  va_end(ap);
  x->failed = true;
  return -1;
}

struct tf_xsort *tf_xsort_new(size_t mem) {
  struct tf_xsort *x = calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->mem = mem < 64 ? 64 : mem > MEM_MAX ? MEM_MAX : mem;
  x->file.cap = STAGE;
  x->taken = -1;
  return x;
}

void tf_xsort_free(struct tf_xsort *x) {
  if (!x)
    return;
  tf_spill_close(&x->file);
  for (size_t i = 0; i < x->nsrcs; i++)
    free(x->srcs[i].buf);
  free(x->srcs);
  free(x->heap);
  free(x->runs);
  free(x->recs);
  free(x->arena);
  free(x);
}

const char *tf_xsort_error(const struct tf_xsort *x) { return x->err; }
uint64_t tf_xsort_count(const struct tf_xsort *x) { return x->count; }
size_t tf_xsort_runs(const struct tf_xsort *x) { return x->nruns; }

const char *tf_tmp_dir(void) {
  const char *d = getenv("TMPDIR");
  return d && *d ? d : "/tmp";
}

int tf_tmp_fd(char *err, size_t errlen) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/tlsfin-tmp-XXXXXX", tf_tmp_dir()) >=
      (int)sizeof path) {
    snprintf(err, errlen, "TMPDIR is too long");
    return -1;
  }
  int fd = mkstemp(path);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create a temporary file in %s: %s",
             tf_tmp_dir(), strerror(errno));
    return -1;
  }
  unlink(path); /* nothing is left behind, even after a crash */
  return fd;
}

int tf_pwrite_all(int fd, const void *p, size_t n, uint64_t off) {
  const char *s = p;
  while (n) {
    ssize_t w = pwrite(fd, s, n, (off_t)off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (w == 0)
        errno = ENOSPC;
      return -1;
    }
    s += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

int tf_pread_all(int fd, void *p, size_t n, uint64_t off) {
  char *s = p;
  while (n) {
    ssize_t r = pread(fd, s, n, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r == 0)
        errno = EIO; /* the file is shorter than what was written */
      return -1;
    }
    s += r;
    n -= (size_t)r;
    off += (uint64_t)r;
  }
  return 0;
}

size_t tf_sort_budget(size_t dflt) {
  const char *m = getenv("TLSFIN_SORT_MEM");
  return m && *m ? (size_t)strtoull(m, NULL, 10) : dflt;
}

static int spill_fail(struct tf_spill *s, const char *what, int e) {
  snprintf(s->err, sizeof s->err, "%s a temporary file in %s: %s", what,
           tf_tmp_dir(), strerror(e));
  return -1;
}

int tf_spill_open(struct tf_spill *s) {
  if (!s->open) {
    if ((s->fd = tf_tmp_fd(s->err, sizeof s->err)) < 0)
      return -1;
    s->open = true;
  }
  return 0;
}

/* The block to the file. */
static int spill_flush(struct tf_spill *s) {
  if (s->len && tf_pwrite_all(s->fd, s->stage, s->len, s->disk) < 0)
    return spill_fail(s, "writing", errno);
  s->disk += s->len;
  s->len = 0;
  return 0;
}

int tf_spill_append(struct tf_spill *s, const void *p, size_t n,
                    uint64_t *off) {
  if (tf_spill_open(s) < 0)
    return -1;
  if (!s->stage && !(s->stage = malloc(s->cap))) {
    snprintf(s->err, sizeof s->err, "out of memory");
    return -1;
  }
  *off = s->disk + s->len;
  if (s->len + n > s->cap && spill_flush(s) < 0) /* the block out first */
    return -1;
  if (n > s->cap) { /* bigger than a block: straight out */
    if (tf_pwrite_all(s->fd, p, n, s->disk) < 0)
      return spill_fail(s, "writing", errno);
    s->disk += n;
  } else {
    if (n)
      memcpy(s->stage + s->len, p, n);
    s->len += n;
  }
  return 0;
}

int tf_spill_appendv(struct tf_spill *s, struct iovec *iov, int cnt,
                     uint64_t *off) {
  /* the block first: the file stays in append order */
  if (tf_spill_open(s) < 0 || spill_flush(s) < 0)
    return -1;
  *off = s->disk;
  while (cnt > 0) {
    ssize_t w =
        pwritev(s->fd, iov, cnt < IOV_MAX ? cnt : IOV_MAX, (off_t)s->disk);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return spill_fail(s, "writing", w == 0 ? ENOSPC : errno);
    s->disk += (uint64_t)w;
    /* past what was written; a vector written in part is resumed */
    while (cnt > 0 && (size_t)w >= iov->iov_len) {
      w -= (ssize_t)iov->iov_len;
      iov++;
      cnt--;
    }
    if (cnt > 0) {
      iov->iov_base = (char *)iov->iov_base + w;
      iov->iov_len -= (size_t)w;
    }
  }
  return 0;
}

int tf_spill_read(struct tf_spill *s, uint64_t off, void *p, size_t n) {
  char *d = p;
  if (off < s->disk) { /* the part in the file */
    size_t k = off + n <= s->disk ? n : (size_t)(s->disk - off);
    if (tf_pread_all(s->fd, d, k, off) < 0)
      return spill_fail(s, "reading", errno);
    d += k;
    n -= k;
    off += k;
  }
  if (n) { /* the part still in the block */
    if (off - s->disk + n > s->len) {
      snprintf(s->err, sizeof s->err, "read past the end of a spill");
      return -1;
    }
    memcpy(d, s->stage + (off - s->disk), n);
  }
  return 0;
}

void tf_spill_close(struct tf_spill *s) {
  if (s->open)
    close(s->fd);
  free(s->stage);
  s->open = false;
  s->stage = NULL;
  s->len = 0;
  s->disk = 0;
}

static int by_key(const void *a, const void *b) {
  const struct mrec *p = a, *q = b;
  if (p->key != q->key)
    return p->key < q->key ? -1 : 1;
  return p->off < q->off ? -1 : p->off > q->off; /* the order added */
}

/* The run in memory, sorted, to the end of the file. */
static int spill(struct tf_xsort *x) {
  if (x->nruns == x->runcap) {
    size_t cap = x->runcap ? x->runcap * 2 : 16;
    struct run *r = realloc(x->runs, cap * sizeof *r);
    if (!r)
      return fail(x, "out of memory");
    x->runs = r;
    x->runcap = cap;
  }
  qsort(x->recs, x->n, sizeof *x->recs, by_key);
  uint64_t start = x->file.disk + x->file.len, at;
  for (size_t i = 0; i < x->n; i++) {
    const struct mrec *m = &x->recs[i];
    char hdr[HDR];
    memcpy(hdr, &m->key, sizeof m->key);
    memcpy(hdr + sizeof m->key, &m->len, sizeof m->len);
    if (tf_spill_append(&x->file, hdr, HDR, &at) < 0 ||
        tf_spill_append(&x->file, x->arena + m->off, m->len, &at) < 0)
      return fail(x, "%s", x->file.err);
  }
  x->runs[x->nruns++] = (struct run){start, x->file.disk + x->file.len};
  x->n = 0;
  x->alen = 0;
  return 0;
}

int tf_xsort_add(struct tf_xsort *x, uint64_t key, const void *p, size_t len) {
  if (x->failed)
    return -1;
  if (x->finished)
    return fail(x, "a record added after the end");
  if (len >= (size_t)INT32_MAX)
    return fail(x, "a record of %zu bytes is too large", len);
  /* past the budget, what is in memory goes to disk first */
  if (x->n && x->alen + len + (x->n + 1) * sizeof *x->recs > x->mem &&
      spill(x) < 0)
    return -1;
  if (x->alen + len > x->acap) {
    size_t cap = x->acap ? x->acap : 4096;
    while (cap < x->alen + len)
      cap *= 2;
    char *a = realloc(x->arena, cap);
    if (!a)
      return fail(x, "out of memory");
    x->arena = a;
    x->acap = cap;
  }
  if (x->n == x->rcap) {
    size_t cap = x->rcap ? x->rcap * 2 : 256;
    struct mrec *r = realloc(x->recs, cap * sizeof *r);
    if (!r)
      return fail(x, "out of memory");
    x->recs = r;
    x->rcap = cap;
  }
  if (len)
    memcpy(x->arena + x->alen, p, len);
  x->recs[x->n++] = (struct mrec){key, (uint32_t)x->alen, (uint32_t)len};
  x->alen += len;
  x->count++;
  return 0;
}

/* ---- reading: a k-way merge ---- */

/* Has [bstart, bstart + want) of a disk source in its buffer: 1, 0 when
 * the run has ended before any of it, -1 when it ends inside (the file is
 * not what was written). */
static int fill(struct tf_xsort *x, struct src *s, size_t want) {
  while (s->bend - s->bstart < want) {
    if (s->pos == s->end) {
      if (s->bend == s->bstart)
        return 0;
      return fail(x, "a temporary file in %s was cut short", tf_tmp_dir());
    }
    if (s->bstart) { /* what is left to the front */
      memmove(s->buf, s->buf + s->bstart, s->bend - s->bstart);
      s->bend -= s->bstart;
      s->bstart = 0;
    }
    if (want > s->cap) {
      char *b = realloc(s->buf, want);
      if (!b)
        return fail(x, "out of memory");
      s->buf = b;
      s->cap = want;
    }
    size_t room = s->cap - s->bend;
    if (room > s->end - s->pos)
      room = (size_t)(s->end - s->pos);
    if (tf_spill_read(&x->file, s->pos, s->buf + s->bend, room) < 0)
      return fail(x, "%s", x->file.err);
    s->bend += room;
    s->pos += room;
  }
  return 1;
}

/* Loads source k's next record as its head: 1, 0 when it has none, -1. */
static int load(struct tf_xsort *x, size_t k) {
  struct src *s = &x->srcs[k];
  if (k == x->nruns) { /* the run in memory */
    if (s->i == x->n)
      return 0;
    const struct mrec *m = &x->recs[s->i++];
    s->key = m->key;
    s->p = x->arena + m->off;
    s->len = m->len;
    return 1;
  }
  int rc = fill(x, s, HDR);
  if (rc <= 0)
    return rc;
  uint32_t len;
  memcpy(&s->key, s->buf + s->bstart, sizeof s->key);
  memcpy(&len, s->buf + s->bstart + sizeof s->key, sizeof len);
  if (len >= (uint32_t)INT32_MAX)
    return fail(x, "a temporary file in %s is corrupt", tf_tmp_dir());
  if ((rc = fill(x, s, HDR + len)) <= 0)
    return rc < 0
               ? -1
               : fail(x, "a temporary file in %s was cut short", tf_tmp_dir());
  s->p = s->buf + s->bstart + HDR;
  s->len = len;
  s->bstart += HDR + len;
  return 1;
}

static bool before(const struct tf_xsort *x, size_t a, size_t b) {
  const struct src *p = &x->srcs[a], *q = &x->srcs[b];
  return p->key != q->key ? p->key < q->key : a < b;
}

static void sift_down(struct tf_xsort *x, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, m = i;
    if (l < x->nheap && before(x, x->heap[l], x->heap[m]))
      m = l;
    if (l + 1 < x->nheap && before(x, x->heap[l + 1], x->heap[m]))
      m = l + 1;
    if (m == i)
      return;
    size_t t = x->heap[i];
    x->heap[i] = x->heap[m];
    x->heap[m] = t;
    i = m;
  }
}

int tf_xsort_finish(struct tf_xsort *x) {
  if (x->failed)
    return -1;
  if (x->finished)
    return 0;
  x->finished = true;
  if (x->n) /* qsort's base may not be NULL, even for nothing */
    qsort(x->recs, x->n, sizeof *x->recs, by_key);
  x->nsrcs = x->nruns + 1;
  x->srcs = calloc(x->nsrcs, sizeof *x->srcs);
  x->heap = calloc(x->nsrcs, sizeof *x->heap);
  if (!x->srcs || !x->heap)
    return fail(x, "out of memory");
  /* half the budget for the runs' buffers, the run in memory beside them */
  size_t each = x->nruns ? x->mem / 2 / x->nruns : 0;
  each = each < RBUF_MIN ? RBUF_MIN : each > RBUF_MAX ? RBUF_MAX : each;
  for (size_t k = 0; k < x->nsrcs; k++) {
    struct src *s = &x->srcs[k];
    if (k < x->nruns) {
      s->pos = x->runs[k].start;
      s->end = x->runs[k].end;
      if (!(s->buf = malloc(each)))
        return fail(x, "out of memory");
      s->cap = each;
    }
    int rc = load(x, k);
    if (rc < 0)
      return -1;
    if (rc)
      x->heap[x->nheap++] = k;
  }
  for (size_t i = x->nheap / 2; i-- > 0;)
    sift_down(x, i);
  return 0;
}

/* The source whose head was returned moves on to its next record (only
 * now: the caller held a pointer into its buffer until this call). */
static int advance(struct tf_xsort *x) {
  if (x->taken < 0)
    return 0;
  size_t k = (size_t)x->taken;
  x->taken = -1;
  int rc = load(x, k);
  if (rc < 0)
    return -1;
  if (!rc)
    x->heap[0] = x->heap[--x->nheap];
  sift_down(x, 0);
  return 0;
}

int tf_xsort_peek(struct tf_xsort *x, uint64_t *key) {
  if (x->failed)
    return -1;
  if (!x->finished)
    return fail(x, "read before the end of the records");
  if (advance(x) < 0)
    return -1;
  if (!x->nheap)
    return 0;
  *key = x->srcs[x->heap[0]].key;
  return 1;
}

int tf_xsort_next(struct tf_xsort *x, uint64_t *key, const void **p,
                  size_t *len) {
  int rc = tf_xsort_peek(x, key);
  if (rc <= 0)
    return rc;
  const struct src *s = &x->srcs[x->heap[0]];
  *p = s->p;
  *len = s->len;
  x->taken = (long)x->heap[0];
  return 1;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * An external sort of (key, bytes) records in bounded memory: records are
 * kept in memory up to a budget, then each full batch is sorted and written
 * to an unlinked temporary file as a run; reading merges the runs.  Records
 * with equal keys come back in the order they were added.
 *
 * Used where something must be written in an order other than the one it
 * was made in, for as many connections as a capture holds: --annotate's
 * notes are made when a connection ends and written at their packet.
 */
#ifndef TLSFIN_ANALYZE_XSORT_H
#define TLSFIN_ANALYZE_XSORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct tf_xsort;

/* mem: the budget in bytes for records kept in memory (and, when
 * reading, for the runs' read buffers); runs go to $TMPDIR (or /tmp).
 * NULL when out of memory. */
struct tf_xsort *tf_xsort_new(size_t mem);
void tf_xsort_free(struct tf_xsort *x);
/* The last error, one line ("" when none). */
const char *tf_xsort_error(const struct tf_xsort *x);

/* Adds a record (len < 2^31): 0, or -1 (out of memory, the temporary
 * file cannot be written). */
int tf_xsort_add(struct tf_xsort *x, uint64_t key, const void *p, size_t len);
/* No more records: reading may start.  0 or -1. */
int tf_xsort_finish(struct tf_xsort *x);
/* The next record in (key, order added): 1 with *p valid until the next
 * call, 0 at the end, -1 on a read error. */
int tf_xsort_next(struct tf_xsort *x, uint64_t *key, const void **p,
                  size_t *len);
/* The next record's key without taking it: 1, 0 at the end, -1. */
int tf_xsort_peek(struct tf_xsort *x, uint64_t *key);

/* An unlinked temporary file in $TMPDIR (or /tmp), read and written:
 * its descriptor, or -1 with a one-line message in err. */
int tf_tmp_fd(char *err, size_t errlen);
const char *tf_tmp_dir(void); /* $TMPDIR, or /tmp */
/* All n bytes at off, or -1 with errno (ENOSPC for a write that wrote
 * nothing, EIO for a file that ended first). */
int tf_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
int tf_pread_all(int fd, void *p, size_t n, uint64_t off);

/* A memory budget: TLSFIN_SORT_MEM (bytes) when set, which the tests use
 * to send small captures through the temporary files; otherwise dflt. */
size_t tf_sort_budget(size_t dflt);

/* An append-only temporary file written in blocks of cap bytes: what was
 * appended reads back at its offset, also while it still waits in the
 * block.  Zero it, set cap, and the file is made at the first append. */
struct tf_spill {
  size_t cap;    /* the block's size */
  int fd;        /* the file, once open */
  bool open;     /* fd is the file */
  char *stage;   /* the block not yet written */
  size_t len;    /* bytes in stage */
  uint64_t disk; /* bytes in the file: stage holds [disk, disk + len) */
  char err[256]; /* why the last call failed */
};
/* Makes the file if it is not made yet: 0, or -1 with err set. */
int tf_spill_open(struct tf_spill *s);
/* Appends n bytes, *off where they start: 0, or -1 with err set. */
int tf_spill_append(struct tf_spill *s, const void *p, size_t n, uint64_t *off);
/* Appends cnt vectors (consumed: iov is changed) after anything in the
 * block, *off where they start: 0, or -1 with err set. */
int tf_spill_appendv(struct tf_spill *s, struct iovec *iov, int cnt,
                     uint64_t *off);
/* n bytes at off (appended before, whole): 0, or -1 with err set. */
int tf_spill_read(struct tf_spill *s, uint64_t off, void *p, size_t n);
void tf_spill_close(struct tf_spill *s);

/* Records added, and runs written to the temporary file (tests). */
uint64_t tf_xsort_count(const struct tf_xsort *x);
size_t tf_xsort_runs(const struct tf_xsort *x);

#endif

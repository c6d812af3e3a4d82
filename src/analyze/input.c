/* SPDX-License-Identifier: BSD-2-Clause */
/* Capture files as stdio streams, decompressed when they are gzip or
 * Zstandard (input.h). */
#include "input.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

/* ---- gzip: zlib's gzFile already streams ---- */

static ssize_t gz_read(void *cookie, char *buf, size_t n) {
  if (n > (1u << 30))
    n = 1u << 30;
  int r = gzread((gzFile)cookie, buf, (unsigned)n);
  if (r < 0) {
    errno = EIO;
    return -1;
  }
  return r;
}

static int gz_close(void *cookie) { return gzclose((gzFile)cookie); }

/* ---- Zstandard: a streaming decompressor over the raw file ---- */

struct zst {
  FILE *raw;
  ZSTD_DStream *ds;
  void *in;
  size_t in_cap;
  ZSTD_inBuffer ib;
  bool eof;
};

static ssize_t zst_read(void *cookie, char *buf, size_t n) {
  struct zst *z = cookie;
  ZSTD_outBuffer ob = {buf, n, 0};
  while (ob.pos == 0) {
    if (z->ib.pos == z->ib.size) {
      if (z->eof)
        return 0;
      z->ib.src = z->in;
      z->ib.size = fread(z->in, 1, z->in_cap, z->raw);
      z->ib.pos = 0;
      if (z->ib.size == 0) {
        if (ferror(z->raw)) {
          errno = EIO;
          return -1;
        }
        z->eof = true;
        return 0;
      }
    }
    size_t r = ZSTD_decompressStream(z->ds, &ob, &z->ib);
    if (ZSTD_isError(r)) {
      errno = EILSEQ; /* corrupt data: libpcap reports a read error */
      return -1;
    }
  }
  return (ssize_t)ob.pos;
}

static int zst_close(void *cookie) {
  struct zst *z = cookie;
  ZSTD_freeDStream(z->ds);
  free(z->in);
  int rc = fclose(z->raw);
  free(z);
  return rc;
}

FILE *tf_input_open(const char *path, enum tf_compression *kind) {
  *kind = TF_COMP_NONE;
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  /* Only a regular file can be sniffed and rewound: a FIFO or a process
   * substitution is read as it is (zcat in front decompresses it). */
  struct stat st;
  if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode))
    return f;
  unsigned char m[4] = {0};
  size_t got = fread(m, 1, sizeof m, f);
  if (got >= 2 && m[0] == 0x1f && m[1] == 0x8b) { /* RFC 1952 */
    fclose(f);
    gzFile g = gzopen(path, "rb");
    if (!g)
      return NULL;
    gzbuffer(g, 1u << 17);
    FILE *s = fopencookie(
        g, "rb", (cookie_io_functions_t){.read = gz_read, .close = gz_close});
    if (!s)
      gzclose(g);
    *kind = TF_COMP_GZIP;
    return s;
  }
  if (got == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f &&
      m[3] == 0xfd) { /* RFC 8878 §3.1.1 */
    rewind(f);
    struct zst *z = calloc(1, sizeof *z);
    if (z) {
      z->raw = f;
      z->in_cap = ZSTD_DStreamInSize();
      z->in = malloc(z->in_cap);
      z->ds = ZSTD_createDStream();
    }
    if (!z || !z->in || !z->ds || ZSTD_isError(ZSTD_initDStream(z->ds))) {
      if (z) {
        ZSTD_freeDStream(z->ds);
        free(z->in);
        free(z);
      }
      fclose(f);
      errno = ENOMEM;
      return NULL;
    }
    FILE *s = fopencookie(
        z, "rb", (cookie_io_functions_t){.read = zst_read, .close = zst_close});
    if (!s)
      zst_close(z);
    *kind = TF_COMP_ZSTD;
    return s;
  }
  rewind(f);
  return f;
}

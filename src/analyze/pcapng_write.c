/* SPDX-License-Identifier: BSD-2-Clause */
/* pcapng blocks, little-endian, built in memory (pcapng_write.h). */
#include "pcapng_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define OPT_ENDOFOPT 0u
#define OPT_SHB_USERAPPL 4u
#define OPT_IF_NAME 2u
#define OPT_IF_TSRESOL 9u

void tf_pcapng_buf_free(struct tf_pcapng_buf *b) {
  free(b->p);
  *b = (struct tf_pcapng_buf){0};
}

static void need(struct tf_pcapng_buf *b, size_t n) {
  if (b->oom)
    return;
  if (n > SIZE_MAX / 2 - b->len) {
    b->oom = true;
    return;
  }
  size_t want = b->len + n;
  if (want <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < want)
    cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p) {
    b->oom = true;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void put(struct tf_pcapng_buf *b, const void *d, size_t n) {
  need(b, n);
  if (b->oom || n == 0)
    return;
  memcpy(b->p + b->len, d, n);
  b->len += n;
}

static void put16(struct tf_pcapng_buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  put(b, x, 2);
}

static void put32(struct tf_pcapng_buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  put(b, x, 4);
}

/* Bodies and option values are padded to 32 bits (the padding is not part
 * of the length they declare). */
static void pad(struct tf_pcapng_buf *b, size_t n) {
  static const uint8_t zero[4];
  put(b, zero, (4 - n % 4) % 4);
}

static void opt(struct tf_pcapng_buf *b, uint16_t code, const void *v,
                uint16_t n) {
  put16(b, code);
  put16(b, n);
  put(b, v, n);
  pad(b, n);
}

static size_t block_begin(struct tf_pcapng_buf *b, uint32_t type) {
  size_t start = b->len;
  put32(b, type);
  put32(b, 0); /* the total length, set by block_end */
  return start;
}

/* The total length goes both after the type and at the end, so readers can
 * walk blocks either way. */
static void block_end(struct tf_pcapng_buf *b, size_t start) {
  if (b->oom)
    return;
  size_t total = b->len - start + 4;
  if (total > UINT32_MAX) { /* not reachable with the callers' caps */
    b->oom = true;
    return;
  }
  put32(b, (uint32_t)total);
  if (b->oom)
    return;
  for (int i = 0; i < 4; i++)
    b->p[start + 4 + (size_t)i] = (uint8_t)(total >> (8 * i));
}

void tf_pcapng_shb(struct tf_pcapng_buf *b, const char *userappl) {
  size_t s = block_begin(b, TF_PCAPNG_BT_SHB);
  put32(b, BYTE_ORDER_MAGIC);
  put16(b, 1); /* version 1.0 */
  put16(b, 0);
  put32(b, UINT32_MAX); /* section length: -1, unknown */
  put32(b, UINT32_MAX);
  if (userappl) {
    size_t n = tf_pcapng_utf8_cut(userappl, TF_PCAPNG_OPT_MAX);
    opt(b, OPT_SHB_USERAPPL, userappl, (uint16_t)n);
  }
  opt(b, OPT_ENDOFOPT, NULL, 0);
  block_end(b, s);
}

void tf_pcapng_idb(struct tf_pcapng_buf *b, uint16_t linktype, uint32_t snaplen,
                   const char *name, uint8_t tsresol) {
  size_t s = block_begin(b, TF_PCAPNG_BT_IDB);
  put16(b, linktype);
  put16(b, 0); /* reserved */
  put32(b, snaplen);
  if (name) {
    size_t n = tf_pcapng_utf8_cut(name, TF_PCAPNG_OPT_MAX);
    opt(b, OPT_IF_NAME, name, (uint16_t)n);
  }
  opt(b, OPT_IF_TSRESOL, &tsresol, 1);
  opt(b, OPT_ENDOFOPT, NULL, 0);
  block_end(b, s);
}

int tf_pcapng_dsb(struct tf_pcapng_buf *b, uint32_t secrets_type,
                  const void *data, size_t len) {
  if (len > TF_PCAPNG_DSB_MAX)
    return -1;
  size_t s = block_begin(b, TF_PCAPNG_BT_DSB);
  put32(b, secrets_type);
  put32(b, (uint32_t)len);
  put(b, data, len);
  pad(b, len);
  block_end(b, s);
  return 0;
}

int tf_pcapng_epb(struct tf_pcapng_buf *b, uint32_t iface, uint64_t ts,
                  const void *data, uint32_t caplen, uint32_t origlen,
                  const char *const *comments, size_t n) {
  if (caplen > TF_PCAPNG_SNAPLEN_MAX)
    return -1;
  size_t s = block_begin(b, TF_PCAPNG_BT_EPB);
  put32(b, iface);
  put32(b, (uint32_t)(ts >> 32));
  put32(b, (uint32_t)ts);
  put32(b, caplen);
  put32(b, origlen);
  put(b, data, caplen);
  pad(b, caplen);
  /* room for the options: the end-of-options marker is reserved */
  size_t room = TF_PCAPNG_OPTS_MAX - 4, any = 0;
  for (size_t i = 0; i < n && room > 4; i++) {
    const char *c = comments[i];
    if (!c || !*c)
      continue;
    size_t max = room - 4 < TF_PCAPNG_OPT_MAX ? room - 4 : TF_PCAPNG_OPT_MAX;
    size_t len = tf_pcapng_utf8_cut(c, max);
    if (!len)
      break;
    opt(b, TF_PCAPNG_OPT_COMMENT, c, (uint16_t)len);
    room -= 4 + len + (4 - len % 4) % 4;
    any++;
  }
  if (any)
    opt(b, OPT_ENDOFOPT, NULL, 0);
  block_end(b, s);
  return 0;
}

size_t tf_pcapng_utf8_cut(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n <= max)
    return n;
  /* s[max] is the first byte left out: back up while it continues a
   * character, so the kept part ends on a whole one. */
  n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
    n--;
  return n;
}

size_t tf_pcapng_text_cut(const char *text, size_t len, size_t max) {
  if (len <= max)
    return len;
  for (size_t n = max; n > 0; n--)
    if (text[n - 1] == '\n')
      return n;
  return max;
}

int tf_pcapng_linktype(int dlt) {
  switch (dlt) {
  case 11: /* DLT_ATM_RFC1483 */
    return 100;
  case 12: /* DLT_RAW */
    return 101;
  default:
    return dlt >= 0 && dlt <= UINT16_MAX ? dlt : -1;
  }
}

int tf_pcapng_buf_write(struct tf_pcapng_buf *b, FILE *f) {
  if (b->oom) {
    errno = ENOMEM;
    return -1;
  }
  if (b->len && fwrite(b->p, 1, b->len, f) != b->len) {
    if (!errno)
      errno = EIO;
    return -1;
  }
  b->len = 0;
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Bounds-checked reads from untrusted bytes (tcpdump's GET_* discipline).
 *
 * A cursor never reads past `end`: every getter returns -1 instead, and the
 * TF_GUARD macro (s2n's POSIX_GUARD) turns that into an early return, so
 * parsers stay short and cannot overrun the captured bytes.
 */
#ifndef TLSFIN_CURSOR_H
#define TLSFIN_CURSOR_H

#include <stddef.h>
#include <stdint.h>

struct tf_cur {
  const uint8_t *p;
  const uint8_t *end;
};

#define TF_GUARD(x)                                                            \
  do {                                                                         \
    if ((x) < 0)                                                               \
      return -1;                                                               \
  } while (0)

#define TF_ENSURE(cond)                                                        \
  do {                                                                         \
    if (!(cond))                                                               \
      return -1;                                                               \
  } while (0)

static inline struct tf_cur tf_cur_make(const uint8_t *p, size_t n) {
  struct tf_cur c = {p, p + n};
  return c;
}
static inline size_t tf_cur_left(const struct tf_cur *c) {
  return (size_t)(c->end - c->p);
}
static inline int tf_get_u8(struct tf_cur *c, uint8_t *v) {
  if (tf_cur_left(c) < 1)
    return -1;
  *v = c->p[0];
  c->p += 1;
  return 0;
}
static inline int tf_get_be16(struct tf_cur *c, uint16_t *v) {
  if (tf_cur_left(c) < 2)
    return -1;
  *v = (uint16_t)((c->p[0] << 8) | c->p[1]);
  c->p += 2;
  return 0;
}
static inline int tf_get_be24(struct tf_cur *c, uint32_t *v) {
  if (tf_cur_left(c) < 3)
    return -1;
  *v = ((uint32_t)c->p[0] << 16) | ((uint32_t)c->p[1] << 8) | c->p[2];
  c->p += 3;
  return 0;
}
static inline int tf_get_be32(struct tf_cur *c, uint32_t *v) {
  if (tf_cur_left(c) < 4)
    return -1;
  *v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
       ((uint32_t)c->p[2] << 8) | c->p[3];
  c->p += 4;
  return 0;
}
static inline int tf_skip(struct tf_cur *c, size_t n) {
  if (tf_cur_left(c) < n)
    return -1;
  c->p += n;
  return 0;
}
/* A sub-cursor over the next n bytes, consumed from c. */
static inline int tf_get_sub(struct tf_cur *c, size_t n, struct tf_cur *sub) {
  if (tf_cur_left(c) < n)
    return -1;
  sub->p = c->p;
  sub->end = c->p + n;
  c->p += n;
  return 0;
}

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* SipHash (siphash.h): the reference algorithm with c compression and d
 * finalization rounds. */
#include "siphash.h"

#include <endian.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
  do {                                                                         \
    v0 += v1;                                                                  \
    v1 = ROTL(v1, 13);                                                         \
    v1 ^= v0;                                                                  \
    v0 = ROTL(v0, 32);                                                         \
    v2 += v3;                                                                  \
    v3 = ROTL(v3, 16);                                                         \
    v3 ^= v2;                                                                  \
    v0 += v3;                                                                  \
    v3 = ROTL(v3, 21);                                                         \
    v3 ^= v0;                                                                  \
    v2 += v1;                                                                  \
    v1 = ROTL(v1, 17);                                                         \
    v1 ^= v2;                                                                  \
    v2 = ROTL(v2, 32);                                                         \
  } while (0)

static inline uint64_t le64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8); /* one load where the host is little-endian */
  return le64toh(v);
}

/* Inlined into each caller with its round counts: tf_siphash's constant
 * 1 and 3 unroll the rounds (it runs on every packet: engine.c). */
static inline __attribute__((always_inline)) uint64_t
sip(uint64_t k0, uint64_t k1, const void *data, size_t len, int crounds,
    int drounds) {
  const uint8_t *in = data;
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1,
           v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8) {
    uint64_t m = le64(in + i);
    v3 ^= m;
    for (int r = 0; r < crounds; r++)
      SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)len << 56;
  for (size_t i = 0; i < len % 8; i++)
    b |= (uint64_t)in[whole + i] << (8 * i);
  v3 ^= b;
  for (int r = 0; r < crounds; r++)
    SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  for (int r = 0; r < drounds; r++)
    SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t tf_siphash_key(uint64_t k0, uint64_t k1, const void *data, size_t len,
                        int crounds, int drounds) {
  return sip(k0, k1, data, len, crounds, drounds);
}

static uint64_t key0, key1;

void tf_siphash_set_key(uint64_t k0, uint64_t k1) {
  key0 = k0;
  key1 = k1;
}

/* Made before main(), so threads (probe -j) never race to make it. */
__attribute__((constructor)) static void make_key(void) {
  uint64_t k[2];
  if (getrandom(k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
    /* No entropy yet (early boot): still different for every run. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    k[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    k[1] =
        (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)(uintptr_t)&k;
  }
  tf_siphash_set_key(k[0], k[1]);
}

uint64_t tf_siphash(const void *data, size_t len) {
  return sip(key0, key1, data, len, 1, 3);
}

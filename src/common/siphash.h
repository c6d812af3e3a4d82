/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SipHash-1-3 with a per-process random key (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF"): the hash of every table whose keys
 * come from untrusted input (connection 4-tuples, TLS client randoms,
 * server addresses), so a capture cannot be crafted to put every entry in
 * one bucket.  1-3 rounds, as Rust's and Python's hash tables use: the goal
 * is collision resistance against an attacker who does not know the key.
 */
#ifndef TLSFIN_COMMON_SIPHASH_H
#define TLSFIN_COMMON_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of len bytes under this process's key (made at start-up from
 * getrandom(2)). */
uint64_t tf_siphash(const void *data, size_t len);
/* Tests: use this key instead of a random one. */
void tf_siphash_set_key(uint64_t k0, uint64_t k1);
/* SipHash-1-3 under an explicit key (tests check the reference vectors of
 * the 2-4 variant's structure through it). */
uint64_t tf_siphash_key(uint64_t k0, uint64_t k1, const void *data, size_t len,
                        int crounds, int drounds);

#endif

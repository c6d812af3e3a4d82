/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A double to an integer when the double may be out of the integer's range
 * (a timestamp from a capture, a difference of two): the plain conversion
 * of a value out of range is undefined (C11 6.3.1.4), and UBSan stops on
 * it.  NaN and negatives give 0; past the largest double below 2^64 (2^63)
 * the conversion saturates.
 */
#ifndef TLSFIN_DCONV_H
#define TLSFIN_DCONV_H

#include <stdint.h>

/* The largest doubles below 2^64 and 2^63: every double under them
 * converts. */
#define TF_DBL_BELOW_2_64 18446744073709549568.0
#define TF_DBL_BELOW_2_63 9223372036854774784.0

static inline uint64_t tf_u64_sat(double v) {
  if (!(v > 0))
    return 0;
  return v < TF_DBL_BELOW_2_64 ? (uint64_t)v : UINT64_MAX;
}

static inline int64_t tf_i64_sat(double v) {
  if (!(v > 0))
    return 0;
  return v < TF_DBL_BELOW_2_63 ? (int64_t)v : INT64_MAX;
}

#endif

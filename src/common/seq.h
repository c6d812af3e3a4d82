/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TCP sequence-number comparison modulo 2^32 (RFC 9293 §3.4): the only way
 * tlsfin compares sequence numbers, so that wraparound is always right.
 */
#ifndef TLSFIN_SEQ_H
#define TLSFIN_SEQ_H

#include <stdint.h>

#define SEQ_DIFF(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))
#define SEQ_LT(a, b) (SEQ_DIFF(a, b) < 0)
#define SEQ_LEQ(a, b) (SEQ_DIFF(a, b) <= 0)
#define SEQ_GT(a, b) (SEQ_DIFF(a, b) > 0)
#define SEQ_GEQ(a, b) (SEQ_DIFF(a, b) >= 0)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))

#endif

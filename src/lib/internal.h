/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared by the library's own files, not part of the public API. */
#ifndef TLSFIN_LIB_INTERNAL_H
#define TLSFIN_LIB_INTERNAL_H
#include <stdbool.h>

#include "tlsfin/tlsfin.h"

/* True when tlsfin_conn_free also frees the SSL object
 * (tlsfin_conn_connect). */
bool tf_conn_owns_ssl(const struct tlsfin_conn *c);
/* 0 when c can be pooled: no close started and its descriptor is still
 * the socket it wrapped; else EINVAL (closing or closed) or EBADF. */
int tf_conn_fd_state(const struct tlsfin_conn *c);
#endif

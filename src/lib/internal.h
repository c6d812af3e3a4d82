/* Shared by the library's own files, not part of the public API. */
#ifndef TLSFIN_LIB_INTERNAL_H
#define TLSFIN_LIB_INTERNAL_H
#include <stdbool.h>

#include "tlsfin/tlsfin.h"

/* True when tlsfin_conn_free also frees the SSL object
 * (tlsfin_conn_connect). */
bool tf_conn_owns_ssl(const struct tlsfin_conn *c);
#endif

/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef TLSFIN_PROBE_HELLO_H
#define TLSFIN_PROBE_HELLO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* A complete ClientHello record offering only `version` (0x0300..0x0304),
 * or TLS 1.0 to 1.3 at once when version is 0.  Returns its length, 0 when
 * cap is too small. */
size_t tf_build_client_hello(uint8_t *out, size_t cap, uint16_t version,
                             const char *sni);
#endif

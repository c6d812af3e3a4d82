/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: the SSLKEYLOGFILE parser (lines from untrusted files and
 * pcapng Decryption Secrets Blocks), then a lookup with the first 32
 * bytes. */
#include <stdint.h>

#include "keylog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct tf_keylog *k = tf_keylog_new();
  if (!k)
    return 0;
  unsigned bad = 0, first = 0;
  tf_keylog_add_text(k, (const char *)data, size, &bad, &first);
  if (size >= 32)
    (void)tf_keylog_find(k, data);
  tf_keylog_free(k);
  return 0;
}

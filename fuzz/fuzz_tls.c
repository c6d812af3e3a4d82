/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: the TLS record dissector.  The first byte chooses the size
 * of the pieces; the rest alternates between the directions in chunks whose
 * direction comes from the data itself. */
#include <stdint.h>

#include "tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  size_t step = (size_t)(data[0] % 31) + 1, i = 1;
  struct tf_tls t;
  tf_tls_init(&t);
  uint64_t pkt = 1;
  while (i < size) {
    int dir = (data[i] & 0x80) ? 1 : 0;
    i++;
    size_t n = size - i < step ? size - i : step;
    tf_tls_feed(&t, dir, data + i, n, pkt++);
    if (data[i - 1] == 0x7f)
      tf_tls_gap(&t, dir, data[i - 1]);
    i += n;
  }
  tf_tls_end(&t, 0, true, pkt++);
  tf_tls_end(&t, 1, (size & 1) != 0, pkt++);
  tf_tls_finish(&t);
  tf_tls_free(&t);
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: HTTP/1.1 framing of decrypted streams, both directions, fed
 * in pieces whose sizes come from the input. */
#include <stdint.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int resp = 0; resp < 2; resp++) {
    struct tf_http h;
    tf_http_init(&h, resp);
    size_t i = 0, step = size ? (size_t)(data[0] % 13) + 1 : 1;
    while (i < size) {
      size_t n = size - i < step ? size - i : step;
      tf_http_feed(&h, data + i, n);
      i += n;
    }
    (void)tf_http_end_name(h.end);
  }
  return 0;
}

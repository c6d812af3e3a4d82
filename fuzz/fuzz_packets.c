/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: TCP reassembly and the connection table.  The input is a
 * list of raw IPv4/IPv6 packets (2-byte big-endian length, then bytes);
 * they are written into an in-memory LINKTYPE_RAW pcap so every packet goes
 * through the real decoders and flow code, with timestamps that advance so
 * lingering connections also expire mid-stream. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsfin/analyze.h"

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* host order */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cap = 24 + size * 2 + 16 * (size / 2 + 1);
  uint8_t *buf = malloc(cap);
  if (!buf)
    return 0;
  size_t len = 0;
  put32(buf, 0xa1b2c3d4);
  buf[4] = 2, buf[5] = 0, buf[6] = 4, buf[7] = 0; /* version 2.4, LE */
  memset(buf + 8, 0, 8);
  put32(buf + 16, 65535);
  put32(buf + 20, 101); /* LINKTYPE_RAW */
  len = 24;
  uint32_t t = 1700000000;
  size_t i = 0;
  while (i + 2 <= size) {
    size_t n = ((size_t)data[i] << 8 | data[i + 1]) % 1600;
    i += 2;
    if (n > size - i)
      n = size - i;
    put32(buf + len, t);
    put32(buf + len + 4, 0);
    put32(buf + len + 8, (uint32_t)n);
    put32(buf + len + 12, (uint32_t)n);
    memcpy(buf + len + 16, data + i, n);
    len += 16 + n;
    i += n;
    t += (n & 1) ? 7 : 0; /* sometimes jump past the linger time */
  }
  FILE *in = fmemopen(buf, len, "rb");
  FILE *out = fopen("/dev/null", "w");
  if (in && out) {
    struct tlsfin_analyze *a = tlsfin_analyze_new();
    tlsfin_analyze_set_output(a, out);
    tlsfin_analyze_set_format(a, TLSFIN_FORMAT_JSONL);
    tlsfin_analyze_stream(a, in, "fuzz");
    tlsfin_analyze_finish(a);
    tlsfin_analyze_free(a);
  } else if (in) {
    fclose(in);
  }
  if (out)
    fclose(out);
  free(buf);
  return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: whole capture files (pcap/pcapng) through libpcap, the
 * decoders, the flow table and the TLS dissector, in every output format
 * but the ladder (one connection, asked for by number).  The HTML report
 * and --annotate run with a tiny memory budget, so that their rows,
 * strings and notes go through their temporary files (docs/html.md,
 * "Memory"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tlsfin/analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const enum tlsfin_format formats[] = {
      TLSFIN_FORMAT_JSONL, TLSFIN_FORMAT_SUMMARY, TLSFIN_FORMAT_TABLE,
      TLSFIN_FORMAT_ZEEK,  TLSFIN_FORMAT_CSV,     TLSFIN_FORMAT_HTML};
  setenv("TLSFIN_SORT_MEM", "256", 1);
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
    FILE *in = fmemopen((void *)data, size, "rb");
    FILE *out = fopen("/dev/null", "w");
    if (!in || !out) {
      if (in)
        fclose(in);
      if (out)
        fclose(out);
      return 0;
    }
    struct tlsfin_analyze *a = tlsfin_analyze_new();
    tlsfin_analyze_set_output(a, out);
    tlsfin_analyze_set_format(a, formats[i]);
    /* --annotate once: its notes through their sort's runs, and its second
     * pass over the spooled stream */
    if (i == 0 && tlsfin_analyze_set_annotate(a, "/dev/null") < 0) {
      tlsfin_analyze_free(a);
      fclose(in);
      fclose(out);
      return 0;
    }
    /* bad input is expected (-1); only crashes and leaks matter */
    (void)tlsfin_analyze_stream(a, in, "fuzz");
    tlsfin_analyze_finish(a);
    tlsfin_analyze_free(a);
    fclose(out);
  }
  return 0;
}

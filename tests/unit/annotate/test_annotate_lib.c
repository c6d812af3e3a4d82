/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin_analyze_set_annotate through the library: a stream (spooled and
 * read twice), the packets and comments of the file read back with
 * libpcap, the refusals (after an input was read, "-"), cancelling, and a
 * second finish that must fail cleanly.  samples/demo.pcapng is the input
 * (TLSFIN_SAMPLE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsfin/analyze.h"

static long count_packets(const char *path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t *pc = pcap_open_offline(path, err);
  if (!pc)
    return -1;
  struct pcap_pkthdr *h;
  const u_char *d;
  long n = 0;
  while (pcap_next_ex(pc, &h, &d) == 1)
    n++;
  pcap_close(pc);
  return n;
}

/* "tlsfin: conn " occurrences in the file: one per note. */
static long count_notes(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  static const char pat[] = "tlsfin: conn ";
  long n = 0;
  size_t m = 0;
  int c;
  while ((c = fgetc(f)) != EOF) {
    m = c == pat[m] ? m + 1 : c == pat[0] ? 1 : 0;
    if (m == sizeof pat - 1) {
      n++;
      m = 0;
    }
  }
  fclose(f);
  return n;
}

static void out_path(char *buf, size_t n) {
  const char *tmp = getenv("TMPDIR");
  snprintf(buf, n, "%s/tlsfin-annot-%ld.pcapng", tmp && *tmp ? tmp : "/tmp",
           (long)getpid());
}

static void test_stream(void **state) {
  (void)state;
  char out[512];
  out_path(out, sizeof out);
  FILE *devnull = fopen("/dev/null", "w");
  assert_non_null(devnull);
  struct tlsfin_analyze *a = tlsfin_analyze_new();
  assert_non_null(a);
  tlsfin_analyze_set_output(a, devnull);
  assert_int_equal(tlsfin_analyze_set_annotate(a, out), 0);
  FILE *in = fopen(TLSFIN_SAMPLE, "rb");
  assert_non_null(in);
  assert_int_equal(tlsfin_analyze_stream(a, in, "sample"), 0);
  assert_int_equal(tlsfin_analyze_finish(a), 0);
  /* finished once: a second finish fails without touching the file */
  assert_int_equal(tlsfin_analyze_finish(a), -1);
  assert_non_null(strstr(tlsfin_analyze_error(a), "already written"));
  /* not set twice, nor after an input */
  assert_int_equal(tlsfin_analyze_set_annotate(a, out), -1);
  uint64_t conns = tlsfin_analyze_connections(a);
  tlsfin_analyze_free(a);
  fclose(devnull);

  assert_int_equal(count_packets(out), count_packets(TLSFIN_SAMPLE));
  /* at least the verdict of every connection */
  assert_true(count_notes(out) >= (long)conns);
  unlink(out);
}

static void test_refusals(void **state) {
  (void)state;
  struct tlsfin_analyze *a = tlsfin_analyze_new();
  assert_non_null(a);
  assert_int_equal(tlsfin_analyze_set_annotate(a, "-"), -1);
  assert_non_null(strstr(tlsfin_analyze_error(a), "standard output"));
  assert_int_equal(tlsfin_analyze_set_annotate(a, "/nonexistent/x.pcapng"), -1);
  /* set, then cancelled: nothing is written, no file is left */
  char out[512];
  out_path(out, sizeof out);
  assert_int_equal(tlsfin_analyze_set_annotate(a, out), 0);
  assert_int_equal(tlsfin_analyze_set_annotate(a, NULL), 0);
  FILE *devnull = fopen("/dev/null", "w");
  assert_non_null(devnull);
  tlsfin_analyze_set_output(a, devnull);
  assert_int_equal(tlsfin_analyze_file(a, TLSFIN_SAMPLE), 0);
  assert_int_equal(tlsfin_analyze_finish(a), 0);
  struct stat st;
  assert_int_equal(stat(out, &st), -1);
  /* too late once packets were read */
  assert_int_equal(tlsfin_analyze_set_annotate(a, out), -1);
  tlsfin_analyze_free(a);
  fclose(devnull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the mmap capture reader (src/analyze/pcapfile.c) against
 * libpcap itself.  Every input is read both ways, with micro- and
 * nanosecond timestamps; they must agree on accepting or rejecting it
 * (with the same message), on the link type and snapshot length, and on
 * every packet: time stamp, lengths, bytes, and where and how reading
 * stops.  A disagreement aborts.  tests/reader runs the same comparison
 * (tf_reader_diff) over every capture of the tree and crafted edge cases.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keylog.h"
#include "pcapfile.h"

int tf_reader_diff(const char *path, const uint8_t *data, size_t size,
                   unsigned precision, char *why, size_t whylen,
                   unsigned long *packets, int *outcome);

struct keys {
  struct tf_keylog *k;
};

static void take_keys(void *ctx, uint32_t type, const uint8_t *d, size_t n) {
  if (type == 0x544c534bu) /* "TLSK" (pcapng §4.7) */
    tf_keylog_add_text(ctx, (const char *)d, n, NULL, NULL);
}

/* The link types libpcap rewrites after reading (pcap-util.c
 * pcap_post_process), which the reader leaves to libpcap. */
static bool post_processed(int dlt, int swapped) {
  if (dlt == DLT_USB_LINUX_MMAPPED)
    return true;
  return swapped &&
         (dlt == DLT_PFLOG || dlt == DLT_LINUX_SLL || dlt == DLT_LINUX_SLL2 ||
          dlt == DLT_USB_LINUX || dlt == DLT_NFLOG);
}

#define DIFF(...)                                                              \
  do {                                                                         \
    snprintf(why, whylen, __VA_ARGS__);                                        \
    rc = 1;                                                                    \
    goto out;                                                                  \
  } while (0)

/* 0: the same; 1: they differ (why says how).  path: read the file (the
 * reader maps it); NULL: the bytes (libpcap through fmemopen).  outcome:
 * 1 read to its end, -1 rejected (at open or later), 0 declined by the
 * reader (libpcap's business). */
int tf_reader_diff(const char *path, const uint8_t *data, size_t size,
                   unsigned precision, char *why, size_t whylen,
                   unsigned long *packets, int *outcome) {
  char errbuf[PCAP_ERRBUF_SIZE] = "", myerr[PCAP_ERRBUF_SIZE] = "";
  int rc = 0;
  *packets = 0;
  *outcome = 0;
  why[0] = 0;
  struct tf_keylog *ka = tf_keylog_new(), *kb = tf_keylog_new();
  struct tf_pcapfile *r = NULL;
  pcap_t *pc = NULL;
  FILE *f = path        ? fopen(path, "rb")
            : size == 0 ? fopen("/dev/null", "rb")
                        : fmemopen((void *)data, size, "rb");
  if (!ka || !kb || !f) {
    if (f)
      fclose(f);
    tf_keylog_free(ka);
    tf_keylog_free(kb);
    snprintf(why, whylen, "setup: %s", strerror(errno));
    return 1;
  }
  /* the keys embedded in the capture, both ways: analyze.c's stream
   * scanner in front of libpcap, and the reader's callback */
  FILE *s = tf_pcapng_scan_secrets(f, ka);
  if (!s) {
    fclose(f);
    tf_keylog_free(ka);
    tf_keylog_free(kb);
    snprintf(why, whylen, "setup: out of memory");
    return 1;
  }
  pc = pcap_fopen_offline_with_tstamp_precision(s, precision, errbuf);
  if (!pc)
    fclose(s);
  int st = path ? tf_pcapfile_open(path, precision, take_keys, kb, &r, myerr,
                                   sizeof myerr)
                : tf_pcapfile_open_mem(data, size, precision, take_keys, kb, &r,
                                       myerr, sizeof myerr);
  if (st == TF_PCAPFILE_NOT_MINE) {
    /* declined: fine for what libpcap does not know either, for a file
     * too short to sniff, and for the link types libpcap rewrites */
    if (!pc && !strcmp(errbuf, "unknown file format"))
      goto out;
    if (!pc && path && size < 4)
      goto out;
    if (pc && post_processed(pcap_datalink(pc), pcap_is_swapped(pc)))
      goto out;
    DIFF("the reader declined it; libpcap: %s", pc ? "opened" : errbuf);
  }
  if (st == TF_PCAPFILE_ERROR) {
    if (pc)
      DIFF("the reader rejected it (%s); libpcap opened it", myerr);
    if (strcmp(errbuf, myerr) != 0)
      DIFF("rejected differently: libpcap \"%s\", reader \"%s\"", errbuf,
           myerr);
    *outcome = -1;
    goto out;
  }
  if (!pc)
    DIFF("libpcap rejected it (%s); the reader opened it", errbuf);
  if (pcap_datalink(pc) != tf_pcapfile_linktype(r) ||
      pcap_snapshot(pc) != tf_pcapfile_snapshot(r) ||
      pcap_datalink_ext(pc) != tf_pcapfile_linktype_ext(r))
    DIFF("header: libpcap link type %d (ext %#x) snaplen %d, reader %d (%#x) "
         "%d",
         pcap_datalink(pc), (unsigned)pcap_datalink_ext(pc), pcap_snapshot(pc),
         tf_pcapfile_linktype(r), (unsigned)tf_pcapfile_linktype_ext(r),
         tf_pcapfile_snapshot(r));
  for (;;) {
    struct pcap_pkthdr *ha, *hb;
    const u_char *da, *db;
    int ra = pcap_next_ex(pc, &ha, &da);
    int rb = tf_pcapfile_next(r, &hb, &db);
    if (ra != rb)
      DIFF("packet %lu: libpcap returned %d (%s), the reader %d (%s)",
           *packets + 1, ra, ra == PCAP_ERROR ? pcap_geterr(pc) : "", rb,
           rb == PCAP_ERROR ? tf_pcapfile_error(r) : "");
    if (ra == PCAP_ERROR) {
      if (strcmp(pcap_geterr(pc), tf_pcapfile_error(r)) != 0)
        DIFF("packet %lu: failed differently: libpcap \"%s\", reader \"%s\"",
             *packets + 1, pcap_geterr(pc), tf_pcapfile_error(r));
      *outcome = -1;
      goto out;
    }
    if (ra != 1)
      break;
    ++*packets;
    if (ha->ts.tv_sec != hb->ts.tv_sec || ha->ts.tv_usec != hb->ts.tv_usec ||
        ha->caplen != hb->caplen || ha->len != hb->len)
      DIFF("packet %lu: libpcap %lld.%06ld caplen %u len %u, reader "
           "%lld.%06ld caplen %u len %u",
           *packets, (long long)ha->ts.tv_sec, (long)ha->ts.tv_usec, ha->caplen,
           ha->len, (long long)hb->ts.tv_sec, (long)hb->ts.tv_usec, hb->caplen,
           hb->len);
    if (memcmp(da, db, ha->caplen) != 0)
      DIFF("packet %lu: different bytes", *packets);
  }
  *outcome = 1;
  /* read whole both ways: the same keys (the stream scanner gives up on a
   * first SHB whose length is not a multiple of 4, which libpcap and the
   * reader accept) */
  if (tf_keylog_count(ka) != tf_keylog_count(kb)) {
    bool odd = false;
    if (size >= 12 && !memcmp(data, "\n\r\r\n", 4)) {
      uint32_t len, bom;
      memcpy(&len, data + 4, 4);
      memcpy(&bom, data + 8, 4);
      odd = (bom == 0x1A2B3C4Du ? len : __builtin_bswap32(len)) % 4 != 0;
    }
    if (!odd || tf_keylog_count(ka) != 0)
      DIFF("embedded keys: %zu through libpcap's stream, %zu from the reader",
           tf_keylog_count(ka), tf_keylog_count(kb));
  }
out:
  if (pc)
    pcap_close(pc);
  tf_pcapfile_close(r);
  tf_keylog_free(ka);
  tf_keylog_free(kb);
  return rc;
}

#ifndef TF_READER_DIFF_NO_FUZZ_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const unsigned prec[] = {PCAP_TSTAMP_PRECISION_MICRO,
                                  PCAP_TSTAMP_PRECISION_NANO};
  for (size_t i = 0; i < 2; i++) {
    char why[512];
    unsigned long n;
    int outcome;
    if (tf_reader_diff(NULL, data, size, prec[i], why, sizeof why, &n,
                       &outcome)) {
      fprintf(stderr, "fuzz_pcapfile: %s precision: %s\n", i ? "nano" : "micro",
              why);
      abort();
    }
  }
  return 0;
}
#endif

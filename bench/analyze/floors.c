/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What reading a capture costs before tlsfin does anything with it (the
 * floors bench/analyze/floors compares tlsfin analyze with):
 *   bench_reader_floors libpcap FILE  pcap_next_ex, nothing else
 *   bench_reader_floors walk FILE     mmap, every record, every cache line
 *                                     of every packet touched (classic pcap)
 *   bench_reader_floors reader FILE   the mmap reader (pcapfile.c), nothing
 *                                     else
 * Prints packets and a checksum of what was touched (so nothing is
 * optimized away); times are taken by the caller, whole process.
 */
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcapfile.h"

static int libpcap_loop(const char *path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t *pc = pcap_open_offline_with_tstamp_precision(
      path, PCAP_TSTAMP_PRECISION_MICRO, err);
  if (!pc) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  struct pcap_pkthdr *h;
  const u_char *d;
  uint64_t n = 0, sum = 0;
  while (pcap_next_ex(pc, &h, &d) == 1) {
    n++;
    sum += h->caplen;
  }
  pcap_close(pc);
  printf("%llu packets, %llu\n", (unsigned long long)n,
         (unsigned long long)sum);
  return 0;
}

static int reader_loop(const char *path) {
  char err[PCAP_ERRBUF_SIZE];
  struct tf_pcapfile *r;
  if (tf_pcapfile_open(path, PCAP_TSTAMP_PRECISION_MICRO, NULL, NULL, &r, err,
                       sizeof err) != TF_PCAPFILE_OPEN) {
    fprintf(stderr, "%s: not read by the mmap reader\n", path);
    return 1;
  }
  struct pcap_pkthdr *h;
  const u_char *d;
  uint64_t n = 0, sum = 0;
  while (tf_pcapfile_next(r, &h, &d) == 1) {
    n++;
    sum += h->caplen;
  }
  tf_pcapfile_close(r);
  printf("%llu packets, %llu\n", (unsigned long long)n,
         (unsigned long long)sum);
  return 0;
}

/* The classic pcap records of a little-endian file, every 64-byte line of
 * every packet read once: the most a reader that looks at every byte can
 * do from the page cache. */
static int walk(const char *path) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < 24) {
    perror(path);
    return 1;
  }
  size_t len = (size_t)st.st_size;
  const uint8_t *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  madvise((void *)m, len, MADV_SEQUENTIAL);
  uint64_t n = 0, sum = 0;
  size_t pos = 24;
  while (len - pos >= 16) {
    uint32_t caplen;
    memcpy(&caplen, m + pos + 8, 4);
    pos += 16;
    if (caplen > len - pos)
      break;
    for (size_t i = 0; i < caplen; i += 64)
      sum += m[pos + i];
    pos += caplen;
    n++;
  }
  munmap((void *)m, len);
  printf("%llu packets, %llu\n", (unsigned long long)n,
         (unsigned long long)sum);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "libpcap"))
    return libpcap_loop(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "walk"))
    return walk(argv[2]);
  if (argc == 3 && !strcmp(argv[1], "reader"))
    return reader_loop(argv[2]);
  fprintf(stderr, "usage: %s libpcap|walk|reader FILE\n", argv[0]);
  return 2;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The mmap capture reader (src/analyze/pcapfile.c) against libpcap:
 *   reader_diff [--corpus DIR] FILE_OR_DIR...
 * reads every file given (directories recursively) and a set of crafted
 * edge cases both ways (tf_reader_diff, fuzz/fuzz_pcapfile.c), mapped from
 * a file and from memory, with micro- and nanosecond timestamps, and
 * requires the same outcome: accepted or rejected with the same message,
 * the same link type and snapshot length, and the same packets (time
 * stamps, lengths, bytes).  --corpus writes the crafted cases there as
 * fuzz seeds.
 */
#include <dirent.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tf_reader_diff(const char *path, const uint8_t *data, size_t size,
                   unsigned precision, char *why, size_t whylen,
                   unsigned long *packets, int *outcome);

static int failures, checked, accepted, rejected, declined;
static unsigned long packets_total;
static char tmpdir[256];

/* Both ways, both precisions, from memory and from a file. */
static void check(const char *name, const uint8_t *data, size_t size,
                  const char *path) {
  char tmp[512];
  if (!path) {
    snprintf(tmp, sizeof tmp, "%s/case.bin", tmpdir);
    FILE *f = fopen(tmp, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
      fprintf(stderr, "reader_diff: cannot write %s\n", tmp);
      exit(2);
    }
    path = tmp;
  }
  static const unsigned prec[] = {PCAP_TSTAMP_PRECISION_MICRO,
                                  PCAP_TSTAMP_PRECISION_NANO};
  int first = 2;
  unsigned long first_n = 0;
  for (int mode = 0; mode < 2; mode++)
    for (int p = 0; p < 2; p++) {
      char why[600];
      unsigned long n;
      int outcome;
      if (tf_reader_diff(mode ? NULL : path, data, size, prec[p], why,
                         sizeof why, &n, &outcome)) {
        printf("FAIL %s (%s, %s): %s\n", name, mode ? "memory" : "file",
               p ? "nano" : "micro", why);
        failures++;
        return;
      }
      /* from memory the reader takes every file, even one too short to
       * be worth mapping: that outcome is the one counted */
      if (mode == 1 && p == 0) {
        first = outcome;
        first_n = n;
      }
    }
  checked++;
  packets_total += first_n;
  const char *what = first > 0   ? "read whole"
                     : first < 0 ? "rejected alike"
                                 : "declined (libpcap reads it)";
  if (first > 0)
    accepted++;
  else if (first < 0)
    rejected++;
  else
    declined++;
  printf("ok   %s: %s, %lu packets\n", name, what, first_n);
}

static void check_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    failures++;
    return;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, got;
  do {
    if (len == cap) {
      cap = cap ? cap * 2 : 65536;
      uint8_t *nb = realloc(buf, cap);
      if (!nb)
        exit(2);
      buf = nb;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
  } while (got);
  fclose(f);
  check(path, buf, len, path);
  free(buf);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Capture-like files: not the labels, keys and scripts beside them. */
static bool wanted(const char *name) {
  static const char *skip[] = {".jsonl", ".keys", ".py",   ".sh",       ".md",
                               ".tsv",   ".txt",  ".json", "CMakeLists"};
  if (name[0] == '.')
    return false;
  for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++) {
    size_t n = strlen(name), m = strlen(skip[i]);
    if ((n >= m && !strcmp(name + n - m, skip[i])) || strstr(name, skip[i]))
      return false;
  }
  return true;
}

static void walk(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    failures++;
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    check_file(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d)
    return;
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!wanted(e->d_name))
      continue;
    names = realloc(names, (n + 1) * sizeof *names);
    size_t l = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(l);
    snprintf(names[n++], l, "%s/%s", path, e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    walk(names[i]);
    free(names[i]);
  }
  free(names);
}

/* ---- crafted captures ---- */

struct b {
  uint8_t d[1 << 16];
  size_t n;
  bool be; /* the file's byte order */
};

static void raw(struct b *b, const void *p, size_t n) {
  if (n)
    memcpy(b->d + b->n, p, n);
  b->n += n;
}
static void u8(struct b *b, uint8_t v) { b->d[b->n++] = v; }
static void u16(struct b *b, uint16_t v) {
  if (b->be) {
    u8(b, (uint8_t)(v >> 8));
    u8(b, (uint8_t)v);
  } else {
    u8(b, (uint8_t)v);
    u8(b, (uint8_t)(v >> 8));
  }
}
static void u32(struct b *b, uint32_t v) {
  if (b->be) {
    u16(b, (uint16_t)(v >> 16));
    u16(b, (uint16_t)v);
  } else {
    u16(b, (uint16_t)v);
    u16(b, (uint16_t)(v >> 16));
  }
}
static void u64(struct b *b, uint64_t v) {
  if (b->be) {
    u32(b, (uint32_t)(v >> 32));
    u32(b, (uint32_t)v);
  } else {
    u32(b, (uint32_t)v);
    u32(b, (uint32_t)(v >> 32));
  }
}
static void put32at(struct b *b, size_t at, uint32_t v) {
  size_t n = b->n;
  b->n = at;
  u32(b, v);
  b->n = n;
}
/* A packet's bytes: an Ethernet frame whose bytes say where they are. */
static void frame(struct b *b, uint32_t n, uint8_t seed) {
  for (uint32_t i = 0; i < n; i++)
    u8(b, (uint8_t)(seed + i * 7));
}

/* classic pcap: the file header and records (pcap-savefile(5)) */
static void pcap_hdr(struct b *b, uint32_t magic, uint16_t vmaj, uint16_t vmin,
                     uint32_t snaplen, uint32_t linktype) {
  u32(b, magic);
  u16(b, vmaj);
  u16(b, vmin);
  u32(b, 0);
  u32(b, 0);
  u32(b, snaplen);
  u32(b, linktype);
}
static void pcap_rec(struct b *b, uint32_t sec, uint32_t frac, uint32_t caplen,
                     uint32_t len, uint32_t have) {
  u32(b, sec);
  u32(b, frac);
  u32(b, caplen);
  u32(b, len);
  frame(b, have, (uint8_t)sec);
}

/* pcapng blocks (draft-ietf-opsawg-pcapng §3.1): open, fill, close */
static size_t blk(struct b *b, uint32_t type) {
  size_t at = b->n;
  u32(b, type);
  u32(b, 0);
  return at;
}
static void blk_end(struct b *b, size_t at) {
  while ((b->n - at) % 4)
    u8(b, 0);
  uint32_t total = (uint32_t)(b->n - at + 4);
  u32(b, total);
  put32at(b, at + 4, total);
}
static void shb(struct b *b, uint16_t vmaj, uint16_t vmin) {
  size_t at = blk(b, 0x0A0D0D0A);
  u32(b, 0x1A2B3C4D);
  u16(b, vmaj);
  u16(b, vmin);
  u64(b, UINT64_MAX);
  blk_end(b, at);
}
static void opt(struct b *b, uint16_t code, const void *v, uint16_t len) {
  u16(b, code);
  u16(b, len);
  raw(b, v, len);
  while (b->n % 4)
    u8(b, 0);
}
/* an IDB with optional if_tsresol (res < 0: none) and if_tsoffset */
static void idb(struct b *b, uint16_t lt, uint32_t snaplen, int res,
                const int64_t *tsoffset) {
  size_t at = blk(b, 1);
  u16(b, lt);
  u16(b, 0);
  u32(b, snaplen);
  if (res >= 0) {
    uint8_t r = (uint8_t)res;
    opt(b, 9, &r, 1);
  }
  if (tsoffset) {
    struct b t = {.be = b->be};
    u64(&t, (uint64_t)*tsoffset);
    opt(b, 14, t.d, 8);
  }
  if (res >= 0 || tsoffset)
    opt(b, 0, NULL, 0);
  blk_end(b, at);
}
static void epb(struct b *b, uint32_t iface, uint64_t ts, uint32_t caplen,
                uint32_t len, uint32_t have) {
  size_t at = blk(b, 6);
  u32(b, iface);
  u32(b, (uint32_t)(ts >> 32));
  u32(b, (uint32_t)ts);
  u32(b, caplen);
  u32(b, len);
  frame(b, have, (uint8_t)ts);
  blk_end(b, at);
}
static void spb(struct b *b, uint32_t len, uint32_t have) {
  size_t at = blk(b, 3);
  u32(b, len);
  frame(b, have, 3);
  blk_end(b, at);
}
static void pb(struct b *b, uint16_t iface, uint64_t ts, uint32_t caplen,
               uint32_t len) {
  size_t at = blk(b, 2);
  u16(b, iface);
  u16(b, 7); /* drops */
  u32(b, (uint32_t)(ts >> 32));
  u32(b, (uint32_t)ts);
  u32(b, caplen);
  u32(b, len);
  frame(b, caplen, 9);
  blk_end(b, at);
}
static void unknown_blk(struct b *b, uint32_t type, uint32_t body) {
  size_t at = blk(b, type);
  frame(b, body, 1);
  blk_end(b, at);
}
/* a Decryption Secrets Block of TLS keys (§4.7) */
static void dsb(struct b *b, int lines, uint32_t slen_extra) {
  char text[4096] = "";
  size_t n = 0;
  for (int i = 0; i < lines; i++) {
    n += (size_t)snprintf(text + n, sizeof text - n, "CLIENT_RANDOM ");
    for (int j = 0; j < 32; j++)
      n += (size_t)snprintf(text + n, sizeof text - n, "%02x", i * 32 + j);
    n += (size_t)snprintf(text + n, sizeof text - n, " ");
    for (int j = 0; j < 48; j++)
      n += (size_t)snprintf(text + n, sizeof text - n, "%02x", j);
    n += (size_t)snprintf(text + n, sizeof text - n, "\n");
  }
  size_t at = blk(b, 0x0A);
  u32(b, 0x544c534b);
  u32(b, (uint32_t)n + slen_extra);
  raw(b, text, n);
  blk_end(b, at);
}

static const char *corpus_dir;

static void crafted(const char *name, const struct b *b) {
  char label[128];
  snprintf(label, sizeof label, "crafted/%s", name);
  check(label, b->d, b->n, NULL);
  if (corpus_dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", corpus_dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
      fwrite(b->d, 1, b->n, f);
      fclose(f);
    }
  }
}

static struct b case_buf;

#define CASE(name, be_, ...)                                                   \
  do {                                                                         \
    struct b *b = &case_buf;                                                   \
    b->n = 0;                                                                  \
    b->be = (be_);                                                             \
    __VA_ARGS__;                                                               \
    crafted(name, b);                                                          \
  } while (0)

#define US 0xa1b2c3d4u
#define NS 0xa1b23c4du
#define KUZ 0xa1b2cd34u

static void classic_cases(void) {
  for (int be = 0; be < 2; be++) {
    const char *o = be ? "be" : "le";
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "pcap_%s_%s", s, o), n)
    CASE(NAME("ok"), be, pcap_hdr(b, US, 2, 4, 65535, 1);
         pcap_rec(b, 1700000000, 1, 60, 60, 60);
         pcap_rec(b, 1700000001, 999999, 1514, 1514, 1514);
         pcap_rec(b, 1700000002, 5, 0, 40, 0));
    CASE(NAME("nsec"), be, pcap_hdr(b, NS, 2, 4, 65535, 1);
         pcap_rec(b, 1700000000, 999999999, 60, 60, 60);
         pcap_rec(b, 1700000000, 1999, 60, 70, 60));
    CASE(NAME("after_2038"), be, pcap_hdr(b, US, 2, 4, 65535, 1);
         pcap_rec(b, 0x80000001u, 0xffffffffu, 60, 60, 60);
         pcap_rec(b, 0xfffffff0u, 1000001, 60, 60, 60));
    CASE(NAME("nsec_negative"), be, pcap_hdr(b, NS, 2, 4, 65535, 1);
         pcap_rec(b, 0x80000001u, 0xfffff000u, 60, 60, 60));
    CASE(NAME("header_only"), be, pcap_hdr(b, US, 2, 4, 65535, 1));
    CASE(NAME("truncated_file_header"), be, pcap_hdr(b, US, 2, 4, 65535, 1);
         b->n = 10);
    CASE(NAME("truncated_record_header"), be, pcap_hdr(b, US, 2, 4, 65535, 1);
         pcap_rec(b, 1, 2, 60, 60, 60); pcap_rec(b, 1, 3, 60, 60, 60);
         b->n -= 60 + 6);
    CASE(NAME("truncated_record"), be, pcap_hdr(b, US, 2, 4, 65535, 1);
         pcap_rec(b, 1, 2, 60, 60, 60); pcap_rec(b, 1, 3, 600, 600, 100));
    CASE(NAME("caplen_over_snaplen"), be, pcap_hdr(b, US, 2, 4, 64, 1);
         pcap_rec(b, 1, 2, 100, 100, 100); pcap_rec(b, 1, 3, 50, 50, 50));
    CASE(NAME("caplen_over_snaplen_truncated_in_snap"), be,
         pcap_hdr(b, US, 2, 4, 64, 1);
         pcap_rec(b, 1, 2, 100, 100, 30));
    CASE(NAME("caplen_over_snaplen_truncated_after_snap"), be,
         pcap_hdr(b, US, 2, 4, 64, 1);
         pcap_rec(b, 1, 2, 5000, 5000, 4500));
    CASE(NAME("caplen_over_262144_snaplen"), be,
         pcap_hdr(b, US, 2, 4, 65535, 1);
         pcap_rec(b, 1, 2, 262145, 262145, 10));
    CASE(NAME("caplen_over_262144_max"), be, pcap_hdr(b, US, 2, 4, 300000, 1);
         pcap_rec(b, 1, 2, 270000, 270000, 10));
    CASE(NAME("caplen_262144"), be, pcap_hdr(b, US, 2, 4, 0, 1);
         pcap_rec(b, 1, 2, 40000, 40000, 40000));
    CASE(NAME("dbus_big_caplen"), be, pcap_hdr(b, US, 2, 4, 0, 231);
         pcap_rec(b, 1, 2, 300000, 300000, 20));
    CASE(NAME("fcs_bits"), be, pcap_hdr(b, US, 2, 4, 65535, 1u | 0x14000000u);
         pcap_rec(b, 1, 2, 64, 64, 64));
    CASE(NAME("snaplen_zero"), be, pcap_hdr(b, US, 2, 4, 0, 1);
         pcap_rec(b, 1, 2, 64, 64, 64));
    CASE(NAME("snaplen_over_int_max"), be,
         pcap_hdr(b, US, 2, 4, 0x80000000u, 1);
         pcap_rec(b, 1, 2, 64, 64, 64));
    CASE(NAME("snaplen_500000"), be, pcap_hdr(b, US, 2, 4, 500000, 1);
         pcap_rec(b, 1, 2, 64, 64, 64));
    CASE(NAME("linktype_raw101"), be, pcap_hdr(b, US, 2, 4, 65535, 101);
         pcap_rec(b, 1, 2, 20, 20, 20));
    CASE(NAME("linktype_atm_clip"), be, pcap_hdr(b, US, 2, 4, 65535, 106);
         pcap_rec(b, 1, 2, 20, 20, 20));
    CASE(NAME("linktype_pfsync"), be, pcap_hdr(b, US, 2, 4, 65535, 246));
    CASE(NAME("linktype_pktap"), be, pcap_hdr(b, US, 2, 4, 65535, 258));
    CASE(NAME("linktype_ppp_hdlc"), be, pcap_hdr(b, US, 2, 4, 65535, 50));
    CASE(NAME("linktype_unknown"), be, pcap_hdr(b, US, 2, 4, 65535, 4000);
         pcap_rec(b, 1, 2, 20, 20, 20));
    CASE(NAME("linktype_sll"), be, pcap_hdr(b, US, 2, 4, 65535, 113);
         pcap_rec(b, 1, 2, 40, 40, 40));
    CASE(NAME("v2_2_lengths_swapped"), be, pcap_hdr(b, US, 2, 2, 65535, 1);
         pcap_rec(b, 1, 2, 100, 60, 60));
    CASE(NAME("v2_3_maybe_swapped"), be, pcap_hdr(b, US, 2, 3, 65535, 1);
         pcap_rec(b, 1, 2, 100, 60, 60); pcap_rec(b, 1, 3, 60, 100, 60));
    CASE(NAME("v543"), be, pcap_hdr(b, US, 543, 0, 65535, 1);
         pcap_rec(b, 1, 2, 100, 60, 60));
    CASE(NAME("v1_archaic"), be, pcap_hdr(b, US, 1, 0, 65535, 1));
    CASE(NAME("v2_5"), be, pcap_hdr(b, US, 2, 5, 65535, 1));
    CASE(NAME("v3_0"), be, pcap_hdr(b, US, 3, 0, 65535, 1));
    CASE(NAME("kuznetzov"), be, pcap_hdr(b, KUZ, 2, 4, 100, 1);
         pcap_rec(b, 1, 2, 110, 110, 110); u32(b, 0); u32(b, 0);
         pcap_rec(b, 1, 3, 60, 60, 60); u32(b, 0); u32(b, 0));
    CASE(NAME("kuznetzov_int_max"), be, pcap_hdr(b, KUZ, 2, 4, 0x7ffffff8u, 1);
         pcap_rec(b, 1, 2, 60, 60, 60); u32(b, 1); u32(b, 2));
    CASE(NAME("kuznetzov_truncated"), be, pcap_hdr(b, KUZ, 2, 4, 100, 101);
         pcap_rec(b, 1, 2, 20, 20, 20); u32(b, 0));
#undef NAME
  }
  CASE("zero_length", false, (void)b);
  CASE("two_bytes", false, u16(b, 0xc3d4));
  CASE("magic_only", false, u32(b, US));
  CASE("unknown_magic", false, u32(b, 0x12345678); u32(b, 0));
  CASE("navtel_magic", false, pcap_hdr(b, 0xa12b3c4du, 2, 4, 65535, 1));
}

static void pcapng_cases(void) {
  const int64_t off_pos = 1000000000, off_neg = -86400, off_big = 10000000000;
  for (int be = 0; be < 2; be++) {
    const char *o = be ? "be" : "le";
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "ng_%s_%s", s, o), n)
    CASE(NAME("ok"), be, shb(b, 1, 0); idb(b, 1, 65535, -1, NULL);
         epb(b, 0, 1700000000123456ull, 60, 60, 60);
         epb(b, 0, 1700000000999999ull, 1514, 1514, 1514);
         epb(b, 0, 1700000001000000ull, 0, 60, 0));
    CASE(NAME("v1_2"), be, shb(b, 1, 2); idb(b, 1, 0, -1, NULL);
         epb(b, 0, 5, 60, 60, 60));
    CASE(NAME("v1_1"), be, shb(b, 1, 1); idb(b, 1, 0, -1, NULL));
    CASE(NAME("v2_0"), be, shb(b, 2, 0); idb(b, 1, 0, -1, NULL));
    CASE(NAME("tsresol_ns"), be, shb(b, 1, 0); idb(b, 1, 0, 9, NULL);
         epb(b, 0, 1700000000123456789ull, 60, 60, 60));
    CASE(NAME("tsresol_2_10"), be, shb(b, 1, 0); idb(b, 1, 0, 0x8a, NULL);
         epb(b, 0, ((uint64_t)1700000000 << 10) | 1023, 60, 60, 60));
    CASE(NAME("tsresol_10_0"), be, shb(b, 1, 0); idb(b, 1, 0, 0, NULL);
         epb(b, 0, 1700000000, 60, 60, 60));
    CASE(NAME("tsresol_2_0"), be, shb(b, 1, 0); idb(b, 1, 0, 0x80, NULL);
         epb(b, 0, 1700000000, 60, 60, 60));
    CASE(NAME("tsresol_ms"), be, shb(b, 1, 0); idb(b, 1, 0, 3, NULL);
         epb(b, 0, 1700000000123ull, 60, 60, 60));
    CASE(NAME("tsresol_10_19"), be, shb(b, 1, 0); idb(b, 1, 0, 19, NULL);
         epb(b, 0, UINT64_MAX - 5, 60, 60, 60));
    CASE(NAME("tsresol_10_20"), be, shb(b, 1, 0); idb(b, 1, 0, 20, NULL));
    CASE(NAME("tsresol_2_63"), be, shb(b, 1, 0); idb(b, 1, 0, 0x80 | 63, NULL);
         epb(b, 0, UINT64_MAX - 7, 60, 60, 60));
    CASE(NAME("tsresol_2_64"), be, shb(b, 1, 0); idb(b, 1, 0, 0x80 | 64, NULL));
    CASE(NAME("tsoffset"), be, shb(b, 1, 0); idb(b, 1, 0, 6, &off_pos);
         epb(b, 0, 700000000123456ull, 60, 60, 60));
    CASE(NAME("tsoffset_negative"), be, shb(b, 1, 0); idb(b, 1, 0, 9, &off_neg);
         epb(b, 0, 1700000000123456789ull, 60, 60, 60));
    CASE(NAME("tsoffset_past_32_bits"), be, shb(b, 1, 0);
         idb(b, 1, 0, 0, &off_big); epb(b, 0, UINT64_MAX, 60, 60, 60));
    CASE(NAME("spb"), be, shb(b, 1, 0); idb(b, 1, 64, -1, NULL); spb(b, 60, 60);
         spb(b, 100, 64));
    CASE(NAME("spb_short"), be, shb(b, 1, 0); idb(b, 1, 64, -1, NULL);
         spb(b, 60, 20));
    CASE(NAME("spb_no_idb"), be, shb(b, 1, 0); spb(b, 60, 60));
    CASE(NAME("pb"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         pb(b, 0, 1700000000000001ull, 60, 80));
    CASE(NAME("pb_bad_iface"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         pb(b, 3, 1, 60, 80));
    CASE(NAME("unknown_blocks"), be, shb(b, 1, 0); unknown_blk(b, 0xBAD, 13);
         idb(b, 1, 0, -1, NULL); unknown_blk(b, 0x40000BAD, 0);
         epb(b, 0, 5, 60, 60, 60); unknown_blk(b, 5, 8); /* ISB */
         unknown_blk(b, 4, 12);                          /* NRB */
         epb(b, 0, 6, 60, 60, 60));
    CASE(NAME("block_len_not_4"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         size_t at = b->n; epb(b, 0, 5, 60, 60, 60); put32at(b, at + 4, 90));
    CASE(NAME("block_len_under_12"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         u32(b, 6); u32(b, 8));
    CASE(NAME("block_len_huge"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         u32(b, 6); u32(b, 0x01000004));
    CASE(NAME("block_len_16m"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         u32(b, 0xBAD); u32(b, 0x01000000));
    CASE(NAME("trailer_mismatch"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         epb(b, 0, 5, 60, 60, 60); put32at(b, b->n - 4, 84));
    CASE(NAME("truncated_block"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         epb(b, 0, 5, 60, 60, 60); epb(b, 0, 6, 60, 60, 60); b->n -= 30);
    CASE(NAME("truncated_block_header"), be, shb(b, 1, 0);
         idb(b, 1, 0, -1, NULL); epb(b, 0, 5, 60, 60, 60); u32(b, 6);
         u16(b, 0));
    CASE(NAME("no_idb"), be, shb(b, 1, 0); unknown_blk(b, 0xBAD, 4));
    CASE(NAME("epb_before_idb"), be, shb(b, 1, 0); epb(b, 0, 5, 60, 60, 60));
    CASE(NAME("pb_before_idb"), be, shb(b, 1, 0); pb(b, 0, 5, 60, 60));
    CASE(NAME("epb_bad_iface"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         epb(b, 1, 5, 60, 60, 60));
    CASE(NAME("epb_caplen_over_snaplen"), be, shb(b, 1, 0);
         idb(b, 1, 64, -1, NULL); epb(b, 0, 5, 100, 100, 100));
    CASE(NAME("epb_caplen_over_block"), be, shb(b, 1, 0);
         idb(b, 1, 0, -1, NULL); epb(b, 0, 5, 100, 100, 60));
    CASE(NAME("epb_short"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         size_t at = blk(b, 6); u32(b, 0); u32(b, 0); blk_end(b, at));
    CASE(NAME("idb_short"), be, shb(b, 1, 0); size_t at = blk(b, 1); u16(b, 1);
         u16(b, 0); blk_end(b, at));
    CASE(NAME("idb_short_later"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         size_t at = blk(b, 1); u16(b, 1); u16(b, 0); blk_end(b, at));
    CASE(NAME("two_idbs"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         idb(b, 1, 262144, 9, NULL); epb(b, 0, 1700000000123456ull, 60, 60, 60);
         epb(b, 1, 1700000000123456789ull, 60, 60, 60));
    CASE(NAME("idb_other_linktype"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         idb(b, 113, 0, -1, NULL));
    CASE(NAME("idb_other_snaplen"), be, shb(b, 1, 0);
         idb(b, 1, 65535, -1, NULL); idb(b, 1, 1500, -1, NULL));
    CASE(NAME("idb_raw_twice"), be, shb(b, 1, 0); idb(b, 101, 0, -1, NULL);
         epb(b, 0, 5, 20, 20, 20); idb(b, 101, 0, -1, NULL));
    CASE(NAME("idb_raw_once"), be, shb(b, 1, 0); idb(b, 101, 0, -1, NULL);
         epb(b, 0, 5, 20, 20, 20));
    CASE(NAME("idb_sll"), be, shb(b, 1, 0); idb(b, 113, 0, -1, NULL);
         epb(b, 0, 5, 40, 40, 40));
    CASE(NAME("two_sections"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         epb(b, 0, 5, 60, 60, 60); shb(b, 1, 2); idb(b, 1, 0, 9, NULL);
         epb(b, 0, 1700000000123456789ull, 60, 60, 60));
    CASE(NAME("second_section_forgets_idbs"), be, shb(b, 1, 0);
         idb(b, 1, 0, -1, NULL); idb(b, 1, 0, -1, NULL);
         epb(b, 1, 5, 60, 60, 60); shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         epb(b, 1, 6, 60, 60, 60));
    CASE(NAME("second_section_bad_major"), be, shb(b, 1, 0);
         idb(b, 1, 0, -1, NULL); shb(b, 2, 0));
    CASE(NAME("second_section_bad_bom"), be, shb(b, 1, 0);
         idb(b, 1, 0, -1, NULL); size_t at = b->n; shb(b, 1, 0);
         put32at(b, at + 8, 0x11223344));
    CASE(NAME("second_shb_short"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         size_t at = blk(b, 0x0A0D0D0A); u32(b, 0x1A2B3C4D); blk_end(b, at));
    CASE(NAME("shb_len_under_28"), be, shb(b, 1, 0); put32at(b, 4, 24);
         idb(b, 1, 0, -1, NULL));
    CASE(NAME("shb_len_over_1m"), be, shb(b, 1, 0);
         put32at(b, 4, 1024 * 1024 + 4); idb(b, 1, 0, -1, NULL));
    CASE(NAME("shb_len_not_4"), be, shb(b, 1, 0); u16(b, 0); put32at(b, 4, 30);
         idb(b, 1, 0, -1, NULL); epb(b, 0, 5, 60, 60, 60));
    CASE(NAME("shb_truncated"), be, shb(b, 1, 0); b->n -= 6);
    CASE(NAME("shb_8_bytes"), be, shb(b, 1, 0); b->n = 8);
    CASE(NAME("shb_bad_bom"), be, shb(b, 1, 0); put32at(b, 8, 0x1A2B3C4E));
    CASE(NAME("shb_trailer_ignored"), be, shb(b, 1, 0);
         put32at(b, 24, 0xdeadbeef); idb(b, 1, 0, -1, NULL);
         epb(b, 0, 5, 60, 60, 60));
    CASE(NAME("dsb_keys"), be, shb(b, 1, 0); dsb(b, 2, 0);
         idb(b, 1, 0, -1, NULL); epb(b, 0, 5, 60, 60, 60); dsb(b, 3, 0);
         epb(b, 0, 6, 60, 60, 60));
    CASE(NAME("dsb_bad_length"), be, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
         dsb(b, 1, 1000); epb(b, 0, 5, 60, 60, 60));
    CASE(NAME("opt_tsresol_len2"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 9, "\x06\x00", 2);
         blk_end(b, at));
    CASE(NAME("opt_tsresol_twice"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 9, "\x06", 1);
         opt(b, 9, "\x09", 1); blk_end(b, at));
    CASE(NAME("opt_tsoffset_len4"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 14, "\x01\x02\x03\x04", 4);
         blk_end(b, at));
    CASE(NAME("opt_tsoffset_twice"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 14, "\0\0\0\0\0\0\0\1", 8);
         opt(b, 14, "\0\0\0\0\0\0\0\1", 8); blk_end(b, at));
    CASE(NAME("opt_endofopt_len"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 0, "abcd", 4); blk_end(b, at));
    CASE(NAME("opt_after_endofopt"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 0, NULL, 0);
         u32(b, 0xffffffff); blk_end(b, at); epb(b, 0, 5, 60, 60, 60));
    CASE(NAME("opt_cut"), be, shb(b, 1, 0); size_t at = blk(b, 1); u16(b, 1);
         u16(b, 0); u32(b, 0); u16(b, 2); u16(b, 40); u32(b, 0x41414141);
         blk_end(b, at));
    CASE(NAME("opt_name_and_resol"), be, shb(b, 1, 0); size_t at = blk(b, 1);
         u16(b, 1); u16(b, 0); u32(b, 0); opt(b, 2, "eth0", 4);
         opt(b, 9, "\x83", 1); opt(b, 0, NULL, 0); blk_end(b, at);
         epb(b, 0, 12345, 60, 60, 60));
    CASE(NAME("dbus_block_over_16m"), be, shb(b, 1, 0);
         idb(b, 231, 0, -1, NULL); u32(b, 0xBAD); u32(b, 0x01000100));
#undef NAME
  }
  /* two sections in different byte orders */
  CASE("ng_le_then_be", false, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
       epb(b, 0, 5, 60, 60, 60); b->be = true; shb(b, 1, 0);
       idb(b, 1, 0, -1, NULL); epb(b, 0, 6, 60, 60, 60));
  CASE("ng_be_then_le", true, shb(b, 1, 0); idb(b, 1, 0, -1, NULL);
       epb(b, 0, 5, 60, 60, 60); b->be = false; shb(b, 1, 0);
       idb(b, 1, 0, -1, NULL); epb(b, 0, 6, 60, 60, 60));
  /* before the first IDB libpcap skips an SHB of either byte order */
  CASE("ng_le_be_shb_before_idb", false, shb(b, 1, 0); b->be = true;
       shb(b, 1, 0); b->be = false; idb(b, 1, 0, -1, NULL);
       epb(b, 0, 5, 60, 60, 60));
}

int main(int argc, char **argv) {
  const char *t = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/reader_diff.XXXXXX", t ? t : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 2;
  }
  int i = 1;
  if (argc > 2 && !strcmp(argv[1], "--corpus")) {
    corpus_dir = argv[2];
    i = 3;
  }
  classic_cases();
  pcapng_cases();
  for (; i < argc; i++)
    walk(argv[i]);
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s/case.bin", tmpdir);
  unlink(tmp);
  rmdir(tmpdir);
  printf("%d inputs: %d read whole, %d rejected alike, %d declined; %lu "
         "packets compared; %d failure(s)\n",
         checked + failures, accepted, rejected, declined, packets_total,
         failures);
  return failures ? 1 : 0;
}

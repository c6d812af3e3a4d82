/* SPDX-License-Identifier: BSD-2-Clause */
/* Flight recorder of `tlsfin watch --record`: files read back with libpcap
 * (packets, bytes, microsecond timestamps), the verdict comment parsed from
 * the EPB options here, the key log loaded back with
 * tf_pcapng_scan_secrets; ring and mem_max bounds, rotation by size and by
 * period, the directory bound (oldest of ours first, never a foreign file),
 * unusable directories, a failed write (RLIMIT_FSIZE, which works as root
 * too), and memory that follows the open connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keylog.h"
#include "recorder.h"

#define T0 1700000000 /* 2023-11-14T22:13:20Z */

static time_t fake_now = T0;
static time_t fake_clock(void) { return fake_now; }

/* ---- scratch directories ---- */

static char *mktmp(void) {
  char t[] = "/tmp/tlsfin-rec-XXXXXX";
  char *d = mkdtemp(t);
  assert_non_null(d);
  d = strdup(d);
  assert_non_null(d);
  return d;
}

static int rm_one(const char *p, const struct stat *s, int flag,
                  struct FTW *f) {
  (void)s;
  (void)flag;
  (void)f;
  return remove(p);
}

static void rmtree(char *d) {
  nftw(d, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(d);
}

static void write_file(const char *dir, const char *name, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < n; i++)
    fputc('x', f);
  fclose(f);
}

static bool exists(const char *dir, const char *name) {
  char path[4096];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return lstat(path, &st) == 0;
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

#define MAXF 64
struct flist {
  int n;
  char name[MAXF][80];
  char path[MAXF][4200];
};

static int cmp_names(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

/* The recorder's files in dir (tlsfin-<digits>...), sorted by name. */
static void list_ours(const char *dir, struct flist *l) {
  char names[MAXF][80];
  int n = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "tlsfin-", 7) != 0 || len < 15 ||
        e->d_name[7] < '0' || e->d_name[7] > '9' ||
        strcmp(e->d_name + len - 7, ".pcapng") != 0)
      continue;
    assert_true(n < MAXF && len < 80);
    memcpy(names[n++], e->d_name, len + 1);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_names);
  l->n = n;
  for (int i = 0; i < n; i++) {
    memcpy(l->name[i], names[i], sizeof names[i]);
    int w = snprintf(l->path[i], sizeof l->path[i], "%s/%s", dir, names[i]);
    assert_true(w > 0 && (size_t)w < sizeof l->path[i]);
  }
}

/* ---- hand-made Ethernet/IPv4/TCP packets ---- */

static size_t make_pkt(uint8_t *b, size_t cap, uint16_t sport, uint32_t seq,
                       size_t payload, uint8_t fill) {
  size_t n = 14 + 20 + 20 + payload;
  assert_true(n <= cap);
  memset(b, 0, 54);
  static const uint8_t mac[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  memcpy(b, mac, 12);
  b[12] = 0x08; /* IPv4 */
  uint8_t *ip = b + 14;
  ip[0] = 0x45;
  ip[2] = (uint8_t)((n - 14) >> 8);
  ip[3] = (uint8_t)(n - 14);
  ip[8] = 64;
  ip[9] = 6;
  memcpy(ip + 12, (uint8_t[]){10, 0, 0, 1, 10, 0, 0, 2}, 8);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2)
    sum += (uint32_t)ip[i] << 8 | ip[i + 1];
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = (uint8_t)(~sum >> 8);
  ip[11] = (uint8_t)~sum;
  uint8_t *tcp = ip + 20;
  tcp[0] = (uint8_t)(sport >> 8);
  tcp[1] = (uint8_t)sport;
  tcp[2] = 443 >> 8;
  tcp[3] = 443 & 0xff;
  for (int i = 0; i < 4; i++)
    tcp[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
  tcp[12] = 5 << 4;
  tcp[13] = 0x18; /* PSH ACK */
  tcp[14] = 0xff;
  for (size_t i = 0; i < payload; i++)
    b[54 + i] = (uint8_t)(fill + i);
  return n;
}

/* Timestamp of packet i of a test: distinct microseconds. */
static void ts_of(int i, long *sec, long *usec) {
  *sec = T0 + i / 3;
  *usec = 100000 + (long)(i % 3) * 111111 + i;
}

static double ts_double(int i) {
  long s, u;
  ts_of(i, &s, &u);
  return (double)s + (double)u / 1e6;
}

/* Packet i of connection conn: payload sizes vary, some beyond snaplen. */
static size_t pkt_of(uint8_t *b, size_t cap, uint64_t conn, int i) {
  static const size_t sizes[] = {0, 10, 100, 300, 20, 1400};
  return make_pkt(b, cap, (uint16_t)(40000 + conn % 1000), (uint32_t)i * 1000,
                  sizes[(size_t)i % 6], (uint8_t)(conn * 31 + (unsigned)i));
}

static void feed(struct tf_recorder *r, uint64_t conn, int iface, int first,
                 int count) {
  uint8_t b[2048];
  for (int i = first; i < first + count; i++) {
    size_t n = pkt_of(b, sizeof b, conn, i);
    tf_recorder_packet(r, conn, iface, ts_double(i), b, (uint32_t)n,
                       (uint32_t)n);
  }
}

/* ---- reading files back ---- */

/* Checks the packets of path with libpcap: they are packets first..first+n-1
 * of conn, truncated to snaplen. */
static void check_pcap(const char *path, uint64_t conn, int first, int n,
                       uint32_t snaplen, int dlt) {
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, eb);
  if (!p)
    fail_msg("%s: %s", path, eb);
  assert_int_equal(pcap_datalink(p), dlt);
  struct pcap_pkthdr *h;
  const u_char *d;
  int got = 0, rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
    assert_true(got < n);
    uint8_t want[2048];
    size_t len = pkt_of(want, sizeof want, conn, first + got);
    long s, u;
    ts_of(first + got, &s, &u);
    assert_int_equal(h->ts.tv_sec, s);
    assert_int_equal(h->ts.tv_usec, u);
    assert_int_equal(h->len, len);
    assert_int_equal(h->caplen, len < snaplen ? len : snaplen);
    assert_memory_equal(d, want, h->caplen);
    got++;
  }
  if (rc != PCAP_ERROR_BREAK)
    fail_msg("%s: %s", path, pcap_geterr(p));
  pcap_close(p);
  assert_int_equal(got, n);
}

static int pcap_count(const char *path) {
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, eb);
  if (!p)
    fail_msg("%s: %s", path, eb);
  struct pcap_pkthdr *h;
  const u_char *d;
  int n = 0, rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1)
    n++;
  if (rc != PCAP_ERROR_BREAK)
    fail_msg("%s: %s", path, pcap_geterr(p));
  pcap_close(p);
  return n;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The block structure of a file walked by hand: one letter per block (S I D
 * E), the comments of the EPBs (index of the first EPB with one, how many
 * carry one, the first one's text) and the IDBs' link types. */
struct blocks {
  char kinds[512];
  int nkinds, first_comment_epb, ncomments, nidb;
  uint16_t linktype[8];
  char *comment;
  size_t comment_len;
};

static void scan_blocks(const char *path, struct blocks *bl) {
  memset(bl, 0, sizeof *bl);
  bl->first_comment_epb = -1;
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  long fsz = file_size(path);
  assert_true(fsz > 0);
  size_t size = fsz > 0 ? (size_t)fsz : 1;
  uint8_t *buf = malloc(size);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, size, f), size);
  fclose(f);
  size_t off = 0;
  int epb = 0;
  while (off < size) {
    assert_true(off + 12 <= size);
    uint32_t type = le32(buf + off), len = le32(buf + off + 4);
    assert_true(len >= 12 && len % 4 == 0 && off + len <= size);
    assert_int_equal(le32(buf + off + len - 4), len); /* trailer */
    const uint8_t *body = buf + off + 8;
    size_t blen = len - 12;
    char k = '?';
    switch (type) {
    case 0x0A0D0D0A:
      k = 'S';
      assert_int_equal(le32(body), 0x1A2B3C4D);
      break;
    case 1:
      k = 'I';
      assert_true(bl->nidb < 8);
      bl->linktype[bl->nidb++] = (uint16_t)(body[0] | body[1] << 8);
      break;
    case 0x0A:
      k = 'D';
      break;
    case 6: {
      k = 'E';
      assert_true(blen >= 20);
      uint32_t caplen = le32(body + 12);
      size_t o = 20 + (caplen + 3) / 4 * 4;
      assert_true(o <= blen);
      while (o + 4 <= blen) {
        uint16_t code = (uint16_t)(body[o] | body[o + 1] << 8);
        uint16_t olen = (uint16_t)(body[o + 2] | body[o + 3] << 8);
        if (code == 0)
          break;
        assert_true(o + 4 + olen <= blen);
        if (code == 1) {
          if (bl->ncomments++ == 0) {
            bl->first_comment_epb = epb;
            bl->comment = malloc(olen + 1u);
            assert_non_null(bl->comment);
            memcpy(bl->comment, body + o + 4, olen);
            bl->comment[olen] = '\0';
            bl->comment_len = olen;
          }
        }
        o += 4 + (olen + 3u) / 4 * 4;
      }
      epb++;
      break;
    }
    default:
      break;
    }
    assert_true(bl->nkinds < (int)sizeof bl->kinds - 1);
    bl->kinds[bl->nkinds++] = k;
    off += len;
  }
  free(buf);
}

static struct tf_recorder *make(const char *dir,
                                void (*tweak)(struct tf_recorder_opts *)) {
  struct tf_recorder_opts o;
  tf_recorder_opts_init(&o);
  o.dir = dir;
  o.now = fake_clock;
  if (tweak)
    tweak(&o);
  char err[256];
  struct tf_recorder *r = tf_recorder_new(&o, err, sizeof err);
  if (!r)
    fail_msg("tf_recorder_new: %s", err);
  assert_int_equal(tf_recorder_add_interface(r, 1, 65535, "eth0"), 0);
  return r;
}

static void hexstr(char *out, uint8_t start, size_t n) {
  for (size_t i = 0; i < n; i++)
    snprintf(out + 2 * i, 3, "%02x", (uint8_t)(start + i));
}

/* ---- tests ---- */

/* Two connections, one kept: its packets, comment and keys come back. */
static void round_trip(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct tf_recorder *r = make(dir, NULL);
  assert_string_equal(tf_recorder_current_file(r), "");
  for (int i = 0; i < 6; i++) { /* interleaved */
    feed(r, 0xA, 0, i, 1);
    if (i < 3)
      feed(r, 0xB, 0, 100 + i, 1);
  }
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 2);
  assert_int_equal(s.packets_held, 9);
  assert_int_equal(tf_recorder_end(r, 0xB, false, "ignored", NULL, 0), 0);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 1);
  assert_int_equal(s.files_written, 0);

  char cr[65], master[97], chs[65], keylog[512];
  hexstr(cr, 0x10, 32);
  hexstr(master, 0x80, 48);
  hexstr(chs, 0x40, 32);
  snprintf(keylog, sizeof keylog,
           "CLIENT_RANDOM %s %s\nCLIENT_HANDSHAKE_TRAFFIC_SECRET %s %s\n", cr,
           master, cr, chs);
  const char *comment = "truncation: peer closed TCP without close_notify "
                        "after 1 234 bytes \xe2\x9c\x97 (\xc3\xbc)";
  assert_int_equal(
      tf_recorder_end(r, 0xA, true, comment, keylog, strlen(keylog)), 0);
  assert_int_equal(tf_recorder_end(r, 0xC, true, "never seen", NULL, 0), 0);

  char path[4200];
  snprintf(path, sizeof path, "%s", tf_recorder_current_file(r));
  char want[4200];
  snprintf(want, sizeof want, "%s/tlsfin-20231114T221320Z-0000.pcapng", dir);
  assert_string_equal(path, want);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 0);
  assert_int_equal(s.conns_written, 1);
  assert_int_equal(s.files_written, 1);
  assert_int_equal(s.packets_held, 0);
  assert_int_equal(s.bytes_held, 0);
  assert_int_equal(s.packets_dropped, 0);
  assert_int_equal(s.bytes_on_disk, file_size(path));
  /* Flushed at the end of each connection: readable before free. */
  check_pcap(path, 0xA, 0, 6, 256, DLT_EN10MB);
  tf_recorder_free(r);

  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600); /* it holds keys */
  struct flist l;
  list_ours(dir, &l);
  assert_int_equal(l.n, 1);
  check_pcap(path, 0xA, 0, 6, 256, DLT_EN10MB);

  struct blocks bl;
  scan_blocks(path, &bl);
  assert_string_equal(bl.kinds, "SIDEEEEEE");
  assert_int_equal(bl.linktype[0], 1);
  assert_int_equal(bl.ncomments, 1);
  assert_int_equal(bl.first_comment_epb, 0);
  assert_string_equal(bl.comment, comment);
  free(bl.comment);

  struct tf_keylog *k = tf_keylog_new();
  assert_non_null(k);
  /* the file read through tlsfin's one-pass DSB reader, as analyze reads it:
   * one connection's keys, both secrets checked below */
  FILE *raw = fopen(path, "rb");
  assert_non_null(raw);
  FILE *scan = tf_pcapng_scan_secrets(raw, k);
  assert_non_null(scan);
  char sink[4096];
  while (fread(sink, 1, sizeof sink, scan) > 0)
    ;
  fclose(scan);
  assert_int_equal(tf_keylog_count(k), 1);
  uint8_t crb[32];
  for (int i = 0; i < 32; i++)
    crb[i] = (uint8_t)(0x10 + i);
  const struct tf_keys *keys = tf_keylog_find(k, crb);
  assert_non_null(keys);
  assert_int_equal(keys->len[TF_SECRET_MASTER], 48);
  assert_int_equal(keys->len[TF_SECRET_CLIENT_HS], 32);
  assert_int_equal(keys->secret[TF_SECRET_MASTER][47], 0x80 + 47);
  assert_int_equal(keys->secret[TF_SECRET_CLIENT_HS][0], 0x40);
  tf_keylog_free(k);
  rmtree(dir);
}

/* watch -j: each capture thread keeps its rings in a shard of its own and
 * writes through the shared recorder; two threads ending connections at
 * the same time lose none of them and write whole ones. */
struct shard_job {
  struct tf_recorder *r;
  uint64_t base;
  int errors;
  struct tf_recorder_stats st;
};

static void *shard_thread(void *arg) {
  struct shard_job *j = arg;
  struct tf_recorder_shard *s = tf_recorder_shard_new(j->r, 0);
  if (!s) {
    j->errors++;
    return NULL;
  }
  uint8_t b[2048];
  for (uint64_t c = 0; c < 40; c++) {
    uint64_t conn = j->base + c;
    for (int i = 0; i < 5; i++) {
      size_t n = pkt_of(b, sizeof b, conn, i);
      tf_recorder_shard_packet(s, conn, 0, ts_double(i), b, (uint32_t)n,
                               (uint32_t)n);
    }
    if (tf_recorder_shard_end(s, conn, c % 2 == 0, "kept", NULL, 0) < 0)
      j->errors++;
  }
  tf_recorder_shard_stats(s, &j->st);
  tf_recorder_shard_free(s);
  return NULL;
}

static void shards_in_threads(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct tf_recorder *r = make(dir, NULL);
  struct shard_job jobs[2] = {{r, 0x1000, 0, {0}}, {r, 0x2000, 0, {0}}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, shard_thread, &jobs[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(jobs[i].errors, 0);
    assert_int_equal(jobs[i].st.conns_open, 0); /* every ring given back */
    assert_int_equal(jobs[i].st.packets_held, 0);
    assert_int_equal(jobs[i].st.packets_dropped, 0);
  }
  struct tf_recorder_stats st;
  tf_recorder_stats(r, &st);
  assert_int_equal(st.conns_written, 40); /* half of each thread's 40 */
  tf_recorder_free(r);
  struct flist l;
  list_ours(dir, &l);
  assert_true(l.n >= 1);
  int packets = 0;
  for (int i = 0; i < l.n; i++)
    packets += pcap_count(l.path[i]);
  assert_int_equal(packets, 40 * 5);
  rmtree(dir);
}

/* 100 packets into a 64-packet ring: the last 64 are written. */
static void ring_bound(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct tf_recorder *r = make(dir, NULL);
  feed(r, 7, 0, 0, 100);
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  assert_int_equal(s.packets_held, 64);
  assert_int_equal(s.packets_overwritten, 36);
  assert_int_equal(s.packets_dropped, 0);
  assert_int_equal(tf_recorder_end(r, 7, true, "ring", NULL, 0), 0);
  check_pcap(tf_recorder_current_file(r), 7, 36, 64, 256, DLT_EN10MB);
  tf_recorder_free(r);
  rmtree(dir);
}

static size_t g_mem_max;
static void tweak_mem(struct tf_recorder_opts *o) { o->mem_max = g_mem_max; }

/* mem_max: the growing connection drops its own oldest first, then the
 * connection idle the longest is trimmed. */
static void mem_bound(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  /* What one packet of 54 bytes costs (all the packets below are 54 bytes:
   * payload size 0 is index 0 mod 6). */
  struct tf_recorder *r = make(dir, NULL);
  uint8_t b[64];
  size_t n = make_pkt(b, sizeof b, 1, 0, 0, 0);
  tf_recorder_packet(r, 1, 0, 1.0, b, (uint32_t)n, (uint32_t)n);
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  uint64_t unit = s.bytes_held;
  assert_true(unit >= n);
  tf_recorder_free(r);

  g_mem_max = (size_t)(10 * unit);
  r = make(dir, tweak_mem);
  /* Every 6th index is a 54-byte packet.  A: 20 packets, 10 fit. */
  for (int i = 0; i < 20; i++)
    feed(r, 0xA, 0, 6 * i, 1);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.packets_held, 10);
  assert_int_equal(s.packets_dropped, 10);
  assert_true(s.bytes_held <= g_mem_max);
  /* B's first packet trims A (the only other ring); its next ones replace
   * B's own oldest. */
  for (int i = 0; i < 4; i++)
    feed(r, 0xB, 0, 6 * (100 + i), 1);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.packets_held, 10);
  assert_int_equal(s.packets_dropped, 14);
  /* C trims the ring whose last packet is the oldest: A's (19) is older
   * than B's (103). */
  feed(r, 0xC, 0, 6 * 200, 1);
  /* A again: its own oldest goes, and A is now the most recent. */
  feed(r, 0xA, 0, 6 * 20, 1);
  /* D: now B's last packet is the oldest; B is emptied. */
  feed(r, 0xD, 0, 6 * 300, 1);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.packets_held, 10);
  assert_int_equal(s.packets_dropped, 17);
  assert_true(s.bytes_held <= g_mem_max);
  static const char *const comment[] = {"a", "b", "c", "d"};
  for (uint64_t c = 0xA; c <= 0xD; c++)
    assert_int_equal(tf_recorder_end(r, c, true, comment[c - 0xA], NULL, 0), 0);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_written, 3); /* B had nothing left */
  int want[10], nw = 0;
  for (int i = 13; i <= 20; i++)
    want[nw++] = 6 * i;
  want[nw++] = 6 * 200;
  want[nw++] = 6 * 300;
  const char *path = tf_recorder_current_file(r);
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, eb);
  assert_non_null(p);
  struct pcap_pkthdr *h;
  const u_char *d;
  int got = 0;
  while (pcap_next_ex(p, &h, &d) == 1) {
    assert_true(got < nw);
    long sec, usec;
    ts_of(want[got], &sec, &usec);
    assert_int_equal(h->ts.tv_sec, sec);
    assert_int_equal(h->ts.tv_usec, usec);
    got++;
  }
  pcap_close(p);
  assert_int_equal(got, nw);
  tf_recorder_free(r);

  /* A packet larger than mem_max, and one on an unknown interface, are
   * dropped. */
  g_mem_max = 8;
  r = make(dir, tweak_mem);
  tf_recorder_packet(r, 0xC, 0, 1.0, b, (uint32_t)n, (uint32_t)n);
  tf_recorder_packet(r, 0xC, 5, 1.0, b, (uint32_t)n, (uint32_t)n);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.packets_dropped, 2);
  assert_int_equal(s.packets_held, 0);
  tf_recorder_free(r);
  rmtree(dir);
}

static void tweak_small_files(struct tf_recorder_opts *o) {
  o->file_max_bytes = 3000;
}

/* Small file_max_bytes: several complete files, sequence numbers in
 * name order within one second. */
static void rotate_size(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct tf_recorder *r = make(dir, tweak_small_files);
  for (uint64_t c = 0; c < 10; c++) {
    feed(r, c, 0, 0, 6);
    assert_int_equal(tf_recorder_end(r, c, true, "rot", NULL, 0), 0);
  }
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  tf_recorder_free(r);
  struct flist l;
  list_ours(dir, &l);
  assert_true(l.n >= 3);
  assert_int_equal(s.files_written, l.n);
  int total = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < l.n; i++) {
    char want[80];
    snprintf(want, sizeof want, "tlsfin-20231114T221320Z-%04d.pcapng", i);
    assert_string_equal(l.name[i], want);
    long sz = file_size(l.path[i]);
    assert_true(sz > 0 && sz <= 3000);
    bytes += (uint64_t)sz;
    total += pcap_count(l.path[i]);
  }
  assert_int_equal(total, 60);
  assert_int_equal(s.bytes_on_disk, bytes);
  assert_int_equal(pcap_count(l.path[0]), 12); /* two connections a file */
  rmtree(dir);
}

/* A new file when the hour changes (UTC wall clock), not within it. */
static void rotate_hour(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = 3599;
  struct tf_recorder *r = make(dir, NULL);
  feed(r, 1, 0, 0, 3);
  assert_int_equal(tf_recorder_end(r, 1, true, "x", NULL, 0), 0);
  fake_now = 3600;
  feed(r, 2, 0, 0, 3);
  assert_int_equal(tf_recorder_end(r, 2, true, "x", NULL, 0), 0);
  fake_now = 7199;
  feed(r, 3, 0, 0, 3);
  assert_int_equal(tf_recorder_end(r, 3, true, "x", NULL, 0), 0);
  tf_recorder_free(r);
  struct flist l;
  list_ours(dir, &l);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.name[0], "tlsfin-19700101T005959Z-0000.pcapng");
  assert_string_equal(l.name[1], "tlsfin-19700101T010000Z-0000.pcapng");
  assert_int_equal(pcap_count(l.path[0]), 3);
  assert_int_equal(pcap_count(l.path[1]), 6);
  rmtree(dir);
}

static void tweak_dir_bound(struct tf_recorder_opts *o) {
  o->file_max_bytes = 2500;
  o->dir_max_bytes = 8000;
}

/* The directory bound removes our oldest files (one from an earlier run
 * first), never the current one, a foreign file or a symlink. */
static void dir_bound(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  write_file(dir, "notes.txt", 10000);
  write_file(dir, "tlsfin-foreign.pcapng", 10000);
  write_file(dir, "tlsfin-20000101T000000Z-0000.pcapng", 3000);
  char target[4200], link[4200];
  snprintf(target, sizeof target, "%s/notes.txt", dir);
  snprintf(link, sizeof link, "%s/tlsfin-19990101T000000Z-0000.pcapng", dir);
  assert_int_equal(symlink(target, link), 0);

  struct tf_recorder *r = make(dir, tweak_dir_bound);
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  assert_int_equal(s.bytes_on_disk, 3000);
  bool old_gone_first = false;
  for (uint64_t c = 0; c < 20; c++) {
    feed(r, c, 0, 0, 6);
    assert_int_equal(tf_recorder_end(r, c, true, "dir", NULL, 0), 0);
    tf_recorder_stats(r, &s);
    if (s.files_removed == 1)
      old_gone_first = !exists(dir, "tlsfin-20000101T000000Z-0000.pcapng") &&
                       exists(dir, "tlsfin-20231114T221320Z-0000.pcapng");
    assert_true(s.bytes_on_disk <= 8000);
    assert_true(file_size(tf_recorder_current_file(r)) > 0);
  }
  assert_true(old_gone_first);
  assert_true(s.files_removed >= 3);
  assert_true(exists(dir, "notes.txt"));
  assert_true(exists(dir, "tlsfin-foreign.pcapng"));
  assert_true(exists(dir, "tlsfin-19990101T000000Z-0000.pcapng"));
  char cur[4200];
  snprintf(cur, sizeof cur, "%s", tf_recorder_current_file(r));
  tf_recorder_free(r);
  struct flist l;
  list_ours(dir, &l);
  uint64_t bytes = 0;
  for (int i = 0; i < l.n; i++)
    if (strncmp(l.name[i], "tlsfin-1999", 11) != 0)
      bytes += (uint64_t)file_size(l.path[i]);
  assert_int_equal(bytes, s.bytes_on_disk);
  assert_string_equal(l.path[l.n - 1], cur);
  rmtree(dir);
}

/* Not a directory, not writable: NULL and one line; a missing path is
 * created. */
static void bad_dir(void **state) {
  (void)state;
  char *dir = mktmp();
  char path[4200], err[512];
  struct tf_recorder_opts o;
  tf_recorder_opts_init(&o);
  o.dir = path;

  write_file(dir, "plain", 1);
  snprintf(path, sizeof path, "%s/plain", dir);
  err[0] = '\0';
  assert_null(tf_recorder_new(&o, err, sizeof err));
  assert_non_null(strstr(err, "--record "));
  assert_non_null(strstr(err, ": not a directory"));
  assert_null(strchr(err, '\n'));

  snprintf(path, sizeof path, "%s/plain/sub", dir);
  assert_null(tf_recorder_new(&o, err, sizeof err));
  assert_non_null(strstr(err, "Not a directory"));

  o.dir = NULL;
  assert_null(tf_recorder_new(&o, err, sizeof err));
  assert_true(err[0] != '\0');
  o.dir = path;

  if (geteuid() != 0) { /* root writes anywhere */
    snprintf(path, sizeof path, "%s/ro", dir);
    assert_int_equal(mkdir(path, 0500), 0);
    assert_null(tf_recorder_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "Permission denied"));
    snprintf(path, sizeof path, "%s/ro/sub", dir);
    assert_null(tf_recorder_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "Permission denied"));
    snprintf(path, sizeof path, "%s/ro", dir);
    chmod(path, 0700);
  }

  snprintf(path, sizeof path, "%s/a/b/c", dir);
  struct tf_recorder *r = tf_recorder_new(&o, err, sizeof err);
  assert_non_null(r);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  tf_recorder_free(r);
  /* The probe file is gone. */
  DIR *d = opendir(path);
  assert_non_null(d);
  struct dirent *e;
  int entries = 0;
  while ((e = readdir(d)) != NULL)
    entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  assert_int_equal(entries, 0);
  rmtree(dir);
}

/* Memory follows the open connections: 100k at once, then 1M one after
 * the other. */
static void churn(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct tf_recorder *r = make(dir, NULL);
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  uint64_t idle = s.bytes_index;
  uint8_t b[64];
  size_t n = make_pkt(b, sizeof b, 1, 0, 0, 0);
  for (uint64_t c = 0; c < 100000; c++) {
    tf_recorder_packet(r, c * 0x10000, 0, 1.0, b, (uint32_t)n, (uint32_t)n);
    tf_recorder_packet(r, c * 0x10000, 0, 1.5, b, (uint32_t)n, (uint32_t)n);
  }
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 100000);
  assert_int_equal(s.packets_held, 200000);
  assert_true(s.bytes_index > idle);
  for (uint64_t c = 0; c < 100000; c++)
    assert_int_equal(tf_recorder_end(r, c * 0x10000, false, NULL, NULL, 0), 0);
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 0);
  assert_int_equal(s.packets_held, 0);
  assert_int_equal(s.bytes_held, 0);
  assert_int_equal(s.bytes_index, idle);

  uint64_t peak = 0;
  for (uint64_t c = 0; c < 1000000; c++) {
    tf_recorder_packet(r, c, 0, 1.0, b, (uint32_t)n, (uint32_t)n);
    if (c % 1000 == 0) {
      tf_recorder_stats(r, &s);
      if (s.bytes_index > peak)
        peak = s.bytes_index;
    }
    tf_recorder_end(r, c, false, NULL, NULL, 0);
  }
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 0);
  assert_int_equal(s.bytes_index, idle);
  assert_true(peak <= idle + 1024);
  tf_recorder_free(r);
  rmtree(dir);
}

/* A write that fails (file size limit, as a full disk would) returns -1
 * with a message, leaves the file valid, and later writes succeed. */
static void write_failure(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct rlimit saved;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
  void (*old)(int) = signal(SIGXFSZ, SIG_IGN);

  /* A new file that cannot take even its header is removed. */
  struct tf_recorder *r = make(dir, NULL);
  feed(r, 1, 0, 0, 6);
  struct rlimit lim = saved;
  lim.rlim_cur = 10;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  assert_int_equal(tf_recorder_end(r, 1, true, "x", NULL, 0), -1);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
  assert_non_null(strstr(tf_recorder_error(r), "File too large"));
  assert_string_equal(tf_recorder_current_file(r), "");
  struct flist l;
  list_ours(dir, &l);
  assert_int_equal(l.n, 0);

  /* Appending: cut back to the last complete connection. */
  feed(r, 2, 0, 0, 6);
  assert_int_equal(tf_recorder_end(r, 2, true, "x", NULL, 0), 0);
  char path[4200];
  snprintf(path, sizeof path, "%s", tf_recorder_current_file(r));
  long good = file_size(path);
  lim.rlim_cur = (rlim_t)good + 100;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  feed(r, 3, 0, 0, 6);
  int rc = tf_recorder_end(r, 3, true, "x", NULL, 0);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(tf_recorder_error(r), path));
  assert_int_equal(file_size(path), good);
  check_pcap(path, 2, 0, 6, 256, DLT_EN10MB);
  struct tf_recorder_stats s;
  tf_recorder_stats(r, &s);
  assert_int_equal(s.conns_open, 0);
  assert_int_equal(s.packets_held, 0);
  assert_int_equal(s.conns_written, 1);

  feed(r, 4, 0, 0, 6);
  assert_int_equal(tf_recorder_end(r, 4, true, "x", NULL, 0), 0);
  assert_string_equal(tf_recorder_current_file(r), path);
  tf_recorder_free(r);
  assert_int_equal(pcap_count(path), 12);
  signal(SIGXFSZ, old);
  rmtree(dir);
}

/* Each file holds the IDBs its packets use, added as they are first used;
 * link types come out as libpcap expects; long comments are cut at a
 * character boundary. */
static void interfaces_and_comments(void **state) {
  (void)state;
  char *dir = mktmp();
  fake_now = T0;
  struct tf_recorder *r = make(dir, NULL);
  assert_int_equal(tf_recorder_add_interface(r, 276, 65535, "any"), 1);
  assert_int_equal(tf_recorder_add_interface(r, 12, 65535, "tun0"), 2);
  assert_int_equal(tf_recorder_add_interface(r, -1, 65535, "bad"), -1);
  feed(r, 1, 1, 0, 2);
  assert_int_equal(tf_recorder_end(r, 1, true, "sll2", NULL, 0), 0);
  char path[4200];
  snprintf(path, sizeof path, "%s", tf_recorder_current_file(r));
  tf_recorder_free(r);
  struct blocks bl;
  scan_blocks(path, &bl);
  assert_string_equal(bl.kinds, "SIEE");
  assert_int_equal(bl.linktype[0], 276);
  free(bl.comment);
  char eb[PCAP_ERRBUF_SIZE];
  pcap_t *p = pcap_open_offline(path, eb);
  assert_non_null(p);
  assert_int_equal(pcap_datalink(p), 276);
  pcap_close(p);
  unlink(path);

  r = make(dir, NULL);
  assert_int_equal(tf_recorder_add_interface(r, 12, 65535, "tun0"), 1);
  feed(r, 1, 1, 0, 1);
  assert_int_equal(tf_recorder_end(r, 1, true, NULL, NULL, 0), 0);
  snprintf(path, sizeof path, "%s", tf_recorder_current_file(r));
  tf_recorder_free(r);
  scan_blocks(path, &bl);
  assert_string_equal(bl.kinds, "SIE");
  assert_int_equal(bl.linktype[0], 101); /* LINKTYPE_RAW */
  assert_int_equal(bl.ncomments, 0);
  p = pcap_open_offline(path, eb);
  assert_non_null(p);
  assert_int_equal(pcap_datalink(p), DLT_RAW);
  pcap_close(p);
  unlink(path);

  /* An interface registered after the file was opened: its IDB is added
   * before its first packet. */
  r = make(dir, NULL);
  feed(r, 1, 0, 0, 2);
  assert_int_equal(tf_recorder_end(r, 1, true, "eth0", NULL, 0), 0);
  assert_int_equal(tf_recorder_add_interface(r, 1, 65535, "eth1"), 1);
  feed(r, 2, 1, 0, 2);
  /* 35000 two-byte characters: cut to 32767 of them. */
  size_t clen = 70000;
  char *longc = malloc(clen + 1);
  assert_non_null(longc);
  for (size_t i = 0; i < clen; i += 2)
    memcpy(longc + i, "\xc3\xa9", 2);
  longc[clen] = '\0';
  assert_int_equal(tf_recorder_end(r, 2, true, longc, NULL, 0), 0);
  snprintf(path, sizeof path, "%s", tf_recorder_current_file(r));
  tf_recorder_free(r);
  scan_blocks(path, &bl);
  assert_string_equal(bl.kinds, "SIEEIEE");
  assert_int_equal(bl.ncomments, 2);
  free(bl.comment);
  assert_int_equal(pcap_count(path), 4);
  /* The second comment: walk again from the second EPB group. */
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  long fsz = file_size(path);
  size_t size = fsz > 0 ? (size_t)fsz : 1;
  uint8_t *buf = malloc(size);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, size, f), size);
  fclose(f);
  uint8_t *hit = memmem(buf, size, "\xc3\xa9\xc3\xa9", 4);
  assert_non_null(hit);
  uint16_t olen = (uint16_t)(hit[-2] | hit[-1] << 8);
  assert_int_equal(olen, 65534);
  assert_memory_equal(hit, longc, olen);
  free(buf);
  free(longc);
  rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),
      cmocka_unit_test(ring_bound),
      cmocka_unit_test(mem_bound),
      cmocka_unit_test(rotate_size),
      cmocka_unit_test(rotate_hour),
      cmocka_unit_test(dir_bound),
      cmocka_unit_test(bad_dir),
      cmocka_unit_test(churn),
      cmocka_unit_test(write_failure),
      cmocka_unit_test(interfaces_and_comments),
      cmocka_unit_test(shards_in_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Flight recorder (recorder.h).  Memory: one small entry per open
 * connection in a chained hash table that grows and shrinks with the number
 * of open connections, a ring of packet pointers per connection that grows
 * by doubling up to ring_packets, and one allocation per held packet (header
 * + at most snaplen bytes) counted against mem_max.  Connections holding
 * packets are also on a list ordered by the arrival of their last packet, so
 * the one to trim under memory pressure is found in O(1).
 *
 * Files: pcapng (draft-ietf-opsawg-pcapng) built by pcapng_write.h, the
 * builder --annotate uses too, one fwrite per ended connection on an
 * unbuffered stream, so a failed write can be cut back to the last complete
 * block with ftruncate and the file stays valid.
 */
#include "recorder.h"

#include "dconv.h"
#include "pcapng_write.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The SHB's shb_userappl: tells a reader which tlsfin wrote the file. */
#define USERAPPL "tlsfin watch --record"
/* if_tsresol 6: packets are held with microsecond timestamps. */
#define TSRESOL_USEC 6

#define IFACE_MAX 4096u
#define RING_MAX (1u << 20)
#define BUCKETS_MIN 1024u
#define RING_MIN 4u
/* The build buffer is kept between connections, unless a large connection
 * left it bigger than this. */
#define OUTBUF_KEEP (1u << 20)
/* "tlsfin-YYYYmmddTHHMMSSZ-NNNN.pcapng" plus room for a longer sequence
 * left by someone else's run. */
#define FNAME_LEN 64
#define NO_IDB UINT32_MAX

struct pkt {
  uint64_t ts_usec;
  uint32_t caplen, origlen, iface;
  uint8_t data[];
};

struct conn {
  uint64_t id;
  struct conn *hnext;         /* hash chain */
  struct conn *older, *newer; /* held list, by arrival of the last packet */
  bool listed;                /* on the held list (count > 0) */
  struct pkt **slot;          /* ring of cap slots, count from head */
  uint32_t cap, head, count;
};

struct iface {
  uint16_t linktype;
  char *name;
};

struct ofile {
  char name[FNAME_LEN];
  uint64_t size;
};

/* The packet rings of one capture thread (recorder.h): everything a
 * packet touches, so threads never share a lock per packet. */
struct tf_recorder_shard {
  struct tf_recorder *r;
  size_t mem_max;
  struct conn **bucket;
  size_t nbucket, nconn;
  struct conn *oldest, *newest; /* held list */
  /* packets_held, bytes_held, packets_dropped, packets_overwritten */
  struct tf_recorder_stats st;
  uint64_t bytes_index;
  char err[PATH_MAX + 128];
};

struct tf_recorder {
  char *dir;
  unsigned ring;
  size_t mem_max;
  uint32_t snaplen;
  uint64_t file_max, dir_max;
  unsigned rotate;
  time_t (*now)(void);

  /* the rings of tf_recorder_packet() / tf_recorder_end() */
  struct tf_recorder_shard base;
  /* Files: one writer at a time (shards of watch -j end connections from
   * their own threads).  Interfaces are registered before any shard runs
   * and not changed after. */
  pthread_mutex_t lock;

  struct iface *ifs;
  uint32_t nif, capif;

  /* Current file; file_idb maps an interface to its IDB index in it. */
  FILE *f;
  char cur_name[FNAME_LEN];
  char cur_path[PATH_MAX];
  uint64_t cur_size, cur_conns;
  long long cur_period;
  uint32_t *file_idb;
  uint32_t file_nidb;
  char last_stamp[24];
  unsigned seq;

  /* Our files in dir other than the current one, oldest (by name) first
   * from old_head. */
  struct ofile *old;
  size_t nold, old_head;
  uint64_t old_bytes;

  struct tf_pcapng_buf out;
  /* conns_written, files_written, files_removed */
  struct tf_recorder_stats st;
  char err[PATH_MAX + 128]; /* a whole path and its strerror fit */
};

/* ---- connection table ---- */

static size_t hash_slot(const struct tf_recorder_shard *r, uint64_t id) {
  /* splitmix64 finaliser: callers' ids may be sequential or share low
   * bits. */
  id ^= id >> 30;
  id *= 0xbf58476d1ce4e5b9ull;
  id ^= id >> 27;
  id *= 0x94d049bb133111ebull;
  id ^= id >> 31;
  return (size_t)(id & (r->nbucket - 1));
}

static void table_resize(struct tf_recorder_shard *r, size_t n) {
  struct conn **nb = calloc(n, sizeof *nb);
  if (!nb)
    return; /* keep the old table: longer chains, still correct */
  struct conn **ob = r->bucket;
  size_t on = r->nbucket;
  r->bucket = nb;
  r->nbucket = n;
  for (size_t i = 0; i < on; i++) {
    struct conn *c = ob[i];
    while (c) {
      struct conn *next = c->hnext;
      size_t h = hash_slot(r, c->id);
      c->hnext = nb[h];
      nb[h] = c;
      c = next;
    }
  }
  free(ob);
  r->bytes_index -= on * sizeof *ob;
  r->bytes_index += n * sizeof *nb;
}

static struct conn *conn_find(const struct tf_recorder_shard *r, uint64_t id) {
  for (struct conn *c = r->bucket[hash_slot(r, id)]; c; c = c->hnext)
    if (c->id == id)
      return c;
  return NULL;
}

static struct conn *conn_get(struct tf_recorder_shard *r, uint64_t id) {
  struct conn *c = conn_find(r, id);
  if (c)
    return c;
  c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->id = id;
  size_t h = hash_slot(r, id);
  c->hnext = r->bucket[h];
  r->bucket[h] = c;
  r->nconn++;
  r->bytes_index += sizeof *c;
  if (r->nconn > r->nbucket && r->nbucket <= SIZE_MAX / 2 / sizeof(void *))
    table_resize(r, r->nbucket * 2);
  return c;
}

static void held_unlink(struct tf_recorder_shard *r, struct conn *c) {
  if (!c->listed)
    return;
  if (c->older)
    c->older->newer = c->newer;
  else
    r->oldest = c->newer;
  if (c->newer)
    c->newer->older = c->older;
  else
    r->newest = c->older;
  c->older = c->newer = NULL;
  c->listed = false;
}

static void held_touch(struct tf_recorder_shard *r, struct conn *c) {
  held_unlink(r, c);
  c->older = r->newest;
  c->newer = NULL;
  if (r->newest)
    r->newest->newer = c;
  else
    r->oldest = c;
  r->newest = c;
  c->listed = true;
}

static void ring_free_slots(struct tf_recorder_shard *r, struct conn *c) {
  free(c->slot);
  r->bytes_index -= (uint64_t)c->cap * sizeof *c->slot;
  c->slot = NULL;
  c->cap = c->head = 0;
}

/* Frees the oldest packet of c.  An emptied ring leaves the held list, and
 * gives back its slots when release is set (trimmed by memory pressure:
 * the connection may stay idle for long). */
static void ring_pop(struct tf_recorder_shard *r, struct conn *c,
                     bool release) {
  struct pkt *p = c->slot[c->head];
  c->slot[c->head] = NULL;
  c->head = (c->head + 1) % c->cap;
  c->count--;
  r->st.packets_held--;
  r->st.bytes_held -= sizeof *p + p->caplen;
  free(p);
  if (c->count == 0) {
    held_unlink(r, c);
    if (release)
      ring_free_slots(r, c);
  }
}

static int ring_grow(struct tf_recorder_shard *r, struct conn *c) {
  uint32_t cap = c->cap ? c->cap * 2 : RING_MIN;
  if (cap > r->r->ring || cap < c->cap)
    cap = r->r->ring;
  struct pkt **s = malloc((size_t)cap * sizeof *s);
  if (!s)
    return -1;
  for (uint32_t i = 0; i < c->count; i++)
    s[i] = c->slot[(c->head + i) % c->cap];
  free(c->slot);
  r->bytes_index += (uint64_t)(cap - c->cap) * sizeof *s;
  c->slot = s;
  c->cap = cap;
  c->head = 0;
  return 0;
}

static void conn_drop(struct tf_recorder_shard *r, struct conn *c) {
  struct conn **pp = &r->bucket[hash_slot(r, c->id)];
  while (*pp != c)
    pp = &(*pp)->hnext;
  *pp = c->hnext;
  while (c->count)
    ring_pop(r, c, false);
  held_unlink(r, c);
  ring_free_slots(r, c);
  free(c);
  r->nconn--;
  r->bytes_index -= sizeof *c;
  /* Shrink at a quarter full so a burst of connections does not keep its
   * table, without resizing back and forth around one size. */
  if (r->nbucket > BUCKETS_MIN && r->nconn < r->nbucket / 4)
    table_resize(r, r->nbucket / 2);
}

/* ---- options, creation ---- */

void tf_recorder_opts_init(struct tf_recorder_opts *o) {
  memset(o, 0, sizeof *o);
  o->ring_packets = TF_RECORDER_DEFAULT_RING_PACKETS;
  o->mem_max = TF_RECORDER_DEFAULT_MEM_MAX;
  o->snaplen = TF_RECORDER_DEFAULT_SNAPLEN;
  o->file_max_bytes = TF_RECORDER_DEFAULT_FILE_MAX;
  o->rotate_seconds = TF_RECORDER_DEFAULT_ROTATE_SECONDS;
  o->dir_max_bytes = TF_RECORDER_DEFAULT_DIR_MAX;
}

/* Ours: exactly tlsfin-YYYYmmddTHHMMSSZ-N{4,10}.pcapng, so that name order
 * is age order and nothing else in the directory is ever removed. */
static bool our_name(const char *n) {
  static const char pre[] = "tlsfin-", suf[] = ".pcapng";
  size_t len = strlen(n);
  if (len >= FNAME_LEN || strncmp(n, pre, sizeof pre - 1) != 0)
    return false;
  const char *p = n + sizeof pre - 1;
  for (int i = 0; i < 15; i++, p++) {
    bool want_t = i == 8;
    if (want_t ? *p != 'T' : (*p < '0' || *p > '9'))
      return false;
  }
  if (p[0] != 'Z' || p[1] != '-')
    return false;
  p += 2;
  int digits = 0;
  while (*p >= '0' && *p <= '9') {
    p++;
    digits++;
  }
  return digits >= 4 && digits <= 10 && strcmp(p, suf) == 0;
}

static int ofile_cmp(const void *a, const void *b) {
  return strcmp(((const struct ofile *)a)->name,
                ((const struct ofile *)b)->name);
}

/* Lists our files other than the current one.  Done at start and when a
 * file is closed (rare), so files removed or added by others are noticed
 * without scanning the directory for every connection. */
static void scan_dir(struct tf_recorder *r) {
  DIR *d = opendir(r->dir);
  if (!d)
    return; /* keep the old list; the next write reports the problem */
  struct ofile *list = NULL;
  size_t n = 0, cap = 0;
  uint64_t bytes = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!our_name(e->d_name) || strcmp(e->d_name, r->cur_name) == 0)
      continue;
    struct stat st;
    /* Never follow a symlink: removing its target is not ours to do. */
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 16;
      struct ofile *nl = realloc(list, nc * sizeof *nl);
      if (!nl)
        break;
      list = nl;
      cap = nc;
    }
    size_t len = strlen(e->d_name); /* < FNAME_LEN: our_name() */
    if (len >= sizeof list[n].name)
      continue;
    memcpy(list[n].name, e->d_name, len + 1);
    list[n].size = (uint64_t)st.st_size;
    bytes += list[n].size;
    n++;
  }
  closedir(d);
  if (n > 1)
    qsort(list, n, sizeof *list, ofile_cmp);
  free(r->old);
  r->old = list;
  r->nold = n;
  r->old_head = 0;
  r->old_bytes = bytes;
}

static int mkdir_p(const char *dir) {
  char path[PATH_MAX];
  size_t n = strlen(dir);
  if (n >= sizeof path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0')
      continue;
    char saved = path[i];
    path[i] = '\0';
    /* 0700: the files hold packet headers and, with keys, TLS secrets. */
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
      return -1;
    path[i] = saved;
  }
  return 0;
}

static int shard_init(struct tf_recorder_shard *s, struct tf_recorder *r,
                      size_t mem_max) {
  memset(s, 0, sizeof *s);
  if (!(s->bucket = calloc(BUCKETS_MIN, sizeof *s->bucket)))
    return -1;
  s->r = r;
  s->mem_max = mem_max;
  s->nbucket = BUCKETS_MIN;
  s->bytes_index = BUCKETS_MIN * sizeof *s->bucket;
  return 0;
}

static void shard_release(struct tf_recorder_shard *s) {
  for (size_t i = 0; i < s->nbucket; i++) {
    struct conn *c = s->bucket[i];
    while (c) {
      struct conn *next = c->hnext;
      for (uint32_t k = 0; k < c->count; k++)
        free(c->slot[(c->head + k) % c->cap]);
      free(c->slot);
      free(c);
      c = next;
    }
  }
  free(s->bucket);
  s->bucket = NULL;
}

struct tf_recorder *tf_recorder_new(const struct tf_recorder_opts *o, char *err,
                                    size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (!o || !o->dir || !*o->dir) {
    if (err && errlen)
      snprintf(err, errlen, "--record: no directory given");
    return NULL;
  }
  const char *dir = o->dir;
  /* Room for "/" + a file name below the directory. */
  if (strlen(dir) + 1 + FNAME_LEN >= PATH_MAX) {
    if (err && errlen)
      snprintf(err, errlen, "--record %s: %s", dir, strerror(ENAMETOOLONG));
    return NULL;
  }
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT || mkdir_p(dir) != 0 || stat(dir, &st) != 0) {
      if (err && errlen)
        snprintf(err, errlen, "--record %s: %s", dir, strerror(errno));
      return NULL;
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    if (err && errlen)
      snprintf(err, errlen, "--record %s: not a directory", dir);
    return NULL;
  }
  /* access(W_OK) answers for the real uid and ignores read-only mounts and
   * ACL subtleties; creating a file is the question that matters. */
  char probe[PATH_MAX];
  snprintf(probe, sizeof probe, "%s/.tlsfin-probe-%ld", dir, (long)getpid());
  int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) { /* left by a killed run with our pid */
    unlink(probe);
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) {
    if (err && errlen)
      snprintf(err, errlen, "--record %s: %s", dir, strerror(errno));
    return NULL;
  }
  close(fd);
  unlink(probe);

  struct tf_recorder *r = calloc(1, sizeof *r);
  if (!r || !(r->dir = strdup(dir)) || shard_init(&r->base, r, 0) != 0) {
    if (r)
      free(r->dir);
    free(r);
    if (err && errlen)
      snprintf(err, errlen, "--record %s: %s", dir, strerror(ENOMEM));
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  r->ring =
      o->ring_packets ? o->ring_packets : TF_RECORDER_DEFAULT_RING_PACKETS;
  if (r->ring > RING_MAX)
    r->ring = RING_MAX;
  r->mem_max = o->mem_max ? o->mem_max : TF_RECORDER_DEFAULT_MEM_MAX;
  r->base.mem_max = r->mem_max;
  r->snaplen = o->snaplen ? o->snaplen : TF_RECORDER_DEFAULT_SNAPLEN;
  /* libpcap's largest: an IDB claiming more is "adjusted" by libpcap, and
   * it then rejects the next IDB as having a different one. */
  if (r->snaplen > TF_PCAPNG_SNAPLEN_MAX)
    r->snaplen = TF_PCAPNG_SNAPLEN_MAX;
  r->file_max =
      o->file_max_bytes ? o->file_max_bytes : TF_RECORDER_DEFAULT_FILE_MAX;
  r->rotate = o->rotate_seconds ? o->rotate_seconds
                                : TF_RECORDER_DEFAULT_ROTATE_SECONDS;
  r->dir_max = o->dir_max_bytes;
  r->now = o->now;
  scan_dir(r);
  return r;
}

int tf_recorder_add_interface(struct tf_recorder *r, int linktype,
                              uint32_t snaplen, const char *name) {
  /* snaplen is not written: every IDB carries the recorder's snaplen, as
   * libpcap rejects a file whose interfaces have different ones. */
  (void)snaplen;
  int lt = tf_pcapng_linktype(linktype);
  if (!r || lt < 0 || r->nif >= IFACE_MAX)
    return -1;
  if (r->nif == r->capif) {
    uint32_t nc = r->capif ? r->capif * 2 : 4;
    struct iface *ni = realloc(r->ifs, nc * sizeof *ni);
    if (!ni)
      return -1;
    r->ifs = ni;
    uint32_t *nm = realloc(r->file_idb, nc * sizeof *nm);
    if (!nm)
      return -1;
    r->file_idb = nm;
    r->capif = nc;
  }
  char *copy = NULL;
  if (name && !(copy = strdup(name)))
    return -1;
  r->ifs[r->nif].linktype = (uint16_t)lt;
  r->ifs[r->nif].name = copy;
  r->file_idb[r->nif] = NO_IDB;
  return (int)r->nif++;
}

/* ---- packets ---- */

/* NaN and negative times become 0, huge ones saturate (dconv.h). */
static uint64_t ts_to_usec(double ts) {
  return ts > 0 ? tf_u64_sat(ts * 1e6 + 0.5) : 0;
}

static void shard_packet(struct tf_recorder_shard *r, uint64_t conn, int iface,
                         double ts, const uint8_t *data, uint32_t caplen,
                         uint32_t origlen) {
  if (iface < 0 || (uint32_t)iface >= r->r->nif || (caplen && !data)) {
    r->st.packets_dropped++;
    return;
  }
  uint32_t keep = caplen < r->r->snaplen ? caplen : r->r->snaplen;
  size_t need = sizeof(struct pkt) + keep;
  if (need > r->mem_max) {
    r->st.packets_dropped++;
    return;
  }
  struct conn *c = conn_get(r, conn);
  if (!c) {
    r->st.packets_dropped++;
    return;
  }
  if (c->count == r->r->ring) {
    ring_pop(r, c, false);
    r->st.packets_overwritten++;
  }
  /* Over mem_max: this connection's own oldest packets go first, then those
   * of the connections idle the longest. */
  while (r->st.bytes_held + need > r->mem_max) {
    struct conn *v = c->count ? c : r->oldest;
    if (!v)
      break;
    ring_pop(r, v, v != c);
    r->st.packets_dropped++;
  }
  if (c->count == c->cap && ring_grow(r, c) != 0) {
    r->st.packets_dropped++;
    return;
  }
  struct pkt *p = malloc(need);
  if (!p) {
    r->st.packets_dropped++;
    return;
  }
  p->ts_usec = ts_to_usec(ts);
  p->caplen = keep;
  p->origlen = origlen > caplen ? origlen : caplen;
  p->iface = (uint32_t)iface;
  if (keep)
    memcpy(p->data, data, keep);
  c->slot[(c->head + c->count) % c->cap] = p;
  c->count++;
  r->st.packets_held++;
  r->st.bytes_held += need;
  held_touch(r, c);
}

void tf_recorder_packet(struct tf_recorder *r, uint64_t conn, int iface,
                        double ts, const uint8_t *data, uint32_t caplen,
                        uint32_t origlen) {
  if (r)
    shard_packet(&r->base, conn, iface, ts, data, caplen, origlen);
}

void tf_recorder_shard_packet(struct tf_recorder_shard *s, uint64_t conn,
                              int iface, double ts, const uint8_t *data,
                              uint32_t caplen, uint32_t origlen) {
  if (s)
    shard_packet(s, conn, iface, ts, data, caplen, origlen);
}

/* ---- files ---- */

static void set_err(struct tf_recorder *r, const char *what, const char *path,
                    int e) {
  snprintf(r->err, sizeof r->err, "--record: %s %s: %s", what, path,
           strerror(e));
}

static void close_current(struct tf_recorder *r) {
  if (!r->f)
    return;
  fflush(r->f);
  fclose(r->f);
  r->f = NULL;
  r->cur_name[0] = '\0';
  r->cur_path[0] = '\0';
  r->cur_size = 0;
  r->cur_conns = 0;
  scan_dir(r); /* the closed file joins the removable ones */
}

/* Forgets the IDBs assigned after the first `keep` of the current file. */
static void idb_rollback(struct tf_recorder *r, uint32_t keep) {
  for (uint32_t i = 0; i < r->nif; i++)
    if (r->file_idb[i] != NO_IDB && r->file_idb[i] >= keep)
      r->file_idb[i] = NO_IDB;
  r->file_nidb = keep;
}

static int open_new(struct tf_recorder *r, time_t now, long long period) {
  struct tm tm;
  char stamp[24];
  if (!gmtime_r(&now, &tm) ||
      strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) != 16)
    snprintf(stamp, sizeof stamp, "19700101T000000Z");
  /* The sequence restarts each second; a name taken (a restarted run in
   * the same second) moves on to the next, so name order stays age order. */
  if (strcmp(stamp, r->last_stamp) != 0) {
    snprintf(r->last_stamp, sizeof r->last_stamp, "%s", stamp);
    r->seq = 0;
  }
  int fd = -1;
  for (int tries = 0; tries < 10000 && fd < 0; tries++) {
    snprintf(r->cur_name, sizeof r->cur_name, "tlsfin-%s-%04u.pcapng", stamp,
             r->seq);
    r->seq++;
    snprintf(r->cur_path, sizeof r->cur_path, "%s/%s", r->dir, r->cur_name);
    /* 0600: with keys the file decrypts the traffic. */
    fd = open(r->cur_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    set_err(r, "create", r->cur_path, errno);
    r->cur_name[0] = r->cur_path[0] = '\0';
    return -1;
  }
  r->f = fdopen(fd, "wb");
  if (!r->f) {
    int e = errno;
    close(fd);
    unlink(r->cur_path);
    set_err(r, "create", r->cur_path, e);
    r->cur_name[0] = r->cur_path[0] = '\0';
    return -1;
  }
  /* Unbuffered: each connection is one fwrite of complete blocks, and a
   * failed one leaves nothing in a stdio buffer to be flushed later on top
   * of the truncated file. */
  setvbuf(r->f, NULL, _IONBF, 0);
  r->cur_size = 0;
  r->cur_conns = 0;
  r->cur_period = period;
  idb_rollback(r, 0);
  return 0;
}

/* Removes our oldest files (never the current one) until `extra` more bytes
 * fit under dir_max. */
static void dir_enforce(struct tf_recorder *r, uint64_t extra) {
  if (!r->dir_max)
    return;
  while (r->old_head < r->nold &&
         r->old_bytes + r->cur_size + extra > r->dir_max) {
    struct ofile *o = &r->old[r->old_head++];
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", r->dir, o->name);
    if (unlink(path) == 0)
      r->st.files_removed++;
    else if (errno != ENOENT) /* gone already is fine */
      set_err(r, "remove", path, errno);
    r->old_bytes -= o->size;
  }
}

/* Appends the connection's IDBs (those not yet in the current file), DSB
 * and EPBs to b. */
static void build_conn(struct tf_recorder *r, struct tf_pcapng_buf *b,
                       const struct conn *c, const char *comment,
                       const char *keylog, size_t keylog_len) {
  for (uint32_t i = 0; i < c->count; i++) {
    const struct pkt *p = c->slot[(c->head + i) % c->cap];
    if (r->file_idb[p->iface] == NO_IDB) {
      r->file_idb[p->iface] = r->file_nidb++;
      const struct iface *ifc = &r->ifs[p->iface];
      tf_pcapng_idb(b, ifc->linktype, r->snaplen, ifc->name, TSRESOL_USEC);
    }
  }
  if (keylog && keylog_len) {
    /* One connection's key log is a few lines: past one DSB's worth a
     * caller passed a whole key log file, and only its whole lines that
     * fit are kept; a single line that long is no key log line, so no DSB. */
    size_t n = tf_pcapng_text_cut(keylog, keylog_len, TF_PCAPNG_DSB_MAX);
    if (n < keylog_len && keylog[n - 1] != '\n')
      n = 0;
    if (n)
      tf_pcapng_dsb(b, TF_PCAPNG_SECRETS_TLS, keylog, n);
  }
  for (uint32_t i = 0; i < c->count; i++) {
    const struct pkt *p = c->slot[(c->head + i) % c->cap];
    /* The comment is about the connection: once, on its first packet. */
    const char *note = i == 0 ? comment : NULL;
    /* caplen <= r->snaplen <= TF_PCAPNG_SNAPLEN_MAX: never refused */
    tf_pcapng_epb(b, r->file_idb[p->iface], p->ts_usec, p->data, p->caplen,
                  p->origlen, &note, 1);
  }
}

static long long period_of(time_t t, unsigned secs) {
  long long q = (long long)t / (long long)secs;
  if ((long long)t % (long long)secs < 0)
    q--; /* floor, for clocks before 1970 */
  return q;
}

static int write_conn(struct tf_recorder *r, const struct conn *c,
                      const char *comment, const char *keylog,
                      size_t keylog_len) {
  time_t now = r->now ? r->now() : time(NULL);
  long long period = period_of(now, r->rotate);
  struct tf_pcapng_buf *b = &r->out;
  b->len = 0;
  b->oom = false;
  bool fresh = !r->f || period != r->cur_period;
  uint32_t nidb = r->file_nidb;
  if (!fresh) {
    build_conn(r, b, c, comment, keylog, keylog_len);
    if (!b->oom && r->cur_conns > 0 && r->cur_size + b->len > r->file_max)
      fresh = true;
    if (fresh || b->oom)
      idb_rollback(r, nidb);
  }
  if (fresh && !b->oom) {
    close_current(r);
    if (open_new(r, now, period) != 0)
      return -1;
    nidb = 0;
    b->len = 0;
    tf_pcapng_shb(b, USERAPPL);
    build_conn(r, b, c, comment, keylog, keylog_len);
  }
  if (b->oom) {
    idb_rollback(r, nidb);
    snprintf(r->err, sizeof r->err, "--record: %s", strerror(ENOMEM));
    return -1;
  }
  dir_enforce(r, b->len);
  /* tf_pcapng_buf_write empties the buffer: what it wrote is counted
   * from here. */
  size_t len = b->len;
  errno = 0;
  if (tf_pcapng_buf_write(b, r->f) != 0 || fflush(r->f) != 0) {
    int e = errno ? errno : EIO;
    set_err(r, "write", r->cur_path, e);
    idb_rollback(r, nidb);
    clearerr(r->f);
    if (r->cur_size == 0) {
      /* A new file without even its header: remove it, the next
       * connection starts another. */
      fclose(r->f);
      r->f = NULL;
      unlink(r->cur_path);
      r->cur_name[0] = r->cur_path[0] = '\0';
    } else if (ftruncate(fileno(r->f), (off_t)r->cur_size) != 0 ||
               fseeko(r->f, (off_t)r->cur_size, SEEK_SET) != 0) {
      close_current(r); /* may end in a partial block; no more appends */
    }
    return -1;
  }
  if (r->cur_conns == 0)
    r->st.files_written++;
  r->cur_size += len;
  r->cur_conns++;
  r->st.conns_written++;
  return 0;
}

static int shard_end(struct tf_recorder_shard *s, uint64_t conn, bool keep,
                     const char *comment, const char *keylog,
                     size_t keylog_len) {
  struct conn *c = conn_find(s, conn);
  if (!c)
    return 0;
  int rc = 0;
  if (keep && c->count > 0) {
    struct tf_recorder *r = s->r;
    pthread_mutex_lock(&r->lock);
    rc = write_conn(r, c, comment, keylog, keylog_len);
    if (rc < 0)
      snprintf(s->err, sizeof s->err, "%s", r->err);
    if (r->out.cap > OUTBUF_KEEP)
      tf_pcapng_buf_free(&r->out);
    pthread_mutex_unlock(&r->lock);
  }
  conn_drop(s, c);
  return rc;
}

int tf_recorder_end(struct tf_recorder *r, uint64_t conn, bool keep,
                    const char *comment, const char *keylog,
                    size_t keylog_len) {
  if (!r)
    return -1;
  return shard_end(&r->base, conn, keep, comment, keylog, keylog_len);
}

int tf_recorder_shard_end(struct tf_recorder_shard *s, uint64_t conn, bool keep,
                          const char *comment, const char *keylog,
                          size_t keylog_len) {
  if (!s)
    return -1;
  return shard_end(s, conn, keep, comment, keylog, keylog_len);
}

const char *tf_recorder_error(const struct tf_recorder *r) {
  return r ? r->err : "";
}

const char *tf_recorder_shard_error(const struct tf_recorder_shard *s) {
  return s ? s->err : "";
}

struct tf_recorder_shard *tf_recorder_shard_new(struct tf_recorder *r,
                                                size_t mem_max) {
  struct tf_recorder_shard *s = malloc(sizeof *s);
  if (!s || !r || shard_init(s, r, mem_max ? mem_max : r->mem_max) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

static void shard_stats(const struct tf_recorder_shard *s,
                        struct tf_recorder_stats *st) {
  st->conns_open += s->nconn;
  st->packets_held += s->st.packets_held;
  st->bytes_held += s->st.bytes_held;
  st->packets_dropped += s->st.packets_dropped;
  st->packets_overwritten += s->st.packets_overwritten;
  st->bytes_index += s->bytes_index;
}

void tf_recorder_shard_stats(const struct tf_recorder_shard *s,
                             struct tf_recorder_stats *st) {
  if (!st)
    return;
  memset(st, 0, sizeof *st);
  if (s)
    shard_stats(s, st);
}

void tf_recorder_shard_free(struct tf_recorder_shard *s) {
  if (!s)
    return;
  shard_release(s);
  free(s);
}

void tf_recorder_stats(const struct tf_recorder *r,
                       struct tf_recorder_stats *s) {
  if (!s)
    return;
  memset(s, 0, sizeof *s);
  if (!r)
    return;
  struct tf_recorder *w = (struct tf_recorder *)r; /* the lock only */
  pthread_mutex_lock(&w->lock);
  s->conns_written = r->st.conns_written;
  s->files_written = r->st.files_written;
  s->files_removed = r->st.files_removed;
  s->bytes_on_disk = r->old_bytes + r->cur_size;
  pthread_mutex_unlock(&w->lock);
  shard_stats(&r->base, s);
}

const char *tf_recorder_current_file(const struct tf_recorder *r) {
  return r && r->f ? r->cur_path : "";
}

void tf_recorder_free(struct tf_recorder *r) {
  if (!r)
    return;
  if (r->f) {
    fflush(r->f);
    fclose(r->f);
  }
  shard_release(&r->base);
  pthread_mutex_destroy(&r->lock);
  for (uint32_t i = 0; i < r->nif; i++)
    free(r->ifs[i].name);
  free(r->ifs);
  free(r->file_idb);
  free(r->old);
  tf_pcapng_buf_free(&r->out);
  free(r->dir);
  free(r);
}

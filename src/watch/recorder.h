/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Flight recorder of `tlsfin watch --record DIR`: keeps the last packets of
 * every open connection in a bounded per-connection ring, and when a
 * connection ends badly writes them to a pcapng file in DIR (verdict as the
 * first packet's comment, the connection's key log lines as a Decryption
 * Secrets Block before its packets so the file alone decrypts in
 * Wireshark).  Files rotate by size and by wall-clock period; DIR is bounded
 * by removing the oldest of our own files.
 *
 * Threads: tf_recorder_packet()/tf_recorder_end() have one caller.  watch -j
 * gives each capture thread a shard (its own rings, no lock per packet);
 * writing a connection's packets to the file takes the recorder's lock, once
 * per recorded connection.  Interfaces are added before any shard is used.
 */
#ifndef TLSFIN_WATCH_RECORDER_H
#define TLSFIN_WATCH_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TF_RECORDER_DEFAULT_RING_PACKETS 64u
#define TF_RECORDER_DEFAULT_MEM_MAX ((size_t)64 << 20)
#define TF_RECORDER_DEFAULT_SNAPLEN 256u
#define TF_RECORDER_DEFAULT_FILE_MAX ((uint64_t)16 << 20)
#define TF_RECORDER_DEFAULT_ROTATE_SECONDS 3600u
#define TF_RECORDER_DEFAULT_DIR_MAX ((uint64_t)1 << 30)

/* A zero field means its default, except dir_max_bytes where 0 means
 * unlimited: start from tf_recorder_opts_init() to get every default. */
struct tf_recorder_opts {
  const char *dir;
  /* Per connection, default 64. */
  unsigned ring_packets;
  /* All rings together, bytes, default 64 MiB: when over, the oldest packets
   * of the connection being appended to are dropped first, and then the
   * connection rings with the oldest last packet are trimmed; drops are
   * counted.  Counts each held packet as its bytes plus a small header. */
  size_t mem_max;
  /* Bytes kept per packet, default 256 (headers + TLS record headers), at
   * most 262144 (libpcap's largest). */
  uint32_t snaplen;
  /* Rotate the current file before it would grow past this, default
   * 16 MiB (a single connection larger than this gets a file of its own). */
  uint64_t file_max_bytes;
  /* Rotate when the period (UTC, wall clock) changes: default 3600, the
   * hour. */
  unsigned rotate_seconds;
  /* --record-max-mb; 0 = unlimited; default (tf_recorder_opts_init) 1 GiB. */
  uint64_t dir_max_bytes;
  /* Added: wall clock used for file names and period rotation; NULL means
   * time(NULL).  Tests set it. */
  time_t (*now)(void);
};

/* Every field set to its default (dir NULL, dir_max_bytes 1 GiB). */
void tf_recorder_opts_init(struct tf_recorder_opts *o);

struct tf_recorder;

/* Creates DIR if missing, checks it is a writable directory (write a probe
 * file and remove it).  NULL + one-line err ("--record DIR: not a
 * directory", "... : Permission denied") otherwise. */
struct tf_recorder *tf_recorder_new(const struct tf_recorder_opts *o, char *err,
                                    size_t errlen);

/* Registers an interface (pcapng IDB): returns its index, or -1 (NULL name
 * allowed, out of memory, too many interfaces); linktype is a DLT_ value
 * (e.g. DLT_EN10MB=1, DLT_LINUX_SLL2=276), name like "eth0".  Each file
 * holds the IDBs of the interfaces its packets use, so a file whose packets
 * all come from one link type stays readable by libpcap. */
int tf_recorder_add_interface(struct tf_recorder *r, int linktype,
                              uint32_t snaplen, const char *name);

/* One packet of connection `conn` (an opaque 64-bit id chosen by the
 * caller); ts in seconds (stored as microseconds).  The data is copied up to
 * snaplen.  A packet on an unknown interface is counted as dropped. */
void tf_recorder_packet(struct tf_recorder *r, uint64_t conn, int iface,
                        double ts, const uint8_t *data, uint32_t caplen,
                        uint32_t origlen);

/* The connection ended.  keep=false: forget its ring.  keep=true: write its
 * ring to the current file (opening/rotating as needed) with `comment`
 * (UTF-8, may be NULL; cut at a character boundary past 65535 bytes, the
 * pcapng option limit) as an opt_comment on the first packet's EPB and the
 * keylog text (may be NULL) as a DSB before the packets.  A connection
 * without packets writes nothing.  Returns 0, or -1 with tf_recorder_error()
 * set (disk full, ...); the ring is freed either way and later calls may
 * succeed. */
int tf_recorder_end(struct tf_recorder *r, uint64_t conn, bool keep,
                    const char *comment, const char *keylog, size_t keylog_len);

/* The last error ("" when none). */
const char *tf_recorder_error(const struct tf_recorder *r);

struct tf_recorder_stats {
  uint64_t conns_open, conns_written, packets_held, bytes_held, packets_dropped,
      files_written, files_removed, bytes_on_disk;
  /* Added: packets pushed out of a full ring (normal flight-recorder
   * behaviour, unlike packets_dropped which counts mem_max pressure and
   * packets on unknown interfaces). */
  uint64_t packets_overwritten;
  /* Added: bytes of bookkeeping (hash table, connection entries, ring slot
   * arrays), not counted in mem_max; follows the open connections. */
  uint64_t bytes_index;
};
void tf_recorder_stats(const struct tf_recorder *r,
                       struct tf_recorder_stats *s);

/* The packet rings of one capture thread.  mem_max is this shard's share
 * of the bound (0: the recorder's whole mem_max).  Shards are freed before
 * their recorder. */
struct tf_recorder_shard;
struct tf_recorder_shard *tf_recorder_shard_new(struct tf_recorder *r,
                                                size_t mem_max);
/* As tf_recorder_packet() and tf_recorder_end(), on the shard's rings;
 * safe with other shards of the same recorder in other threads. */
void tf_recorder_shard_packet(struct tf_recorder_shard *s, uint64_t conn,
                              int iface, double ts, const uint8_t *data,
                              uint32_t caplen, uint32_t origlen);
int tf_recorder_shard_end(struct tf_recorder_shard *s, uint64_t conn, bool keep,
                          const char *comment, const char *keylog,
                          size_t keylog_len);
/* The last error of this shard's writes ("" when none). */
const char *tf_recorder_shard_error(const struct tf_recorder_shard *s);
/* The ring fields of the stats (conns_open, packets_held, bytes_held,
 * packets_dropped, packets_overwritten, bytes_index) for this shard only:
 * call from the shard's thread.  tf_recorder_stats() gives the file fields
 * (and those of the recorder's own rings) from any thread. */
void tf_recorder_shard_stats(const struct tf_recorder_shard *s,
                             struct tf_recorder_stats *st);
void tf_recorder_shard_free(struct tf_recorder_shard *s);

/* Path of the file currently being written ("" when none): the lead prints
 * it. */
const char *tf_recorder_current_file(const struct tf_recorder *r);

/* Flushes and closes the current file; frees everything; pending rings are
 * dropped.  NULL is allowed. */
void tf_recorder_free(struct tf_recorder *r);

#endif

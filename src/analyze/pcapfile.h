/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Capture files read straight from a read-only mmap of the file, past the
 * floor of libpcap's fread (two copies of every byte, one of them in the
 * kernel).  Classic pcap (pcap-savefile(5)) and pcapng
 * (draft-ietf-opsawg-pcapng), accepting exactly what libpcap 1.10 accepts,
 * rejecting what it rejects with libpcap's own messages, and handing out
 * the same struct pcap_pkthdr values (sf-pcap.c, sf-pcapng.c of
 * libpcap-1.10.3 are the reference; tests/reader checks it against the
 * installed libpcap, file by file and under the fuzzer).
 *
 * It declines ("not mine": the caller goes on with libpcap) what it does
 * not serve: pipes and other non-regular files, compressed files, unknown
 * magic numbers, and the few link types whose packets libpcap rewrites
 * after reading (pcap_post_process: byte-swapped Linux SLL CAN IDs, USB,
 * NFLOG, PFLOG headers), since a read-only mapping cannot be rewritten.
 *
 * Memory: the mapping is given back to the kernel behind the reader as it
 * goes (MADV_DONTNEED every MB), so the resident set stays what it was
 * with libpcap's buffers, whatever the size of the file.
 */
#ifndef TLSFIN_ANALYZE_PCAPFILE_H
#define TLSFIN_ANALYZE_PCAPFILE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tf_keylog;
struct tf_pcapfile;

/* A pcapng Decryption Secrets Block (§4.7): its secrets type and data. */
typedef void (*tf_pcapfile_dsb_fn)(void *ctx, uint32_t secrets_type,
                                   const uint8_t *data, size_t len);

enum {
  TF_PCAPFILE_ERROR = -1,   /* libpcap would reject it: message in err */
  TF_PCAPFILE_NOT_MINE = 0, /* use libpcap */
  TF_PCAPFILE_OPEN = 1,
};

/* Opens path (a regular, uncompressed file) with timestamps in
 * `precision` (PCAP_TSTAMP_PRECISION_MICRO or _NANO, as libpcap's
 * *_with_tstamp_precision).  dsb (may be NULL) sees every Decryption
 * Secrets Block as the reader passes it.  Returns one of the values
 * above; *out is set for TF_PCAPFILE_OPEN. */
int tf_pcapfile_open(const char *path, unsigned precision,
                     tf_pcapfile_dsb_fn dsb, void *dsb_ctx,
                     struct tf_pcapfile **out, char *err, size_t errlen);
/* The same over bytes in memory (the caller keeps them alive until
 * close): the fuzz target and the tests.  A buffer shorter than a magic
 * number is read (libpcap's "truncated dump file" error), not declined. */
int tf_pcapfile_open_mem(const void *buf, size_t len, unsigned precision,
                         tf_pcapfile_dsb_fn dsb, void *dsb_ctx,
                         struct tf_pcapfile **out, char *err, size_t errlen);
void tf_pcapfile_close(struct tf_pcapfile *r);

/* The next packet as pcap_next_ex returns it: 1 with *h and *data set
 * (valid until the next call), PCAP_ERROR_BREAK (-2) at the end,
 * PCAP_ERROR (-1) with tf_pcapfile_error() set.  With a filter installed,
 * packets it rejects are skipped, as libpcap's offline read does. */
int tf_pcapfile_next(struct tf_pcapfile *r, struct pcap_pkthdr **h,
                     const u_char **data);
const char *tf_pcapfile_error(const struct tf_pcapfile *r);
/* The reader gives the pages behind it back to the kernel as it goes.
 * analyze -j's shards read packets in place after the reader has moved
 * on: hold makes the caller give pages back instead, with release, once
 * nothing before upto (a packet's bytes) is read any more. */
void tf_pcapfile_hold(struct tf_pcapfile *r);
void tf_pcapfile_release(struct tf_pcapfile *r, const u_char *upto);
/* What pcap_datalink() and pcap_snapshot() would say, and the FCS bits
 * of a classic file's link type field (pcap_datalink_ext()). */
int tf_pcapfile_linktype(const struct tf_pcapfile *r);
int tf_pcapfile_snapshot(const struct tf_pcapfile *r);
int tf_pcapfile_linktype_ext(const struct tf_pcapfile *r);
/* Bytes of the file consumed so far (for progress). */
uint64_t tf_pcapfile_offset(const struct tf_pcapfile *r);
/* A copy of prog, applied to every packet (pcap_setfilter's semantics);
 * NULL removes it.  0, or -1 out of memory. */
int tf_pcapfile_set_filter(struct tf_pcapfile *r,
                           const struct bpf_program *prog);

/* ---- as a libpcap handle, for analyze.c ----
 * A file the reader serves is represented by a dead libpcap handle
 * (pcap_open_dead_with_tstamp_precision with the file's link type and
 * snapshot length): the sources check its link type and compile the
 * filter against it exactly as for a real handle, and the reader is found
 * again from the handle.  TLSFIN_READER=libpcap in the environment turns
 * the reader off (tests and benchmarks compare both). */

/* Tries the reader on path (micro-second timestamps; keys embedded in a
 * pcapng go to keys when it is not NULL).  Returns the handle with
 * *status 1; NULL with *status 0 (not mine: open it with libpcap) or -1
 * (errbuf holds libpcap's message, PCAP_ERRBUF_SIZE bytes). */
pcap_t *tf_capture_open_mapped(const char *path, struct tf_keylog *keys,
                               char *errbuf, int *status);
/* The reader behind a handle, or NULL for a real libpcap handle. */
struct tf_pcapfile *tf_capture_mapped(pcap_t *pc);
/* Bytes consumed (ftell for a libpcap handle, -1 when unknown). */
long long tf_capture_tell(pcap_t *pc);
/* pcap_close, closing the reader behind a handle too. */
void tf_capture_close(pcap_t *pc);

#endif

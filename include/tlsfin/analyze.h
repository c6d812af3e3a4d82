/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin analyze: a teardown verdict for every TCP connection in a capture.
 *
 * libtls-style: one opaque object, 0 / -1 returns, the message of the last
 * failure read with tlsfin_analyze_error().  Output follows the contract of
 * shared/design/TAXONOMY.md.
 */
#ifndef TLSFIN_ANALYZE_H
#define TLSFIN_ANALYZE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tlsfin/taxonomy.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tlsfin_format {
  TLSFIN_FORMAT_TABLE = 0, /* aligned columns, one row per connection */
  TLSFIN_FORMAT_JSONL,     /* TAXONOMY.md contract, one object per line */
  TLSFIN_FORMAT_SUMMARY,   /* counts per verdict / cause, top servers */
  TLSFIN_FORMAT_LADDER,    /* ladder diagram of one connection (--conn N) */
  TLSFIN_FORMAT_ZEEK,      /* Zeek conn.log (TSV) with tlsfin's columns */
  TLSFIN_FORMAT_CSV,       /* RFC 4180, the contract's fields flattened */
  TLSFIN_FORMAT_HTML,      /* one self-contained report page (docs/html.md) */
};

struct tlsfin_analyze;

struct tlsfin_analyze *tlsfin_analyze_new(void);
void tlsfin_analyze_free(struct tlsfin_analyze *a);

/* Message of the last failure of this object ("" when none). */
const char *tlsfin_analyze_error(const struct tlsfin_analyze *a);

int tlsfin_analyze_set_format(struct tlsfin_analyze *a, enum tlsfin_format f);
int tlsfin_analyze_set_output(struct tlsfin_analyze *a, FILE *out);
/* A BPF filter expression applied to every input (libpcap syntax). */
int tlsfin_analyze_set_filter(struct tlsfin_analyze *a, const char *bpf);
/* Verdicts that make tlsfin_analyze_failed() true (--fail-on). */
int tlsfin_analyze_fail_on(struct tlsfin_analyze *a, tlsfin_verdict v);
/* TLS keys (SSLKEYLOGFILE format) for exact alerts and HTTP framing; may
 * be called more than once.  Keys in pcapng Decryption Secrets Blocks are
 * read automatically.  Malformed lines are skipped; -1 only when the file
 * is unreadable or holds no key at all (message in tlsfin_analyze_error). */
int tlsfin_analyze_set_keylog(struct tlsfin_analyze *a, const char *path);
/* A warning about the key log (malformed lines), "" when none. */
const char *tlsfin_analyze_keylog_warning(const struct tlsfin_analyze *a);
/* Also write the analyzed packets to `path` as pcapng (--annotate): every
 * packet read (after the filter), unchanged, with a comment on each that
 * decided something (verdict, RST cause, FIN, close_notify, alerts) and the
 * keys used as a Decryption Secrets Block, so Wireshark shows the verdicts
 * and decrypts the file alone.  Written by tlsfin_analyze_finish() in a
 * second pass over the inputs (stdin and streams are spooled to TMPDIR).
 * Set once, before any input; "-" and standard output are refused, and
 * so is an input as output.  The file appears whole or not at all. */
int tlsfin_analyze_set_annotate(struct tlsfin_analyze *a, const char *path);
/* Ladder diagram of connection `id` (1-based) instead of the listing. */
int tlsfin_analyze_set_conn(struct tlsfin_analyze *a, uint64_t id);
/* Colour in the table (callers enable it only on a tty). */
int tlsfin_analyze_set_color(struct tlsfin_analyze *a, bool on);
/* Progress on this stream for inputs over ~100 MB (NULL: none). */
int tlsfin_analyze_set_progress(struct tlsfin_analyze *a, FILE *err);
/* Flush the output after each record (a pipe, tcpdump's -l). */
int tlsfin_analyze_set_flush(struct tlsfin_analyze *a, bool on);
/* Emit each connection as soon as it is finished instead of in order of
 * first packet (bounded memory with long-lived connections). */
int tlsfin_analyze_set_unordered(struct tlsfin_analyze *a, bool on);
/* -j: n engines on n threads, each owning the connections of a flow-hash
 * shard, written exactly as one engine writes them (0: one per online CPU;
 * 1: the default, no threads).  Table, JSONL, Zeek, CSV and summary only:
 * the other formats and --annotate run one engine.  Before any input. */
int tlsfin_analyze_set_jobs(struct tlsfin_analyze *a, unsigned n);

/* Memory ceiling of the connection table in bytes (default 192 MiB; 0 = no
 * ceiling): past it the oldest connections are finished early (ended ones
 * first) and counted by tlsfin_analyze_evicted(). */
int tlsfin_analyze_set_max_memory(struct tlsfin_analyze *a, uint64_t bytes);
/* UDP ports that carry tunnels: "TYPE:PORT[,PORT...]" (TYPE vxlan, geneve,
 * gtpu, teredo, ayiya or gre; at most 4 ports each) adds to the defaults
 * (4789, 6081, 2152, 3544, 5072, 4754); "TYPE:off" stops opening TYPE.
 * IP-in-IP, GRE, MPLS and PPPoE need no ports.  docs/analyze.md. */
int tlsfin_analyze_set_tunnel_port(struct tlsfin_analyze *a, const char *spec);
/* Verify IPv4 header and TCP checksums as Zeek does without -C (default
 * off: captures taken on a host with checksum offload have wrong ones by
 * design): a bad IPv4 header checksum drops the packet, a bad TCP one
 * counts only as the Zeek history letter C/c (zeek_history, zeek_rows).
 * docs/analyze.md. */
int tlsfin_analyze_set_zeek_checksums(struct tlsfin_analyze *a, bool on);
/* Timeouts in capture time, seconds; negative keeps the default (attempt
 * 130; idle and half-closed 0, i.e. off), 0 disables.  A connection that times
 * out is written with the verdict it has (no_answer, open, half_closed,
 * stalled); later packets of its 4-tuple start a new connection. */
int tlsfin_analyze_set_timeouts(struct tlsfin_analyze *a, double attempt,
                                double idle, double half_closed);
uint64_t tlsfin_analyze_evicted(const struct tlsfin_analyze *a);

/* Reads one capture (pcap or pcapng; "-" is stdin) to its end.  Returns 0,
 * or -1 with a message naming the file and the packet number. Connections
 * are numbered across all files of one object. */
int tlsfin_analyze_file(struct tlsfin_analyze *a, const char *path);
/* Several captures as one: their packets are read in time order (as
 * mergecap merges them), so a connection that spans files of a rotated
 * series (tcpdump -C/-G, dumpcap ring buffers) is one connection.
 * Overlapping files are merged the same way; a packet present in two files
 * is then seen twice (a retransmission).  Each input's failure is written
 * to stderr as it happens; -1 when any input failed (the others are still
 * analyzed), and tlsfin_analyze_error() holds the last message. */
int tlsfin_analyze_files(struct tlsfin_analyze *a, const char *const *paths,
                         size_t n);
/* The same for a capture already open as a stream (name is used in
 * messages); the stream is closed. */
int tlsfin_analyze_stream(struct tlsfin_analyze *a, FILE *f, const char *name);
/* Writes what is still pending (the summary, the ladder). Returns 0 / -1. */
int tlsfin_analyze_finish(struct tlsfin_analyze *a);

uint64_t tlsfin_analyze_count(const struct tlsfin_analyze *a, tlsfin_verdict v);
uint64_t tlsfin_analyze_connections(const struct tlsfin_analyze *a);
/* True when some connection's verdict is in the fail-on set. */
bool tlsfin_analyze_failed(const struct tlsfin_analyze *a);

#ifdef __cplusplus
}
#endif
#endif

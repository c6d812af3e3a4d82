/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin analyze --annotate=OUT.pcapng: the analyzed capture written back
 * with a packet comment (pcapng opt_comment) on every packet that decided
 * something, so `frame.comment contains "tlsfin"` lists them in Wireshark:
 * a connection's first packet (verdict and explanation), each side's first
 * RST (cause, confidence, evidence), first FIN, close_notify and alerts.
 *
 * Two passes.  The first is the analysis: a sink collects (packet, note)
 * pairs from every finished connection (a few per connection, kept in an
 * external sort by packet, xsort.h, so memory stays bounded) and the keys
 * of the connections it has keys for; and one bit per packet read says whether
 * the engine numbered it (a TCP packet it followed).  The second (analyze.c
 * replays the same inputs in the same merged order) hands every packet to
 * tf_annot_packet, which counts the marked packets: the engine's global
 * packet numbers find their packets again, whatever the decoders did.
 *
 * Inputs that cannot be read twice (stdin, a stream) are spooled to an
 * unlinked temporary file first.  The output is written to a temporary
 * file beside OUT and renamed over it at the end: a failed run leaves no
 * partial file, and an existing OUT survives it.
 */
#ifndef TLSFIN_ANALYZE_ANNOTATE_H
#define TLSFIN_ANALYZE_ANNOTATE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

struct tf_keylog;
struct tf_annot;

/* Checks OUT (not "-", not stdout, its directory writable) and creates the
 * temporary file.  NULL with a one-line message in err. */
struct tf_annot *tf_annot_new(const char *out, char *err, size_t errlen);
/* Removes what was not committed (the temporary file, the spools). */
void tf_annot_free(struct tf_annot *an);

/* The sink collecting notes and keys; add it to the engine once. */
struct tf_sink *tf_annot_sink(struct tf_annot *an);
/* Where the analysis keeps its key log (it may be adopted from keys
 * embedded in an input after the first connections started). */
void tf_annot_set_keylog_ref(struct tf_annot *an, struct tf_keylog *const *ref);

/* ---- first pass: one run per analyze call (a file, merged files, a
 * stream) ---- */

/* Starts a run over paths[0..n) (names: as given, "-" for stdin): "-" is
 * spooled, and OUT may not be one of them.  *real receives the paths to
 * open (valid until tf_annot_free).  0, or -1 with the message in err. */
int tf_annot_run(struct tf_annot *an, const char *const *names, size_t n,
                 const char *const **real, char *err, size_t errlen);
/* The same for a stream already open (closed here): *real is its spool. */
int tf_annot_run_stream(struct tf_annot *an, FILE *f, const char *name,
                        const char **real, char *err, size_t errlen);
/* The first pass read a packet; counted: the engine numbered it. */
void tf_annot_mark(struct tf_annot *an, bool counted);
/* Input i of the current run opened in the first pass, with its libpcap
 * link type (DLT_) and snapshot length: it gets an interface (IDB). */
void tf_annot_input_opened(struct tf_annot *an, size_t i, int dlt,
                           uint32_t snaplen);

/* ---- second pass ---- */

size_t tf_annot_runs(const struct tf_annot *an);
/* No input opened in the first pass (its failure was reported there). */
bool tf_annot_empty(const struct tf_annot *an);
/* Run r's paths to open, names for messages, and count. */
void tf_annot_run_inputs(const struct tf_annot *an, size_t r,
                         const char *const **real, const char *const **names,
                         size_t *n);
/* The interface of input i of run r, -1 when it did not open in the
 * first pass (the replay skips it too). */
int tf_annot_iface(const struct tf_annot *an, size_t r, size_t i);
/* Writes the file's head: section, interfaces, the keys (Decryption
 * Secrets Blocks, before any packet).  0 or -1 (tf_annot_error). */
int tf_annot_begin(struct tf_annot *an);
/* One packet of the replay, any protocol, read with nanosecond
 * timestamps.  0 or -1 (tf_annot_error). */
int tf_annot_packet(struct tf_annot *an, int iface, const struct pcap_pkthdr *h,
                    const uint8_t *data);
/* Completes OUT (rename over it).  0 or -1 (tf_annot_error); the
 * temporary file is removed on failure. */
int tf_annot_commit(struct tf_annot *an);
/* Gives up: the temporary file is removed now (a FIFO or device OUT is
 * only closed). */
void tf_annot_abort(struct tf_annot *an);
const char *tf_annot_error(const struct tf_annot *an);

/* Packets written and packets that got a comment, for messages. */
uint64_t tf_annot_packets(const struct tf_annot *an);
uint64_t tf_annot_commented(const struct tf_annot *an);

#endif

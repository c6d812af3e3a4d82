/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Sources hand packets to the engine.  Every source (a capture file, stdin,
 * a live interface) is a libpcap handle; this is what they share: checking
 * the link type, the BPF filter, and decoding one captured packet into the
 * engine with malformed packets counted and reported once each (first few).
 */
#ifndef TLSFIN_ANALYZE_SOURCE_H
#define TLSFIN_ANALYZE_SOURCE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "pcapfile.h"

struct tf_source {
  const char *name; /* file path or interface, for messages */
  pcap_t *pc;
  int linktype;
  int iface;                  /* index for the recorder */
  uint64_t no;                /* packets read from this source */
  uint64_t bad;               /* malformed packets skipped */
  uint64_t unfollowed;        /* TCP tlsfin cannot follow (IP fragments) */
  const char *unfollowed_why; /* the first one's kind */
  char firstbad[256];
  FILE *warn; /* where the first malformed packets are reported */
  /* UDP tunnel ports (NULL: the defaults); kept by tf_source_init like
   * iface and warn.  decap is the tunnel state of the current packet. */
  const struct tf_tunnel_ports *tunnel_ports;
  struct tf_decap decap;
  bool zeek_csum; /* --zeek-checksums, kept by tf_source_init likewise */
  /* the mmap reader behind pc (a dead handle), NULL: libpcap reads pc */
  struct tf_pcapfile *mm;
};

/* A BPF filter compiled once per link type and snap length: libpcap's
 * optimizer can take seconds on a large expression, and a rotated series
 * is hundreds of files with the same link type. */
struct tf_filter {
  const char *expr; /* NULL: no filter */
  bool compiled;
  int linktype, snaplen;
  struct bpf_program prog;
};
void tf_filter_free(struct tf_filter *f);

/* Checks the link type and installs the filter (NULL: none).  0, or -1
 * with a one-line message in err naming the source. */
int tf_source_init(struct tf_source *s, pcap_t *pc, const char *name,
                   struct tf_filter *filter, char *err, size_t errlen);
/* The next packet, as pcap_next_ex (1, PCAP_ERROR_BREAK at the end,
 * PCAP_ERROR with tf_source_error()), from the mmap reader when the file
 * is mapped (pcapfile.h). */
static inline int tf_source_next(struct tf_source *s, struct pcap_pkthdr **h,
                                 const u_char **data) {
  return s->mm ? tf_pcapfile_next(s->mm, h, data)
               : pcap_next_ex(s->pc, h, data);
}
static inline const char *tf_source_error(const struct tf_source *s) {
  return s->mm ? tf_pcapfile_error(s->mm) : pcap_geterr(s->pc);
}
/* A captured packet's time in seconds (pcap's 32-bit seconds after 2038
 * included). */
double tf_source_ts(const struct pcap_pkthdr *h);
/* Decodes one captured packet into *p (times and numbers set); returns
 * TF_DECODE_*, malformed and unfollowed packets counted in s and the first
 * malformed ones reported. */
int tf_source_decode(struct tf_source *s, const struct pcap_pkthdr *h,
                     const u_char *data, struct tf_pkt *p);
/* Decodes one captured packet and hands it to the engine. */
void tf_source_packet(struct tf_source *s, struct tf_engine *e,
                      const struct pcap_pkthdr *h, const u_char *data);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Packet decoding for tlsfin analyze: link layer -> IPv4/IPv6 -> TCP.
 * One file per layer (decode_link.c, decode_ip.c), tcpdump style; all reads
 * go through the bounds-checked cursor, so a packet cut by the snaplen or
 * full of garbage fails cleanly with a reason instead of overrunning.
 */
#ifndef TLSFIN_ANALYZE_DECODE_H
#define TLSFIN_ANALYZE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cursor.h"

struct tf_pkt {
  double ts;
  uint64_t no; /* 1-based packet number in its file */
  uint8_t af;  /* 4 or 6 */
  uint8_t src[16], dst[16];
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags; /* TCP flags, low 8 bits (FIN SYN RST PSH ACK URG ECE CWR) */
  uint16_t win;
  uint8_t ttl;   /* TTL or hop limit */
  bool df;       /* IPv4 don't-fragment (IPv6: always false) */
  uint16_t ipid; /* IPv4 only */
  const uint8_t *payload;
  uint32_t caplen; /* payload bytes present in the capture */
  uint32_t len;    /* payload length on the wire (from the IP header) */
};

/* Decode result: */
#define TF_DECODE_TCP 1    /* a TCP segment was decoded into *pkt */
#define TF_DECODE_SKIP 0   /* a valid packet that is not TCP (or a fragment) */
#define TF_DECODE_BAD (-1) /* malformed: *why says what */
/* TCP that tlsfin cannot follow (IP fragments are not reassembled): *why
 * says what; counted and reported, never dropped silently. */
#define TF_DECODE_UNFOLLOWED 2

/* True when tlsfin knows how to read this libpcap link type. */
bool tf_linktype_supported(int linktype);
const char *tf_linktype_name(int linktype);

int tf_decode_packet(int linktype, const uint8_t *p, size_t caplen,
                     struct tf_pkt *pkt, const char **why);

/* Layers, exposed for tests and fuzzing. */
int tf_decode_ip(struct tf_cur *c, struct tf_pkt *pkt, const char **why);
int tf_decode_tcp(struct tf_cur *c, uint32_t l4len, struct tf_pkt *pkt,
                  const char **why);

#endif

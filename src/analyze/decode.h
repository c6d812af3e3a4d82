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
  /* Tunnels (decode_tunnel.c): dc is the caller's decapsulation state
   * (NULL: tunnels are not opened); tunnel is what this packet came
   * through, outermost first, or NULL when it came in the clear. */
  struct tf_decap *dc;
  const struct tf_tunnel *tunnel;
  /* The TCP checksum is wrong (only checked when dc->zeek_csum is set and
   * the whole segment is captured, as Zeek does): Zeek's bad_TCP_checksum,
   * the packet counts only as a 'C'/'c' history letter. */
  bool bad_csum;
};

/* Decode result: */
#define TF_DECODE_TCP 1    /* a TCP segment was decoded into *pkt */
#define TF_DECODE_SKIP 0   /* a valid packet that is not TCP (or a fragment) */
#define TF_DECODE_BAD (-1) /* malformed: *why says what */
/* TCP that tlsfin cannot follow (IP fragments are not reassembled): *why
 * says what; counted and reported, never dropped silently. */
#define TF_DECODE_UNFOLLOWED 2

/* ---- Tunnels (decode_tunnel.c) ----
 * The TCP connection inside an encapsulation is analyzed like any other,
 * keyed by its own (inner) 4-tuple; each layer it came through is kept. */
#define TF_TUNNEL_MAX 8    /* nesting limit: deeper is TF_DECODE_BAD */
#define TF_TUNNEL_LABELS 8 /* MPLS labels kept per layer */
enum tf_tunnel_type {
  TF_TUN_NONE,
  TF_TUN_IPIP,   /* IPv4/IPv6 in IPv4/IPv6, RFC 2003, RFC 4213 */
  TF_TUN_GRE,    /* RFC 2784/2890 (also in UDP, RFC 8086; PPTP, RFC 2637) */
  TF_TUN_ERSPAN, /* Cisco ERSPAN type I, II, III over GRE */
  TF_TUN_VXLAN,  /* RFC 7348 */
  TF_TUN_GENEVE, /* RFC 8926 */
  TF_TUN_GTPU,   /* 3GPP TS 29.281 */
  TF_TUN_TEREDO, /* RFC 4380 */
  TF_TUN_AYIYA,  /* draft-massar-v6ops-ayiya */
  TF_TUN_MPLS,   /* RFC 3032, pseudowires RFC 4385/4448 */
  TF_TUN_PPPOE,  /* RFC 2516 session stage */
  TF_TUN_COUNT
};
struct tf_tunnel_layer {
  uint8_t type;    /* enum tf_tunnel_type */
  uint8_t af;      /* outer IP version, 0: carried straight on a link */
  uint8_t has_id;  /* id is meaningful */
  uint8_t version; /* ERSPAN type (1-3) */
  uint8_t nlabels; /* MPLS: labels kept in u.labels */
  uint32_t id;     /* GRE key, VNI, TEID, ERSPAN or PPPoE session */
  union {
    struct {
      uint8_t src[16], dst[16];
    } ip;                              /* af != 0 */
    uint32_t labels[TF_TUNNEL_LABELS]; /* MPLS, outermost first */
  } u;
};
struct tf_tunnel {
  uint8_t n;
  struct tf_tunnel_layer l[TF_TUNNEL_MAX];
};

/* UDP encapsulations are recognized by port (configurable). */
enum tf_udp_tunnel {
  TF_UDPT_VXLAN,  /* destination port, default 4789 */
  TF_UDPT_GENEVE, /* destination port, default 6081 */
  TF_UDPT_GTPU,   /* either port, default 2152 */
  TF_UDPT_TEREDO, /* either port, default 3544 */
  TF_UDPT_AYIYA,  /* either port, default 5072 */
  TF_UDPT_GRE,    /* GRE-in-UDP, destination port, default 4754 */
  TF_UDPT_COUNT
};
#define TF_TUNNEL_PORTS 4
struct tf_tunnel_ports {
  uint8_t n[TF_UDPT_COUNT];
  uint16_t port[TF_UDPT_COUNT][TF_TUNNEL_PORTS];
};
void tf_tunnel_ports_default(struct tf_tunnel_ports *tp);
/* "TYPE:PORT[,PORT...]" adds ports to TYPE (vxlan, geneve, gtpu, teredo,
 * ayiya, gre); "TYPE:off" clears TYPE.  0, or -1 with a message in err. */
int tf_tunnel_ports_parse(struct tf_tunnel_ports *tp, const char *spec,
                          char *err, size_t errlen);
const char *tf_tunnel_type_name(uint8_t type);

/* Decapsulation state, one per source: its port configuration (NULL: the
 * defaults) and the layers of the packet being decoded. */
struct tf_decap {
  const struct tf_tunnel_ports *ports;
  struct tf_tunnel tun;
  /* --zeek-checksums: verify checksums as Zeek does without -C (off by
   * default: offloaded captures have bad checksums by design).  A bad IPv4
   * header checksum, or an IPv4 total length of 0, drops the packet
   * (TF_DECODE_SKIP, Zeek's bad_IP_checksum / ip_hdr_len_zero); a bad TCP
   * checksum sets pkt->bad_csum. */
  bool zeek_csum;
};

/* True when tlsfin knows how to read this libpcap link type. */
bool tf_linktype_supported(int linktype);
const char *tf_linktype_name(int linktype);

int tf_decode_packet(int linktype, const uint8_t *p, size_t caplen,
                     struct tf_pkt *pkt, const char **why);
/* The same, opening tunnels: their layers go to dc (tf_decode_packet is
 * this with dc NULL: tunnels are not opened). */
int tf_decode_packet_decap(int linktype, const uint8_t *p, size_t caplen,
                           struct tf_pkt *pkt, struct tf_decap *dc,
                           const char **why);

/* Layers, exposed for tests and fuzzing (pkt->dc must be set: NULL or a
 * struct tf_decap). */
int tf_decode_ip(struct tf_cur *c, struct tf_pkt *pkt, const char **why);
int tf_decode_ether(struct tf_cur *c, struct tf_pkt *pkt, const char **why);
int tf_decode_ethertype(uint16_t et, struct tf_cur *c, struct tf_pkt *pkt,
                        const char **why);
/* Hooks into decode_tunnel.c for what is not plain IP/TCP: an IP protocol
 * other than TCP (l4: its bytes, bounded by the IP length; fragment: the
 * first fragment of a larger datagram), an ethertype other than IP. */
int tf_decap_ip(uint8_t proto, struct tf_cur *l4, bool fragment,
                struct tf_pkt *pkt, const char **why);
int tf_decap_ethertype(uint16_t et, struct tf_cur *c, struct tf_pkt *pkt,
                       const char **why);
int tf_decode_tcp(struct tf_cur *c, uint32_t l4len, struct tf_pkt *pkt,
                  const char **why);

/* Internet checksums (RFC 1071), exposed for tests: an IPv4 header of ihl
 * bytes whose checksum field is right; a TCP segment of len bytes between
 * src and dst (af 4 or 6: the RFC 793 / RFC 8200 §8.1 pseudo-header) whose
 * checksum is right. */
bool tf_ipv4_csum_ok(const uint8_t *hdr, size_t ihl);
bool tf_tcp_csum_ok(uint8_t af, const uint8_t *src, const uint8_t *dst,
                    const uint8_t *seg, size_t len);

#endif

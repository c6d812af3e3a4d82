/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Link layers: Ethernet (802.1Q/802.1ad/QinQ stacks), Linux cooked SLL and
 * SLL2, raw IP, BSD null/loopback.  Each hands an IP cursor to decode_ip.c;
 * MPLS and PPPoE go to decode_tunnel.c.
 */
#include "decode.h"

#include <pcap/pcap.h>

/* libpcap LINKTYPE_ values that differ from their DLT_ on some systems. */
#define LT_NULL 0
#define LT_ETHERNET 1
#define LT_RAW 101
#define LT_LOOP 108
#define LT_LINUX_SLL 113
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_LINUX_SLL2 276

#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_VNTAG 0x8926 /* Cisco VN-Tag (802.1Qbh draft) */
#define ETHERTYPE_PBB 0x88e7   /* 802.1ah Provider Backbone Bridging I-TAG */

bool tf_linktype_supported(int lt) {
  switch (lt) {
  case LT_NULL:
  case LT_ETHERNET:
  case LT_RAW:
  case DLT_RAW: /* 12 or 14 depending on the platform's headers */
  case LT_LOOP:
  case LT_LINUX_SLL:
  case LT_IPV4:
  case LT_IPV6:
  case LT_LINUX_SLL2:
    return true;
  default:
    return false;
  }
}

const char *tf_linktype_name(int lt) {
  const char *n = pcap_datalink_val_to_name(lt);
  return n ? n : "unknown";
}

/* The IP layer after an ethertype; MPLS and PPPoE go to the tunnel
 * decoders, other ethertypes (ARP...) are skipped. */
int tf_decode_ethertype(uint16_t et, struct tf_cur *c, struct tf_pkt *pkt,
                        const char **why) {
  if (et == ETHERTYPE_IP || et == ETHERTYPE_IPV6)
    return tf_decode_ip(c, pkt, why);
  return tf_decap_ethertype(et, c, pkt, why);
}

int tf_decode_ether(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint16_t et;
  if (tf_skip(c, 12) < 0 || tf_get_be16(c, &et) < 0) {
    *why = "Ethernet header cut short";
    return TF_DECODE_BAD;
  }
  /* 802.1Q, 802.1ad and the old QinQ tag: skip each 4-byte tag; a VN-Tag
   * is 6 bytes; an 802.1ah I-TAG (4 bytes) is followed by the customer's
   * whole Ethernet header (Zeek decodes all three).  At most a few tags: a
   * loop bound keeps garbage from spinning. */
  for (int tags = 0;
       et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ ||
       et == ETHERTYPE_QINQ_OLD || et == ETHERTYPE_VNTAG || et == ETHERTYPE_PBB;
       tags++) {
    size_t skip = et == ETHERTYPE_VNTAG ? 4 : et == ETHERTYPE_PBB ? 4 + 12 : 2;
    if (tags == 8 || tf_skip(c, skip) < 0 || tf_get_be16(c, &et) < 0) {
      *why = "VLAN tag stack cut short";
      return TF_DECODE_BAD;
    }
  }
  return tf_decode_ethertype(et, c, pkt, why);
}

static int link_layer(int lt, const uint8_t *p, size_t caplen,
                      struct tf_pkt *pkt, struct tf_decap *dc,
                      const char **why) {
  struct tf_cur c = tf_cur_make(p, caplen);
  uint16_t et;
  uint32_t af;
  *why = NULL;
  pkt->dc = dc;
  if (dc)
    dc->tun.n = 0;
  switch (lt) {
  case LT_ETHERNET:
    return tf_decode_ether(&c, pkt, why);
  case LT_LINUX_SLL:
    /* packet type, ARPHRD, addr len, 8 addr bytes, protocol */
    if (tf_skip(&c, 14) < 0 || tf_get_be16(&c, &et) < 0) {
      *why = "Linux cooked (SLL) header cut short";
      return TF_DECODE_BAD;
    }
    return tf_decode_ethertype(et, &c, pkt, why);
  case LT_LINUX_SLL2:
    /* protocol first, then reserved, ifindex, ARPHRD, type, addr len+8 */
    if (tf_get_be16(&c, &et) < 0 || tf_skip(&c, 18) < 0) {
      *why = "Linux cooked (SLL2) header cut short";
      return TF_DECODE_BAD;
    }
    return tf_decode_ethertype(et, &c, pkt, why);
  case LT_NULL:
  case LT_LOOP:
    /* 4-byte address family, host order for NULL, network order for LOOP;
     * the IP version nibble is what actually decides, so just skip it. */
    if (tf_get_be32(&c, &af) < 0) {
      *why = "loopback header cut short";
      return TF_DECODE_BAD;
    }
    return tf_decode_ip(&c, pkt, why);
  case LT_RAW:
  case DLT_RAW:
  case LT_IPV4:
  case LT_IPV6:
    return tf_decode_ip(&c, pkt, why);
  default:
    *why = "unsupported link type";
    return TF_DECODE_BAD;
  }
}

int tf_decode_packet_decap(int lt, const uint8_t *p, size_t caplen,
                           struct tf_pkt *pkt, struct tf_decap *dc,
                           const char **why) {
  int r = link_layer(lt, p, caplen, pkt, dc, why);
  /* the tunnel layers this packet came through (decode_tunnel.c) */
  pkt->tunnel = dc && dc->tun.n ? &dc->tun : NULL;
  return r;
}

int tf_decode_packet(int lt, const uint8_t *p, size_t caplen,
                     struct tf_pkt *pkt, const char **why) {
  return tf_decode_packet_decap(lt, p, caplen, pkt, NULL, why);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPv4 (RFC 791), IPv6 (RFC 8200) and the TCP header (RFC 9293 §3.1);
 * other IP protocols go to the tunnel decoders (decode_tunnel.c).
 * Non-first fragments carry no TCP header and are skipped; the TCP payload
 * length comes from the IP header so that snaplen-cut packets still advance
 * the sequence space correctly (caplen < len).
 */
#include "decode.h"

#include <string.h>

#define IPPROTO_TCP_ 6

/* RFC 1071: the one's complement sum of n bytes (an odd last byte padded
 * with zero) added to acc, not yet folded. */
static uint32_t sum16(const uint8_t *p, size_t n, uint32_t acc) {
  uint64_t s = acc;
  for (; n >= 2; p += 2, n -= 2)
    s += (uint32_t)(p[0] << 8 | p[1]);
  if (n)
    s += (uint32_t)p[0] << 8;
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return (uint32_t)s;
}

static bool folds_to_ffff(uint32_t s) {
  while (s >> 16)
    s = (s & 0xffff) + (s >> 16);
  return s == 0xffff;
}

bool tf_ipv4_csum_ok(const uint8_t *hdr, size_t ihl) {
  return folds_to_ffff(sum16(hdr, ihl, 0));
}

bool tf_tcp_csum_ok(uint8_t af, const uint8_t *src, const uint8_t *dst,
                    const uint8_t *seg, size_t len) {
  size_t n = af == 4 ? 4 : 16;
  /* pseudo-header: addresses, protocol, TCP length (32 bits for IPv6) */
  uint32_t s = sum16(src, n, 0);
  s = sum16(dst, n, s);
  s += IPPROTO_TCP_ + (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
  return folds_to_ffff(sum16(seg, len, s));
}

int tf_decode_tcp(struct tf_cur *c, uint32_t l4len, struct tf_pkt *pkt,
                  const char **why) {
  const uint8_t *start = c->p;
  uint8_t off, flags;
  pkt->bad_csum = false;
  if (tf_get_be16(c, &pkt->sport) < 0 || tf_get_be16(c, &pkt->dport) < 0 ||
      tf_get_be32(c, &pkt->seq) < 0 || tf_get_be32(c, &pkt->ack) < 0 ||
      tf_get_u8(c, &off) < 0 || tf_get_u8(c, &flags) < 0 ||
      tf_get_be16(c, &pkt->win) < 0) {
    *why = "TCP header cut short";
    return TF_DECODE_BAD;
  }
  uint32_t hlen = (uint32_t)(off >> 4) * 4;
  if (hlen < 20 || hlen > l4len) {
    *why = "TCP data offset out of range";
    return TF_DECODE_BAD;
  }
  pkt->flags = flags;
  /* Options may be cut by the snaplen; the payload then starts beyond the
   * captured bytes and none of it is present. */
  size_t have = tf_cur_left(c) + (size_t)(c->p - start);
  if (have >= hlen) {
    pkt->payload = start + hlen;
    pkt->caplen = (uint32_t)(have - hlen);
  } else {
    pkt->payload = NULL;
    pkt->caplen = 0;
  }
  pkt->len = l4len - hlen;
  /* Zeek (TCPAnalyzer::ValidateChecksum) checks only a segment captured
   * whole */
  if (pkt->dc && pkt->dc->zeek_csum && have >= l4len)
    pkt->bad_csum = !tf_tcp_csum_ok(pkt->af, pkt->src, pkt->dst, start, l4len);
  if (pkt->caplen > pkt->len)
    pkt->caplen = pkt->len; /* Ethernet padding after a short segment */
  return TF_DECODE_TCP;
}

static int ipv4(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t vhl, tos, ttl, proto;
  uint16_t tot, id, frag;
  const uint8_t *start = c->p;
  if (tf_get_u8(c, &vhl) < 0 || tf_get_u8(c, &tos) < 0 ||
      tf_get_be16(c, &tot) < 0 || tf_get_be16(c, &id) < 0 ||
      tf_get_be16(c, &frag) < 0 || tf_get_u8(c, &ttl) < 0 ||
      tf_get_u8(c, &proto) < 0 || tf_skip(c, 2) < 0 || tf_cur_left(c) < 8) {
    *why = "IPv4 header cut short";
    return TF_DECODE_BAD;
  }
  uint32_t ihl = (uint32_t)(vhl & 0x0f) * 4;
  if (ihl < 20) {
    *why = "IPv4 header length below 20";
    return TF_DECODE_BAD;
  }
  if (pkt->dc && pkt->dc->zeek_csum) {
    /* Zeek's IP analyzer drops the packet: ip_hdr_len_zero (TSO, whose
     * checksums are wrong too) and bad_IP_checksum */
    if (!tot) {
      *why = "IPv4 total length 0 (checksums verified)";
      return TF_DECODE_SKIP;
    }
    if ((size_t)(c->end - start) >= ihl && !tf_ipv4_csum_ok(start, ihl)) {
      *why = "bad IPv4 header checksum";
      return TF_DECODE_SKIP;
    }
  }
  /* TSO captures on the sending host show total length 0: trust caplen. */
  uint32_t total = tot ? tot : (uint32_t)(c->end - start);
  if (total < ihl) {
    *why = "IPv4 total length below header length";
    return TF_DECODE_BAD;
  }
  pkt->af = 4;
  memset(pkt->src, 0, sizeof pkt->src);
  memset(pkt->dst, 0, sizeof pkt->dst);
  memcpy(pkt->src, c->p, 4);
  memcpy(pkt->dst, c->p + 4, 4);
  pkt->ttl = ttl;
  pkt->ipid = id;
  pkt->df = (frag & 0x4000) != 0;
  if (proto != IPPROTO_TCP_) {
    /* Tunnels (decode_tunnel.c); a later fragment has no header to read. */
    if (!pkt->dc || (frag & 0x1fff) != 0 || start + ihl > c->end)
      return TF_DECODE_SKIP;
    struct tf_cur in = {start + ihl, c->end};
    if ((size_t)(in.end - start) > total)
      in.end = start + total;
    return tf_decap_ip(proto, &in, (frag & 0x2000) != 0, pkt, why);
  }
  if ((frag & 0x1fff) != 0 || (frag & 0x2000) != 0) {
    *why = "TCP in an IPv4 fragment";
    return TF_DECODE_UNFOLLOWED;
  }
  struct tf_cur l4 = {start + ihl, c->end};
  if (start + ihl > c->end) {
    *why = "IPv4 options cut short";
    return TF_DECODE_BAD;
  }
  /* Bytes past the IP total length are link padding, never payload. */
  if ((size_t)(l4.end - start) > total)
    l4.end = start + total;
  return tf_decode_tcp(&l4, total - ihl, pkt, why);
}

static int ipv6(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint32_t vtcfl;
  uint16_t plen;
  uint8_t nxt, hlim;
  if (tf_get_be32(c, &vtcfl) < 0 || tf_get_be16(c, &plen) < 0 ||
      tf_get_u8(c, &nxt) < 0 || tf_get_u8(c, &hlim) < 0 ||
      tf_cur_left(c) < 32) {
    *why = "IPv6 header cut short";
    return TF_DECODE_BAD;
  }
  pkt->af = 6;
  memcpy(pkt->src, c->p, 16);
  memcpy(pkt->dst, c->p + 16, 16);
  c->p += 32;
  pkt->ttl = hlim;
  pkt->df = false;
  pkt->ipid = 0;
  uint32_t left = plen ? plen : (uint32_t)tf_cur_left(c); /* jumbo/TSO */
  /* Extension headers (RFC 8200 §4): hop-by-hop 0, routing 43, fragment 44,
   * destination options 60; bounded so a loop of garbage cannot spin. */
  for (int i = 0; i < 8; i++) {
    if (nxt == IPPROTO_TCP_) {
      struct tf_cur l4 = *c;
      if (tf_cur_left(&l4) > left)
        l4.end = l4.p + left;
      return tf_decode_tcp(&l4, left, pkt, why);
    }
    if (nxt != 0 && nxt != 43 && nxt != 44 && nxt != 60) {
      if (!pkt->dc)
        return TF_DECODE_SKIP;
      struct tf_cur in = *c; /* tunnels, decode_tunnel.c */
      if (tf_cur_left(&in) > left)
        in.end = in.p + left;
      return tf_decap_ip(nxt, &in, false, pkt, why);
    }
    uint8_t next2, elen;
    const uint8_t *eh = c->p;
    if (tf_get_u8(c, &next2) < 0 || tf_get_u8(c, &elen) < 0) {
      *why = "IPv6 extension header cut short";
      return TF_DECODE_BAD;
    }
    uint32_t sz = nxt == 44 ? 8 : ((uint32_t)elen + 1) * 8;
    if (nxt == 44) {
      uint16_t fo;
      if (tf_get_be16(c, &fo) < 0) {
        *why = "IPv6 fragment header cut short";
        return TF_DECODE_BAD;
      }
      if ((fo & 0xfff9) != 0) {
        *why = "an IPv6 fragment";
        return TF_DECODE_UNFOLLOWED;
      }
    }
    if (sz > left || (size_t)(c->end - eh) < sz) {
      *why = "IPv6 extension header cut short";
      return TF_DECODE_BAD;
    }
    c->p = eh + sz;
    left -= sz;
    nxt = next2;
  }
  *why = "an IPv6 extension header chain longer than 8";
  return TF_DECODE_UNFOLLOWED;
}

int tf_decode_ip(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  if (tf_cur_left(c) < 1) {
    *why = "IP header missing";
    return TF_DECODE_BAD;
  }
  switch (c->p[0] >> 4) {
  case 4:
    return ipv4(c, pkt, why);
  case 6:
    return ipv6(c, pkt, why);
  default:
    *why = "not an IPv4 or IPv6 packet";
    return TF_DECODE_BAD;
  }
}

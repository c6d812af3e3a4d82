/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Tunnels: the TCP connection inside an encapsulation is what tlsfin
 * analyzes (cloud traffic mirroring, overlays, mobile cores and mirror
 * sessions all arrive wrapped).  decode_ip.c hands over IP protocols other
 * than TCP, decode_link.c ethertypes other than IP; each parser here strips
 * one layer, records it in pkt->dc->tun, and hands the inner packet back to
 * the IP or Ethernet decoder.  Every layer is pushed before recursing, so
 * TF_TUNNEL_MAX bounds the recursion against a tunnel in a tunnel in ...
 *
 * The plain Ethernet/IP/TCP path never comes here: it pays nothing.
 *
 *   IP proto 4, 41       IP-in-IP (RFC 2003, RFC 4213 4in6/6in6 RFC 2473)
 *   IP proto 47          GRE (RFC 2784, key and sequence RFC 2890, PPTP's
 *                        enhanced GRE RFC 2637), ERSPAN I/II/III within
 *   UDP by port          VXLAN, Geneve, GTP-U, Teredo, AYIYA, GRE-in-UDP
 *   ethertype 0x8847/48  MPLS label stack (RFC 3032), pseudowire (RFC 4448)
 *   ethertype 0x8864     PPPoE session stage (RFC 2516)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define IPPROTO_IPIP_ 4
#define IPPROTO_IPV6_ 41
#define IPPROTO_GRE_ 47
#define IPPROTO_UDP_ 17

#define ET_IP 0x0800
#define ET_IPV6 0x86dd
#define ET_TEB 0x6558 /* Transparent Ethernet Bridging (RFC 1701) */
#define ET_ERSPAN2 0x88be
#define ET_ERSPAN3 0x22eb
#define ET_MPLS 0x8847
#define ET_MPLS_MC 0x8848
#define ET_PPPOE_SESSION 0x8864
#define ET_PPP 0x880b /* PPTP's enhanced GRE (RFC 2637 §4.1) */

static const char *const type_names[TF_TUN_COUNT] = {
    "none", "ipip",   "gre",   "erspan", "vxlan", "geneve",
    "gtpu", "teredo", "ayiya", "mpls",   "pppoe"};

const char *tf_tunnel_type_name(uint8_t type) {
  return type < TF_TUN_COUNT ? type_names[type] : "unknown";
}

/* ---- UDP port configuration ---- */

static const char *const udp_names[TF_UDPT_COUNT] = {"vxlan",  "geneve", "gtpu",
                                                     "teredo", "ayiya",  "gre"};

/* IANA: vxlan 4789 (RFC 7348), geneve 6081 (RFC 8926), gtp-user 2152,
 * teredo 3544 (RFC 4380), ayiya 5072, gre-in-udp 4754 (RFC 8086). */
static const struct tf_tunnel_ports default_ports = {
    {1, 1, 1, 1, 1, 1}, {{4789}, {6081}, {2152}, {3544}, {5072}, {4754}}};

void tf_tunnel_ports_default(struct tf_tunnel_ports *tp) {
  *tp = default_ports;
}

int tf_tunnel_ports_parse(struct tf_tunnel_ports *tp, const char *spec,
                          char *err, size_t errlen) {
  const char *colon = strchr(spec, ':');
  int t;
  for (t = 0; colon && t < TF_UDPT_COUNT; t++)
    if (strlen(udp_names[t]) == (size_t)(colon - spec) &&
        !strncmp(spec, udp_names[t], (size_t)(colon - spec)))
      break;
  if (!colon || t == TF_UDPT_COUNT) {
    snprintf(err, errlen,
             "'%s' is not TYPE:PORT[,PORT...] with TYPE one of vxlan, "
             "geneve, gtpu, teredo, ayiya, gre",
             spec);
    return -1;
  }
  const char *p = colon + 1;
  if (!strcmp(p, "off")) {
    tp->n[t] = 0;
    return 0;
  }
  for (;;) {
    char *end;
    unsigned long v = strtoul(p, &end, 10);
    if (end == p || v == 0 || v > 65535 || (*end && *end != ',')) {
      snprintf(err, errlen, "'%s': ports are 1 to 65535, or 'off'", spec);
      return -1;
    }
    bool have = false;
    for (int i = 0; i < tp->n[t]; i++)
      have |= tp->port[t][i] == v;
    if (!have) {
      if (tp->n[t] == TF_TUNNEL_PORTS) {
        snprintf(err, errlen, "'%s': at most %d ports per type", spec,
                 TF_TUNNEL_PORTS);
        return -1;
      }
      tp->port[t][tp->n[t]++] = (uint16_t)v;
    }
    if (!*end)
      return 0;
    p = end + 1;
  }
}

static bool port_is(const struct tf_tunnel_ports *tp, int t, uint16_t port) {
  for (int i = 0; i < tp->n[t]; i++)
    if (tp->port[t][i] == port)
      return true;
  return false;
}

/* ---- layers ---- */

/* The next layer, or NULL past the nesting limit (hostile input: a tunnel
 * in a tunnel in ...; counted as a malformed packet).  outer_ip: the layer
 * is carried by the IP header just decoded, whose addresses are still in
 * pkt (the inner decode overwrites them). */
static struct tf_tunnel_layer *push(struct tf_pkt *pkt, uint8_t type,
                                    bool outer_ip, const char **why) {
  struct tf_tunnel *t = &pkt->dc->tun;
  if (t->n == TF_TUNNEL_MAX) {
    *why = "tunnels nested deeper than 8";
    return NULL;
  }
  struct tf_tunnel_layer *l = &t->l[t->n++];
  memset(l, 0, sizeof *l);
  l->type = type;
  if (outer_ip) {
    l->af = pkt->af;
    memcpy(l->u.ip.src, pkt->src, 16);
    memcpy(l->u.ip.dst, pkt->dst, 16);
  }
  return l;
}

/* An IP packet whose version the outer header announced (IP-in-IP next
 * header 4 or 41, AYIYA's next header): a mismatch is malformed. */
static int inner_ip(uint8_t proto, struct tf_cur *c, struct tf_pkt *pkt,
                    const char **why) {
  if (tf_cur_left(c) < 1) {
    *why = "tunneled IP header missing";
    return TF_DECODE_BAD;
  }
  if ((c->p[0] >> 4) != (proto == IPPROTO_IPIP_ ? 4 : 6)) {
    *why = "tunneled IP version differs from the outer next header";
    return TF_DECODE_BAD;
  }
  return tf_decode_ip(c, pkt, why);
}

/* An IP packet that announces itself only by its version nibble (GTP-U,
 * MPLS); anything else is not followed. */
static int ip_by_version(struct tf_cur *c, struct tf_pkt *pkt,
                         const char **why) {
  if (tf_cur_left(c) < 1 || ((c->p[0] >> 4) != 4 && (c->p[0] >> 4) != 6))
    return TF_DECODE_SKIP;
  return tf_decode_ip(c, pkt, why);
}

/* PPP's protocol field (RFC 1661 §2; RFC 1332 IPv4 0x0021, RFC 5072 IPv6
 * 0x0057), possibly compressed to one byte (odd values, RFC 1661 §6.5). */
static int ppp(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t b;
  uint16_t proto;
  if (tf_get_u8(c, &b) < 0) {
    *why = "PPP header cut short";
    return TF_DECODE_BAD;
  }
  proto = b;
  if (!(b & 1)) {
    uint8_t b2;
    if (tf_get_u8(c, &b2) < 0) {
      *why = "PPP header cut short";
      return TF_DECODE_BAD;
    }
    proto = (uint16_t)(b << 8 | b2);
  }
  if (proto == 0x0021 || proto == 0x0057)
    return tf_decode_ip(c, pkt, why);
  return TF_DECODE_SKIP; /* LCP, IPCP, CHAP...: control, not traffic */
}

/* ERSPAN (draft-foschiano-erspan-03).  Type I has no header and is told
 * from type II by the GRE sequence number only type II sends (§4.1, as
 * Wireshark and Zeek do); type II has 8 bytes, type III 12 (+8 with the
 * platform-specific subheader, flag O). */
static int erspan(uint16_t proto, bool gre_seq, struct tf_cur *c,
                  struct tf_pkt *pkt, const char **why) {
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_ERSPAN, true, why);
  if (!l)
    return TF_DECODE_BAD;
  if (proto == ET_ERSPAN2 && !gre_seq) {
    l->version = 1;
    return tf_decode_ether(c, pkt, why);
  }
  uint16_t ver_vlan, sess;
  if (tf_get_be16(c, &ver_vlan) < 0 || tf_get_be16(c, &sess) < 0) {
    *why = "ERSPAN header cut short";
    return TF_DECODE_BAD;
  }
  l->has_id = 1;
  l->id = sess & 0x3ff; /* session ID: the mirror session's number */
  if (proto == ET_ERSPAN2) {
    l->version = 2;
    if (tf_skip(c, 4) < 0) { /* reserved, index */
      *why = "ERSPAN header cut short";
      return TF_DECODE_BAD;
    }
    return tf_decode_ether(c, pkt, why);
  }
  l->version = 3;
  uint8_t hw_ft, flags;
  if (tf_skip(c, 6) < 0 || tf_get_u8(c, &hw_ft) < 0 ||
      tf_get_u8(c, &flags) < 0 || ((flags & 1) && tf_skip(c, 8) < 0)) {
    *why = "ERSPAN type III header cut short";
    return TF_DECODE_BAD;
  }
  /* Frame type (FT, 5 bits after P): 0 Ethernet, 2 IP. */
  switch ((hw_ft >> 2) & 0x1f) {
  case 0:
    return tf_decode_ether(c, pkt, why);
  case 2:
    return ip_by_version(c, pkt, why);
  default:
    return TF_DECODE_SKIP;
  }
}

/* GRE (RFC 2784 §2.1; key and sequence number RFC 2890 §2; version 1 is
 * PPTP's enhanced GRE, RFC 2637 §4.1, which always has the key and may
 * have an acknowledgment number). */
static int gre(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint16_t fv, proto;
  if (tf_get_be16(c, &fv) < 0 || tf_get_be16(c, &proto) < 0) {
    *why = "GRE header cut short";
    return TF_DECODE_BAD;
  }
  const unsigned ver = fv & 7;
  /* Routing present (RFC 1701, deprecated by RFC 2784), undefined flags,
   * unknown versions: not a GRE tlsfin can open. */
  if ((fv & 0x4000) || (fv & 0x0078) || ver > 1)
    return TF_DECODE_SKIP;
  uint32_t key = 0;
  const bool has_key = fv & 0x2000, has_seq = fv & 0x1000;
  if (((fv & 0x8000) && tf_skip(c, 4) < 0) || /* checksum, reserved1 */
      (has_key && tf_get_be32(c, &key) < 0) || (has_seq && tf_skip(c, 4) < 0) ||
      (ver == 1 && (fv & 0x0080) && tf_skip(c, 4) < 0)) { /* PPTP ack */
    *why = "GRE header cut short";
    return TF_DECODE_BAD;
  }
  if (ver == 0 && (proto == ET_ERSPAN2 || proto == ET_ERSPAN3))
    return erspan(proto, has_seq, c, pkt, why);
  if (ver == 1 && (proto != ET_PPP || !has_key))
    return TF_DECODE_SKIP;
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_GRE, true, why);
  if (!l)
    return TF_DECODE_BAD;
  if (has_key) {
    l->has_id = 1;
    /* PPTP's "key" is payload length and call ID: only the call ID names
     * the session. */
    l->id = ver == 1 ? (key & 0xffff) : key;
  }
  if (ver == 1) {
    /* HDLC address and control (0xff 0x03), unless compressed away
     * (RFC 1661 ACFC). */
    if (tf_cur_left(c) >= 2 && c->p[0] == 0xff && c->p[1] == 0x03)
      c->p += 2;
    return ppp(c, pkt, why);
  }
  if (proto == ET_TEB)
    return tf_decode_ether(c, pkt, why);
  return tf_decode_ethertype(proto, c, pkt, why);
}

/* VXLAN (RFC 7348 §5): flags with I set, 24 reserved bits, the 24-bit VNI,
 * 8 reserved bits, then an Ethernet frame.  AWS VPC Traffic Mirroring and
 * Azure virtual network TAP deliver mirrored packets this way. */
static int vxlan(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t flags;
  uint32_t vni;
  if (tf_get_u8(c, &flags) < 0 || tf_skip(c, 3) < 0 ||
      tf_get_be24(c, &vni) < 0 || tf_skip(c, 1) < 0 || !(flags & 0x08))
    return TF_DECODE_SKIP; /* not VXLAN after all: plain UDP */
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_VXLAN, true, why);
  if (!l)
    return TF_DECODE_BAD;
  l->has_id = 1;
  l->id = vni;
  return tf_decode_ether(c, pkt, why);
}

/* Geneve (RFC 8926 §3.4): version 0, options length in 4-byte words,
 * O and C flags, the protocol type (an ethertype), the VNI, options.
 * Options are skipped whole: none of them changes the inner packet. */
static int geneve(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t vo, fl;
  uint16_t proto;
  uint32_t vni;
  if (tf_get_u8(c, &vo) < 0 || tf_get_u8(c, &fl) < 0 ||
      tf_get_be16(c, &proto) < 0 || tf_get_be24(c, &vni) < 0 ||
      tf_skip(c, 1) < 0 || (vo >> 6) != 0)
    return TF_DECODE_SKIP;
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_GENEVE, true, why);
  if (!l)
    return TF_DECODE_BAD;
  l->has_id = 1;
  l->id = vni;
  if (tf_skip(c, (size_t)(vo & 0x3f) * 4) < 0) {
    *why = "Geneve options cut short";
    return TF_DECODE_BAD;
  }
  if (proto == ET_TEB)
    return tf_decode_ether(c, pkt, why);
  return tf_decode_ethertype(proto, c, pkt, why);
}

/* GTP-U (3GPP TS 29.281 §5.1): version 1, protocol type GTP; only G-PDU
 * messages (type 255) carry user traffic.  With E, S or PN set, 4 more
 * bytes (sequence, N-PDU, next extension type) and a chain of extension
 * headers (§5.2), each a length in 4-byte units and ending with the next
 * type. */
static int gtpu(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t fl, type, next;
  uint16_t len;
  uint32_t teid;
  if (tf_get_u8(c, &fl) < 0 || tf_get_u8(c, &type) < 0 ||
      tf_get_be16(c, &len) < 0 || tf_get_be32(c, &teid) < 0 ||
      (fl & 0xf0) != 0x30 || type != 0xff)
    return TF_DECODE_SKIP; /* GTP', echo, end marker, or not GTP */
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_GTPU, true, why);
  if (!l)
    return TF_DECODE_BAD;
  l->has_id = 1;
  l->id = teid;
  /* The length counts what follows the mandatory 8 bytes. */
  if (tf_cur_left(c) > len)
    c->end = c->p + len;
  if (fl & 0x07) {
    if (tf_skip(c, 3) < 0 || tf_get_u8(c, &next) < 0) {
      *why = "GTP-U header cut short";
      return TF_DECODE_BAD;
    }
    /* Each extension is at least 4 bytes, so the chain ends with the
     * packet; the cap only keeps garbage short. */
    for (int i = 0; next; i++) {
      uint8_t units;
      if (i == 16 || tf_get_u8(c, &units) < 0 || units == 0 ||
          tf_skip(c, (size_t)units * 4 - 2) < 0 || tf_get_u8(c, &next) < 0) {
        *why = "GTP-U extension header malformed";
        return TF_DECODE_BAD;
      }
    }
  }
  return ip_by_version(c, pkt, why);
}

/* The Teredo prefix 2001:0000::/32 (RFC 4380 §2.6). */
static bool teredo_addr(const uint8_t *a) {
  return a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0;
}

/* Teredo (RFC 4380 §5.1.1): IPv6 in UDP, optionally after an
 * authentication indicator (0x0001) and/or an origin indication (0x0000).
 * Teredo has no header of its own, so the IPv6 packet must be whole and
 * exactly fill the datagram (as Zeek checks); anything else on the port is
 * plain UDP.  Only the qualification goes through the server's port 3544:
 * the data itself flows between the client's and a relay's (or a peer's)
 * ephemeral ports, so off the Teredo ports (any_port) a datagram is taken
 * for Teredo when its IPv6 packet also has a Teredo address at one end. */
static int teredo(struct tf_cur *c, uint32_t wire, bool any_port,
                  struct tf_pkt *pkt, const char **why) {
  const uint8_t *start = c->p;
  uint16_t ind;
  struct tf_cur t = *c;
  if (tf_cur_left(&t) >= 2 && t.p[0] == 0 && t.p[1] == 1) {
    uint8_t idlen, aulen;
    if (tf_skip(&t, 2) < 0 || tf_get_u8(&t, &idlen) < 0 ||
        tf_get_u8(&t, &aulen) < 0 ||
        tf_skip(&t, (size_t)idlen + aulen + 9) < 0) /* nonce, confirm */
      return TF_DECODE_SKIP;
  }
  if (tf_cur_left(&t) >= 2 && t.p[0] == 0 && t.p[1] == 0 &&
      (tf_get_be16(&t, &ind) < 0 || tf_skip(&t, 6) < 0))
    return TF_DECODE_SKIP;
  uint16_t plen;
  if (tf_cur_left(&t) < 40 || (t.p[0] >> 4) != 6)
    return TF_DECODE_SKIP;
  plen = (uint16_t)(t.p[4] << 8 | t.p[5]);
  if ((uint32_t)(t.p - start) + 40 + plen != wire ||
      (any_port && !teredo_addr(t.p + 8) && !teredo_addr(t.p + 24)))
    return TF_DECODE_SKIP;
  if (!push(pkt, TF_TUN_TEREDO, true, why))
    return TF_DECODE_BAD;
  return tf_decode_ip(&t, pkt, why);
}

/* AYIYA (draft-massar-v6ops-ayiya-02 §4): identity of 2^IdLen bytes,
 * signature of SigLen 4-byte words; only opcode 1 (forward) carries a
 * packet, of the IP protocol in next header. */
static int ayiya(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t id, sig, op, nxt;
  if (tf_get_u8(c, &id) < 0 || tf_get_u8(c, &sig) < 0 ||
      tf_get_u8(c, &op) < 0 || tf_get_u8(c, &nxt) < 0 || tf_skip(c, 4) < 0 ||
      tf_skip(c, ((size_t)1 << (id >> 4)) + (size_t)(sig >> 4) * 4) < 0 ||
      (op & 0x0f) != 1 || (nxt != IPPROTO_IPIP_ && nxt != IPPROTO_IPV6_))
    return TF_DECODE_SKIP;
  if (!push(pkt, TF_TUN_AYIYA, true, why))
    return TF_DECODE_BAD;
  return inner_ip(nxt, c, pkt, why);
}

/* UDP (RFC 768): the tunnels that ride it are recognized by port. */
static int udp(struct tf_cur *c, bool fragment, struct tf_pkt *pkt,
               const char **why) {
  uint16_t sp, dp, ulen;
  if (tf_get_be16(c, &sp) < 0 || tf_get_be16(c, &dp) < 0 ||
      tf_get_be16(c, &ulen) < 0 || tf_skip(c, 2) < 0)
    return TF_DECODE_SKIP;
  const struct tf_tunnel_ports *tp =
      pkt->dc->ports ? pkt->dc->ports : &default_ports;
  int t;
  if (port_is(tp, TF_UDPT_VXLAN, dp))
    t = TF_UDPT_VXLAN;
  else if (port_is(tp, TF_UDPT_GENEVE, dp))
    t = TF_UDPT_GENEVE;
  else if (port_is(tp, TF_UDPT_GRE, dp))
    t = TF_UDPT_GRE;
  else if (port_is(tp, TF_UDPT_GTPU, dp) || port_is(tp, TF_UDPT_GTPU, sp))
    t = TF_UDPT_GTPU;
  else if (port_is(tp, TF_UDPT_TEREDO, dp) || port_is(tp, TF_UDPT_TEREDO, sp))
    t = TF_UDPT_TEREDO;
  else if (port_is(tp, TF_UDPT_AYIYA, dp) || port_is(tp, TF_UDPT_AYIYA, sp))
    t = TF_UDPT_AYIYA;
  else if (tp->n[TF_UDPT_TEREDO] && !fragment)
    t = TF_UDPT_COUNT; /* Teredo between ephemeral ports, by its shape */
  else
    return TF_DECODE_SKIP;
  if (fragment) {
    *why = "a tunnel in an IP fragment";
    return TF_DECODE_UNFOLLOWED;
  }
  /* Length 0: an IPv6 jumbogram or a segmentation-offloaded capture; the
   * IP length already bounds the cursor then. */
  uint32_t wire = ulen >= 8 ? ulen - 8u : (uint32_t)tf_cur_left(c);
  if (ulen && ulen < 8)
    return TF_DECODE_SKIP;
  if (tf_cur_left(c) > wire)
    c->end = c->p + wire;
  switch (t) {
  case TF_UDPT_VXLAN:
    return vxlan(c, pkt, why);
  case TF_UDPT_GENEVE:
    return geneve(c, pkt, why);
  case TF_UDPT_GRE:
    return gre(c, pkt, why); /* RFC 8086 §3: the GRE header follows */
  case TF_UDPT_GTPU:
    return gtpu(c, pkt, why);
  case TF_UDPT_TEREDO:
  case TF_UDPT_COUNT:
    return teredo(c, wire, t == TF_UDPT_COUNT, pkt, why);
  default:
    return ayiya(c, pkt, why);
  }
}

int tf_decap_ip(uint8_t proto, struct tf_cur *l4, bool fragment,
                struct tf_pkt *pkt, const char **why) {
  if (!pkt->dc)
    return TF_DECODE_SKIP;
  switch (proto) {
  case IPPROTO_UDP_:
    return udp(l4, fragment, pkt, why);
  case IPPROTO_IPIP_:
  case IPPROTO_IPV6_:
  case IPPROTO_GRE_:
    if (fragment) {
      *why = "a tunnel in an IP fragment";
      return TF_DECODE_UNFOLLOWED;
    }
    if (proto == IPPROTO_GRE_)
      return gre(l4, pkt, why);
    if (!push(pkt, TF_TUN_IPIP, true, why))
      return TF_DECODE_BAD;
    return inner_ip(proto, l4, pkt, why);
  default:
    return TF_DECODE_SKIP;
  }
}

/* MPLS (RFC 3032 §2.1): 4-byte label stack entries down to the one with
 * bottom-of-stack set.  What follows has no type field: IPv4 and IPv6 show
 * by their version nibble; a first nibble 0 is the pseudowire control word
 * (RFC 4385 §3) before an Ethernet frame (RFC 4448), 1 the associated
 * channel (RFC 4385 §5, OAM, skipped); anything else is taken for an
 * Ethernet pseudowire without control word (as Wireshark does). */
static int mpls(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_MPLS, false, why);
  if (!l)
    return TF_DECODE_BAD;
  for (int i = 0;; i++) {
    uint32_t e;
    if (i == 16 || tf_get_be32(c, &e) < 0) {
      *why = i == 16 ? "MPLS label stack deeper than 16"
                     : "MPLS label stack cut short";
      return TF_DECODE_BAD;
    }
    if (l->nlabels < TF_TUNNEL_LABELS)
      l->u.labels[l->nlabels++] = e >> 12;
    if (e & 0x100)
      break;
  }
  if (tf_cur_left(c) < 1) {
    *why = "MPLS payload missing";
    return TF_DECODE_BAD;
  }
  switch (c->p[0] >> 4) {
  case 4:
  case 6:
    return tf_decode_ip(c, pkt, why);
  case 0:
    if (tf_skip(c, 4) < 0) {
      *why = "MPLS control word cut short";
      return TF_DECODE_BAD;
    }
    return tf_decode_ether(c, pkt, why);
  case 1:
    return TF_DECODE_SKIP;
  default:
    return tf_decode_ether(c, pkt, why);
  }
}

/* PPPoE session stage (RFC 2516 §4, §6): version 1 type 1, code 0, the
 * session ID, the payload length, then a PPP frame.  Discovery (0x8863)
 * carries no traffic and never comes here. */
static int pppoe(struct tf_cur *c, struct tf_pkt *pkt, const char **why) {
  uint8_t vt, code;
  uint16_t sess, len;
  if (tf_get_u8(c, &vt) < 0 || tf_get_u8(c, &code) < 0 ||
      tf_get_be16(c, &sess) < 0 || tf_get_be16(c, &len) < 0) {
    *why = "PPPoE header cut short";
    return TF_DECODE_BAD;
  }
  if (vt != 0x11 || code != 0)
    return TF_DECODE_SKIP;
  struct tf_tunnel_layer *l = push(pkt, TF_TUN_PPPOE, false, why);
  if (!l)
    return TF_DECODE_BAD;
  l->has_id = 1;
  l->id = sess;
  if (tf_cur_left(c) > len) /* Ethernet padding after a short frame */
    c->end = c->p + len;
  return ppp(c, pkt, why);
}

int tf_decap_ethertype(uint16_t et, struct tf_cur *c, struct tf_pkt *pkt,
                       const char **why) {
  if (!pkt->dc)
    return TF_DECODE_SKIP;
  switch (et) {
  case ET_MPLS:
  case ET_MPLS_MC:
    return mpls(c, pkt, why);
  case ET_PPPOE_SESSION:
    return pppoe(c, pkt, why);
  default:
    return TF_DECODE_SKIP;
  }
}

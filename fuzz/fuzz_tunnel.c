/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz target: tunnel decapsulation (src/analyze/decode_tunnel.c) and the
 * link/IP decoders around it.  The first input byte picks the link type
 * (Ethernet, raw IP, Linux SLL2), the rest is one captured packet.  Every
 * packet is decoded with the default UDP ports plus extra ones (so the
 * port table's non-default entries are exercised), and what a decode
 * claims is checked: the layer count stays within the nesting limit, and
 * a TCP payload lies inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const int links[] = {1 /* Ethernet */, 101 /* raw */, 276 /* SLL2 */};
  if (size < 1)
    return 0;
  struct tf_tunnel_ports tp;
  tf_tunnel_ports_default(&tp);
  char err[200];
  if (tf_tunnel_ports_parse(&tp, "vxlan:8472,4790", err, sizeof err) < 0 ||
      tf_tunnel_ports_parse(&tp, "geneve:6082", err, sizeof err) < 0)
    abort();
  /* a copy on the heap of exactly the packet's size: ASan catches any read
   * past the captured bytes */
  size_t n = size - 1;
  uint8_t *pkt = malloc(n ? n : 1);
  if (!pkt)
    return 0;
  memcpy(pkt, data + 1, n);
  /* the high bit of the selector byte turns checksum checks on */
  struct tf_decap dc = {&tp, {0}, (data[0] & 0x80) != 0};
  struct tf_pkt p;
  const char *why = NULL;
  int r = tf_decode_packet_decap(links[data[0] % 3], pkt, n, &p, &dc, &why);
  if (r == TF_DECODE_BAD || r == TF_DECODE_UNFOLLOWED) {
    if (!why)
      abort(); /* every failure says what */
  } else if (r == TF_DECODE_TCP) {
    if (p.tunnel && (p.tunnel->n == 0 || p.tunnel->n > TF_TUNNEL_MAX))
      abort();
    if (p.caplen && (p.payload < pkt || p.payload + p.caplen > pkt + n))
      abort();
    if (p.caplen > p.len)
      abort();
    for (unsigned i = 0; p.tunnel && i < p.tunnel->n; i++)
      if (p.tunnel->l[i].type == TF_TUN_NONE ||
          p.tunnel->l[i].type >= TF_TUN_COUNT ||
          p.tunnel->l[i].nlabels > TF_TUNNEL_LABELS)
        abort();
  }
  /* the same bytes without decapsulation never see a tunnel */
  if (tf_decode_packet(links[data[0] % 3], pkt, n, &p, &why) == TF_DECODE_TCP &&
      p.tunnel)
    abort();
  free(pkt);
  return 0;
}

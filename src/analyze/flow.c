/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Per-connection TCP tracking: sequence space, retransmissions, reassembly
 * of in-order payload into the TLS dissector (out-of-order segments are held,
 * bounded, until the hole before them fills), and the per-side facts the RST
 * cause rules read.  Sequence numbers are compared only through seq.h
 * (RFC 9293 §3.4: modulo 2^32).
 */
#include "flow.h"

#include <stdlib.h>
#include <string.h>

#include "seq.h"

/* Bytes held out of order per direction before we give up on the hole and
 * declare a gap (a capture that lost packets must not grow memory). */
#define OOO_MAX_BYTES (256u * 1024u)
#define OOO_MAX_SEGS 64u

static void feed(struct tf_conn *c, int dir, const uint8_t *p, uint32_t caplen,
                 uint32_t len, uint64_t gpkt) {
  if (c->tls.state == TF_TLS_NO)
    return;
  if (caplen)
    tf_tls_feed(&c->tls, dir, p, caplen, gpkt);
  if (len > caplen) /* cut by the snaplen */
    tf_tls_gap(&c->tls, dir, len - caplen);
}

/* A hole in the sequence space that the capture never filled (lost by the
 * capture, not by the network: the peer acknowledged the bytes, or later
 * ones arrived): counted for tcp.missing_bytes, and the TLS dissector of
 * that direction skips or stops. */
static void hole(struct tf_conn *c, int dir, uint32_t n) {
  c->s[dir].missing += n;
  if (c->tls.state != TF_TLS_NO)
    tf_tls_gap(&c->tls, dir, n);
}

static void drop_ooo(struct tf_side *s) {
  struct tf_seg *g = s->ooo;
  while (g) {
    struct tf_seg *n = g->next;
    free(g);
    g = n;
  }
  s->ooo = NULL;
  s->ooo_bytes = 0;
}

/* Deliver held segments that have become in order. With force, jump over
 * holes (reported as gaps): the end of the connection or of our patience. */
static void drain(struct tf_conn *c, int dir, bool force) {
  struct tf_side *s = &c->s[dir];
  while (s->ooo) {
    struct tf_seg *g = s->ooo;
    if (SEQ_GT(g->seq, s->next)) {
      if (!force)
        return;
      hole(c, dir, (uint32_t)(g->seq - s->next));
      s->next = g->seq;
    }
    uint32_t end = g->seq + g->len;
    if (SEQ_GT(end, s->next)) {
      uint32_t skip = s->next - g->seq;
      uint32_t have = g->caplen > skip ? g->caplen - skip : 0;
      feed(c, dir, g->data + skip, have, g->len - skip, g->pkt);
      s->next = end;
    }
    s->ooo = g->next;
    s->ooo_bytes -= g->caplen;
    free(g);
  }
}

static bool ooo_has(const struct tf_side *s, uint32_t seq, uint32_t len) {
  for (const struct tf_seg *g = s->ooo; g; g = g->next)
    if (SEQ_LEQ(g->seq, seq) && SEQ_GEQ(g->seq + g->len, seq + len))
      return true;
  return false;
}

static void reassemble(struct tf_conn *c, int dir, uint32_t seq,
                       const uint8_t *data, uint32_t caplen, uint32_t len,
                       uint64_t gpkt);

/* Holds a segment beyond a hole.  Only the bytes someone will read are
 * copied (none when the stream is not TLS); the sequence range is always
 * kept so that the hole-filling segment is not mistaken for a
 * retransmission. */
static void hold(struct tf_conn *c, int dir, uint32_t seq, const uint8_t *data,
                 uint32_t caplen, uint32_t len, uint64_t gpkt) {
  struct tf_side *s = &c->s[dir];
  unsigned nsegs = 0;
  for (struct tf_seg *g = s->ooo; g; g = g->next)
    nsegs++;
  if (s->ooo_bytes + caplen > OOO_MAX_BYTES || nsegs >= OOO_MAX_SEGS) {
    drain(c, dir, true); /* the hole will not be filled: declare the gap */
    /* the held data may already reach past seq: only a real hole is a gap,
     * and the overlap is trimmed as for any other segment */
    if (SEQ_GT(seq, s->next)) {
      hole(c, dir, (uint32_t)(seq - s->next));
      s->next = seq;
    }
    reassemble(c, dir, seq, data, caplen, len, gpkt);
    return;
  }
  if (c->tls.state == TF_TLS_NO)
    caplen = 0;
  struct tf_seg *g = malloc(sizeof *g + caplen);
  if (!g)
    return;
  g->seq = seq;
  g->len = len;
  g->caplen = caplen;
  g->pkt = gpkt;
  if (caplen) /* data may be NULL when nothing was captured */
    memcpy(g->data, data, caplen);
  struct tf_seg **pp = &s->ooo;
  while (*pp && SEQ_LEQ((*pp)->seq, seq))
    pp = &(*pp)->next;
  g->next = *pp;
  *pp = g;
  s->ooo_bytes += caplen;
}

/* In-order delivery of the payload [seq, seq+len) of which caplen bytes
 * were captured. */
static void reassemble(struct tf_conn *c, int dir, uint32_t seq,
                       const uint8_t *data, uint32_t caplen, uint32_t len,
                       uint64_t gpkt) {
  struct tf_side *s = &c->s[dir];
  if (!s->next_known) {
    s->next = seq;
    s->next_known = true;
  }
  if (SEQ_LT(seq, s->next)) { /* overlap with what was delivered */
    uint32_t skip = s->next - seq;
    if (skip >= len)
      return;
    seq += skip;
    len -= skip;
    if (skip >= caplen) {
      caplen = 0;
    } else {
      data += skip;
      caplen -= skip;
    }
  }
  if (seq == s->next) {
    feed(c, dir, data, caplen, len, gpkt);
    s->next = seq + len;
    if (s->ooo)
      drain(c, dir, false);
    return;
  }
  hold(c, dir, seq, data, caplen, len, gpkt);
}

static void fingerprint(struct tf_side *s, const struct tf_pkt *p) {
  if (!s->ttl_set) {
    s->ttl = p->ttl;
    s->ttl_set = true;
  } else if (s->ttl != p->ttl) {
    s->ttl_varies = true;
  }
  if (!s->df_set) {
    s->df = p->df;
    s->df_set = true;
  } else if (s->df != p->df) {
    s->df_varies = true;
  }
}

void tf_flow_packet(struct tf_conn *c, int dir, const struct tf_pkt *p,
                    uint64_t gpkt) {
  struct tf_side *s = &c->s[dir];
  const bool rst = (p->flags & TF_TH_RST) != 0;
  const bool syn = (p->flags & TF_TH_SYN) != 0;
  s->packets++;
  if (!s->first_pkt)
    s->first_pkt = gpkt;

  if (rst) {
    if (!s->rst) {
      s->rst = true;
      s->rst_pkt = gpkt;
      s->rst_ts = p->ts;
      s->rst_brief =
          (struct tf_pkt_brief){gpkt, p->ts, p->seq, p->ack, p->len, p->flags};
      s->rst_ttl = p->ttl;
      s->rst_df = p->df;
    }
    s->last =
        (struct tf_pkt_brief){gpkt, p->ts, p->seq, p->ack, p->len, p->flags};
    return; /* an RST's payload (diagnostic text, RFC 9293 §3.10.7) is not
               stream data */
  }
  fingerprint(s, p);

  if (syn && !s->isn_known) {
    s->isn = p->seq;
    s->isn_known = true;
  }
  if (syn) {
    s->syn = true;
    if (!s->next_known) {
      s->next = p->seq + 1;
      s->next_known = true;
    }
  }
  if (p->flags & TF_TH_ACK) {
    if (!s->ack_known || SEQ_GT(p->ack, s->ack))
      s->ack = p->ack;
    s->ack_known = true;
  }
  /* A SYN's window is never scaled (RFC 7323 §2.2): only later windows
   * compare with each other. */
  if (!syn) {
    s->win = p->win;
    if (p->win > s->max_win)
      s->max_win = p->win;
  }
  /* A keepalive probe (RFC 9293 §3.8.4): no payload, one below the next
   * sequence number, so the peer must answer with an ACK.  Counted until
   * the peer sends anything. */
  c->s[!dir].ka_probes = 0;
  if (!p->len && !syn && !(p->flags & TF_TH_FIN) &&
      (s->fin || s->hi_known || s->isn_known)) {
    uint32_t snd_nxt = s->fin        ? s->fin_seq + 1
                       : s->hi_known ? s->hi
                                     : s->isn + 1;
    if (p->seq == snd_nxt - 1)
      s->ka_probes++;
  }

  uint32_t dseq = p->seq + (syn ? 1u : 0u);
  if (p->len > 0) {
    uint32_t end = dseq + p->len;
    bool old = false;
    if (s->hi_known && SEQ_LEQ(end, s->hi)) {
      /* Entirely below the highest byte sent: a retransmission, unless it
       * fills a hole left by reordering. */
      old = !s->next_known || SEQ_LT(dseq, s->next) || ooo_has(s, dseq, p->len);
      if (!old)
        s->bytes += p->len;
    } else if (s->hi_known && SEQ_LT(dseq, s->hi)) {
      s->bytes += (uint32_t)(end - s->hi);
      old = true; /* partly retransmitted */
    } else {
      s->bytes += p->len;
    }
    if (old) {
      s->retrans++;
      if (s->has_data && SEQ_LT(dseq, s->ld_end) && SEQ_GEQ(end, s->ld_seq))
        s->ld_rtx++;
    }
    if (!s->hi_known || SEQ_GT(end, s->hi)) {
      s->hi = end;
      s->hi_known = true;
      if (!old || SEQ_GT(end, s->ld_end) || !s->has_data) {
        s->ld_seq = dseq;
        s->ld_end = end;
        s->ld_rtx = old ? 1 : 0;
        s->ld_pkt = gpkt;
        s->ld_ts = p->ts;
      }
    }
    if (!s->has_data) {
      s->has_data = true;
      s->first_data_pkt = gpkt;
    }
    if (!old || (s->next_known && SEQ_GT(end, s->next)))
      reassemble(c, dir, dseq, p->payload, p->caplen, p->len, gpkt);
  } else if (!s->next_known && !syn) {
    s->next = dseq; /* a midstream pure ACK tells where the stream is */
    s->next_known = true;
  }

  if ((p->flags & TF_TH_FIN) && !s->fin) {
    s->fin = true;
    s->fin_pkt = gpkt;
    s->fin_ts = p->ts;
    s->fin_seq = dseq + p->len;
  }
  s->last =
      (struct tf_pkt_brief){gpkt, p->ts, p->seq, p->ack, p->len, p->flags};
}

void tf_flow_finish(struct tf_conn *c) {
  bool conn_reset = c->s[0].rst || c->s[1].rst;
  for (int d = 0; d < 2; d++) {
    struct tf_side *s = &c->s[d];
    if (s->ooo)
      drain(c, d, true);
    /* The peer acknowledged bytes the capture never showed: the last
     * segments were lost by the capture (RFC 9293 §3.4: an ACK covers
     * only what arrived).  A FIN takes one sequence number. */
    const struct tf_side *o = &c->s[!d];
    if (o->ack_known && s->next_known) {
      uint32_t end = s->next + (s->fin ? 1u : 0u);
      if (SEQ_GT(o->ack, end) && SEQ_DIFF(o->ack, end) < (1 << 30))
        s->missing += (uint32_t)(o->ack - end);
    }
    if (c->tls.state == TF_TLS_YES) {
      bool ended = s->fin || s->rst || conn_reset;
      uint64_t at = s->fin ? s->fin_pkt : s->rst ? s->rst_pkt : c->last_pkt;
      tf_tls_end(&c->tls, d, ended, at);
    }
  }
  tf_tls_finish(&c->tls);
}

void tf_flow_release(struct tf_conn *c) {
  drop_ooo(&c->s[0]);
  drop_ooo(&c->s[1]);
  tf_tls_free(&c->tls);
}

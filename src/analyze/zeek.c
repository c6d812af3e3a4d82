/* SPDX-License-Identifier: BSD-2-Clause */
#include "zeek.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum {
  ST_INACTIVE = 0,
  ST_SYN_SENT,
  ST_SYN_ACK_SENT,
  ST_PARTIAL,
  ST_ESTABLISHED,
  ST_CLOSED,
  ST_RESET
};

/* Connection history masks (Zeek's HIST_* in Conn.h). */
#define HIST_SYN 0x1
#define HIST_FIN 0x2
#define HIST_RST 0x4
#define HIST_FIN_RST 0x8
#define HIST_ACK 0x10
#define HIST_DATA 0x20
#define HIST_MULTI 0x40

/* A subset of Zeek's likely_server_ports: the ports its default analyzers
 * register (HTTP, SSL, SSH, FTP, SMTP, DNS, IMAP, POP3, ...), used to guess
 * the responder of a connection seen without its SYN. */
static bool likely_server_port(uint32_t p) {
  static const uint16_t ports[] = {
      21,   22,   23,   25,   53,   80,   81,   88,   110,  111,
      135,  139,  143,  389,  443,  445,  465,  502,  563,  585,
      587,  614,  631,  636,  989,  990,  992,  993,  995,  1080,
      1812, 2049, 3128, 3306, 3389, 5060, 5061, 5223, 5432, 5672,
      6379, 6666, 6667, 6668, 6669, 8000, 8080, 8443, 8888, 9200};
  for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
    if (ports[i] == p)
      return true;
  return false;
}

void tf_zeek_init(struct tf_zeek *z) {
  memset(z, 0, sizeof *z);
  for (int i = 0; i < 2; i++)
    z->ep[i].rxmt_thresh = z->ep[i].win0_thresh = z->ep[i].gap_thresh =
        z->ep[i].chk_thresh = 1;
}

static void add_history(struct tf_zeek *z, char c) {
  if (z->hlen + 1 < TF_ZEEK_HIST_MAX)
    z->hist[z->hlen++] = c;
  z->hist[z->hlen] = 0;
}

static void flip(struct tf_zeek *z);
static const char *live_history(struct tf_zeek *z);
static const char *live_conn_state(struct tf_zeek *z);

/* session::Manager::Remove: Zeek logs the connection and forgets it; the
 * next packet of the 4-tuple starts a new connection (a new conn.log row),
 * with its roles decided afresh. */
static void end_row(struct tf_zeek *z) {
  struct tf_zeek_row r;
  memset(&r, 0, sizeof r);
  r.first_ts = z->first_ts;
  snprintf(r.state, sizeof r.state, "%s", live_conn_state(z));
  snprintf(r.hist, sizeof r.hist, "%s", live_history(z));
  struct tf_zeek_row rows[TF_ZEEK_MAX_ROWS];
  uint8_t n = z->nrows;
  uint16_t dropped = z->rows_dropped;
  memcpy(rows, z->rows, sizeof rows);
  tf_zeek_init(z);
  memcpy(z->rows, rows, sizeof rows);
  if (n < TF_ZEEK_MAX_ROWS)
    z->rows[n++] = r;
  else
    dropped++;
  z->nrows = n;
  z->rows_dropped = dropped;
}

/* The timers that remove a connection, checked before a packet is processed
 * (Zeek advances its timer manager to the packet's time first). */
static void run_timers(struct tf_zeek *z, double ts) {
  struct tf_zeek_ep *o = &z->ep[0], *r = &z->ep[1];
  bool end = false;
  /* TCPSessionAdapter::AttemptTimer: a SYN unanswered for tcp_attempt_delay
   * ends the attempt */
  if (z->attempt_at > 0 && ts >= z->attempt_at) {
    z->attempt_at = 0;
    if ((o->state == ST_SYN_SENT || o->state == ST_SYN_ACK_SENT) &&
        r->state == ST_INACTIVE)
      end = true;
  }
  /* TCPSessionAdapter::ConnDeleteTimer / ResetTimer, armed by
   * ConnectionClosed() once the close is complete */
  if (z->delete_at > 0 && ts >= z->delete_at)
    end = true;
  /* Connection::InactivityTimer: tcp_inactivity_timeout */
  if (ts - z->last_ts >= TF_ZEEK_INACTIVITY)
    end = true;
  if (end)
    end_row(z);
}

/* TCPSessionAdapter::ConnectionClosed: the first close (FIN or RST) of an
 * endpoint; complete when it is an RST, the peer closed too, or the peer
 * never sent anything.  Then CancelTimers() and a delete timer
 * tcp_close_delay after the last packet. */
static void closed(struct tf_zeek *z, int e) {
  struct tf_zeek_ep *ep = &z->ep[e], *peer = &z->ep[!e];
  if (ep->did_close || (ep->state != ST_CLOSED && ep->state != ST_RESET))
    return;
  ep->did_close = true;
  if (ep->state == ST_RESET || peer->did_close || peer->state == ST_INACTIVE) {
    z->attempt_at = 0;
    z->delete_at = z->last_ts + (ep->state == ST_RESET ? TF_ZEEK_RESET_DELAY
                                                       : TF_ZEEK_CLOSE_DELAY);
  }
}

/* TCP_Endpoint::CheckHistory + Connection::CheckHistory: records the letter
 * the first time and returns true when it had been seen before.  A
 * connection that began with a SYN-ACK is flipped once productive traffic
 * (A or D) shows it was no stealth scan; its history becomes "^h" and *e,
 * the sender's endpoint index, changes with the roles. */
static bool check_history(struct tf_zeek *z, int *e, uint32_t mask, char code) {
  if ((code == 'A' || code == 'D') && z->hlen == 1 && z->hist[0] == 'H') {
    flip(z);
    z->hlen = 0;
    add_history(z, '^');
    add_history(z, 'h');
    *e = !*e;
  }
  if (*e == 1) {
    mask <<= 16;
    code = (char)tolower((unsigned char)code);
  }
  if ((z->hist_seen & mask) == 0) {
    z->hist_seen |= mask;
    add_history(z, code);
    return false;
  }
  return true;
}

static void ep_add(struct tf_zeek *z, int e, char code) {
  add_history(z, e == 1 ? (char)tolower((unsigned char)code) : code);
}

/* TCP_Endpoint::ScaledHistoryEntry: the letter at 1, 10, 100, ...
 * occurrences. */
static void scaled(struct tf_zeek *z, int e, char code, uint32_t *cnt,
                   uint32_t *thresh) {
  if (++*cnt == *thresh) {
    ep_add(z, e, code);
    *thresh = *thresh == 1 ? 10 : *thresh * 10;
  }
}

static void flip(struct tf_zeek *z) {
  struct tf_zeek_ep t = z->ep[0];
  z->ep[0] = z->ep[1];
  z->ep[1] = t;
  /* Connection::FlipRoles keeps hist_seen as it is. */
  z->orig_is_first = !z->orig_is_first;
  add_history(z, '^');
}

static void set_state(struct tf_zeek_ep *ep, uint8_t s) {
  ep->prev_state = ep->state;
  ep->state = s;
}

static void update_history(struct tf_zeek *z, int e, uint8_t f, uint32_t seq,
                           uint32_t len) {
  struct tf_zeek_ep *ep = &z->ep[e];
  int bits = !!(f & TF_TH_SYN) + !!(f & TF_TH_FIN) + !!(f & TF_TH_RST);
  if (bits > 1) {
    if ((f & TF_TH_FIN) && (f & TF_TH_RST))
      check_history(z, &e, HIST_FIN_RST, 'I');
    else
      check_history(z, &e, HIST_MULTI, 'Q');
  } else if (bits == 1) {
    if (f & TF_TH_SYN) {
      char code = (f & TF_TH_ACK) ? 'H' : 'S';
      if (check_history(z, &e, HIST_SYN, code) && seq != ep->last_syn)
        ep_add(z, e, code);
      ep->last_syn = seq;
    }
    if (f & TF_TH_FIN) {
      /* a FIN's sequence number is the one past its data */
      if (check_history(z, &e, HIST_FIN, 'F') && seq + len != ep->last_fin)
        ep_add(z, e, 'F');
      ep->last_fin = seq + len;
    }
    if (f & TF_TH_RST) {
      if (check_history(z, &e, HIST_RST, 'R') && seq != ep->last_rst)
        ep_add(z, e, 'R');
      ep->last_rst = seq;
    }
  } else {
    if (len)
      check_history(z, &e, HIST_DATA, 'D');
    else if (f & TF_TH_ACK)
      check_history(z, &e, HIST_ACK, 'A');
  }
}

static void state_machine(struct tf_zeek *z, int e, uint8_t f, uint32_t seq,
                          uint32_t len) {
  struct tf_zeek_ep *ep = &z->ep[e], *peer = &z->ep[!e];
  bool is_orig = e == 0;
  switch (ep->state) {
  case ST_INACTIVE:
    if (f & TF_TH_SYN) {
      if (is_orig) {
        set_state(ep, (f & TF_TH_ACK) ? ST_SYN_ACK_SENT : ST_SYN_SENT);
        /* TCPSessionAdapter::UpdateInactiveState arms AttemptTimer */
        z->attempt_at = z->last_ts + TF_ZEEK_ATTEMPT_DELAY;
      } else {
        if (!(f & TF_TH_ACK) && peer->state == ST_SYN_ACK_SENT &&
            seq == ep->start_seq) {
          /* SYN / SYN-ACK reversal: flip and establish */
          flip(z);
          ep = &z->ep[1];
          peer = &z->ep[0];
          set_state(ep, ST_ESTABLISHED);
          /* after the flip the sender is the responder */
          if (peer->state == ST_SYN_SENT)
            set_state(peer, ST_ESTABLISHED);
          break;
        }
        if (peer->state == ST_SYN_SENT)
          set_state(peer, ST_ESTABLISHED);
        set_state(ep, ST_ESTABLISHED);
      }
    }
    if (f & TF_TH_FIN)
      set_state(ep, ST_CLOSED);
    if (f & TF_TH_RST)
      set_state(ep, ST_RESET);
    if (ep->state == ST_INACTIVE) {
      if (!is_orig && len == 0 && peer->state == ST_SYN_SENT)
        ; /* an ACK of the SYN before the SYN-ACK: not partial */
      else if ((f & TF_TH_ACK) && peer->state == ST_ESTABLISHED)
        set_state(ep, ST_ESTABLISHED); /* missed the SYN */
      else
        set_state(ep, ST_PARTIAL);
    }
    break;
  case ST_SYN_SENT:
  case ST_SYN_ACK_SENT:
    if (f & TF_TH_FIN)
      set_state(ep, ST_CLOSED);
    if (f & TF_TH_RST)
      set_state(ep, ST_RESET);
    break;
  case ST_PARTIAL:
  case ST_ESTABLISHED:
    if ((f & TF_TH_SYN) && ep->state == ST_PARTIAL &&
        peer->state == ST_INACTIVE && !(f & TF_TH_ACK))
      set_state(ep, ST_SYN_SENT);
    if ((f & TF_TH_FIN) && !(f & TF_TH_RST)) {
      set_state(ep, ST_CLOSED);
      if (peer->state == ST_RESET && peer->prev_state == ST_CLOSED)
        set_state(peer, ST_CLOSED); /* the peer's RST came after its FIN */
    }
    if (f & TF_TH_RST)
      set_state(ep, ST_RESET);
    break;
  case ST_CLOSED:
    /* after a FIN exchange an RST changes nothing */
    if ((f & TF_TH_RST) && peer->state != ST_CLOSED)
      set_state(ep, ST_RESET);
    break;
  default:
    break;
  }
}

static bool is_clean(const struct tf_zeek_ep *a) {
  return a->state == ST_ESTABLISHED ||
         (a->state == ST_CLOSED && a->prev_state == ST_ESTABLISHED);
}

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)

/* Reassembler(1, ...): trim_seq and last_reassem_seq start one past the
 * (possibly faked) SYN. */
static void reasm_init(struct tf_zeek_ep *ep) {
  if (!ep->trim_init) {
    ep->trim = ep->reassem = ep->start_seq + 1;
    ep->trim_init = true;
  }
}

/* Reassembler::BlockInserted: deliver the blocks now contiguous with
 * last_reassem_seq (every kept block starts above it). */
static void reasm_deliver(struct tf_zeek_ep *ep) {
  while (ep->nblk && SEQ_LE(ep->blk[0].s, ep->reassem)) {
    if (SEQ_LT(ep->reassem, ep->blk[0].e))
      ep->reassem = ep->blk[0].e;
    memmove(&ep->blk[0], &ep->blk[1], (size_t)--ep->nblk * sizeof ep->blk[0]);
  }
}

/* TCP_Reassembler::Gap: the 'G' letter (logarithmic) only while both
 * endpoints are established or cleanly closing. */
static void reasm_gap(struct tf_zeek *z, int e) {
  struct tf_zeek_ep *ep = &z->ep[e];
  if (is_clean(ep) && is_clean(&z->ep[!e]))
    scaled(z, e, 'G', &ep->gap_cnt, &ep->gap_thresh);
}

/* TCP_Reassembler::DataSent + Reassembler::NewBlock: a complete payload
 * [seq, seq + len) joins the stream, or waits above a hole as a block.
 * Past tcp_max_above_hole_without_any_acks (16384) undelivered bytes before
 * any ACK, or tcp_excessive_data_without_further_acks (10 MiB) in blocks,
 * Zeek stops reassembling (skip_deliveries): no more gaps. */
static void data_sent(struct tf_zeek_ep *ep, uint32_t seq, uint32_t len) {
  reasm_init(ep);
  if (ep->skip)
    return;
  uint32_t end = seq + len;
  if (SEQ_LE(end, ep->trim) || SEQ_LE(end, ep->reassem))
    return; /* old data */
  if (SEQ_LE(seq, ep->reassem)) {
    ep->reassem = end;
    reasm_deliver(ep);
  } else {
    /* insert [seq, end), merging the blocks it overlaps or touches */
    unsigned i = 0, j;
    while (i < ep->nblk && SEQ_LT(ep->blk[i].e, seq))
      i++;
    for (j = i; j < ep->nblk && SEQ_LE(ep->blk[j].s, end); j++) {
      if (SEQ_LT(ep->blk[j].s, seq))
        seq = ep->blk[j].s;
      if (SEQ_LT(end, ep->blk[j].e))
        end = ep->blk[j].e;
    }
    /* blocks i..j-1 are replaced by one */
    if (j == i && ep->nblk == TF_ZEEK_BLOCKS) {
      /* full: join the block below (or above), hiding that hole */
      if (i > 0)
        ep->blk[i - 1].e = end;
      else
        ep->blk[0].s = seq;
      goto limits;
    }
    if (j == i) {
      memmove(&ep->blk[i + 1], &ep->blk[i],
              (size_t)(ep->nblk - i) * sizeof ep->blk[0]);
      ep->nblk++;
    } else if (j > i + 1) {
      memmove(&ep->blk[i + 1], &ep->blk[j],
              (size_t)(ep->nblk - j) * sizeof ep->blk[0]);
      ep->nblk = (uint8_t)(ep->nblk - (j - i - 1));
    }
    ep->blk[i].s = seq;
    ep->blk[i].e = end;
  }
limits:
  if (ep->nblk) {
    /* TCP_Endpoint::NoDataAcked: the peer acked nothing past the SYN */
    bool no_ack = SEQ_LE(ep->trim, ep->start_seq + 1);
    uint64_t in_blocks = 0;
    for (unsigned k = 0; k < ep->nblk; k++)
      in_blocks += ep->blk[k].e - ep->blk[k].s;
    if ((no_ack && ep->blk[ep->nblk - 1].e - ep->reassem > 16384) ||
        in_blocks > 10u * 1024 * 1024) {
      ep->nblk = 0;
      ep->skip = true;
    }
  }
}

/* TCP_Reassembler::AckReceived -> DataBlockList::Trim -> Undelivered: an
 * acknowledgment beyond last_reassem_seq skips the holes below it, one Gap
 * per hole (before each block, and after the last), then trim_seq moves. */
static void ack_received(struct tf_zeek *z, int e, uint32_t ack) {
  struct tf_zeek_ep *ep = &z->ep[e];
  if (!ep->seq_init || ep->state == ST_INACTIVE)
    return;
  if (ep->fin_cnt && (int32_t)(ack - ep->fin_seq) >= 0)
    ack = ep->fin_seq - 1;
  reasm_init(ep);
  if (SEQ_LE(ack, ep->trim))
    return;
  if (SEQ_LT(ep->reassem, ack)) {
    if (!ep->skip) {
      while (ep->nblk && SEQ_LT(ep->blk[0].s, ack)) {
        reasm_gap(z, e);
        ep->reassem = ep->blk[0].s;
        reasm_deliver(ep);
      }
      if (SEQ_LT(ep->reassem, ack))
        reasm_gap(z, e);
    }
    if (SEQ_LT(ep->reassem, ack))
      ep->reassem = ack;
    reasm_deliver(ep);
  }
  ep->trim = ack;
}

/* TCPSessionAdapter::IsReuse, for what the engine does not split itself:
 * a SYN-ACK while Zeek's originator is still inactive (all it sent had bad
 * checksums, or the connection began with the responder's SYN-ACK) starts a
 * new connection unless it repeats the responder's first sequence number
 * (the engine starts a new record for a SYN on a used 4-tuple; a SYN here
 * comes after an originator whose packets were all dropped). */
static bool is_reuse(const struct tf_zeek *z, uint8_t f, uint32_t seq) {
  const struct tf_zeek_ep *o = &z->ep[0], *r = &z->ep[1];
  if (!(f & TF_TH_SYN) || o->state != ST_INACTIVE)
    return false;
  const struct tf_zeek_ep *conn_orig = (f & TF_TH_ACK) ? r : o;
  if (!o->did_close && !r->did_close) {
    if (seq == conn_orig->start_seq)
      return false;
    if (!(f & TF_TH_ACK) && conn_orig->state == ST_SYN_ACK_SENT &&
        r->state == ST_INACTIVE && seq == r->start_seq)
      return false;
  }
  return true;
}

/* Timers, reuse and, for a new connection, TCPAnalyzer::WantConnection:
 * a connection seen without its SYN, or starting with a SYN-ACK, may have
 * its roles flipped by port.  The connection's time starts at its first
 * packet.  first_port is the port of the host that sent the first packet
 * of the record, peer_port the other one: after a split the packet that
 * starts Zeek's new connection may come from either. */
static void find_conn(struct tf_zeek *z, double ts, bool from_first, uint8_t f,
                      uint32_t seq, uint32_t first_port, uint32_t peer_port) {
  if (z->started)
    run_timers(z, ts);
  if (z->started && is_reuse(z, f, seq))
    end_row(z);
  if (!z->started) {
    uint32_t src_port = from_first ? first_port : peer_port;
    uint32_t dst_port = from_first ? peer_port : first_port;
    z->started = true;
    z->first_ts = z->last_ts = ts;
    z->orig_is_first = from_first;
    if ((!(f & TF_TH_SYN) || (f & TF_TH_ACK)) && likely_server_port(src_port)) {
      bool fl = likely_server_port(dst_port)
                    ? (!(f & TF_TH_SYN) && src_port < dst_port)
                    : true;
      if (fl) {
        z->orig_is_first = !from_first;
        add_history(z, '^');
      }
    }
  }
}

void tf_zeek_bad_checksum(struct tf_zeek *z, double ts, bool from_first,
                          uint8_t f, uint32_t seq, uint32_t first_port,
                          uint32_t peer_port) {
  find_conn(z, ts, from_first, f, seq, first_port, peer_port);
  int e = (from_first == z->orig_is_first) ? 0 : 1;
  scaled(z, e, 'C', &z->ep[e].chk_cnt, &z->ep[e].chk_thresh);
}

void tf_zeek_packet(struct tf_zeek *z, double ts, bool from_first, uint8_t f,
                    uint32_t seq, uint32_t ack, uint32_t len, uint32_t caplen,
                    uint16_t win, uint32_t first_port, uint32_t peer_port) {
  find_conn(z, ts, from_first, f, seq, first_port, peer_port);
  if (ts > z->last_ts)
    z->last_ts = ts;
  int e = (from_first == z->orig_is_first) ? 0 : 1;
  struct tf_zeek_ep *ep = &z->ep[e];
  uint32_t seg_len = len + !!(f & TF_TH_SYN) + !!(f & TF_TH_FIN);
  if (f & TF_TH_RST)
    seg_len -= len; /* an RST's payload is not stream data */
  if (ep->state == ST_INACTIVE) {
    /* init_endpoint(): a partial connection numbers as if a SYN had been
     * seen just before the first packet */
    ep->seq_init = true;
    if (f & TF_TH_SYN) {
      ep->start_seq = seq;
      ep->last_seq = seq + seg_len;
    } else {
      ep->start_seq = seq - 1;
      ep->last_seq = seq;
    }
  }
  update_history(z, e, f, seq, len);
  e = (from_first == z->orig_is_first) ? 0 : 1; /* a late '^h' flip */
  ep = &z->ep[e];
  /* update_window(): zero windows count unless they come with or after an
   * RST, or after the peer's FIN */
  if (win == 0 && !(f & TF_TH_RST) && z->ep[!e].state != ST_CLOSED &&
      ep->state != ST_RESET)
    scaled(z, e, 'W', &ep->win0_cnt, &ep->win0_thresh);
  /* update_last_seq(): payload at or below the highest sequence seen is a
   * retransmission ('T', logarithmic) */
  int32_t delta = (int32_t)(seq + seg_len - ep->last_seq);
  if ((f & (TF_TH_SYN | TF_TH_RST)) &&
      (delta > 100000000 || delta < -100000000))
    ;
  else if ((f & TF_TH_FIN) && ep->last_seq == ep->start_seq + 1)
    ep->last_seq = seq + seg_len;
  else if (ep->state == ST_RESET)
    ;
  else if (delta > 0)
    ep->last_seq = seq + seg_len;
  else if (len > 0)
    scaled(z, e, 'T', &ep->rxmt_cnt, &ep->rxmt_thresh);
  if (len > 0 && !(f & TF_TH_RST))
    ep->size += len;
  if ((f & TF_TH_FIN) && !(f & TF_TH_RST)) {
    ep->fin_cnt = true;
    ep->fin_seq = seq + seg_len;
  }
  state_machine(z, e, f, seq, len);
  e = (from_first == z->orig_is_first) ? 0 : 1;
  closed(z, e);
  if (f & TF_TH_ACK)
    ack_received(z, !e, ack);
  /* TCPSessionAdapter::DeliverPacket: only a complete, non-RST payload
   * reaches TCP_Endpoint::DataSent; a SYN's data starts one past it */
  if (len > 0 && caplen >= len && !(f & TF_TH_RST))
    data_sent(&z->ep[e], (f & TF_TH_SYN) ? seq + 1 : seq, len);
}

static const char *live_history(struct tf_zeek *z) {
  z->hist[z->hlen] = 0;
  return z->hist;
}

bool tf_zeek_orig_is_first(const struct tf_zeek *z) { return z->orig_is_first; }

/* Does the history match /^\^?S[^HAFGIQ]*R/ (Zeek's RSTOS0 pattern)? */
static bool syn_then_rst(const char *h) {
  if (*h == '^')
    h++;
  if (*h != 'S')
    return false;
  for (h++; *h; h++) {
    if (*h == 'R')
      return true;
    if (strchr("HAFGIQ", *h))
      return false;
  }
  return false;
}

/* base/protocols/conn/main.zeek: conn_state() for TCP. */
static const char *live_conn_state(struct tf_zeek *z) {
  uint8_t os = z->ep[0].state, rs = z->ep[1].state;
  bool o_inactive = os == ST_INACTIVE || os == ST_PARTIAL;
  bool r_inactive = rs == ST_INACTIVE || rs == ST_PARTIAL;
  if (rs == ST_RESET) {
    if (os == ST_SYN_SENT || os == ST_SYN_ACK_SENT ||
        (os == ST_RESET && z->ep[0].size == 0 && z->ep[1].size == 0))
      return "REJ";
    return o_inactive ? "RSTRH" : "RSTR";
  }
  if (os == ST_RESET) {
    if (r_inactive)
      return syn_then_rst(live_history(z)) ? "RSTOS0" : "OTH";
    return "RSTO";
  }
  if (rs == ST_CLOSED && os == ST_CLOSED)
    return "SF";
  if (os == ST_CLOSED)
    return r_inactive ? "SH" : "S2";
  if (rs == ST_CLOSED)
    return o_inactive ? "SHR" : "S3";
  if (os == ST_SYN_SENT && rs == ST_INACTIVE)
    return "S0";
  if (os == ST_ESTABLISHED && rs == ST_ESTABLISHED)
    return "S1";
  return "OTH";
}

const char *tf_zeek_conn_state(struct tf_zeek *z) {
  return z->nrows ? z->rows[0].state : live_conn_state(z);
}

const char *tf_zeek_history(struct tf_zeek *z) {
  return z->nrows ? z->rows[0].hist : live_history(z);
}

unsigned tf_zeek_nrows(struct tf_zeek *z) { return z->nrows + 1u; }

void tf_zeek_row(struct tf_zeek *z, unsigned i, const char **state,
                 const char **hist, double *first_ts) {
  if (i < z->nrows) {
    *state = z->rows[i].state;
    *hist = z->rows[i].hist;
    *first_ts = z->rows[i].first_ts;
  } else {
    *state = live_conn_state(z);
    *hist = live_history(z);
    *first_ts = z->first_ts;
  }
}

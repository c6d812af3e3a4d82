/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The teardown verdict of one connection and the cause of its RST, by the
 * rules of shared/design/TAXONOMY.md (first matching verdict wins; causes in
 * order of the strength of their evidence).  Every cause names its evidence
 * in rst_detail so a user can check it against the capture.
 */
#include <stdio.h>
#include <string.h>

#include "flow.h"
#include "seq.h"
#include "tlsdec.h"

static const char *side_name(int d) { return d == 0 ? "client" : "server"; }

/* An RST this long after the peer's last payload, on a connection whose
 * window shows nothing unread, is an idle connection being dropped. */
#define IDLE_ABORT_SECONDS 1.0

/* Retransmissions of the same data before we call it a timeout (TAXONOMY:
 * "at least twice"). */
#define STALL_RETRANSMISSIONS 2

/* The last data a side sent was retransmitted and never acknowledged. */
static bool unacked_retransmitted(const struct tf_conn *c, int d) {
  const struct tf_side *s = &c->s[d], *o = &c->s[!d];
  if (!s->has_data || s->ld_rtx < STALL_RETRANSMISSIONS)
    return false;
  return !o->ack_known || SEQ_LT(o->ack, s->ld_end);
}

static double ms_between(double a, double b) { return (b - a) * 1000.0; }

static void set_cause(struct tf_result *r, tlsfin_cause cause,
                      tlsfin_confidence conf) {
  r->cause = cause;
  r->confidence = conf;
}

/* RFC 9293 §3.10.7.1: an RST for a segment of an unknown connection takes
 * its sequence number from that segment's acknowledgment field and has no
 * ACK bit (when the segment had an ACK). */
static bool answers_segment(const struct tf_pkt_brief *rst,
                            const struct tf_pkt_brief *seg) {
  return seg->pkt != 0 && seg->pkt < rst->pkt && !(rst->flags & TF_TH_ACK) &&
         (seg->flags & TF_TH_ACK) && rst->seq == seg->ack;
}

/* What the wire shows about one RST: facts about the sender x and its peer
 * y at the moment of the RST, each computed once, named, and used by the
 * rules below.  RFC 9293 sections cite the behaviour each fact reveals. */
struct rst_facts {
  int d; /* the sender (0 client, 1 server) */
  const struct tf_side *x, *y;
  const struct tf_pkt_brief *rst; /* the RST */
  const struct tf_pkt_brief *seg; /* y's last segment before it */
  bool with_ack;                  /* RST+ACK (a socket's own abort) */
  bool answers_syn;               /* no SYN-ACK ever: nothing listened */
  bool answers_hello;             /* server RST right after the ClientHello */
  bool own_fin;                   /* x had sent FIN before the RST */
  bool data_after_own_fin;        /* y's payload came after x's FIN, unacked */
  bool own_data_timed_out;        /* x retransmitted its data, never acked */
  bool keepalive_unanswered;      /* x's keepalive probes got no answer */
  bool answers_unknown;           /* RST seq = ack of y's segment, no ACK */
  bool peer_data_reached;         /* y's payload was acked by x's kernel */
  bool peer_data_unanswered;      /* y's last payload came after x's last */
  bool window_shrunk;             /* x's receive window had not reopened */
  bool peer_still_sending;        /* y's payload continued past the RST */
  bool own_fatal_alert;           /* x rejected y's handshake flight */
  bool close_notify_ignored;      /* x kept sending after y's close_notify */
  bool hello_abandoned;           /* client left the handshake, no alert */
  bool fin_acked_then_rst;        /* x's FIN acked by y, then x's RST */
  bool answers_after_own_fin;     /* RST w/o ACK to y's segment after x's FIN */
  double idle_before;             /* s between y's last payload and the RST */
  bool peer_close_notify;         /* y's close_notify reached x */
};

static void rst_facts(const struct tf_conn *c, int d, struct rst_facts *f) {
  const struct tf_side *x = &c->s[d], *y = &c->s[!d];
  memset(f, 0, sizeof *f);
  f->d = d;
  f->x = x;
  f->y = y;
  f->rst = &x->rst_brief;
  f->seg = &y->last;
  f->with_ack = f->rst->flags & TF_TH_ACK;
  f->answers_syn = d == 1 && c->s[0].syn && !c->synack_seen && !x->has_data;
  f->answers_hello = d == 1 && c->synack_seen && !x->has_data && y->has_data &&
                     y->first_data_pkt == y->ld_pkt && !x->fin &&
                     c->tls.client_hello;
  f->own_fin = x->fin && x->fin_pkt < f->rst->pkt;
  bool rst_acks_peer =
      f->with_ack && y->has_data && SEQ_GEQ(f->rst->ack, y->ld_end);
  f->data_after_own_fin = f->own_fin && y->has_data && y->ld_pkt > x->fin_pkt &&
                          (!x->ack_known || SEQ_LT(x->ack, y->ld_end)) &&
                          !rst_acks_peer;
  f->own_data_timed_out = unacked_retransmitted(c, d);
  f->keepalive_unanswered = x->ka_probes > 0;
  f->answers_unknown = answers_segment(f->rst, f->seg) && !x->fin;
  /* RFC 9293 §3.10.4: close() with data not yet read resets.  The data
   * reached x's kernel when x acknowledged some of it, in the RST or in an
   * ACK before it (a download may still be in flight past the RST). */
  f->peer_still_sending = y->has_data && y->ld_pkt > f->rst->pkt;
  bool acked_some =
      y->isn_known && ((f->with_ack && SEQ_GT(f->rst->ack, y->isn + 1)) ||
                       (x->ack_known && SEQ_GT(x->ack, y->isn + 1)));
  f->peer_data_reached = y->has_data && (rst_acks_peer || acked_some);
  f->peer_data_unanswered =
      f->peer_data_reached && (!x->has_data || y->ld_pkt > x->ld_pkt);
  /* Linux advertises the free space of the receive buffer: a window below
   * the largest x advertised means bytes sat in it, unread, when x last
   * spoke (windows compare raw: the scale is fixed after the SYN). */
  f->window_shrunk = y->has_data && x->max_win && x->win < x->max_win;
  /* Linux sends FIN at close() only when nothing is unread: an RST that
   * follows the peer's ACK of that FIN is the orphan giving up
   * (TCP_LINGER2 < 0, too many orphans), not unread data. */
  f->fin_acked_then_rst = f->own_fin && f->seg->pkt > x->fin_pkt &&
                          f->seg->pkt < f->rst->pkt && !f->seg->len &&
                          (f->seg->flags & TF_TH_ACK) &&
                          SEQ_GEQ(f->seg->ack, x->fin_seq + 1);
  f->answers_after_own_fin =
      f->own_fin && !f->with_ack && f->seg->pkt > x->fin_pkt &&
      f->seg->pkt < f->rst->pkt && f->rst->seq == f->seg->ack;
  f->idle_before = y->has_data ? f->rst->ts - y->ld_ts : 0;
  /* The client sent only its ClientHello, the server its flight, and the
   * client reset without an alert: a TLS stack that rejects a flight says
   * why (RFC 8446 §6.2); scanners and probes just leave. */
  f->hello_abandoned = d == 0 && c->tls.client_hello && !c->tls.hs_complete &&
                       x->has_data && x->first_data_pkt == x->ld_pkt &&
                       y->has_data && !x->fin;
  for (int i = 0; i < c->tls.nalerts; i++) {
    const struct tf_tls_alert *a = &c->tls.alerts[i];
    if (a->dir == d && a->pkt < f->rst->pkt && !c->tls.hs_complete &&
        (a->level == 2 || a->encrypted))
      f->own_fatal_alert = y->has_data;
  }
  f->peer_close_notify = c->tls.state == TF_TLS_YES &&
                         c->tls.d[!d].cn != TF_CN_NONE &&
                         c->tls.d[!d].cn_pkt < f->rst->pkt;
  /* A TLS stack that reads the peer's close_notify stops, or answers it;
   * one that goes on writing never read it (nginx streaming a download
   * the client abandoned).  The peer's FIN after it confirms that the
   * close_notify was one, not a small record of its size. */
  f->close_notify_ignored = f->peer_close_notify && y->fin &&
                            y->fin_pkt < f->rst->pkt && x->has_data &&
                            x->ld_pkt > c->tls.d[!d].cn_pkt &&
                            c->tls.d[d].cn == TF_CN_NONE;
}

static void classify_rst_wire(const struct tf_conn *c, struct tf_result *r) {
  /* the first RST of the connection */
  int d = c->s[0].rst && (!c->s[1].rst || c->s[0].rst_pkt < c->s[1].rst_pkt)
              ? 0
              : 1;
  struct rst_facts f;
  rst_facts(c, d, &f);
  const struct tf_side *x = f.x, *y = f.y;
  const struct tf_pkt_brief *rst = f.rst;
  char *det = r->rst_detail;
  size_t dn = sizeof r->rst_detail;
  r->has_rst = true;
  r->rst_by = d;

  /* port_closed: the RST answers a SYN, no SYN-ACK ever came (certain:
   * RFC 9293 §3.10.7.1, "If the connection does not exist"). */
  if (f.answers_syn) {
    set_cause(r, TLSFIN_CAUSE_PORT_CLOSED, TLSFIN_CONFIDENCE_CERTAIN);
    snprintf(det, dn, "RST%s %.1f ms after the client's SYN, no SYN-ACK",
             f.with_ack ? "+ACK" : "", ms_between(c->first_ts, rst->ts));
    return;
  }
  /* injected: the RST does not look like the endpoint's other packets.
   * TTL/hop limit and DF are set per host by the stack; IP ID is no
   * evidence (Linux sends RSTs of unknown sockets with IP ID 0). */
  if (x->ttl_set && !x->ttl_varies && x->rst_ttl != x->ttl) {
    set_cause(r, TLSFIN_CAUSE_INJECTED, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn, "RST TTL %u differs from the %s's other packets (TTL %u)",
             x->rst_ttl, side_name(d), x->ttl);
    return;
  }
  if (c->af == 4 && x->df_set && !x->df_varies && x->rst_df != x->df) {
    set_cause(r, TLSFIN_CAUSE_INJECTED, TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn, "RST DF bit %d differs from the %s's other packets",
             x->rst_df, side_name(d));
    return;
  }
  if (x->hi_known && y->ack_known &&
      (SEQ_DIFF(rst->seq, y->ack) > (int32_t)(1u << 24) ||
       SEQ_DIFF(rst->seq, y->ack) < -(int32_t)(1u << 24))) {
    set_cause(r, TLSFIN_CAUSE_INJECTED, TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST sequence %u is far outside the window (peer expects %u)",
             rst->seq, y->ack);
    return;
  }
  /* handshake_rejected: the server resets right after the client's first
   * payload, a TLS ClientHello, having sent none itself. */
  if (f.answers_hello) {
    set_cause(r, TLSFIN_CAUSE_HANDSHAKE_REJECTED, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "server RST %.1f ms after the client's first payload (%s), "
             "before sending any data",
             ms_between(y->ld_ts, rst->ts), "a TLS ClientHello");
    return;
  }
  /* data_after_close: x had closed (FIN), y's payload came after it and x
   * never acknowledged it: the socket was gone (RFC 9293 §3.10.7.4). */
  if (f.data_after_own_fin) {
    /* Without ACK it is the orphan's answer; with one it may also be a
     * close() after shutdown(SHUT_WR) with data unread (the kernel's
     * TCP_ABORT_ON_CLOSE looks the same): then only possible. */
    set_cause(r, TLSFIN_CAUSE_DATA_AFTER_CLOSE,
              f.with_ack ? TLSFIN_CONFIDENCE_POSSIBLE
                         : TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "%s sent FIN, then the %s's %u-byte segment arrived %.1f ms "
             "later and was answered by RST%s",
             side_name(d), side_name(!d), y->ld_end - y->ld_seq,
             ms_between(x->fin_ts, y->ld_ts),
             f.with_ack ? "+ACK" : " without ACK");
    return;
  }
  /* An orphaned socket that had closed (FIN) answers the peer's next
   * segment, even a bare ACK, with an RST without ACK (Linux
   * TCP_ABORT_ON_DATA under TCP_LINGER2 < 0; a timewait socket). */
  if (f.answers_after_own_fin) {
    set_cause(r, TLSFIN_CAUSE_DATA_AFTER_CLOSE,
              f.seg->len ? TLSFIN_CONFIDENCE_PROBABLE
                         : TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "%s sent FIN; the %s's next segment (%u bytes) %.1f ms later was "
             "answered by RST without ACK: the %s's socket was already gone",
             side_name(d), side_name(!d), f.seg->len,
             ms_between(x->fin_ts, f.seg->ts), side_name(d));
    return;
  }
  /* retransmission_timeout: x's own data, or its keepalive probes (RFC
   * 9293 §3.8.4), went unanswered before it gave up. */
  if (f.own_data_timed_out) {
    set_cause(r, TLSFIN_CAUSE_RETRANSMISSION_TIMEOUT,
              TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST %.1f ms after %u retransmissions of seq %u never "
             "acknowledged",
             ms_between(x->ld_ts, rst->ts), x->ld_rtx, x->ld_seq);
    return;
  }
  if (f.keepalive_unanswered && f.with_ack) {
    set_cause(r, TLSFIN_CAUSE_RETRANSMISSION_TIMEOUT,
              TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST after %u keepalive probe(s) the %s never answered (silent "
             "%.1f s)",
             x->ka_probes, side_name(!d), rst->ts - f.seg->ts);
    return;
  }
  /* unknown_connection: an RST without ACK whose sequence number is the
   * acknowledgment of the segment it answers (RFC 9293 §3.10.7.1). */
  if (f.answers_unknown) {
    set_cause(r, TLSFIN_CAUSE_UNKNOWN_CONNECTION, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST without ACK, seq %u = ack of the %s's segment %.1f ms "
             "earlier%s",
             rst->seq, side_name(!d), ms_between(f.seg->ts, rst->ts),
             x->packets > 1 ? " (after the connection had been idle)" : "");
    if (x->packets > 1 && x->last.pkt && x->last.pkt != rst->pkt) {
      size_t l = strlen(det);
      snprintf(det + l, dn - l, "; %s silent %.1f s before", side_name(d),
               f.seg->ts - x->last.ts);
    }
    return;
  }
  if (!f.with_ack) {
    set_cause(r, TLSFIN_CAUSE_UNKNOWN, TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST seq %u without ACK from the %s fits no known pattern",
             rst->seq, side_name(d));
    return;
  }
  /* From here on x reset its own connection with RST+ACK, unprovoked: a
   * close() with data unread (RFC 9293 §3.10.4; Linux
   * TCP_ABORT_ON_CLOSE) or an abortive close (SO_LINGER {1,0}).  What
   * tells them apart is whether y's data sat unread at x. */
  if (f.fin_acked_then_rst && !f.window_shrunk) {
    set_cause(r, TLSFIN_CAUSE_ABORT, TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST+ACK %.1f ms after the %s acked the %s's FIN: a closed "
             "socket giving up (TCP_LINGER2 < 0), or close() after "
             "shutdown(SHUT_WR) with data unread",
             ms_between(f.seg->ts, rst->ts), side_name(!d), side_name(d));
    return;
  }
  if (f.window_shrunk && f.peer_data_reached) {
    set_cause(r, TLSFIN_CAUSE_UNREAD_DATA, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST+ACK from the %s, whose receive window had not reopened "
             "(%u, was %u): the %s's data sat unread when it closed",
             side_name(d), x->win, x->max_win, side_name(!d));
    return;
  }
  if (f.close_notify_ignored && f.peer_data_reached) {
    set_cause(r, TLSFIN_CAUSE_UNREAD_DATA, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST+ACK from the %s, which kept sending after the %s's "
             "close_notify reached it: it never read that close_notify",
             side_name(d), side_name(!d));
    return;
  }
  if (f.own_fatal_alert) {
    set_cause(r, TLSFIN_CAUSE_UNREAD_DATA, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST+ACK after the %s's fatal alert in the handshake: it stopped "
             "reading the %s's flight, and closed with the rest unread",
             side_name(d), side_name(!d));
    return;
  }
  if (f.hello_abandoned && !f.own_fatal_alert) {
    set_cause(r, TLSFIN_CAUSE_ABORT, TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "client RST+ACK after the server's handshake flight, having sent "
             "only its ClientHello and no alert: a scanner or probe leaving "
             "(SO_LINGER {1,0}), or a client killed with the flight unread");
    return;
  }
  /* A connection idle since the peer's last payload, reset now: a
   * keep-alive connection dropped with an abortive close (seed 000's JDK,
   * load balancers' nolinger) far more often than a reply left unread for
   * seconds. */
  if (f.peer_data_unanswered && !f.peer_still_sending &&
      f.idle_before >= IDLE_ABORT_SECONDS) {
    set_cause(r, TLSFIN_CAUSE_ABORT, TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST+ACK %.1f s after the %s's last payload, with the %s's "
             "window open: an idle connection closed abortively (SO_LINGER "
             "{1,0}), or a close with that payload unread",
             f.idle_before, side_name(!d), side_name(d));
    return;
  }
  if (f.peer_data_unanswered) {
    /* The peer spoke last and x closed without answering: most often x
     * never read it (a request not served, a download abandoned, a
     * close_notify not read).  A reader that took it all and then reset on
     * purpose (SO_LINGER {1,0}, ss -K) looks the same on the wire: only a
     * download still flowing makes it probable. */
    set_cause(r, TLSFIN_CAUSE_UNREAD_DATA,
              f.peer_still_sending ? TLSFIN_CONFIDENCE_PROBABLE
                                   : TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST+ACK acknowledging the %s's last %u-byte payload (%s) that "
             "the %s never answered%s",
             side_name(!d), y->ld_end - y->ld_seq,
             f.peer_close_notify && c->tls.d[!d].cn_pkt >= y->ld_pkt
                 ? "its close_notify"
                 : "data",
             side_name(d),
             f.peer_still_sending ? ", while it was still sending"
             : f.own_fin          ? ", after its own FIN"
                                  : "");
    return;
  }
  /* abort: x had answered everything it received (or received nothing):
   * nothing was unread, nothing provoked the RST. */
  set_cause(r, TLSFIN_CAUSE_ABORT, TLSFIN_CONFIDENCE_PROBABLE);
  snprintf(det, dn,
           "RST+ACK from the %s%s, nothing unread and not provoked by a "
           "segment: an abortive close (SO_LINGER {1,0}), a killed socket (ss "
           "-K) or an abandoned orphan",
           side_name(d), f.own_fin ? " after its own FIN" : "");
}

/* What the RST answered, for the kernel reasons whose cause depends on it
 * (tlsfin_cause_from_kernel). */
static enum tlsfin_rst_answers rst_answers(const struct tf_conn *c, int d) {
  const struct tf_side *x = &c->s[d], *y = &c->s[!d];
  if (d == 1 && c->s[0].syn && !c->synack_seen && !x->has_data)
    return TLSFIN_RST_ANSWERS_SYN;
  if (d == 1 && c->tls.client_hello && !c->tls.hs_complete && !x->has_data &&
      y->has_data && y->first_data_pkt == y->ld_pkt)
    return TLSFIN_RST_ANSWERS_HELLO;
  return TLSFIN_RST_ANSWERS_OTHER;
}

/* The cause of the first RST: from the sender's kernel when watch has its
 * reason (certain: the kernel says why it reset), else from the wire.  The
 * wire's reading stays in the detail so the two can be compared. */
static void classify_rst(const struct tf_conn *c, struct tf_result *r) {
  classify_rst_wire(c, r);
  const char *kr = c->kern[r->rst_by].rst_reason;
  if (!kr)
    return;
  tlsfin_cause wire = r->cause;
  r->kernel_reason = kr;
  r->cause = tlsfin_cause_from_kernel(kr, rst_answers(c, r->rst_by));
  r->confidence = r->cause == TLSFIN_CAUSE_UNKNOWN ? TLSFIN_CONFIDENCE_POSSIBLE
                                                   : TLSFIN_CONFIDENCE_CERTAIN;
  /* "kernel of the server: TCP_ABORT_ON_CLOSE; wire: <wire detail>", or
   * "...; the wire alone suggested abort" when they disagree.  A long wire
   * detail is cut: the kernel's word comes first. */
  char out[sizeof r->rst_detail];
  int n = snprintf(out, sizeof out, "kernel of the %s: %s; %s%s",
                   side_name(r->rst_by), kr,
                   wire == r->cause ? "wire: " : "the wire alone suggested ",
                   wire == r->cause ? "" : tlsfin_cause_name(wire));
  size_t used = n < 0 ? 0 : (size_t)n < sizeof out ? (size_t)n : sizeof out - 1;
  if (wire == r->cause) {
    size_t w = strlen(r->rst_detail);
    if (w > sizeof out - 1 - used)
      w = sizeof out - 1 - used;
    memcpy(out + used, r->rst_detail, w);
    used += w;
  }
  out[used] = 0;
  memcpy(r->rst_detail, out, used + 1);
}

/* Packet number of the first of a side's end events. */
static uint64_t first_event(const struct tf_conn *c, int d, bool with_cn) {
  const struct tf_side *s = &c->s[d];
  uint64_t e = UINT64_MAX;
  if (s->fin && s->fin_pkt < e)
    e = s->fin_pkt;
  if (s->rst && s->rst_pkt < e)
    e = s->rst_pkt;
  if (with_cn && c->tls.state == TF_TLS_YES && c->tls.d[d].cn != TF_CN_NONE &&
      c->tls.d[d].cn_pkt < e)
    e = c->tls.d[d].cn_pkt;
  return e;
}

static bool has_handshake_alert(const struct tf_conn *c, int *by,
                                const struct tf_tls_alert **which) {
  for (int i = 0; i < c->tls.nalerts; i++) {
    const struct tf_tls_alert *a = &c->tls.alerts[i];
    if (c->tls.hs_complete && a->pkt > c->tls.hs_complete_pkt)
      continue;
    /* Before the handshake completes any alert ends it: a fatal one, or an
     * encrypted one (TLS 1.3 handshake alerts are encrypted). */
    if (a->level == 2 || a->encrypted ||
        (a->desc >= 0 && a->desc != 0 && a->desc != 90)) {
      *by = a->dir;
      *which = a;
      return true;
    }
  }
  return false;
}

static const char *ver(uint16_t v) {
  const char *n = tlsfin_version_name(v);
  return n ? n : "an unknown version";
}

static void verdict_rules(const struct tf_conn *c, struct tf_result *r) {
  const struct tf_side *cl = &c->s[0], *sv = &c->s[1];
  char *ex = r->explain;
  size_t en = sizeof r->explain;
  memset(r, 0, sizeof *r);
  r->first_close = -1;
  r->rst_by = -1;
  r->first_cn = -1;
  r->is_tls = c->tls.state == TF_TLS_YES;

  bool any_rst = cl->rst || sv->rst;
  bool any_fin = cl->fin || sv->fin;
  uint64_t e0 = first_event(c, 0, false), e1 = first_event(c, 1, false);
  if (e0 != UINT64_MAX || e1 != UINT64_MAX)
    r->first_close = e0 <= e1 ? 0 : 1;
  if (any_rst)
    classify_rst(c, r);

  /* TLS facts */
  int closing = -1; /* side that started the end: close_notify, FIN or RST */
  bool cn[2] = {false, false};
  if (r->is_tls) {
    for (int d = 0; d < 2; d++)
      cn[d] = c->tls.d[d].cn != TF_CN_NONE;
    if (cn[0] || cn[1]) {
      if (cn[0] && (!cn[1] || c->tls.d[0].cn_pkt <= c->tls.d[1].cn_pkt))
        r->first_cn = 0;
      else
        r->first_cn = 1;
    }
    uint64_t c0 = first_event(c, 0, true), c1 = first_event(c, 1, true);
    if (c0 != UINT64_MAX || c1 != UINT64_MAX)
      closing = c0 <= c1 ? 0 : 1;
  }
  int alert_by = -1;
  const struct tf_tls_alert *alert = NULL;
  bool hs_alert = r->is_tls && has_handshake_alert(c, &alert_by, &alert);
  /* A direction whose bytes the capture lost before any close_notify
   * (holes, snaplen cuts) cannot show how TLS ended there: no TLS verdict
   * is claimed on evidence the capture does not hold; the TCP verdict
   * stands and the explanation says what is missing. */
  bool blind[2] = {false, false};
  for (int d = 0; d < 2 && r->is_tls; d++)
    blind[d] = c->tls.d[d].lost_gap && !cn[d];
  r->tls_evidence_missing =
      r->is_tls &&
      (c->tls.hs_complete ? (closing >= 0 && blind[closing]) ||
                                ((blind[0] || blind[1]) && !(cn[0] && cn[1]))
                          : !hs_alert && (blind[0] || blind[1]));
  if (r->is_tls) {
    r->handshake = c->tls.hs_complete        ? "complete"
                   : hs_alert                ? "alert"
                   : r->tls_evidence_missing ? "incomplete"
                   : any_rst                 ? "reset"
                   : any_fin                 ? "closed"
                                             : "incomplete";
  }
  /* the TLS rules below apply only where the TLS evidence is there */
  const bool tls = r->is_tls && !r->tls_evidence_missing;

  /* Rules in TAXONOMY order; the first that matches wins. */
  if (c->s[0].syn && !c->synack_seen && !c->server_any) {
    r->verdict = TLSFIN_VERDICT_NO_ANSWER;
    snprintf(ex, en,
             "The client sent %llu SYN(s) and nothing came back: the server "
             "is down, filtered by a firewall, or the path drops packets.",
             (unsigned long long)cl->packets);
    return;
  }
  if (c->s[0].syn && !c->synack_seen && sv->rst && !sv->has_data) {
    r->verdict = TLSFIN_VERDICT_REFUSED;
    snprintf(ex, en,
             "The server answered the SYN with RST: nothing listens on port "
             "%u (or a firewall rejects it).",
             sv->port);
    return;
  }
  if (!any_fin && !any_rst) {
    for (int d = 0; d < 2; d++) {
      if (unacked_retransmitted(c, d)) {
        r->verdict = TLSFIN_VERDICT_STALLED;
        snprintf(ex, en,
                 "The %s's last data was retransmitted %u times and never "
                 "acknowledged: the %s is dead or the path is broken (Linux "
                 "gives up silently after tcp_retries2).",
                 side_name(d), c->s[d].ld_rtx, side_name(!d));
        return;
      }
    }
    r->verdict = TLSFIN_VERDICT_OPEN;
    snprintf(ex, en,
             "Still open at the end of the capture: neither side sent FIN "
             "or RST.");
    return;
  }
  if (tls && !c->tls.hs_complete) {
    if (hs_alert) {
      r->verdict = TLSFIN_VERDICT_TLS_HANDSHAKE_ALERT;
      const char *name =
          alert->desc >= 0 ? tlsfin_alert_name(alert->desc) : NULL;
      if (name && alert->desc == 70)
        snprintf(ex, en,
                 "The %s refused the TLS handshake with a protocol_version "
                 "alert: the client offered at most %s, which the server "
                 "does not accept; enable a common version on both sides.",
                 side_name(alert_by), ver(c->tls.client_max_version));
      else if (name)
        snprintf(ex, en,
                 "The %s ended the TLS handshake with a fatal %s alert.",
                 side_name(alert_by), name);
      else
        snprintf(ex, en,
                 "The %s ended the TLS handshake with an encrypted alert "
                 "(typically a rejected certificate); decrypt with --keylog "
                 "to see which.",
                 side_name(alert_by));
      return;
    }
    if (any_rst) {
      r->verdict = TLSFIN_VERDICT_TLS_HANDSHAKE_RESET;
      snprintf(ex, en,
               "The %s reset the connection during the TLS handshake "
               "(client offered up to %s): a version or cipher mismatch is "
               "likely; run `tlsfin probe` against the server to see which "
               "versions it accepts.",
               side_name(r->rst_by), ver(c->tls.client_max_version));
      return;
    }
    r->verdict = TLSFIN_VERDICT_TLS_HANDSHAKE_CLOSED;
    snprintf(ex, en,
             "The %s closed the connection (FIN) during the TLS handshake "
             "without an alert: a version/cipher mismatch on a server that "
             "does not send alerts, or the port does not speak TLS.",
             side_name(r->first_close));
    return;
  }
  if (tls && closing >= 0) {
    const struct tf_side *cs = &c->s[closing];
    bool fin_first =
        cs->fin && (!cn[closing] || cs->fin_pkt < c->tls.d[closing].cn_pkt);
    bool rst_first = cs->rst && (!cs->fin || cs->rst_pkt < cs->fin_pkt) &&
                     (!cn[closing] || cs->rst_pkt < c->tls.d[closing].cn_pkt);
    if (fin_first && !rst_first) {
      r->verdict = TLSFIN_VERDICT_TLS_TRUNCATED;
      r->truncated = true;
      const struct tf_http *h = c->tls.crypto ? c->tls.crypto->http[1] : NULL;
      /* RFC 9112 §9.8: with the keys, the HTTP framing says whether the
       * truncation cost data. */
      if (h && h->end == TF_HTTP_BOUNDARY)
        snprintf(ex, en,
                 "The %s closed (FIN) without close_notify, but the last "
                 "HTTP response was complete by its framing: a harmless "
                 "truncation (RFC 9112 §9.8).",
                 side_name(closing));
      else if (h &&
               (h->end == TF_HTTP_MID_BODY || h->end == TF_HTTP_MID_HEADERS))
        snprintf(ex, en,
                 "The %s closed (FIN) without close_notify in the middle of "
                 "an HTTP response (%llu byte(s) of the body never came): "
                 "data was lost.",
                 side_name(closing), (unsigned long long)h->lost_bytes);
      else
        snprintf(ex, en,
                 "The %s closed the TCP connection (FIN) without sending "
                 "close_notify first: a truncation; the peer cannot tell a "
                 "complete response from a cut one (OpenSSL 3 reports "
                 "'unexpected eof while reading').",
                 side_name(closing));
      return;
    }
    if (cn[closing] && any_rst) {
      r->verdict = TLSFIN_VERDICT_TLS_CLOSE_THEN_RESET;
      snprintf(ex, en,
               "The %s sent close_notify, then the %s reset the connection "
               "(%s): typically a peer that closed its socket without "
               "reading the other's close_notify; harmless for data already "
               "delivered.",
               side_name(closing), side_name(r->rst_by),
               tlsfin_cause_name(r->cause));
      return;
    }
  }
  if (any_rst) {
    r->verdict = TLSFIN_VERDICT_RESET;
    snprintf(ex, en, "The %s reset the connection: %s (%s).",
             side_name(r->rst_by), tlsfin_cause_help(r->cause), r->rst_detail);
    return;
  }
  if (!(cl->fin && sv->fin)) {
    int d = cl->fin ? 0 : 1;
    r->verdict = TLSFIN_VERDICT_HALF_CLOSED;
    snprintf(ex, en,
             "The %s sent FIN%s; the %s had not closed by the end of the "
             "capture.",
             side_name(d), tls && cn[d] ? " after close_notify" : "",
             side_name(!d));
    return;
  }
  if (tls) {
    if (cn[0] && cn[1]) {
      r->verdict = TLSFIN_VERDICT_TLS_CLEAN;
      snprintf(ex, en,
               "Clean TLS close: both sides sent close_notify and FIN (the "
               "%s first).",
               side_name(closing));
      return;
    }
    r->verdict = TLSFIN_VERDICT_TLS_ONE_SIDED;
    snprintf(ex, en,
             "The %s sent close_notify; the %s closed with a bare FIN "
             "without answering it (allowed by RFC 8446 §6.1, but it cannot "
             "detect truncation of its own data).",
             side_name(closing), side_name(!closing));
    return;
  }
  r->verdict = TLSFIN_VERDICT_TCP_CLEAN;
  snprintf(ex, en, "Clean TCP close: both sides sent FIN (the %s first).",
           side_name(r->first_close));
}

/* Bytes the capture lost make an RST's cause less certain and the
 * explanation says so (issue: say when the capture itself is incomplete
 * instead of guessing). */
void tf_conn_verdict(const struct tf_conn *c, struct tf_result *r) {
  verdict_rules(c, r);
  uint64_t miss = c->s[0].missing + c->s[1].missing;
  if (miss && r->has_rst && r->confidence == TLSFIN_CONFIDENCE_PROBABLE)
    r->confidence = TLSFIN_CONFIDENCE_POSSIBLE;
  size_t l = strlen(r->explain);
  char *ex = r->explain + l;
  size_t en = sizeof r->explain - l;
  int n = 0;
  if (r->tls_evidence_missing)
    n = snprintf(ex, en,
                 " The capture does not hold the TLS records that would show "
                 "how TLS ended (%s), so no TLS verdict is claimed.",
                 miss ? "lost segments" : "packets cut by the snaplen");
  else if (miss)
    n = snprintf(ex, en,
                 " The capture lost %llu byte(s) of this connection: the "
                 "verdict rests on what it shows.",
                 (unsigned long long)miss);
  (void)n;
}

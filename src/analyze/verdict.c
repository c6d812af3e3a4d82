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

static void classify_rst_wire(const struct tf_conn *c, struct tf_result *r) {
  /* the first RST of the connection */
  int d = c->s[0].rst && (!c->s[1].rst || c->s[0].rst_pkt < c->s[1].rst_pkt)
              ? 0
              : 1;
  const struct tf_side *x = &c->s[d], *y = &c->s[!d];
  const struct tf_pkt_brief *rst = &x->rst_brief;
  const struct tf_pkt_brief *seg = &y->last; /* what it may answer */
  char *det = r->rst_detail;
  size_t dn = sizeof r->rst_detail;
  r->has_rst = true;
  r->rst_by = d;

  /* port_closed: the RST answers a SYN, no SYN-ACK ever came (certain). */
  if (d == 1 && c->s[0].syn && !c->synack_seen && !c->s[1].has_data) {
    set_cause(r, TLSFIN_CAUSE_PORT_CLOSED, TLSFIN_CONFIDENCE_CERTAIN);
    snprintf(det, dn, "RST%s %.1f ms after the client's SYN, no SYN-ACK",
             (rst->flags & TF_TH_ACK) ? "+ACK" : "",
             ms_between(c->first_ts, rst->ts));
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
   * payload, a TLS ClientHello, having sent none itself.  Without a
   * ClientHello the same shape is a server closing with unread data. */
  if (d == 1 && c->synack_seen && !x->has_data && y->has_data &&
      y->first_data_pkt == y->ld_pkt && !x->fin && c->tls.client_hello) {
    set_cause(r, TLSFIN_CAUSE_HANDSHAKE_REJECTED, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "server RST %.1f ms after the client's first payload (%s), "
             "before sending any data",
             ms_between(y->ld_ts, rst->ts), "a TLS ClientHello");
    return;
  }
  /* data_after_close: the RST sender had sent FIN, the peer's payload came
   * after it and was never acknowledged. */
  bool rst_acks_peer =
      (rst->flags & TF_TH_ACK) && y->has_data && SEQ_GEQ(rst->ack, y->ld_end);
  if (x->fin && y->has_data && y->ld_pkt > x->fin_pkt &&
      (!x->ack_known || SEQ_LT(x->ack, y->ld_end)) && !rst_acks_peer) {
    set_cause(r, TLSFIN_CAUSE_DATA_AFTER_CLOSE, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "%s sent FIN, then the %s's %u-byte segment arrived %.1f ms "
             "later and was answered by RST%s",
             side_name(d), side_name(!d), y->ld_end - y->ld_seq,
             ms_between(x->fin_ts, y->ld_ts),
             (rst->flags & TF_TH_ACK) ? "+ACK" : " without ACK");
    return;
  }
  /* retransmission_timeout: the sender's own data went unacknowledged
   * through repeated retransmissions before it gave up. */
  if (unacked_retransmitted(c, d)) {
    set_cause(r, TLSFIN_CAUSE_RETRANSMISSION_TIMEOUT,
              TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST %.1f ms after %u retransmissions of seq %u never "
             "acknowledged",
             ms_between(x->ld_ts, rst->ts), x->ld_rtx, x->ld_seq);
    return;
  }
  /* unknown_connection: an RST without ACK whose sequence number is the
   * acknowledgment of the segment it answers. */
  if (answers_segment(rst, seg) && !x->fin) {
    set_cause(r, TLSFIN_CAUSE_UNKNOWN_CONNECTION, TLSFIN_CONFIDENCE_PROBABLE);
    snprintf(det, dn,
             "RST without ACK, seq %u = ack of the %s's segment %.1f ms "
             "earlier%s",
             rst->seq, side_name(!d), ms_between(seg->ts, rst->ts),
             x->packets > 1 ? " (after the connection had been idle)" : "");
    if (x->packets > 1 && x->last.pkt && x->last.pkt != rst->pkt) {
      size_t l = strlen(det);
      snprintf(det + l, dn - l, "; %s silent %.1f s before", side_name(d),
               seg->ts - x->last.ts);
    }
    return;
  }
  /* unread_data: the peer's payload was acknowledged (read into the
   * kernel) but the sender never answered it and closed: Linux then sends
   * RST+ACK instead of FIN (RFC 9293 §3.10.4 "reset on close"). */
  bool unanswered = y->has_data && (rst->flags & TF_TH_ACK) &&
                    (!x->has_data || y->ld_pkt > x->ld_pkt) &&
                    SEQ_GEQ(rst->ack, y->ld_end);
  bool close_notify_unread =
      c->tls.state == TF_TLS_YES && c->tls.d[!d].cn != TF_CN_NONE;
  /* Which unanswered payload points to unread data: a request the server
   * never answered, a close_notify nobody read, or a download still
   * flowing when the client reset.  A client that resets after the
   * server's response has almost always read it: that is an abort. */
  bool still_flowing = y->has_data && y->ld_pkt > rst->pkt;
  /* A side that sent close_notify meant a graceful close: its close()
   * produced an RST instead of a FIN only because data sat unread. */
  bool own_close_notify =
      c->tls.state == TF_TLS_YES && c->tls.d[d].cn != TF_CN_NONE;
  /* With its own close_notify as its last payload, what counts is whether
   * the peer's data came after the sender's last application data. */
  if (own_close_notify && !unanswered && y->has_data &&
      (rst->flags & TF_TH_ACK) && SEQ_GEQ(rst->ack, y->ld_end) &&
      y->ld_pkt > c->tls.d[d].last_app_pkt)
    unanswered = true;
  /* An RST+ACK right after the sender's own FIN with nothing from the peer
   * in between: after shutdown(SHUT_WR) (or a TLS library's bye), close()
   * found data still unread — often the peer's close_notify. */
  bool after_own_fin = x->fin && (rst->flags & TF_TH_ACK) && y->has_data &&
                       y->last.pkt < x->fin_pkt && SEQ_GEQ(rst->ack, y->ld_end);
  if (after_own_fin && !unanswered) {
    set_cause(r, TLSFIN_CAUSE_UNREAD_DATA,
              close_notify_unread ? TLSFIN_CONFIDENCE_PROBABLE
                                  : TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST+ACK %.1f ms after the %s's own FIN, nothing from the %s in "
             "between: close() with received data still unread%s",
             ms_between(x->fin_ts, rst->ts), side_name(d), side_name(!d),
             close_notify_unread ? " (the peer's close_notify)" : "");
    return;
  }
  if (unanswered &&
      (d == 1 || close_notify_unread || still_flowing || own_close_notify)) {
    set_cause(r, TLSFIN_CAUSE_UNREAD_DATA,
              (d == 1 || close_notify_unread || own_close_notify)
                  ? TLSFIN_CONFIDENCE_PROBABLE
                  : TLSFIN_CONFIDENCE_POSSIBLE);
    snprintf(det, dn,
             "RST+ACK acknowledging the %s's last %u-byte payload "
             "(%s) that the %s never answered%s",
             side_name(!d), y->ld_end - y->ld_seq,
             close_notify_unread ? "its close_notify" : "data", side_name(d),
             x->fin             ? ", after its own FIN"
             : own_close_notify ? ", after its own close_notify"
                                : "");
    return;
  }
  /* abort: nothing provoked it and nothing was unread. */
  if (!x->fin && (rst->flags & TF_TH_ACK)) {
    set_cause(r, TLSFIN_CAUSE_ABORT,
              unanswered ? TLSFIN_CONFIDENCE_POSSIBLE
                         : TLSFIN_CONFIDENCE_PROBABLE);
    if (unanswered)
      snprintf(det, dn,
               "client RST+ACK %.1f ms after the server's last %u-byte "
               "payload, with no FIN: an abortive close after reading the "
               "response (SO_LINGER {1,0}), or a close with it unread",
               ms_between(y->ld_ts, rst->ts), y->ld_end - y->ld_seq);
    else
      snprintf(det, dn,
               "RST+ACK with no FIN, not provoked by a segment and no unread "
               "data: an abortive close (SO_LINGER {1,0}) or a killed "
               "process");
    return;
  }
  set_cause(r, TLSFIN_CAUSE_UNKNOWN, TLSFIN_CONFIDENCE_POSSIBLE);
  snprintf(det, dn, "RST%s seq %u ack %u from the %s fits no known pattern",
           (rst->flags & TF_TH_ACK) ? "+ACK" : "", rst->seq, rst->ack,
           side_name(d));
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

void tf_conn_verdict(const struct tf_conn *c, struct tf_result *r) {
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
  if (r->is_tls) {
    r->handshake = c->tls.hs_complete ? "complete"
                   : hs_alert         ? "alert"
                   : any_rst          ? "reset"
                   : any_fin          ? "closed"
                                      : "incomplete";
  }

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
  if (r->is_tls && !c->tls.hs_complete) {
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
  if (r->is_tls && closing >= 0) {
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
             side_name(d), r->is_tls && cn[d] ? " after close_notify" : "",
             side_name(!d));
    return;
  }
  if (r->is_tls) {
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

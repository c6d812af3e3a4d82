/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Zeek conn.log emulation: conn_state and history, letter for letter as Zeek
 * prints them.  The endpoint state machine follows Zeek's TCPSessionAdapter
 * (UpdateInactiveState, UpdateSYN_SentState, UpdateEstablishedState,
 * UpdateClosedState), the history letters its update_history() and
 * TCP_Endpoint::ScaledHistoryEntry(), and conn_state() the function of the
 * same name in base/protocols/conn/main.zeek.  Fed one TCP packet at a time.
 *
 * `payload_caplen` is how much of the payload the capture holds: Zeek's
 * reassembler only takes complete payloads (TCP_Endpoint::DataSent), so a
 * truncated one leaves a content gap when it is acknowledged.
 *
 * `from_first` is true when the packet comes from the host that sent the
 * connection's first packet; this module decides Zeek's originator itself,
 * with the '^' flip, as Zeek does.
 */
#ifndef TLSFIN_ANALYZE_ZEEK_H
#define TLSFIN_ANALYZE_ZEEK_H

#include <stdbool.h>
#include <stdint.h>

#define TF_TH_FIN 0x01
#define TF_TH_SYN 0x02
#define TF_TH_RST 0x04
#define TF_TH_PUSH 0x08
#define TF_TH_ACK 0x10
#define TF_TH_URG 0x20

#define TF_ZEEK_HIST_MAX 48
/* Rows Zeek would log before the current one (timer splits); more are
 * counted in `rows_dropped`, not kept. */
#define TF_ZEEK_MAX_ROWS 3
/* Blocks above a hole kept per endpoint (Zeek keeps any number; past this
 * the highest are merged, which can hide a hole). */
#define TF_ZEEK_BLOCKS 8

/* Zeek's timer defaults (base/init-bare.zeek) that end a connection. */
#define TF_ZEEK_ATTEMPT_DELAY 5.0 /* tcp_attempt_delay */
#define TF_ZEEK_INACTIVITY 300.0  /* tcp_inactivity_timeout */
#define TF_ZEEK_CLOSE_DELAY 5.0   /* tcp_close_delay */
#define TF_ZEEK_RESET_DELAY 5.0   /* tcp_reset_delay */

struct tf_zeek_row {
  double first_ts;
  char state[8];
  char hist[TF_ZEEK_HIST_MAX];
};

struct tf_zeek_ep {
  uint8_t state, prev_state;
  bool seq_init;
  uint32_t start_seq, last_seq;
  uint32_t last_syn, last_fin, last_rst; /* raw seqs of the last such letter */
  uint32_t rxmt_cnt, rxmt_thresh, win0_cnt, win0_thresh, chk_cnt, chk_thresh;
  uint64_t size;    /* payload bytes (conn.log orig_bytes / resp_bytes) */
  uint32_t fin_seq; /* one past the FIN (Zeek's FIN_seq) */
  /* TCP_Reassembler: trim_seq (how far the peer's ACKs have consumed the
   * stream), last_reassem_seq (end of the contiguous bytes delivered) and
   * the blocks received above a hole, sorted, disjoint, not touching. */
  uint32_t trim, reassem;
  struct {
    uint32_t s, e;
  } blk[TF_ZEEK_BLOCKS];
  uint8_t nblk;
  bool skip; /* TCP_Reassembler::skip_deliveries */
  uint32_t gap_cnt, gap_thresh;
  bool fin_cnt, trim_init;
  bool did_close; /* TCPSessionAdapter's endpoint->did_close */
};

/* Embedded by value in each flow: no heap. */
struct tf_zeek {
  char hist[TF_ZEEK_HIST_MAX];
  uint8_t hlen;
  bool started;
  bool orig_is_first; /* Zeek's originator sent the first packet */
  uint32_t hist_seen; /* Connection::hist_seen: orig bits low, resp << 16 */
  struct tf_zeek_ep ep[2]; /* [0] Zeek's originator, [1] responder */
  /* timers of the current Zeek connection (0: not armed) */
  double first_ts, last_ts, attempt_at, delete_at;
  /* rows Zeek logged before the current one, oldest first */
  uint8_t nrows;
  uint16_t rows_dropped;
  struct tf_zeek_row rows[TF_ZEEK_MAX_ROWS];
};

void tf_zeek_init(struct tf_zeek *z);
/* first_port: the port of the host that sent the record's first packet,
 * peer_port: the other one (whichever sent this packet). */
void tf_zeek_packet(struct tf_zeek *z, double ts, bool from_first,
                    uint8_t flags, uint32_t seq, uint32_t ack,
                    uint32_t payload_len, uint32_t payload_caplen, uint16_t win,
                    uint32_t first_port, uint32_t peer_port);
/* A packet whose TCP checksum is wrong (--zeek-checksums): Zeek finds or
 * creates the connection (timers, reuse, the roles of a first packet), then
 * TCPAnalyzer::ValidateChecksum records 'C'/'c' (logarithmic,
 * TCP_Endpoint::ChecksumError) and drops the packet: no state, no last
 * time. */
void tf_zeek_bad_checksum(struct tf_zeek *z, double ts, bool from_first,
                          uint8_t flags, uint32_t seq, uint32_t first_port,
                          uint32_t peer_port);
/* conn_state and history of the FIRST row Zeek logs for the connection */
const char *tf_zeek_history(struct tf_zeek *z);
const char *tf_zeek_conn_state(struct tf_zeek *z);
/* Zeek's rows for the connection (1 unless its timers split it), and row i
 * of them, oldest first (the last one is the current connection). */
unsigned tf_zeek_nrows(struct tf_zeek *z);
void tf_zeek_row(struct tf_zeek *z, unsigned i, const char **state,
                 const char **hist, double *first_ts);
bool tf_zeek_orig_is_first(const struct tf_zeek *z);

#endif

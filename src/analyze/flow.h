/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The TCP connection table of tlsfin analyze: one struct tf_conn per
 * connection (a 4-tuple plus port reuse), per-direction sequence tracking,
 * reassembly of in-order payload for the TLS dissector, and the facts the
 * verdict rules need (TAXONOMY.md).  Direction 0 is the client, 1 the server.
 */
#ifndef TLSFIN_ANALYZE_FLOW_H
#define TLSFIN_ANALYZE_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "tls.h"
#include "tlsfin/taxonomy.h"
#include "zeek.h"

#define TF_TH_ECE 0x40
#define TF_TH_CWR 0x80

/* Out-of-order segment held until the hole before it is filled. */
struct tf_seg {
  struct tf_seg *next;
  uint32_t seq, len; /* the sequence range it covers */
  uint32_t caplen;   /* bytes of it stored in data (captured, and wanted) */
  uint64_t pkt;
  uint8_t data[];
};

/* A snapshot of one packet, enough to explain an RST after the fact. */
struct tf_pkt_brief {
  uint64_t pkt;
  double ts;
  uint32_t seq, ack, len;
  uint8_t flags;
};

struct tf_side {
  uint8_t addr[16];
  uint16_t port;
  bool syn, fin, rst;
  bool isn_known, next_known, hi_known, ack_known;
  uint32_t isn;
  uint32_t next;         /* next in-order stream byte (reassembly point) */
  uint32_t hi;           /* highest sequence end sent (payload only) */
  uint32_t ack;          /* highest acknowledgment sent before any RST */
  uint16_t win, max_win; /* advertised windows after the SYN (raw) */
  uint16_t ka_probes;    /* keepalive probes since the peer's last packet */
  uint32_t fin_seq;
  uint64_t bytes, packets, retrans;
  uint64_t missing; /* stream bytes the capture never held (holes) */
  uint64_t first_pkt, fin_pkt, rst_pkt;
  double fin_ts, rst_ts;
  /* IP-level fingerprint of the endpoint's non-RST packets (injection). */
  uint8_t ttl;
  bool ttl_set, ttl_varies, df, df_set, df_varies;
  /* the first RST this side sent */
  struct tf_pkt_brief rst_brief;
  uint8_t rst_ttl;
  bool rst_df;
  /* the last payload this side sent and how often it was retransmitted */
  bool has_data;
  uint32_t ld_seq, ld_end;
  uint16_t ld_rtx;
  uint64_t ld_pkt, first_data_pkt;
  double ld_ts;
  /* the last packet of this side (any flags), before the current one */
  struct tf_pkt_brief last;
  /* out-of-order payload waiting for a hole to fill */
  struct tf_seg *ooo;
  uint32_t ooo_bytes;
};

struct tf_ladder;

/* What the local kernel said about one side of a connection (tlsfin watch
 * with the eBPF collector): the reason it gave for the RST this side sent
 * (enum sk_rst_reason, by name), and the process that owned the socket. */
struct tf_kside {
  const char *rst_reason; /* NULL: no kernel RST event for this side */
  bool local;             /* the kernel saw this endpoint's socket */
  bool has_proc;
  uint32_t pid;
  char comm[16];
  /* What OpenSSL told the application on this endpoint (watch --libssl):
   * the SSL_shutdown return values in order, and the last SSL_get_error
   * code that ends a connection (SSL_ERROR_SSL, _SYSCALL, _ZERO_RETURN),
   * -1 when none.  docs/watch.md, "app". */
  bool has_app;
  uint8_t nshutdown;
  int8_t shutdown[4];
  int ssl_error;
  int ssl_error_arg; /* what the failed call had returned */
  uint32_t app_pid;
  char app_comm[16];
};

struct tf_conn {
  struct tf_conn *hnext;         /* hash chain */
  struct tf_conn *lprev, *lnext; /* the engine's age list it is on */
  uint64_t id;
  uint32_t hash;
  uint8_t af;
  uint8_t list; /* enum tf_list (engine.c): which age list */
  bool finalized;
  bool expired;  /* finished by a timeout, not by its own end */
  uint8_t start; /* enum tf_start */
  bool client_syn_seen, synack_seen, server_any;
  bool first_is_client; /* the first packet came from the client */
  double first_ts, last_ts;
  /* last_ts when the engine last placed it in its age list: lists are
   * ordered by this, refreshed lazily (engine.c, list_push) */
  double lkey;
  uint64_t last_pkt;
  uint64_t first_no, last_no; /* packet numbers in their capture file */
  /* the engine's number of the packet that opened it (across inputs; with
   * analyze -j, across shards): its place in the output order */
  uint64_t first_gpkt;
  struct tf_side s[2];
  struct tf_zeek zeek;
  struct tf_tls tls;
  uint32_t tls_payload_seen; /* first payload bytes tried for TLS */
  struct tf_ladder *ladder;  /* only for the --conn connection */
  struct tf_kside kern[2];   /* kernel evidence, when watch has it */
  /* the tunnel the first packet came through (decode_tunnel.c), NULL for
   * none: allocated only for tunneled connections */
  struct tf_conn_tunnel *tunnel;
};

/* A connection's tunnel layers, outermost first. */
struct tf_conn_tunnel {
  uint8_t n;
  struct tf_tunnel_layer l[];
};

enum tf_start { TF_START_HANDSHAKE, TF_START_SYN_ONLY, TF_START_MIDSTREAM };

/* The conclusions about one connection, derived by verdict.c. */
struct tf_result {
  tlsfin_verdict verdict;
  int first_close; /* -1 none, 0 client, 1 server */
  bool has_rst;
  int rst_by;
  tlsfin_cause cause;
  tlsfin_confidence confidence;
  const char *kernel_reason; /* the RST sender's kernel reason, or NULL */
  char rst_detail[200];
  bool is_tls;
  const char
      *handshake; /* "complete", "alert", "reset", "closed", "incomplete" */
  int first_cn;   /* -1, 0, 1 */
  bool truncated;
  bool tls_evidence_missing; /* TLS but the capture lost how it ended */
  char explain[320];
};

void tf_conn_verdict(const struct tf_conn *c, struct tf_result *r);

/* Sequence tracking and reassembly of one packet; dir is the sender. */
void tf_flow_packet(struct tf_conn *c, int dir, const struct tf_pkt *p,
                    uint64_t gpkt);
/* End of the connection: flush held segments, end TLS directions. */
void tf_flow_finish(struct tf_conn *c);
void tf_flow_release(struct tf_conn *c);

#endif

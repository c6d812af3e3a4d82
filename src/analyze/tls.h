/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS record-layer dissector for tlsfin analyze (tcpdump style: one file per
 * protocol).  Fed with the in-order bytes of each TCP direction; never sees
 * keys.  It extracts the teardown facts of TAXONOMY.md: versions, SNI,
 * handshake progress, alerts (plaintext or encrypted), application-data bytes,
 * close_notify per direction ("seen" / "probable"), data after close_notify.
 *
 * Parse contract (picohttpparser): the low-level parsers return bytes
 * consumed, -1 for malformed input, -2 for "need more bytes".
 *
 * Direction 0 is client->server, 1 is server->client.
 */
#ifndef TLSFIN_ANALYZE_TLS_H
#define TLSFIN_ANALYZE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tf_keylog;
struct tf_tlsdec;

#define TF_TLS_MAX_ALERTS 8

enum tf_tls_state { TF_TLS_UNKNOWN = 0, TF_TLS_YES, TF_TLS_NO };
enum tf_cn { TF_CN_NONE = 0, TF_CN_PROBABLE, TF_CN_SEEN };

struct tf_tls_alert {
  uint8_t dir;
  int8_t level; /* 1 warning, 2 fatal, -1 unknown (encrypted) */
  int16_t desc; /* RFC description code, -1 unknown (encrypted) */
  bool encrypted;
  bool inferred; /* description guessed from size/position */
  uint64_t pkt;  /* packet number in which the record completed */
};

struct tf_tls_rec {
  uint8_t type; /* content type as seen on the wire */
  uint16_t len; /* record body length */
  uint64_t pkt;
};

struct tf_tls_dir {
  /* --- parser state (private to tls.c) --- */
  uint8_t hdr[5];
  uint8_t hdr_have;
  uint32_t body_left; /* bytes of the current record body still to come */
  uint8_t cur_type;
  uint16_t cur_len;
  uint8_t *hs_buf; /* handshake-message reassembly (plaintext only), lazily
                      allocated, bounded, freed once the handshake is over */
  uint32_t hs_have, hs_cap;
  bool lost;        /* a gap or a malformed record: no longer parsed */
  bool lost_gap;    /* ... because bytes were missing from the capture */
  bool hs_done;     /* our hello is parsed: no more handshake buffering */
  uint8_t alert[2]; /* the first two bytes of the current alert record */
  bool cur_enc;     /* the current record is encrypted (and buffered when
                       keys are loaded) */
  bool buffering;   /* its body is being copied for decryption */
  uint32_t rec_have;

  /* --- facts --- */
  bool ccs;       /* ChangeCipherSpec sent: later records are encrypted */
  bool encrypted; /* records of this direction are now encrypted */
  uint32_t records;
  uint64_t app_data;         /* body bytes of application_data (23) records */
  struct tf_tls_rec last[2]; /* last[0] most recent complete record */
  uint8_t cn;                /* enum tf_cn */
  uint64_t cn_pkt;           /* packet of the (seen or probable) close_notify */
  bool data_after_cn; /* application data sent after the peer's close_notify */
  bool fin_sent;      /* TLS <= 1.2: encrypted Finished after our CCS */
  bool enc_after_sh;  /* TLS 1.3 client: an encrypted record (Finished) */
  uint32_t enc_alerts;
  uint64_t app_pkts[3];  /* packets of the last application_data records */
  uint64_t last_app_pkt; /* last application data that is not an alert */
};

struct tf_tls {
  uint8_t state;               /* enum tf_tls_state */
  uint16_t client_max_version; /* highest version the ClientHello offered */
  uint16_t version; /* negotiated (ServerHello, supported_versions) */
  uint16_t cipher;  /* negotiated cipher suite */
  bool etm;         /* encrypt_then_mac negotiated (RFC 7366: CBC records) */
  bool client_hello, server_hello;
  bool hrr; /* a HelloRetryRequest was seen (TLS 1.3 agreed, group retry) */
  bool hs_complete; /* both Finished sent (heuristic without keys) */
  uint64_t hs_complete_pkt;
  char sni[256]; /* NUL-terminated, "" when absent */
  uint8_t client_random[32], server_random[32]; /* for key log lookups */
  struct tf_tls_alert alerts[TF_TLS_MAX_ALERTS];
  uint8_t nalerts;
  uint32_t alerts_dropped;
  struct tf_tls_dir d[2];
  char why[96]; /* first reason a stream was judged not TLS / malformed */
  const struct tf_keylog *keylog; /* NULL: no keys given */
  struct tf_tlsdec *crypto;       /* set once keys for this connection */
  uint8_t keys_status;            /* enum tf_keys_status (tlsdec.h) */
  size_t keylog_seen; /* keys in the log at the last lookup that failed */
};

void tf_tls_init(struct tf_tls *t);
void tf_tls_free(struct tf_tls *t);

/* In-order bytes of direction dir delivered in packet pkt.  Returns 0, or -1
 * once that direction is malformed or not TLS (later calls are no-ops). The
 * first bytes of the connection decide state (TLS or not). */
int tf_tls_feed(struct tf_tls *t, int dir, const uint8_t *p, size_t n,
                uint64_t pkt);
/* n bytes of direction dir were never captured: stop parsing that direction
 * (records cannot be re-found reliably). */
void tf_tls_gap(struct tf_tls *t, int dir, uint64_t n);
/* The direction ended (FIN, RST or end of capture, say which) at packet pkt:
 * decides a "probable" close_notify from the final record(s): an encrypted
 * alert record, or in TLS 1.3 a final application_data record whose length
 * matches an encrypted alert for the negotiated cipher (19 for AEAD, JDK's
 * padded sizes, user_canceled followed by close_notify). */
void tf_tls_end(struct tf_tls *t, int dir, bool by_fin_or_rst, uint64_t pkt);

/* After both directions ended: cross-direction facts (data after the
 * peer's close_notify). */
void tf_tls_finish(struct tf_tls *t);

/* Low level, exposed for tests and fuzzing. */
int tf_tls_parse_client_hello(const uint8_t *p, size_t n, struct tf_tls *t);
int tf_tls_parse_server_hello(const uint8_t *p, size_t n, struct tf_tls *t);

#endif

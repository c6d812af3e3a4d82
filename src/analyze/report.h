/* SPDX-License-Identifier: BSD-2-Clause */
/* Output of tlsfin analyze: the JSONL contract, the table, the summary and
 * the ladder diagram.  Records are formatted into a growable buffer so they
 * can wait (ordered output) without the connection state. */
#ifndef TLSFIN_ANALYZE_REPORT_H
#define TLSFIN_ANALYZE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "flow.h"

struct tf_buf {
  char *p;
  size_t len, cap;
  bool oom; /* a printf did not fit in memory: the buffer is incomplete */
  /* Where the record's connection id was printed (id_len bytes at id_at,
   * right-aligned in id_width columns): analyze -j renumbers records its
   * shards formatted (par.c). */
  size_t id_at, id_len;
  int id_width;
};
void tf_buf_printf(struct tf_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tf_buf_json_str(struct tf_buf *b, const char *s); /* quoted, escaped */
/* Appends without printf (the hot paths): bytes as they are, and numbers
 * in decimal. */
void tf_buf_put(struct tf_buf *b, const void *s, size_t n);
void tf_buf_u64(struct tf_buf *b, uint64_t v);
void tf_buf_i64(struct tf_buf *b, int64_t v);
void tf_buf_free(struct tf_buf *b);

void tf_report_jsonl(struct tf_buf *b, const struct tf_conn *c,
                     const struct tf_result *r);
/* Zeek conn.log (TSV with Zeek's header lines; open_ts names the log's
 * #open time) and CSV (RFC 4180, a header row). */
void tf_report_zeek_header(FILE *out, double open_ts);
void tf_report_zeek_footer(FILE *out, double close_ts);
void tf_report_zeek_row(struct tf_buf *b, const struct tf_conn *c,
                        const struct tf_result *r);
void tf_report_csv_header(FILE *out);
void tf_report_csv_row(struct tf_buf *b, const struct tf_conn *c,
                       const struct tf_result *r);

/* process: a PROCESS column (watch with kernel evidence). */
void tf_report_table_header(FILE *out, bool color, bool process);
void tf_report_table_row(struct tf_buf *b, const struct tf_conn *c,
                         const struct tf_result *r, bool color, bool process);

/* Ladder of the last packets of one connection. */
#define TF_LADDER_MAX 40
struct tf_ladder_row {
  uint64_t gpkt, no;
  double ts;
  uint8_t dir, flags;
  uint32_t seq, ack, len;
};
/* The last `cap` packets of a connection: TF_LADDER_MAX for --conn, fewer
 * for every connection of the HTML report. */
struct tf_ladder {
  unsigned cap, n, head; /* ring */
  uint64_t total;
  struct tf_ladder_row rows[];
};
struct tf_ladder *tf_ladder_new(unsigned cap);
void tf_ladder_add(struct tf_ladder *l, const struct tf_ladder_row *row);
/* The i-th oldest row kept (i < l->n). */
const struct tf_ladder_row *tf_ladder_row_at(const struct tf_ladder *l,
                                             unsigned i);
/* What the TLS dissector said about packet gpkt sent by dir (alerts,
 * close_notify), " name name" or "". */
void tf_tls_notes(char *dst, size_t n, const struct tf_conn *c, uint64_t gpkt,
                  int dir);
void tf_report_ladder(FILE *out, const struct tf_conn *c,
                      const struct tf_result *r);

void tf_format_addr(char *dst, size_t n, uint8_t af, const uint8_t *addr);
/* The Wireshark display filter that selects the connection (JSONL
 * "wireshark_filter"). */
#define TF_WIRESHARK_FILTER_LEN 200
/* The table's TLS column: the negotiated version, or when nothing was
 * negotiated the highest the client offered, starred ("TLS1.2*"), or
 * "TLS?"; NULL when not TLS.  buf (12 bytes) may hold the result. */
const char *tf_tls_column(const struct tf_conn *c, const struct tf_result *r,
                          char *buf, size_t n);
/* The table's HTTP END column (decrypted HTTP/1.x), or NULL. */
const char *tf_http_end_column(const struct tf_conn *c);
void tf_wireshark_filter(const struct tf_conn *c, char *dst, size_t n);

#endif

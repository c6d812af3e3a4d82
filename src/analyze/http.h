/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 message framing of a decrypted stream (RFC 9112 §6), enough to
 * answer one teardown question: when the TLS connection ended without
 * close_notify, was the last message complete (a harmless truncation) or
 * cut (data lost)?  RFC 9112 §9.8: a message whose framing says it is
 * complete is complete even when the close was not clean.
 *
 * Incremental, never copies bodies; headers are collected in a small
 * bounded buffer.  The header parser follows the picohttpparser contract:
 * bytes consumed, -1 malformed, -2 need more.
 */
#ifndef TLSFIN_ANALYZE_HTTP_H
#define TLSFIN_ANALYZE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tf_http_end {
  TF_HTTP_NONE = 0,    /* no HTTP seen */
  TF_HTTP_BOUNDARY,    /* the stream stopped between messages */
  TF_HTTP_MID_HEADERS, /* stopped inside a message head */
  TF_HTTP_MID_BODY,    /* stopped inside a body with known length */
  TF_HTTP_UNTIL_CLOSE, /* body delimited by the close: completeness unknown */
  TF_HTTP_NOT_HTTP,    /* bytes that are not HTTP/1.x */
};

struct tf_http {
  bool is_response; /* parse status lines (server side) */
  uint8_t state;    /* private */
  uint8_t end;      /* enum tf_http_end, valid at any time */
  char head[8192];  /* the current message head, bounded */
  uint32_t head_len;
  uint64_t body_left;  /* Content-Length or chunk bytes still to come */
  uint8_t chunk_state; /* private: chunk-size line, data, CRLF, trailers */
  char line[64];
  uint32_t line_len;
  uint32_t messages;   /* complete messages seen */
  uint64_t lost_bytes; /* declared but never received (for MID_BODY) */
  int last_status;     /* status code of the last response, 0 if none */
  bool head_request;   /* responses to HEAD carry no body (best effort) */
};

void tf_http_init(struct tf_http *h, bool is_response);
/* Feed decrypted bytes; returns 0, or -1 once the stream is not HTTP. */
int tf_http_feed(struct tf_http *h, const uint8_t *p, size_t n);
const char *tf_http_end_name(uint8_t end);

/* Low level: parse one message head [p, p+n) (ending in CRLF CRLF).
 * Returns bytes consumed, -1 malformed, -2 incomplete.  Sets *status (0 for
 * a request), *content_length (-1 if absent), *chunked. */
int tf_http_parse_head(const char *p, size_t n, bool is_response, int *status,
                       int64_t *content_length, bool *chunked);

#endif

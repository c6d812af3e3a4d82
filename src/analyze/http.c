/* SPDX-License-Identifier: BSD-2-Clause */
#include "http.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum { ST_HEAD = 0, ST_BODY_LEN, ST_BODY_CHUNKED, ST_BODY_CLOSE, ST_BAD };
enum { CH_SIZE = 0, CH_DATA, CH_DATA_CRLF, CH_TRAILER };

void tf_http_init(struct tf_http *h, bool is_response) {
  memset(h, 0, sizeof *h);
  h->is_response = is_response;
}

const char *tf_http_end_name(uint8_t end) {
  switch (end) {
  case TF_HTTP_BOUNDARY:
    return "complete";
  case TF_HTTP_MID_HEADERS:
    return "cut_in_headers";
  case TF_HTTP_MID_BODY:
    return "cut_in_body";
  case TF_HTTP_UNTIL_CLOSE:
    return "delimited_by_close";
  case TF_HTTP_NOT_HTTP:
    return "not_http";
  default:
    return "none";
  }
}

static const char *find_crlfcrlf(const char *p, size_t n) {
  for (size_t i = 0; i + 3 < n; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
        p[i + 3] == '\n')
      return p + i;
  return NULL;
}

/* RFC 9112 §3 / §4: request-line or status-line, then field lines. */
int tf_http_parse_head(const char *p, size_t n, bool is_response, int *status,
                       int64_t *content_length, bool *chunked) {
  const char *end = find_crlfcrlf(p, n);
  if (!end) {
    /* Reject early what cannot become HTTP so garbage is not buffered. */
    if (n >= 5 && is_response && memcmp(p, "HTTP/", 5) != 0)
      return -1;
    return -2;
  }
  *status = 0;
  *content_length = -1;
  *chunked = false;
  const char *line = p, *stop = end + 2;
  const char *eol = memchr(line, '\n', (size_t)(stop - line));
  if (!eol || eol == line || eol[-1] != '\r')
    return -1;
  if (is_response) {
    /* HTTP/1.x SP 3DIGIT SP reason */
    if (eol - line < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' ||
        !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
        !isdigit((unsigned char)line[11]))
      return -1;
    *status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  } else {
    const char *sp = memchr(line, ' ', (size_t)(eol - line));
    if (!sp || sp == line || eol - line < 14 ||
        memcmp(eol - 9, "HTTP/1.", 7) != 0)
      return -1;
  }
  for (line = eol + 1; line < stop; line = eol + 1) {
    eol = memchr(line, '\n', (size_t)(stop - line));
    if (!eol || eol[-1] != '\r')
      return -1;
    size_t len = (size_t)(eol - 1 - line);
    if (len == 0)
      break;
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line)
      return -1;
    size_t nlen = (size_t)(colon - line);
    const char *v = colon + 1, *ve = eol - 1;
    while (v < ve && (*v == ' ' || *v == '\t'))
      v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
      ve--;
    if (nlen == 14 && !strncasecmp(line, "content-length", 14)) {
      int64_t cl = 0;
      if (v == ve)
        return -1;
      for (const char *q = v; q < ve; q++) {
        if (!isdigit((unsigned char)*q) || cl > (INT64_MAX - 9) / 10)
          return -1;
        cl = cl * 10 + (*q - '0');
      }
      *content_length = cl;
    } else if (nlen == 17 && !strncasecmp(line, "transfer-encoding", 17)) {
      /* chunked must be the final coding (RFC 9112 §6.3) */
      size_t vl = (size_t)(ve - v);
      if (vl >= 7 && !strncasecmp(ve - 7, "chunked", 7))
        *chunked = true;
    }
  }
  return (int)(end + 4 - p);
}

static int start_body(struct tf_http *h, int status, int64_t cl, bool chunked) {
  h->last_status = status;
  /* RFC 9112 §6.3: 1xx, 204 and 304 responses have no body. */
  if (h->is_response && (status / 100 == 1 || status == 204 || status == 304)) {
    if (status / 100 != 1)
      h->messages++;
    h->state = ST_HEAD;
    return 0;
  }
  if (chunked) {
    h->state = ST_BODY_CHUNKED;
    h->chunk_state = CH_SIZE;
    h->line_len = 0;
  } else if (cl >= 0) {
    h->body_left = (uint64_t)cl;
    h->state = ST_BODY_LEN;
    if (cl == 0) {
      h->messages++;
      h->state = ST_HEAD;
    }
  } else if (h->is_response) {
    h->state = ST_BODY_CLOSE; /* read until the connection closes */
  } else {
    h->messages++; /* a request without a body */
    h->state = ST_HEAD;
  }
  return 0;
}

/* Chunked body (RFC 9112 §7.1); returns bytes consumed or -1. */
static long chunked(struct tf_http *h, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    switch (h->chunk_state) {
    case CH_SIZE:
    case CH_TRAILER: {
      char ch = (char)p[i++];
      if (ch == '\n') {
        h->line[h->line_len < sizeof h->line ? h->line_len
                                             : sizeof h->line - 1] = 0;
        if (h->chunk_state == CH_TRAILER) {
          if (h->line_len == 0 || (h->line_len == 1 && h->line[0] == '\r')) {
            h->messages++;
            h->state = ST_HEAD;
            h->head_len = 0;
            return (long)i;
          }
          h->line_len = 0;
          break;
        }
        uint64_t size = 0;
        unsigned digits = 0;
        for (uint32_t k = 0; k < h->line_len && k < sizeof h->line; k++) {
          int c = (unsigned char)h->line[k], v;
          if (c >= '0' && c <= '9')
            v = c - '0';
          else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
          else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
          else
            break; /* chunk extensions or CR */
          if (++digits > 15)
            return -1;
          size = size * 16 + (uint64_t)v;
        }
        if (!digits)
          return -1;
        h->line_len = 0;
        h->body_left = size;
        h->chunk_state = size ? CH_DATA : CH_TRAILER;
        break;
      }
      if (h->line_len < sizeof h->line)
        h->line[h->line_len] = ch;
      h->line_len++;
      if (h->line_len > 4096)
        return -1;
      break;
    }
    case CH_DATA: {
      size_t take = n - i;
      if (take > h->body_left)
        take = (size_t)h->body_left;
      h->body_left -= take;
      i += take;
      if (!h->body_left)
        h->chunk_state = CH_DATA_CRLF;
      break;
    }
    case CH_DATA_CRLF:
      if (p[i++] == '\n')
        h->chunk_state = CH_SIZE;
      break;
    }
  }
  return (long)i;
}

static void update_end(struct tf_http *h) {
  switch (h->state) {
  case ST_HEAD:
    h->end = h->head_len   ? TF_HTTP_MID_HEADERS
             : h->messages ? TF_HTTP_BOUNDARY
                           : TF_HTTP_NONE;
    h->lost_bytes = 0;
    break;
  case ST_BODY_LEN:
    h->end = TF_HTTP_MID_BODY;
    h->lost_bytes = h->body_left;
    break;
  case ST_BODY_CHUNKED:
    h->end = TF_HTTP_MID_BODY;
    h->lost_bytes = h->chunk_state == CH_DATA ? h->body_left : 0;
    break;
  case ST_BODY_CLOSE:
    h->end = TF_HTTP_UNTIL_CLOSE;
    break;
  default:
    h->end = TF_HTTP_NOT_HTTP;
  }
}

int tf_http_feed(struct tf_http *h, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n && h->state != ST_BAD) {
    switch (h->state) {
    case ST_HEAD: {
      size_t take = n - i;
      if (take > sizeof h->head - h->head_len)
        take = sizeof h->head - h->head_len;
      memcpy(h->head + h->head_len, p + i, take);
      size_t before = h->head_len;
      h->head_len += (uint32_t)take;
      int status;
      int64_t cl;
      bool ch;
      int r = tf_http_parse_head(h->head, h->head_len, h->is_response, &status,
                                 &cl, &ch);
      if (r == -2 && h->head_len < sizeof h->head) {
        i += take;
        break;
      }
      if (r < 0) {
        h->state = ST_BAD;
        break;
      }
      i += (size_t)r - before; /* the head ended inside this chunk */
      h->head_len = 0;
      start_body(h, status, cl, ch);
      break;
    }
    case ST_BODY_LEN: {
      size_t take = n - i;
      if (take > h->body_left)
        take = (size_t)h->body_left;
      h->body_left -= take;
      i += take;
      if (!h->body_left) {
        h->messages++;
        h->state = ST_HEAD;
      }
      break;
    }
    case ST_BODY_CHUNKED: {
      long r = chunked(h, p + i, n - i);
      if (r < 0)
        h->state = ST_BAD;
      else
        i += (size_t)r;
      break;
    }
    case ST_BODY_CLOSE:
      i = n;
      break;
    }
  }
  update_end(h);
  return h->state == ST_BAD ? -1 : 0;
}

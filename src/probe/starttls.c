/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * STARTTLS for tlsfin probe: the plaintext dialogue that mail, directory,
 * database and chat servers want before TLS.  Everything the server says is
 * untrusted: it is read through one bounded buffer (a line or a packet at a
 * time, never more than it announced), under the probe's deadline, and a
 * reply that does not parse ends the dialogue with a reason instead of a
 * guess.  Nothing the server says is echoed raw: quote() keeps printable
 * ASCII only.
 */
#include "starttls.h"
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static const char *const names[TF_STARTTLS_COUNT] = {
    "", "smtp", "imap", "pop3", "ftp", "ldap", "postgres", "mysql", "xmpp"};

int tf_starttls_parse(const char *name) {
  for (int i = 1; i < TF_STARTTLS_COUNT; i++)
    if (!strcmp(name, names[i]))
      return i;
  return -1;
}
const char *tf_starttls_name(int proto) {
  return proto > 0 && proto < TF_STARTTLS_COUNT ? names[proto] : "";
}
const char *tf_starttls_names(void) {
  return "smtp, imap, pop3, ftp, ldap, postgres, mysql or xmpp";
}

/* Longest line we take: RFC 5321 §4.5.3.1.5 allows 512 for an SMTP reply
 * line, but IMAP capability lists and FTP banners run longer in practice. */
#define LINE_MAX_ 4096
/* Lines in one reply: an EHLO reply has a dozen; a server that sends
 * thousands is not in a dialogue with us. */
#define REPLY_LINES_MAX 256

struct conn {
  int fd;
  double deadline;
  const char *proto, *what; /* for messages: "smtp", "the EHLO reply" */
  char *why;
  size_t wl;
  size_t got; /* bytes read so far, for messages */
  uint8_t buf[16384];
  size_t len;
};

static int fail(struct conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(struct conn *c, const char *fmt, ...) {
  int n = snprintf(c->why, c->wl, "%s: ", c->proto);
  if (n < 0 || (size_t)n >= c->wl)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->why + n, c->wl - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* The server's words for a message: printable ASCII, at most 100 bytes. */
static const char *quote(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0, i = 0;
  for (; i < n && o + 4 < cap && o < 100; i++)
    out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  if (i < n && o + 4 <= cap) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = 0;
  return out;
}

/* Waits for ev on the socket until the deadline: 1 ready, 0 timed out. */
static int wait_fd(struct conn *c, short ev) {
  return tf_probe_wait_fd(c->fd, ev, c->deadline);
}

static int send_all(struct conn *c, const void *b, size_t n, const char *what) {
  const uint8_t *p = b;
  while (n > 0) {
    if (!wait_fd(c, POLLOUT))
      return fail(c, "timed out sending %s", what);
    ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        continue;
      return fail(c, "cannot send %s: %s", what, strerror(errno));
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Reads more into the buffer, at most `want` bytes (so that a packet
 * reader never takes bytes past what the server announced: those would be
 * the TLS that follows).  -1 on EOF, reset, timeout or a full buffer. */
static int fill(struct conn *c, size_t want) {
  if (c->len >= sizeof c->buf)
    return fail(c, "%s is longer than %zu bytes", c->what, sizeof c->buf);
  if (want > sizeof c->buf - c->len)
    want = sizeof c->buf - c->len;
  for (;;) {
    if (!wait_fd(c, POLLIN))
      return fail(c, "timed out waiting for %s (%zu bytes read)", c->what,
                  c->got);
    ssize_t r = recv(c->fd, c->buf + c->len, want, MSG_DONTWAIT);
    if (r > 0) {
      c->len += (size_t)r;
      c->got += (size_t)r;
      return 0;
    }
    if (r == 0)
      return fail(c, "server closed the connection (FIN) waiting for %s",
                  c->what);
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
      continue;
    if (errno == ECONNRESET)
      return fail(c, "server reset the connection (RST) waiting for %s",
                  c->what);
    return fail(c, "reading %s: %s", c->what, strerror(errno));
  }
}

/* Drops n bytes from the front of the buffer. */
static void consume(struct conn *c, size_t n) {
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

/* One line (CRLF or a bare LF ends it; both are dropped) into out, NUL
 * terminated; NUL bytes in it become '?' so that string functions see the
 * whole line.  Returns its length or -1. */
static int get_line(struct conn *c, char *out, size_t cap) {
  for (;;) {
    uint8_t *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      size_t n = (size_t)(nl - c->buf), take = n;
      if (take > 0 && c->buf[take - 1] == '\r')
        take--;
      if (take >= cap || take >= LINE_MAX_)
        return fail(c, "a line of %s is longer than %d bytes", c->what,
                    LINE_MAX_);
      for (size_t i = 0; i < take; i++)
        out[i] = c->buf[i] ? (char)c->buf[i] : '?';
      out[take] = 0;
      consume(c, n + 1);
      return (int)take;
    }
    if (c->len >= LINE_MAX_)
      return fail(c, "a line of %s is longer than %d bytes", c->what,
                  LINE_MAX_);
    if (fill(c, sizeof c->buf) < 0)
      return -1;
  }
}

/* Exactly n bytes (n <= sizeof buf) at the front of the buffer, without
 * reading past them. */
static int need(struct conn *c, size_t n) {
  while (c->len < n)
    if (fill(c, n - c->len) < 0)
      return -1;
  return 0;
}

/* The go-ahead was read: anything already there is not TLS from the server
 * (it speaks second in TLS), so it was sent before the upgrade and would be
 * taken for the server's first TLS bytes; the same class of bug as a
 * client's plaintext injection (CVE-2011-0411), from the other side. */
static int ready(struct conn *c, const char *what) {
  uint8_t b[64];
  ssize_t r = recv(c->fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
  size_t extra = c->len + (r > 0 ? (size_t)r : 0);
  if (extra)
    return fail(c, "server sent %zu%s bytes after %s, before TLS", extra,
                r == (ssize_t)sizeof b ? "+" : "", what);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Numbered replies: SMTP (RFC 5321 §4.2.1) and FTP (RFC 959 §4.2).    */

struct reply {
  int code;
  char text[128]; /* the first line, quoted, for messages */
  bool has_kw;    /* a line's first word is the keyword looked for */
};

static bool first_word_is(const char *s, const char *kw) {
  size_t k = strlen(kw);
  return !strncasecmp(s, kw, k) && (s[k] == 0 || s[k] == ' ');
}

static int code_of(const char *l, int len) {
  if (len < 3 || l[0] < '1' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
      l[2] < '0' || l[2] > '9')
    return -1;
  return (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
}

/*
 * One reply.  SMTP: every line is "ddd-text" but the last, "ddd text" or
 * "ddd", all with one code.  FTP: the first line "ddd-" opens a multi-line
 * reply and only a line starting "ddd " with the same code ends it; the
 * lines between are free text.  kw: look for it as a line's first word
 * after the code (an EHLO keyword).
 */
static int read_reply(struct conn *c, bool ftp, const char *kw,
                      struct reply *r) {
  char line[LINE_MAX_ + 1];
  r->code = -1;
  r->has_kw = false;
  r->text[0] = 0;
  for (int n = 0; n < REPLY_LINES_MAX; n++) {
    int len = get_line(c, line, sizeof line);
    if (len < 0)
      return -1;
    int code = code_of(line, len);
    bool cont = len > 3 && line[3] == '-';
    bool last = len == 3 || (len > 3 && line[3] == ' ');
    if (n == 0) {
      if (code < 0 || (!cont && !last)) {
        char q[128];
        return fail(c, "%s is not a numbered reply: \"%s\"", c->what,
                    quote(line, (size_t)len, q, sizeof q));
      }
      r->code = code;
      quote(line, (size_t)len, r->text, sizeof r->text);
    } else if (code != r->code || (!cont && !last)) {
      if (ftp)
        continue; /* free text inside an FTP multi-line reply */
      char q[128];
      return fail(c, "garbage line in %s: \"%s\"", c->what,
                  quote(line, (size_t)len, q, sizeof q));
    }
    if (kw && len > 4 && first_word_is(line + 4, kw))
      r->has_kw = true;
    if (last)
      return 0;
  }
  return fail(c, "%s has more than %d lines", c->what, REPLY_LINES_MAX);
}

/* Our EHLO name: our own address as an address literal (RFC 5321 §4.1.3),
 * which is true and needs no DNS name we may not have. */
static void ehlo_name(int fd, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char a[INET6_ADDRSTRLEN] = "127.0.0.1";
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, a,
                sizeof a);
      snprintf(out, cap, "[IPv6:%s]", a);
      return;
    }
    if (ss.ss_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, a, sizeof a);
  }
  snprintf(out, cap, "[%s]", a);
}

/* RFC 3207: 220 greeting, EHLO (its reply must list STARTTLS, §4), then
 * STARTTLS answered 220 (§4: 454 or 501 otherwise). */
static int do_smtp(struct conn *c, const char *domain) {
  (void)domain;
  struct reply r;
  c->what = "the greeting";
  if (read_reply(c, false, NULL, &r) < 0)
    return -1;
  if (r.code != 220)
    return fail(c, "server refused the session: \"%s\"", r.text);
  char cmd[128], me[80];
  ehlo_name(c->fd, me, sizeof me);
  snprintf(cmd, sizeof cmd, "EHLO %s\r\n", me);
  if (send_all(c, cmd, strlen(cmd), "EHLO") < 0)
    return -1;
  c->what = "the EHLO reply";
  if (read_reply(c, false, "STARTTLS", &r) < 0)
    return -1;
  if (r.code != 250)
    return fail(c, "EHLO refused: \"%s\"", r.text);
  if (!r.has_kw)
    return fail(c, "server does not offer STARTTLS (EHLO reply has no "
                   "STARTTLS)");
  if (send_all(c, "STARTTLS\r\n", 10, "STARTTLS") < 0)
    return -1;
  c->what = "the STARTTLS reply";
  if (read_reply(c, false, NULL, &r) < 0)
    return -1;
  if (r.code != 220)
    return fail(c, "STARTTLS refused: \"%s\"", r.text);
  return ready(c, "its 220 to STARTTLS");
}

/* RFC 4217 §4: AUTH TLS, answered 234; the greeting may be preceded by
 * 120 "ready in nnn minutes" (RFC 959 §5.4), which we do not wait out. */
static int do_ftp(struct conn *c, const char *domain) {
  (void)domain;
  struct reply r;
  c->what = "the greeting";
  if (read_reply(c, true, NULL, &r) < 0)
    return -1;
  if (r.code != 220)
    return fail(c, "server refused the session: \"%s\"", r.text);
  if (send_all(c, "AUTH TLS\r\n", 10, "AUTH TLS") < 0)
    return -1;
  c->what = "the AUTH TLS reply";
  if (read_reply(c, true, NULL, &r) < 0)
    return -1;
  if (r.code != 234)
    return fail(c, "server does not offer AUTH TLS: \"%s\"", r.text);
  return ready(c, "its 234 to AUTH TLS");
}

/* ------------------------------------------------------------------ */
/* IMAP (RFC 3501 §6.2.1, RFC 2595 §3.1) and POP3 (RFC 2595 §4).        */

/* Is `atom` one of the space-separated words of s? */
static bool has_word(const char *s, const char *atom) {
  size_t k = strlen(atom);
  for (const char *p = s; *p;) {
    while (*p == ' ')
      p++;
    const char *e = p;
    while (*e && *e != ' ' && *e != ']')
      e++;
    if ((size_t)(e - p) == k && !strncasecmp(p, atom, k))
      return true;
    p = *e ? e + 1 : e;
  }
  return false;
}

/* Sends "TAG CMD" and reads to the tagged reply: 0 for OK, -1 otherwise;
 * *cap is set when an untagged CAPABILITY (or the tagged reply's
 * [CAPABILITY ...] code) lists STARTTLS.  Literals ({n}) are not followed:
 * no reply to these two commands carries one, and a server that sends one
 * gets its bytes taken as lines, which is then a garbage line. */
static int imap_cmd(struct conn *c, const char *tag, const char *cmd,
                    bool *cap) {
  char line[LINE_MAX_ + 1], out[64], q[128];
  snprintf(out, sizeof out, "%s %s\r\n", tag, cmd);
  if (send_all(c, out, strlen(out), cmd) < 0)
    return -1;
  size_t tl = strlen(tag);
  for (int n = 0; n < REPLY_LINES_MAX; n++) {
    int len = get_line(c, line, sizeof line);
    if (len < 0)
      return -1;
    if (!strncmp(line, "* ", 2)) {
      if (!strncasecmp(line + 2, "CAPABILITY ", 11) && cap &&
          has_word(line + 13, "STARTTLS"))
        *cap = true;
      if (!strncasecmp(line + 2, "BYE", 3))
        return fail(c, "server said BYE to %s: \"%s\"", cmd,
                    quote(line, (size_t)len, q, sizeof q));
      continue;
    }
    if (!strncmp(line, tag, tl) && line[tl] == ' ') {
      const char *st = line + tl + 1;
      if (!strncasecmp(st, "OK", 2) && (st[2] == ' ' || !st[2])) {
        if (cap && strstr(st, "[CAPABILITY ") &&
            has_word(strstr(st, "[CAPABILITY ") + 12, "STARTTLS"))
          *cap = true;
        return 0;
      }
      return fail(c, "%s refused: \"%s\"", cmd,
                  quote(line, (size_t)len, q, sizeof q));
    }
    return fail(c, "garbage line in %s: \"%s\"", c->what,
                quote(line, (size_t)len, q, sizeof q));
  }
  return fail(c, "%s has more than %d lines", c->what, REPLY_LINES_MAX);
}

static int do_imap(struct conn *c, const char *domain) {
  (void)domain;
  char line[LINE_MAX_ + 1], q[128];
  c->what = "the greeting";
  int len = get_line(c, line, sizeof line);
  if (len < 0)
    return -1;
  /* RFC 3501 §7.1.4: PREAUTH puts the session in the authenticated state,
   * where STARTTLS is not allowed (§6.2.1); BYE refuses it. */
  if (!strncasecmp(line, "* PREAUTH", 9))
    return fail(c, "server greeted with PREAUTH: STARTTLS is only allowed "
                   "before authentication");
  if (strncasecmp(line, "* OK", 4) || (line[4] && line[4] != ' '))
    return fail(c, "server refused the session: \"%s\"",
                quote(line, (size_t)len, q, sizeof q));
  /* Asked, not read from the greeting's [CAPABILITY]: that code is
   * optional and may be partial (RFC 3501 §7.1). */
  bool cap = false;
  c->what = "the CAPABILITY reply";
  if (imap_cmd(c, "tf1", "CAPABILITY", &cap) < 0)
    return -1;
  if (!cap)
    return fail(c, "server does not offer STARTTLS (CAPABILITY has no "
                   "STARTTLS)");
  c->what = "the STARTTLS reply";
  if (imap_cmd(c, "tf2", "STARTTLS", NULL) < 0)
    return -1;
  return ready(c, "its OK to STARTTLS");
}

static int do_pop3(struct conn *c, const char *domain) {
  (void)domain;
  char line[LINE_MAX_ + 1], q[128];
  c->what = "the greeting";
  int len = get_line(c, line, sizeof line);
  if (len < 0)
    return -1;
  if (strncmp(line, "+OK", 3))
    return fail(c, "server refused the session: \"%s\"",
                quote(line, (size_t)len, q, sizeof q));
  /* CAPA (RFC 2449 §5) lists STLS when it is offered (RFC 2595 §4); a
   * server without CAPA may still know STLS, so -ERR does not stop us. */
  if (send_all(c, "CAPA\r\n", 6, "CAPA") < 0)
    return -1;
  c->what = "the CAPA reply";
  if ((len = get_line(c, line, sizeof line)) < 0)
    return -1;
  if (!strncmp(line, "+OK", 3)) {
    bool stls = false;
    int n = 0;
    for (;; n++) {
      if (n == REPLY_LINES_MAX)
        return fail(c, "the CAPA reply has more than %d lines",
                    REPLY_LINES_MAX);
      if ((len = get_line(c, line, sizeof line)) < 0)
        return -1;
      if (!strcmp(line, ".")) /* RFC 1939 §3: the end of a multi-line */
        break;
      if (first_word_is(line, "STLS"))
        stls = true;
    }
    if (!stls)
      return fail(c, "server does not offer STLS (CAPA has no STLS)");
  } else if (strncmp(line, "-ERR", 4)) {
    return fail(c, "garbage reply to CAPA: \"%s\"",
                quote(line, (size_t)len, q, sizeof q));
  }
  if (send_all(c, "STLS\r\n", 6, "STLS") < 0)
    return -1;
  c->what = "the STLS reply";
  if ((len = get_line(c, line, sizeof line)) < 0)
    return -1;
  if (strncmp(line, "+OK", 3))
    return fail(c, "STLS refused: \"%s\"",
                quote(line, (size_t)len, q, sizeof q));
  return ready(c, "its +OK to STLS");
}

/* ------------------------------------------------------------------ */
/* LDAP (RFC 4511 §4.14): the StartTLS extended operation, in BER.      */

/* A BER tag and definite length at b[*off], within end; the length form
 * is X.690 §8.1.3 (short, or long in up to 4 bytes: more is not a
 * message of ours).  Returns 0 and the content's bounds, or -1. */
static int ber_tl(const uint8_t *b, size_t end, size_t *off, uint8_t *tag,
                  size_t *len) {
  size_t o = *off;
  if (o + 2 > end)
    return -1;
  *tag = b[o++];
  size_t l = b[o++];
  if (l & 0x80) {
    unsigned k = l & 0x7f;
    if (k == 0 || k > 4 || o + k > end)
      return -1; /* indefinite length is not allowed in LDAP (§5.1) */
    l = 0;
    for (unsigned i = 0; i < k; i++)
      l = l << 8 | b[o++];
  }
  if (l > end - o)
    return -1;
  *off = o;
  *len = l;
  return 0;
}

static const char *ldap_result_name(unsigned rc) {
  switch (rc) { /* RFC 4511 §4.1.9, the codes a StartTLS can get */
  case 0:
    return "success";
  case 1:
    return "operationsError";
  case 2:
    return "protocolError";
  case 3:
    return "timeLimitExceeded";
  case 8:
    return "strongerAuthRequired";
  case 13:
    return "confidentialityRequired";
  case 51:
    return "busy";
  case 52:
    return "unavailable";
  case 53:
    return "unwillingToPerform";
  case 80:
    return "other";
  default:
    return "?";
  }
}

#define LDAP_STARTTLS_OID "1.3.6.1.4.1.1466.20037"

static int do_ldap(struct conn *c, const char *domain) {
  (void)domain;
  /* LDAPMessage ::= SEQUENCE { messageID 1, extendedReq [APPLICATION 23]
   * SEQUENCE { requestName [0] "1.3.6.1.4.1.1466.20037" } } (§4.12) */
  static const char oid[] = LDAP_STARTTLS_OID;
  uint8_t req[64];
  size_t ol = sizeof oid - 1, n = 0;
  req[n++] = 0x30;
  req[n++] = (uint8_t)(3 + 2 + 2 + ol);
  req[n++] = 0x02, req[n++] = 0x01, req[n++] = 0x01; /* messageID 1 */
  req[n++] = 0x77, req[n++] = (uint8_t)(2 + ol);
  req[n++] = 0x80, req[n++] = (uint8_t)ol;
  memcpy(req + n, oid, ol);
  n += ol;
  if (send_all(c, req, n, "the StartTLS request") < 0)
    return -1;
  /* The response: read the header, then exactly the length it gives. */
  c->what = "the StartTLS response";
  if (need(c, 2) < 0)
    return -1;
  if (c->buf[0] != 0x30)
    return fail(c,
                "the StartTLS response is not an LDAPMessage (first byte "
                "0x%02x)",
                c->buf[0]);
  size_t hl = 2;
  if (c->buf[1] & 0x80) {
    hl += c->buf[1] & 0x7f;
    if (hl == 2 || hl > 6)
      return fail(c, "the StartTLS response has a bad BER length");
    if (need(c, hl) < 0)
      return -1;
  }
  size_t off = 0, body;
  uint8_t tag;
  /* the header alone: its length checked against the buffer's room */
  size_t bl = c->buf[1] & 0x80 ? 0 : c->buf[1];
  for (size_t i = 2; i < hl; i++)
    bl = bl << 8 | c->buf[i];
  if (bl > sizeof c->buf - hl)
    return fail(c,
                "the StartTLS response announces %zu bytes, more than we "
                "take",
                bl);
  if (need(c, hl + bl) < 0)
    return -1;
  size_t end = hl + bl;
  if (ber_tl(c->buf, end, &off, &tag, &body) < 0)
    return fail(c, "the StartTLS response has a bad BER length");
  /* messageID */
  size_t l;
  if (ber_tl(c->buf, end, &off, &tag, &l) < 0 || tag != 0x02 || l < 1 || l > 4)
    return fail(c, "the StartTLS response has no messageID");
  unsigned long id = 0;
  for (size_t i = 0; i < l; i++)
    id = id << 8 | c->buf[off + i];
  off += l;
  /* extendedResp [APPLICATION 24]: resultCode, matchedDN, diagnostic */
  size_t rl;
  if (ber_tl(c->buf, end, &off, &tag, &rl) < 0 || tag != 0x78)
    return fail(c,
                "the StartTLS response is not an ExtendedResponse (tag "
                "0x%02x)",
                tag);
  size_t rend = off + rl;
  if (ber_tl(c->buf, rend, &off, &tag, &l) < 0 || tag != 0x0a || l < 1 || l > 4)
    return fail(c, "the StartTLS response has no resultCode");
  unsigned rc = 0;
  for (size_t i = 0; i < l; i++)
    rc = rc << 8 | c->buf[off + i];
  off += l;
  char diag[128] = "";
  if (ber_tl(c->buf, rend, &off, &tag, &l) == 0 && tag == 0x04) { /* DN */
    off += l;
    if (ber_tl(c->buf, rend, &off, &tag, &l) == 0 && tag == 0x04)
      quote((const char *)c->buf + off, l, diag, sizeof diag);
  }
  consume(c, end);
  /* §4.4.1: messageID 0 is an unsolicited notification, e.g. the Notice
   * of Disconnection: the server is going away, not answering us. */
  if (id != 1)
    return fail(c,
                "server answered messageID %lu, not our 1: resultCode %u "
                "(%s)%s%s",
                id, rc, ldap_result_name(rc), diag[0] ? ": " : "", diag);
  if (rc != 0)
    return fail(c, "StartTLS refused: resultCode %u (%s)%s%s", rc,
                ldap_result_name(rc), diag[0] ? ": " : "", diag);
  return ready(c, "its StartTLS success");
}

/* ------------------------------------------------------------------ */
/* PostgreSQL: SSLRequest (protocol docs, "SSL Session Encryption").     */

static int do_postgres(struct conn *c, const char *domain) {
  (void)domain;
  /* Int32 length 8, Int32 code 80877103 (1234 << 16 | 5679) */
  static const uint8_t req[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
  if (send_all(c, req, sizeof req, "the SSLRequest") < 0)
    return -1;
  c->what = "the answer to SSLRequest";
  if (need(c, 1) < 0) /* one byte, and no more: TLS may follow */
    return -1;
  uint8_t a = c->buf[0];
  consume(c, 1);
  if (a == 'N')
    return fail(c, "server answered 'N' to SSLRequest: TLS not enabled");
  if (a == 'E') /* a server too old for SSLRequest says so with an error */
    return fail(c, "server answered SSLRequest with an ErrorResponse");
  if (a != 'S')
    return fail(c, "server answered SSLRequest with byte 0x%02x, not S or N",
                a);
  /* the protocol docs warn of exactly this: bytes after 'S' would be
   * taken as TLS (CVE-2021-23222 on the client side) */
  return ready(c, "its 'S'");
}

/* ------------------------------------------------------------------ */
/* MySQL / MariaDB: the server greets first (Protocol::HandshakeV10); the
 * client answers with an SSLRequest instead of its HandshakeResponse41:
 * the same first 32 bytes, CLIENT_SSL set, then TLS. */

#define MYSQL_CLIENT_LONG_PASSWORD 0x00000001u
#define MYSQL_CLIENT_PROTOCOL_41 0x00000200u
#define MYSQL_CLIENT_SSL 0x00000800u
#define MYSQL_CLIENT_SECURE_CONNECTION 0x00008000u

static int do_mysql(struct conn *c, const char *domain) {
  (void)domain;
  c->what = "the server greeting";
  /* packet header: 3-byte little-endian payload length, sequence id */
  if (need(c, 4) < 0)
    return -1;
  size_t pl = c->buf[0] | (size_t)c->buf[1] << 8 | (size_t)c->buf[2] << 16;
  if (pl < 1 || pl > sizeof c->buf - 4)
    return fail(c, "the server greeting announces %zu bytes", pl);
  if (need(c, 4 + pl) < 0)
    return -1;
  const uint8_t *g = c->buf + 4;
  char q[128];
  if (g[0] == 0xff) { /* ERR_Packet: too many connections, host blocked */
    unsigned code = pl >= 3 ? (unsigned)(g[1] | g[2] << 8) : 0;
    size_t mo = pl > 3 && g[3] == '#' ? 9 : 3; /* skip a SQL state */
    if (mo > pl)
      mo = pl;
    return fail(c, "server refused the connection: error %u \"%s\"", code,
                quote((const char *)g + mo, pl - mo, q, sizeof q));
  }
  if (g[0] != 10)
    return fail(c, "server greeting has protocol version %u, not 10", g[0]);
  /* server version, NUL-terminated, then connection id (4), auth data
   * (8), a filler (1), capability flags (lower 2 bytes) */
  const uint8_t *z = memchr(g + 1, 0, pl - 1);
  if (!z)
    return fail(c, "server greeting has no end to its version string");
  size_t o = (size_t)(z - g) + 1 + 4 + 8 + 1;
  if (o + 2 > pl)
    return fail(c, "server greeting is too short for capability flags");
  uint32_t caps = g[o] | (uint32_t)g[o + 1] << 8;
  char ver[64];
  quote((const char *)g + 1, (size_t)(z - g) - 1, ver, sizeof ver);
  uint8_t seq = c->buf[3];
  consume(c, 4 + pl);
  if (!(caps & MYSQL_CLIENT_SSL))
    return fail(c,
                "server %s does not offer TLS (no CLIENT_SSL in its "
                "capabilities)",
                ver);
  /* SSLRequest: capability flags (4), max packet size (4), character set
   * (1), 23 zero bytes; sequence id one past the greeting's */
  uint8_t req[4 + 32] = {32, 0, 0, (uint8_t)(seq + 1)};
  uint32_t mine = MYSQL_CLIENT_LONG_PASSWORD | MYSQL_CLIENT_PROTOCOL_41 |
                  MYSQL_CLIENT_SSL | MYSQL_CLIENT_SECURE_CONNECTION;
  for (int i = 0; i < 4; i++)
    req[4 + i] = (uint8_t)(mine >> (8 * i));
  req[8 + 2] = 0x00, req[8 + 3] = 0x01; /* 16 MiB */
  req[12] = 33;                         /* utf8_general_ci */
  if (send_all(c, req, sizeof req, "the SSLRequest") < 0)
    return -1;
  /* the server answers nothing: it starts TLS on our ClientHello */
  return ready(c, "its greeting");
}

/* ------------------------------------------------------------------ */
/* XMPP (RFC 6120 §5.4): stream header, features with <starttls/>, our
 * <starttls/>, then <proceed/> (or <failure/>).  No XML parser: the
 * server's bytes are kept in the buffer and searched for the few
 * elements that matter, within the buffer's bound. */

/* The buffer as a string into s (sizeof c->buf + 1): NULs become '?', so
 * that they end no search early and match no needle. */
static void as_string(const struct conn *c, char *s) {
  for (size_t i = 0; i < c->len; i++)
    s[i] = c->buf[i] ? (char)c->buf[i] : '?';
  s[c->len] = 0;
}

/* Reads until `needle` is in the buffer (from its start); -1 when the
 * buffer fills, the server closes or sends a stream error first. */
static int xmpp_until(struct conn *c, const char *needle, const char *alt) {
  for (;;) {
    if (c->len) {
      char s[sizeof c->buf + 1];
      as_string(c, s);
      if (strstr(s, needle) || (alt && strstr(s, alt)))
        return 0;
      const char *e = strstr(s, "<stream:error");
      if (e && strstr(e, "</stream:error>")) {
        /* RFC 6120 §4.9.3: the condition is the first child element */
        const char *cond = strchr(e + 13, '<');
        char q[128];
        size_t cl = cond ? strcspn(cond + 1, " />") : 0;
        return fail(c, "server sent a stream error: %s",
                    cl ? quote(cond + 1, cl, q, sizeof q) : "(none)");
      }
    }
    if (fill(c, sizeof c->buf) < 0)
      return -1;
  }
}

static int do_xmpp(struct conn *c, const char *domain) {
  char hdr[512];
  /* RFC 6120 §4.7.2: 'to' is the server's domain; it picks the virtual
   * host, and a wrong one gets host-unknown */
  int n = snprintf(hdr, sizeof hdr,
                   "<?xml version='1.0'?><stream:stream to='%s' "
                   "version='1.0' xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams'>",
                   domain && domain[0] ? domain : "localhost");
  if (n < 0 || (size_t)n >= sizeof hdr)
    return fail(c, "domain name too long");
  for (const char *p = domain; p && *p; p++)
    if (*p == '\'' || *p == '<' || *p == '&' || (unsigned char)*p < 0x20)
      return fail(c, "domain name has a character XML would need escaped");
  if (send_all(c, hdr, (size_t)n, "the stream header") < 0)
    return -1;
  c->what = "the stream features";
  if (xmpp_until(c, "</stream:features>", "<stream:features/>") < 0)
    return -1;
  char s[sizeof c->buf + 1];
  as_string(c, s);
  /* the features element: from "<stream:features" to its end, which
   * xmpp_until() found; <starttls/> must be inside it */
  char *f = strstr(s, "<stream:features");
  char *fe = strstr(s, "</stream:features>"),
       *fe2 = strstr(s, "<stream:features/>");
  char *end = fe && (!fe2 || fe < fe2) ? fe + 18 : fe2 + 18;
  if (!f || f > end)
    return fail(c, "the stream features are not well formed");
  size_t used = (size_t)(end - s);
  *end = 0;
  const char *st = strstr(f, "<starttls");
  if (!st || !strstr(st, "urn:ietf:params:xml:ns:xmpp-tls"))
    return fail(c, "server does not offer STARTTLS (stream features have no "
                   "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>)");
  consume(c, used); /* keep only what follows the features */
  static const char req[] =
      "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
  if (send_all(c, req, sizeof req - 1, "<starttls/>") < 0)
    return -1;
  c->what = "the answer to <starttls/>";
  if (xmpp_until(c, "<proceed", "<failure") < 0)
    return -1;
  /* up to the end of the element: "/>" or "</proceed>" */
  for (;;) {
    as_string(c, s);
    if (strstr(s, "<failure"))
      return fail(c, "server answered <starttls/> with <failure/>");
    const char *p = strstr(s, "<proceed");
    const char *e = p ? strstr(p, "/>") : NULL;
    const char *e2 = p ? strstr(p, "</proceed>") : NULL;
    if (e2 && (!e || e2 < e))
      e = e2 + 8;
    if (e) {
      consume(c, (size_t)(e + 2 - s));
      break;
    }
    if (fill(c, sizeof c->buf) < 0)
      return -1;
  }
  return ready(c, "<proceed/>");
}

/* ------------------------------------------------------------------ */

int tf_starttls(int proto, int fd, double deadline, const char *domain,
                char *why, size_t wl) {
  static int (*const run[TF_STARTTLS_COUNT])(struct conn *, const char *) = {
      NULL,    do_smtp,     do_imap,  do_pop3, do_ftp,
      do_ldap, do_postgres, do_mysql, do_xmpp};
  if (proto <= 0 || proto >= TF_STARTTLS_COUNT)
    return 0;
  struct conn c = {0};
  c.fd = fd;
  c.deadline = deadline;
  c.proto = names[proto];
  c.what = "the reply";
  c.why = why;
  c.wl = wl;
  if (wl)
    why[0] = 0;
  return run[proto](&c, domain);
}

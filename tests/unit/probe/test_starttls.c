/* SPDX-License-Identifier: BSD-2-Clause */
/* The STARTTLS dialogues (src/probe/starttls.c) against canned servers on a
 * socketpair: the server's whole side is written before the client runs
 * (none of these servers' replies depends on what the client says), so
 * each case is deterministic.  Checked: the go-ahead of each protocol, the
 * exact bytes we send where they are binary (LDAP, PostgreSQL, MySQL), the
 * reasons of refusals, and that every truncation and a few thousand seeded
 * mutations of each server's bytes end in 0 or a reason, never a crash or
 * a read past what was announced (under ASan in the sanitizer build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "probe/starttls.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Runs proto's dialogue against a server that says `srv` (n bytes) and
 * then closes its side (close_after) or stays open.  What the client sent
 * goes into sent (cap bytes, *sl). */
static int run(int proto, const void *srv, size_t n, bool close_after,
               char *why, size_t wl, uint8_t *sent, size_t cap, size_t *sl) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  int big = 1 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  assert_int_equal(write(sv[1], srv, n), (ssize_t)n);
  if (close_after)
    shutdown(sv[1], SHUT_WR);
  int rc = tf_starttls(proto, sv[0], now_ms() + 200, "example.test", why, wl);
  shutdown(sv[0], SHUT_WR);
  size_t got = 0;
  for (;;) {
    struct pollfd pf = {sv[1], POLLIN, 0};
    if (poll(&pf, 1, 100) <= 0)
      break;
    ssize_t r = read(sv[1], sent ? sent + got : (uint8_t[512]){0},
                     sent ? cap - got : 512);
    if (r <= 0)
      break;
    if (sent)
      got += (size_t)r;
    if (sent && got == cap)
      break;
  }
  if (sl)
    *sl = got;
  close(sv[0]);
  close(sv[1]);
  return rc;
}

static int ok(int proto, const char *srv, size_t n, char *why, size_t wl) {
  return run(proto, srv, n, false, why, wl, NULL, 0, NULL);
}

#define S(x) x, sizeof x - 1

static const char smtp_ok[] =
    "220-mail.example.test ESMTP\r\n220 more banner\r\n"
    "250-mail.example.test\r\n250-PIPELINING\r\n250-starttls\r\n"
    "250 8BITMIME\r\n"
    "220 2.0.0 Ready to start TLS\r\n";
static const char imap_ok[] =
    "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n"
    "* CAPABILITY IMAP4rev1 SASL-IR STARTTLS LOGINDISABLED\r\n"
    "tf1 OK done\r\ntf2 OK Begin TLS negotiation now\r\n";
static const char pop3_ok[] =
    "+OK Dovecot ready.\r\n+OK\r\nCAPA\r\nTOP\r\nSTLS\r\n.\r\n+OK Begin "
    "TLS\r\n";
static const char ftp_ok[] = "220-Welcome\r\nfree text\r\n220 ready\r\n"
                             "234 Proceed with negotiation.\r\n";
static const uint8_t ldap_ok[] = {0x30, 0x0c, 0x02, 0x01, 0x01,
                                  0x78, 0x07, 0x0a, 0x01, 0x00,
                                  0x04, 0x00, 0x04, 0x00}; /* success */
static const uint8_t pg_ok[] = {'S'};
static const char xmpp_ok[] =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' id='1' "
    "version='1.0'><stream:features><starttls "
    "xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
    "</stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";

/* A MariaDB-like HandshakeV10 greeting with CLIENT_SSL (or not). */
static size_t mysql_greeting(uint8_t *b, bool ssl) {
  static const char ver[] = "10.11.0-MariaDB";
  size_t n = 4;
  b[n++] = 10;
  memcpy(b + n, ver, sizeof ver); /* with its NUL */
  n += sizeof ver;
  memset(b + n, 7, 4 + 8); /* connection id, auth data 1 */
  n += 12;
  b[n++] = 0;                 /* filler */
  b[n++] = ssl ? 0xff : 0xf7; /* capability flags: 0x0800 is CLIENT_SSL */
  b[n++] = ssl ? 0xff : 0xf7;
  b[n++] = 0x21;                 /* charset */
  b[n++] = 2, b[n++] = 0;        /* status */
  b[n++] = 0xff, b[n++] = 0x81;  /* capabilities, upper */
  b[n++] = 21;                   /* auth data length */
  memset(b + n, 0, 10), n += 10; /* reserved */
  memset(b + n, 9, 13), n += 13; /* auth data 2 */
  size_t pl = n - 4;
  b[0] = (uint8_t)pl, b[1] = (uint8_t)(pl >> 8), b[2] = 0, b[3] = 0;
  return n;
}

static void test_names(void **st) {
  (void)st;
  assert_int_equal(tf_starttls_parse("smtp"), TF_STARTTLS_SMTP);
  assert_int_equal(tf_starttls_parse("xmpp"), TF_STARTTLS_XMPP);
  assert_int_equal(tf_starttls_parse("SMTP"), -1);
  assert_int_equal(tf_starttls_parse("gopher"), -1);
  assert_string_equal(tf_starttls_name(TF_STARTTLS_POSTGRES), "postgres");
  assert_string_equal(tf_starttls_name(0), "");
  assert_string_equal(tf_starttls_name(99), "");
}

static void test_go_ahead(void **st) {
  (void)st;
  char why[300];
  uint8_t sent[256];
  size_t sl;
  assert_int_equal(ok(TF_STARTTLS_SMTP, S(smtp_ok), why, sizeof why), 0);
  assert_int_equal(ok(TF_STARTTLS_IMAP, S(imap_ok), why, sizeof why), 0);
  assert_int_equal(ok(TF_STARTTLS_POP3, S(pop3_ok), why, sizeof why), 0);
  assert_int_equal(ok(TF_STARTTLS_FTP, S(ftp_ok), why, sizeof why), 0);
  assert_int_equal(ok(TF_STARTTLS_XMPP, S(xmpp_ok), why, sizeof why), 0);
  /* RFC 4511 §4.14.1: exactly this ExtendedRequest */
  static const uint8_t ldap_req[] = {
      0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16, '1', '.',
      '3',  '.',  '6',  '.',  '1',  '.',  '4',  '.',  '1',  '.', '1',
      '4',  '6',  '6',  '.',  '2',  '0',  '0',  '3',  '7'};
  assert_int_equal(run(TF_STARTTLS_LDAP, ldap_ok, sizeof ldap_ok, false, why,
                       sizeof why, sent, sizeof sent, &sl),
                   0);
  assert_int_equal(sl, sizeof ldap_req);
  assert_memory_equal(sent, ldap_req, sizeof ldap_req);
  /* SSLRequest: length 8, code 80877103 */
  static const uint8_t pg_req[] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
  assert_int_equal(run(TF_STARTTLS_POSTGRES, pg_ok, 1, false, why, sizeof why,
                       sent, sizeof sent, &sl),
                   0);
  assert_int_equal(sl, 8);
  assert_memory_equal(sent, pg_req, 8);
  /* MySQL SSLRequest: 32 bytes, sequence 1, CLIENT_SSL and PROTOCOL_41 */
  uint8_t g[128];
  size_t gn = mysql_greeting(g, true);
  assert_int_equal(run(TF_STARTTLS_MYSQL, g, gn, false, why, sizeof why, sent,
                       sizeof sent, &sl),
                   0);
  assert_int_equal(sl, 36);
  assert_int_equal(sent[0], 32);
  assert_int_equal(sent[3], 1);
  uint32_t caps =
      sent[4] | sent[5] << 8 | sent[6] << 16 | (uint32_t)sent[7] << 24;
  assert_true(caps & 0x0800);
  assert_true(caps & 0x0200);
  /* XMPP: the stream header names the domain */
  assert_int_equal(run(TF_STARTTLS_XMPP, S(xmpp_ok), false, why, sizeof why,
                       sent, sizeof sent - 1, &sl),
                   0);
  sent[sl] = 0;
  assert_non_null(strstr((char *)sent, "to='example.test'"));
}

#define REFUSED(proto, srv, reason)                                            \
  do {                                                                         \
    assert_int_equal(ok(proto, S(srv), why, sizeof why), -1);                  \
    if (!strstr(why, reason))                                                  \
      fail_msg("%s: got \"%s\", want \"%s\"", #proto, why, reason);            \
  } while (0)

static void test_refusals(void **st) {
  (void)st;
  char why[300];
  REFUSED(TF_STARTTLS_SMTP, "220 hi\r\n250-x\r\n250 PIPELINING\r\n",
          "smtp: server does not offer STARTTLS (EHLO reply has no STARTTLS)");
  REFUSED(TF_STARTTLS_SMTP, "554 go away\r\n",
          "smtp: server refused the session: \"554 go away\"");
  REFUSED(TF_STARTTLS_SMTP,
          "220 hi\r\n250 STARTTLS\r\n454 TLS not available\r\n",
          "smtp: STARTTLS refused: \"454 TLS not available\"");
  REFUSED(TF_STARTTLS_SMTP, "220 hi\r\n250-x\r\n251 mixed\r\n",
          "garbage line in the EHLO reply");
  REFUSED(TF_STARTTLS_IMAP, "* PREAUTH hi\r\n", "PREAUTH");
  REFUSED(TF_STARTTLS_IMAP, "* OK hi\r\n* CAPABILITY IMAP4rev1\r\ntf1 OK\r\n",
          "imap: server does not offer STARTTLS (CAPABILITY has no STARTTLS)");
  REFUSED(TF_STARTTLS_IMAP,
          "* OK hi\r\n* CAPABILITY STARTTLS\r\ntf1 OK\r\ntf2 NO later\r\n",
          "imap: STARTTLS refused: \"tf2 NO later\"");
  REFUSED(TF_STARTTLS_POP3, "+OK hi\r\n+OK\r\nUSER\r\n.\r\n",
          "pop3: server does not offer STLS (CAPA has no STLS)");
  REFUSED(TF_STARTTLS_POP3, "+OK hi\r\n-ERR no CAPA\r\n-ERR no\r\n",
          "pop3: STLS refused: \"-ERR no\"");
  REFUSED(TF_STARTTLS_FTP, "220 hi\r\n500 AUTH not understood\r\n",
          "ftp: server does not offer AUTH TLS: \"500 AUTH not understood\"");
  REFUSED(TF_STARTTLS_POSTGRES, "N",
          "postgres: server answered 'N' to SSLRequest: TLS not enabled");
  REFUSED(TF_STARTTLS_POSTGRES, "S\x16\x03", "server sent 2 bytes after its");
  REFUSED(TF_STARTTLS_XMPP,
          "<stream:stream><stream:features><mechanisms/></stream:features>",
          "xmpp: server does not offer STARTTLS");
  REFUSED(TF_STARTTLS_XMPP,
          "<stream:stream><stream:features><starttls "
          "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"
          "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
          "<failure/>");
  /* LDAP protocolError with a diagnostic */
  static const char ldap_no[] = "\x30\x14\x02\x01\x01\x78\x0f\x0a\x01\x02"
                                "\x04\x00\x04\x08no TLS!!";
  REFUSED(TF_STARTTLS_LDAP, ldap_no,
          "ldap: StartTLS refused: resultCode 2 (protocolError): no TLS!!");
  uint8_t g[128];
  size_t gn = mysql_greeting(g, false);
  assert_int_equal(ok(TF_STARTTLS_MYSQL, (char *)g, gn, why, sizeof why), -1);
  assert_non_null(strstr(why, "does not offer TLS (no CLIENT_SSL"));
  /* nothing said at all: the deadline, with what was read */
  assert_int_equal(ok(TF_STARTTLS_SMTP, "", 0, why, sizeof why), -1);
  assert_non_null(strstr(why, "timed out waiting for the greeting (0 bytes"));
}

/* Every prefix of each good server, then closed: a reason each time (the
 * full one succeeds), and never a read beyond what was there. */
static void test_truncations(void **st) {
  (void)st;
  char why[300];
  uint8_t g[128];
  size_t gn = mysql_greeting(g, true);
  struct {
    int proto;
    const void *b;
    size_t n;
  } cases[] = {{TF_STARTTLS_SMTP, S(smtp_ok)},
               {TF_STARTTLS_IMAP, S(imap_ok)},
               {TF_STARTTLS_POP3, S(pop3_ok)},
               {TF_STARTTLS_FTP, S(ftp_ok)},
               {TF_STARTTLS_LDAP, ldap_ok, sizeof ldap_ok},
               {TF_STARTTLS_POSTGRES, pg_ok, 1},
               {TF_STARTTLS_MYSQL, g, gn},
               {TF_STARTTLS_XMPP, S(xmpp_ok)}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    for (size_t n = 0; n < cases[k].n; n++) {
      why[0] = 0;
      int rc = run(cases[k].proto, cases[k].b, n, true, why, sizeof why, NULL,
                   0, NULL);
      if (rc != -1 || !why[0])
        fail_msg("%s cut at %zu: rc %d \"%s\"",
                 tf_starttls_name(cases[k].proto), n, rc, why);
    }
}

/* Seeded mutations: flipped, deleted and inserted bytes (NUL, CR, LF,
 * 0xff, BER long-form lengths).  Only "no crash, an answer" is asserted. */
static void test_mutations(void **st) {
  (void)st;
  char why[300];
  uint8_t g[128];
  size_t gn = mysql_greeting(g, true);
  const void *srcs[] = {smtp_ok, imap_ok, pop3_ok, ftp_ok,
                        ldap_ok, pg_ok,   g,       xmpp_ok};
  size_t lens[] = {sizeof smtp_ok - 1,
                   sizeof imap_ok - 1,
                   sizeof pop3_ok - 1,
                   sizeof ftp_ok - 1,
                   sizeof ldap_ok,
                   1,
                   gn,
                   sizeof xmpp_ok - 1};
  static const uint8_t special[] = {0, '\r', '\n', 0xff, 0x84, 0x30, '-', ' '};
  srand(20037);
  for (int proto = 1; proto < TF_STARTTLS_COUNT; proto++)
    for (int i = 0; i < 150; i++) {
      uint8_t b[1024];
      size_t n = lens[proto - 1];
      memcpy(b, srcs[proto - 1], n);
      for (int m = 0, k = 1 + rand() % 3; m < k && n > 0; m++) {
        size_t at = (size_t)rand() % n;
        switch (rand() % 3) {
        case 0:
          b[at] = rand() % 2 ? (uint8_t)rand() : special[rand() % 8];
          break;
        case 1:
          memmove(b + at, b + at + 1, n - at - 1);
          n--;
          break;
        default:
          if (n < sizeof b) {
            memmove(b + at + 1, b + at, n - at);
            b[at] = special[rand() % 8];
            n++;
          }
        }
      }
      why[0] = 0;
      int rc = run(proto, b, n, true, why, sizeof why, NULL, 0, NULL);
      assert_true(rc == 0 || (rc == -1 && why[0]));
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),     cmocka_unit_test(test_go_ahead),
      cmocka_unit_test(test_refusals),  cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

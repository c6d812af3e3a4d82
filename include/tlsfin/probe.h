/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsfin probe: how a real TLS server handles versions and teardown.
 *
 * libtls-style: one opaque object, 0 / -1 returns, the message of the last
 * failure with tlsfin_probe_error().  Results use the taxonomy vocabulary.
 */
#ifndef TLSFIN_PROBE_H
#define TLSFIN_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a server answered a ClientHello offering one version. */
#define TLSFIN_VERSION_OUTCOME_MAP(X)                                          \
  X(ACCEPTED, "accepted", "ServerHello: the version was negotiated")           \
  X(ALERT, "alert", "refused with a TLS alert")                                \
  X(RESET, "reset", "refused with a TCP RST")                                  \
  X(CLOSED, "closed", "refused with a bare FIN")                               \
  X(TIMEOUT, "timeout", "no answer before the deadline")                       \
  X(GARBAGE, "garbage", "answered with bytes that are not TLS")                \
  X(UNREACHABLE, "unreachable", "the TCP connection failed")                   \
  X(STARTTLS_FAILED, "starttls_failed",                                        \
    "the plaintext upgrade (--starttls) failed: no ClientHello sent")

/* How a server reacted to one way of ending a connection. */
#define TLSFIN_CLOSE_OUTCOME_MAP(X)                                            \
  X(CLOSE_NOTIFY, "close_notify", "answered with close_notify")                \
  X(FIN, "fin", "closed with a bare FIN")                                      \
  X(RST, "rst", "reset the connection")                                        \
  X(NOTHING, "nothing", "did nothing before the deadline")                     \
  X(DATA, "data", "kept sending data")                                         \
  X(SKIPPED, "skipped", "not tested")                                          \
  X(GARBAGE, "garbage", "sent bytes that are not TLS records")                 \
  X(ALERT, "alert", "answered with a TLS alert other than close_notify")       \
  X(ACCEPTED, "accepted", "took our data without complaint (FIN or silence)")

typedef enum {
#define TLSFIN_X_(e, n, h) TLSFIN_VERSION_##e,
  TLSFIN_VERSION_OUTCOME_MAP(TLSFIN_X_)
#undef TLSFIN_X_
      TLSFIN_VERSION_OUTCOME_COUNT
} tlsfin_version_outcome;

typedef enum {
#define TLSFIN_X_(e, n, h) TLSFIN_CLOSE_##e,
  TLSFIN_CLOSE_OUTCOME_MAP(TLSFIN_X_)
#undef TLSFIN_X_
      TLSFIN_CLOSE_OUTCOME_COUNT
} tlsfin_close_outcome;

/* Public names; "?" for a value out of range (never NULL). */
const char *tlsfin_version_outcome_name(tlsfin_version_outcome o);
const char *tlsfin_close_outcome_name(tlsfin_close_outcome o);

/* The versions probed, in this order (SSL3 ... TLS1.3), then "max": a
 * ClientHello offering TLS 1.0 to 1.3 at once (does the server pick its
 * best version, i.e. downgrade correctly?). */
#define TLSFIN_PROBE_VERSIONS 6

struct tlsfin_probe_version {
  uint16_t offered; /* wire version; 0 for the "max" row */
  tlsfin_version_outcome outcome;
  uint16_t negotiated; /* ACCEPTED: the ServerHello's version */
  int alert;           /* ALERT: description code, -1 if unknown */
  double ms;           /* time to the outcome */
};

/* The close tests, each on its own full handshake. */
enum tlsfin_probe_close_test {
  TLSFIN_PROBE_CLOSE_NOTIFY = 0, /* we send close_notify, keep reading */
  TLSFIN_PROBE_HALF_CLOSE,       /* request (--http), close_notify, read on */
  TLSFIN_PROBE_TRUNCATION,       /* bare FIN without close_notify */
  TLSFIN_PROBE_IDLE, /* silence until the server closes; with --http after a
                        request and its response (keep-alive timeout) */
  TLSFIN_PROBE_DATA_AFTER_CN, /* close_notify, then application data */
  TLSFIN_PROBE_HALF_CLOSE_13, /* TLS 1.3, --http: we write after the
                                 server's close_notify (RFC 8446 §6.1) */
  TLSFIN_PROBE_H2_GOAWAY,     /* --http, ALPN h2: GOAWAY, then? */
  TLSFIN_PROBE_KEY_UPDATE,    /* TLS 1.3: KeyUpdate, then close_notify */
  TLSFIN_PROBE_CLOSE_TESTS
};

struct tlsfin_probe_close {
  tlsfin_close_outcome outcome;
  tlsfin_close_outcome then; /* after close_notify: did FIN/RST follow? */
  bool response;             /* HALF_CLOSE, IDLE: the HTTP response arrived */
  double ms;
  char note[160];
};

struct tlsfin_probe;

struct tlsfin_probe *tlsfin_probe_new(void);
void tlsfin_probe_free(struct tlsfin_probe *p);
const char *tlsfin_probe_error(const struct tlsfin_probe *p);

/* Target "host:port", "[v6]:port"; the host is an address or a name.  A
 * name is resolved by tlsfin_probe_run() under the timeout, like every other
 * step: "HOST: name resolution timed out after N ms" when the resolver does
 * not answer in time. */
int tlsfin_probe_set_target(struct tlsfin_probe *p, const char *target);
int tlsfin_probe_set_sni(struct tlsfin_probe *p, const char *sni);
int tlsfin_probe_set_http(struct tlsfin_probe *p, bool on);
int tlsfin_probe_set_timeout_ms(struct tlsfin_probe *p, int ms);
/* 0 (default): no idle test; otherwise wait up to this many seconds. */
int tlsfin_probe_set_idle_max(struct tlsfin_probe *p, int seconds);
/* Upgrade every connection from plaintext first: "smtp", "imap", "pop3",
 * "ftp", "ldap", "postgres", "mysql" or "xmpp" (NULL or "": none, the
 * default); -1 for another name.  When the upgrade fails on the first
 * connection the target is untested with the protocol's reason ("smtp:
 * server does not offer STARTTLS (EHLO reply has no STARTTLS)"). */
int tlsfin_probe_set_starttls(struct tlsfin_probe *p, const char *proto);
/* With "xmpp": the stream's to= domain (default: the SNI, else HOST). */
int tlsfin_probe_set_xmpp_host(struct tlsfin_probe *p, const char *name);

/* Resolves the target, runs the version matrix and the close tests.  -1
 * when the target could not be tested (message in tlsfin_probe_error):
 * name resolution failed or timed out, no connection could be made, or
 * the server answered none of the ClientHellos before the deadline.  The
 * record can be written either way: tlsfin_probe_write_table/json give an
 * untested target "tested": false, its reason and the version rows that
 * ran. */
int tlsfin_probe_run(struct tlsfin_probe *p);
/* After tlsfin_probe_run(): whether the server answered anything (even a
 * reset or garbage is an answer); when not, why, without the target's
 * name (e.g. "cannot connect: Connection refused"), else NULL. */
bool tlsfin_probe_tested(const struct tlsfin_probe *p);
const char *tlsfin_probe_reason(const struct tlsfin_probe *p);

const struct tlsfin_probe_version *
tlsfin_probe_version(const struct tlsfin_probe *p, int i);
const struct tlsfin_probe_close *
tlsfin_probe_close(const struct tlsfin_probe *p,
                   enum tlsfin_probe_close_test t);

int tlsfin_probe_write_table(const struct tlsfin_probe *p, FILE *out);
int tlsfin_probe_write_json(const struct tlsfin_probe *p, FILE *out);

/* Client mode: a TLS server that reports how each client behaves. */
enum tlsfin_behave {
  TLSFIN_BEHAVE_CLOSE_NOTIFY = 0, /* respond, then close_notify + FIN */
  TLSFIN_BEHAVE_FIN_MID_RESPONSE, /* FIN 1000 bytes short, no close_notify */
  TLSFIN_BEHAVE_RESET,            /* respond, then RST */
  TLSFIN_BEHAVE_IDLE_CLOSE,       /* respond, keep alive: wait for the client */
};
const char *tlsfin_behave_name(enum tlsfin_behave b);
int tlsfin_behave_parse(const char *s); /* -1 when unknown */

struct tlsfin_listen_client {
  char peer[64];      /* the client's address: 127.0.0.1, ::1 (an IPv4
                         client of a dual-stack socket as IPv4) */
  uint16_t peer_port; /* and its port */
  char sni[256];      /* the server name it sent, "" for none */
  bool handshake, request;
  uint16_t client_max_version; /* highest version offered */
  uint16_t version;            /* negotiated */
  /* what the client did after our behaviour: close_notify (then FIN/RST),
   * a bare FIN, an RST, data, nothing (by the deadline) */
  tlsfin_close_outcome reaction;
  tlsfin_close_outcome then;
  bool sent_close_notify;
  double ms;
  char note[96];
};

/* At most this many clients are served at once (fewer when the file limit
 * is lower and cannot be raised); the next connections wait in the listen
 * backlog until one finishes.  None is refused. */
#define TLSFIN_LISTEN_MAX_CLIENTS 512

struct tlsfin_listen_opts {
  /* PORT (on 127.0.0.1), IPV4:PORT or [IPV6]:PORT; [::]:PORT serves IPv6
   * and IPv4 alike (dual stack, whatever net.ipv6.bindv6only says) */
  const char *addr;
  enum tlsfin_behave behave;
  int count;      /* clients to serve, 0: until killed */
  int timeout_ms; /* each client's deadline, from its accept */
  /* PEM certificate (chain) and key; NULL: a self-signed one made at
   * start */
  const char *cert_file, *key_file;
};

/* Serves o->count clients on o->addr, concurrently, each under its own
 * deadline, calling report for each in the order they finish.  -1 with err
 * set when it cannot listen or load the certificate. */
int tlsfin_probe_listen(const struct tlsfin_listen_opts *o,
                        void (*report)(void *arg,
                                       const struct tlsfin_listen_client *c),
                        void *arg, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif

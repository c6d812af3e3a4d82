/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * SSLKEYLOGFILE reader (the NSS key log format: curl, browsers, OpenSSL's
 * SSL_CTX_set_keylog_callback, Python ssl, gnutls).  Lines are
 * "LABEL <client_random hex> <secret hex>"; '#' starts a comment.  Secrets
 * are looked up by the ClientHello random.  Garbage lines are counted and
 * reported, never fatal.
 */
#ifndef TLSFIN_ANALYZE_KEYLOG_H
#define TLSFIN_ANALYZE_KEYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum tf_secret {
  TF_SECRET_MASTER = 0, /* CLIENT_RANDOM (TLS <= 1.2) */
  TF_SECRET_CLIENT_HS,  /* CLIENT_HANDSHAKE_TRAFFIC_SECRET */
  TF_SECRET_SERVER_HS,  /* SERVER_HANDSHAKE_TRAFFIC_SECRET */
  TF_SECRET_CLIENT_AP0, /* CLIENT_TRAFFIC_SECRET_0 */
  TF_SECRET_SERVER_AP0, /* SERVER_TRAFFIC_SECRET_0 */
  TF_SECRET_COUNT
};

struct tf_keys {
  uint8_t len[TF_SECRET_COUNT]; /* 0 when absent */
  /* 48 bytes: the longest TLS secret (SHA-384 suites, the TLS 1.2 master
   * secret) */
  uint8_t secret[TF_SECRET_COUNT][48];
};

struct tf_keylog;

struct tf_keylog *tf_keylog_new(void);
void tf_keylog_free(struct tf_keylog *k);
/* Adds the lines of text (a file's contents or a pcapng Decryption Secrets
 * Block).  Returns the number of secrets added; *bad (if not NULL) is
 * increased by the number of malformed lines, and the first one's line
 * number is stored in *first_bad_line when it was 0. */
int tf_keylog_add_text(struct tf_keylog *k, const char *text, size_t len,
                       unsigned *bad, unsigned *first_bad_line);
int tf_keylog_load_file(struct tf_keylog *k, const char *path, char *err,
                        size_t errlen);
/* Secrets of the connection whose ClientHello random is cr (32 bytes), or
 * NULL. */
const struct tf_keys *tf_keylog_find(const struct tf_keylog *k,
                                     const uint8_t cr[32]);
/* A consistent copy of the keys tf_keylog_find returned (entries stay
 * valid for the log's life, but another thread may be adding to one). */
void tf_keylog_read(const struct tf_keylog *k, const struct tf_keys *e,
                    struct tf_keys *out);
size_t tf_keylog_count(const struct tf_keylog *k);
/* The key log lines of one connection (NUL-terminated, as many whole lines
 * as fit in n); returns their length.  The flight recorder writes them into
 * a pcapng Decryption Secrets Block. */
size_t tf_keylog_format(const struct tf_keys *k, const uint8_t cr[32],
                        char *out, size_t n);
/* A stream giving in's bytes unchanged while every pcapng DSB passing
 * through is added to k (one pass: stdin, FIFOs, compressed files).  Owns
 * in (fclose closes both); NULL when out of memory. */
FILE *tf_pcapng_scan_secrets(FILE *in, struct tf_keylog *k);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Decryption of one connection's records with keys from an SSLKEYLOGFILE
 * (or a pcapng Decryption Secrets Block), so that alerts are read instead
 * of guessed and the HTTP framing of the application data tells whether a
 * truncation lost data.  Called by tls.c for each complete encrypted
 * record; owns nothing tls.c needs when no keys are loaded.
 */
#ifndef TLSFIN_ANALYZE_TLSDEC_H
#define TLSFIN_ANALYZE_TLSDEC_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "keylog.h"
#include "tlscrypt.h"

enum tf_keys_status {
  TF_KEYS_NONE = 0,    /* no key log given */
  TF_KEYS_MISSING,     /* a key log, but nothing for this connection */
  TF_KEYS_UNSUPPORTED, /* cipher suite or version tlsfin cannot decrypt */
  TF_KEYS_MISMATCH,    /* keys present, but records do not authenticate */
  TF_KEYS_OK,          /* records decrypted */
};

struct tf_tlsdec {
  const struct tf_keys *keys; /* read through tf_keylog_read: the key log
                                 may be adding to it meanwhile */
  const struct tf_keylog *log;
  struct tf_dec dec[2];
  uint8_t epoch[2]; /* 0 none, 1 TLS 1.3 handshake keys, 2 application */
  uint8_t *rec[2];  /* the current record's body, MAX_RECORD bytes */
  uint32_t rec_have[2];
  uint8_t *plain;
  struct tf_http *http[2]; /* client requests, server responses */
  uint32_t records_ok, records_failed;
  bool http_gave_up[2];
};

/* Decrypts body (len bytes) of a record of outer type `type` sent in
 * direction dir.  Returns the plaintext length and sets *inner and *out
 * (valid until the next call), or -1 when it could not be decrypted. */
struct tf_tls;
int tf_tlsdec_record(struct tf_tls *t, int dir, uint8_t type,
                     const uint8_t *body, uint32_t len, const uint8_t **out,
                     uint8_t *inner);
/* Sets up keys once both hellos are known (TLS 1.3) or after CCS (1.2). */
void tf_tlsdec_start(struct tf_tls *t);
void tf_tlsdec_free(struct tf_tlsdec *x);
const char *tf_keys_status_name(uint8_t s);

#endif

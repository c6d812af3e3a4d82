/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hand-built TLS records for the close tests that OpenSSL will not perform
 * (it writes nothing after SSL_shutdown), and the reading of the server's
 * encrypted records on a raw socket.  The key schedule and decryption are
 * the analyzer's (src/analyze/tlscrypt.c); this adds the sealing side, AEAD
 * suites only: AES-GCM and ChaCha20-Poly1305.
 */
#ifndef TLSFIN_PROBE_TLSRECORD_H
#define TLSFIN_PROBE_TLSRECORD_H
#include <stddef.h>
#include <stdint.h>

#include "tlscrypt.h"

/* Seals one record of content type `type` (TLS 1.3: the inner type, RFC
 * 8446 §5.2; outer type application_data) with w's key and sequence number,
 * and advances it.  Writes header and body to out; returns the record's
 * length, or -1 when w is not an AEAD write state, the plaintext is over
 * 2^14 bytes (RFC 8446 §5.1) or out is too small. */
int tf_seal_record(struct tf_dec *w, uint8_t type, const uint8_t *pt,
                   size_t len, uint8_t *out, size_t cap);

/* Splits the first complete record off buf (n bytes): 1 with *type, *body,
 * *blen set and *used the record's full length, 0 when more bytes are
 * needed, -1 when the header cannot be a TLS record (unknown type, major
 * version not 3, or longer than RFC 8446 §5.2 / RFC 5246 §6.2.3 allow). */
int tf_record_next(const uint8_t *buf, size_t n, uint8_t *type,
                   const uint8_t **body, size_t *blen, size_t *used);
#endif

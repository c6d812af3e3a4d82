/* SPDX-License-Identifier: BSD-2-Clause */
#include "tlsdec.h"

#include <stdlib.h>
#include <string.h>

#include "tls.h"

#define MAX_RECORD (16384 + 2048)

const char *tf_keys_status_name(uint8_t s) {
  switch (s) {
  case TF_KEYS_MISSING:
    return "no_keys";
  case TF_KEYS_UNSUPPORTED:
    return "unsupported_cipher";
  case TF_KEYS_MISMATCH:
    return "keys_do_not_match";
  case TF_KEYS_OK:
    return "decrypted";
  default:
    return "none";
  }
}

void tf_tlsdec_free(struct tf_tlsdec *x) {
  if (!x)
    return;
  for (int d = 0; d < 2; d++) {
    free(x->rec[d]);
    free(x->http[d]);
  }
  free(x->plain);
  free(x);
}

/* TLS 1.3 secrets per direction and epoch (RFC 8446 §7.1). */
static int secret_for(int dir, int epoch) {
  if (epoch == 1)
    return dir == 0 ? TF_SECRET_CLIENT_HS : TF_SECRET_SERVER_HS;
  return dir == 0 ? TF_SECRET_CLIENT_AP0 : TF_SECRET_SERVER_AP0;
}

static int init_epoch(struct tf_tlsdec *x, const struct tf_suite *s, int dir,
                      int epoch) {
  int k = secret_for(dir, epoch);
  struct tf_keys keys;
  tf_keylog_read(x->log, x->keys, &keys);
  if (!keys.len[k])
    return -1;
  if (tf_dec_init_tls13(&x->dec[dir], s, keys.secret[k], keys.len[k]) < 0)
    return -1;
  x->epoch[dir] = (uint8_t)epoch;
  return 0;
}

void tf_tlsdec_start(struct tf_tls *t) {
  if (!t->keylog || t->crypto || !t->server_hello)
    return;
  const struct tf_keys *found = tf_keylog_find(t->keylog, t->client_random);
  if (!found) {
    t->keys_status = TF_KEYS_MISSING;
    t->keylog_seen = tf_keylog_count(t->keylog);
    return;
  }
  const struct tf_suite *s = tf_suite_find(t->cipher);
  if (!s || s->tls13 != (t->version == 0x0304)) {
    t->keys_status = TF_KEYS_UNSUPPORTED;
    return;
  }
  struct tf_tlsdec *x = calloc(1, sizeof *x);
  if (!x)
    return;
  x->keys = found;
  x->log = t->keylog;
  struct tf_keys keys;
  tf_keylog_read(t->keylog, found, &keys);
  x->plain = malloc(MAX_RECORD);
  if (!x->plain) {
    free(x);
    return;
  }
  if (s->tls13) {
    for (int d = 0; d < 2; d++)
      if (init_epoch(x, s, d, 1) < 0 && init_epoch(x, s, d, 2) < 0) {
        t->keys_status = TF_KEYS_MISSING;
        tf_tlsdec_free(x);
        return;
      }
  } else {
    if (!keys.len[TF_SECRET_MASTER] ||
        tf_dec_init_tls12(&x->dec[0], &x->dec[1], s, t->version,
                          keys.secret[TF_SECRET_MASTER], t->client_random,
                          t->server_random) < 0) {
      t->keys_status =
          keys.len[TF_SECRET_MASTER] ? TF_KEYS_UNSUPPORTED : TF_KEYS_MISSING;
      tf_tlsdec_free(x);
      return;
    }
    x->epoch[0] = x->epoch[1] = 2;
    x->dec[0].etm = x->dec[1].etm = t->etm;
  }
  t->crypto = x;
}

static void feed_http(struct tf_tlsdec *x, int dir, const uint8_t *p,
                      uint32_t n) {
  if (x->http_gave_up[dir])
    return;
  if (!x->http[dir]) {
    x->http[dir] = malloc(sizeof *x->http[dir]);
    if (!x->http[dir]) {
      x->http_gave_up[dir] = true;
      return;
    }
    tf_http_init(x->http[dir], dir == 1);
  }
  if (tf_http_feed(x->http[dir], p, n) < 0)
    x->http_gave_up[dir] = true; /* not HTTP/1.x (HTTP/2, IMAP, ...) */
}

int tf_tlsdec_record(struct tf_tls *t, int dir, uint8_t type,
                     const uint8_t *body, uint32_t len, const uint8_t **out,
                     uint8_t *inner) {
  struct tf_tlsdec *x = t->crypto;
  if (!x || len > MAX_RECORD)
    return -1;
  struct tf_dec *d = &x->dec[dir];
  int n = tf_dec_record(d, type, body, len, x->plain, inner);
  if (n < 0 && d->suite && d->suite->tls13 && x->epoch[dir] == 1) {
    /* The handshake epoch ends with the Finished: the first record that
     * does not open with handshake keys opens with application keys. */
    struct tf_dec saved = *d;
    if (init_epoch(x, d->suite, dir, 2) == 0)
      n = tf_dec_record(d, type, body, len, x->plain, inner);
    if (n < 0) {
      *d = saved;
      x->epoch[dir] = 1;
    }
  }
  if (n < 0) {
    x->records_failed++;
    if (!x->records_ok)
      t->keys_status = TF_KEYS_MISMATCH;
    return -1;
  }
  x->records_ok++;
  t->keys_status = TF_KEYS_OK;
  if (d->suite->tls13 && *inner == 22 && x->epoch[dir] == 2) {
    /* KeyUpdate (RFC 8446 §4.6.3): the next records use the next
     * generation of this direction's secret. */
    for (int i = 0; i + 4 <= n;) {
      uint32_t ml = (uint32_t)x->plain[i + 1] << 16 |
                    (uint32_t)x->plain[i + 2] << 8 | x->plain[i + 3];
      if (x->plain[i] == 24)
        tf_dec_key_update(d);
      i += 4 + (int)ml;
    }
  }
  if (*inner == 23 && n > 0)
    feed_http(x, dir, x->plain, (uint32_t)n);
  *out = x->plain;
  return n;
}

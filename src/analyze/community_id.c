/* SPDX-License-Identifier: BSD-2-Clause */
/* Community ID v1 (https://github.com/corelight/community-id-spec): the
 * flow hash Zeek and Suricata emit, so tlsfin records join their logs. */
#include "community_id.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

/* SHA-1 fetched once: EVP_Digest with EVP_sha1() fetches the algorithm
 * from the provider on every call (OpenSSL 3), which was most of the cost
 * of a record's community id.  Shared read-only by every thread. */
static EVP_MD *sha1_md;
static pthread_once_t sha1_once = PTHREAD_ONCE_INIT;
static void sha1_fetch(void) { sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL); }

void tf_community_id(const struct tf_conn *c, char out[TF_COMMUNITY_ID_LEN]) {
  size_t n = c->af == 4 ? 4 : 16;
  const struct tf_side *a = &c->s[0], *b = &c->s[1];
  /* the endpoint with the smaller address (then port) comes first */
  int cmp = memcmp(a->addr, b->addr, n);
  if (cmp > 0 || (cmp == 0 && a->port > b->port)) {
    const struct tf_side *t = a;
    a = b;
    b = t;
  }
  uint8_t in[2 + 16 + 16 + 2 + 4], *p = in;
  *p++ = 0; /* seed 0, network byte order */
  *p++ = 0;
  memcpy(p, a->addr, n);
  p += n;
  memcpy(p, b->addr, n);
  p += n;
  *p++ = 6; /* TCP */
  *p++ = 0; /* padding */
  *p++ = (uint8_t)(a->port >> 8);
  *p++ = (uint8_t)a->port;
  *p++ = (uint8_t)(b->port >> 8);
  *p++ = (uint8_t)b->port;
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  memcpy(out, "1:", 2);
  pthread_once(&sha1_once, sha1_fetch);
  if (!sha1_md ||
      EVP_Digest(in, (size_t)(p - in), md, &mdlen, sha1_md, NULL) != 1 ||
      mdlen != 20) {
    out[2] = 0;
    return;
  }
  EVP_EncodeBlock((unsigned char *)out + 2, md, 20); /* 28 chars + NUL */
}

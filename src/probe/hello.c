/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hand-built ClientHellos for the version matrix (RFC 8446 §4.1.2, RFC 5246
 * §7.4.1.2, RFC 6101 for SSL 3.0): each offers exactly one version, so the
 * answer says how the server treats that version, whatever the local
 * OpenSSL build could still speak.
 */
#include "hello.h"

#include <openssl/rand.h>
#include <string.h>

struct w {
  uint8_t *p;
  size_t n, cap;
  int bad;
};
static void put(struct w *w, const void *d, size_t n) {
  if (w->n + n > w->cap) {
    w->bad = 1;
    return;
  }
  memcpy(w->p + w->n, d, n);
  w->n += n;
}
static void u8(struct w *w, unsigned v) {
  uint8_t b = (uint8_t)v;
  put(w, &b, 1);
}
static void u16(struct w *w, unsigned v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put(w, b, 2);
}
/* Length-prefixed block: remember where, fill in when done. */
static size_t open16(struct w *w) {
  size_t at = w->n;
  u16(w, 0);
  return at;
}
static void close16(struct w *w, size_t at) {
  if (w->bad)
    return;
  size_t l = w->n - at - 2;
  w->p[at] = (uint8_t)(l >> 8);
  w->p[at + 1] = (uint8_t)l;
}

static const uint16_t suites13[] = {0x1301, 0x1302, 0x1303};
static const uint16_t suites12[] = {0xc02f, 0xc030, 0xc02b, 0xc02c, 0xcca8,
                                    0xcca9, 0xc027, 0xc028, 0xc023, 0xc024,
                                    0x009c, 0x009d, 0x003c, 0x003d};
/* CBC suites that exist since SSL 3.0 / TLS 1.0 */
static const uint16_t suites_old[] = {0xc013, 0xc014, 0xc009, 0xc00a,
                                      0x002f, 0x0035, 0x000a};

size_t tf_build_client_hello(uint8_t *out, size_t cap, uint16_t version,
                             const char *sni) {
  struct w w = {out, 0, cap, 0};
  bool max = version == 0;
  bool v13 = max || version == 0x0304;
  uint16_t legacy = max || version >= 0x0303 ? 0x0303 : version;
  uint8_t rnd[32 + 32 + 32];
  if (RAND_bytes(rnd, sizeof rnd) != 1)
    return 0;
  u8(&w, 22);
  u16(&w, version == 0x0300 ? 0x0300 : 0x0301); /* record version */
  size_t rec = open16(&w);
  u8(&w, 1); /* client_hello */
  u8(&w, 0);
  size_t hs = open16(&w); /* 24-bit length: top byte stays 0 */
  u16(&w, legacy);
  put(&w, rnd, 32);
  u8(&w, 32); /* session id (RFC 8446 §D.4 middlebox compatibility) */
  put(&w, rnd + 32, 32);
  size_t cs = open16(&w);
  if (v13)
    for (size_t i = 0; i < 3; i++)
      u16(&w, suites13[i]);
  if (max || version == 0x0303)
    for (size_t i = 0; i < sizeof suites12 / 2; i++)
      u16(&w, suites12[i]);
  if (!v13 || max)
    for (size_t i = 0; i < sizeof suites_old / 2; i++)
      u16(&w, suites_old[i]);
  u16(&w, 0x00ff); /* TLS_EMPTY_RENEGOTIATION_INFO_SCSV */
  close16(&w, cs);
  u8(&w, 1);
  u8(&w, 0);               /* null compression */
  if (version != 0x0300) { /* SSL 3.0 hellos carry no extensions */
    size_t exts = open16(&w);
    if (sni && *sni) { /* RFC 6066 §3 */
      size_t l = strlen(sni);
      u16(&w, 0);
      size_t e = open16(&w);
      u16(&w, (unsigned)(l + 3));
      u8(&w, 0);
      u16(&w, (unsigned)l);
      put(&w, sni, l);
      close16(&w, e);
    }
    u16(&w, 10); /* supported_groups: x25519, secp256r1, secp384r1 */
    u16(&w, 8);
    u16(&w, 6);
    u16(&w, 0x001d);
    u16(&w, 0x0017);
    u16(&w, 0x0018);
    u16(&w, 11); /* ec_point_formats: uncompressed */
    u16(&w, 2);
    u8(&w, 1);
    u8(&w, 0);
    static const uint16_t sigs[] = {0x0403, 0x0503, 0x0603, 0x0804,
                                    0x0805, 0x0806, 0x0401, 0x0501,
                                    0x0601, 0x0201, 0x0203};
    u16(&w, 13); /* signature_algorithms */
    u16(&w, (unsigned)(2 + sizeof sigs));
    u16(&w, (unsigned)sizeof sigs);
    for (size_t i = 0; i < sizeof sigs / 2; i++)
      u16(&w, sigs[i]);
    u16(&w, 0xff01); /* renegotiation_info, empty */
    u16(&w, 1);
    u8(&w, 0);
    if (v13) {
      u16(&w, 43); /* supported_versions */
      size_t e = open16(&w);
      if (max) {
        u8(&w, 8);
        u16(&w, 0x0304);
        u16(&w, 0x0303);
        u16(&w, 0x0302);
        u16(&w, 0x0301);
      } else {
        u8(&w, 2);
        u16(&w, 0x0304);
      }
      close16(&w, e);
      u16(&w, 45); /* psk_key_exchange_modes: psk_dhe_ke */
      u16(&w, 2);
      u8(&w, 1);
      u8(&w, 1);
      u16(&w, 51); /* key_share: x25519 with 32 random bytes (any 32 bytes
                      are a valid X25519 public value, RFC 7748 §5) */
      u16(&w, 38);
      u16(&w, 36);
      u16(&w, 0x001d);
      u16(&w, 32);
      put(&w, rnd + 64, 32);
    }
    close16(&w, exts);
  }
  close16(&w, hs);
  close16(&w, rec);
  return w.bad ? 0 : w.n;
}

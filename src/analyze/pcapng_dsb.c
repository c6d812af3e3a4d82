/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pcapng Decryption Secrets Blocks (pcapng spec §4.7, block type 0x0A,
 * secrets type 0x544c534b "TLSK": an SSLKEYLOGFILE) are not exposed by
 * libpcap, so the bytes libpcap reads are walked block by block here as
 * they pass.  editcap --inject-secrets writes them; keys travel with the
 * capture.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keylog.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_DSB 0x0000000Au
#define TLS_KEY_LOG 0x544c534bu
#define MAX_BLOCK (64u << 20)

static uint32_t rd32(const uint8_t *p, int swap) {
  uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
  if (swap)
    v = (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
  return v;
}

/* A stdio stream that hands the bytes of another through unchanged while a
 * small state machine walks its pcapng blocks and feeds every DSB to the
 * key log: keys embedded in a capture work from stdin, a FIFO or a
 * compressed file, with no second read (DSBs precede the packets they
 * protect: editcap and Wireshark write them first). */
struct scan {
  FILE *in;
  struct tf_keylog *k;
  int swap;
  bool off;        /* not pcapng, or damaged: pass the bytes through */
  uint8_t hdr[12]; /* the current block's header */
  size_t have;     /* header bytes collected */
  uint32_t left;   /* bytes of the current block still to come */
  uint8_t *body;   /* a DSB's body being collected (NULL otherwise) */
  uint32_t body_len, body_have;
};

static void scan_bytes(struct scan *z, const uint8_t *p, size_t n) {
  while (n && !z->off) {
    if (z->left == 0) { /* a block header */
      size_t need = 8 - (z->have < 8 ? z->have : 8);
      if (z->have >= 8)
        need = 12 - z->have; /* the SHB's byte-order magic */
      size_t take = need < n ? need : n;
      memcpy(z->hdr + z->have, p, take);
      z->have += take;
      p += take;
      n -= take;
      if (z->have < 8)
        return;
      uint32_t type = rd32(z->hdr, 0);
      if (type == BT_SHB && z->have < 12)
        continue;
      if (type == BT_SHB) {
        uint32_t bom = rd32(z->hdr + 8, 0);
        if (bom != 0x1A2B3C4Du && bom != 0x4D3C2B1Au) {
          z->off = true;
          return;
        }
        z->swap = bom == 0x4D3C2B1Au;
      } else if (z->swap < 0) { /* the first block must be an SHB */
        z->off = true;
        return;
      }
      uint32_t len = rd32(z->hdr + 4, z->swap);
      if (len < z->have + 4 || len % 4 || len > MAX_BLOCK) {
        z->off = true;
        return;
      }
      z->left = len - (uint32_t)z->have;
      z->have = 0;
      if (rd32(z->hdr, z->swap) == BT_DSB && type != BT_SHB) {
        z->body_len = len - 8;
        z->body_have = 0;
        z->body = malloc(z->body_len);
      }
      continue;
    }
    size_t take = z->left < n ? z->left : n;
    if (z->body) {
      memcpy(z->body + z->body_have, p, take);
      z->body_have += (uint32_t)take;
    }
    z->left -= (uint32_t)take;
    p += take;
    n -= take;
    if (z->left == 0 && z->body) {
      if (z->body_len >= 12) {
        uint32_t stype = rd32(z->body, z->swap),
                 slen = rd32(z->body + 4, z->swap);
        if (stype == TLS_KEY_LOG && slen <= z->body_len - 12)
          tf_keylog_add_text(z->k, (const char *)z->body + 8, slen, NULL, NULL);
      }
      free(z->body);
      z->body = NULL;
    }
  }
}

static ssize_t scan_read(void *cookie, char *buf, size_t n) {
  struct scan *z = cookie;
  size_t r = fread(buf, 1, n, z->in);
  if (r == 0 && ferror(z->in)) {
    errno = EIO;
    return -1;
  }
  scan_bytes(z, (const uint8_t *)buf, r);
  return (ssize_t)r;
}

static int scan_close(void *cookie) {
  struct scan *z = cookie;
  int rc = fclose(z->in);
  free(z->body);
  free(z);
  return rc;
}

FILE *tf_pcapng_scan_secrets(FILE *in, struct tf_keylog *k) {
  struct scan *z = calloc(1, sizeof *z);
  if (!z)
    return NULL;
  z->in = in;
  z->k = k;
  z->swap = -1;
  FILE *f = fopencookie(
      z, "rb", (cookie_io_functions_t){.read = scan_read, .close = scan_close});
  if (!f)
    free(z);
  return f;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pcapng Decryption Secrets Blocks (pcapng spec §4.7, block type 0x0A,
 * secrets type 0x544c534b "TLSK": an SSLKEYLOGFILE) are not exposed by
 * libpcap, so captures are walked block by block here.  editcap
 * --inject-secrets writes them; keys travel with the capture.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
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

/* Adds the secrets of every DSB in the pcapng file at path to k.  Returns
 * the number of secrets added, 0 for a classic pcap or a file without
 * DSBs, -1 when the file cannot be read. */
int tf_pcapng_load_secrets(struct tf_keylog *k, const char *path) {
  enum tf_compression kind;
  FILE *f = tf_input_open(path, &kind); /* keys in a .pcapng.gz too */
  if (!f)
    return -1;
  uint8_t hdr[12];
  int added = 0, swap = 0;
  while (fread(hdr, 1, 8, f) == 8) {
    uint32_t type = rd32(hdr, 0);
    if (type == BT_SHB) {
      if (fread(hdr + 8, 1, 4, f) != 4)
        break;
      uint32_t bom = rd32(hdr + 8, 0);
      if (bom == 0x1A2B3C4Du)
        swap = 0;
      else if (bom == 0x4D3C2B1Au)
        swap = 1;
      else
        break;
      uint32_t len = rd32(hdr + 4, swap);
      if (len < 28 || len % 4 || fseek(f, (long)len - 12, SEEK_CUR) != 0)
        break;
      continue;
    }
    type = rd32(hdr, swap);
    uint32_t len = rd32(hdr + 4, swap);
    if (len < 12 || len % 4 || len > MAX_BLOCK)
      break; /* not pcapng, or damaged: libpcap will say so */
    if (type != BT_DSB) {
      if (fseek(f, (long)len - 8, SEEK_CUR) != 0)
        break;
      continue;
    }
    uint8_t *body = malloc(len - 8);
    if (!body || fread(body, 1, len - 8, f) != len - 8) {
      free(body);
      break;
    }
    if (len >= 20) {
      uint32_t stype = rd32(body, swap), slen = rd32(body + 4, swap);
      if (stype == TLS_KEY_LOG && slen <= len - 20)
        added +=
            tf_keylog_add_text(k, (const char *)body + 8, slen, NULL, NULL);
    }
    free(body);
  }
  fclose(f);
  return added;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pcapng block builder (draft-ietf-opsawg-pcapng): the blocks tlsfin writes
 * (SHB, IDB, EPB with comments, DSB), little-endian, appended to a growable
 * buffer that the caller writes out.  Building apart from writing keeps the
 * byte layout testable without files, and a block is written whole or not
 * at all.  Every length is checked: a block never exceeds what libpcap reads
 * back (its limit is an EPB of the largest snaplen plus 128 KiB of
 * options), so tlsfin can read its own output.
 */
#ifndef TLSFIN_ANALYZE_PCAPNG_WRITE_H
#define TLSFIN_ANALYZE_PCAPNG_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TF_PCAPNG_BT_SHB 0x0A0D0D0Au
#define TF_PCAPNG_BT_IDB 0x00000001u
#define TF_PCAPNG_BT_EPB 0x00000006u
#define TF_PCAPNG_BT_DSB 0x0000000Au
#define TF_PCAPNG_SECRETS_TLS 0x544c534bu /* "TLSK": an SSLKEYLOGFILE */
#define TF_PCAPNG_OPT_COMMENT 1u
/* An option value carries a 16-bit length. */
#define TF_PCAPNG_OPT_MAX 65535u
/* An EPB's options, headers and padding included: libpcap accepts 128 KiB
 * of options beyond its largest packet. */
#define TF_PCAPNG_OPTS_MAX (128u << 10)
/* libpcap's largest snapshot length. */
#define TF_PCAPNG_SNAPLEN_MAX 262144u
/* The largest DSB payload written: libpcap refuses larger blocks (above),
 * so a big key log is split over several DSBs (tf_pcapng_text_cut). */
#define TF_PCAPNG_DSB_MAX (256u << 10)

struct tf_pcapng_buf {
  uint8_t *p;
  size_t len, cap;
  bool oom; /* a block did not fit in memory: the buffer is unusable */
};

void tf_pcapng_buf_free(struct tf_pcapng_buf *b);

/* Section Header Block, section length unknown; userappl may be NULL. */
void tf_pcapng_shb(struct tf_pcapng_buf *b, const char *userappl);
/* Interface Description Block: linktype is a LINKTYPE_ value
 * (tf_pcapng_linktype), name may be NULL, tsresol is if_tsresol's byte
 * (9: nanoseconds). */
void tf_pcapng_idb(struct tf_pcapng_buf *b, uint16_t linktype, uint32_t snaplen,
                   const char *name, uint8_t tsresol);
/* Decryption Secrets Block; -1 (nothing appended) past
 * TF_PCAPNG_DSB_MAX. */
int tf_pcapng_dsb(struct tf_pcapng_buf *b, uint32_t secrets_type,
                  const void *data, size_t len);
/* Enhanced Packet Block; ts in units of the interface's if_tsresol.  Each
 * of the n comments (UTF-8; NULL and "" are skipped) becomes an
 * opt_comment (Wireshark lists them one per line), cut at a character
 * boundary to fit TF_PCAPNG_OPT_MAX; all of them together stay within
 * TF_PCAPNG_OPTS_MAX, the last cut and the rest left out.  -1 (nothing
 * appended) when caplen exceeds TF_PCAPNG_SNAPLEN_MAX. */
int tf_pcapng_epb(struct tf_pcapng_buf *b, uint32_t iface, uint64_t ts,
                  const void *data, uint32_t caplen, uint32_t origlen,
                  const char *const *comments, size_t n);

/* Bytes of the NUL-terminated s that fit in max, not splitting a UTF-8
 * character. */
size_t tf_pcapng_utf8_cut(const char *s, size_t max);
/* The longest prefix of text[0..len) of at most max bytes that ends after
 * a newline (whole key log lines); a single line longer than max is cut at
 * max. */
size_t tf_pcapng_text_cut(const char *text, size_t len, size_t max);
/* pcapng wants LINKTYPE_ values: the DLT_ values that differ on Linux
 * (DLT_RAW 12, DLT_ATM_RFC1483 11) are translated; -1 when out of range. */
int tf_pcapng_linktype(int dlt);

/* Writes the buffer to f and empties it: 0, or -1 (errno set) when the
 * buffer ran out of memory or the write failed. */
int tf_pcapng_buf_write(struct tf_pcapng_buf *b, FILE *f);

#endif

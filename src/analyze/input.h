/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Capture files as stdio streams for libpcap (pcap_fopen_offline),
 * decompressed on the fly when the file is gzip (RFC 1952) or Zstandard
 * (RFC 8878), as Wireshark reads them: recognised by their magic bytes, not
 * by the name, so `x.pcap.gz`, a rotated `x.pcapng.zst` and a compressed
 * file without a suffix all work.  One pass: nothing is written to disk.
 * FIFOs and pipes cannot be sniffed and rewound: they are read as they are.
 */
#ifndef TLSFIN_ANALYZE_INPUT_H
#define TLSFIN_ANALYZE_INPUT_H

#include <stdio.h>

enum tf_compression { TF_COMP_NONE, TF_COMP_GZIP, TF_COMP_ZSTD };

/* The file as a readable stream (decompressed if it is compressed), or
 * NULL with errno set. */
FILE *tf_input_open(const char *path, enum tf_compression *kind);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Capture files from a read-only mmap (pcapfile.h).  Every check below is
 * one of libpcap 1.10.3's (sf-pcap.c, sf-pcapng.c, savefile.c), in the same
 * order and with the same message, so that a file is accepted or rejected
 * here exactly as with pcap_fopen_offline + pcap_next_ex; comments name the
 * libpcap function each part follows.  The byte reads are bounds-checked
 * (cursor.h); multi-byte fields are read in the host's order and swapped
 * when the file's magic number says so, as libpcap does.
 */
#include "pcapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"
#include "keylog.h"

/* ---- numbers from libpcap ---- */

/* pcap-savefile(5); sf-pcap.c */
#define TCPDUMP_MAGIC 0xa1b2c3d4u
#define KUZNETZOV_TCPDUMP_MAGIC 0xa1b2cd34u
#define NSEC_TCPDUMP_MAGIC 0xa1b23c4du
#define PCAP_VERSION_MAJOR 2
#define PCAP_VERSION_MINOR 4
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16
/* struct pcap_sf_patched_pkthdr: 16 + index 4 + protocol 2 + pkt_type 1,
 * padded to 24 */
#define PCAP_REC_HDR_PATCHED 24
/* the FCS bits in the high 6 bits of the link type field (sf-pcap.c
 * LT_LINKTYPE, LT_LINKTYPE_EXT; pcap-linktype(7)) */
#define LT_LINKTYPE(x) ((x)&0x03FFFFFFu)
#define LT_LINKTYPE_EXT(x) ((x)&0xFC000000u)

/* draft-ietf-opsawg-pcapng §3.2 (block types), §4.1 (SHB), §4.7 (DSB),
 * Appendix A (the obsolete Packet Block) */
#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_PB 0x00000002u /* obsolete Packet Block (Appendix A) */
#define BT_SPB 0x00000003u
#define BT_EPB 0x00000006u
#define BT_DSB 0x0000000Au
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define PCAP_NG_VERSION_MAJOR 1
#define BT_SHB_INSANE_MAX (1024u * 1024u)
#define SHB_MIN_LEN 28u /* header 8 + fixed part 16 + trailer 4 */
/* sf-pcapng.c: INITIAL_MAX_BLOCKSIZE and MAX_BLOCKSIZE_FOR_SNAPLEN
 * (header 8 + EPB fixed part 20 + snaplen + 128 KB options + trailer 4) */
#define INITIAL_MAX_BLOCKSIZE (16u * 1024u * 1024u)
#define MAX_BLOCKSIZE_FOR_SNAPLEN(s) (8u + 20u + (s) + 131072u + 4u)
/* options: §3.5 (opt_endofopt), §4.2 (if_tsresol, if_tsoffset) */
#define OPT_ENDOFOPT 0
#define IF_TSRESOL 9
#define IF_TSOFFSET 14

/* pcap-int.h MAXIMUM_SNAPLEN; pcap-common.c max_snaplen_for_dlt() */
#define MAXIMUM_SNAPLEN 262144u
static uint32_t max_snaplen_for_dlt(int dlt) {
  switch (dlt) {
  case DLT_DBUS:
    return 128u * 1024 * 1024;
  case DLT_EBHSCR:
    return 8u * 1024 * 1024;
  case DLT_USBPCAP:
    return 1024u * 1024;
  default:
    return MAXIMUM_SNAPLEN;
  }
}

/* savefile.c pcap_adjust_snapshot(): 0 or more than INT_MAX is bogus. */
static uint32_t adjust_snapshot(int dlt, uint32_t snaplen) {
  if (snaplen == 0 || snaplen > INT_MAX)
    snaplen = max_snaplen_for_dlt(dlt);
  return snaplen;
}

/* pcap-common.c linktype_to_dlt(): LINKTYPE_ values in the "matching"
 * range 104..289 are their DLT_ (but ATM_CLIP, PFSYNC, PKTAP); the others
 * go through this table; unknown values pass unchanged. */
static int linktype_to_dlt(int lt) {
  static const struct {
    int dlt, lt;
  } map[] = {
      {DLT_NULL, 0},          {DLT_EN10MB, 1},      {DLT_EN3MB, 2},
      {DLT_AX25, 3},          {DLT_PRONET, 4},      {DLT_CHAOS, 5},
      {DLT_IEEE802, 6},       {DLT_ARCNET, 7},      {DLT_SLIP, 8},
      {DLT_PPP, 9},           {DLT_FDDI, 10},       {DLT_SYMANTEC_FIREWALL, 99},
#ifdef DLT_FR
      {DLT_FR, 107},
#endif
      {DLT_ATM_RFC1483, 100}, {DLT_RAW, 101},       {DLT_SLIP_BSDOS, 102},
      {DLT_PPP_BSDOS, 103},   {DLT_HDLC, 112},      {DLT_C_HDLC, 104},
      {DLT_ATM_CLIP, 106},    {DLT_PPP_SERIAL, 50}, {DLT_PPP_ETHER, 51},
  };
  if (lt == 246) /* LINKTYPE_PFSYNC */
    return DLT_PFSYNC;
  if (lt == 258) /* LINKTYPE_PKTAP */
    return DLT_PKTAP;
  if (lt >= 104 && lt <= 289 && lt != 106)
    return lt;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (map[i].lt == lt)
      return map[i].dlt;
  return lt;
}

/* pcap-util.c pcap_post_process(): libpcap rewrites these packets after
 * reading them (pseudo-headers in the writer's byte order; USB lengths).
 * A read-only mapping cannot, so such files are left to libpcap. */
static bool post_processed(int dlt, bool swapped) {
  if (dlt == DLT_USB_LINUX_MMAPPED)
    return true;
  if (!swapped)
    return false;
  switch (dlt) {
  case DLT_PFLOG:
  case DLT_LINUX_SLL:
  case DLT_LINUX_SLL2:
  case DLT_USB_LINUX:
  case DLT_NFLOG:
    return true;
  default:
    return false;
  }
}

/* ---- the reader ---- */

/* pcapng: one interface (sf-pcapng.c struct pcap_ng_if) */
enum scale {
  PASS_THROUGH,
  SCALE_UP_DEC,
  SCALE_UP_BIN,
  SCALE_DOWN_DEC,
  SCALE_DOWN_BIN
};
struct ng_if {
  uint64_t tsresol, scale_factor, tsoffset;
  enum scale scale;
};

enum { NOT_SWAPPED, SWAPPED, MAYBE_SWAPPED }; /* sf-pcap.c lengths */

/* Give pages back every DROP_STEP bytes read (a multiple of any page). */
#define DROP_STEP ((uint64_t)1 << 20)

struct tf_pcapfile {
  const uint8_t *base;
  uint64_t size, pos;
  uint64_t drop_at, dropped; /* the mapping before `dropped` is given back */
  bool held;                 /* tf_pcapfile_hold: the caller gives back */
  uint64_t prefetched;       /* lines before it are on their way */
  size_t map_len;            /* 0: not ours to unmap */
  bool ng, swapped, failed, ended;
  int linktype; /* DLT_ */
  uint32_t linktype_ext;
  uint32_t snapshot;
  uint64_t user_tsresol; /* 10^6 or 10^9 */
  /* classic pcap */
  unsigned hdrsize;
  int lengths;
  enum scale pcap_scale; /* PASS_THROUGH, SCALE_UP_DEC (x1000),
                            SCALE_DOWN_DEC (/1000) */
  /* pcapng */
  uint32_t max_blocksize;
  uint32_t ifcount, ifaces_size;
  struct ng_if *ifaces;
  tf_pcapfile_dsb_fn dsb;
  void *dsb_ctx;
  /* filter */
  struct bpf_program prog;
  bool filtered;
  struct pcap_pkthdr hdr;
  char err[PCAP_ERRBUF_SIZE];
};

static void fail(struct tf_pcapfile *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(struct tf_pcapfile *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err, sizeof r->err, fmt, ap);
  va_end(ap);
  r->failed = true;
}

static inline uint16_t sw16(uint16_t v) { return (uint16_t)(v >> 8 | v << 8); }
static inline uint32_t sw32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t sw64(uint64_t v) { return __builtin_bswap64(v); }

/* Host-order reads, swapped when the file is the other way round (what
 * libpcap does with SWAPLONG and friends). */
static inline int get16(struct tf_cur *c, bool swap, uint16_t *v) {
  if (tf_cur_left(c) < 2)
    return -1;
  memcpy(v, c->p, 2);
  if (swap)
    *v = sw16(*v);
  c->p += 2;
  return 0;
}
static inline int get32(struct tf_cur *c, bool swap, uint32_t *v) {
  if (tf_cur_left(c) < 4)
    return -1;
  memcpy(v, c->p, 4);
  if (swap)
    *v = sw32(*v);
  c->p += 4;
  return 0;
}
static inline int get64(struct tf_cur *c, bool swap, uint64_t *v) {
  if (tf_cur_left(c) < 8)
    return -1;
  memcpy(v, c->p, 8);
  if (swap)
    *v = sw64(*v);
  c->p += 8;
  return 0;
}

/* The file from pos on. */
static inline struct tf_cur rest(const struct tf_pcapfile *r) {
  return tf_cur_make(r->base + r->pos, (size_t)(r->size - r->pos));
}

/* Pages behind the reader go back to the kernel (the page cache keeps
 * them): the resident set stays a few MB on a file of any size.  The
 * packet handed out last is no longer needed (pcap_next_ex's contract). */
static void drop_until(struct tf_pcapfile *r, uint64_t pos) {
  uint64_t upto = pos & ~(DROP_STEP - 1);
  if (r->map_len && upto > r->dropped) {
    madvise((void *)(r->base + r->dropped), (size_t)(upto - r->dropped),
            MADV_DONTNEED);
    r->dropped = upto;
  }
}

static void drop_behind(struct tf_pcapfile *r) {
  r->drop_at = r->pos + DROP_STEP;
  if (!r->held)
    drop_until(r, r->pos);
}

void tf_pcapfile_hold(struct tf_pcapfile *r) { r->held = true; }

/* Held pages go back in bigger steps: with several threads, each madvise
 * stops every core running the process to flush its TLB. */
#define RELEASE_STEP ((uint64_t)16 << 20)

void tf_pcapfile_release(struct tf_pcapfile *r, const u_char *upto) {
  if (upto < r->base || upto > r->base + r->size)
    return;
  uint64_t pos = (uint64_t)(upto - r->base);
  if (pos >= r->dropped + RELEASE_STEP)
    drop_until(r, pos);
}

/* Every line ahead of the reader is prefetched, as far as PREFETCH_AHEAD:
 * the reader reads only record headers, scattered between packets of any
 * length, which the hardware prefetcher does not follow, so each one was a
 * miss to memory and the reader latency-bound (twice the time of a walk
 * over every line).  The decoders then find the packet's headers in cache
 * too.  Prefetches never fault; they stay inside the file. */
#define PREFETCH_AHEAD 8192
static inline void prefetch_ahead(struct tf_pcapfile *r) {
  uint64_t want = r->pos + PREFETCH_AHEAD;
  if (want > r->size)
    want = r->size;
  if (r->prefetched < r->pos)
    r->prefetched = r->pos;
  for (; r->prefetched < want; r->prefetched += 64)
    __builtin_prefetch(r->base + r->prefetched);
}

/* ---- classic pcap: sf-pcap.c pcap_check_header(), pcap_next_packet() */

static int pcap_open_hdr(struct tf_pcapfile *r, uint32_t magic) {
  bool swapped = false;
  if (magic != TCPDUMP_MAGIC && magic != KUZNETZOV_TCPDUMP_MAGIC &&
      magic != NSEC_TCPDUMP_MAGIC) {
    magic = sw32(magic);
    swapped = true;
  }
  struct tf_cur c = rest(r);
  if (tf_cur_left(&c) < PCAP_FILE_HDR - 4) {
    fail(r,
         "truncated dump file; tried to read %d file header bytes, only got "
         "%zu",
         PCAP_FILE_HDR, tf_cur_left(&c));
    return -1;
  }
  uint16_t vmaj, vmin;
  uint32_t thiszone, sigfigs, snaplen, linktype;
  TF_GUARD(get16(&c, swapped, &vmaj));
  TF_GUARD(get16(&c, swapped, &vmin));
  TF_GUARD(get32(&c, swapped, &thiszone));
  TF_GUARD(get32(&c, swapped, &sigfigs));
  TF_GUARD(get32(&c, swapped, &snaplen));
  TF_GUARD(get32(&c, swapped, &linktype));
  (void)thiszone;
  (void)sigfigs;
  r->pos = PCAP_FILE_HDR;
  if (vmaj < PCAP_VERSION_MAJOR) {
    fail(r, "archaic pcap savefile format");
    return -1;
  }
  /* 2.0 to 2.4, and 543.0 for DG/UX tcpdump */
  if (!((vmaj == PCAP_VERSION_MAJOR && vmin <= PCAP_VERSION_MINOR) ||
        (vmaj == 543 && vmin == 0))) {
    fail(r, "unsupported pcap savefile version %u.%u", vmaj, vmin);
    return -1;
  }
  r->swapped = swapped;
  r->linktype = linktype_to_dlt((int)LT_LINKTYPE(linktype));
  r->linktype_ext = LT_LINKTYPE_EXT(linktype);
  r->snapshot = adjust_snapshot(r->linktype, snaplen);
  r->pcap_scale = PASS_THROUGH;
  if (r->user_tsresol == 1000000 && magic == NSEC_TCPDUMP_MAGIC)
    r->pcap_scale = SCALE_DOWN_DEC;
  else if (r->user_tsresol == 1000000000 && magic != NSEC_TCPDUMP_MAGIC)
    r->pcap_scale = SCALE_UP_DEC;
  /* caplen and len were interchanged at 2.3, and some 2.3 files were
   * written without the change; DG/UX's 543.0 has the old order */
  r->lengths = vmaj == 2 && vmin < 3    ? SWAPPED
               : vmaj == 2 && vmin == 3 ? MAYBE_SWAPPED
               : vmaj == 543            ? SWAPPED
                                        : NOT_SWAPPED;
  r->hdrsize = PCAP_REC_HDR;
  if (magic == KUZNETZOV_TCPDUMP_MAGIC) {
    /* a patched libpcap's longer record header; its Ethernet captures
     * may be "cooked", with a faked 14-byte header on top of snaplen */
    r->hdrsize = PCAP_REC_HDR_PATCHED;
    if (r->linktype == DLT_EN10MB)
      r->snapshot = r->snapshot <= INT_MAX - 14 ? r->snapshot + 14 : INT_MAX;
  }
  return 0;
}

static int pcap_next_rec(struct tf_pcapfile *r, struct pcap_pkthdr *h,
                         const u_char **data) {
  struct tf_cur c = rest(r);
  size_t left = tf_cur_left(&c);
  if (left < r->hdrsize) {
    if (left == 0)
      return 0;
    fail(r, "truncated dump file; tried to read %u header bytes, only got %zu",
         r->hdrsize, left);
    r->pos = r->size;
    return -1;
  }
  uint32_t sec, frac, caplen, len;
  TF_GUARD(get32(&c, r->swapped, &sec));
  TF_GUARD(get32(&c, r->swapped, &frac));
  TF_GUARD(get32(&c, r->swapped, &caplen));
  TF_GUARD(get32(&c, r->swapped, &len));
  TF_GUARD(tf_skip(&c, r->hdrsize - PCAP_REC_HDR));
  /* struct pcap_timeval has signed 32-bit fields: libpcap sign-extends
   * them, but SWAPLONG yields an unsigned int, zero-extended */
  if (r->swapped) {
    h->ts.tv_sec = (time_t)sec;
    h->ts.tv_usec = (suseconds_t)frac;
  } else {
    h->ts.tv_sec = (time_t)(int32_t)sec;
    h->ts.tv_usec = (suseconds_t)(int32_t)frac;
  }
  if (r->pcap_scale == SCALE_DOWN_DEC)
    h->ts.tv_usec = h->ts.tv_usec / 1000;
  else if (r->pcap_scale == SCALE_UP_DEC)
    h->ts.tv_usec = h->ts.tv_usec * 1000;
  if (r->lengths == SWAPPED || (r->lengths == MAYBE_SWAPPED && caplen > len)) {
    uint32_t t = caplen;
    caplen = len;
    len = t;
  }
  h->caplen = caplen;
  h->len = len;
  uint32_t maxsnap = max_snaplen_for_dlt(r->linktype);
  if (caplen > maxsnap) {
    if (caplen > r->snapshot)
      fail(r, "invalid packet capture length %u, bigger than snaplen of %d",
           caplen, (int)r->snapshot);
    else
      fail(r, "invalid packet capture length %u, bigger than maximum of %u",
           caplen, maxsnap);
    return -1;
  }
  left = tf_cur_left(&c);
  r->pos = r->size - left;
  if (caplen > r->snapshot) {
    /* longer than the file's snapshot length (Solaris 2.3 BUFMOD, or
     * damage): libpcap hands out the first snapshot bytes and skips the
     * rest */
    if (left < r->snapshot) {
      fail(r,
           "truncated dump file; tried to read %d captured bytes, only got "
           "%zu",
           (int)r->snapshot, left);
      r->pos = r->size;
      return -1;
    }
    if (left < caplen) {
      fail(r,
           "truncated dump file; tried to read %u captured bytes, only got "
           "%zu",
           caplen, left);
      r->pos = r->size;
      return -1;
    }
    h->caplen = r->snapshot;
  } else if (left < caplen) {
    fail(r,
         "truncated dump file; tried to read %u captured bytes, only got %zu",
         caplen, left);
    r->pos = r->size;
    return -1;
  }
  *data = c.p;
  r->pos += caplen;
  return 1;
}

/* ---- pcapng: sf-pcapng.c ---- */

/* read_block(): one whole block at pos, its body (after the type and the
 * length, before the trailer) in *body.  0 at the end of the file. */
static int ng_block(struct tf_pcapfile *r, uint32_t *type,
                    struct tf_cur *body) {
  struct tf_cur c = rest(r);
  size_t left = tf_cur_left(&c);
  if (left == 0)
    return 0;
  if (left < 8) {
    fail(r, "truncated pcapng dump file; tried to read %d bytes, only got %zu",
         8, left);
    r->pos = r->size;
    return -1;
  }
  uint32_t total, trailer;
  TF_GUARD(get32(&c, r->swapped, type));
  TF_GUARD(get32(&c, r->swapped, &total));
  /* §3.1: a block is at least its header and trailer, 32-bit aligned */
  if (total < 12) {
    fail(r, "block in pcapng dump file has a length of %u < %d", total, 12);
    return -1;
  }
  if (total % 4 != 0) {
    fail(r,
         "block in pcapng dump file has a length of %u that is not a "
         "multiple of 4",
         total);
    return -1;
  }
  /* libpcap grows its block buffer up to max_blocksize, never past it
   * (its first buffer, at most 1 MB, is always smaller) */
  if (total > r->max_blocksize) {
    fail(r, "pcapng block size %u > maximum %u", total, r->max_blocksize);
    return -1;
  }
  if (tf_cur_left(&c) < total - 8) {
    fail(r, "truncated pcapng dump file; tried to read %u bytes, only got %zu",
         total - 8, tf_cur_left(&c));
    r->pos = r->size;
    return -1;
  }
  struct tf_cur t = tf_cur_make(c.p + total - 12, 4);
  TF_GUARD(get32(&t, r->swapped, &trailer));
  if (trailer != total) {
    fail(r, "block total length in header and trailer don't match");
    return -1;
  }
  TF_GUARD(tf_get_sub(&c, total - 12, body));
  r->pos += total;
  return 1;
}

static int too_short(struct tf_pcapfile *r, uint32_t type) {
  fail(r, "block of type %u in pcapng dump file is too short", type);
  return -1;
}

/* §4.7: Secrets Type, Secrets Length, data.  The same bound as the stream
 * scanner of pcapng_dsb.c, so both paths take the same keys. */
static void ng_dsb(struct tf_pcapfile *r, struct tf_cur body) {
  uint32_t stype, slen;
  if (!r->dsb || get32(&body, r->swapped, &stype) ||
      get32(&body, r->swapped, &slen) || slen > tf_cur_left(&body))
    return;
  r->dsb(r->dsb_ctx, stype, body.p, slen);
}

/* add_interface() and process_idb_options(): §4.2, if_tsresol (9) and
 * if_tsoffset (14) decide how its timestamps read. */
static int ng_add_interface(struct tf_pcapfile *r, struct tf_cur *c) {
  if (r->ifcount == UINT32_MAX) {
    fail(r, "more than %u interfaces in the file", 0x80000000u);
    return -1;
  }
  r->ifcount++;
  if (r->ifcount > r->ifaces_size) {
    uint32_t n = r->ifaces_size ? r->ifaces_size * 2 : 1;
    if (n < r->ifaces_size) {
      fail(r, "more than %u interfaces in the file", 0x80000000u);
      return -1;
    }
    struct ng_if *bigger = realloc(r->ifaces, (size_t)n * sizeof *bigger);
    if (!bigger) {
      fail(r, "out of memory for per-interface information (%u interfaces)",
           r->ifcount);
      return -1;
    }
    r->ifaces = bigger;
    r->ifaces_size = n;
  }
  uint64_t tsresol = 1000000, tsoffset = 0;
  bool is_binary = false, saw_tsresol = false, saw_tsoffset = false;
  while (tf_cur_left(c) != 0) {
    uint16_t code, olen;
    struct tf_cur v;
    if (get16(c, r->swapped, &code) || get16(c, r->swapped, &olen) ||
        tf_get_sub(c, ((size_t)olen + 3) / 4 * 4, &v))
      return too_short(r, BT_IDB);
    if (code == OPT_ENDOFOPT) {
      if (olen != 0) {
        fail(r,
             "Interface Description Block has opt_endofopt option with "
             "length %u != 0",
             olen);
        return -1;
      }
      break;
    }
    if (code == IF_TSRESOL) {
      uint8_t res;
      if (olen != 1) {
        fail(r,
             "Interface Description Block has if_tsresol option with length "
             "%u != 1",
             olen);
        return -1;
      }
      if (saw_tsresol) {
        fail(r, "Interface Description Block has more than one if_tsresol "
                "option");
        return -1;
      }
      saw_tsresol = true;
      TF_GUARD(tf_get_u8(&v, &res));
      if (res & 0x80) { /* a negative power of 2 */
        unsigned shift = res & 0x7f;
        if (shift > 63) {
          fail(r,
               "Interface Description Block if_tsresol option resolution "
               "2^-%u is too high",
               shift);
          return -1;
        }
        is_binary = true;
        tsresol = (uint64_t)1 << shift;
      } else { /* a negative power of 10 */
        if (res > 19) {
          fail(r,
               "Interface Description Block if_tsresol option resolution "
               "10^-%u is too high",
               res);
          return -1;
        }
        is_binary = false;
        tsresol = 1;
        for (unsigned i = 0; i < res; i++)
          tsresol *= 10;
      }
    } else if (code == IF_TSOFFSET) {
      if (olen != 8) {
        fail(r,
             "Interface Description Block has if_tsoffset option with length "
             "%u != 8",
             olen);
        return -1;
      }
      if (saw_tsoffset) {
        fail(r, "Interface Description Block has more than one if_tsoffset "
                "option");
        return -1;
      }
      saw_tsoffset = true;
      TF_GUARD(get64(&v, r->swapped, &tsoffset));
    }
  }
  struct ng_if *i = &r->ifaces[r->ifcount - 1];
  i->tsresol = tsresol;
  i->tsoffset = tsoffset;
  i->scale_factor = 0;
  if (tsresol == r->user_tsresol) {
    i->scale = PASS_THROUGH;
  } else if (tsresol > r->user_tsresol) {
    i->scale = is_binary ? SCALE_DOWN_BIN : SCALE_DOWN_DEC;
    if (!is_binary)
      i->scale_factor = tsresol / r->user_tsresol;
  } else {
    i->scale = is_binary ? SCALE_UP_BIN : SCALE_UP_DEC;
    if (!is_binary)
      i->scale_factor = r->user_tsresol / tsresol;
  }
  return 0;
}

/* pcap_ng_check_header(): the first SHB (§4.1), then blocks up to the
 * first IDB, which gives the link type and snapshot length. */
static int ng_open(struct tf_pcapfile *r) {
  struct tf_cur c = tf_cur_make(r->base, (size_t)r->size);
  uint32_t magic, total, bom;
  TF_GUARD(get32(&c, false, &magic));
  /* too short for the length and the byte-order magic, or the wrong
   * magic: libpcap says "not pcapng", and then "unknown file format" */
  if (get32(&c, false, &total) || get32(&c, false, &bom)) {
    fail(r, "unknown file format");
    return -1;
  }
  bool swapped = false;
  if (bom != BYTE_ORDER_MAGIC) {
    if (sw32(bom) != BYTE_ORDER_MAGIC) {
      fail(r, "unknown file format");
      return -1;
    }
    swapped = true;
    total = sw32(total);
  }
  if (total < SHB_MIN_LEN || total > BT_SHB_INSANE_MAX) {
    fail(r,
         "Section Header Block in pcapng dump file has invalid length %u < "
         "_%u_ < %u (BT_SHB_INSANE_MAX)",
         SHB_MIN_LEN, total, BT_SHB_INSANE_MAX);
    return -1;
  }
  r->swapped = swapped;
  r->ng = true;
  r->max_blocksize = INITIAL_MAX_BLOCKSIZE;
  /* the rest of the SHB, read whole; libpcap checks neither its trailer
   * nor its alignment, only the version */
  if (tf_cur_left(&c) < total - 12) {
    fail(r, "truncated pcapng dump file; tried to read %u bytes, only got %zu",
         total - 12, tf_cur_left(&c));
    return -1;
  }
  uint16_t vmaj, vmin;
  TF_GUARD(get16(&c, swapped, &vmaj));
  TF_GUARD(get16(&c, swapped, &vmin));
  /* 1.0, and 1.2 read as 1.0 (§4.1) */
  if (!(vmaj == PCAP_NG_VERSION_MAJOR && (vmin == 0 || vmin == 2))) {
    fail(r, "unsupported pcapng savefile version %u.%u", vmaj, vmin);
    return -1;
  }
  r->pos = total;
  for (;;) {
    uint32_t type;
    struct tf_cur body;
    int st = ng_block(r, &type, &body);
    if (st == 0) {
      fail(r, "the capture file has no Interface Description Blocks");
      return -1;
    }
    if (st < 0)
      return -1;
    if (type == BT_IDB) {
      uint16_t lt;
      uint32_t snaplen;
      if (get16(&body, swapped, &lt) || tf_skip(&body, 2) ||
          get32(&body, swapped, &snaplen))
        return too_short(r, type);
      if (ng_add_interface(r, &body) < 0)
        return -1;
      r->linktype = linktype_to_dlt(lt);
      r->snapshot = adjust_snapshot(r->linktype, snaplen);
      r->linktype_ext = 0;
      uint32_t m = MAX_BLOCKSIZE_FOR_SNAPLEN(max_snaplen_for_dlt(r->linktype));
      if (m > r->max_blocksize)
        r->max_blocksize = m;
      return 0;
    }
    if (type == BT_EPB || type == BT_SPB || type == BT_PB) {
      fail(r, "the capture file has a packet block before any Interface "
              "Description Blocks");
      return -1;
    }
    if (type == BT_DSB)
      ng_dsb(r, body);
  }
}

/* pcap_ng_next_packet(): blocks up to the next packet (EPB §4.3, SPB §4.4,
 * PB Appendix A); IDBs and SHBs on the way are checked against the first
 * ones, other blocks skipped by their length (§3.1). */
static int ng_next(struct tf_pcapfile *r, struct pcap_pkthdr *h,
                   const u_char **data) {
  uint32_t type, iface = 0;
  uint64_t t = 0;
  struct tf_cur body;
  for (;;) {
    int st = ng_block(r, &type, &body);
    if (st <= 0)
      return st;
    if (type == BT_EPB) {
      uint32_t hi, lo;
      if (get32(&body, r->swapped, &iface) || get32(&body, r->swapped, &hi) ||
          get32(&body, r->swapped, &lo) ||
          get32(&body, r->swapped, &h->caplen) ||
          get32(&body, r->swapped, &h->len))
        return too_short(r, type);
      t = (uint64_t)hi << 32 | lo;
      break;
    }
    if (type == BT_SPB) {
      if (get32(&body, r->swapped, &h->len))
        return too_short(r, type);
      /* no captured length: the packet, cut at the snapshot length; no
       * time stamp; the first interface */
      iface = 0;
      h->caplen = h->len > r->snapshot ? r->snapshot : h->len;
      t = 0;
      break;
    }
    if (type == BT_PB) {
      uint16_t id, drops;
      uint32_t hi, lo;
      if (get16(&body, r->swapped, &id) || get16(&body, r->swapped, &drops) ||
          get32(&body, r->swapped, &hi) || get32(&body, r->swapped, &lo) ||
          get32(&body, r->swapped, &h->caplen) ||
          get32(&body, r->swapped, &h->len))
        return too_short(r, type);
      iface = id;
      t = (uint64_t)hi << 32 | lo;
      break;
    }
    if (type == BT_IDB) {
      uint16_t lt;
      uint32_t snaplen;
      if (get16(&body, r->swapped, &lt) || tf_skip(&body, 2) ||
          get32(&body, r->swapped, &snaplen))
        return too_short(r, type);
      /* libpcap compares the first interface's DLT_ with this one's raw
       * LINKTYPE_: they differ for LINKTYPE_RAW (101 vs DLT_RAW 12), and
       * libpcap rejects the second such IDB; so does this */
      if (r->linktype != lt) {
        fail(r,
             "an interface has a type %u different from the type of the "
             "first interface",
             lt);
        return -1;
      }
      if (r->snapshot != adjust_snapshot(r->linktype, snaplen)) {
        fail(r,
             "an interface has a snapshot length %u different from the "
             "snapshot length of the first interface",
             snaplen);
        return -1;
      }
      if (ng_add_interface(r, &body) < 0)
        return -1;
      continue;
    }
    if (type == BT_SHB) {
      uint32_t bom;
      uint16_t vmaj;
      if (get32(&body, r->swapped, &bom) || get16(&body, r->swapped, &vmaj) ||
          tf_skip(&body, 2 + 8))
        return too_short(r, type);
      /* the byte order may not change (pcap_is_swapped() is per file) */
      if (bom == sw32(BYTE_ORDER_MAGIC)) {
        fail(r, "the file has sections with different byte orders");
        return -1;
      }
      if (bom != BYTE_ORDER_MAGIC) {
        fail(r, "the file has a section with a bad byte order magic field");
        return -1;
      }
      if (vmaj != PCAP_NG_VERSION_MAJOR) {
        fail(r, "unknown pcapng savefile major version number %u", vmaj);
        return -1;
      }
      r->ifcount = 0; /* a section has its own interfaces */
      continue;
    }
    if (type == BT_DSB)
      ng_dsb(r, body);
  }
  if (iface >= r->ifcount) {
    fail(r,
         "a packet arrived on interface %u, but there's no Interface "
         "Description Block for that interface",
         iface);
    return -1;
  }
  if (h->caplen > r->snapshot) {
    fail(r, "invalid packet capture length %u, bigger than snaplen of %d",
         h->caplen, (int)r->snapshot);
    return -1;
  }
  /* seconds and fractions in the interface's resolution, the fractions
   * scaled to the user's: the same integer arithmetic as libpcap,
   * overflow of frac * user_tsresol included */
  const struct ng_if *i = &r->ifaces[iface];
  uint64_t sec = t / i->tsresol + i->tsoffset, frac = t % i->tsresol;
  switch (i->scale) {
  case PASS_THROUGH:
    break;
  case SCALE_UP_DEC:
    frac *= i->scale_factor;
    break;
  case SCALE_DOWN_DEC:
    frac /= i->scale_factor;
    break;
  case SCALE_UP_BIN:
  case SCALE_DOWN_BIN:
    frac *= r->user_tsresol;
    frac /= i->tsresol;
    break;
  }
  h->ts.tv_sec = (time_t)sec;
  h->ts.tv_usec = (int)frac;
  if (tf_cur_left(&body) < h->caplen)
    return too_short(r, type);
  *data = body.p;
  return 1;
}

/* ---- opening ---- */

static int open_bytes(struct tf_pcapfile *r, char *err, size_t errlen) {
  /* savefile.c pcap_fopen_offline_with_tstamp_precision(): the magic */
  struct tf_cur c = tf_cur_make(r->base, (size_t)r->size);
  uint32_t magic;
  int rc;
  if (get32(&c, false, &magic)) {
    fail(r,
         "truncated dump file; tried to read %d file header bytes, only got "
         "%zu",
         4, (size_t)r->size);
    rc = -1;
  } else {
    r->pos = 4;
    uint32_t m = magic, s = sw32(magic);
    if (m == TCPDUMP_MAGIC || m == KUZNETZOV_TCPDUMP_MAGIC ||
        m == NSEC_TCPDUMP_MAGIC || s == TCPDUMP_MAGIC ||
        s == KUZNETZOV_TCPDUMP_MAGIC || s == NSEC_TCPDUMP_MAGIC)
      rc = pcap_open_hdr(r, magic);
    else if (magic == BT_SHB)
      rc = ng_open(r);
    else
      return TF_PCAPFILE_NOT_MINE; /* libpcap: "unknown file format" */
  }
  if (rc < 0) {
    snprintf(err, errlen, "%s", r->err);
    return TF_PCAPFILE_ERROR;
  }
  if (post_processed(r->linktype, r->swapped))
    return TF_PCAPFILE_NOT_MINE;
  r->failed = false;
  drop_behind(r);
  return TF_PCAPFILE_OPEN;
}

static struct tf_pcapfile *reader_new(unsigned precision,
                                      tf_pcapfile_dsb_fn dsb, void *dsb_ctx) {
  if (precision != PCAP_TSTAMP_PRECISION_MICRO &&
      precision != PCAP_TSTAMP_PRECISION_NANO)
    return NULL;
  struct tf_pcapfile *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->user_tsresol =
      precision == PCAP_TSTAMP_PRECISION_NANO ? 1000000000u : 1000000u;
  r->dsb = dsb;
  r->dsb_ctx = dsb_ctx;
  return r;
}

int tf_pcapfile_open_mem(const void *buf, size_t len, unsigned precision,
                         tf_pcapfile_dsb_fn dsb, void *dsb_ctx,
                         struct tf_pcapfile **out, char *err, size_t errlen) {
  *out = NULL;
  struct tf_pcapfile *r = reader_new(precision, dsb, dsb_ctx);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    return TF_PCAPFILE_ERROR;
  }
  r->base = len ? buf : (const uint8_t *)"";
  r->size = len;
  int st = open_bytes(r, err, errlen);
  if (st == TF_PCAPFILE_OPEN)
    *out = r;
  else
    tf_pcapfile_close(r);
  return st;
}

/* More than the address space can map (a 32-bit build): libpcap streams
 * it. */
static bool too_big(off_t size) {
#if SIZE_MAX < UINT64_MAX
  return (uint64_t)size > SIZE_MAX;
#else
  (void)size;
  return false;
#endif
}

int tf_pcapfile_open(const char *path, unsigned precision,
                     tf_pcapfile_dsb_fn dsb, void *dsb_ctx,
                     struct tf_pcapfile **out, char *err, size_t errlen) {
  *out = NULL;
  struct stat st;
  uint8_t magic[4];
  /* Never open what is not a regular file: opening a FIFO and closing it
   * again would take it from libpcap (its writer gets EPIPE, or libpcap's
   * own open then waits for a writer that is gone).  O_NONBLOCK in case
   * the path changes in between. */
  if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
    return TF_PCAPFILE_NOT_MINE; /* libpcap's path reports it */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return TF_PCAPFILE_NOT_MINE;
  /* a pipe, a FIFO, a device: streamed by libpcap; a file shorter than a
   * magic number or with another one (gzip, zstd, text): libpcap and
   * input.c say what it is */
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 4 ||
      too_big(st.st_size) || pread(fd, magic, 4, 0) != 4) {
    close(fd);
    return TF_PCAPFILE_NOT_MINE;
  }
  uint32_t m;
  memcpy(&m, magic, 4);
  if (m != BT_SHB && m != TCPDUMP_MAGIC && m != NSEC_TCPDUMP_MAGIC &&
      m != KUZNETZOV_TCPDUMP_MAGIC && sw32(m) != TCPDUMP_MAGIC &&
      sw32(m) != NSEC_TCPDUMP_MAGIC && sw32(m) != KUZNETZOV_TCPDUMP_MAGIC) {
    close(fd);
    return TF_PCAPFILE_NOT_MINE;
  }
  size_t len = (size_t)st.st_size;
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd); /* the mapping keeps the file */
  if (map == MAP_FAILED)
    return TF_PCAPFILE_NOT_MINE;
  /* read ahead, and drop pages behind early */
  madvise(map, len, MADV_SEQUENTIAL);
  struct tf_pcapfile *r = reader_new(precision, dsb, dsb_ctx);
  if (!r) {
    munmap(map, len);
    snprintf(err, errlen, "out of memory");
    return TF_PCAPFILE_ERROR;
  }
  r->base = map;
  r->size = len;
  r->map_len = len;
  int rc = open_bytes(r, err, errlen);
  if (rc == TF_PCAPFILE_OPEN)
    *out = r;
  else
    tf_pcapfile_close(r);
  return rc;
}

void tf_pcapfile_close(struct tf_pcapfile *r) {
  if (!r)
    return;
  if (r->map_len)
    munmap((void *)r->base, r->map_len);
  free(r->ifaces);
  free(r->prog.bf_insns);
  free(r);
}

int tf_pcapfile_next(struct tf_pcapfile *r, struct pcap_pkthdr **h,
                     const u_char **data) {
  if (r->failed)
    return PCAP_ERROR;
  if (r->ended)
    return PCAP_ERROR_BREAK;
  for (;;) {
    if (r->pos >= r->drop_at)
      drop_behind(r);
    int st =
        r->ng ? ng_next(r, &r->hdr, data) : pcap_next_rec(r, &r->hdr, data);
    if (st < 0) {
      r->failed = true;
      return PCAP_ERROR;
    }
    if (st == 0) {
      r->ended = true;
      return PCAP_ERROR_BREAK;
    }
    prefetch_ahead(r);
    /* savefile.c pcap_offline_read(): the filter sees len and caplen */
    if (!r->filtered || pcap_offline_filter(&r->prog, &r->hdr, *data)) {
      *h = &r->hdr;
      return 1;
    }
  }
}

const char *tf_pcapfile_error(const struct tf_pcapfile *r) { return r->err; }
int tf_pcapfile_linktype(const struct tf_pcapfile *r) { return r->linktype; }
int tf_pcapfile_snapshot(const struct tf_pcapfile *r) {
  return (int)r->snapshot;
}
int tf_pcapfile_linktype_ext(const struct tf_pcapfile *r) {
  return (int)r->linktype_ext;
}
uint64_t tf_pcapfile_offset(const struct tf_pcapfile *r) { return r->pos; }

int tf_pcapfile_set_filter(struct tf_pcapfile *r,
                           const struct bpf_program *prog) {
  free(r->prog.bf_insns);
  r->prog.bf_insns = NULL;
  r->prog.bf_len = 0;
  r->filtered = false;
  if (!prog)
    return 0;
  /* optimize.c install_bpf_program(): libpcap keeps its own copy */
  size_t n = (size_t)prog->bf_len * sizeof *prog->bf_insns;
  if (!(r->prog.bf_insns = malloc(n ? n : 1)))
    return -1;
  memcpy(r->prog.bf_insns, prog->bf_insns, n);
  r->prog.bf_len = prog->bf_len;
  r->filtered = true;
  return 0;
}

/* ---- as a libpcap handle ---- */

/* The readers behind their dead handles.  Looked up when a source is set
 * up and when it is closed, never per packet; a lock, as libtlsfin may run
 * analyses in several threads. */
struct mapped {
  pcap_t *pc;
  struct tf_pcapfile *r;
  struct mapped *next;
};
static struct mapped *mapped_list;
static pthread_mutex_t mapped_lock = PTHREAD_MUTEX_INITIALIZER;

/* pcapng_dsb.c's rule: "TLSK" secrets are an SSLKEYLOGFILE. */
static void keys_dsb(void *ctx, uint32_t type, const uint8_t *data,
                     size_t len) {
  if (type == 0x544c534bu)
    tf_keylog_add_text(ctx, (const char *)data, len, NULL, NULL);
}

pcap_t *tf_capture_open_mapped(const char *path, struct tf_keylog *keys,
                               char *errbuf, int *status) {
  *status = 0;
  const char *env = getenv("TLSFIN_READER");
  if (env && !strcmp(env, "libpcap"))
    return NULL;
  struct tf_pcapfile *r;
  int st = tf_pcapfile_open(path, PCAP_TSTAMP_PRECISION_MICRO,
                            keys ? keys_dsb : NULL, keys, &r, errbuf,
                            PCAP_ERRBUF_SIZE);
  if (st != TF_PCAPFILE_OPEN) {
    *status = st;
    return NULL;
  }
  struct mapped *m = malloc(sizeof *m);
  pcap_t *pc = pcap_open_dead_with_tstamp_precision(
      r->linktype, (int)r->snapshot, PCAP_TSTAMP_PRECISION_MICRO);
  if (!m || !pc) {
    free(m);
    if (pc)
      pcap_close(pc);
    tf_pcapfile_close(r);
    snprintf(errbuf, PCAP_ERRBUF_SIZE, "out of memory");
    *status = -1;
    return NULL;
  }
  m->pc = pc;
  m->r = r;
  pthread_mutex_lock(&mapped_lock);
  m->next = mapped_list;
  mapped_list = m;
  pthread_mutex_unlock(&mapped_lock);
  *status = 1;
  return pc;
}

struct tf_pcapfile *tf_capture_mapped(pcap_t *pc) {
  struct tf_pcapfile *r = NULL;
  pthread_mutex_lock(&mapped_lock);
  for (struct mapped *m = mapped_list; m; m = m->next)
    if (m->pc == pc) {
      r = m->r;
      break;
    }
  pthread_mutex_unlock(&mapped_lock);
  return r;
}

long long tf_capture_tell(pcap_t *pc) {
  struct tf_pcapfile *r = tf_capture_mapped(pc);
  if (r)
    return (long long)r->pos;
  FILE *f = pcap_file(pc);
  return f ? ftell(f) : -1;
}

void tf_capture_close(pcap_t *pc) {
  if (!pc)
    return;
  struct mapped *found = NULL;
  pthread_mutex_lock(&mapped_lock);
  for (struct mapped **m = &mapped_list; *m; m = &(*m)->next)
    if ((*m)->pc == pc) {
      found = *m;
      *m = found->next;
      break;
    }
  pthread_mutex_unlock(&mapped_lock);
  if (found) {
    tf_pcapfile_close(found->r);
    free(found);
  }
  pcap_close(pc);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* What every packet source shares: link type, filter, decode into the
 * engine. */
#include "source.h"

#include <stdint.h>
#include <string.h>

#define MAX_BAD_REPORTS 5

void tf_filter_free(struct tf_filter *f) {
  if (f && f->compiled)
    pcap_freecode(&f->prog);
  if (f)
    f->compiled = false;
}

int tf_source_init(struct tf_source *s, pcap_t *pc, const char *name,
                   struct tf_filter *filter, char *err, size_t errlen) {
  int iface = s->iface;
  FILE *warn = s->warn;
  const struct tf_tunnel_ports *tp = s->tunnel_ports;
  bool zeek_csum = s->zeek_csum;
  memset(s, 0, sizeof *s);
  s->iface = iface;
  s->warn = warn ? warn : stderr;
  s->tunnel_ports = tp;
  s->decap.ports = tp;
  s->zeek_csum = s->decap.zeek_csum = zeek_csum;
  s->name = name;
  s->pc = pc;
  s->mm = tf_capture_mapped(pc);
  s->linktype = pcap_datalink(pc);
  if (!tf_linktype_supported(s->linktype)) {
    snprintf(err, errlen,
             "%s: unsupported link type %s (%d); supported: Ethernet, "
             "Linux cooked SLL/SLL2, raw IP, BSD loopback",
             name, tf_linktype_name(s->linktype), s->linktype);
    return -1;
  }
  if (filter && filter->expr) {
    int snap = pcap_snapshot(pc);
    if (!filter->compiled || filter->linktype != s->linktype ||
        filter->snaplen != snap) {
      tf_filter_free(filter);
      if (pcap_compile(pc, &filter->prog, filter->expr, 1,
                       PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "--filter '%s': %s", filter->expr,
                 pcap_geterr(pc));
        return -1;
      }
      filter->compiled = true;
      filter->linktype = s->linktype;
      filter->snaplen = snap;
    }
    /* a mapped file's dead handle takes no filter: the reader applies it
     * to each packet as libpcap's offline read does (pcapfile.h) */
    if (s->mm && tf_pcapfile_set_filter(s->mm, &filter->prog) < 0) {
      snprintf(err, errlen, "--filter '%s': out of memory", filter->expr);
      return -1;
    }
    if (!s->mm && pcap_setfilter(pc, &filter->prog) < 0) {
      snprintf(err, errlen, "--filter '%s': %s", filter->expr, pcap_geterr(pc));
      return -1;
    }
  }
  return 0;
}

double tf_source_ts(const struct pcap_pkthdr *h) {
  /* The pcap file format stores seconds in 32 bits that libpcap reads as
   * signed (struct pcap_timeval): after 2038-01-19 they come out negative.
   * No capture predates 1970, so a negative second count is the unsigned
   * one it was written as (valid until 2106). */
  double sec = h->ts.tv_sec < 0 && h->ts.tv_sec >= INT32_MIN
                   ? (double)(uint32_t)h->ts.tv_sec
                   : (double)h->ts.tv_sec;
  return sec + h->ts.tv_usec / 1e6;
}

int tf_source_decode(struct tf_source *s, const struct pcap_pkthdr *h,
                     const u_char *data, struct tf_pkt *p) {
  s->no++;
  const char *why = NULL;
  int d =
      tf_decode_packet_decap(s->linktype, data, h->caplen, p, &s->decap, &why);
  if (d == TF_DECODE_BAD) {
    if (s->bad < MAX_BAD_REPORTS)
      fprintf(s->warn, "tlsfin: %s: packet %llu: %s (skipped)\n", s->name,
              (unsigned long long)s->no, why);
    if (!s->bad)
      snprintf(s->firstbad, sizeof s->firstbad, "packet %llu: %s",
               (unsigned long long)s->no, why);
    s->bad++;
    return d;
  }
  if (d == TF_DECODE_UNFOLLOWED) {
    s->unfollowed++;
    if (!s->unfollowed_why)
      s->unfollowed_why = why;
    return d;
  }
  if (d == TF_DECODE_TCP) {
    p->ts = tf_source_ts(h);
    p->no = s->no;
  }
  return d;
}

void tf_source_packet(struct tf_source *s, struct tf_engine *e,
                      const struct pcap_pkthdr *h, const u_char *data) {
  struct tf_pkt p;
  int d = tf_source_decode(s, h, data, &p);
  if (d == TF_DECODE_UNFOLLOWED)
    tf_engine_note_unfollowed(e);
  if (d != TF_DECODE_TCP)
    return;
  struct tf_raw raw = {data, h->caplen, h->len, s->iface};
  tf_engine_packet(e, &p, &raw);
}

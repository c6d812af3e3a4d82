/*
 * Zeek conn.log emulation: conn_state and history, letter for letter as Zeek
 * prints them (src/analyzer/protocol/tcp/TCP.cc, TCP_Endpoint,
 * base/protocols/conn/main.zeek).  Fed one TCP packet at a time.
 *
 * `from_first` is true when the packet comes from the host that sent the
 * connection's first packet; this module decides Zeek's originator itself
 * (and the '^' flip) exactly as Zeek does.
 */
#ifndef TLSFIN_ANALYZE_ZEEK_H
#define TLSFIN_ANALYZE_ZEEK_H

#include <stdbool.h>
#include <stdint.h>

#define TF_TH_FIN 0x01
#define TF_TH_SYN 0x02
#define TF_TH_RST 0x04
#define TF_TH_PUSH 0x08
#define TF_TH_ACK 0x10
#define TF_TH_URG 0x20

/* Embedded by value in each flow: keep it small (no heap). Fields are private
 * to zeek.c. */
struct tf_zeek {
  char hist[40]; /* placeholder: zeek.c's owner defines the real fields */
};

void tf_zeek_init(struct tf_zeek *z);
void tf_zeek_packet(struct tf_zeek *z, bool from_first, uint8_t flags,
                    uint32_t seq, uint32_t ack, uint32_t payload_len,
                    uint16_t win, uint32_t orig_port, uint32_t resp_port);
/* Both are valid after any number of packets (NUL-terminated). */
const char *tf_zeek_history(struct tf_zeek *z);
const char *tf_zeek_conn_state(struct tf_zeek *z);
/* true when Zeek's originator is the host that sent the first packet */
bool tf_zeek_orig_is_first(const struct tf_zeek *z);

#endif

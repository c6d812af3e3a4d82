/* SPDX-License-Identifier: BSD-2-Clause */
/* Names and help texts of the taxonomy, generated from the X-macro lists in
 * include/tlsfin/taxonomy.h so that enum, name and help never drift. */
#include "tlsfin/taxonomy.h"

#include <stddef.h>
#include <string.h>

#define NAME_ROW(e, n, h) n,
#define HELP_ROW(e, n, h) h,

static const char *const verdict_names[] = {TLSFIN_VERDICT_MAP(NAME_ROW)};
static const char *const verdict_help[] = {TLSFIN_VERDICT_MAP(HELP_ROW)};
static const char *const cause_names[] = {TLSFIN_CAUSE_MAP(NAME_ROW)};
static const char *const cause_help[] = {TLSFIN_CAUSE_MAP(HELP_ROW)};
static const char *const confidence_names[] = {TLSFIN_CONFIDENCE_MAP(NAME_ROW)};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick(const char *const *tab, size_t n, int i) {
  return (i >= 0 && (size_t)i < n) ? tab[i] : NULL;
}

static int find(const char *const *tab, size_t n, const char *name) {
  if (name == NULL)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (strcmp(tab[i], name) == 0)
      return (int)i;
  return -1;
}

const char *tlsfin_verdict_name(tlsfin_verdict v) {
  return pick(verdict_names, ARRAY_LEN(verdict_names), (int)v);
}
const char *tlsfin_verdict_help(tlsfin_verdict v) {
  return pick(verdict_help, ARRAY_LEN(verdict_help), (int)v);
}
const char *tlsfin_cause_name(tlsfin_cause c) {
  return pick(cause_names, ARRAY_LEN(cause_names), (int)c);
}
const char *tlsfin_cause_help(tlsfin_cause c) {
  return pick(cause_help, ARRAY_LEN(cause_help), (int)c);
}
const char *tlsfin_confidence_name(tlsfin_confidence c) {
  return pick(confidence_names, ARRAY_LEN(confidence_names), (int)c);
}
int tlsfin_verdict_parse(const char *name) {
  return find(verdict_names, ARRAY_LEN(verdict_names), name);
}
int tlsfin_cause_parse(const char *name) {
  return find(cause_names, ARRAY_LEN(cause_names), name);
}

const char *tlsfin_alert_name(int description) {
  switch (description) {
#define ALERT_CASE(code, n)                                                    \
  case code:                                                                   \
    return n;
    TLSFIN_ALERT_MAP(ALERT_CASE)
#undef ALERT_CASE
  default:
    return NULL;
  }
}

int tlsfin_alert_parse(const char *name) {
  if (name == NULL)
    return -1;
#define ALERT_CMP(code, n)                                                     \
  if (strcmp(name, n) == 0)                                                    \
    return code;
  TLSFIN_ALERT_MAP(ALERT_CMP)
#undef ALERT_CMP
  return -1;
}

const char *tlsfin_version_name(uint16_t v) {
  switch (v) {
  case 0x0304:
    return "TLS1.3";
  case 0x0303:
    return "TLS1.2";
  case 0x0302:
    return "TLS1.1";
  case 0x0301:
    return "TLS1.0";
  case 0x0300:
    return "SSL3";
  default:
    return NULL;
  }
}

uint16_t tlsfin_version_parse(const char *name) {
  static const uint16_t vs[] = {0x0304, 0x0303, 0x0302, 0x0301, 0x0300};
  for (size_t i = 0; i < ARRAY_LEN(vs); i++)
    if (name && strcmp(tlsfin_version_name(vs[i]), name) == 0)
      return vs[i];
  return 0;
}

tlsfin_cause tlsfin_cause_from_kernel(const char *reason,
                                      enum tlsfin_rst_answers answers) {
  if (!reason)
    return TLSFIN_CAUSE_UNKNOWN;
    /* The third column names the one situation in which the reason means a
     * more specific cause: NO_SOCKET answering a SYN is a closed port,
     * TCP_STATE answering a ClientHello is a refused handshake. */
#define SYN TLSFIN_RST_ANSWERS_SYN
#define HELLO TLSFIN_RST_ANSWERS_HELLO
#define NONE TLSFIN_RST_ANSWERS_OTHER
#define X(name, cause, special)                                                \
  if (!strcmp(reason, name)) {                                                 \
    if ((special) != NONE && answers == (special))                             \
      return (special) == SYN ? TLSFIN_CAUSE_PORT_CLOSED                       \
                              : TLSFIN_CAUSE_HANDSHAKE_REJECTED;               \
    return TLSFIN_CAUSE_##cause;                                               \
  }
  TLSFIN_KERNEL_REASON_MAP(X)
#undef X
#undef SYN
#undef HELLO
#undef NONE
  return TLSFIN_CAUSE_UNKNOWN;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Community ID v1 of a connection: "1:" + base64(SHA-1(seed 0, ordered
 * addresses, protocol, ordered ports)), as Zeek and Suricata emit it. */
#ifndef TLSFIN_ANALYZE_COMMUNITY_ID_H
#define TLSFIN_ANALYZE_COMMUNITY_ID_H

#include "flow.h"

#define TF_COMMUNITY_ID_LEN 31 /* "1:" + 28 base64 characters + NUL */
void tf_community_id(const struct tf_conn *c, char out[TF_COMMUNITY_ID_LEN]);

#endif

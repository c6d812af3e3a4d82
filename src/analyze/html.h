/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The HTML report (tlsfin analyze --format=html): a sink that keeps every
 * finished connection in a compact form, and at the end writes one
 * self-contained page: the template (src/html/, inlined at build time) with
 * the data as one JSON document (docs/html.md, "The embedded data").
 */
#ifndef TLSFIN_ANALYZE_HTML_H
#define TLSFIN_ANALYZE_HTML_H

#include <stdio.h>

#include "engine.h"

/* Rows of each connection's ladder the page gets: the end of a
 * connection, small enough that 100 000 connections stay under 25 MB. */
#define TF_HTML_LADDER_ROWS 10
/* Data larger than this is embedded gzip-compressed and base64-encoded
 * (docs/html.md): 100 000 connections shrink from ~43 MB to ~13 MB; a
 * smaller report stays plain JSON anyone can read in the file. */
#define TF_HTML_PLAIN_MAX ((size_t)2 << 20)

struct tf_html;
struct tf_html *tf_html_new(FILE *out);
struct tf_sink *tf_html_sink(struct tf_html *h);
/* A capture file the report is about (its name goes on the page). */
void tf_html_add_input(struct tf_html *h, const char *name);
/* Writes the page.  0, or -1 when memory ran out, the connections could
 * not be kept in $TMPDIR or read back, or the write failed: tf_html_error
 * says which. */
int tf_html_write(struct tf_html *h, const struct tf_engine_stats *st);
const char *tf_html_error(const struct tf_html *h);
void tf_html_free(struct tf_html *h);

#endif

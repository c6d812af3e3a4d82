/* SPDX-License-Identifier: BSD-2-Clause */
/* What every tlsfin subcommand parses the same way: numbers in a range,
 * comma-separated verdict lists, --color and NO_COLOR.  Messages start with
 * "tlsfin CMD: " and name the option. */
#ifndef TLSFIN_CLI_OPTS_H
#define TLSFIN_CLI_OPTS_H

#include <stdbool.h>

#include "tlsfin/taxonomy.h"

/* A number in [lo, hi]; -1 with a message otherwise (NaN, junk, range). */
int cli_number(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out);
/* VERDICT[,VERDICT...]: fn(ctx, v) for each; -1 with a message on an
 * unknown name or an empty list. */
int cli_verdicts(const char *cmd, const char *opt, const char *arg,
                 void (*fn)(void *ctx, tlsfin_verdict v), void *ctx);
/* --color=auto|always|never into *color (-1 auto, 0 never, 1 always). */
int cli_color(const char *cmd, const char *arg, int *color);
/* Colour for this output: always, never, or auto = a tty and no NO_COLOR
 * (https://no-color.org). */
bool cli_use_color(int color);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* Option values every subcommand parses alike (opts.h). */
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_number(const char *cmd, const char *opt, const char *s, double lo,
               double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v >= lo && v <= hi)) {
    fprintf(stderr, "tlsfin %s: %s: '%s' is not a number from %g to %g\n", cmd,
            opt, s, lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

int cli_verdicts(const char *cmd, const char *opt, const char *arg,
                 void (*fn)(void *ctx, tlsfin_verdict v), void *ctx) {
  char *dup = strdup(arg), *save = NULL;
  if (!dup)
    return -1;
  int n = 0;
  for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int v = tlsfin_verdict_parse(t);
    if (v < 0) {
      fprintf(stderr, "tlsfin %s: %s: unknown verdict '%s'\n", cmd, opt, t);
      free(dup);
      return -1;
    }
    fn(ctx, (tlsfin_verdict)v);
    n++;
  }
  free(dup);
  if (!n) {
    fprintf(stderr, "tlsfin %s: %s: no verdict given\n", cmd, opt);
    return -1;
  }
  return 0;
}

int cli_color(const char *cmd, const char *arg, int *color) {
  if (!strcmp(arg, "always"))
    *color = 1;
  else if (!strcmp(arg, "never"))
    *color = 0;
  else if (!strcmp(arg, "auto"))
    *color = -1;
  else {
    fprintf(stderr, "tlsfin %s: --color: '%s' is not auto, always or never\n",
            cmd, arg);
    return -1;
  }
  return 0;
}

bool cli_use_color(int color) {
  const char *nc = getenv("NO_COLOR");
  return color == 1 || (color == -1 && isatty(1) && !(nc && *nc));
}

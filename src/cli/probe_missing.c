/* SPDX-License-Identifier: BSD-2-Clause */
/* Built only when the probe module is absent from the tree. */
#include <stdio.h>

#include "cmds.h"

int tlsfin_cmd_probe(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "tlsfin probe: not built into this tlsfin\n");
  return TLSFIN_EXIT_USAGE;
}

/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef TLSFIN_CLI_CMDS_H
#define TLSFIN_CLI_CMDS_H
/* Exit codes of every tlsfin command (TAXONOMY.md). */
#define TLSFIN_EXIT_OK 0
#define TLSFIN_EXIT_FINDINGS 1
#define TLSFIN_EXIT_USAGE 2
/* probe only: some target could not be tested at all (unreachable, no name,
 * silent), and no --fail-on check matched (docs/TAXONOMY.md). */
#define TLSFIN_EXIT_UNTESTED 3

int tlsfin_cmd_analyze(int argc, char **argv);
int tlsfin_cmd_probe(int argc, char **argv);
int tlsfin_cmd_watch(int argc, char **argv);
#endif

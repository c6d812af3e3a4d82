/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin: the command line.  Each subcommand lives in its own file and uses
 * only the public headers under include/tlsfin/. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: tlsfin <command> [options]\n"
          "\n"
          "commands:\n"
          "  analyze   a teardown verdict for every TCP connection in "
          "pcap/pcapng files\n"
          "  watch     the same verdicts live on network interfaces, with "
          "metrics\n"
          "            and a flight recorder of the bad endings\n"
          "  probe     test how a TLS server (or client) handles versions and "
          "teardown\n"
          "\n"
          "tlsfin <command> --help for the options of each.\n"
          "exit codes: 0 ok, 1 findings matched --fail-on, 3 (probe) a target "
          "could not be tested, 2 bad usage or "
          "unreadable input\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return TLSFIN_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
      !strcmp(argv[1], "help")) {
    usage(stdout);
    return TLSFIN_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
    printf("tlsfin %s\n", TLSFIN_VERSION);
    return TLSFIN_EXIT_OK;
  }
  if (!strcmp(argv[1], "analyze"))
    return tlsfin_cmd_analyze(argc - 1, argv + 1);
  if (!strcmp(argv[1], "watch"))
    return tlsfin_cmd_watch(argc - 1, argv + 1);
  if (!strcmp(argv[1], "probe"))
    return tlsfin_cmd_probe(argc - 1, argv + 1);
  fprintf(stderr, "tlsfin: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return TLSFIN_EXIT_USAGE;
}

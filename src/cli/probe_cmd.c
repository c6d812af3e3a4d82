/* tlsfin probe HOST:PORT [--sni NAME] [--http] [--format=table|json]
 *              [--timeout MS] [--idle-max SECONDS] [--fail-on=CHECK,...] */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "tlsfin/probe.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: tlsfin probe HOST:PORT [options]\n"
          "  --sni=NAME            server name to send (default: HOST unless "
          "an address)\n"
          "  --http                send an HTTP request in the half-close "
          "test\n"
          "  --format=table|json   output (default table)\n"
          "  --timeout=MS          deadline of each step (default 3000)\n"
          "  --idle-max=SECONDS    also wait this long for the server to "
          "close an idle connection\n"
          "  --fail-on=CHECK,...   exit 1 when a check fails: "
          "resets-on-version, no-close-notify\n");
}

int tlsfin_cmd_probe(int argc, char **argv) {
  static const struct option opts[] = {
      {"sni", required_argument, NULL, 's'},
      {"http", no_argument, NULL, 'H'},
      {"format", required_argument, NULL, 'f'},
      {"timeout", required_argument, NULL, 't'},
      {"idle-max", required_argument, NULL, 'i'},
      {"fail-on", required_argument, NULL, 'F'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct tlsfin_probe *p = tlsfin_probe_new();
  if (!p)
    return TLSFIN_EXIT_USAGE;
  bool json = false, fail_resets = false, fail_cn = false;
  int o, rc = TLSFIN_EXIT_USAGE;
  optind = 1;
  opterr = 0;
  while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    char *end;
    switch (o) {
    case 's':
      tlsfin_probe_set_sni(p, optarg);
      break;
    case 'H':
      tlsfin_probe_set_http(p, true);
      break;
    case 'f':
      if (!strcmp(optarg, "json"))
        json = true;
      else if (strcmp(optarg, "table")) {
        fprintf(stderr, "tlsfin probe: --format: '%s' is not table or json\n",
                optarg);
        goto out;
      }
      break;
    case 't': {
      long ms = strtol(optarg, &end, 10);
      if (*end || tlsfin_probe_set_timeout_ms(p, (int)ms) < 0) {
        fprintf(stderr,
                "tlsfin probe: --timeout: '%s' is not a number of "
                "milliseconds >= 50\n",
                optarg);
        goto out;
      }
      break;
    }
    case 'i': {
      long s = strtol(optarg, &end, 10);
      if (*end || s < 1 || s > 3600) {
        fprintf(stderr,
                "tlsfin probe: --idle-max: '%s' is not 1-3600 "
                "seconds\n",
                optarg);
        goto out;
      }
      tlsfin_probe_set_idle_max(p, (int)s);
      break;
    }
    case 'F': {
      char *dup = strdup(optarg), *save = NULL;
      for (char *t = strtok_r(dup, ",", &save); t;
           t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "resets-on-version"))
          fail_resets = true;
        else if (!strcmp(t, "no-close-notify"))
          fail_cn = true;
        else {
          fprintf(stderr, "tlsfin probe: --fail-on: unknown check '%s'\n", t);
          free(dup);
          goto out;
        }
      }
      free(dup);
      break;
    }
    case 'h':
      usage(stdout);
      rc = TLSFIN_EXIT_OK;
      goto out;
    default:
      fprintf(stderr, "tlsfin probe: unknown or incomplete option '%s'\n",
              argv[optind - 1]);
      usage(stderr);
      goto out;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "tlsfin probe: expected exactly one HOST:PORT\n");
    usage(stderr);
    goto out;
  }
  if (tlsfin_probe_set_target(p, argv[optind]) < 0 || tlsfin_probe_run(p) < 0) {
    fprintf(stderr, "tlsfin probe: %s\n", tlsfin_probe_error(p));
    goto out;
  }
  if (json)
    tlsfin_probe_write_json(p, stdout);
  else
    tlsfin_probe_write_table(p, stdout);
  rc = TLSFIN_EXIT_OK;
  for (int i = 0; i < TLSFIN_PROBE_VERSIONS; i++)
    if (fail_resets &&
        tlsfin_probe_version(p, i)->outcome == TLSFIN_VERSION_RESET)
      rc = TLSFIN_EXIT_FINDINGS;
  if (fail_cn && tlsfin_probe_close(p, TLSFIN_PROBE_CLOSE_NOTIFY)->outcome !=
                     TLSFIN_CLOSE_CLOSE_NOTIFY)
    rc = TLSFIN_EXIT_FINDINGS;
out:
  tlsfin_probe_free(p);
  return rc;
}

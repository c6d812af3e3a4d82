/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin analyze [--format=table|jsonl|summary] [--fail-on=VERDICT,...]
 *                [--filter BPF] [--conn N] [--unordered] [--color=WHEN] FILE...
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "opts.h"
#include "tlsfin/analyze.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: tlsfin analyze [options] FILE...   (FILE '-' is stdin; "
      "options may follow files, -- ends them)\n"
      "  -r FILE                       read FILE (as tcpdump -r; "
      "repeatable)\n"
      "  -f, --filter=BPF              libpcap filter, e.g. 'port 443'\n"
      "  -l                            flush each record (also when "
      "stdout is a pipe)\n"
      "  -j, --jobs=N                  N threads, same output (0: one per "
      "CPU; table, jsonl,\n"
      "                                zeek, csv, summary; default 1)\n"
      "  -V, --version                 print the version\n"
      "  --format=table|jsonl|summary|zeek|csv|html  output (default "
      "table; zeek: a conn.log;\n"
      "                                html: one self-contained report page)\n"
      "  --fail-on=VERDICT[,VERDICT]   exit 1 when a connection gets one "
      "of these verdicts\n"

      "  --keylog=FILE                 TLS keys (SSLKEYLOGFILE) for exact "
      "alerts and HTTP framing\n"
      "  --annotate=FILE               also write the capture to FILE "
      "(pcapng), verdicts as packet comments\n"
      "  --conn=N                      ladder diagram of connection N's "
      "last packets\n"
      "  --unordered                   write each connection as soon as it "
      "ends\n"
      "  --color=auto|always|never     colour in the table (auto: on a "
      "tty)\n"
      "  --max-memory=MB               connection table ceiling (default "
      "192; 0 = none)\n"
      "  --tunnel-port=TYPE:PORT[,PORT] also open TYPE (vxlan geneve gtpu "
      "teredo ayiya gre)\n"
      "                                on these UDP ports; TYPE:off: not at "
      "all (repeatable)\n"
      "  --zeek-checksums              verify IPv4/TCP checksums as Zeek "
      "does without -C\n"
      "                                (zeek_history C/c; off: offload "
      "makes them wrong)\n"
      "  --attempt-timeout=S --idle-timeout=S --half-closed-timeout=S\n"
      "                                capture-time timeouts (defaults "
      "130, 0, 0; 0 disables)\n"
      "verdicts:");
  for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
    fprintf(f, " %s", tlsfin_verdict_name((tlsfin_verdict)v));
  fprintf(f, "\n");
}

static void fail_on(void *ctx, tlsfin_verdict v) {
  tlsfin_analyze_fail_on(ctx, v);
}

/* analyze allocates and frees a connection's state for every connection
 * of the capture: glibc's defaults give the top of the heap back to the
 * kernel whenever 128 KB are free, and the next connections fault fresh
 * zeroed pages in again (a tenth of analyze's time on a capture of short
 * connections).  Keeping freed memory costs nothing past the peak, which
 * --max-memory bounds. */
static void tune_malloc(void) {
#ifdef M_TRIM_THRESHOLD
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_TOP_PAD, 4 << 20);
  /* this also fixes the mmap threshold at 128 KB: raising it kept
   * analyze -j's batch buffers in the heap, 9 MB more peak RSS */
#endif
}

int tlsfin_cmd_analyze(int argc, char **argv) {
  tune_malloc();
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'o'},
      {"fail-on", required_argument, NULL, 'F'},
      {"filter", required_argument, NULL, 'f'},
      {"keylog", required_argument, NULL, 'k'},
      {"annotate", required_argument, NULL, 'N'},
      {"conn", required_argument, NULL, 'c'},
      {"unordered", no_argument, NULL, 'u'},
      {"jobs", required_argument, NULL, 'j'},
      {"color", required_argument, NULL, 'C'},
      {"max-memory", required_argument, NULL, 'M'},
      {"tunnel-port", required_argument, NULL, 'T'},
      {"zeek-checksums", no_argument, NULL, 'Z'},
      {"attempt-timeout", required_argument, NULL, 'A'},
      {"idle-timeout", required_argument, NULL, 'I'},
      {"half-closed-timeout", required_argument, NULL, 'H'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  struct tlsfin_analyze *a = tlsfin_analyze_new();
  if (!a) {
    fprintf(stderr, "tlsfin analyze: out of memory\n");
    return TLSFIN_EXIT_USAGE;
  }
  int color = -1; /* auto */
  double attempt = -1, idle = -1, half = -1;
  int o;
  optind = 1;
  opterr = 0;
  /* Permuting getopt: options may come after files (tcpdump/tshark
   * habits); "--" ends them. */
  const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
  int ninputs = 0;
  bool flush_each = false;
  const char *format_given = NULL, *conn_given = NULL;
  if (!inputs) {
    fprintf(stderr, "tlsfin analyze: out of memory\n");
    tlsfin_analyze_free(a);
    return TLSFIN_EXIT_USAGE;
  }
  while ((o = getopt_long(argc, argv, "hr:f:lj:V", opts, NULL)) != -1) {
    switch (o) {
    case 'o':
      format_given = optarg;
      if (!strcmp(optarg, "table"))
        tlsfin_analyze_set_format(a, TLSFIN_FORMAT_TABLE);
      else if (!strcmp(optarg, "jsonl"))
        tlsfin_analyze_set_format(a, TLSFIN_FORMAT_JSONL);
      else if (!strcmp(optarg, "summary"))
        tlsfin_analyze_set_format(a, TLSFIN_FORMAT_SUMMARY);
      else if (!strcmp(optarg, "zeek"))
        tlsfin_analyze_set_format(a, TLSFIN_FORMAT_ZEEK);
      else if (!strcmp(optarg, "csv"))
        tlsfin_analyze_set_format(a, TLSFIN_FORMAT_CSV);
      else if (!strcmp(optarg, "html"))
        tlsfin_analyze_set_format(a, TLSFIN_FORMAT_HTML);
      else {
        fprintf(stderr,
                "tlsfin analyze: --format: '%s' is not table, jsonl, "
                "summary, zeek, csv or html\n",
                optarg);
        goto usage_error;
      }
      break;
    case 'F':
      if (cli_verdicts("analyze", "--fail-on", optarg, fail_on, a) < 0)
        goto usage_error;
      break;
    case 'b':
    case 'f':
      tlsfin_analyze_set_filter(a, optarg);
      break;
    case 'r':
      inputs[ninputs++] = optarg;
      break;
    case 'l':
      flush_each = true;
      break;
    case 'V':
      printf("tlsfin %s\n", TLSFIN_VERSION);
      free(inputs);
      tlsfin_analyze_free(a);
      return TLSFIN_EXIT_OK;
    case 'k':
      if (tlsfin_analyze_set_keylog(a, optarg) < 0) {
        fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
        free(inputs);
        tlsfin_analyze_free(a);
        return TLSFIN_EXIT_USAGE;
      }
      if (*tlsfin_analyze_keylog_warning(a))
        fprintf(stderr, "tlsfin analyze: warning: --keylog %s\n",
                tlsfin_analyze_keylog_warning(a));
      break;
    case 'N':
      if (tlsfin_analyze_set_annotate(a, optarg) < 0) {
        fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
        free(inputs);
        tlsfin_analyze_free(a);
        return TLSFIN_EXIT_USAGE;
      }
      break;
    case 'c': {
      char *end;
      unsigned long long n = strtoull(optarg, &end, 10);
      if (!*optarg || *end || n == 0) {
        fprintf(stderr,
                "tlsfin analyze: --conn: '%s' is not a connection id "
                "(1, 2, ...)\n",
                optarg);
        goto usage_error;
      }
      tlsfin_analyze_set_conn(a, n);
      conn_given = optarg;
      break;
    }
    case 'u':
      tlsfin_analyze_set_unordered(a, true);
      break;
    case 'j': {
      double n;
      if (cli_number("analyze", "-j", optarg, 0, 64, &n) < 0)
        goto usage_error;
      if (n != (double)(unsigned)n) {
        fprintf(stderr, "tlsfin analyze: -j: '%s' is not a whole number\n",
                optarg);
        goto usage_error;
      }
      if (tlsfin_analyze_set_jobs(a, (unsigned)n) < 0) {
        fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
        goto usage_error;
      }
      break;
    }
    case 'C':
      if (cli_color("analyze", optarg, &color) < 0)
        goto usage_error;
      break;
    case 'M': {
      double mb;
      if (cli_number("analyze", "--max-memory", optarg, 0, 1e6, &mb) < 0 ||
          tlsfin_analyze_set_max_memory(a, (uint64_t)mb << 20) < 0) {
        if (*tlsfin_analyze_error(a))
          fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
        goto usage_error;
      }
      break;
    }
    case 'T':
      if (tlsfin_analyze_set_tunnel_port(a, optarg) < 0) {
        fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
        goto usage_error;
      }
      break;
    case 'Z':
      tlsfin_analyze_set_zeek_checksums(a, true);
      break;
    case 'A':
      if (cli_number("analyze", "--attempt-timeout", optarg, 0, 86400,
                     &attempt) < 0)
        goto usage_error;
      break;
    case 'I':
      if (cli_number("analyze", "--idle-timeout", optarg, 0, 86400 * 30,
                     &idle) < 0)
        goto usage_error;
      break;
    case 'H':
      if (cli_number("analyze", "--half-closed-timeout", optarg, 0, 86400 * 30,
                     &half) < 0)
        goto usage_error;
      break;
    case 'h':
      usage(stdout);
      free(inputs);
      tlsfin_analyze_free(a);
      return TLSFIN_EXIT_OK;
    default:
      fprintf(stderr, "tlsfin analyze: unknown or incomplete option '%s'\n",
              argv[optind - 1]);
      goto usage_error;
    }
  }
  if (format_given && conn_given) {
    fprintf(stderr,
            "tlsfin analyze: --conn %s draws one connection's ladder: it "
            "does not combine with --format=%s\n",
            conn_given, format_given);
    goto usage_error;
  }
  for (int i = optind; i < argc; i++)
    inputs[ninputs++] = argv[i];
  if (!ninputs) {
    fprintf(stderr, "tlsfin analyze: no capture file given\n");
    goto usage_error;
  }
  /* A record at a time when someone reads as we go: a pipe (`| jq`), or
   * -l as in tcpdump. */
  struct stat st;
  bool flush = flush_each || (fstat(1, &st) == 0 && S_ISFIFO(st.st_mode));
  tlsfin_analyze_set_flush(a, flush);
  /* Otherwise the records go out in big writes: stdio's buffer is one
   * block (4 KB), a write(2) per three records of a large capture. */
  static char outbuf[1 << 20]; /* glibc sizes its own buffer by st_blksize */
  if (!flush && !isatty(1))
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
  tlsfin_analyze_set_timeouts(a, attempt, idle, half);
  tlsfin_analyze_set_color(a, cli_use_color(color));
  if (isatty(2))
    tlsfin_analyze_set_progress(a, stderr);

  int rc = TLSFIN_EXIT_OK;
  if (ninputs == 1) {
    if (tlsfin_analyze_file(a, inputs[0]) < 0) {
      fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
      rc = TLSFIN_EXIT_USAGE;
    }
  } else if (tlsfin_analyze_files(a, inputs, (size_t)ninputs) < 0) {
    rc = TLSFIN_EXIT_USAGE; /* each failure was reported as it happened */
  }
  if (tlsfin_analyze_finish(a) < 0) {
    fprintf(stderr, "tlsfin analyze: %s\n", tlsfin_analyze_error(a));
    rc = TLSFIN_EXIT_USAGE;
  }
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "tlsfin analyze: writing the output: %s\n",
            strerror(errno ? errno : EIO));
    rc = TLSFIN_EXIT_USAGE;
  }
  free(inputs);
  if (tlsfin_analyze_evicted(a))
    fprintf(stderr,
            "tlsfin analyze: warning: %llu connection(s) finished early at "
            "the memory ceiling; their verdicts may lack later packets "
            "(raise --max-memory)\n",
            (unsigned long long)tlsfin_analyze_evicted(a));
  if (rc == TLSFIN_EXIT_OK && tlsfin_analyze_failed(a))
    rc = TLSFIN_EXIT_FINDINGS;
  tlsfin_analyze_free(a);
  return rc;

usage_error:
  usage(stderr);
  free(inputs);
  tlsfin_analyze_free(a);
  return TLSFIN_EXIT_USAGE;
}

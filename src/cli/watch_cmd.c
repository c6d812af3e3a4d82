/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin watch [-i IFACE]... [--filter BPF] [--format=table|jsonl] ...
 * (usage() below is the list; docs/watch.md explains each). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "opts.h"
#include "tlsfin/watch.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: tlsfin watch [options]\n"
      "  -i, --interface=IFACE        capture on IFACE (repeatable; default "
      "any)\n"
      "  -f, --filter=BPF             libpcap filter, e.g. 'port 443'\n"
      "  -j, --jobs=N                 capture threads (Linux PACKET_FANOUT, "
      "hash); 0 = one\n"
      "                               per CPU, at most 64 (default 1)\n"
      "  -l                           accepted: rows are always flushed as "
      "written\n"
      "  -V, --version                print the version\n"
      "  --format=table|jsonl         rows as connections end (default "
      "table)\n"
      "  --keylog=FILE                TLS keys (SSLKEYLOGFILE), followed as "
      "it grows\n"
      "  --record=DIR                 flight recorder: pcapng of the bad "
      "endings\n"
      "  --record-verdicts=LIST       verdicts recorded (default: all but "
      "tls_clean,tcp_clean,tls_one_sided)\n"
      "  --record-max-mb=N            bound on DIR (default 1024; 0 = no "
      "bound)\n"
      "  --record-packets=N           last packets kept per connection "
      "(default 64)\n"
      "  --metrics=[ADDR:]PORT        Prometheus metrics at "
      "http://ADDR:PORT/metrics\n"
      "  --summary-every=SECONDS      summary counts on stderr every SECONDS\n"
      "  --duration=SECONDS           stop after SECONDS (default: until "
      "SIGINT/SIGTERM)\n"
      "  --fail-on=VERDICT[,...]      exit 1 when a connection gets one of "
      "these\n"
      "  --kernel=auto|on|off         kernel RST reasons and processes via "
      "eBPF (default auto)\n"
      "  --libssl                     with --kernel: what OpenSSL told each "
      "application (uprobes)\n"
      "  --buffer-mb=N                capture buffer per interface (default "
      "64)\n"
      "  --snaplen=N                  bytes captured per packet (default "
      "65535)\n"
      "  --linger=S --attempt-timeout=S --idle-timeout=S "
      "--half-closed-timeout=S\n"
      "                               timeouts (defaults 2, 130, 3600, 300; 0 "
      "disables)\n"
      "  --max-memory=MB              connection table ceiling (default 192; "
      "0 = none)\n"
      "  --tunnel-port=TYPE:PORT[,PORT]  as in analyze: also open TYPE on "
      "these "
      "UDP ports\n"
      "  --color=auto|always|never    colour in the table\n");
}

static struct tlsfin_watch *running;

static void on_signal(int sig) {
  (void)sig;
  if (running)
    tlsfin_watch_stop(running);
}

static void fail_on(void *ctx, tlsfin_verdict v) {
  tlsfin_watch_fail_on(ctx, v);
}
static void record_verdict(void *ctx, tlsfin_verdict v) {
  tlsfin_watch_record_verdict(ctx, v);
}

/* A number in [lo, hi] for option opt. */
#define parse_num(opt, s, lo, hi, out) cli_number("watch", opt, s, lo, hi, out)

enum {
  O_FORMAT = 256,
  O_KEYLOG,
  O_RECORD,
  O_RECORD_VERDICTS,
  O_RECORD_MAX,
  O_RECORD_PACKETS,
  O_METRICS,
  O_SUMMARY,
  O_DURATION,
  O_FAIL_ON,
  O_KERNEL,
  O_BUFFER,
  O_SNAPLEN,
  O_LINGER,
  O_ATTEMPT,
  O_IDLE,
  O_HALF,
  O_COLOR,
  O_MAXMEM,
  O_LIBSSL,
  O_TUNNEL,
};

int tlsfin_cmd_watch(int argc, char **argv) {
  static const struct option opts[] = {
      {"interface", required_argument, NULL, 'i'},
      {"filter", required_argument, NULL, 'f'},
      {"jobs", required_argument, NULL, 'j'},
      {"threads", required_argument, NULL, 'j'}, /* the first name it had */
      {"format", required_argument, NULL, O_FORMAT},
      {"keylog", required_argument, NULL, O_KEYLOG},
      {"record", required_argument, NULL, O_RECORD},
      {"record-verdicts", required_argument, NULL, O_RECORD_VERDICTS},
      {"record-max-mb", required_argument, NULL, O_RECORD_MAX},
      {"record-packets", required_argument, NULL, O_RECORD_PACKETS},
      {"metrics", required_argument, NULL, O_METRICS},
      {"summary-every", required_argument, NULL, O_SUMMARY},
      {"duration", required_argument, NULL, O_DURATION},
      {"fail-on", required_argument, NULL, O_FAIL_ON},
      {"kernel", required_argument, NULL, O_KERNEL},
      {"buffer-mb", required_argument, NULL, O_BUFFER},
      {"snaplen", required_argument, NULL, O_SNAPLEN},
      {"linger", required_argument, NULL, O_LINGER},
      {"attempt-timeout", required_argument, NULL, O_ATTEMPT},
      {"idle-timeout", required_argument, NULL, O_IDLE},
      {"half-closed-timeout", required_argument, NULL, O_HALF},
      {"color", required_argument, NULL, O_COLOR},
      {"max-memory", required_argument, NULL, O_MAXMEM},
      {"libssl", no_argument, NULL, O_LIBSSL},
      {"tunnel-port", required_argument, NULL, O_TUNNEL},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  struct tlsfin_watch *w = tlsfin_watch_new();
  if (!w) {
    fprintf(stderr, "tlsfin watch: out of memory\n");
    return TLSFIN_EXIT_USAGE;
  }
  int color = -1;
  unsigned summary_every = 0;
  double linger = -1, attempt = -1, idle = -1, half = -1, v;
  int o;
  optind = 1;
  opterr = 0;
  while ((o = getopt_long(argc, argv, ":i:f:j:hlV", opts, NULL)) != -1) {
    int rc = 0;
    switch (o) {
    case 'i':
      rc = tlsfin_watch_add_interface(w, optarg);
      break;
    case 'f':
      rc = tlsfin_watch_set_filter(w, optarg);
      break;
    case 'j': {
      char *end;
      errno = 0;
      long n = strtol(optarg, &end, 10);
      if (!*optarg || *end || errno == EINVAL || n < 0) {
        fprintf(stderr,
                "tlsfin watch: -j: '%s' is not a number of threads (0 = one "
                "per CPU, at most %d)\n",
                optarg, TLSFIN_WATCH_MAX_THREADS);
        goto usage_error;
      }
      if (errno == ERANGE || n > TLSFIN_WATCH_MAX_THREADS) {
        fprintf(stderr, "tlsfin watch: warning: -j %s: capped at %d threads\n",
                optarg, TLSFIN_WATCH_MAX_THREADS);
        n = TLSFIN_WATCH_MAX_THREADS;
      }
      rc = tlsfin_watch_set_threads(w, (int)n);
      break;
    }
    case O_FORMAT:
      if (!strcmp(optarg, "table"))
        rc = tlsfin_watch_set_format(w, TLSFIN_FORMAT_TABLE);
      else if (!strcmp(optarg, "jsonl"))
        rc = tlsfin_watch_set_format(w, TLSFIN_FORMAT_JSONL);
      else {
        fprintf(stderr, "tlsfin watch: --format: '%s' is not table or jsonl\n",
                optarg);
        goto usage_error;
      }
      break;
    case O_KEYLOG:
      rc = tlsfin_watch_set_keylog(w, optarg);
      break;
    case O_RECORD:
      rc = tlsfin_watch_set_record(w, optarg);
      break;
    case O_RECORD_VERDICTS:
      if (cli_verdicts("watch", "--record-verdicts", optarg, record_verdict,
                       w) < 0)
        goto usage_error;
      break;
    case O_RECORD_MAX:
      if (parse_num("--record-max-mb", optarg, 0, 1e9, &v) < 0)
        goto usage_error;
      rc = tlsfin_watch_set_record_max_mb(w, (uint64_t)v);
      break;
    case O_RECORD_PACKETS:
      if (parse_num("--record-packets", optarg, 1, 65536, &v) < 0)
        goto usage_error;
      rc = tlsfin_watch_set_record_packets(w, (unsigned)v);
      break;
    case O_METRICS:
      rc = tlsfin_watch_set_metrics(w, optarg);
      break;
    case O_SUMMARY:
      if (parse_num("--summary-every", optarg, 1, 86400 * 365, &v) < 0)
        goto usage_error;
      summary_every = (unsigned)v;
      break;
    case O_DURATION:
      if (parse_num("--duration", optarg, 0.001, 86400.0 * 3650, &v) < 0)
        goto usage_error;
      rc = tlsfin_watch_set_duration(w, v);
      break;
    case O_FAIL_ON:
      if (cli_verdicts("watch", "--fail-on", optarg, fail_on, w) < 0)
        goto usage_error;
      break;
    case O_KERNEL:
      if (!strcmp(optarg, "auto"))
        rc = tlsfin_watch_set_kernel(w, TLSFIN_KERNEL_AUTO);
      else if (!strcmp(optarg, "on"))
        rc = tlsfin_watch_set_kernel(w, TLSFIN_KERNEL_ON);
      else if (!strcmp(optarg, "off"))
        rc = tlsfin_watch_set_kernel(w, TLSFIN_KERNEL_OFF);
      else {
        fprintf(stderr, "tlsfin watch: --kernel: '%s' is not auto, on or off\n",
                optarg);
        goto usage_error;
      }
      break;
    case O_BUFFER:
      if (parse_num("--buffer-mb", optarg, 1, 4096, &v) < 0)
        goto usage_error;
      rc = tlsfin_watch_set_buffer_mb(w, (unsigned)v);
      break;
    case O_SNAPLEN:
      if (parse_num("--snaplen", optarg, 96, 262144, &v) < 0)
        goto usage_error;
      rc = tlsfin_watch_set_snaplen(w, (unsigned)v);
      break;
    case O_LINGER:
      if (parse_num("--linger", optarg, 0.01, 3600, &linger) < 0)
        goto usage_error;
      break;
    case O_ATTEMPT:
      if (parse_num("--attempt-timeout", optarg, 0, 86400, &attempt) < 0)
        goto usage_error;
      break;
    case O_IDLE:
      if (parse_num("--idle-timeout", optarg, 0, 86400 * 30, &idle) < 0)
        goto usage_error;
      break;
    case O_HALF:
      if (parse_num("--half-closed-timeout", optarg, 0, 86400 * 30, &half) < 0)
        goto usage_error;
      break;
    case O_LIBSSL:
      rc = tlsfin_watch_set_libssl(w, true);
      break;
    case O_TUNNEL:
      rc = tlsfin_watch_set_tunnel_port(w, optarg);
      break;
    case O_MAXMEM:
      if (parse_num("--max-memory", optarg, 0, 1e6, &v) < 0)
        goto usage_error;
      rc = tlsfin_watch_set_max_memory(w, (uint64_t)v << 20);
      break;
    case O_COLOR:
      if (cli_color("watch", optarg, &color) < 0)
        goto usage_error;
      break;
    case 'h':
      usage(stdout);
      tlsfin_watch_free(w);
      return TLSFIN_EXIT_OK;
    case 'V':
      printf("tlsfin %s\n", TLSFIN_VERSION);
      tlsfin_watch_free(w);
      return TLSFIN_EXIT_OK;
    case 'l': /* rows are always flushed as they are written (tcpdump -l) */
      break;
    case ':':
      fprintf(stderr, "tlsfin watch: option '%s' needs a value\n",
              argv[optind - 1]);
      goto usage_error;
    default:
      fprintf(stderr, "tlsfin watch: unknown option '%s'\n", argv[optind - 1]);
      goto usage_error;
    }
    if (rc < 0) {
      fprintf(stderr, "tlsfin watch: %s\n", tlsfin_watch_error(w));
      goto usage_error;
    }
  }
  if (optind < argc) {
    fprintf(stderr,
            "tlsfin watch: unexpected argument '%s' (interfaces are given "
            "with -i)\n",
            argv[optind]);
    goto usage_error;
  }
  if (tlsfin_watch_set_timeouts(w, linger, attempt, idle, half) < 0) {
    fprintf(stderr, "tlsfin watch: %s\n", tlsfin_watch_error(w));
    goto usage_error;
  }
  tlsfin_watch_set_color(w, cli_use_color(color));
  tlsfin_watch_set_summary(w, stderr, summary_every);
  /* Rows as they happen, also through a pipe: `tlsfin watch | jq`. */
  setvbuf(stdout, NULL, _IOLBF, 0);

  if (tlsfin_watch_start(w) < 0) {
    fprintf(stderr, "tlsfin watch: %s\n", tlsfin_watch_error(w));
    tlsfin_watch_free(w);
    return TLSFIN_EXIT_USAGE;
  }
  if (tlsfin_watch_threads(w) > 1)
    fprintf(stderr, "tlsfin watch: %d capture threads (PACKET_FANOUT, hash)\n",
            tlsfin_watch_threads(w));
  /* The "ready" line scripts wait for, like tcpdump's "listening on". */
  fprintf(stderr, "tlsfin watch: listening (kernel evidence %s)\n",
          *tlsfin_watch_kernel_status(w) ? "off" : "on");
  if (*tlsfin_watch_kernel_status(w))
    fprintf(stderr,
            "tlsfin watch: kernel evidence off: %s; RST causes come from the "
            "wire only\n",
            tlsfin_watch_kernel_status(w));
  running = w;
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int rc = TLSFIN_EXIT_OK;
  if (tlsfin_watch_run(w) < 0) {
    fprintf(stderr, "tlsfin watch: %s\n", tlsfin_watch_error(w));
    rc = TLSFIN_EXIT_USAGE;
  }
  if (tlsfin_watch_finish(w) < 0) {
    fprintf(stderr, "tlsfin watch: %s\n", tlsfin_watch_error(w));
    rc = TLSFIN_EXIT_USAGE;
  }
  if (rc == TLSFIN_EXIT_OK && tlsfin_watch_failed(w))
    rc = TLSFIN_EXIT_FINDINGS;
  running = NULL;
  tlsfin_watch_free(w);
  return rc;

usage_error:
  usage(stderr);
  tlsfin_watch_free(w);
  return TLSFIN_EXIT_USAGE;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin probe HOST:PORT [--sni NAME] [--http] [--format=table|json]
 *              [--timeout MS] [--idle-max SECONDS] [--fail-on=CHECK,...] */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmds.h"
#include "opts.h"
#include "tlsfin/probe.h"
#include "tlsfin/taxonomy.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: tlsfin probe HOST:PORT [options]\n"
      "  --sni=NAME            server name to send (default: HOST unless "
      "an address)\n"
      "  --http                send an HTTP request in the half-close "
      "test\n"
      "  --format=table|json   output (default table)\n"
      "  --timeout=MS          deadline of each step, name resolution too "
      "(default 3000)\n"
      "  --idle-max=SECONDS    also wait this long for the server to "
      "close an idle connection\n"
      "  --fail-on=CHECK,...   exit 1 when a check fails: "
      "resets-on-version, no-close-notify\n"
      "       tlsfin probe --targets=FILE [-j N] [options]\n"
      "  one HOST:PORT per line, any number of lines ('#' comments), N "
      "at once (default 4)\n"
      "       tlsfin probe --listen [ADDRESS:]PORT [--behave=B] [--count=N] "
      "[--format=table|json]\n"
      "  client mode: a TLS server that reports each client; B is "
      "close-notify (default),\n"
      "  fin-mid-response, reset or idle-close; clients are served at "
      "once (up to %d,\n"
      "  more wait in the listen backlog), each within --timeout, and "
      "reported as they finish\n",
      TLSFIN_LISTEN_MAX_CLIENTS);
}

/* --targets FILE -j N: each target probed by one worker at a time (its own
 * steps stay sequential, so a server sees one probe connection at once).
 *
 * The file is streamed, any number of lines: the reader hands targets to
 * the workers through a ring of 4 x N slots and prints each result, in file
 * order, as soon as it and all before it are done, then reuses its slot.
 * Memory is bounded by the ring, not by the file. */
enum { JOB_QUEUED = 1, JOB_DONE };
struct job {
  struct tlsfin_probe *p;
  char target[300];
  int state;
  int rc; /* 0 ok, -1 failed */
  char err[300];
};
struct pool_state {
  struct job *slots;
  size_t win;
  unsigned long long queued, taken, printed;
  bool eof;
  int timeout_ms;
  bool http;
  pthread_mutex_t mu;
  pthread_cond_t work, done;
};
static void *worker(void *arg) {
  struct pool_state *ps = arg;
  pthread_mutex_lock(&ps->mu);
  for (;;) {
    while (ps->taken == ps->queued && !ps->eof)
      pthread_cond_wait(&ps->work, &ps->mu);
    if (ps->taken == ps->queued)
      break; /* eof and nothing left */
    struct job *j = &ps->slots[ps->taken++ % ps->win];
    pthread_mutex_unlock(&ps->mu);
    j->p = tlsfin_probe_new();
    if (!j->p) {
      j->rc = -1;
      snprintf(j->err, sizeof j->err, "%.280s: out of memory", j->target);
    } else {
      tlsfin_probe_set_timeout_ms(j->p, ps->timeout_ms);
      tlsfin_probe_set_http(j->p, ps->http);
      if (tlsfin_probe_set_target(j->p, j->target) < 0 ||
          tlsfin_probe_run(j->p) < 0) {
        j->rc = -1;
        snprintf(j->err, sizeof j->err, "%s", tlsfin_probe_error(j->p));
      }
    }
    pthread_mutex_lock(&ps->mu);
    j->state = JOB_DONE;
    pthread_cond_signal(&ps->done);
  }
  pthread_mutex_unlock(&ps->mu);
  return NULL;
}

/* One finished job, printed and freed (its slot is free again). */
struct targets_out {
  bool json, fail_resets, fail_cn;
  int rc;
};
static void print_job(struct job *j, struct targets_out *o) {
  if (j->rc < 0) {
    fprintf(stderr, "tlsfin probe: %s\n", j->err);
    o->rc = TLSFIN_EXIT_USAGE;
  } else {
    if (o->json) {
      tlsfin_probe_write_json(j->p, stdout);
    } else {
      tlsfin_probe_write_table(j->p, stdout);
      printf("\n");
    }
    fflush(stdout);
    if (o->rc != TLSFIN_EXIT_USAGE) {
      for (int k = 0; k < TLSFIN_PROBE_VERSIONS; k++)
        if (o->fail_resets &&
            tlsfin_probe_version(j->p, k)->outcome == TLSFIN_VERSION_RESET)
          o->rc = TLSFIN_EXIT_FINDINGS;
      if (o->fail_cn &&
          tlsfin_probe_close(j->p, TLSFIN_PROBE_CLOSE_NOTIFY)->outcome !=
              TLSFIN_CLOSE_CLOSE_NOTIFY)
        o->rc = TLSFIN_EXIT_FINDINGS;
    }
  }
  tlsfin_probe_free(j->p);
  memset(j, 0, sizeof *j);
}

/* Prints the finished jobs at the head of the ring; with `room`, returns
 * once a slot is free, else once everything queued is printed.  Called
 * with ps->mu held; prints without it (only this thread touches a slot
 * that is done). */
static void drain(struct pool_state *ps, struct targets_out *o, bool room) {
  for (;;) {
    if (room ? ps->queued - ps->printed < ps->win : ps->printed == ps->queued)
      return;
    struct job *head = &ps->slots[ps->printed % ps->win];
    if (head->state != JOB_DONE) {
      pthread_cond_wait(&ps->done, &ps->mu);
      continue;
    }
    pthread_mutex_unlock(&ps->mu);
    print_job(head, o);
    pthread_mutex_lock(&ps->mu);
    ps->printed++;
  }
}

/* Reads one line into buf (cap bytes), the rest of a longer line skipped
 * so that a line costs at most cap bytes however long it is.  Returns
 * false at end of file; *cut says the line was longer than buf. */
static bool read_line(FILE *f, char *buf, size_t cap, bool *cut) {
  *cut = false;
  if (!fgets(buf, (int)cap, f))
    return false;
  size_t l = strlen(buf);
  if (l == cap - 1 && buf[l - 1] != '\n') {
    int ch;
    while ((ch = getc(f)) != EOF && ch != '\n')
      *cut = true;
  }
  return true;
}

static int run_targets(const char *path, int jobs, int timeout_ms, bool http,
                       struct targets_out *o) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "tlsfin probe: --targets %s: %s\n", path, strerror(errno));
    return TLSFIN_EXIT_USAGE;
  }
  /* fopen() opens a directory for reading; only the first read fails */
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fprintf(stderr, "tlsfin probe: %s: is a directory\n", path);
    fclose(f);
    return TLSFIN_EXIT_USAGE;
  }
  struct pool_state ps = {0};
  ps.win = (size_t)jobs * 4;
  ps.slots = calloc(ps.win, sizeof *ps.slots);
  ps.timeout_ms = timeout_ms;
  ps.http = http;
  pthread_mutex_init(&ps.mu, NULL);
  pthread_cond_init(&ps.work, NULL);
  pthread_cond_init(&ps.done, NULL);
  if (!ps.slots) {
    fprintf(stderr, "tlsfin probe: out of memory\n");
    fclose(f);
    return TLSFIN_EXIT_USAGE;
  }
  o->rc = TLSFIN_EXIT_OK;
  pthread_t th[64];
  int nt = 0;
  for (; nt < jobs; nt++)
    if (pthread_create(&th[nt], NULL, worker, &ps) != 0)
      break;
  if (nt == 0) {
    fprintf(stderr, "tlsfin probe: cannot start a worker thread\n");
    o->rc = TLSFIN_EXIT_USAGE;
  }
  char line[512];
  unsigned long lineno = 0;
  bool cut;
  while (nt > 0 && read_line(f, line, sizeof line, &cut)) {
    lineno++;
    size_t tl = strcspn(line, " \t\r\n#");
    bool whole = line[tl] != 0; /* the target ended inside the buffer */
    line[tl] = 0;
    if (!line[0])
      continue;
    if (tl >= sizeof ps.slots[0].target || (cut && !whole)) {
      fprintf(stderr, "tlsfin probe: %s:%lu: target too long\n", path, lineno);
      o->rc = TLSFIN_EXIT_USAGE;
      continue;
    }
    pthread_mutex_lock(&ps.mu);
    drain(&ps, o, true);
    struct job *j = &ps.slots[ps.queued % ps.win];
    memcpy(j->target, line, tl + 1);
    j->state = JOB_QUEUED;
    ps.queued++;
    pthread_cond_signal(&ps.work);
    pthread_mutex_unlock(&ps.mu);
  }
  if (ferror(f)) {
    fprintf(stderr, "tlsfin probe: %s: %s\n", path, strerror(errno));
    o->rc = TLSFIN_EXIT_USAGE;
  }
  fclose(f);
  pthread_mutex_lock(&ps.mu);
  ps.eof = true;
  pthread_cond_broadcast(&ps.work);
  drain(&ps, o, false);
  pthread_mutex_unlock(&ps.mu);
  for (int i = 0; i < nt; i++)
    pthread_join(th[i], NULL);
  free(ps.slots);
  pthread_mutex_destroy(&ps.mu);
  pthread_cond_destroy(&ps.work);
  pthread_cond_destroy(&ps.done);
  return o->rc;
}

static const char *vn(uint16_t v) {
  const char *n = tlsfin_version_name(v);
  return n ? n : "-";
}

static void report_table(void *arg, const struct tlsfin_listen_client *c) {
  (void)arg;
  printf("%-22s %-8s %-8s %-6s %-13s %-8s %.0f ms%s%s\n", c->peer,
         vn(c->client_max_version), c->handshake ? vn(c->version) : "-",
         c->sni[0] ? "yes" : "no", tlsfin_close_outcome_name(c->reaction),
         c->then == TLSFIN_CLOSE_SKIPPED ? "-"
                                         : tlsfin_close_outcome_name(c->then),
         c->ms, c->note[0] ? "; " : "", c->note);
  fflush(stdout);
}

/* The note is ours, but it quotes OpenSSL's reason strings: escaped. */
static void json_note(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      printf("\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      printf("\\u%04x", ch);
    else
      putchar(ch);
  }
  putchar('"');
}

static void report_json(void *arg, const struct tlsfin_listen_client *c) {
  (void)arg;
  printf("{\"client\":\"%s\",\"client_max_version\":\"%s\",\"version\":%s%s%s,"
         "\"sni\":%s%s%s,\"request\":%s,\"reaction\":\"%s\",\"then\":%s%s%s,"
         "\"ms\":%.1f,\"note\":",
         c->peer, vn(c->client_max_version), c->handshake ? "\"" : "",
         c->handshake ? vn(c->version) : "null", c->handshake ? "\"" : "",
         c->sni[0] ? "\"" : "", c->sni[0] ? "(set)" : "null",
         c->sni[0] ? "\"" : "", c->request ? "true" : "false",
         tlsfin_close_outcome_name(c->reaction),
         c->then == TLSFIN_CLOSE_SKIPPED ? "" : "\"",
         c->then == TLSFIN_CLOSE_SKIPPED ? "null"
                                         : tlsfin_close_outcome_name(c->then),
         c->then == TLSFIN_CLOSE_SKIPPED ? "" : "\"", c->ms);
  json_note(c->note);
  printf("}\n");
  fflush(stdout);
}

int tlsfin_cmd_probe(int argc, char **argv) {
  static const struct option opts[] = {
      {"sni", required_argument, NULL, 's'},
      {"http", no_argument, NULL, 'H'},
      {"format", required_argument, NULL, 'f'},
      {"timeout", required_argument, NULL, 't'},
      {"idle-max", required_argument, NULL, 'i'},
      {"fail-on", required_argument, NULL, 'F'},
      {"listen", required_argument, NULL, 'l'},
      {"behave", required_argument, NULL, 'B'},
      {"count", required_argument, NULL, 'n'},
      {"targets", required_argument, NULL, 'T'},
      {"jobs", required_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  /* a peer that closes while OpenSSL writes must not kill the probe */
  signal(SIGPIPE, SIG_IGN);
  struct tlsfin_probe *p = tlsfin_probe_new();
  if (!p)
    return TLSFIN_EXIT_USAGE;
  bool json = false, fail_resets = false, fail_cn = false;
  const char *listen_on = NULL, *targets = NULL;
  int jobs = 4;
  bool http = false;
  int behave = TLSFIN_BEHAVE_CLOSE_NOTIFY, count = 0, timeout_ms = 3000;
  int o, rc = TLSFIN_EXIT_USAGE;
  optind = 1;
  opterr = 0;
  /* Permuting: `tlsfin probe HOST:PORT --sni x` works, "--" ends options. */
  while ((o = getopt_long(argc, argv, "hj:V", opts, NULL)) != -1) {
    char *end;
    switch (o) {
    case 's':
      tlsfin_probe_set_sni(p, optarg);
      break;
    case 'H':
      http = true;
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
      /* range-checked before any narrowing: 4294967346 must not wrap */
      double ms;
      if (cli_number("probe", "--timeout", optarg, 50, 3600000, &ms) < 0)
        goto out;
      timeout_ms = (int)ms;
      if (tlsfin_probe_set_timeout_ms(p, timeout_ms) < 0) {
        fprintf(stderr, "tlsfin probe: --timeout: %s\n", optarg);
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
    case 'l':
      listen_on = optarg;
      break;
    case 'T':
      targets = optarg;
      break;
    case 'j': {
      double j;
      if (cli_number("probe", "-j", optarg, 1, 64, &j) < 0)
        goto out;
      jobs = (int)j;
      break;
    }
    case 'B':
      if ((behave = tlsfin_behave_parse(optarg)) < 0) {
        fprintf(stderr,
                "tlsfin probe: --behave: '%s' is not close-notify, "
                "fin-mid-response, reset or idle-close\n",
                optarg);
        goto out;
      }
      break;
    case 'n': {
      double n;
      if (cli_number("probe", "--count", optarg, 1, 1e6, &n) < 0)
        goto out;
      count = (int)n;
      break;
    }
    case 'h':
      usage(stdout);
      rc = TLSFIN_EXIT_OK;
      goto out;
    case 'V':
      printf("tlsfin %s\n", TLSFIN_VERSION);
      rc = TLSFIN_EXIT_OK;
      goto out;
    default:
      fprintf(stderr, "tlsfin probe: unknown or incomplete option '%s'\n",
              argv[optind - 1]);
      usage(stderr);
      goto out;
    }
  }
  if (listen_on) {
    if (optind != argc) {
      fprintf(stderr, "tlsfin probe: --listen takes no HOST:PORT\n");
      goto out;
    }
    char err[300];
    if (!json)
      printf("%-22s %-8s %-8s %-6s %-13s %-8s %s\n", "CLIENT", "OFFERED",
             "VERSION", "SNI", "REACTION", "THEN", "AFTER");
    fflush(stdout);
    if (tlsfin_probe_listen(listen_on, (enum tlsfin_behave)behave, count,
                            timeout_ms, json ? report_json : report_table, NULL,
                            err, sizeof err) < 0) {
      fprintf(stderr, "tlsfin probe: %s\n", err);
      goto out;
    }
    rc = TLSFIN_EXIT_OK;
    goto out;
  }
  if (targets) {
    struct targets_out o = {json, fail_resets, fail_cn, TLSFIN_EXIT_OK};
    rc = run_targets(targets, jobs, timeout_ms, http, &o);
    goto out;
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

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

/* Some target could not be tested at all (name resolution, no connection,
 * no answer to any ClientHello) and no --fail-on check matched: distinct
 * from 1 (a server was tested and failed) and 2 (bad usage). */

/* What the options ask of every probe: one place, so that a single target
 * and each of --targets get the same. */
struct settings {
  const char *sni; /* NULL: the default */
  bool http;
  int timeout_ms, idle_max;
  const char *starttls, *xmpp_host; /* NULL: none, the default */
};
static void configure(struct tlsfin_probe *p, const struct settings *st) {
  /* before the target: tlsfin_probe_set_target() fills in a default SNI
   * only when none is set */
  if (st->sni)
    tlsfin_probe_set_sni(p, st->sni);
  tlsfin_probe_set_http(p, st->http);
  tlsfin_probe_set_timeout_ms(p, st->timeout_ms);
  tlsfin_probe_set_idle_max(p, st->idle_max);
  tlsfin_probe_set_starttls(p, st->starttls); /* checked when parsed */
  tlsfin_probe_set_xmpp_host(p, st->xmpp_host);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: tlsfin probe HOST:PORT [options]\n"
          "       tlsfin probe --targets=FILE [-j N] [options]\n"
          "       tlsfin probe --listen=[ADDRESS:]PORT [listen options]\n"
          "  --sni=NAME            server name to send (default: HOST unless "
          "an address)\n"
          "  --http                send an HTTP request in the half-close "
          "test, and before\n"
          "                        the idle test (then it measures the "
          "keep-alive timeout);\n"
          "                        enables half_close_13 (TLS 1.3) and "
          "h2_goaway (ALPN h2)\n"
          "  --format=table|json   output (default table); JSON: one object "
          "a line\n"
          "  --timeout=MS          deadline of each step, name resolution too "
          "(default 3000)\n"
          "  --idle-max=SECONDS    also wait this long for the server to "
          "close an idle connection\n"
          "  --starttls=PROTO      upgrade each connection from plaintext "
          "first: smtp, imap,\n"
          "                        pop3, ftp, ldap, postgres, mysql, xmpp "
          "(no default port)\n"
          "  --xmpp-host=NAME      the XMPP stream's to= (default: the SNI, "
          "else HOST)\n"
          "  --fail-on=CHECK,...   exit 1 when a check fails: "
          "resets-on-version, no-close-notify\n"
          "  --targets=FILE        probe every HOST:PORT of FILE (one a line, "
          "'#' comments),\n"
          "                        with all the options above; one record "
          "per target, in file\n"
          "                        order, untested ones too "
          "(\"tested\":false and a \"reason\")\n"
          "  -j, --jobs=N          targets probed at once (1-64, default 4)\n"
          "listen options (client mode: a TLS server that reports each "
          "client):\n"
          "  --listen=[ADDRESS:]PORT  ADDRESS 127.0.0.1 (default), [::1], "
          "[::] (IPv6 and IPv4)...\n"
          "  --behave=B            close-notify (default), fin-mid-response, "
          "reset or idle-close\n"
          "  --count=N             stop after N clients (default: until "
          "killed)\n"
          "  --cert=FILE --key=FILE  serve this certificate (chain) and key "
          "(PEM; default: a\n"
          "                        self-signed one made at start)\n"
          "  --timeout=MS, --format=table|json  as above; clients are served "
          "at once (up to %d,\n"
          "  more wait in the listen backlog), each within --timeout, and "
          "reported as they finish\n"
          "exit status: 0 all tested, nothing failed; 1 a --fail-on check "
          "failed; 2 bad usage\n"
          "  (or a malformed target line); 3 a target could not be tested "
          "(name resolution,\n"
          "  connection, STARTTLS upgrade, no answer to any ClientHello) and "
          "no check failed\n",
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
  int rc; /* 0 tested, JOB_UNTESTED, JOB_BAD_TARGET, JOB_NOMEM */
  char err[300];
};
enum { JOB_UNTESTED = 1, JOB_BAD_TARGET, JOB_NOMEM };
struct pool_state {
  struct job *slots;
  size_t win;
  unsigned long long queued, taken, printed;
  bool eof;
  struct settings st;
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
      j->rc = JOB_NOMEM;
      snprintf(j->err, sizeof j->err, "%.280s: out of memory", j->target);
    } else {
      configure(j->p, &ps->st);
      if (tlsfin_probe_set_target(j->p, j->target) < 0)
        j->rc = JOB_BAD_TARGET;
      else if (tlsfin_probe_run(j->p) < 0)
        j->rc = JOB_UNTESTED;
      if (j->rc)
        snprintf(j->err, sizeof j->err, "%s", tlsfin_probe_error(j->p));
    }
    pthread_mutex_lock(&ps->mu);
    j->state = JOB_DONE;
    pthread_cond_signal(&ps->done);
  }
  pthread_mutex_unlock(&ps->mu);
  return NULL;
}

/* What the results add up to, for the exit status. */
struct targets_out {
  bool json, fail_resets, fail_cn;
  bool usage, findings, untested;
};
static int exit_status(const struct targets_out *o) {
  /* a check that failed outweighs a target that could not be tested:
   * automation acts on findings first */
  return o->usage      ? TLSFIN_EXIT_USAGE
         : o->findings ? TLSFIN_EXIT_FINDINGS
         : o->untested ? TLSFIN_EXIT_UNTESTED
                       : TLSFIN_EXIT_OK;
}

/* One target's record, every target's, tested or not; the reason of an
 * untested one on stderr too, for whoever reads a terminal. */
static void print_record(struct tlsfin_probe *p, int rc, const char *err,
                         struct targets_out *o) {
  if (rc)
    fprintf(stderr, "tlsfin probe: %s\n", err);
  if (rc == JOB_NOMEM) {
    o->usage = true;
    return;
  }
  if (o->json) {
    tlsfin_probe_write_json(p, stdout);
  } else {
    tlsfin_probe_write_table(p, stdout);
  }
  fflush(stdout);
  if (rc == JOB_BAD_TARGET) {
    o->usage = true;
    return;
  }
  if (rc == JOB_UNTESTED) {
    o->untested = true;
    return; /* nothing to check */
  }
  for (int k = 0; k < TLSFIN_PROBE_VERSIONS; k++)
    if (o->fail_resets &&
        tlsfin_probe_version(p, k)->outcome == TLSFIN_VERSION_RESET)
      o->findings = true;
  if (o->fail_cn && tlsfin_probe_close(p, TLSFIN_PROBE_CLOSE_NOTIFY)->outcome !=
                        TLSFIN_CLOSE_CLOSE_NOTIFY)
    o->findings = true;
}

/* One finished job, printed and freed (its slot is free again). */
static void print_job(struct job *j, struct targets_out *o) {
  print_record(j->p, j->rc, j->err, o);
  if (!o->json)
    printf("\n"); /* between the tables */
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

static int run_targets(const char *path, int jobs, const struct settings *set,
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
  ps.st = *set;
  pthread_mutex_init(&ps.mu, NULL);
  pthread_cond_init(&ps.work, NULL);
  pthread_cond_init(&ps.done, NULL);
  if (!ps.slots) {
    fprintf(stderr, "tlsfin probe: out of memory\n");
    fclose(f);
    return TLSFIN_EXIT_USAGE;
  }
  pthread_t th[64];
  int nt = 0;
  for (; nt < jobs; nt++)
    if (pthread_create(&th[nt], NULL, worker, &ps) != 0)
      break;
  if (nt == 0) {
    fprintf(stderr, "tlsfin probe: cannot start a worker thread\n");
    o->usage = true;
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
      o->usage = true;
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
    o->usage = true;
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
  return exit_status(o);
}

static const char *vn(uint16_t v) {
  const char *n = tlsfin_version_name(v);
  return n ? n : "-";
}

/* ADDRESS:PORT, [IPV6]:PORT: as a client would connect to it */
static void peer_str(const struct tlsfin_listen_client *c, char *buf,
                     size_t n) {
  bool v6 = strchr(c->peer, ':') != NULL;
  snprintf(buf, n, "%s%s%s:%u", v6 ? "[" : "", c->peer, v6 ? "]" : "",
           (unsigned)c->peer_port);
}

/* The note is ours but quotes OpenSSL's reason strings, and the SNI is
 * the client's own bytes (OpenSSL only checks it has no NUL): escaped. */
static void json_str(const char *s) {
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

/* The SNI in a table column: printable ASCII, the rest as '?' (a
 * terminal must not get the client's control bytes). */
static void table_sni(const char *s, char *buf, size_t n) {
  size_t i = 0;
  for (; *s && i + 1 < n; s++)
    buf[i++] = *s > 0x20 && *s < 0x7f ? *s : '?';
  buf[i] = 0;
  if (!i)
    snprintf(buf, n, "-");
}

static void report_table(void *arg, const struct tlsfin_listen_client *c) {
  bool *header_done = arg;
  /* the header with the first client: not above an error message when
   * the listener cannot start */
  if (!*header_done)
    printf("%-28s %-8s %-8s %-20s %-13s %-8s %s\n", "CLIENT", "OFFERED",
           "VERSION", "SNI", "REACTION", "THEN", "AFTER");
  *header_done = true;
  char peer[80], sni[64];
  peer_str(c, peer, sizeof peer);
  table_sni(c->sni, sni, sizeof sni);
  printf("%-28s %-8s %-8s %-20s %-13s %-8s %.0f ms%s%s\n", peer,
         vn(c->client_max_version), c->handshake ? vn(c->version) : "-", sni,
         tlsfin_close_outcome_name(c->reaction),
         c->then == TLSFIN_CLOSE_SKIPPED ? "-"
                                         : tlsfin_close_outcome_name(c->then),
         c->ms, c->note[0] ? "; " : "", c->note);
  fflush(stdout);
}

static void report_json(void *arg, const struct tlsfin_listen_client *c) {
  (void)arg;
  printf("{\"client\":\"%s\",\"client_port\":%u,\"client_max_version\":\"%s\","
         "\"version\":%s%s%s,\"sni\":",
         c->peer, (unsigned)c->peer_port, vn(c->client_max_version),
         c->handshake ? "\"" : "", c->handshake ? vn(c->version) : "null",
         c->handshake ? "\"" : "");
  if (c->sni[0])
    json_str(c->sni);
  else
    printf("null");
  printf(",\"request\":%s,\"reaction\":\"%s\",\"then\":%s%s%s,"
         "\"ms\":%.1f,\"note\":",
         c->request ? "true" : "false", tlsfin_close_outcome_name(c->reaction),
         c->then == TLSFIN_CLOSE_SKIPPED ? "" : "\"",
         c->then == TLSFIN_CLOSE_SKIPPED ? "null"
                                         : tlsfin_close_outcome_name(c->then),
         c->then == TLSFIN_CLOSE_SKIPPED ? "" : "\"", c->ms);
  json_str(c->note);
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
      {"starttls", required_argument, NULL, 'S'},
      {"xmpp-host", required_argument, NULL, 'x'},
      {"fail-on", required_argument, NULL, 'F'},
      {"listen", required_argument, NULL, 'l'},
      {"behave", required_argument, NULL, 'B'},
      {"count", required_argument, NULL, 'n'},
      {"targets", required_argument, NULL, 'T'},
      {"jobs", required_argument, NULL, 'j'},
      {"cert", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0}};
  /* a peer that closes while OpenSSL writes must not kill the probe */
  signal(SIGPIPE, SIG_IGN);
  struct tlsfin_probe *p = tlsfin_probe_new();
  if (!p)
    return TLSFIN_EXIT_USAGE;
  bool json = false, fail_resets = false, fail_cn = false;
  const char *listen_on = NULL, *targets = NULL, *cert = NULL, *key = NULL;
  int jobs = 4;
  struct settings st = {NULL, false, 3000, 0, NULL, NULL};
  int behave = TLSFIN_BEHAVE_CLOSE_NOTIFY, count = 0;
  int o, rc = TLSFIN_EXIT_USAGE;
  optind = 1;
  opterr = 0;
  /* Permuting: `tlsfin probe HOST:PORT --sni x` works, "--" ends options. */
  while ((o = getopt_long(argc, argv, "hj:V", opts, NULL)) != -1) {
    char *end;
    switch (o) {
    case 's':
      st.sni = optarg;
      break;
    case 'H':
      st.http = true;
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
      st.timeout_ms = (int)ms;
      break;
    }
    case 'S':
      if (tlsfin_probe_set_starttls(p, optarg) < 0) {
        fprintf(stderr,
                "tlsfin probe: --starttls: '%s' is not smtp, imap, "
                "pop3, ftp, ldap, postgres, mysql or xmpp\n",
                optarg);
        goto out;
      }
      st.starttls = optarg[0] ? optarg : NULL;
      break;
    case 'x':
      st.xmpp_host = optarg;
      break;
    case 'i': {
      long s = strtol(optarg, &end, 10);
      if (*end || s < 1 || s > 3600) {
        fprintf(stderr,
                "tlsfin probe: --idle-max: '%s' is not 1-3600 "
                "seconds\n",
                optarg);
        goto out;
      }
      st.idle_max = (int)s;
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
    case 'c':
      cert = optarg;
      break;
    case 'k':
      key = optarg;
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
  /* an HTTP request to a mail or database server tests nothing */
  if (st.starttls && st.http) {
    fprintf(stderr, "tlsfin probe: --http and --starttls do not go "
                    "together\n");
    goto out;
  }
  if (st.xmpp_host && (!st.starttls || strcmp(st.starttls, "xmpp"))) {
    fprintf(stderr, "tlsfin probe: --xmpp-host goes with --starttls=xmpp\n");
    goto out;
  }
  if (listen_on && targets) {
    fprintf(stderr, "tlsfin probe: --listen and --targets do not go "
                    "together\n");
    goto out;
  }
  if ((cert || key) && !(cert && key && listen_on)) {
    fprintf(stderr, "tlsfin probe: --cert and --key go together, with "
                    "--listen\n");
    goto out;
  }
  if (listen_on) {
    if (optind != argc) {
      fprintf(stderr, "tlsfin probe: --listen takes no HOST:PORT\n");
      goto out;
    }
    char err[300];
    struct tlsfin_listen_opts lo = {
        listen_on, (enum tlsfin_behave)behave, count, st.timeout_ms, cert, key};
    bool header_done = false;
    if (tlsfin_probe_listen(&lo, json ? report_json : report_table,
                            &header_done, err, sizeof err) < 0) {
      fprintf(stderr, "tlsfin probe: %s\n", err);
      goto out;
    }
    rc = TLSFIN_EXIT_OK;
    goto out;
  }
  struct targets_out res = {json, fail_resets, fail_cn, false, false, false};
  if (targets) {
    if (optind != argc) {
      fprintf(stderr, "tlsfin probe: --targets takes no HOST:PORT\n");
      goto out;
    }
    rc = run_targets(targets, jobs, &st, &res);
    goto out;
  }
  if (optind != argc - 1) {
    fprintf(stderr, "tlsfin probe: expected exactly one HOST:PORT\n");
    usage(stderr);
    goto out;
  }
  configure(p, &st);
  if (tlsfin_probe_set_target(p, argv[optind]) < 0) {
    /* bad usage, no record: nothing was attempted */
    fprintf(stderr, "tlsfin probe: %s\n", tlsfin_probe_error(p));
    goto out;
  }
  /* the same record and exit status as one line of --targets */
  print_record(p, tlsfin_probe_run(p) < 0 ? JOB_UNTESTED : 0,
               tlsfin_probe_error(p), &res);
  rc = exit_status(&res);
out:
  tlsfin_probe_free(p);
  return rc;
}

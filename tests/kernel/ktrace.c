/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin-ktrace: runs the kernel collector and prints one JSON object per
 * event on stdout, for scripts that compare what the kernel did with what a
 * capture shows.
 *
 *   tlsfin-ktrace [--ready FILE] [--no-ssl] [--ssl-pid PID]
 *
 * --ready FILE is created once the programs are attached, so a script can
 * wait for it instead of sleeping.  The libssl uprobes are attached unless
 * --no-ssl (when they cannot be, the reason goes to stderr and the other
 * events are still printed); --ssl-pid limits the "ssl" events to one
 * process.  Exits 0 on SIGINT/SIGTERM, 2 when the collector is unavailable
 * (reason on stderr), 1 on other errors.
 *
 * An "ssl" line carries, instead of reason/event:
 *   "func":"SSL_get_error","ret":6,"arg":0,"error":"SSL_ERROR_ZERO_RETURN",
 *   "fd":5
 * ret is the function's return value (SSL_get_error: the SSL_ERROR_* code,
 * spelled out in "error"), arg SSL_get_error's ret argument (null for the
 * other functions), fd the descriptor the SSL object used (-1 unknown: then
 * af is 0 and the addresses null). */
#include "kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void print_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      /* comm is raw bytes from the task; keep the output valid JSON (and
       * ASCII) whatever a process named itself. */
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static void print_addr(const char *key, int af, const uint8_t *a) {
  char buf[INET6_ADDRSTRLEN];
  printf(",\"%s\":", key);
  if ((af == 4 && inet_ntop(AF_INET, a, buf, sizeof buf)) ||
      (af == 6 && inet_ntop(AF_INET6, a, buf, sizeof buf)))
    print_string(buf);
  else
    fputs("null", stdout);
}

static void print_state(int s) {
  const char *state = tf_kernel_state_name(s);
  fputs(",\"state\":", stdout);
  if (state)
    print_string(state);
  else
    fputs("null", stdout);
}

/* func/ret/arg as the application saw them; "error" spells out
 * SSL_get_error's code so a reader need not know OpenSSL's numbers. */
static void print_ssl(const struct tf_kevent *e) {
  const char *name = NULL;
  print_state(e->state);
  printf(",\"pid\":%u,\"comm\":", (unsigned)e->pid);
  print_string(e->comm);
  fputs(",\"func\":", stdout);
  print_string(e->ssl_func);
  printf(",\"ret\":%d,\"arg\":", e->ssl_ret);
  if (strcmp(e->ssl_func, "SSL_get_error") == 0) {
    printf("%d", e->ssl_arg);
    name = tf_kernel_ssl_error_name(e->ssl_ret);
  } else {
    fputs("null", stdout);
  }
  fputs(",\"error\":", stdout);
  if (name)
    print_string(name);
  else
    fputs("null", stdout);
  printf(",\"fd\":%d}\n", e->ssl_fd);
}

static void print_event(void *ctx, const struct tf_kevent *e) {
  static const char *const types[] = {"rst_sent", "rst_recv", "proc", "ssl"};
  (void)ctx;

  if ((size_t)e->type >= sizeof types / sizeof *types)
    return;
  printf("{\"type\":\"%s\",\"ts\":%.6f,\"af\":%u", types[e->type], e->ts,
         (unsigned)e->af);
  print_addr("laddr", e->af, e->laddr);
  printf(",\"lport\":%u", (unsigned)e->lport);
  print_addr("raddr", e->af, e->raddr);
  printf(",\"rport\":%u", (unsigned)e->rport);
  if (e->type == TF_KEV_SSL) {
    print_ssl(e);
    fflush(stdout);
    return;
  }
  fputs(",\"reason\":", stdout);
  if (e->type != TF_KEV_RST_SENT) {
    fputs("null", stdout);
  } else if (e->reason_name) {
    print_string(e->reason_name);
  } else {
    /* A value this kernel's BTF does not name: still say which. */
    char num[16];
    snprintf(num, sizeof num, "%d", e->reason);
    print_string(num);
  }
  print_state(e->state);
  printf(",\"pid\":%u,\"comm\":", (unsigned)e->pid);
  print_string(e->comm);
  fputs(",\"event\":", stdout);
  if (e->proc_event)
    print_string(e->proc_event);
  else
    fputs("null", stdout);
  fputs("}\n", stdout);
  fflush(stdout);
}

static int usage(void) {
  fputs("usage: tlsfin-ktrace [--ready FILE] [--no-ssl] [--ssl-pid PID]\n",
        stderr);
  return 1;
}

int main(int argc, char **argv) {
  const char *ready = NULL;
  unsigned flags = TF_KERNEL_SSL;
  unsigned long ssl_pid = 0;
  char err[256];
  struct tf_kernel *k;
  struct sigaction sa;
  int rc = 0;

  for (int i = 1; i < argc; i++) {
    char *end;
    if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc) {
      ready = argv[++i];
    } else if (strcmp(argv[i], "--no-ssl") == 0) {
      flags &= ~TF_KERNEL_SSL;
    } else if (strcmp(argv[i], "--ssl-pid") == 0 && i + 1 < argc) {
      errno = 0;
      ssl_pid = strtoul(argv[++i], &end, 10);
      if (errno || *end || end == argv[i] || ssl_pid == 0 ||
          ssl_pid > 0xffffffffUL)
        return usage();
    } else {
      return usage();
    }
  }

  /* Without SA_RESTART, so the signal interrupts the wait in poll. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);

  k = tf_kernel_open_with(flags, err, sizeof err);
  if (!k) {
    fprintf(stderr, "tlsfin-ktrace: %s\n", err);
    return 2;
  }
  if (flags & TF_KERNEL_SSL) {
    /* Not fatal: the RST and process events do not need the uprobes. */
    if (tf_kernel_ssl_status(k)[0])
      fprintf(stderr, "tlsfin-ktrace: libssl probes: %s\n",
              tf_kernel_ssl_status(k));
    if (ssl_pid && tf_kernel_set_ssl_pid(k, (uint32_t)ssl_pid) != 0)
      fprintf(stderr, "tlsfin-ktrace: --ssl-pid ignored (no libssl probes)\n");
  }
  if (ready) {
    int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      fprintf(stderr, "tlsfin-ktrace: %s: %s\n", ready, strerror(errno));
      tf_kernel_close(k);
      return 1;
    }
    dprintf(fd, "%ld\n", (long)getpid());
    close(fd);
  }

  while (!stop) {
    if (tf_kernel_poll(k, 200, print_event, NULL) < 0) {
      fprintf(stderr, "tlsfin-ktrace: poll: %s\n", strerror(errno));
      rc = 1;
      break;
    }
  }
  /* Deliver what was already queued when the signal came. */
  if (rc == 0)
    tf_kernel_poll(k, 0, print_event, NULL);
  fflush(stdout);
  if (tf_kernel_lost(k))
    fprintf(stderr, "tlsfin-ktrace: %llu events lost (ring buffer full)\n",
            (unsigned long long)tf_kernel_lost(k));
  tf_kernel_close(k);
  return rc;
}

/* tlsfin-ktrace: runs the kernel collector and prints one JSON object per
 * event on stdout, for scripts that compare what the kernel did with what a
 * capture shows.
 *
 *   tlsfin-ktrace [--ready FILE]
 *
 * --ready FILE is created once the programs are attached, so a script can
 * wait for it instead of sleeping.  Exits 0 on SIGINT/SIGTERM, 2 when the
 * collector is unavailable (reason on stderr), 1 on other errors. */
#include "kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
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

static void print_event(void *ctx, const struct tf_kevent *e) {
  static const char *const types[] = {"rst_sent", "rst_recv", "proc"};
  const char *state = tf_kernel_state_name(e->state);
  (void)ctx;

  printf("{\"type\":\"%s\",\"ts\":%.6f,\"af\":%u", types[e->type], e->ts,
         (unsigned)e->af);
  print_addr("laddr", e->af, e->laddr);
  printf(",\"lport\":%u", (unsigned)e->lport);
  print_addr("raddr", e->af, e->raddr);
  printf(",\"rport\":%u,\"reason\":", (unsigned)e->rport);
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
  fputs(",\"state\":", stdout);
  if (state)
    print_string(state);
  else
    fputs("null", stdout);
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
  fputs("usage: tlsfin-ktrace [--ready FILE]\n", stderr);
  return 1;
}

int main(int argc, char **argv) {
  const char *ready = NULL;
  char err[256];
  struct tf_kernel *k;
  struct sigaction sa;
  int rc = 0;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
      ready = argv[++i];
    else
      return usage();
  }

  /* Without SA_RESTART, so the signal interrupts the wait in poll. */
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);

  k = tf_kernel_open(err, sizeof err);
  if (!k) {
    fprintf(stderr, "tlsfin-ktrace: %s\n", err);
    return 2;
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

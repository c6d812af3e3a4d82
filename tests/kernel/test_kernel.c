/* SPDX-License-Identifier: BSD-2-Clause */
/* Kernel collector against the running kernel, on loopback only.
 *
 * Exits 77 (skip) when the collector is unavailable (stub build, not root,
 * kernel < 6.10...), 0 when every check passes, 1 otherwise.  Each case uses
 * its own ephemeral ports and only looks at events on those ports, so other
 * traffic on the host does not disturb it. */
#include "kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

#define MAX_EVENTS 4096

static struct tf_kevent events[MAX_EVENTS];
static size_t nevents;

/* Everything this test does is on loopback: keeping only loopback events
 * stops unrelated traffic on a busy host from filling the array. */
static int on_loopback(const struct tf_kevent *e) {
  static const uint8_t lo6[16] = {[15] = 1};
  if (e->af == 4)
    return e->laddr[0] == 127 || e->raddr[0] == 127;
  return e->af == 6 &&
         (memcmp(e->laddr, lo6, 16) == 0 || memcmp(e->raddr, lo6, 16) == 0);
}

static void collect(void *ctx, const struct tf_kevent *e) {
  (void)ctx;
  /* Overflowing just stops recording; the checks then fail visibly. */
  if (nevents < MAX_EVENTS && on_loopback(e))
    events[nevents++] = *e;
}

/* What an expected event must match; 0 / NULL fields match anything. */
struct want {
  enum tf_kev_type type;
  const char *proc_event;
  int af;
  const char *laddr;
  uint16_t lport;
  const char *raddr;
  uint16_t rport;
  const char *reason;
  uint32_t pid;
  const char *comm;
};

static int addr_is(const struct tf_kevent *e, const uint8_t *a,
                   const char *text) {
  uint8_t want[16] = {0};
  if (!text)
    return 1;
  if (e->af == 4)
    return inet_pton(AF_INET, text, want) == 1 && memcmp(a, want, 4) == 0;
  return e->af == 6 && inet_pton(AF_INET6, text, want) == 1 &&
         memcmp(a, want, 16) == 0;
}

static int matches(const struct tf_kevent *e, const struct want *w) {
  if (e->type != w->type)
    return 0;
  if (w->proc_event &&
      (!e->proc_event || strcmp(e->proc_event, w->proc_event) != 0))
    return 0;
  if (w->af && e->af != w->af)
    return 0;
  if (w->lport && e->lport != w->lport)
    return 0;
  if (w->rport && e->rport != w->rport)
    return 0;
  if (!addr_is(e, e->laddr, w->laddr) || !addr_is(e, e->raddr, w->raddr))
    return 0;
  if (w->reason && (!e->reason_name || strcmp(e->reason_name, w->reason) != 0))
    return 0;
  if (w->pid && e->pid != w->pid)
    return 0;
  if (w->comm && strcmp(e->comm, w->comm) != 0)
    return 0;
  return 1;
}

static size_t count(const struct want *w, const struct tf_kevent **first) {
  size_t n = 0;
  for (size_t i = 0; i < nevents; i++)
    if (matches(&events[i], w)) {
      if (n == 0 && first)
        *first = &events[i];
      n++;
    }
  return n;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls until an event matching w has arrived (up to 3 s), then keeps
 * polling for a moment so duplicates would be seen too.  Returns how many
 * matched and the first. */
static size_t wait_for(struct tf_kernel *k, const struct want *w,
                       const struct tf_kevent **first) {
  long long deadline = now_ms() + 3000;
  while (count(w, NULL) == 0 && now_ms() < deadline)
    tf_kernel_poll(k, 100, collect, NULL);
  tf_kernel_poll(k, 100, collect, NULL);
  return count(w, first);
}

static void check_ts(const struct tf_kevent *e, const char *what) {
  double d = e->ts - (double)time(NULL);
  CHECK(d > -2.0 && d < 2.0, "%s: ts %.6f is %.3f s from time(NULL)", what,
        e->ts, d);
}

static uint16_t local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A TCP socket bound to the loopback address of family af, port 0. */
static int bound_socket(int af) {
  int fd = socket(af, SOCK_STREAM, 0);
  struct sockaddr_in sin = {0};
  struct sockaddr_in6 sin6 = {0};
  int rc;
  if (fd < 0)
    return -1;
  if (af == AF_INET6) {
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    rc = bind(fd, (struct sockaddr *)&sin6, sizeof sin6);
  } else {
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = bind(fd, (struct sockaddr *)&sin, sizeof sin);
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int connect_to(int fd, int af, uint16_t port) {
  struct sockaddr_in sin = {0};
  struct sockaddr_in6 sin6 = {0};
  if (af == AF_INET6) {
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    sin6.sin6_port = htons(port);
    return connect(fd, (struct sockaddr *)&sin6, sizeof sin6);
  }
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(port);
  return connect(fd, (struct sockaddr *)&sin, sizeof sin);
}

/* (1) SYN to a port with a bound but not listening socket (so the port stays
 * ours and closed): the kernel answers with a NO_SOCKET RST whose sender is
 * that port.  The client is bound first, which also exercises the connect
 * event of a socket whose port is known at connect(). */
static void test_no_socket(struct tf_kernel *k, int af) {
  const char *lo = af == AF_INET6 ? "::1" : "127.0.0.1";
  int closed = bound_socket(af), cli = bound_socket(af);
  uint16_t port, cport;
  const struct tf_kevent *e = NULL;
  size_t n;

  CHECK(closed >= 0 && cli >= 0, "sockets: %s", strerror(errno));
  if (closed < 0 || cli < 0)
    return;
  port = local_port(closed);
  cport = local_port(cli);
  CHECK(connect_to(cli, af, port) != 0 && errno == ECONNREFUSED,
        "connect to closed port %u: %s", port, strerror(errno));

  struct want rst = {.type = TF_KEV_RST_SENT, .lport = port};
  n = wait_for(k, &rst, &e);
  CHECK(n == 1, "%s: %zu RST_SENT from port %u", lo, n, port);
  if (e) {
    CHECK(e->af == (af == AF_INET6 ? 6 : 4), "af %u", e->af);
    CHECK(addr_is(e, e->laddr, lo) && addr_is(e, e->raddr, lo),
          "addresses not %s", lo);
    CHECK(e->rport == cport, "rport %u, client port %u", e->rport, cport);
    CHECK(e->reason_name && strcmp(e->reason_name, "NO_SOCKET") == 0,
          "reason %d %s", e->reason,
          e->reason_name ? e->reason_name : "(null)");
    CHECK(e->state == -1, "state %d without a socket", e->state);
    check_ts(e, "NO_SOCKET RST");
  }

  struct want recv = {.type = TF_KEV_RST_RECV,
                      .laddr = lo,
                      .lport = cport,
                      .raddr = lo,
                      .rport = port};
  n = wait_for(k, &recv, &e);
  CHECK(n == 1, "%s: %zu RST_RECV on client port %u", lo, n, cport);
  if (e)
    CHECK(e->state == 2 /* TCP_SYN_SENT */, "RST_RECV state %d", e->state);

  struct want conn = {.type = TF_KEV_PROC,
                      .proc_event = "connect",
                      .lport = cport,
                      .rport = port,
                      .pid = (uint32_t)getpid()};
  CHECK(wait_for(k, &conn, NULL) == 1, "%s: connect of bound client %u", lo,
        cport);
  close(cli);
  close(closed);
}

/* A connected pair on 127.0.0.1; the unbound client exercises the connect
 * event whose port is only known after connect() picked it. */
static int make_pair(int *lfd, int *cfd, int *sfd, uint16_t *lport,
                     uint16_t *cport) {
  *lfd = bound_socket(AF_INET);
  *cfd = socket(AF_INET, SOCK_STREAM, 0);
  *sfd = -1;
  if (*lfd < 0 || *cfd < 0 || listen(*lfd, 4) != 0)
    return -1;
  *lport = local_port(*lfd);
  if (connect_to(*cfd, AF_INET, *lport) != 0)
    return -1;
  *sfd = accept(*lfd, NULL, NULL);
  if (*sfd < 0)
    return -1;
  *cport = local_port(*cfd);
  return 0;
}

/* Waits until fd has data to read, so "unread data" is really there. */
static int wait_readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 2000) == 1;
}

/* (2) The server closes with unread data: RST TCP_ABORT_ON_CLOSE from the
 * server's endpoint.  (4) Also the process events of the pair. */
static void test_abort_on_close(struct tf_kernel *k, const char *comm) {
  int lfd, cfd, sfd;
  uint16_t lport = 0, cport = 0;
  const struct tf_kevent *e = NULL;
  uint32_t pid = (uint32_t)getpid();
  size_t n;

  CHECK(make_pair(&lfd, &cfd, &sfd, &lport, &cport) == 0, "pair: %s",
        strerror(errno));
  if (sfd < 0)
    return;
  CHECK(write(cfd, "unread", 6) == 6, "write: %s", strerror(errno));
  CHECK(wait_readable(sfd), "data never arrived");
  close(sfd);

  struct want rst = {.type = TF_KEV_RST_SENT,
                     .af = 4,
                     .laddr = "127.0.0.1",
                     .lport = lport,
                     .raddr = "127.0.0.1",
                     .rport = cport};
  n = wait_for(k, &rst, &e);
  CHECK(n == 1, "%zu RST_SENT from server %u to %u", n, lport, cport);
  if (e) {
    CHECK(e->reason_name && strcmp(e->reason_name, "TCP_ABORT_ON_CLOSE") == 0,
          "reason %d %s", e->reason,
          e->reason_name ? e->reason_name : "(null)");
    CHECK(e->state > 0, "state %d with a socket", e->state);
    check_ts(e, "ABORT_ON_CLOSE RST");
  }

  struct want conn = {.type = TF_KEV_PROC,
                      .proc_event = "connect",
                      .af = 4,
                      .laddr = "127.0.0.1",
                      .lport = cport,
                      .raddr = "127.0.0.1",
                      .rport = lport,
                      .pid = pid,
                      .comm = comm};
  n = wait_for(k, &conn, &e);
  CHECK(n == 1, "%zu connect events from pid %u comm %s port %u", n, pid, comm,
        cport);
  if (e) {
    CHECK(e->state == 2 /* TCP_SYN_SENT */, "connect state %d", e->state);
    check_ts(e, "connect");
  }

  struct want acc = {.type = TF_KEV_PROC,
                     .proc_event = "accept",
                     .af = 4,
                     .laddr = "127.0.0.1",
                     .lport = lport,
                     .raddr = "127.0.0.1",
                     .rport = cport,
                     .pid = pid,
                     .comm = comm};
  n = wait_for(k, &acc, &e);
  CHECK(n == 1, "%zu accept events from pid %u on %u", n, pid, lport);
  if (e)
    check_ts(e, "accept");

  struct want cls = {.type = TF_KEV_PROC,
                     .proc_event = "close",
                     .lport = lport,
                     .rport = cport,
                     .pid = pid,
                     .comm = comm};
  n = wait_for(k, &cls, &e);
  CHECK(n == 1, "%zu close events of the server socket %u", n, lport);
  if (e) {
    CHECK(e->state == 1 /* TCP_ESTABLISHED */, "close state %d", e->state);
    check_ts(e, "close");
  }

  close(cfd);
  close(lfd);
}

/* (3) SO_LINGER {1, 0} and nothing unread: the client's close sends an RST
 * that the kernel files under TCP_STATE. */
static void test_linger(struct tf_kernel *k) {
  int lfd, cfd, sfd;
  uint16_t lport = 0, cport = 0;
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  const struct tf_kevent *e = NULL;
  size_t n;

  CHECK(make_pair(&lfd, &cfd, &sfd, &lport, &cport) == 0, "pair: %s",
        strerror(errno));
  if (sfd < 0)
    return;
  CHECK(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0,
        "SO_LINGER: %s", strerror(errno));
  close(cfd);

  struct want rst = {.type = TF_KEV_RST_SENT,
                     .af = 4,
                     .laddr = "127.0.0.1",
                     .lport = cport,
                     .raddr = "127.0.0.1",
                     .rport = lport};
  n = wait_for(k, &rst, &e);
  CHECK(n == 1, "%zu RST_SENT from client %u", n, cport);
  if (e) {
    CHECK(e->reason_name && strcmp(e->reason_name, "TCP_STATE") == 0,
          "reason %d %s", e->reason,
          e->reason_name ? e->reason_name : "(null)");
    check_ts(e, "linger RST");
  }

  struct want recv = {
      .type = TF_KEV_RST_RECV, .af = 4, .lport = lport, .rport = cport};
  n = wait_for(k, &recv, &e);
  CHECK(n == 1, "%zu RST_RECV on server %u", n, lport);
  if (e)
    CHECK(e->state == 1 /* TCP_ESTABLISHED */, "RST_RECV state %d", e->state);

  close(sfd);
  close(lfd);
}

int main(void) {
  char err[256];
  char comm[17] = {0};
  struct tf_kernel *k = tf_kernel_open(err, sizeof err);

  if (!k) {
    printf("SKIP: kernel collector unavailable: %s\n", err);
    return 77;
  }
  printf("kernel collector open (accept/close attribution: %s)\n",
         tf_kernel_attribution(k));
  if (getenv("TLSFIN_KERNEL_ATTRIBUTION"))
    CHECK(strcmp(tf_kernel_attribution(k),
                 getenv("TLSFIN_KERNEL_ATTRIBUTION")) == 0,
          "attribution %s", tf_kernel_attribution(k));
  CHECK(tf_kernel_fd(k) >= 0, "fd %d", tf_kernel_fd(k));
  /* The libssl uprobes are opt-in (tf_kernel_open_with): existing callers
   * must not get them, nor their events. */
  CHECK(strcmp(tf_kernel_ssl_status(k), "not requested") == 0,
        "ssl status \"%s\"", tf_kernel_ssl_status(k));
  CHECK(tf_kernel_ssl_library(k) == NULL, "ssl library set");
  prctl(PR_GET_NAME, comm, 0, 0, 0);

  test_no_socket(k, AF_INET);
  test_no_socket(k, AF_INET6);
  test_abort_on_close(k, comm);
  test_linger(k);

  CHECK(tf_kernel_lost(k) == 0, "%llu events lost",
        (unsigned long long)tf_kernel_lost(k));
  CHECK(tf_kernel_poll(k, 0, collect, NULL) >= 0, "poll after tests");
  tf_kernel_close(k);

  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("all kernel collector checks passed\n");
  return 0;
}

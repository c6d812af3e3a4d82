/* tlsfin kernel collector: user-space side (see kernel.h).
 *
 * Without TLSFIN_HAVE_BPF (libbpf, bpftool, clang or kernel BTF missing at
 * build time) only the stub at the end is compiled, so callers link the
 * same API either way and learn why at run time. */
#include "kernel.h"

#include <stdio.h>

/* The kernel's TCP state numbers (include/net/tcp_states.h), stable ABI. */
static const char *const state_names[] = {
    [1] = "TCP_ESTABLISHED", [2] = "TCP_SYN_SENT",   [3] = "TCP_SYN_RECV",
    [4] = "TCP_FIN_WAIT1",   [5] = "TCP_FIN_WAIT2",  [6] = "TCP_TIME_WAIT",
    [7] = "TCP_CLOSE",       [8] = "TCP_CLOSE_WAIT", [9] = "TCP_LAST_ACK",
    [10] = "TCP_LISTEN",     [11] = "TCP_CLOSING",   [12] = "TCP_NEW_SYN_RECV",
};

const char *tf_kernel_state_name(int state) {
  if (state <= 0 || state >= (int)(sizeof state_names / sizeof *state_names))
    return NULL;
  return state_names[state];
}

#ifdef TLSFIN_HAVE_BPF

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/types.h>
#include <sys/syscall.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "tlsfin.skel.h"
#include "tlsfin_event.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"
#define RST_REASON_PREFIX "SK_RST_REASON_"

struct reason_name {
  long long value;
  char *name;
};

struct tf_kernel {
  struct tlsfin *skel;
  struct ring_buffer *rb;
  struct reason_name *reasons;
  size_t nreasons;
  /* CLOCK_REALTIME - CLOCK_MONOTONIC in ns; bpf_ktime_get_ns is monotonic. */
  long long rt_offset_ns;
  /* The callback of the tf_kernel_poll call in progress. */
  void (*cb)(void *ctx, const struct tf_kevent *e);
  void *cb_ctx;
  int delivered;
  const char *attribution; /* see tf_kernel_attribution */
};

/* libbpf reports failures only through its print callback.  Keep the first
 * warning of the current open (usually the precise one, e.g. which program
 * failed to load and why) for the error string, and print nothing: callers
 * decide what the user sees.  Static because libbpf's callback is global
 * and takes no context. */
static char libbpf_first_warning[256];

static int libbpf_capture(enum libbpf_print_level level, const char *fmt,
                          va_list ap) {
  if (level == LIBBPF_DEBUG || libbpf_first_warning[0])
    return 0;
  vsnprintf(libbpf_first_warning, sizeof libbpf_first_warning, fmt, ap);
  libbpf_first_warning[strcspn(libbpf_first_warning, "\n")] = '\0';
  return 0;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (!err || !errlen)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static void set_libbpf_err(char *err, size_t errlen, const char *what,
                           int error) {
  if (error < 0)
    error = -error;
  if (libbpf_first_warning[0])
    set_err(err, errlen, "load failed: %s: %s", what, libbpf_first_warning);
  else
    set_err(err, errlen, "load failed: %s: %s", what,
            strerror(error ? error : EINVAL));
}

static int has_bpf_caps(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
#define HAS(cap) ((data[(cap) / 32].effective >> ((cap) % 32)) & 1u)
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) != 0)
    return geteuid() == 0;
  /* Tracing programs need CAP_BPF + CAP_PERFMON (5.8+) or CAP_SYS_ADMIN. */
  return HAS(CAP_SYS_ADMIN) || (HAS(CAP_BPF) && HAS(CAP_PERFMON));
#undef HAS
}

static long long clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Reads CLOCK_REALTIME between two CLOCK_MONOTONIC reads and keeps the
 * tightest of a few tries, so a preemption between the reads does not skew
 * the offset. */
static long long realtime_offset_ns(void) {
  long long best_gap = -1, offset = 0;
  for (int i = 0; i < 5; i++) {
    long long a = clock_ns(CLOCK_MONOTONIC);
    long long r = clock_ns(CLOCK_REALTIME);
    long long b = clock_ns(CLOCK_MONOTONIC);
    if (best_gap < 0 || b - a < best_gap) {
      best_gap = b - a;
      offset = r - (a + (b - a) / 2);
    }
  }
  return offset;
}

static int member_index(const struct btf *btf, const struct btf_type *t,
                        const char *name) {
  const struct btf_member *m = btf_members(t);
  for (int i = 0; i < btf_vlen(t); i++)
    if (strcmp(btf__name_by_offset(btf, m[i].name_off), name) == 0)
      return i;
  return -1;
}

/* The tcp_send_reset tracepoint got its reason field (and the 28-byte
 * sockaddr endpoints tlsfin.bpf.c reads) in kernel 6.10.  Checking the
 * record's BTF gives a clear error instead of a CO-RE relocation failure. */
static int send_reset_usable(const struct btf *btf) {
  int id = btf__find_by_name_kind(btf, "trace_event_raw_tcp_send_reset",
                                  BTF_KIND_STRUCT);
  const struct btf_type *t;
  if (id < 0)
    return 0;
  t = btf__type_by_id(btf, id);
  return t && member_index(btf, t, "reason") >= 0 &&
         member_index(btf, t, "saddr") >= 0 &&
         member_index(btf, t, "daddr") >= 0;
}

static int add_reason(struct tf_kernel *k, long long value, const char *name) {
  struct reason_name *r;
  size_t plen = strlen(RST_REASON_PREFIX);
  if (strncmp(name, RST_REASON_PREFIX, plen) == 0)
    name += plen;
  r = realloc(k->reasons, (k->nreasons + 1) * sizeof *r);
  if (!r)
    return -1;
  k->reasons = r;
  r[k->nreasons].value = value;
  r[k->nreasons].name = strdup(name);
  if (!r[k->nreasons].name)
    return -1;
  k->nreasons++;
  return 0;
}

/* Names come from the running kernel's BTF rather than a table here because
 * enum sk_rst_reason grows (and may be renumbered) between kernel versions. */
static int load_reasons(struct tf_kernel *k, const struct btf *btf) {
  int id = btf__find_by_name_kind(btf, "sk_rst_reason", BTF_KIND_ENUM);
  const struct btf_type *t;
  if (id < 0)
    id = btf__find_by_name_kind(btf, "sk_rst_reason", BTF_KIND_ENUM64);
  if (id < 0)
    return -1;
  t = btf__type_by_id(btf, id);
  if (!t)
    return -1;
  for (int i = 0; i < btf_vlen(t); i++) {
    const char *name;
    long long value;
    if (btf_is_enum64(t)) {
      const struct btf_enum64 *e = btf_enum64(t) + i;
      name = btf__name_by_offset(btf, e->name_off);
      value = (long long)btf_enum64_value(e);
    } else {
      const struct btf_enum *e = btf_enum(t) + i;
      name = btf__name_by_offset(btf, e->name_off);
      value = e->val;
    }
    if (name && add_reason(k, value, name) != 0)
      return -1;
  }
  return 0;
}

static const char *reason_name(const struct tf_kernel *k, int value) {
  for (size_t i = 0; i < k->nreasons; i++)
    if (k->reasons[i].value == value)
      return k->reasons[i].name;
  return NULL;
}

static int is_v4_mapped(const uint8_t a[16]) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, prefix, sizeof prefix) == 0;
}

static int is_unspecified(const uint8_t a[16]) {
  static const uint8_t zero[16];
  return memcmp(a, zero, sizeof zero) == 0;
}

/* An AF_INET6 socket talking IPv4 stores ::ffff:a.b.c.d; report it as the
 * IPv4 connection it is on the wire (what a capture shows).  One side may
 * still be :: (e.g. not yet bound), which does not make it IPv6. */
static void set_addrs(struct tf_kevent *out, const struct tlsfin_event *ev) {
  memset(out->laddr, 0, sizeof out->laddr);
  memset(out->raddr, 0, sizeof out->raddr);
  if (ev->family == 2 /* AF_INET */) {
    out->af = 4;
    memcpy(out->laddr, ev->laddr, 4);
    memcpy(out->raddr, ev->raddr, 4);
  } else if (ev->family == 10 /* AF_INET6 */) {
    int lm = is_v4_mapped(ev->laddr), rm = is_v4_mapped(ev->raddr);
    if ((lm || rm) && (lm || is_unspecified(ev->laddr)) &&
        (rm || is_unspecified(ev->raddr))) {
      out->af = 4;
      if (lm)
        memcpy(out->laddr, ev->laddr + 12, 4);
      if (rm)
        memcpy(out->raddr, ev->raddr + 12, 4);
    } else {
      out->af = 6;
      memcpy(out->laddr, ev->laddr, 16);
      memcpy(out->raddr, ev->raddr, 16);
    }
  } else {
    out->af = 0; /* no endpoint known (RST without socket or packet) */
  }
}

static int on_event(void *ctx, void *data, size_t size) {
  struct tf_kernel *k = ctx;
  const struct tlsfin_event *ev = data;
  struct tf_kevent out;
  long long t;

  if (size < sizeof *ev)
    return 0;
  memset(&out, 0, sizeof out);
  switch (ev->type) {
  case TLSFIN_EV_RST_SENT:
    out.type = TF_KEV_RST_SENT;
    break;
  case TLSFIN_EV_RST_RECV:
    out.type = TF_KEV_RST_RECV;
    break;
  case TLSFIN_EV_CONNECT:
    out.type = TF_KEV_PROC;
    out.proc_event = "connect";
    break;
  case TLSFIN_EV_ACCEPT:
    out.type = TF_KEV_PROC;
    out.proc_event = "accept";
    break;
  case TLSFIN_EV_CLOSE:
    out.type = TF_KEV_PROC;
    out.proc_event = "close";
    break;
  default:
    return 0;
  }
  /* Split before converting so the double keeps sub-microsecond digits. */
  t = (long long)ev->ts_ns + k->rt_offset_ns;
  out.ts = (double)(t / 1000000000LL) + (double)(t % 1000000000LL) / 1e9;
  set_addrs(&out, ev);
  out.lport = ev->lport;
  out.rport = ev->rport;
  if (out.type == TF_KEV_RST_SENT) {
    out.reason = ev->reason;
    out.reason_name = reason_name(k, ev->reason);
  }
  out.state = ev->state > 0 ? ev->state : -1;
  out.pid = ev->pid;
  memcpy(out.comm, ev->comm, sizeof out.comm);
  out.comm[sizeof out.comm - 1] = '\0';
  k->delivered++;
  if (k->cb)
    k->cb(k->cb_ctx, &out);
  return 0;
}

static void unload(struct tf_kernel *k) {
  ring_buffer__free(k->rb);
  k->rb = NULL;
  tlsfin__destroy(k->skel);
  k->skel = NULL;
}

/* Loads and attaches the programs, with accept/close attribution either by
 * fentry/fexit (use_fentry) or by syscall tracepoints. */
static int load_attach(struct tf_kernel *k, int use_fentry, char *err,
                       size_t errlen) {
  int rc;

  libbpf_first_warning[0] = '\0';
  k->skel = tlsfin__open();
  if (!k->skel) {
    set_libbpf_err(err, errlen, "open", errno);
    return -1;
  }
  bpf_program__set_autoload(k->skel->progs.tlsfin_accept, use_fentry);
  bpf_program__set_autoload(k->skel->progs.tlsfin_close, use_fentry);
  bpf_program__set_autoload(k->skel->progs.tlsfin_accept_sys, !use_fentry);
  bpf_program__set_autoload(k->skel->progs.tlsfin_accept4_sys, !use_fentry);
  bpf_program__set_autoload(k->skel->progs.tlsfin_close_sys, !use_fentry);
  rc = tlsfin__load(k->skel);
  if (rc != 0) {
    set_libbpf_err(err, errlen, "load", rc);
    goto fail;
  }
  k->rb =
      ring_buffer__new(bpf_map__fd(k->skel->maps.events), on_event, k, NULL);
  if (!k->rb) {
    set_libbpf_err(err, errlen, "ring buffer", errno);
    goto fail;
  }
  rc = tlsfin__attach(k->skel);
  if (rc != 0) {
    set_libbpf_err(err, errlen, "attach", rc);
    goto fail;
  }
  k->attribution = use_fentry ? "fentry" : "syscalls";
  return 0;

fail:
  unload(k);
  return -1;
}

struct tf_kernel *tf_kernel_open(char *err, size_t errlen) {
  struct tf_kernel *k;
  struct btf *btf;
  const char *want;
  int rc;

  set_err(err, errlen, "unknown error");
  libbpf_set_print(libbpf_capture);
  libbpf_first_warning[0] = '\0';

  if (!has_bpf_caps()) {
    set_err(err, errlen,
            "not root (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)");
    return NULL;
  }
  if (access(VMLINUX_BTF, R_OK) != 0) {
    set_err(err, errlen, "no BTF at " VMLINUX_BTF " (%s)", strerror(errno));
    return NULL;
  }
  btf = btf__load_vmlinux_btf();
  if (!btf) {
    set_err(err, errlen, "no BTF at " VMLINUX_BTF " (%s)", strerror(errno));
    return NULL;
  }
  if (!send_reset_usable(btf)) {
    btf__free(btf);
    set_err(err, errlen,
            "tracepoint tcp:tcp_send_reset missing or without a reason field "
            "(kernel < 6.10)");
    return NULL;
  }
  k = calloc(1, sizeof *k);
  if (!k) {
    btf__free(btf);
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  rc = load_reasons(k, btf);
  btf__free(btf);
  if (rc != 0) {
    set_err(err, errlen, "no enum sk_rst_reason in kernel BTF");
    goto fail;
  }

  /* fentry/fexit first (they also see closes at process exit); the
   * syscall-tracepoint programs when trampolines are unavailable.  The
   * environment can ask for the latter directly, so that tests also cover
   * them on kernels where fentry works. */
  want = getenv("TLSFIN_KERNEL_ATTRIBUTION");
  if ((want && strcmp(want, "syscalls") == 0) ||
      load_attach(k, 1, err, errlen) != 0) {
    if (load_attach(k, 0, err, errlen) != 0)
      goto fail;
  }
  k->rt_offset_ns = realtime_offset_ns();
  if (err && errlen)
    err[0] = '\0';
  return k;

fail:
  tf_kernel_close(k);
  return NULL;
}

int tf_kernel_fd(const struct tf_kernel *k) {
  return k && k->rb ? ring_buffer__epoll_fd(k->rb) : -1;
}

int tf_kernel_poll(struct tf_kernel *k, int timeout_ms,
                   void (*cb)(void *ctx, const struct tf_kevent *e),
                   void *ctx) {
  int rc;
  if (!k || !k->rb)
    return -1;
  /* Re-measured each time so a wall-clock step (NTP, settimeofday) after
   * open is followed, as a capture's timestamps would follow it. */
  k->rt_offset_ns = realtime_offset_ns();
  k->cb = cb;
  k->cb_ctx = ctx;
  k->delivered = 0;
  rc = ring_buffer__poll(k->rb, timeout_ms);
  k->cb = NULL;
  k->cb_ctx = NULL;
  /* A signal interrupting the wait is not an error: the caller checks its
   * own flags and polls again. */
  if (rc < 0 && rc != -EINTR) {
    errno = -rc;
    return -1;
  }
  return k->delivered;
}

const char *tf_kernel_attribution(const struct tf_kernel *k) {
  return k ? k->attribution : NULL;
}

uint64_t tf_kernel_lost(const struct tf_kernel *k) {
  uint64_t total = 0;
  uint32_t key = TLSFIN_LOST_RINGBUF;
  uint64_t *vals;
  int ncpus;

  if (!k || !k->skel)
    return 0;
  ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0)
    return 0;
  vals = calloc((size_t)ncpus, sizeof *vals);
  if (!vals)
    return 0;
  if (bpf_map__lookup_elem(k->skel->maps.lost, &key, sizeof key, vals,
                           (size_t)ncpus * sizeof *vals, 0) == 0)
    for (int i = 0; i < ncpus; i++)
      total += vals[i];
  free(vals);
  return total;
}

void tf_kernel_close(struct tf_kernel *k) {
  if (!k)
    return;
  unload(k);
  for (size_t i = 0; i < k->nreasons; i++)
    free(k->reasons[i].name);
  free(k->reasons);
  free(k);
}

#else /* !TLSFIN_HAVE_BPF */

struct tf_kernel {
  int unused;
};

struct tf_kernel *tf_kernel_open(char *err, size_t errlen) {
  if (err && errlen)
    snprintf(err, errlen,
             "built without eBPF support (needs libbpf-dev, "
             "bpftool, clang and kernel BTF at build time)");
  return NULL;
}

int tf_kernel_fd(const struct tf_kernel *k) {
  (void)k;
  return -1;
}

int tf_kernel_poll(struct tf_kernel *k, int timeout_ms,
                   void (*cb)(void *ctx, const struct tf_kevent *e),
                   void *ctx) {
  (void)k;
  (void)timeout_ms;
  (void)cb;
  (void)ctx;
  return -1;
}

uint64_t tf_kernel_lost(const struct tf_kernel *k) {
  (void)k;
  return 0;
}

const char *tf_kernel_attribution(const struct tf_kernel *k) {
  (void)k;
  return NULL;
}

void tf_kernel_close(struct tf_kernel *k) { (void)k; }

#endif

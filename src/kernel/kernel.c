/* SPDX-License-Identifier: BSD-2-Clause */
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

/* OpenSSL's SSL_get_error codes (openssl/ssl.h), stable ABI. */
static const char *const ssl_error_names[] = {
    "SSL_ERROR_NONE",
    "SSL_ERROR_SSL",
    "SSL_ERROR_WANT_READ",
    "SSL_ERROR_WANT_WRITE",
    "SSL_ERROR_WANT_X509_LOOKUP",
    "SSL_ERROR_SYSCALL",
    "SSL_ERROR_ZERO_RETURN",
    "SSL_ERROR_WANT_CONNECT",
    "SSL_ERROR_WANT_ACCEPT",
    "SSL_ERROR_WANT_ASYNC",
    "SSL_ERROR_WANT_ASYNC_JOB",
    "SSL_ERROR_WANT_CLIENT_HELLO_CB",
    "SSL_ERROR_WANT_RETRY_VERIFY",
};

const char *tf_kernel_ssl_error_name(int code) {
  if (code < 0 ||
      code >= (int)(sizeof ssl_error_names / sizeof *ssl_error_names))
    return NULL;
  return ssl_error_names[code];
}

struct tf_kernel *tf_kernel_open(char *err, size_t errlen) {
  return tf_kernel_open_with(0, err, errlen);
}

#ifdef TLSFIN_HAVE_BPF

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define LIBSSL_SONAME "libssl.so.3"
/* Enough for every uprobe program in tlsfin.bpf.c. */
#define MAX_SSL_LINKS 16

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
  /* libssl uprobes: attached manually (the skeleton cannot, it does not
   * know the library), so destroyed here before the skeleton. */
  struct bpf_link *ssl_links[MAX_SSL_LINKS];
  int nssl_links;
  int ssl_loaded; /* the uprobe programs are loaded (maybe not attached) */
  char ssl_status[320];
  char libssl[PATH_MAX];
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

/* Indexed by enum tlsfin_ssl_func. */
static const char *const ssl_func_names[] = {
    [TLSFIN_SSL_SHUTDOWN] = "SSL_shutdown",
    [TLSFIN_SSL_GET_ERROR] = "SSL_get_error",
    [TLSFIN_SSL_READ] = "SSL_read",
    [TLSFIN_SSL_READ_EX] = "SSL_read_ex",
};

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
  case TLSFIN_EV_SSL:
    out.type = TF_KEV_SSL;
    if (ev->ssl_func >= sizeof ssl_func_names / sizeof *ssl_func_names)
      return 0;
    out.ssl_func = ssl_func_names[ev->ssl_func];
    out.ssl_ret = ev->ssl_ret;
    out.ssl_arg = ev->ssl_arg;
    out.ssl_fd = ev->fd;
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

static void detach_ssl(struct tf_kernel *k) {
  for (int i = 0; i < k->nssl_links; i++)
    bpf_link__destroy(k->ssl_links[i]);
  k->nssl_links = 0;
}

static void unload(struct tf_kernel *k) {
  detach_ssl(k);
  k->ssl_loaded = 0;
  ring_buffer__free(k->rb);
  k->rb = NULL;
  tlsfin__destroy(k->skel);
  k->skel = NULL;
}

/* Loads and attaches the programs, with accept/close attribution either by
 * fentry/fexit (use_fentry) or by syscall tracepoints, and with the libssl
 * uprobe programs loaded (not yet attached) when with_ssl. */
static int load_attach(struct tf_kernel *k, int use_fentry, int with_ssl,
                       char *err, size_t errlen) {
  struct bpf_program *p;
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
  /* Every kprobe-type program is a libssl uprobe.  The skeleton's attach
   * skips them (a bare SEC("uprobe") names no library); attach_ssl does. */
  bpf_object__for_each_program(p, k->skel->obj) {
    if (bpf_program__type(p) == BPF_PROG_TYPE_KPROBE)
      bpf_program__set_autoload(p, with_ssl);
  }
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
  k->ssl_loaded = with_ssl;
  return 0;

fail:
  unload(k);
  return -1;
}

static void set_ssl_status(struct tf_kernel *k, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->ssl_status, sizeof k->ssl_status, fmt, ap);
  va_end(ap);
}

/* The first bytes of an ELF header that say which processes can map it:
 * class, byte order and e_machine (same offset in 32- and 64-bit
 * headers).  Compared raw, so no byte swapping is needed. */
static int elf_kind(const char *path, unsigned char kind[4]) {
  unsigned char h[20];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;
  if (fd < 0)
    return -1;
  n = read(fd, h, sizeof h);
  close(fd);
  if (n != (ssize_t)sizeof h || memcmp(h, ELFMAG, SELFMAG) != 0)
    return -1;
  kind[0] = h[EI_CLASS];
  kind[1] = h[EI_DATA];
  kind[2] = h[18];
  kind[3] = h[19];
  return 0;
}

/* The libssl that programs on this host load: $TLSFIN_LIBSSL, else the
 * loader cache's entry for our own architecture (a multilib host lists
 * the 32-bit one too), as `ldconfig -p` prints it.  Returns 0 or sets the
 * status. */
static int find_libssl(struct tf_kernel *k) {
  const char *env = getenv("TLSFIN_LIBSSL");
  unsigned char self[4], kind[4];
  char line[PATH_MAX + 128];
  FILE *f;
  int found = 0;

  if (env && *env) {
    if (access(env, R_OK) != 0) {
      set_ssl_status(k, "TLSFIN_LIBSSL=%s: %s", env, strerror(errno));
      return -1;
    }
    snprintf(k->libssl, sizeof k->libssl, "%s", env);
    return 0;
  }
  if (elf_kind("/proc/self/exe", self) != 0) {
    set_ssl_status(k, LIBSSL_SONAME " not found (cannot read /proc/self/exe)");
    return -1;
  }
  /* The cache is what the dynamic loader itself consults; parsing its
   * binary format here would duplicate ldconfig for no gain. */
  f = popen("/sbin/ldconfig -p 2>/dev/null", "re");
  if (!f) {
    set_ssl_status(k, LIBSSL_SONAME " not found (ldconfig -p: %s)",
                   strerror(errno));
    return -1;
  }
  while (fgets(line, sizeof line, f)) {
    const char *name = line + strspn(line, " \t");
    char *path = strstr(line, "=> ");
    if (found || strncmp(name, LIBSSL_SONAME " ", strlen(LIBSSL_SONAME) + 1) ||
        !path)
      continue;
    path += 3;
    path[strcspn(path, "\n")] = '\0';
    if (elf_kind(path, kind) == 0 && memcmp(kind, self, sizeof kind) == 0) {
      snprintf(k->libssl, sizeof k->libssl, "%s", path);
      found = 1;
    }
  }
  pclose(f);
  if (!found) {
    set_ssl_status(k, LIBSSL_SONAME " not found (ldconfig -p)");
    return -1;
  }
  return 0;
}

/* libcrypto of the same build: the same directory and suffix
 * (libssl.so.3 -> libcrypto.so.3), as every distribution ships them. */
static int libcrypto_of(const char *libssl, char *out, size_t outlen) {
  const char *base = strrchr(libssl, '/');
  int n;
  base = base ? base + 1 : libssl;
  if (strncmp(base, "libssl", 6) != 0)
    return -1;
  n = snprintf(out, outlen, "%.*slibcrypto%s", (int)(base - libssl), libssl,
               base + 6);
  return n > 0 && (size_t)n < outlen && access(out, R_OK) == 0 ? 0 : -1;
}

static int attach_one(struct tf_kernel *k, struct bpf_program *prog,
                      const char *lib, const char *func, int retprobe) {
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func,
              .retprobe = retprobe != 0);
  struct bpf_link *link;

  if (k->nssl_links >= MAX_SSL_LINKS) {
    errno = ENOSPC;
    return -1;
  }
  /* pid -1: every process that maps the library. */
  link = bpf_program__attach_uprobe_opts(prog, -1, lib, 0, &opts);
  if (!link)
    return -1;
  k->ssl_links[k->nssl_links++] = link;
  return 0;
}

static void attach_ssl(struct tf_kernel *k) {
  struct tlsfin *s = k->skel;
  const struct {
    struct bpf_program *prog;
    const char *func;
    int retprobe;
  } probes[] = {
      /* Descriptor tracking first, so that no event can miss its join
       * for lack of a mapping set up during attach. */
      {s->progs.tlsfin_ssl_set_fd, "SSL_set_fd", 0},
      {s->progs.tlsfin_ssl_set_bio, "SSL_set_bio", 0},
      {s->progs.tlsfin_ssl_set0_rbio, "SSL_set0_rbio", 0},
      {s->progs.tlsfin_ssl_free, "SSL_free", 0},
      {s->progs.tlsfin_ssl_shutdown, "SSL_shutdown", 0},
      {s->progs.tlsfin_ssl_shutdown_ret, "SSL_shutdown", 1},
      {s->progs.tlsfin_ssl_get_error, "SSL_get_error", 0},
      {s->progs.tlsfin_ssl_get_error_ret, "SSL_get_error", 1},
      {s->progs.tlsfin_ssl_read, "SSL_read", 0},
      {s->progs.tlsfin_ssl_read_ret, "SSL_read", 1},
      {s->progs.tlsfin_ssl_read_ex, "SSL_read_ex", 0},
      {s->progs.tlsfin_ssl_read_ex_ret, "SSL_read_ex", 1},
  };
  char libcrypto[PATH_MAX];

  for (size_t i = 0; i < sizeof probes / sizeof *probes; i++) {
    libbpf_first_warning[0] = '\0';
    if (attach_one(k, probes[i].prog, k->libssl, probes[i].func,
                   probes[i].retprobe) != 0) {
      int e = errno;
      set_ssl_status(k, "attach %s%s in %s: %s", probes[i].func,
                     probes[i].retprobe ? " (return)" : "", k->libssl,
                     libbpf_first_warning[0] ? libbpf_first_warning
                                             : strerror(e));
      detach_ssl(k);
      return;
    }
  }
  k->ssl_status[0] = '\0';
  /* Optional: without it only SSL_set_fd joins (see kernel.h). */
  if (libcrypto_of(k->libssl, libcrypto, sizeof libcrypto) != 0) {
    set_ssl_status(k, "partial: no libcrypto next to %s", k->libssl);
    return;
  }
  libbpf_first_warning[0] = '\0';
  if (attach_one(k, s->progs.tlsfin_bio_int_ctrl, libcrypto, "BIO_int_ctrl",
                 0) != 0) {
    int e = errno;
    set_ssl_status(k, "partial: attach BIO_int_ctrl in %s: %s", libcrypto,
                   libbpf_first_warning[0] ? libbpf_first_warning
                                           : strerror(e));
  }
}

struct tf_kernel *tf_kernel_open_with(unsigned flags, char *err,
                                      size_t errlen) {
  struct tf_kernel *k;
  struct btf *btf;
  const char *want;
  int rc, ssl, loaded = 0;

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

  set_ssl_status(k, "not requested");
  ssl = (flags & TF_KERNEL_SSL) && find_libssl(k) == 0;

  /* fentry/fexit first (they also see closes at process exit); the
   * syscall-tracepoint programs when trampolines are unavailable.  The
   * environment can ask for the latter directly, so that tests also cover
   * them on kernels where fentry works.  For each, with the uprobe
   * programs and then without: only when the second works are the
   * uprobes to blame, and the RST/PROC events must not depend on them. */
  want = getenv("TLSFIN_KERNEL_ATTRIBUTION");
  for (int fentry = !(want && strcmp(want, "syscalls") == 0);
       fentry >= 0 && !loaded; fentry--) {
    char ssl_err[sizeof k->ssl_status];
    if (ssl && load_attach(k, fentry, 1, ssl_err, sizeof ssl_err) == 0) {
      loaded = 1;
    } else if (load_attach(k, fentry, 0, err, errlen) == 0) {
      loaded = 1;
      if (ssl) {
        snprintf(k->ssl_status, sizeof k->ssl_status, "%s", ssl_err);
        ssl = 0;
      }
    }
  }
  if (!loaded)
    goto fail;
  if (ssl)
    attach_ssl(k);
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

const char *tf_kernel_ssl_status(const struct tf_kernel *k) {
  return k ? k->ssl_status : "collector not open";
}

const char *tf_kernel_ssl_library(const struct tf_kernel *k) {
  return k && k->nssl_links > 0 ? k->libssl : NULL;
}

int tf_kernel_set_ssl_pid(struct tf_kernel *k, uint32_t pid) {
  if (!k || !k->skel || !k->ssl_loaded || !k->skel->bss)
    return -1;
  /* The programs read it at each call; an aligned 32-bit store is seen
   * whole. */
  k->skel->bss->ssl_tgid_filter = pid;
  return 0;
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

struct tf_kernel *tf_kernel_open_with(unsigned flags, char *err,
                                      size_t errlen) {
  (void)flags;
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

const char *tf_kernel_ssl_status(const struct tf_kernel *k) {
  (void)k;
  return "built without eBPF support";
}

const char *tf_kernel_ssl_library(const struct tf_kernel *k) {
  (void)k;
  return NULL;
}

int tf_kernel_set_ssl_pid(struct tf_kernel *k, uint32_t pid) {
  (void)k;
  (void)pid;
  return -1;
}

void tf_kernel_close(struct tf_kernel *k) { (void)k; }

#endif

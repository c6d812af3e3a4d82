/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin kernel collector: BPF side.
 *
 * Reports, through one ring buffer, the RSTs the kernel sends (with the
 * kernel's own sk_rst_reason, kernel >= 6.10) and receives, plus which
 * process connected, accepted and closed each TCP socket, so user space can
 * attribute the end of a connection seen on the wire to a cause; and, from
 * uprobes on libssl, what OpenSSL told the application about each ending
 * (at the end of this file).  CO-RE:
 * field offsets are relocated against the running kernel at load time. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tlsfin_event.h"

/* Macros in the kernel headers, so absent from vmlinux.h. */
#define AF_INET 2
#define AF_INET6 10

/* Tracing helpers such as bpf_probe_read_kernel are GPL-only. */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Per-CPU so that counting a drop never contends with other CPUs that are
 * dropping too; user space sums the slots. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

/* connect(): the CLOSE->SYN_SENT transition runs in the connecting task, but
 * before inet_hash_connect() has picked the ephemeral source port, so an
 * unbound socket still has sport 0 there.  Remember who connected (and when)
 * per socket and report the connect at the socket's next transition out of
 * SYN_SENT, when the port is known.  LRU so that sockets whose later
 * transitions we never see cannot fill the map. */
struct connect_stash {
  __u64 ts_ns;
  __u32 pid;
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct connect_stash);
} connecting SEC(".maps");

static __always_inline struct tlsfin_event *reserve(__u32 type) {
  struct tlsfin_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __u32 key = TLSFIN_LOST_RINGBUF;
    __u64 *n = bpf_map_lookup_elem(&lost, &key);
    if (n)
      *n += 1;
    return NULL;
  }
  /* Ring buffer memory is not zeroed: clear it so that unused address bytes
   * and padding never leak stale kernel data to user space. */
  __builtin_memset(e, 0, sizeof(*e));
  e->type = type;
  e->ts_ns = bpf_ktime_get_ns();
  e->pid = bpf_get_current_pid_tgid() >> 32;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  return e;
}

/* One endpoint of tcp_send_reset's saddr/daddr: a struct sockaddr_in or
 * sockaddr_in6 stored in 28 bytes, port in network order. */
static __always_inline void sockaddr_copy(const void *sa, __u16 *family,
                                          __u8 addr[16], __u16 *port) {
  __u8 buf[28];
  __u16 fam;

  if (bpf_probe_read_kernel(buf, sizeof(buf), sa))
    return;
  __builtin_memcpy(&fam, buf, sizeof(fam));
  *port = ((__u16)buf[2] << 8) | buf[3];
  if (fam == AF_INET)
    __builtin_memcpy(addr, buf + 4, 4); /* sin_addr */
  else if (fam == AF_INET6)
    __builtin_memcpy(addr, buf + 8, 16); /* sin6_addr after flowinfo */
  else
    return;
  *family = fam;
}

/* Endpoints of a full socket: local = this socket. */
static __always_inline void sock_copy(struct tlsfin_event *e,
                                      const struct sock *sk) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

  e->family = family;
  e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
  /* A socket that reached TCP_CLOSE (RST received, both FINs done) has
   * given its port back: inet_put_port() zeroes skc_num but leaves
   * inet_sport, so a later close() or SSL call still names the
   * connection. */
  if (!e->lport)
    e->lport =
        bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
  e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
  /* Explicit sizes: BPF_CORE_READ_INTO would copy sizeof(*dst), one byte
   * of these arrays. */
  if (family == AF_INET) {
    bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
    bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
  } else if (family == AF_INET6) {
    bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
  }
}

SEC("tp/tcp/tcp_send_reset")
int tlsfin_send_reset(struct trace_event_raw_tcp_send_reset *ctx) {
  struct tlsfin_event *e = reserve(TLSFIN_EV_RST_SENT);
  if (!e)
    return 0;
  e->reason = BPF_CORE_READ(ctx, reason);
  e->state = BPF_CORE_READ(ctx, state);
  /* The tracepoint stores the RST's own direction in both cases: with a
   * socket, saddr is the socket's local end; without one (the RST answers an
   * incoming segment), it swaps the segment's addresses so that saddr is
   * again the RST's sender.  Verified by tests/kernel/test_kernel.c. */
  sockaddr_copy(ctx->saddr, &e->family, e->laddr, &e->lport);
  sockaddr_copy(ctx->daddr, &e->family, e->raddr, &e->rport);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("tp/tcp/tcp_receive_reset")
int tlsfin_receive_reset(struct trace_event_raw_tcp_event_sk *ctx) {
  const struct sock *sk = BPF_CORE_READ(ctx, skaddr);
  struct tlsfin_event *e = reserve(TLSFIN_EV_RST_RECV);
  if (!e)
    return 0;
  /* Runs before tcp_reset() changes the state, so this is the state the
   * RST arrived in.  Local = the socket that received the RST. */
  if (sk)
    sock_copy(e, sk);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

static __always_inline void
set_state_copy(struct tlsfin_event *e,
               const struct trace_event_raw_inet_sock_set_state *ctx) {
  __u16 family = BPF_CORE_READ(ctx, family);

  e->family = family;
  e->lport = BPF_CORE_READ(ctx, sport); /* already host order */
  e->rport = BPF_CORE_READ(ctx, dport);
  if (family == AF_INET) {
    bpf_probe_read_kernel(e->laddr, 4, ctx->saddr);
    bpf_probe_read_kernel(e->raddr, 4, ctx->daddr);
  } else if (family == AF_INET6) {
    bpf_probe_read_kernel(e->laddr, 16, ctx->saddr_v6);
    bpf_probe_read_kernel(e->raddr, 16, ctx->daddr_v6);
  }
}

SEC("tp/sock/inet_sock_set_state")
int tlsfin_set_state(struct trace_event_raw_inet_sock_set_state *ctx) {
  __u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr);
  int oldstate = BPF_CORE_READ(ctx, oldstate);
  int newstate = BPF_CORE_READ(ctx, newstate);
  struct connect_stash *st;
  struct tlsfin_event *e;

  if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
    return 0;

  if (oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT) {
    if (BPF_CORE_READ(ctx, sport) == 0) {
      struct connect_stash s = {};
      s.ts_ns = bpf_ktime_get_ns();
      s.pid = bpf_get_current_pid_tgid() >> 32;
      bpf_get_current_comm(s.comm, sizeof(s.comm));
      bpf_map_update_elem(&connecting, &sk, &s, BPF_ANY);
      return 0;
    }
    /* Bound before connect(): the port is already known. */
    e = reserve(TLSFIN_EV_CONNECT);
    if (!e)
      return 0;
    set_state_copy(e, ctx);
    e->state = TCP_SYN_SENT;
    bpf_ringbuf_submit(e, 0);
    return 0;
  }

  if (oldstate != TCP_SYN_SENT)
    return 0;
  st = bpf_map_lookup_elem(&connecting, &sk);
  if (!st)
    return 0;
  e = reserve(TLSFIN_EV_CONNECT);
  if (e) {
    /* This transition may run in softirq context: the task, time and state
     * are those saved at connect(). */
    set_state_copy(e, ctx);
    e->ts_ns = st->ts_ns;
    e->pid = st->pid;
    __builtin_memcpy(e->comm, st->comm, sizeof(e->comm));
    e->state = TCP_SYN_SENT;
    bpf_ringbuf_submit(e, 0);
  }
  bpf_map_delete_elem(&connecting, &sk);
  return 0;
}

/* Process attribution for accept and close, two ways.  The fentry/fexit
 * programs below see every accept and every tcp_close() (including those at
 * process exit); they need BPF trampolines, which some kernels lack or
 * forbid (e.g. EPERM in locked-down VMs).  kernel.c then loads the
 * syscall-tracepoint versions further down instead. */

/* inet_csk_accept's arguments changed across versions (kernel 6.10 folded
 * flags/err/kern into struct proto_accept_arg); reading the return value
 * with bpf_get_func_ret keeps this independent of them. */
SEC("fexit/inet_csk_accept")
int BPF_PROG(tlsfin_accept) {
  __u64 ret = 0;
  const struct sock *newsk;
  struct tlsfin_event *e;

  if (bpf_get_func_ret(ctx, &ret) || !ret)
    return 0;
  newsk = (const struct sock *)ret;
  if (BPF_CORE_READ(newsk, sk_protocol) != IPPROTO_TCP)
    return 0;
  e = reserve(TLSFIN_EV_ACCEPT);
  if (!e)
    return 0;
  sock_copy(e, newsk);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("fentry/tcp_close")
int BPF_PROG(tlsfin_close, struct sock *sk, long timeout) {
  struct tlsfin_event *e;

  if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
    return 0;
  e = reserve(TLSFIN_EV_CLOSE);
  if (!e)
    return 0;
  sock_copy(e, sk); /* state before tcp_close() changes it */
  bpf_ringbuf_submit(e, 0);
  return 0;
}

/* Syscall-tracepoint fallback.  These records are the tracepoints' stable
 * layout (see /sys/kernel/tracing/events/syscalls/<name>/format); vmlinux.h
 * has no type for them. */
struct sys_enter_fd_args {
  __u64 common;
  __s32 syscall_nr;
  __u32 pad;
  __u64 fd;
};

struct sys_exit_args {
  __u64 common;
  __s32 syscall_nr;
  __u32 pad;
  __s64 ret;
};

/* Before 6.13 struct file counted references in f_count (1 = one); since
 * then in f_ref, stored as count - 1. */
struct file___old {
  atomic_long_t f_count;
} __attribute__((preserve_access_index));

static __always_inline int file_is_last_ref(struct file *f) {
  if (bpf_core_field_exists(f->f_ref))
    return BPF_CORE_READ(f, f_ref.refcnt.counter) == 0;
  return BPF_CORE_READ((struct file___old *)f, f_count.counter) == 1;
}

/* The TCP socket behind fd in the current task, or NULL. */
static __always_inline struct sock *fd_tcp_sock(__u64 fd, struct file **filep) {
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  struct file **fds;
  struct file *f = NULL;
  struct socket *sock;
  struct sock *sk;

  if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
    return NULL;
  fds = BPF_CORE_READ(fdt, fd);
  if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
    return NULL;
  /* Any file's private_data is read as a struct socket; only a socket's
   * points back to its file, which rules the others out without needing
   * the address of socket_file_ops. */
  sock = BPF_CORE_READ(f, private_data);
  if (!sock || BPF_CORE_READ(sock, file) != f)
    return NULL;
  sk = BPF_CORE_READ(sock, sk);
  if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
    return NULL;
  *filep = f;
  return sk;
}

static __always_inline int accept_sys(struct sys_exit_args *ctx) {
  struct file *f;
  struct sock *sk;
  struct tlsfin_event *e;

  if (ctx->ret < 0)
    return 0;
  sk = fd_tcp_sock((__u64)ctx->ret, &f);
  if (!sk)
    return 0;
  e = reserve(TLSFIN_EV_ACCEPT);
  if (!e)
    return 0;
  sock_copy(e, sk);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int tlsfin_accept_sys(struct sys_exit_args *ctx) { return accept_sys(ctx); }

SEC("tp/syscalls/sys_exit_accept4")
int tlsfin_accept4_sys(struct sys_exit_args *ctx) { return accept_sys(ctx); }

/* close(2) of the last reference is what runs tcp_close(), in this task
 * (fput defers it to task work before returning to user space).  Closing a
 * dup or a descriptor shared with a forked process does not end the
 * connection, hence the reference check.  Sockets closed by process exit,
 * close_range(2) or io_uring are not seen this way. */
SEC("tp/syscalls/sys_enter_close")
int tlsfin_close_sys(struct sys_enter_fd_args *ctx) {
  struct file *f = NULL;
  struct sock *sk = fd_tcp_sock(ctx->fd, &f);
  struct tlsfin_event *e;

  if (!sk || !file_is_last_ref(f))
    return 0;
  e = reserve(TLSFIN_EV_CLOSE);
  if (!e)
    return 0;
  sock_copy(e, sk);
  bpf_ringbuf_submit(e, 0);
  return 0;
}

/* ---- libssl: what the application was told ----
 *
 * uprobes that kernel.c attaches to one libssl (and its libcrypto) file, so
 * they fire in every process that maps that file.  They report the return
 * values that tell an application how its TLS connection ended
 * (SSL_shutdown, SSL_get_error, SSL_read), joined to the TCP connection
 * through the descriptor the SSL object was given. */

/* Only this process's SSL events are reported; 0 = every process.  Written
 * by user space through the mmap'ed .bss (tf_kernel_set_ssl_pid) while the
 * programs run.  The descriptor tracking below ignores it, so that narrowing
 * or widening the filter later still joins connections set up before. */
volatile __u32 ssl_tgid_filter;

/* OpenSSL's ABI values (openssl/bio.h, openssl/ssl.h). */
#define BIO_C_SET_FD 104
#define SSL_ERROR_NONE 0
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3

/* An SSL* or BIO* is only meaningful within its process. */
struct uptr_key {
  __u64 ptr;
  __u32 tgid;
  __u32 pad;
};

/* SSL* -> the descriptor it reads from.  LRU: an SSL freed by a process we
 * never see again (or whose SSL_free we missed) must not fill the map. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct uptr_key);
  __type(value, __s32);
} ssl_fds SEC(".maps");

/* BIO* -> descriptor, from BIO_set_fd, until an SSL takes the BIO. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct uptr_key);
  __type(value, __s32);
} bio_fds SEC(".maps");

/* Arguments saved at entry for the return probe, per thread and function.
 * LRU because a thread that dies inside a call never reaches the return. */
struct call_key {
  __u64 pid_tgid;
  __u32 func;
  __u32 pad;
};

struct call_args {
  __u64 ssl;
  __s32 arg;
  __u32 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct call_key);
  __type(value, struct call_args);
} ssl_calls SEC(".maps");

static __always_inline struct uptr_key uptr(const void *p) {
  struct uptr_key k = {};
  k.ptr = (__u64)p;
  k.tgid = bpf_get_current_pid_tgid() >> 32;
  return k;
}

static __always_inline void ssl_set_fd(const void *ssl, __s32 fd) {
  struct uptr_key k = uptr(ssl);
  bpf_map_update_elem(&ssl_fds, &k, &fd, BPF_ANY);
}

/* The BIO's descriptor, consumed: once an SSL owns the BIO the entry is no
 * longer needed, and dropping it keeps a later BIO at the same address
 * (a memory BIO, say) from inheriting a stale descriptor. */
static __always_inline int bio_take_fd(const void *bio, __s32 *fd) {
  struct uptr_key k = uptr(bio);
  __s32 *v;
  if (!bio)
    return 0;
  v = bpf_map_lookup_elem(&bio_fds, &k);
  if (!v)
    return 0;
  *fd = *v;
  bpf_map_delete_elem(&bio_fds, &k);
  return 1;
}

/* SSL_set_fd / SSL_set_rfd / SSL_set_wfd and BIO_new_socket all create a
 * socket BIO and call BIO_set_fd (a macro for BIO_int_ctrl with
 * BIO_C_SET_FD), then hand the BIO to the SSL with SSL_set_bio or
 * SSL_set0_rbio.  Following the BIO covers applications that build the BIO
 * themselves, not only those calling SSL_set_fd. */
SEC("uprobe")
int BPF_KPROBE(tlsfin_bio_int_ctrl, void *bio, int cmd, long larg, int iarg) {
  struct uptr_key k;
  __s32 fd = iarg;

  if (cmd != BIO_C_SET_FD)
    return 0;
  k = uptr(bio);
  bpf_map_update_elem(&bio_fds, &k, &fd, BPF_ANY);
  return 0;
}

/* Also probed directly, so the join still works when libcrypto's
 * BIO_int_ctrl could not be attached (SSL_set_fd's own SSL_set_bio then
 * finds no BIO entry and leaves this one alone). */
SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_set_fd, void *ssl, int fd) {
  ssl_set_fd(ssl, fd);
  return 0;
}

/* A BIO we know nothing about (memory BIO, custom BIO method) leaves the
 * entry as it is rather than deleting it, for the reason above; SSL_free
 * is what forgets an SSL. */
SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_set_bio, void *ssl, void *rbio, void *wbio) {
  __s32 fd;

  if (bio_take_fd(rbio, &fd) || (wbio != rbio && bio_take_fd(wbio, &fd)))
    ssl_set_fd(ssl, fd);
  return 0;
}

SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_set0_rbio, void *ssl, void *rbio) {
  __s32 fd;

  if (bio_take_fd(rbio, &fd))
    ssl_set_fd(ssl, fd);
  return 0;
}

SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_free, void *ssl) {
  struct uptr_key k = uptr(ssl);
  bpf_map_delete_elem(&ssl_fds, &k);
  return 0;
}

static __always_inline int ssl_enter(__u32 func, const void *ssl, int arg) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 filter = ssl_tgid_filter;
  struct call_key key = {};
  struct call_args a = {};

  if (filter && (__u32)(id >> 32) != filter)
    return 0;
  key.pid_tgid = id;
  key.func = func;
  a.ssl = (__u64)ssl;
  a.arg = arg;
  bpf_map_update_elem(&ssl_calls, &key, &a, BPF_ANY);
  return 0;
}

/* Only outcomes that may end a connection are reported, so that a busy TLS
 * server does not flood the ring buffer: every SSL_shutdown; SSL_get_error
 * except NONE and WANT_READ/WANT_WRITE (retry: the connection goes on);
 * SSL_read / SSL_read_ex when they failed (a would-block read of a
 * non-blocking socket looks the same here; the SSL_get_error that follows
 * says which it was). */
static __always_inline int ssl_reportable(__u32 func, int ret) {
  switch (func) {
  case TLSFIN_SSL_SHUTDOWN:
    return 1;
  case TLSFIN_SSL_GET_ERROR:
    return ret != SSL_ERROR_NONE && ret != SSL_ERROR_WANT_READ &&
           ret != SSL_ERROR_WANT_WRITE;
  default:
    return ret <= 0;
  }
}

static __always_inline int ssl_exit(__u32 func, int ret) {
  __u64 id = bpf_get_current_pid_tgid();
  struct call_key key = {};
  struct call_args *saved, a;
  struct uptr_key sk = {};
  struct tlsfin_event *e;
  struct file *f = NULL;
  struct sock *tcp;
  __s32 *fd;
  __u32 filter = ssl_tgid_filter;

  key.pid_tgid = id;
  key.func = func;
  saved = bpf_map_lookup_elem(&ssl_calls, &key);
  if (!saved)
    return 0; /* entry filtered out, or attached mid-call */
  a = *saved;
  bpf_map_delete_elem(&ssl_calls, &key);
  /* Checked again: a call that entered before the filter was set (a
   * blocking SSL_read, say) must not report after it. */
  if (!ssl_reportable(func, ret) || (filter && (__u32)(id >> 32) != filter))
    return 0;
  e = reserve(TLSFIN_EV_SSL);
  if (!e)
    return 0;
  e->ssl_func = func;
  e->ssl_ret = ret;
  e->ssl_arg = a.arg;
  e->fd = -1;
  sk.ptr = a.ssl;
  sk.tgid = id >> 32;
  fd = bpf_map_lookup_elem(&ssl_fds, &sk);
  /* Resolved now, in the application's own task, rather than when the fd
   * was set: the descriptor table is the current one and the socket's
   * ports are final by the time TLS runs over it. */
  if (fd && *fd >= 0) {
    e->fd = *fd;
    tcp = fd_tcp_sock((__u64)*fd, &f);
    if (tcp)
      sock_copy(e, tcp);
  }
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_shutdown, void *ssl) {
  return ssl_enter(TLSFIN_SSL_SHUTDOWN, ssl, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(tlsfin_ssl_shutdown_ret, int ret) {
  return ssl_exit(TLSFIN_SSL_SHUTDOWN, ret);
}

SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_get_error, void *ssl, int ret_code) {
  return ssl_enter(TLSFIN_SSL_GET_ERROR, ssl, ret_code);
}

SEC("uretprobe")
int BPF_KRETPROBE(tlsfin_ssl_get_error_ret, int ret) {
  return ssl_exit(TLSFIN_SSL_GET_ERROR, ret);
}

SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_read, void *ssl) {
  return ssl_enter(TLSFIN_SSL_READ, ssl, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(tlsfin_ssl_read_ret, int ret) {
  return ssl_exit(TLSFIN_SSL_READ, ret);
}

SEC("uprobe")
int BPF_KPROBE(tlsfin_ssl_read_ex, void *ssl) {
  return ssl_enter(TLSFIN_SSL_READ_EX, ssl, 0);
}

SEC("uretprobe")
int BPF_KRETPROBE(tlsfin_ssl_read_ex_ret, int ret) {
  return ssl_exit(TLSFIN_SSL_READ_EX, ret);
}

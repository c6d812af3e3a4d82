/* SPDX-License-Identifier: BSD-2-Clause */
/* tlsfin kernel collector: eBPF programs that report how TCP connections
 * end as the kernel sees them (RSTs with the kernel's own reason, and which
 * process connected / accepted / closed), so a capture can be matched with
 * the cause on the host that produced it; optionally also what OpenSSL told
 * each application about the ending (uprobes on libssl), next to what the
 * wire shows. */
#ifndef TLSFIN_KERNEL_H
#define TLSFIN_KERNEL_H

#include <stdint.h>
#include <stddef.h>

enum tf_kev_type { TF_KEV_RST_SENT, TF_KEV_RST_RECV, TF_KEV_PROC, TF_KEV_SSL };

struct tf_kevent {
  enum tf_kev_type type;
  /* CLOCK_REALTIME seconds (same clock as pcap timestamps); converted from
   * bpf_ktime_get_ns with an offset measured at open (and again at each
   * poll, to follow wall-clock steps). */
  double ts;
  /* 4 or 6 (v4-mapped v6 addresses reported as 4); 0 in the rare case the
   * kernel gave no endpoint (RST with neither socket nor packet). */
  uint8_t af;
  /* Local / remote endpoint: for RST_SENT local = sender of the RST; for
   * SSL the application's socket (af 0 when the SSL object's descriptor is
   * unknown or is no TCP socket, see ssl_fd).  For af 4 only the first 4
   * bytes are used (the rest are zero). */
  uint8_t laddr[16], raddr[16];
  uint16_t lport, rport; /* host byte order */
  int reason;            /* RST_SENT: enum sk_rst_reason value */
  /* RST_SENT: "NO_SOCKET", "TCP_ABORT_ON_CLOSE", ... read from the running
   * kernel's BTF enum sk_rst_reason (SK_RST_REASON_ prefix stripped);
   * NULL otherwise or when the value is unknown to the BTF. */
  const char *reason_name; /* valid until tf_kernel_close */
  int state; /* socket state at the event (TCP_ESTABLISHED=1...), -1 if none */
  /* PROC, SSL: the process; for RST events the current task (may be an
   * unrelated task interrupted by softirq processing). */
  uint32_t pid;
  char comm[16];
  /* PROC: "connect" | "accept" | "close".  A connect from an unbound
   * socket is delivered once the handshake ends (the kernel picks the port
   * after the tracepoint that names the task), with ts and state
   * (TCP_SYN_SENT) of the connect() itself: it may follow the RST_RECV of a
   * refused connect in delivery order. */
  const char *proc_event;
  /* SSL: which libssl function returned: "SSL_shutdown", "SSL_get_error",
   * "SSL_read" or "SSL_read_ex"; NULL for other events.  Only outcomes that
   * may end a connection are reported: every SSL_shutdown, SSL_get_error
   * other than SSL_ERROR_NONE / WANT_READ / WANT_WRITE, SSL_read(_ex) that
   * returned <= 0 (for a non-blocking socket that includes would-block
   * reads; the SSL_get_error event that follows tells them apart). */
  const char *ssl_func;
  /* SSL: the function's return value (SSL_get_error: the SSL_ERROR_* code,
   * see tf_kernel_ssl_error_name). */
  int ssl_ret;
  /* SSL_get_error: its ret argument (what the failed call returned); 0
   * otherwise. */
  int ssl_arg;
  /* SSL: the descriptor the SSL object was given (SSL_set_fd, or a socket
   * BIO from BIO_set_fd / BIO_new_socket passed to SSL_set_bio); -1 when
   * unknown (memory or custom BIOs, e.g. Python's SSLObject, curl's
   * connection-filter BIO), 0 for other events.  The endpoints are those of
   * this descriptor's socket at the time of the call. */
  int ssl_fd;
};

struct tf_kernel;

/* NULL when unavailable; err says in one line which requirement is missing:
 * built without libbpf, not root (CAP_BPF/CAP_SYS_ADMIN), no BTF at
 * /sys/kernel/btf/vmlinux, tracepoint tcp:tcp_send_reset missing or without
 * a reason field (kernel < 6.10), load failed: <libbpf message>.  Never
 * aborts, never prints: it installs a libbpf print callback that keeps
 * libbpf quiet (process-wide, libbpf has only one). */
struct tf_kernel *tf_kernel_open(char *err, size_t errlen);

/* tf_kernel_open_with flags. */
#define TF_KERNEL_SSL 0x1u /* also attach the libssl uprobes (TF_KEV_SSL) */

/* tf_kernel_open, plus optional parts.  TF_KERNEL_SSL is opt-in because
 * uprobes cost every process using that libssl a trap per probed call, and
 * because callers written before TF_KEV_SSL existed may not expect it.
 * Failing to set up an optional part never fails the open: RST and PROC
 * events work regardless and tf_kernel_ssl_status says what went wrong. */
struct tf_kernel *tf_kernel_open_with(unsigned flags, char *err, size_t errlen);

/* "" when the libssl uprobes are attached; otherwise one line saying why
 * not: "not requested", "libssl.so.3 not found (...)", "load failed: ...",
 * "attach SSL_read in /lib/...: ...".  "partial: ..." means SSL events are
 * reported but descriptors set through SSL_set_bio are not followed
 * (libcrypto's BIO_int_ctrl could not be probed); SSL_set_fd still is.
 * The library is the one `ldconfig -p` lists for libssl.so.3, or
 * $TLSFIN_LIBSSL: uprobes are per file, so applications that bundle or
 * statically link their own OpenSSL are not seen. */
const char *tf_kernel_ssl_status(const struct tf_kernel *k);
/* Path of the probed libssl; NULL when none is attached. */
const char *tf_kernel_ssl_library(const struct tf_kernel *k);
/* Report SSL events of this process only (0 = every process, the default).
 * pid as the initial pid namespace numbers it (getpid() outside
 * containers), like tf_kevent.pid.  Takes effect immediately, also for
 * calls already in progress.  Returns -1 when no SSL probes are loaded. */
int tf_kernel_set_ssl_pid(struct tf_kernel *k, uint32_t pid);
/* "SSL_ERROR_ZERO_RETURN", ... for an SSL_get_error code; NULL if unknown. */
const char *tf_kernel_ssl_error_name(int code);
/* Pollable fd (ring buffer epoll fd). */
int tf_kernel_fd(const struct tf_kernel *k);
/* Delivers pending events to cb; waits at most timeout_ms (0 = don't wait).
 * Returns number of events or -1. */
int tf_kernel_poll(struct tf_kernel *k, int timeout_ms,
                   void (*cb)(void *ctx, const struct tf_kevent *e), void *ctx);
/* Events lost because the ring buffer was full. */
uint64_t tf_kernel_lost(const struct tf_kernel *k);
void tf_kernel_close(struct tf_kernel *k);

/* How accept/close are attributed to processes: "fentry" (fexit on
 * inet_csk_accept, fentry on tcp_close: sees every accept and close,
 * including at process exit) or "syscalls" (accept/accept4/close syscall
 * tracepoints, used when the kernel cannot load fentry programs, or when
 * the environment has TLSFIN_KERNEL_ATTRIBUTION=syscalls: misses closes by
 * process exit, close_range and io_uring). */
const char *tf_kernel_attribution(const struct tf_kernel *k);

/* "TCP_ESTABLISHED", ... for a TCP state number; NULL if out of range. */
const char *tf_kernel_state_name(int state);

#endif

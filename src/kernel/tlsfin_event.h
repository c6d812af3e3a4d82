/* SPDX-License-Identifier: BSD-2-Clause */
/* Record passed from tlsfin.bpf.c to kernel.c through the ring buffer.
 * Included by the BPF side (after vmlinux.h) and by user space (after
 * <linux/types.h>), so it uses only the kernel's __u* types. */
#ifndef TLSFIN_EVENT_H
#define TLSFIN_EVENT_H

enum tlsfin_ev_type {
  TLSFIN_EV_RST_SENT = 0,
  TLSFIN_EV_RST_RECV = 1,
  TLSFIN_EV_CONNECT = 2,
  TLSFIN_EV_ACCEPT = 3,
  TLSFIN_EV_CLOSE = 4,
  TLSFIN_EV_SSL = 5,
};

/* TLSFIN_EV_SSL: which libssl function returned. */
enum tlsfin_ssl_func {
  TLSFIN_SSL_SHUTDOWN = 0,
  TLSFIN_SSL_GET_ERROR = 1,
  TLSFIN_SSL_READ = 2,
  TLSFIN_SSL_READ_EX = 3,
};

struct tlsfin_event {
  __u64 ts_ns;  /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
  __u32 type;   /* enum tlsfin_ev_type */
  __u32 pid;    /* tgid of the current task */
  __s32 reason; /* RST_SENT: enum sk_rst_reason */
  __s32 state;  /* socket state; 0 = no socket */
  __u16 family; /* AF_INET / AF_INET6 as the kernel stored it; 0 = unknown */
  __u16 lport, rport; /* host byte order */
  __u16 pad;
  __u8 laddr[16], raddr[16]; /* AF_INET: first 4 bytes */
  char comm[16];
  /* TLSFIN_EV_SSL only. */
  __u32 ssl_func; /* enum tlsfin_ssl_func */
  __s32 ssl_ret;  /* the function's return value */
  __s32 ssl_arg;  /* SSL_get_error: its ret argument */
  __s32 fd;       /* descriptor the SSL was set to use; -1 = unknown */
};

/* Index in the per-CPU "lost" array. */
#define TLSFIN_LOST_RINGBUF 0

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* Prometheus text exposition (format 0.0.4) of tlsfin watch's counters,
 * served by a non-blocking HTTP/1.0-style responder in the watch loop. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A request bigger than this, or slower than this, is dropped: the
 * endpoint is for a scraper, not for arbitrary clients. */
#define REQ_MAX 4096
#define CLIENT_TIMEOUT 5.0

struct client {
  int fd;
  double since;
  size_t rlen;
  char req[REQ_MAX];
  struct tf_buf out;
  size_t sent;
  bool responding;
};

struct server_count {
  uint8_t af, addr[16];
  uint16_t port;
  uint64_t n;
};

struct tf_metrics {
  struct tf_sink sink;
  int lfd, port;
  struct client clients[TF_METRICS_MAX_CLIENTS];
  uint64_t verdicts[TLSFIN_VERDICT_COUNT];
  uint64_t resets[TLSFIN_CAUSE_COUNT][2];
  uint64_t kernel_certain; /* RST causes taken from the kernel */
  struct server_count trunc[TF_METRICS_TOP_SERVERS];
  size_t ntrunc;
  uint64_t trunc_other;
};

static void count_truncation(struct tf_metrics *m, const struct tf_conn *c) {
  const struct tf_side *sv = &c->s[1];
  size_t n = c->af == 4 ? 4 : 16;
  for (size_t i = 0; i < m->ntrunc; i++) {
    struct server_count *x = &m->trunc[i];
    if (x->af == c->af && x->port == sv->port &&
        !memcmp(x->addr, sv->addr, n)) {
      x->n++;
      return;
    }
  }
  if (m->ntrunc == TF_METRICS_TOP_SERVERS) {
    m->trunc_other++;
    return;
  }
  struct server_count *x = &m->trunc[m->ntrunc++];
  memset(x, 0, sizeof *x);
  x->af = c->af;
  memcpy(x->addr, sv->addr, n);
  x->port = sv->port;
  x->n = 1;
}

static void metrics_conn(void *ctx, const struct tf_conn *c,
                         const struct tf_result *r) {
  struct tf_metrics *m = ctx;
  m->verdicts[r->verdict]++;
  if (r->has_rst) {
    m->resets[r->cause][r->rst_by ? 1 : 0]++;
    if (r->kernel_reason)
      m->kernel_certain++;
  }
  if (r->truncated)
    count_truncation(m, c);
}

struct tf_sink *tf_metrics_sink(struct tf_metrics *m) {
  return &m->sink;
}
int tf_metrics_port(const struct tf_metrics *m) { return m->port; }

static void help(struct tf_buf *b, const char *name, const char *type,
                 const char *text) {
  tf_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

void tf_metrics_render(struct tf_metrics *m, const struct tf_metrics_live *l,
                       struct tf_buf *b) {
  help(b, "tlsfin_connections_total", "counter",
       "Connections finished, by teardown verdict.");
  for (int v = 0; v < TLSFIN_VERDICT_COUNT; v++)
    tf_buf_printf(b, "tlsfin_connections_total{verdict=\"%s\"} %llu\n",
                  tlsfin_verdict_name((tlsfin_verdict)v),
                  (unsigned long long)m->verdicts[v]);
  help(b, "tlsfin_resets_total", "counter",
       "Connections ended by an RST, by cause and by the side that sent it.");
  for (int k = 0; k < TLSFIN_CAUSE_COUNT; k++)
    for (int d = 0; d < 2; d++)
      tf_buf_printf(b, "tlsfin_resets_total{cause=\"%s\",by=\"%s\"} %llu\n",
                    tlsfin_cause_name((tlsfin_cause)k), d ? "server" : "client",
                    (unsigned long long)m->resets[k][d]);
  help(b, "tlsfin_resets_kernel_certain_total", "counter",
       "RST causes taken from the local kernel's own reason (eBPF).");
  tf_buf_printf(b, "tlsfin_resets_kernel_certain_total %llu\n",
                (unsigned long long)m->kernel_certain);
  help(b, "tlsfin_truncations_total", "counter",
       "TLS connections truncated (FIN without close_notify), by server; "
       "servers after the first "
       "20"
       " are counted as other.");
  for (size_t i = 0; i < m->ntrunc; i++) {
    char a[INET6_ADDRSTRLEN];
    tf_format_addr(a, sizeof a, m->trunc[i].af, m->trunc[i].addr);
    tf_buf_printf(b,
                  m->trunc[i].af == 6
                      ? "tlsfin_truncations_total{server=\"[%s]:%u\"} %llu\n"
                      : "tlsfin_truncations_total{server=\"%s:%u\"} %llu\n",
                  a, m->trunc[i].port, (unsigned long long)m->trunc[i].n);
  }
  tf_buf_printf(b, "tlsfin_truncations_total{server=\"other\"} %llu\n",
                (unsigned long long)m->trunc_other);
  help(b, "tlsfin_packets_total", "counter", "Packets captured.");
  tf_buf_printf(b, "tlsfin_packets_total %llu\n",
                (unsigned long long)l->packets);
  help(b, "tlsfin_bytes_total", "counter",
       "Bytes of captured packets (wire length).");
  tf_buf_printf(b, "tlsfin_bytes_total %llu\n", (unsigned long long)l->bytes);
  help(b, "tlsfin_capture_drops_total", "counter",
       "Packets lost before tlsfin saw them: where=kernel (capture buffer "
       "full), where=interface (dropped by the interface or driver).");
  tf_buf_printf(b, "tlsfin_capture_drops_total{where=\"kernel\"} %llu\n",
                (unsigned long long)l->drops);
  tf_buf_printf(b, "tlsfin_capture_drops_total{where=\"interface\"} %llu\n",
                (unsigned long long)l->if_drops);
  help(b, "tlsfin_open_connections", "gauge",
       "Connections in the table (not yet ended).");
  tf_buf_printf(b, "tlsfin_open_connections %llu\n",
                (unsigned long long)l->open);
  help(b, "tlsfin_kernel_events_total", "counter",
       "Events from the eBPF collector.");
  tf_buf_printf(b, "tlsfin_kernel_events_total %llu\n",
                (unsigned long long)l->kernel_events);
  help(b, "tlsfin_kernel_events_lost_total", "counter",
       "eBPF events lost because the ring buffer was full.");
  tf_buf_printf(b, "tlsfin_kernel_events_lost_total %llu\n",
                (unsigned long long)l->kernel_lost);
  help(b, "tlsfin_recorder_connections_written_total", "counter",
       "Connections written by the flight recorder.");
  tf_buf_printf(b, "tlsfin_recorder_connections_written_total %llu\n",
                (unsigned long long)l->record_written);
  help(b, "tlsfin_recorder_packets_dropped_total", "counter",
       "Packets the flight recorder could not keep (memory bound).");
  tf_buf_printf(b, "tlsfin_recorder_packets_dropped_total %llu\n",
                (unsigned long long)l->record_dropped);
  help(b, "tlsfin_start_time_seconds", "gauge",
       "Start time of this tlsfin watch, seconds since the epoch.");
  tf_buf_printf(b, "tlsfin_start_time_seconds %.3f\n", l->start_time);
}

/* [ADDR:]PORT: "9464", ":9464", "127.0.0.1:9464", "[::1]:9464". */
static int parse_addr(const char *s, char *host, size_t hn, char *port,
                      size_t pn) {
  const char *colon;
  host[0] = 0;
  if (s[0] == '[') {
    const char *e = strchr(s, ']');
    if (!e || e[1] != ':' || (size_t)(e - s - 1) >= hn)
      return -1;
    memcpy(host, s + 1, (size_t)(e - s - 1));
    host[e - s - 1] = 0;
    colon = e + 1;
  } else if ((colon = strrchr(s, ':')) != NULL) {
    if ((size_t)(colon - s) >= hn)
      return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
  } else {
    colon = s - 1;
  }
  const char *p = colon + 1;
  if (!*p || strlen(p) >= pn || strspn(p, "0123456789") != strlen(p))
    return -1;
  long v = strtol(p, NULL, 10);
  if (v < 0 || v > 65535)
    return -1;
  snprintf(port, pn, "%s", p);
  return 0;
}

struct tf_metrics *tf_metrics_new(const char *addr, char *err, size_t errlen) {
  char host[256], port[8];
  if (parse_addr(addr, host, sizeof host, port, sizeof port) < 0) {
    snprintf(err, errlen,
             "--metrics '%s': expected [ADDR:]PORT, e.g. :9464 or "
             "127.0.0.1:9464",
             addr);
    return NULL;
  }
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  int gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
  if (gai) {
    snprintf(err, errlen, "--metrics '%s': %s", addr, gai_strerror(gai));
    return NULL;
  }
  /* With no address, prefer the IPv6 wildcard (dual stack) when it
   * exists. */
  struct addrinfo *use = ai;
  for (struct addrinfo *x = ai; x && !host[0]; x = x->ai_next)
    if (x->ai_family == AF_INET6) {
      use = x;
      break;
    }
  int fd =
      socket(use->ai_family, use->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
             use->ai_protocol);
  int one = 1, zero = 0;
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (use->ai_family == AF_INET6 && !host[0])
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  if (fd < 0 || bind(fd, use->ai_addr, use->ai_addrlen) < 0 ||
      listen(fd, 16) < 0) {
    snprintf(err, errlen, "--metrics '%s': %s", addr, strerror(errno));
    if (fd >= 0)
      close(fd);
    freeaddrinfo(ai);
    return NULL;
  }
  freeaddrinfo(ai);
  struct tf_metrics *m = calloc(1, sizeof *m);
  if (!m) {
    close(fd);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    m->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
  m->lfd = fd;
  for (int i = 0; i < TF_METRICS_MAX_CLIENTS; i++)
    m->clients[i].fd = -1;
  m->sink.ctx = m;
  m->sink.conn = metrics_conn;
  return m;
}

int tf_metrics_pollfds(struct tf_metrics *m, struct pollfd *fds, int max) {
  int n = 0;
  if (n < max)
    fds[n++] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
  for (int i = 0; i < TF_METRICS_MAX_CLIENTS && n < max; i++) {
    struct client *c = &m->clients[i];
    if (c->fd >= 0)
      fds[n++] = (struct pollfd){.fd = c->fd,
                                 .events = c->responding ? POLLOUT : POLLIN};
  }
  return n;
}

static void client_close(struct client *c) {
  close(c->fd);
  c->fd = -1;
  tf_buf_free(&c->out);
  c->rlen = c->sent = 0;
  c->responding = false;
}

static void respond(struct tf_metrics *m, struct client *c,
                    const struct tf_metrics_live *l) {
  char method[8] = "", path[64] = "";
  sscanf(c->req, "%7s %63s", method, path);
  struct tf_buf body = {0};
  const char *status = "200 OK";
  const char *ctype = "text/plain; version=0.0.4; charset=utf-8";
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    status = "405 Method Not Allowed";
    tf_buf_printf(&body, "only GET\n");
    ctype = "text/plain";
  } else if (!strcmp(path, "/metrics") || !strncmp(path, "/metrics?", 9)) {
    tf_metrics_render(m, l, &body);
  } else if (!strcmp(path, "/")) {
    tf_buf_printf(&body, "tlsfin watch: metrics at /metrics\n");
    ctype = "text/plain";
  } else {
    status = "404 Not Found";
    tf_buf_printf(&body, "not found; metrics are at /metrics\n");
    ctype = "text/plain";
  }
  tf_buf_printf(&c->out,
                "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: "
                "%zu\r\nConnection: close\r\n\r\n",
                status, ctype, body.len);
  if (strcmp(method, "HEAD") && body.len)
    tf_buf_printf(&c->out, "%.*s", (int)body.len, body.p);
  tf_buf_free(&body);
  c->responding = true;
}

void tf_metrics_serve(struct tf_metrics *m, const struct pollfd *fds, int n,
                      const struct tf_metrics_live *l, double now) {
  for (int k = 0; k < n; k++) {
    if (fds[k].fd == m->lfd) {
      if (!(fds[k].revents & POLLIN))
        continue;
      int cfd;
      while ((cfd = accept4(m->lfd, NULL, NULL,
                            SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        struct client *c = NULL;
        for (int i = 0; i < TF_METRICS_MAX_CLIENTS && !c; i++)
          if (m->clients[i].fd < 0)
            c = &m->clients[i];
        if (!c) { /* too many scrapers at once: refuse this one */
          close(cfd);
          continue;
        }
        c->fd = cfd;
        c->since = now;
      }
      continue;
    }
    struct client *c = NULL;
    for (int i = 0; i < TF_METRICS_MAX_CLIENTS && !c; i++)
      if (m->clients[i].fd == fds[k].fd)
        c = &m->clients[i];
    if (!c || !fds[k].revents)
      continue;
    if (!c->responding) {
      ssize_t r = read(c->fd, c->req + c->rlen, sizeof c->req - 1 - c->rlen);
      if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
          client_close(c);
        continue;
      }
      c->rlen += (size_t)r;
      c->req[c->rlen] = 0;
      if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        respond(m, c, l);
      else if (c->rlen == sizeof c->req - 1)
        client_close(c);
      continue;
    }
    ssize_t w = write(c->fd, c->out.p + c->sent, c->out.len - c->sent);
    if (w < 0 && errno != EAGAIN && errno != EINTR) {
      client_close(c);
      continue;
    }
    if (w > 0)
      c->sent += (size_t)w;
    if (c->sent == c->out.len)
      client_close(c);
  }
  for (int i = 0; i < TF_METRICS_MAX_CLIENTS; i++)
    if (m->clients[i].fd >= 0 && now - m->clients[i].since > CLIENT_TIMEOUT)
      client_close(&m->clients[i]);
}

void tf_metrics_free(struct tf_metrics *m) {
  if (!m)
    return;
  for (int i = 0; i < TF_METRICS_MAX_CLIENTS; i++)
    if (m->clients[i].fd >= 0)
      client_close(&m->clients[i]);
  close(m->lfd);
  free(m);
}

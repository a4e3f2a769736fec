// Vendored from the team's shared bench kit (shared/bench/loadgen.c), unchanged but for this line:
// deno task bench compiles it with the machine's C compiler and pins it to the second core.
// loadgen: a runtime-neutral load generator for the echo labs (one thread, epoll).
//   loadgen tcp HOST PORT CONC SECONDS [THINK_MS]  one connection per exchange:
//       connect, (wait THINK_MS), send, shutdown(WR), read to EOF, check, close
//   loadgen udp HOST PORT CONC SECONDS             CONC sockets, one datagram in flight each
// Prints: "<mode> conc=N ops/s=X errors=E p50_us=A p99_us=B"
// Build: gcc -O2 -o loadgen loadgen.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char MSG[] = "benchmark sentence, lower case";
static const char UP[] = "BENCHMARK SENTENCE, LOWER CASE";
#define MSGLEN (sizeof(MSG) - 1)

enum { CONNECTING, THINKING, READING };
typedef struct {
  int fd, state, got;
  double t0, wake;
  char buf[256];
} slot_t;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sockaddr_in addr;
static int ep, udp;
static double *lat;
static long nlat, cap, errors;

static void record(double us) {
  if (nlat == cap) { cap = cap ? cap * 2 : 1 << 16; lat = realloc(lat, cap * sizeof(double)); }
  lat[nlat++] = us;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void start(slot_t *s) {
  s->got = 0;
  s->t0 = now();
  if (udp) {
    if (send(s->fd, MSG, MSGLEN, 0) < 0) errors++;
    s->state = READING;
    return;
  }
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s->state = CONNECTING;
  int r = connect(s->fd, (struct sockaddr *)&addr, sizeof addr);
  if (r < 0 && errno != EINPROGRESS) { errors++; close(s->fd); s->fd = -1; s->wake = now() + 0.01; s->state = THINKING; return; }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void finish(slot_t *s, int ok) {
  if (ok) record((now() - s->t0) * 1e6); else errors++;
  if (!udp) { close(s->fd); s->fd = -1; }
  start(s);
}

int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: loadgen tcp|udp HOST PORT CONC SECONDS [THINK_MS]\n"); return 2; }
  udp = strcmp(argv[1], "udp") == 0;
  addr.sin_family = AF_INET;
  addr.sin_port = htons(atoi(argv[3]));
  inet_pton(AF_INET, argv[2], &addr.sin_addr);
  int conc = atoi(argv[4]);
  double secs = atof(argv[5]), think = argc > 6 ? atof(argv[6]) / 1000 : 0;
  ep = epoll_create1(0);
  slot_t *slots = calloc(conc, sizeof(slot_t));
  for (int i = 0; i < conc; i++) {
    slot_t *s = &slots[i];
    if (udp) {
      s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      connect(s->fd, (struct sockaddr *)&addr, sizeof addr);
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
      epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
    start(s);
  }
  double end = now() + secs, t;
  long ops0 = 0;
  struct epoll_event evs[256];
  while ((t = now()) < end) {
    int n = epoll_wait(ep, evs, 256, 1);
    for (int i = 0; i < n; i++) {
      slot_t *s = evs[i].data.ptr;
      if (udp) {
        ssize_t r;
        while ((r = recv(s->fd, s->buf, sizeof s->buf, 0)) > 0)
          finish(s, r == MSGLEN && memcmp(s->buf, UP, MSGLEN) == 0);
        continue;
      }
      if (s->state == CONNECTING) {
        int err = 0; socklen_t l = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) { finish(s, 0); continue; }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        if (think > 0) { s->state = THINKING; s->wake = now() + think; continue; }
        send(s->fd, MSG, MSGLEN, MSG_NOSIGNAL); shutdown(s->fd, SHUT_WR); s->state = READING;
        continue;
      }
      if (s->state == READING) {
        ssize_t r = recv(s->fd, s->buf + s->got, sizeof s->buf - s->got, 0);
        if (r > 0) { s->got += r; continue; }
        if (r < 0 && errno == EAGAIN) continue;
        finish(s, r == 0 && s->got == MSGLEN && memcmp(s->buf, UP, MSGLEN) == 0);
      }
    }
    t = now();
    for (int i = 0; i < conc; i++) {
      slot_t *s = &slots[i];
      if (s->state == THINKING && t >= s->wake) {
        if (s->fd < 0) { start(s); continue; }
        send(s->fd, MSG, MSGLEN, MSG_NOSIGNAL); shutdown(s->fd, SHUT_WR); s->state = READING;
      }
      if (udp && s->state == READING && t - s->t0 > 1.0) { errors++; start(s); }
    }
  }
  (void)ops0;
  qsort(lat, nlat, sizeof(double), cmp);
  printf("%s conc=%d ops/s=%.0f errors=%ld p50_us=%.0f p99_us=%.0f\n", argv[1], conc, nlat / secs, errors,
         nlat ? lat[nlat / 2] : 0, nlat ? lat[(long)(nlat * 0.99)] : 0);
  return 0;
}

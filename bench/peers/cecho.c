// Vendored from the team's shared bench kit (shared/bench/cecho.c): the C floor of the echo labs.
// cecho: the floor for the echo labs: a one-thread epoll upper-case echo server in C.
//   cecho tcp PORT   per connection: read, upper-case, write back; close after the peer's EOF
//   cecho udp PORT   each datagram back upper-cased
// Build: gcc -O2 -o cecho cecho.c
#define _GNU_SOURCE
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: cecho tcp|udp PORT\n"); return 2; }
  int udp = strcmp(argv[1], "udp") == 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
  int l = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
  char buf[65536];
  if (udp) {
    for (;;) {
      struct sockaddr_in p; socklen_t pl = sizeof p;
      ssize_t n = recvfrom(l, buf, sizeof buf, 0, (struct sockaddr *)&p, &pl);
      for (ssize_t i = 0; i < n; i++) buf[i] = toupper((unsigned char)buf[i]);
      if (n >= 0) sendto(l, buf, n, 0, (struct sockaddr *)&p, pl);
    }
  }
  listen(l, 4096);
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l}, evs[256];
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c;
        while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r > 0) {
        for (ssize_t j = 0; j < r; j++) buf[j] = toupper((unsigned char)buf[j]);
        send(fd, buf, r, MSG_NOSIGNAL);
      } else if (r == 0 || r < 0) {
        close(fd);
      }
    }
  }
}

/*
 * The floor of two receive designs, in C with nothing else around (docs/performance.md, "The receive floor"):
 * N streams at 50 datagrams/s each (652 bytes: an RTP slin16 frame) over loopback from a forked sender, received
 *   a: one socket per stream, epoll + recvmmsg per readable socket every 5 ms (what the addon does), or
 *   b: one socket for all streams, recvmmsg in batches of 64 every 5 ms (a receiver demultiplexing by source).
 * Prints the receiver's CPU per datagram (user, system) over the measured seconds, after 2 s of warm-up. POLL_MS: the
 * receiver's wake interval (default 5, as the workers).
 *
 *   gcc -O2 -o /tmp/receive-floor bench/receive-floor.c && /tmp/receive-floor 2000 a 10 && /tmp/receive-floor 2000 b 10
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int bind_udp(int port, int rcvbuf) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int on = 1; setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(fd, (void *)&a, sizeof a) != 0) { perror("bind"); exit(1); }
  return fd;
}
#define B 64
int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: receive-floor STREAMS a|b SECONDS [POLL_MS=5]\n"); return 2; }
  int n = atoi(argv[1]); char mode = argv[2][0]; int secs = atoi(argv[3]); int base = 30000;
  int poll_ms = argc > 4 ? atoi(argv[4]) : 5; /* the workers wake every 5 ms */
  int nports = mode == 'a' ? n : 1;
  int *fds = calloc(nports, sizeof(int));
  for (int i = 0; i < nports; i++) fds[i] = bind_udp(base + 2 * i, mode == 'a' ? 256 * 1024 : 8 << 20);
  pid_t kid = fork();
  if (kid == 0) { // sender: every 1 ms, n/20 datagrams (50 pkt/s per stream), round-robin over the streams
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    static uint8_t pkt[652]; static struct mmsghdr m[1024]; static struct iovec iov[1024]; static struct sockaddr_in to[1024];
    double t0 = now_ms(); long k = 0; int next = 0;
    for (;;) {
      double due = t0 + k; while (now_ms() < due) { struct timespec ts = {0, 200000}; nanosleep(&ts, NULL); }
      int cnt = (int)((k + 1) * n / 20 - k * n / 20); k++;
      for (int j = 0; j < cnt; j++) {
        int stream = next++ % n;
        to[j] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(base + (mode == 'a' ? 2 * stream : 0)), .sin_addr.s_addr = htonl(0x7f000001)};
        iov[j] = (struct iovec){pkt, sizeof pkt};
        m[j].msg_hdr = (struct msghdr){.msg_name = &to[j], .msg_namelen = sizeof to[j], .msg_iov = &iov[j], .msg_iovlen = 1};
      }
      for (int off = 0; off < cnt;) { int r = sendmmsg(s, m + off, cnt - off, 0); if (r <= 0) break; off += r; }
    }
  }
  static uint8_t buf[B][2048]; static struct mmsghdr m[B]; static struct iovec iov[B]; static struct sockaddr_in6 from[B]; static char ctl[B][64];
  for (int j = 0; j < B; j++) { iov[j] = (struct iovec){buf[j], 2048}; }
  int ep = epoll_create1(0);
  for (int i = 0; i < nports; i++) { struct epoll_event e = {.events = EPOLLIN, .data.u32 = i}; epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e); }
  struct epoll_event evs[1024];
  long got = 0; double t0 = now_ms(), warm = t0 + 2000; struct rusage r0; int measuring = 0; long got0 = 0;
  while (now_ms() < warm + secs * 1000.0) {
    if (!measuring && now_ms() >= warm) { getrusage(RUSAGE_SELF, &r0); got0 = got; measuring = 1; }
    struct timespec ts = {poll_ms / 1000, (long)(poll_ms % 1000) * 1000000L}; nanosleep(&ts, NULL);
    for (;;) {
      int ne = epoll_wait(ep, evs, 1024, 0); if (ne <= 0) break;
      for (int e = 0; e < ne; e++) {
        int fd = fds[evs[e].data.u32];
        for (;;) {
          for (int j = 0; j < B; j++) m[j].msg_hdr = (struct msghdr){.msg_name = &from[j], .msg_namelen = sizeof from[j], .msg_iov = &iov[j], .msg_iovlen = 1, .msg_control = ctl[j], .msg_controllen = 64};
          int r = recvmmsg(fd, m, B, MSG_DONTWAIT, NULL);
          if (r <= 0) break;
          got += r;
          if (r < B) break;
        }
      }
      if (ne < 1024) break;
    }
  }
  struct rusage r1; getrusage(RUSAGE_SELF, &r1);
  kill(kid, SIGKILL); waitpid(kid, NULL, 0);
  double us = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1e6 + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec);
  double sy = (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
  long p = got - got0;
  printf("mode %c streams %d: %ld packets in %d s, user %.2f sys %.2f total %.2f us/packet\n", mode, n, p, secs, us / p, sy / p, (us + sy) / p);
  return 0;
}

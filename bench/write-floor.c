/*
 * The floor of the WAV writers' disk writes, in C with nothing else around (docs/performance.md, "The floor"):
 * N recordings' files, each given a second of 8 kHz int16 audio (16 000 bytes) at a time plus the 44-byte header
 * patch, as the daemon's writers flush (src/audio/wav-writer.ts), for S seconds of audio, as fast as the disk takes it.
 * Prints the CPU per recording-second (user + system, and system alone). Modes:
 *   buffered: pwrite through the page cache (what the daemon does);
 *   batched:  the same bytes K seconds at a time (fewer, larger writes);
 *   direct:   O_DIRECT, 16 384 aligned bytes per write and the header's whole 4 KiB block rewritten each time.
 *
 *   gcc -O2 -o /tmp/write-floor bench/write-floor.c && /tmp/write-floor 2000 buffered 20 DIR && /tmp/write-floor 2000 direct 20 DIR
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void cpu(double *total, double *sys) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  *sys = r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
  *total = *sys + r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6;
}

static void must(ssize_t got, ssize_t want) {
  if (got != want) {
    perror("pwrite");
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: write-floor N buffered|batched[:K]|direct SECONDS DIR\n");
    return 2;
  }
  const int n = atoi(argv[1]), secs = atoi(argv[3]);
  const int direct = strcmp(argv[2], "direct") == 0;
  const int k = strncmp(argv[2], "batched", 7) == 0 ? (argv[2][7] == ':' ? atoi(argv[2] + 8) : 5) : 1;
  const size_t chunk = direct ? 16384 : 16000 * (size_t)k;
  int *fd = calloc(n, sizeof *fd);
  unsigned char *buf, *hdr;
  if (!fd || posix_memalign((void **)&buf, 4096, chunk * n) || posix_memalign((void **)&hdr, 4096, 4096 * (size_t)n)) return 1;
  memset(buf, 1, chunk * n); /* touched once, as the writers' reused buffers are */
  memset(hdr, 2, 4096 * (size_t)n);
  char p[4096];
  for (int i = 0; i < n; i++) {
    snprintf(p, sizeof p, "%s/write-floor-%d.wav", argv[4], i);
    fd[i] = open(p, O_CREAT | O_TRUNC | O_WRONLY | (direct ? O_DIRECT : 0), 0644);
    if (fd[i] < 0) {
      perror(p);
      return 1;
    }
  }
  double t0, s0, t1, s1;
  cpu(&t0, &s0);
  for (int s = 0; s < secs; s += k)
    for (int i = 0; i < n; i++) {
      if (direct) {
        must(pwrite(fd[i], buf + chunk * i, chunk, 4096 + (off_t)chunk * s), (ssize_t)chunk);
        must(pwrite(fd[i], hdr + 4096 * (size_t)i, 4096, 0), 4096);
      } else {
        must(pwrite(fd[i], buf + chunk * i, chunk, 44 + 16000 * (off_t)s), (ssize_t)chunk);
        must(pwrite(fd[i], hdr + 4096 * (size_t)i, 44, 0), 44);
      }
    }
  cpu(&t1, &s1);
  const double per = 1e6 / ((double)n * secs);
  printf("%s, %d files × %d s: %.1f µs CPU per recording-second (system %.1f)\n", argv[2], n, secs, (t1 - t0) * per, (s1 - s0) * per);
  for (int i = 0; i < n; i++) {
    close(fd[i]);
    snprintf(p, sizeof p, "%s/write-floor-%d.wav", argv[4], i);
    unlink(p);
  }
  return 0;
}

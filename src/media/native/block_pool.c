/*
 * Stream blocks (stream-block.ts) on transparent huge pages. A worker with thousands of streams touches a few of each
 * block's lines per packet, all over some 200 MB: on 4 KiB pages nearly every packet's block misses the TLB (2 048
 * entries cover 8 MB), and inside a VM each miss is a two-level page walk. Blocks of one size are carved from 2 MiB
 * chunks aligned to 2 MiB and madvised MADV_HUGEPAGE, so one TLB entry covers ~46 blocks.
 *
 * A chunk serves one block size; its header holds its free list. Blocks come back when their ArrayBuffer is collected
 * (the finalizer); a chunk whose blocks are all free is unmapped unless it is its size's last one. One mutex: blocks
 * are taken and returned per stream, not per packet, and from every worker thread.
 */
#include "block_pool.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK ((size_t)2 << 20)
#define LINE 64

typedef struct chunk {
  struct chunk *next;
  size_t size;   /* block size (a multiple of LINE) */
  uint32_t live; /* blocks handed out */
  void *free;    /* returned blocks: each holds the next one's address in its first bytes */
  char *bump;    /* never handed out from here to the chunk's end */
} chunk_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static chunk_t *chunks; /* every chunk, any size */

static inline size_t round_line(size_t n) { return (n + LINE - 1) / LINE * LINE; }
static inline chunk_t *chunk_of(void *p) { return (chunk_t *)((uintptr_t)p & ~(uintptr_t)(CHUNK - 1)); }
static inline char *first_block(chunk_t *c) { return (char *)c + round_line(sizeof *c); }

int block_pool_fits(size_t bytes) { return round_line(bytes) <= CHUNK - round_line(sizeof(chunk_t)); }

static chunk_t *chunk_new(size_t size) {
  char *p = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  char *at = (char *)(((uintptr_t)p + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
  if (at > p) munmap(p, (size_t)(at - p));
  if (at + CHUNK < p + 2 * CHUNK) munmap(at + CHUNK, (size_t)(p + 2 * CHUNK - (at + CHUNK)));
  (void)madvise(at, CHUNK, MADV_HUGEPAGE); /* a kernel without THP says EINVAL: 4 KiB pages, still correct */
  chunk_t *c = (chunk_t *)at;
  c->size = size;
  c->live = 0;
  c->free = NULL;
  c->bump = first_block(c);
  c->next = chunks;
  chunks = c;
  return c;
}

void *block_pool_alloc(size_t bytes) {
  if (!block_pool_fits(bytes) || bytes == 0) return NULL;
  const size_t size = round_line(bytes);
  void *p = NULL;
  pthread_mutex_lock(&lock);
  chunk_t *c = chunks;
  for (; c; c = c->next)
    if (c->size == size && (c->free || c->bump + size <= (char *)c + CHUNK)) break;
  if (!c) c = chunk_new(size);
  if (c) {
    if (c->free) {
      p = c->free;
      memcpy(&c->free, p, sizeof(void *));
    } else {
      p = c->bump;
      c->bump += size;
    }
    c->live++;
  }
  pthread_mutex_unlock(&lock);
  if (p) memset(p, 0, bytes);
  return p;
}

void block_pool_free(void *p) {
  if (!p) return;
  chunk_t *c = chunk_of(p);
  pthread_mutex_lock(&lock);
  memcpy(p, &c->free, sizeof(void *));
  c->free = p;
  if (--c->live == 0) {
    /* all free: unmapped, unless it is the last chunk of its size (a stream that ends and the next that starts) */
    chunk_t **link = &chunks, *other = NULL;
    for (chunk_t *k = chunks; k; k = k->next)
      if (k != c && k->size == c->size) other = k;
    if (other) {
      while (*link != c) link = &(*link)->next;
      *link = c->next;
      munmap(c, CHUNK);
    }
  }
  pthread_mutex_unlock(&lock);
}

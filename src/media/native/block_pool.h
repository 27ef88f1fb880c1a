/* Stream blocks on 2 MiB transparent huge pages (block_pool.c). */
#ifndef ARI_BLOCK_POOL_H
#define ARI_BLOCK_POOL_H
#include <stddef.h>

/* 1 when a block of `bytes` comes from the pool (else the caller allocates it itself). */
int block_pool_fits(size_t bytes);
/* A zero-filled block of `bytes` on a 64-byte line, or NULL (too big, or no memory). */
void *block_pool_alloc(size_t bytes);
/* Returns a block block_pool_alloc gave. */
void block_pool_free(void *p);

#endif

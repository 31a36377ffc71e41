/* A thread-safe pool of `count` fixed-size buffers carved from one allocation. Get and put are
 * lock-free (a Treiber stack of buffer indices whose head carries a version tag against ABA), so a
 * worker taking a buffer never waits on another thread. */
#ifndef WSC_MEM_POOL_H
#define WSC_MEM_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wsc__pool wsc__pool;

/* Creates a pool of count buffers of size bytes each (every buffer 64-byte aligned; from 16 KiB up,
 * half a page past a page boundary, as mem/iobuf.h explains). count may be 0:
 * then every get fails. size 0 is treated as 1. Returns NULL when out of memory or when
 * count * size overflows (count is limited to 2^32 - 2). Thread-safety: any thread. */
wsc__pool *wsc__pool_new(size_t count, size_t size);

/* Takes a free buffer (at least wsc__pool_buf_size bytes, contents undefined), or NULL when the pool
 * is drained. Thread-safety: any thread, lock-free. */
void *wsc__pool_get(wsc__pool *p);

/* Returns buf to the pool. buf must be a pointer wsc__pool_get returned from this pool and not put
 * back since (checked with assert in debug builds). Thread-safety: any thread, lock-free. */
void wsc__pool_put(wsc__pool *p, void *buf);

/* True when buf is one of this pool's buffers (the start of one, not any pointer inside).
 * Thread-safety: any thread (reads immutable fields only). p may be NULL: false. */
bool wsc__pool_owns(const wsc__pool *p, const void *buf);

/* The size passed to wsc__pool_new (0 for NULL p). Thread-safety: any thread. */
size_t wsc__pool_buf_size(const wsc__pool *p);

/* Buffers not currently taken (a snapshot; exact only when no other thread is using the pool).
 * Thread-safety: any thread. */
size_t wsc__pool_available(const wsc__pool *p);

/* Frees the pool and its buffers (all must have been put back, or no longer be used). NULL is fine.
 * Thread-safety: one thread, after every other use ended. */
void wsc__pool_free(wsc__pool *p);

#endif

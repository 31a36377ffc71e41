/* The server's read-buffer policy (websocket.zig's buffers config): a pool of small buffers (optional),
 * a pool of large buffers, and the heap as the fallback. Shared by all workers of one server. The
 * defaults (small_size 2048, large_pool 8, large_size min(2 * small_size, max_message_size)) are
 * decided by the server config; this layer takes the resolved values. */
#ifndef WSC_MEM_BUFFERS_H
#define WSC_MEM_BUFFERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsc__buffers wsc__buffers;

/* A buffer as a connection keeps it (16 bytes). data NULL means none. Where it came from (small pool,
 * large pool, heap) is found from the address when it is put back, so nothing else is stored. */
typedef struct {
    uint8_t *data;
    size_t cap;
} wsc__buf;

/* small_pool 0 disables the small pool (each connection then owns a dedicated small buffer, taken
 * from the heap by wsc__buffers_get). large_pool 0 disables the large pool. Returns NULL when out of
 * memory. Thread-safety: any thread. */
wsc__buffers *wsc__buffers_new(size_t small_pool, size_t small_size, size_t large_pool,
                               size_t large_size);

/* Gets a buffer of at least `size` bytes into *out:
 * - size <= small_size: a small pooled buffer (cap small_size) when the small pool is on and not
 *   drained; otherwise a heap buffer of small_size bytes (a dedicated buffer, so the large pool is
 *   kept for large messages);
 * - size <= large_size: a large pooled buffer (cap large_size) when one is free;
 * - otherwise (or when that pool is drained): a heap buffer of `size` bytes rounded up to 64.
 * Buffers of 16 KiB or more, pooled or not, start half a page past a page boundary (mem/iobuf.h).
 * Returns 0, or WSC_ENOMEM (then out->data is NULL). Thread-safety: any thread. */
int wsc__buffers_get(wsc__buffers *b, size_t size, wsc__buf *out);

/* Makes buf at least `size` bytes, keeping its first `keep` bytes (keep <= buf->cap). A buffer that
 * is big enough is left alone. Otherwise the bytes move to a buffer from the same policy as
 * wsc__buffers_get, except that a heap buffer that must grow grows by at least half its capacity, so
 * a message growing as its bytes arrive costs amortised O(n) copying (the caller caps `size` at its
 * message limit; the cap overshoots it by at most that half). buf->data NULL is fine (a plain get).
 * On failure buf is unchanged and WSC_ENOMEM is returned. Thread-safety: any thread (buf belongs to
 * the caller). */
int wsc__buffers_grow(wsc__buffers *b, wsc__buf *buf, size_t size, size_t keep);

/* Returns buf to its pool or frees it, and sets buf->data NULL and cap 0. A NULL data is a no-op.
 * Thread-safety: any thread. */
void wsc__buffers_put(wsc__buffers *b, wsc__buf *buf);

/* True when buf's memory belongs to one of the pools (false for heap buffers and NULL data): for tests
 * and statistics. Thread-safety: any thread. */
bool wsc__buffers_pooled(const wsc__buffers *b, const wsc__buf *buf);

size_t wsc__buffers_small_size(const wsc__buffers *b);
size_t wsc__buffers_large_size(const wsc__buffers *b);

/* Frees the pools. Every pooled buffer must have been put back. NULL is fine.
 * Thread-safety: one thread, after every other use ended. */
void wsc__buffers_free(wsc__buffers *b);

#endif

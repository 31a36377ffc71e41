/* The server's buffer policy. A buffer's origin is recovered from its address (wsc__pool_owns), so a
 * connection keeps only {data, cap}. */
#include "mem/buffers.h"

#include <stdlib.h>
#include <string.h>

#include "mem/iobuf.h"
#include "mem/pool.h"
#include "wsc.h"

struct wsc__buffers {
    wsc__pool *small; /* NULL: each connection owns a heap buffer of small_size */
    wsc__pool *large; /* NULL: large messages go to the heap */
    size_t small_size, large_size;
};

enum { HEAP_ROUND = 64 };

wsc__buffers *wsc__buffers_new(size_t small_pool, size_t small_size, size_t large_pool,
                               size_t large_size)
{
    wsc__buffers *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    b->small_size = small_size;
    b->large_size = large_size;
    if (small_pool && small_size) {
        b->small = wsc__pool_new(small_pool, small_size);
        if (!b->small)
            goto fail;
    }
    if (large_pool && large_size) {
        b->large = wsc__pool_new(large_pool, large_size);
        if (!b->large)
            goto fail;
    }
    return b;
fail:
    wsc__buffers_free(b);
    return NULL;
}

static bool pooled(const wsc__buffers *b, const void *p)
{
    return wsc__pool_owns(b->small, p) || wsc__pool_owns(b->large, p);
}

/* Moves the first keep bytes of buf into p[0..cap) and gives the old buffer back. */
static void replace(wsc__buffers *b, wsc__buf *buf, uint8_t *p, size_t cap, size_t keep)
{
    if (keep)
        memcpy(p, buf->data, keep);
    wsc__buffers_put(b, buf);
    buf->data = p;
    buf->cap = cap;
}

int wsc__buffers_grow(wsc__buffers *b, wsc__buf *buf, size_t size, size_t keep)
{
    uint8_t *p = NULL;
    size_t cap = 0, want;

    if (buf->data && buf->cap >= size)
        return 0;
    if (!buf->data)
        buf->cap = 0;
    if (keep > buf->cap)
        keep = buf->cap;

    if (size <= b->small_size) {
        if (b->small && (p = wsc__pool_get(b->small)))
            cap = b->small_size;
    } else if (size <= b->large_size && b->large) {
        if ((p = wsc__pool_get(b->large)))
            cap = b->large_size;
    }
    if (p) {
        replace(b, buf, p, cap, keep);
        return 0;
    }

    /* Heap. A small request gets a whole small buffer (the connection keeps it). A growing heap buffer
     * grows by at least half, so a message that arrives in many reads is copied O(n) times in total. */
    want = size <= b->small_size ? b->small_size : size;
    if (buf->cap + buf->cap / 2 > want)
        want = buf->cap + buf->cap / 2;
    if (want == 0)
        want = 1;
    if (want > SIZE_MAX - HEAP_ROUND)
        return WSC_ENOMEM;
    want = (want + HEAP_ROUND - 1) / HEAP_ROUND * HEAP_ROUND;
    if (buf->data && !pooled(b, buf->data)) {
        p = wsc__iobuf_resize(buf->data, buf->cap, keep, want);
        if (!p)
            return WSC_ENOMEM;
        buf->data = p;
        buf->cap = want;
    } else {
        p = wsc__iobuf_alloc(want);
        if (!p)
            return WSC_ENOMEM;
        replace(b, buf, p, want, keep);
    }
    return 0;
}

int wsc__buffers_get(wsc__buffers *b, size_t size, wsc__buf *out)
{
    out->data = NULL;
    out->cap = 0;
    return wsc__buffers_grow(b, out, size, 0);
}

void wsc__buffers_put(wsc__buffers *b, wsc__buf *buf)
{
    if (!buf->data)
        return;
    if (wsc__pool_owns(b->small, buf->data))
        wsc__pool_put(b->small, buf->data);
    else if (wsc__pool_owns(b->large, buf->data))
        wsc__pool_put(b->large, buf->data);
    else
        wsc__iobuf_free(buf->data, buf->cap);
    buf->data = NULL;
    buf->cap = 0;
}

bool wsc__buffers_pooled(const wsc__buffers *b, const wsc__buf *buf)
{
    return buf->data && pooled(b, buf->data);
}

size_t wsc__buffers_small_size(const wsc__buffers *b)
{
    return b->small_size;
}

size_t wsc__buffers_large_size(const wsc__buffers *b)
{
    return b->large_size;
}

void wsc__buffers_free(wsc__buffers *b)
{
    if (!b)
        return;
    wsc__pool_free(b->small);
    wsc__pool_free(b->large);
    free(b);
}

#include "mem/iobuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int placed(size_t cap)
{
    return cap >= WSC__IOBUF_PLACED_MIN;
}

void *wsc__iobuf_alloc(size_t cap)
{
    if (cap == 0)
        cap = 1;
    if (!placed(cap))
        return malloc(cap);
    if (cap > SIZE_MAX - WSC__IOBUF_PHASE)
        return NULL;
    void *base = NULL;
    if (posix_memalign(&base, WSC__IOBUF_PAGE, WSC__IOBUF_PHASE + cap) != 0)
        return NULL;
    return (uint8_t *)base + WSC__IOBUF_PHASE;
}

void wsc__iobuf_free(void *p, size_t cap)
{
    if (!p)
        return;
    free(placed(cap) ? (uint8_t *)p - WSC__IOBUF_PHASE : p);
}

void *wsc__iobuf_resize(void *p, size_t cap, size_t keep, size_t new_cap)
{
    if (new_cap == 0)
        new_cap = 1;
    /* realloc keeps a placed buffer's contents but not its page offset: those move by hand. */
    if (p && !placed(cap) && !placed(new_cap))
        return realloc(p, new_cap);
    uint8_t *q = wsc__iobuf_alloc(new_cap);
    if (!q)
        return NULL;
    if (keep)
        memcpy(q, p, keep);
    wsc__iobuf_free(p, cap);
    return q;
}

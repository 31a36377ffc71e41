/* The buffer provider: one pool of message buffers shared by many clients (websocket.zig's
 * bufferProvider). Clients take a buffer only for a message that outgrows their own read buffer,
 * and fall back to the heap when the message is bigger than the pooled buffers or the pool is
 * drained. */
#include <stdlib.h>

#include "client/client.h"

WSC_API wsc_buffer_provider *wsc_buffer_provider_new(size_t count, size_t size)
{
    if (size == 0)
        return NULL;
    wsc_buffer_provider *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pool = wsc__pool_new(count, size);
    if (!p->pool) {
        free(p);
        return NULL;
    }
    p->size = size;
    return p;
}

WSC_API void wsc_buffer_provider_free(wsc_buffer_provider *p)
{
    if (!p)
        return;
    wsc__pool_free(p->pool);
    free(p);
}

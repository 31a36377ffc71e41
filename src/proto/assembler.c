/* Message assembly (see assembler.h). */
#include "proto/assembler.h"

#include <string.h>

enum wsc__asm_result wsc__asm_add(size_t *have, const wsc__event *ev, const wsc__asm_store *st,
                                  uint8_t **data, size_t *len)
{
    if (ev->first) {
        *have = 0;
        if (ev->last) { /* whole in one chunk: no copy at all */
            *data = ev->data;
            *len = ev->len;
            return WSC__ASM_DONE;
        }
    }
    if (ev->len) {
        uint8_t *base = st->room(st->ctx, *have, *have + ev->len, ev->data);
        if (!base)
            return WSC__ASM_NOMEM;
        if (base + *have != ev->data)
            memmove(base + *have, ev->data, ev->len);
        *have += ev->len;
    }
    if (!ev->last)
        return WSC__ASM_MORE;
    *data = *have ? st->room(st->ctx, *have, *have, NULL) : NULL;
    *len = *have;
    *have = 0;
    return WSC__ASM_DONE;
}

/* Message assembly (see assembler.h). */
#include "proto/assembler.h"

#include <string.h>

#include "proto/utf8.h"

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

/* The inflater's sink over an assembler store: the compressed chunk is passed as the chunk, so a
   store never starts the message around it (the inflated bytes go elsewhere). */
typedef struct {
    const wsc__asm_store *st;
    const uint8_t *chunk;
} inflate_sink;

static uint8_t *inflate_room(void *ctx, size_t have, size_t need)
{
    inflate_sink *s = ctx;
    return s->st->room(s->st->ctx, have, need, s->chunk);
}

enum wsc__asm_result wsc__asm_add_compressed(size_t *have, const wsc__event *ev,
                                             const wsc__asm_store *st, wsc__inflater *f, size_t max,
                                             bool utf8, uint8_t **data, size_t *len)
{
    static const uint8_t none[1];
    if (ev->first)
        *have = 0;
    inflate_sink is = {st, ev->len ? ev->data : none};
    const wsc__pmd_sink sink = {inflate_room, &is};
    switch (wsc__inflate_chunk(f, ev->data, ev->len, ev->last, max, &sink, have)) {
    case WSC__INFL_OK:
        break;
    case WSC__INFL_TOO_BIG:
        return WSC__ASM_TOO_BIG;
    case WSC__INFL_CORRUPT:
        return WSC__ASM_INVALID;
    default:
        return WSC__ASM_NOMEM;
    }
    if (!ev->last)
        return WSC__ASM_MORE;
    *data = *have ? st->room(st->ctx, *have, *have, NULL) : NULL;
    *len = *have;
    *have = 0;
    /* RFC 7692 8: UTF-8 is checked on the inflated message (RFC 6455 8.1). */
    if (utf8 && ev->opcode == WSC__OP_TEXT && !wsc__utf8_valid(*data, *len))
        return WSC__ASM_INVALID;
    return WSC__ASM_DONE;
}

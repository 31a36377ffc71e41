/* A bounded output buffer for the handshake builders: writes what fits and
 * counts everything, so one pass yields either the message or the size needed.
 * Internal to src/proto/. */
#ifndef WSC_PROTO_HTTP_OUT_H
#define WSC_PROTO_HTTP_OUT_H

#include <stddef.h>
#include <string.h>

typedef struct {
    char *p;
    size_t cap;
    size_t len; /* bytes the message needs so far, may exceed cap */
} wsc__http_out;

static inline void wsc__out_mem(wsc__http_out *o, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (o->len <= o->cap && n <= o->cap - o->len)
        memcpy(o->p + o->len, s, n);
    o->len = n <= (size_t)-1 - o->len ? o->len + n : (size_t)-1;
}

static inline void wsc__out_str(wsc__http_out *o, const char *s)
{
    wsc__out_mem(o, s, strlen(s));
}

static inline void wsc__out_uint(wsc__http_out *o, size_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    wsc__out_mem(o, tmp + i, sizeof tmp - i);
}

/* 0, or WSC__HS_ENOSPC (-2) with *out_len the size needed. */
static inline int wsc__out_done(const wsc__http_out *o, size_t *out_len)
{
    *out_len = o->len;
    return o->len <= o->cap ? 0 : -2;
}

#endif

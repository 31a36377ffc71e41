/* The message writer (websocket.zig's writeBuffer): bytes accumulate in one buffer that grows
 * geometrically, and flush sends them as one message with wsc_conn_write. On an arena, growing leaves
 * the old buffer in the arena (freed with it); doubling keeps the total under twice the final size. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

struct wsc_writer {
    wsc_conn *conn;
    wsc_msg_type type;
    wsc_arena *arena; /* NULL: the writer and its buffer are on the heap */
    uint8_t *buf;
    size_t len, cap;
};

enum { WRITER_FIRST_CAP = 256 };

wsc_writer *wsc_writer_new(wsc_conn *conn, wsc_msg_type type, wsc_arena *arena)
{
    wsc_writer *w;

    if (!conn || (type != WSC_TEXT && type != WSC_BINARY))
        return NULL;
    w = arena ? wsc_arena_alloc(arena, sizeof *w) : malloc(sizeof *w);
    if (!w)
        return NULL;
    w->conn = conn;
    w->type = type;
    w->arena = arena;
    w->buf = NULL;
    w->len = 0;
    w->cap = 0;
    return w;
}

/* Makes room for `more` bytes after len. */
static int reserve(wsc_writer *w, size_t more)
{
    size_t need, cap;
    uint8_t *p;

    if (more > SIZE_MAX - w->len)
        return WSC_ENOMEM;
    need = w->len + more;
    if (need <= w->cap)
        return 0;
    cap = w->cap ? w->cap : WRITER_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (w->arena) {
        p = wsc_arena_alloc(w->arena, cap);
        if (!p)
            return WSC_ENOMEM;
        if (w->len)
            memcpy(p, w->buf, w->len);
    } else {
        p = realloc(w->buf, cap);
        if (!p)
            return WSC_ENOMEM;
    }
    w->buf = p;
    w->cap = cap;
    return 0;
}

int wsc_writer_write(wsc_writer *w, const void *data, size_t len)
{
    int rc;

    if (!w || (!data && len))
        return WSC_EINVAL;
    if (!len)
        return 0;
    if ((rc = reserve(w, len)))
        return rc;
    memcpy(w->buf + w->len, data, len);
    w->len += len;
    return 0;
}

int wsc_writer_vprintf(wsc_writer *w, const char *fmt, va_list ap)
{
    va_list again;
    int n, rc;

    if (!w || !fmt)
        return WSC_EINVAL;
    /* Try in the room left; only when it does not fit, grow to the exact size and format again. */
    va_copy(again, ap);
    n = vsnprintf(w->cap ? (char *)w->buf + w->len : NULL, w->cap - w->len, fmt, ap);
    if (n < 0) {
        va_end(again);
        return WSC_EINVAL;
    }
    if ((size_t)n >= w->cap - w->len) {
        /* +1: vsnprintf always writes a terminating NUL, which is not part of the message. */
        if ((rc = reserve(w, (size_t)n + 1))) {
            va_end(again);
            return rc;
        }
        vsnprintf((char *)w->buf + w->len, w->cap - w->len, fmt, again);
    }
    va_end(again);
    w->len += (size_t)n;
    return 0;
}

int wsc_writer_printf(wsc_writer *w, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = wsc_writer_vprintf(w, fmt, ap);
    va_end(ap);
    return rc;
}

size_t wsc_writer_len(const wsc_writer *w)
{
    return w ? w->len : 0;
}

int wsc_writer_flush(wsc_writer *w)
{
    int rc;

    if (!w)
        return WSC_EINVAL;
    rc = wsc_conn_write(w->conn, w->type, w->buf, w->len);
    /* Emptied whatever the result: a failed write means the connection is closing, and the same
     * bytes must not be sent again as part of a later message. */
    w->len = 0;
    return rc;
}

void wsc_writer_free(wsc_writer *w)
{
    if (!w || w->arena)
        return;
    free(w->buf);
    free(w);
}

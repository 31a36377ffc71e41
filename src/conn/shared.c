/* Shared frames and queue segments (see shared.h). */
#include "conn/shared.h"

#include <stdlib.h>
#include <string.h>

#include "conn/conn.h"
#include "proto/frame.h"

wsc__shared *wsc__shared_new(const uint8_t *hdr, size_t hl, const void *p, size_t len)
{
    if (len > UINT32_MAX - hl)
        return NULL;
    wsc__shared *f = malloc(sizeof *f + hl + len);
    if (!f)
        return NULL;
    atomic_init(&f->refs, 1);
    f->len = (uint32_t)(hl + len);
    memcpy(f->data, hdr, hl);
    if (len)
        memcpy(f->data + hl, p, len);
    return f;
}

wsc__shared *wsc__shared_frame(wsc_msg_type type, const void *data, size_t len)
{
    uint8_t hdr[WSC__FRAME_HEADER_MAX];
    size_t hl = wsc__frame_header_build(hdr, (unsigned)type, true, false, len, NULL);
    return wsc__shared_new(hdr, hl, data, len);
}

void wsc__shared_ref(wsc__shared *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void wsc__shared_unref(wsc__shared *f)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1)
        free(f);
}

/* Shared pieces up to this long are copied (a node would cost more); own bytes go in segments of
   at least OWN_MIN bytes, so that small writes share one. */
enum { REF_MIN = 64, OWN_MIN = 512 };

bool wsc__segs_append(wsc_conn *c, wsc__shared *f, const uint8_t *p, size_t len)
{
    if (len == 0)
        return true;
    if (len > UINT32_MAX)
        return false;
    bool ref = f && p >= f->data && p + len <= f->data + f->len && len > REF_MIN;
    struct wsc__seg *t = c->seg_tail;
    if (!ref && t && !t->f && t->cap - t->len >= len) {
        memcpy(t->data + t->len, p, len);
        t->len += (uint32_t)len;
        c->seg_bytes += len;
        return true;
    }
    size_t cap = ref ? 0 : len > OWN_MIN ? len : OWN_MIN;
    struct wsc__seg *s = malloc(sizeof *s + cap);
    if (!s)
        return false;
    s->next = NULL;
    s->cap = (uint32_t)cap;
    if (ref) {
        wsc__shared_ref(f);
        s->f = f;
        s->off = (uint32_t)(p - f->data);
        s->len = s->off + (uint32_t)len;
    } else {
        s->f = NULL;
        s->off = 0;
        s->len = (uint32_t)len;
        memcpy(s->data, p, len);
    }
    if (t)
        t->next = s;
    else
        c->seg_head = s;
    c->seg_tail = s;
    c->seg_bytes += len;
    return true;
}

int wsc__segs_iov(const wsc_conn *c, struct iovec *v, int max, size_t *bytes)
{
    int k = 0;
    *bytes = 0;
    for (const struct wsc__seg *s = c->seg_head; s && k < max; s = s->next) {
        const uint8_t *base = s->f ? s->f->data : s->data;
        v[k].iov_base = (void *)(base + s->off);
        v[k].iov_len = s->len - s->off;
        *bytes += v[k++].iov_len;
    }
    return k;
}

static void seg_free(struct wsc__seg *s)
{
    if (s->f)
        wsc__shared_unref(s->f);
    free(s);
}

void wsc__segs_consume(wsc_conn *c, size_t n)
{
    c->seg_bytes -= n;
    while (n) {
        struct wsc__seg *s = c->seg_head;
        size_t left = s->len - s->off;
        if (n < left) {
            s->off += (uint32_t)n;
            return;
        }
        n -= left;
        c->seg_head = s->next;
        if (!c->seg_head)
            c->seg_tail = NULL;
        seg_free(s);
    }
}

void wsc__segs_drop(wsc_conn *c)
{
    while (c->seg_head) {
        struct wsc__seg *s = c->seg_head;
        c->seg_head = s->next;
        seg_free(s);
    }
    c->seg_tail = NULL;
    c->seg_bytes = 0;
}

/* The loop context (loop.h): its lists, inbox, graveyard and buffers. */
#include <stdlib.h>
#include <string.h>

#include "conn/conn.h"
#include "conn/hs.h"
#include "io/poller.h"
#include "mem/iobuf.h"

WSC__THREAD_LOCAL wsc__wctx *wsc__tl_wctx;

void wsc__wctx_wake(wsc__wctx *w)
{
    /* A busy loop finds its entries at the end of its iteration: only a sleeping one needs the
       wake-up write (one syscall saved per message under load). Pairs with wsc__wctx_may_sleep:
       the loop publishes `sleeping` then looks at the inbox, posters publish the entry then look at
       `sleeping` (both sequentially consistent), so one of them sees the other. The exchange makes
       one waker of many pay for the write. */
    if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst) &&
        atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst))
        wsc__wakefd_signal(w->wake_fd);
}

bool wsc__wctx_may_sleep(wsc__wctx *w)
{
    atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&w->inbox, memory_order_seq_cst)) {
        atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
        return false;
    }
    return true;
}

static void drop_from(wsc_conn **list, size_t *n, wsc_conn *c)
{
    for (size_t i = 0; i < *n; i++) {
        if (list[i] == c) {
            list[i] = list[--*n];
            return;
        }
    }
}

static bool push(wsc_conn ***list, size_t *n, size_t *cap, wsc_conn *c)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        wsc_conn **nl = realloc(*list, nc * sizeof *nl);
        if (!nl)
            return false;
        *list = nl;
        *cap = nc;
    }
    (*list)[(*n)++] = c;
    return true;
}

bool wsc__wctx_add(wsc__wctx *w, wsc_conn *c)
{
    c->slot = (uint32_t)w->nconns;
    return push(&w->conns, &w->nconns, &w->conns_cap, c);
}

void wsc__wctx_ready(wsc__wctx *w, wsc_conn *c)
{
    if (w->blocking || (c->flags & WSC__F_IN_READY))
        return;
    if (push(&w->ready, &w->nready, &w->ready_cap, c))
        c->flags |= WSC__F_IN_READY;
}

bool wsc__wctx_stall(wsc__wctx *w, wsc_conn *c)
{
    if (!push(&w->stall, &w->nstall, &w->stall_cap, c))
        return false;
    c->flags |= WSC__F_STALLED;
    w->stalled = true;
    return true;
}

void wsc__wctx_unstall(wsc__wctx *w, wsc_conn *c)
{
    c->flags &= (uint16_t)~WSC__F_STALLED;
    drop_from(w->stall, &w->nstall, c);
    if (w->nstall == 0)
        w->stalled = false;
}

bool wsc__wctx_flush_list(wsc__wctx *w, wsc_conn *c)
{
    if (wsc__wctx_flush_list_fast(w, c))
        return true;
    if (!push(&w->flush, &w->nflush, &w->flush_cap, c))
        return false;
    c->flags |= WSC__F_IN_FLUSH;
    return true;
}

void wsc__wctx_remove(wsc__wctx *w, wsc_conn *c)
{
    size_t i = c->slot;
    if (i < w->nconns && w->conns[i] == c) {
        w->conns[i] = w->conns[--w->nconns];
        w->conns[i]->slot = (uint32_t)i;
    }
    if (c->flags & WSC__F_IN_READY)
        drop_from(w->ready, &w->nready, c);
    if (c->flags & WSC__F_STALLED)
        drop_from(w->stall, &w->nstall, c);
    /* It may stay in the flush list (with no span): the flush runs before the graveyard. */
    c->flags &= (uint16_t)~(WSC__F_IN_READY | WSC__F_STALLED);
    /* Freed (the loop's reference dropped) at the end of the iteration: events of this batch may
       still point at it. */
    c->job_next = w->grave;
    w->grave = c;
}

void wsc__wctx_bury(wsc__wctx *w)
{
    wsc_conn *c = w->grave;
    w->grave = NULL;
    while (c) {
        wsc_conn *next = c->job_next;
        wsc__conn_unref(c);
        c = next;
    }
}

void wsc__wctx_inbox(wsc__wctx *w, bool drain)
{
    if (drain)
        wsc__wakefd_drain(w->wake_fd);
    if (!atomic_load_explicit(&w->inbox, memory_order_relaxed))
        return;
    wsc_conn *list = atomic_exchange_explicit(&w->inbox, NULL, memory_order_acquire);
    wsc_conn *fifo = NULL;
    /* The inbox is a stack: reverse it so requests are served in arrival order. */
    while (list) {
        wsc_conn *next = list->inbox_next;
        list->inbox_next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        wsc_conn *c = fifo;
        /* Read the link before clearing req: once req is 0 another thread may push c again. */
        fifo = c->inbox_next;
        uint32_t bits = atomic_exchange_explicit(&c->req, 0, memory_order_acq_rel);
        if (c->state != WSC__ST_DONE) {
            /* The loop read nothing while the callback ran, however long: the peer's silence is
               counted again from its hand-back. */
            if (bits & WSC__REQ_DONE)
                wsc__conn_heard(c);
            wsc__conn_on_request(c, bits);
        }
        wsc__conn_unref(c);
    }
}

int wsc__wctx_init(wsc__wctx *w, wsc__ctx *ctx, bool blocking, size_t rbuf_size, size_t obuf_size,
                   size_t arena_size)
{
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->blocking = blocking;
    w->wake_fd = -1;
    w->poll_fd = -1;
    w->deferred_fd = -1;
    atomic_init(&w->inbox, NULL);
    atomic_init(&w->sleeping, 0);
    w->rbuf_cap = rbuf_size;
    w->rbuf = wsc__iobuf_alloc(rbuf_size);
    w->obuf_cap = obuf_size;
    w->obuf = obuf_size ? wsc__iobuf_alloc(obuf_size) : NULL;
    if (!w->rbuf || (obuf_size && !w->obuf)) {
        wsc__iobuf_free(w->rbuf, w->rbuf_cap);
        wsc__iobuf_free(w->obuf, w->obuf_cap);
        return WSC_ENOMEM;
    }
    wsc__arena_init(&w->arena, arena_size);
    if (ctx->hs_pool && !ctx->submit && !(w->scratch = wsc__hs_scratch_new(ctx->hs_pool))) {
        wsc__iobuf_free(w->rbuf, w->rbuf_cap);
        wsc__iobuf_free(w->obuf, w->obuf_cap);
        return WSC_ENOMEM;
    }
    /* Blocking mode has one connection per loop: nothing to share. */
    if (!blocking && ctx->pmd.shared && !(w->pmd_shared = wsc__pmd_shared_new(ctx->pmd.level))) {
        wsc__hs_scratch_free(w->scratch);
        wsc__iobuf_free(w->rbuf, w->rbuf_cap);
        wsc__iobuf_free(w->obuf, w->obuf_cap);
        return WSC_ENOMEM;
    }
    return 0;
}

uint8_t *wsc__wctx_take_spare(wsc__wctx *w)
{
    return w->nspare ? w->spare[--w->nspare] : wsc__iobuf_alloc(w->rbuf_cap);
}

bool wsc__wctx_keep_spare(wsc__wctx *w, wsc__buf *buf)
{
    if (buf->cap != w->rbuf_cap)
        return false;
    size_t limit = WSC__SPARE_BYTES / w->rbuf_cap;
    if (limit > WSC__SPARE_RBUFS)
        limit = WSC__SPARE_RBUFS;
    if (w->nspare >= (limit ? limit : 1) || wsc__buffers_pooled(w->ctx->bufs, buf))
        return false;
    w->spare[w->nspare++] = buf->data;
    buf->data = NULL;
    buf->cap = 0;
    return true;
}

void wsc__wctx_destroy(wsc__wctx *w)
{
    while (w->nspare)
        wsc__iobuf_free(w->spare[--w->nspare], w->rbuf_cap);
    wsc__iobuf_free(w->rbuf, w->rbuf_cap);
    wsc__iobuf_free(w->obuf, w->obuf_cap);
    free(w->flush);
    free(w->ready);
    free(w->conns);
    free(w->stall);
    wsc__arena_destroy(&w->arena);
    wsc__hs_scratch_free(w->scratch);
    w->scratch = NULL;
    wsc__pmd_shared_free(w->pmd_shared);
    w->pmd_shared = NULL;
    w->rbuf = w->obuf = NULL;
}

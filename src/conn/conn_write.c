/* The write side of a connection: frames from any thread, in order per thread, never blocking a
 * worker loop.
 *
 * - On the connection's own worker (inline handlers, automatic pongs), a frame is appended to the
 *   worker's output buffer (the connection's "span"), and every span is sent with one sendmsg per
 *   connection at the end of the loop iteration: pipelined requests cost one write, and no lock is
 *   taken per message.
 * - From any other thread, the frame goes straight to the socket when nothing is queued (under the
 *   connection's lock, so frames never interleave), and what the socket does not take is queued.
 * - The queue is flushed by the worker when the socket becomes writable again (the edge that
 *   follows EAGAIN).
 * - A write is accepted whole (sent, queued, or put in a span or batch that will be) or refused
 *   whole with nothing of it sent. It is refused when more than max_buffered bytes are queued
 *   already: a peer that stopped reading gets close 1008 instead of unbounded memory, while one
 *   message larger than the cap still goes to a peer that reads. The span and batch paths take no
 *   lock, so they look at the atomic `full` instead; what they accepted is never refused later.
 *   Once the queue passed the cap (or refused a write), the drain callback runs when it falls
 *   below half of it.
 * In blocking mode (a thread per connection) the same holds: the connection's thread polls its
 * socket, and a write that has to queue wakes it so that it flushes when the socket is writable. */
#include "conn/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn/shared.h"
#include "conn/sock.h"
#include "io/poller.h"
#include "proto/close.h"
#include "proto/frame.h"
#include "proto/utf8.h"

enum { IOV_MAX_LOCAL = 4, IOV_SEGS = 16, BATCH_CAP = 65536 };

/* A pool thread's gathered writes to the connection whose callbacks it runs (see batch_begin). */
static WSC__THREAD_LOCAL struct {
    wsc_conn *c;
    uint8_t *buf;
    size_t len;
} tl_batch;

static bool on_loop(const wsc_conn *c)
{
    return wsc__tl_wctx == c->w && !c->w->blocking;
}

/* Caller holds the lock: bytes queued, in `out` and in segments behind it (shared.h). */
static inline size_t queued_locked(const wsc_conn *c)
{
    return c->out_len - c->out_off + c->seg_bytes;
}

/* Caller holds the lock. Once the close frame is out, the write side is shut: the peer sees our
   FIN right after it, and nothing may follow a close frame anyway (section 5.5.1). */
static void after_drain(wsc_conn *c)
{
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) != WSC__W_OPEN &&
        !(c->wflags & WSC__WF_SHUT) && c->fd >= 0) {
        wsc__conn_shut_write(c);
        c->wflags |= WSC__WF_SHUT;
    }
}

/* Writes as much of v[0..k) (total bytes) as the socket takes now (all of it for the test helpers'
   blocking socket).
   Returns the bytes written; a hard error marks the socket broken. */
static size_t send_iov(wsc_conn *c, struct iovec *v, int k, size_t total)
{
    size_t sent = 0;
    if (c->fd < 0 || (c->wflags & WSC__WF_BROKEN))
        return 0;
    while (sent < total) {
        ssize_t n;
        if (k == 1) {
            /* The common case (one frame, or a span of them): send() skips copying in a
               msghdr and an iovec array. */
            n = wsc__conn_send(c, v[0].iov_base, v[0].iov_len);
        } else {
            n = wsc__conn_sendmsg(c, v, k);
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                c->wflags |= WSC__WF_BROKEN;
            return sent;
        }
        sent += (size_t)n;
        if (sent == total || !c->w->sync_writes)
            return sent; /* non-blocking: a short write means the socket buffer is full */
        size_t skip = (size_t)n;
        while (k > 0 && skip >= v[0].iov_len) {
            skip -= v[0].iov_len;
            v++;
            k--;
        }
        if (k > 0) {
            v[0].iov_base = (uint8_t *)v[0].iov_base + skip;
            v[0].iov_len -= skip;
        }
    }
    return sent;
}

/* Appends v[0..k) minus its first `skip` bytes to the queue. Behind segments, and for a shared
   frame sh, as segments (sh's bytes by reference). */
static bool queue_append(wsc_conn *c, const struct iovec *v, int k, size_t total, size_t skip,
                         wsc__shared *sh)
{
    size_t add = total - skip;
    size_t queued = c->out_len - c->out_off;
    if (add == 0)
        return true;
    if (sh || c->seg_head) {
        for (int i = 0; i < k; i++) {
            if (skip >= v[i].iov_len) {
                skip -= v[i].iov_len;
                continue;
            }
            if (!wsc__segs_append(c, sh, (const uint8_t *)v[i].iov_base + skip,
                                  v[i].iov_len - skip))
                return false;
            skip = 0;
        }
        return true;
    }
    if (queued + add > UINT32_MAX)
        return false;
    if (c->out_off && c->out.cap - c->out_len < add) {
        memmove(c->out.data, c->out.data + c->out_off, queued);
        c->out_off = 0;
        c->out_len = (uint32_t)queued;
    }
    if (c->out_len + add > c->out.cap &&
        wsc__buffers_grow(c->w->ctx->bufs, &c->out, c->out_len + add, c->out_len) != 0)
        return false;
    uint8_t *dst = c->out.data + c->out_len;
    for (int i = 0; i < k; i++) {
        size_t len = v[i].iov_len;
        const uint8_t *src = v[i].iov_base;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        memcpy(dst, src + skip, len - skip);
        dst += len - skip;
        skip = 0;
    }
    c->out_len += (uint32_t)add;
    return true;
}

/* Caller holds the lock: the queue's length changed. Publishes whether it is over the cap, and owes
   the drain callback when it is. */
static void queue_changed(wsc_conn *c)
{
    bool over = queued_locked(c) > c->w->ctx->max_buffered;
    if (over)
        c->wflags |= WSC__WF_DRAIN;
    if (atomic_load_explicit(&c->full, memory_order_relaxed) != over)
        atomic_store_explicit(&c->full, over, memory_order_relaxed);
}

static int out_locked(wsc_conn *c, bool with_span, const struct iovec *iov, int n, int accepted,
                      bool *overflow, wsc__shared *sh)
{
    struct iovec v[IOV_MAX_LOCAL];
    int k = 0;
    size_t total = 0, fresh = 0, sent = 0;

    for (int i = accepted; i < n; i++)
        fresh += iov[i].iov_len;
    if (fresh && queued_locked(c) > c->w->ctx->max_buffered) {
        /* Refused whole: what was accepted before still goes, in its order. */
        c->wflags |= WSC__WF_DRAIN;
        if (overflow)
            *overflow = true;
        int rc = out_locked(c, with_span, iov, accepted, accepted, NULL, NULL);
        return rc ? rc : WSC_EFULL;
    }
    if (with_span && c->span_len) {
        v[k].iov_base = c->w->obuf + c->span_off;
        v[k++].iov_len = c->span_len;
        c->span_len = 0;
    }
    for (int i = 0; i < n && k < IOV_MAX_LOCAL; i++)
        if (iov[i].iov_len)
            v[k++] = iov[i];
    for (int i = 0; i < k; i++)
        total += v[i].iov_len;
    if (total == 0)
        return 0;
    if (c->wflags & WSC__WF_BROKEN)
        return WSC_ECLOSED;

    size_t queued = queued_locked(c);
    if (queued == 0) {
        struct iovec tmp[IOV_MAX_LOCAL];
        memcpy(tmp, v, sizeof v[0] * (size_t)k);
        sent = send_iov(c, tmp, k, total);
        if (c->wflags & WSC__WF_BROKEN)
            return WSC_ECLOSED;
        if (sent == total) {
            after_drain(c);
            return 0;
        }
    }
    /* What the socket did not take keeps its order in the queue (a partly sent frame must be
       completed before anything else). */
    if (!queue_append(c, v, k, total, sent, sh)) {
        c->wflags |= WSC__WF_BROKEN; /* out of memory: the stream cannot stay consistent */
        return WSC_ECLOSED;
    }
    /* A connection's own thread polls for writability only while something is queued: tell it.
       Under the lock, so the descriptor is still open (the thread closes it after CLOSED). */
    if (queued == 0 && c->w->blocking && c->w->wake_fd >= 0)
        wsc__wakefd_signal(c->w->wake_fd);
    queue_changed(c);
    return 0;
}

int wsc__conn_out_locked(wsc_conn *c, bool with_span, const struct iovec *iov, int n, int accepted,
                         bool *overflow)
{
    return out_locked(c, with_span, iov, n, accepted, overflow, NULL);
}

size_t wsc__conn_queued(wsc_conn *c)
{
    wsc__lock_acquire(&c->lock);
    size_t n = queued_locked(c);
    wsc__lock_release(&c->lock);
    return n;
}

bool wsc__conn_sent_all(wsc_conn *c)
{
    wsc__lock_acquire(&c->lock);
    bool done = queued_locked(c) == 0 || c->fd < 0 || (c->wflags & WSC__WF_BROKEN);
    wsc__lock_release(&c->lock);
    return done;
}

size_t wsc_conn_buffered(const wsc_conn *c)
{
    return c ? wsc__conn_queued((wsc_conn *)c) : 0;
}

/* Caller holds the lock: the queue hit max_buffered. Close with 1008 (the frame queues behind the
   rest and likely never leaves: the close timeout then drops the connection). */
static void overflow_locked(wsc_conn *c)
{
    uint8_t f[4] = {0x88, 2, WSC_CLOSE_POLICY >> 8, WSC_CLOSE_POLICY & 0xff};
    struct iovec v = {f, sizeof f};
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) != WSC__W_OPEN)
        return;
    atomic_store_explicit(&c->wstate, WSC__W_CLOSING, memory_order_release);
    if (c->w->blocking && c->w->wake_fd >= 0)
        wsc__wakefd_signal(c->w->wake_fd);
    wsc__conn_out_locked(c, false, &v, 1, 1, NULL);
}

static void after_close(wsc_conn *c)
{
    if (wsc__tl_wctx == c->w)
        wsc__conn_sync_state(c);
    else
        wsc__conn_request(c, WSC__REQ_CLOSE);
}

/* Caller holds the lock. The usual flush: the connection open, nothing queued, and the socket takes
   the whole span. True when that is how it went; otherwise nothing was sent and the general path
   must run (a partial send advances the span first). */
static bool flush_span_whole(wsc_conn *c)
{
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) != WSC__W_OPEN ||
        queued_locked(c) || (c->wflags & WSC__WF_BROKEN) || c->fd < 0 ||
        c->w->sync_writes)
        return false;
    ssize_t n = wsc__conn_send(c, c->w->obuf + c->span_off, c->span_len);
    if (n == (ssize_t)c->span_len) {
        c->span_len = 0;
        return true;
    }
    if (n > 0) {
        c->span_off += (uint32_t)n;
        c->span_len -= (uint32_t)n;
    }
    return false;
}

void wsc__conn_flush_span(wsc_conn *c)
{
    if (!c->span_len)
        return;
    wsc__lock_acquire(&c->lock);
    if (flush_span_whole(c)) {
        wsc__lock_release(&c->lock);
        return;
    }
    /* The span's frames were accepted when they were written: they go, whatever the queue. */
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) == WSC__W_OPEN)
        wsc__conn_out_locked(c, true, NULL, 0, 0, NULL);
    else
        c->span_len = 0; /* a close frame went out from another thread: nothing may follow it */
    wsc__lock_release(&c->lock);
}

void wsc__wctx_flush(wsc__wctx *w)
{
    /* Connections forgotten during this iteration are still allocated (freed after the flush),
       and finished ones have no span. */
    for (size_t i = 0; i < w->nflush; i++) {
        wsc_conn *c = w->flush[i];
        c->flags &= (uint16_t)~WSC__F_IN_FLUSH;
        wsc__conn_flush_span(c);
    }
    w->nflush = 0;
    w->obuf_len = 0;
}

/* Room for n more bytes at the end of the connection's span in the loop's output buffer (n <=
   WSC__SPAN_FRAME_MAX); NULL when out of memory. */
static uint8_t *span_reserve_slow(wsc_conn *c, size_t n)
{
    wsc__wctx *w = c->w;
    /* A connection has one contiguous span: if others wrote since, send ours first. */
    if (c->span_len && c->span_off + c->span_len != w->obuf_len)
        wsc__conn_flush_span(c);
    if (w->obuf_cap - w->obuf_len < n)
        wsc__wctx_flush(w);
    if (!c->span_len) {
        if (!wsc__wctx_flush_list(w, c))
            return NULL;
        c->span_off = (uint32_t)w->obuf_len;
    }
    uint8_t *dst = w->obuf + w->obuf_len;
    w->obuf_len += n;
    c->span_len += (uint32_t)n;
    return dst;
}

/* The common cases, with no call: there is room in the output buffer, and the connection's span is
   the last one, or it has none yet and is on the flush list or fits on it. NULL otherwise. */
static inline uint8_t *span_reserve_fast(wsc_conn *c, size_t n)
{
    wsc__wctx *w = c->w;
    if (w->obuf_cap - w->obuf_len < n)
        return NULL;
    if (!c->span_len) {
        if (!wsc__wctx_flush_list_fast(w, c))
            return NULL;
        c->span_off = (uint32_t)w->obuf_len;
    } else if (c->span_off + c->span_len != w->obuf_len) {
        return NULL;
    }
    uint8_t *dst = w->obuf + w->obuf_len;
    w->obuf_len += n;
    c->span_len += (uint32_t)n;
    return dst;
}

static inline uint8_t *span_reserve(wsc_conn *c, size_t n)
{
    uint8_t *dst = span_reserve_fast(c, n);
    return dst ? dst : span_reserve_slow(c, n);
}

enum { SMALL_COPY_MAX = 32 };

/* Copies n bytes (w <= n <= 2 * w, w a constant) as the first and the last w, overlapping in the
   middle: a few loads and stores once inlined. Both ends are loaded before either is stored. */
__attribute__((always_inline)) static inline void copy_ends(uint8_t *dst, const uint8_t *src,
                                                            size_t n, size_t w)
{
    uint8_t head[16], tail[16];
    memcpy(head, src, w);
    memcpy(tail, src + n - w, w);
    memcpy(dst, head, w);
    memcpy(dst + n - w, tail, w);
}

/* memcpy for n <= SMALL_COPY_MAX, without a call. */
static inline void copy_small(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n >= 16)
        copy_ends(dst, src, n, 16);
    else if (n >= 8)
        copy_ends(dst, src, n, 8);
    else if (n >= 4)
        copy_ends(dst, src, n, 4);
    else if (n > 0) {
        copy_ends(dst, src, n, 1);
        dst[n / 2] = src[n / 2];
    }
}

static int span_append(wsc_conn *c, const uint8_t *hdr, size_t hl, const void *data, size_t len)
{
    uint8_t *dst = span_reserve(c, hl + len);
    if (!dst)
        return WSC_ENOMEM;
    if (hl)
        memcpy(dst, hdr, hl);
    if (len)
        memcpy(dst + hl, data, len);
    return 0;
}

/* Sends this thread's gathered frames (if any) then hdr and data, under the lock; sh: the shared
   frame that data lies in (queued by reference, shared.h), or NULL. */
static int send_locked_sh(wsc_conn *c, bool mine, const uint8_t *hdr, size_t hl, const void *data,
                          size_t len, wsc__shared *sh)
{
    struct iovec iov[3];
    int n = 0;
    bool ovf = false, batch = tl_batch.c == c && tl_batch.len;
    if (batch)
        iov[n++] = (struct iovec){tl_batch.buf, tl_batch.len};
    int accepted = n; /* this thread's batch was accepted write by write */
    iov[n++] = (struct iovec){(void *)hdr, hl};
    iov[n++] = (struct iovec){(void *)data, len};
    wsc__lock_acquire(&c->lock);
    int rc = WSC_ECLOSED;
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) == WSC__W_OPEN)
        rc = out_locked(c, mine, iov, n, accepted, &ovf, sh);
    if (ovf)
        overflow_locked(c);
    wsc__lock_release(&c->lock);
    if (batch)
        tl_batch.len = 0;
    if (ovf)
        after_close(c);
    return rc;
}

static int send_locked(wsc_conn *c, bool mine, const uint8_t *hdr, size_t hl, const void *data,
                       size_t len)
{
    return send_locked_sh(c, mine, hdr, hl, data, len, NULL);
}

/* True when n bytes written by this thread go into the connection's span: the loop's own thread,
   after the handshake, a frame small enough to copy, and a queue within max_buffered (else the
   locked path decides). */
static inline bool goes_to_span(const wsc_conn *c, size_t n)
{
    return n <= WSC__SPAN_FRAME_MAX && on_loop(c) && c->state != WSC__ST_HS &&
           !atomic_load_explicit(&c->full, memory_order_relaxed);
}

static int write_bytes(wsc_conn *c, const uint8_t *hdr, size_t hl, const void *data, size_t len)
{
    if (atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN)
        return WSC_ECLOSED;
    if (goes_to_span(c, hl + len))
        return span_append(c, hdr, hl, data, len);
    bool mine = on_loop(c);
    if (tl_batch.c == c && hl + len <= WSC__SPAN_FRAME_MAX &&
        !atomic_load_explicit(&c->full, memory_order_relaxed)) {
        if (BATCH_CAP - tl_batch.len < hl + len)
            send_locked(c, false, NULL, 0, NULL, 0);
        if (hl)
            memcpy(tl_batch.buf + tl_batch.len, hdr, hl);
        if (len)
            memcpy(tl_batch.buf + tl_batch.len + hl, data, len);
        tl_batch.len += hl + len;
        return 0;
    }
    return send_locked(c, mine, hdr, hl, data, len);
}

int wsc__conn_write_shared(wsc_conn *c, wsc__shared *f)
{
    if (atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN)
        return WSC_ECLOSED;
    /* As any write too large for the span: this thread's span or batch goes first. */
    return send_locked_sh(c, on_loop(c), NULL, 0, f->data, f->len, f);
}

void wsc__batch_begin(wsc_conn *c)
{
    if (!tl_batch.buf && !(tl_batch.buf = malloc(BATCH_CAP)))
        return; /* no batching: every write goes out at once */
    tl_batch.c = c;
    tl_batch.len = 0;
}

void wsc__batch_end(wsc_conn *c)
{
    if (tl_batch.c != c)
        return;
    if (tl_batch.len)
        send_locked(c, false, NULL, 0, NULL, 0);
    tl_batch.c = NULL;
}

void wsc__batch_free(void)
{
    free(tl_batch.buf);
    tl_batch.buf = NULL;
    tl_batch.c = NULL;
}

int wsc__conn_send_raw(wsc_conn *c, const void *data, size_t len)
{
    struct iovec v = {(void *)data, len};
    wsc__lock_acquire(&c->lock);
    int rc = WSC_ECLOSED;
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) == WSC__W_OPEN)
        rc = wsc__conn_out_locked(c, on_loop(c), &v, 1, 1, NULL);
    wsc__lock_release(&c->lock);
    return rc;
}

void wsc__conn_shut_if_drained(wsc_conn *c)
{
    wsc__lock_acquire(&c->lock);
    if (queued_locked(c) == 0)
        after_drain(c);
    wsc__lock_release(&c->lock);
}

/* Caller holds the lock and `out` is empty: sends the segments behind it, as far as the socket
   takes them. */
static void flush_segs(wsc_conn *c)
{
    struct iovec v[IOV_SEGS];
    while (c->seg_head && !(c->wflags & WSC__WF_BROKEN)) {
        size_t bytes;
        int k = wsc__segs_iov(c, v, IOV_SEGS, &bytes);
        size_t sent = send_iov(c, v, k, bytes);
        wsc__segs_consume(c, sent);
        if (sent < bytes)
            return;
    }
}

void wsc__conn_on_writable(wsc_conn *c)
{
    bool drained = false;
    wsc__lock_acquire(&c->lock);
    size_t queued = c->out_len - c->out_off;
    if (queued_locked(c)) {
        if (queued) {
            struct iovec v = {c->out.data + c->out_off, queued};
            size_t sent = send_iov(c, &v, 1, queued);
            c->out_off += (uint32_t)sent;
        }
        if (c->out_off == c->out_len) {
            /* Idle connections hold no queue memory (a big buffer stays a moment for reuse). */
            c->out_off = c->out_len = 0;
            if (c->out.data && !wsc__conn_keep(c, &c->out))
                wsc__buffers_put(c->w->ctx->bufs, &c->out);
            flush_segs(c);
            if (!c->seg_head)
                after_drain(c);
        }
        queue_changed(c);
        if ((c->wflags & WSC__WF_DRAIN) && queued_locked(c) < c->w->ctx->max_buffered / 2) {
            c->wflags &= (uint8_t)~WSC__WF_DRAIN;
            drained = atomic_load_explicit(&c->wstate, memory_order_relaxed) == WSC__W_OPEN;
        }
    }
    wsc__lock_release(&c->lock);
    if (drained && c->w->ctx->h.drain)
        wsc__conn_drain_due(c);
    wsc__conn_check_done(c);
}

bool wsc__conn_send_close(wsc_conn *c, unsigned code, const char *reason, size_t reason_len)
{
    uint8_t f[2 + WSC__CONTROL_MAX];
    size_t pl = wsc__close_payload_build(f + 2, code, reason, reason_len);
    struct iovec v = {f, 2 + pl};
    f[0] = 0x80 | WSC__OP_CLOSE;
    f[1] = (uint8_t)pl;
    wsc__lock_acquire(&c->lock);
    if (atomic_load_explicit(&c->wstate, memory_order_relaxed) != WSC__W_OPEN) {
        wsc__lock_release(&c->lock);
        return false;
    }
    atomic_store_explicit(&c->wstate, WSC__W_CLOSING, memory_order_release);
    if (c->w->blocking && c->w->wake_fd >= 0 && wsc__tl_wctx != c->w)
        wsc__wakefd_signal(c->w->wake_fd); /* its thread arms the close timeout */
    /* Writes this thread made before the close (a span, a batch) go out first. */
    struct iovec iov[2] = {{tl_batch.buf, tl_batch.len}, v};
    bool batch = tl_batch.c == c && tl_batch.len;
    wsc__conn_out_locked(c, on_loop(c), batch ? iov : iov + 1, batch ? 2 : 1, batch ? 2 : 1, NULL);
    wsc__lock_release(&c->lock);
    if (batch)
        tl_batch.len = 0;
    after_close(c);
    return true;
}

/* ---- public ---- */

/* Every frame but an inline handler's small data frame that fits the span as it is: checked, then
   through write_bytes (the span, this thread's batch, or the socket). */
__attribute__((noinline)) static int write_any(wsc_conn *c, wsc_msg_type type, const void *data,
                                               size_t len)
{
    if (!c || (!data && len))
        return WSC_EINVAL;
    switch (type) {
    case WSC_TEXT:
    case WSC_BINARY:
        break;
    case WSC_PING:
    case WSC_PONG:
        if (len > WSC__CONTROL_MAX)
            return WSC_EINVAL;
        break;
    default:
        return WSC_EINVAL; /* close frames go through wsc_conn_close */
    }
    uint8_t hdr[WSC__FRAME_HEADER_MAX];
    size_t hl = wsc__frame_header_build(hdr, (unsigned)type, true, false, len, NULL);
    return write_bytes(c, hdr, hl, data, len);
}

int wsc__conn_write_plain(wsc_conn *c, wsc_msg_type type, const void *data, size_t len)
{
    return write_any(c, type, data, len);
}

int wsc__conn_write_frame(wsc_conn *c, const uint8_t *hdr, size_t hl, const void *data, size_t len)
{
    if (!c->pmd->out.reset)
        return send_locked(c, on_loop(c), hdr, hl, data, len);
    return write_bytes(c, hdr, hl, data, len);
}

int wsc_conn_write(wsc_conn *c, wsc_msg_type type, const void *data, size_t len)
{
    if (c && c->pmd) /* permessage-deflate: one predictable branch when it is off */
        return wsc__conn_pmd_write(c, type, data, len);
    /* An inline handler's small data frame, the common case: built where it will be sent from, with
       no call on the way (so this function saves no registers either). */
    if (c && (data || !len) && (type == WSC_TEXT || type == WSC_BINARY) && len <= SMALL_COPY_MAX) {
        size_t hl = wsc__frame_header_len(len, false);
        uint8_t *dst;
        if (goes_to_span(c, hl + len) &&
            atomic_load_explicit(&c->wstate, memory_order_acquire) == WSC__W_OPEN &&
            (dst = span_reserve_fast(c, hl + len))) {
            wsc__frame_header_build(dst, (unsigned)type, true, false, len, NULL);
            copy_small(dst + hl, data, len);
            return 0;
        }
    }
    return write_any(c, type, data, len);
}

int wsc_conn_write_text(wsc_conn *c, const char *data, size_t len)
{
    return wsc_conn_write(c, WSC_TEXT, data, len);
}

int wsc_conn_write_binary(wsc_conn *c, const void *data, size_t len)
{
    return wsc_conn_write(c, WSC_BINARY, data, len);
}

int wsc_conn_ping(wsc_conn *c, const void *data, size_t len)
{
    return wsc_conn_write(c, WSC_PING, data, len);
}

int wsc_conn_pong(wsc_conn *c, const void *data, size_t len)
{
    return wsc_conn_write(c, WSC_PONG, data, len);
}

int wsc_conn_write_framed(wsc_conn *c, const void *frame, size_t len)
{
    if (!c || !frame || len < 2)
        return WSC_EINVAL;
    return write_bytes(c, NULL, 0, frame, len);
}

int wsc_conn_close(wsc_conn *c, unsigned code, const char *reason)
{
    size_t rl = reason ? strlen(reason) : 0;
    if (!c)
        return WSC_EINVAL;
    if (code == 0)
        code = WSC_CLOSE_NORMAL;
    if (!wsc__close_code_valid_on_wire(code) || rl > WSC_CLOSE_REASON_MAX ||
        !wsc__utf8_valid((const uint8_t *)reason, rl))
        return WSC_EINVAL;
    wsc__conn_send_close(c, code, reason, rl);
    return 0;
}

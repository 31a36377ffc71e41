/* Connection lifecycle: creation, references, timers, the close states and the close callback. */
#include "conn/conn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn/hs.h"
#include "conn/shared.h"
#include "conn/sock.h"
#include "io/drain.h"
#include "io/poller.h"
#include "mem/iobuf.h"
#include "proto/close.h"
#include "server/topics.h"
#include "util/log.h"

wsc_conn *wsc__conn_new(wsc__wctx *w, int fd, bool hs)
{
    wsc_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->w = w;
    c->state = hs ? WSC__ST_HS : WSC__ST_OPEN;
    c->heard = w->now;
    atomic_init(&c->refs, 1);
    atomic_init(&c->req, 0);
    atomic_init(&c->wstate, WSC__W_OPEN);
    wsc__owner_take(c); /* the loop thread that creates it */
    wsc__reader_init(&c->rd, WSC__ROLE_SERVER, w->ctx->max_message, w->ctx->reader_flags);
    return c;
}

/* epoll registers the open file description, not the descriptor: after a fork (system(),
   popen()) the child shares it, close() in this process leaves it in the poller, and its next
   event would carry a pointer to freed memory. Remove it first. */
static void close_socket(const wsc__wctx *w, int fd)
{
    if (w->poll_fd >= 0) {
        wsc__poller p = {.fd = w->poll_fd};
        wsc__poller_del(&p, fd);
    }
    wsc__socket_drain_input(fd);
    close(fd);
}

void wsc__conn_free(wsc_conn *c)
{
    /* A finished connection holds nothing but its own memory, and may outlive its loop and its
       server (wsc_conn_retain): only an unfinished one (an error path) reaches for them. */
    if (c->in.data || c->msg.data || c->out.data || c->hs) {
        wsc__buffers *b = c->w->ctx->bufs;
        wsc__buffers_put(b, &c->in);
        wsc__buffers_put(b, &c->msg);
        wsc__buffers_put(b, &c->out);
        if (c->hs)
            wsc__hs_release(c->w->ctx->hs_pool, c->hs);
    }
    wsc__conn_end_tls(c->tls);
    wsc__segs_drop(c);
    if (c->fd >= 0)
        close_socket(c->w, c->fd);
    wsc__pmd_conn_free(c->pmd);
    free(c);
}

void wsc__conn_unref(wsc_conn *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        wsc__conn_free(c);
}

void wsc_conn_retain(wsc_conn *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void wsc_conn_release(wsc_conn *c)
{
    wsc__conn_unref(c);
}

void *wsc_conn_user(const wsc_conn *c)
{
    return c ? c->user : NULL;
}

wsc__wctx *wsc__conn_post(wsc_conn *c, uint32_t bits)
{
    wsc__wctx *w = c->w;
    /* Blocking mode has no inbox: the connection's thread wakes up at least once a second and looks
       at wstate itself. */
    if (w->blocking || w->wake_fd < 0)
        return NULL;
    /* Only the first request since the loop last looked pushes the connection; later ones are
       merged into `req`. Each push holds a reference, so a connection the loop already forgot stays
       valid until the loop has seen the entry. */
    if (atomic_fetch_or_explicit(&c->req, bits, memory_order_acq_rel) != 0)
        return NULL;
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    wsc_conn *head = atomic_load_explicit(&w->inbox, memory_order_relaxed);
    do {
        c->inbox_next = head;
    } while (!atomic_compare_exchange_weak_explicit(&w->inbox, &head, c, memory_order_seq_cst,
                                                    memory_order_relaxed));
    return w;
}

void wsc__conn_request(wsc_conn *c, uint32_t bits)
{
    wsc__wctx *w = wsc__conn_post(c, bits);
    if (w)
        wsc__wctx_wake(w);
}

void wsc__conn_set_deadline(wsc_conn *c, unsigned seconds)
{
    wsc__wctx *w = c->w;
    if (c->deadline)
        w->ndeadlines--;
    c->deadline = 0;
    if (seconds) {
        /* +1: the sweep is coarse (whole seconds), so never fire early. */
        c->deadline = w->now + seconds + 1;
        w->ndeadlines++;
    } else {
        /* A timed phase (the handshake) is over: the idle timer counts from here. */
        wsc__conn_heard(c);
    }
}

bool wsc__conn_keep(wsc_conn *c, const wsc__buf *buf)
{
    wsc__wctx *w = c->w;
    if (buf->cap < WSC__KEEP_MIN || wsc__buffers_pooled(w->ctx->bufs, buf))
        return false;
    if (!(c->flags & WSC__F_KEPT)) {
        c->flags |= WSC__F_KEPT;
        w->nkept++;
    }
    c->kept_at = w->now;
    return true;
}

static void unkeep(wsc_conn *c)
{
    if (c->flags & WSC__F_KEPT) {
        c->flags &= (uint16_t)~WSC__F_KEPT;
        c->w->nkept--;
    }
}

void wsc__conn_trim(wsc_conn *c)
{
    wsc__buffers *b = c->w->ctx->bufs;
    if (!(c->flags & WSC__F_KEPT) || c->w->now - c->kept_at < WSC__KEEP_SECONDS)
        return;
    bool in_use = false;
    if (c->flags & (WSC__F_BUSY | WSC__F_STALLED)) {
        in_use = true; /* the message buffer is the pool thread's now: not even looked at */
    } else if (c->msg.data) {
        wsc__owner_check(c);
        if (c->msg_len || wsc__reader_in_message(&c->rd))
            in_use = true;
        else
            wsc__buffers_put(b, &c->msg);
    }
    wsc__lock_acquire(&c->lock);
    if (c->out.data) {
        if (c->out_len != c->out_off)
            in_use = true;
        else
            wsc__buffers_put(b, &c->out);
    }
    wsc__lock_release(&c->lock);
    if (!in_use)
        unkeep(c);
}

static void release_buffers(wsc_conn *c)
{
    wsc__owner_check(c);
    unkeep(c);
    wsc__buffers *b = c->w->ctx->bufs;
    wsc__buffers_put(b, &c->in);
    wsc__buffers_put(b, &c->msg);
    c->in_off = c->in_len = 0;
    c->msg_len = 0;
    wsc__conn_drop_hs(c);
}

void wsc__conn_drop_hs(wsc_conn *c)
{
    if (!c->hs)
        return;
    if (c->hs == c->w->scratch)
        wsc__hs_reset(c->w->ctx->hs_pool, c->hs);
    else
        wsc__hs_release(c->w->ctx->hs_pool, c->hs);
    c->hs = NULL;
}

static void done(wsc_conn *c)
{
    c->state = WSC__ST_DONE;
    wsc__wctx_remove(c->w, c);
}

/* The socket is gone and no callback runs: call close (when owed), then forget the connection. */
static void close_callback(wsc_conn *c)
{
    const wsc__ctx *x = c->w->ctx;
    release_buffers(c);
    if (!(c->flags & WSC__F_ACCEPTED) || !x->h.close) {
        done(c);
        return;
    }
    c->job = WSC__JOB_CLOSE;
    if (x->submit) {
        c->flags |= WSC__F_BUSY;
        wsc__owner_give(c);
        x->submit((wsc__ctx *)x, c, true);
        c->w->submitted = true;
        return;
    }
    wsc__conn_run_job(c, &c->w->arena);
    c->job = WSC__JOB_NONE;
    done(c);
}

void wsc__conn_finish(wsc_conn *c)
{
    wsc__wctx *w = c->w;
    if (c->state == WSC__ST_DONE)
        return;
    if (c->state == WSC__ST_DEAD) {
        /* Here only between the end of the socket and the close callback: the callback that was
           running when the socket ended has returned. */
        if (!(c->flags & WSC__F_BUSY))
            close_callback(c);
        return;
    }
    wsc__lock_acquire(&c->lock);
    atomic_store_explicit(&c->wstate, WSC__W_CLOSED, memory_order_release);
    int fd = c->fd;
    struct wsc__transport *tls = c->tls;
    c->fd = -1;
    c->tls = NULL;
    wsc__buffers_put(w->ctx->bufs, &c->out);
    c->out_off = c->out_len = 0;
    wsc__segs_drop(c);
    wsc__lock_release(&c->lock);
    if (w->ctx->topics)
        wsc__topics_conn_end(w->ctx->topics, c); /* publishes no longer reach it */
    if (__builtin_expect(tls != NULL, 0))
        wsc__conn_end_tls(tls);
    if (fd >= 0) {
        if (w->defer_close)
            w->deferred_fd = fd;
        else
            close_socket(w, fd);
    }
    c->state = WSC__ST_DEAD;
    c->span_len = 0;
    wsc__conn_set_deadline(c, 0);
    if (c->flags & WSC__F_STALLED) {
        /* The job never ran: a message is dropped with its connection; an init never accepted. */
        wsc__wctx_unstall(w, c);
        c->job = WSC__JOB_NONE;
    }
    if (c->flags & WSC__F_BUSY)
        return; /* the callback that runs now ends first; the pool's DONE brings us back */
    close_callback(c);
}

void wsc__conn_timeout(wsc_conn *c)
{
    wsc__conn_set_deadline(c, 0);
    wsc__conn_finish(c);
}

uint32_t wsc__conn_idle_due(const wsc_conn *c)
{
    const wsc__ctx *x = c->w->ctx;
    /* Only an open connection the loop is reading: while a callback runs (BUSY) or waits for the
       backlog (STALLED) nothing is read, so the peer's silence proves nothing; after its close
       frame or ours, the close handshake's own deadline rules. */
    if (!x->idle_timeout || c->state != WSC__ST_OPEN || c->deadline ||
        (c->flags & (WSC__F_BUSY | WSC__F_STALLED | WSC__F_PEER_CLOSED)))
        return 0;
    /* Whole seconds of a coarse clock: k seconds of silence are certain only once the clock is
       k + 1 past `heard`, so neither the ping (at half, rounded up) nor the close comes early
       (either may come up to 2 s late). */
    if (x->idle_ping && !(c->flags & WSC__F_PINGED))
        return c->heard + (x->idle_timeout + 1) / 2 + 1;
    return c->heard + x->idle_timeout + 1;
}

void wsc__conn_idle(wsc_conn *c)
{
    wsc__wctx *w = c->w;
    if (w->stalled) {
        /* The loop reads no connection until the handler backlog has room: silence is ours. */
        wsc__conn_heard(c);
        return;
    }
    uint32_t due = wsc__conn_idle_due(c);
    if (!due || w->now < due)
        return;
    if (w->ctx->idle_ping && !(c->flags & WSC__F_PINGED)) {
        /* Once per silence: a peer that is alive answers with a pong, which restarts the timer.
           Also when the whole timeout has passed already (the loop was held up): the close then
           waits for the next tick, so the peer gets its chance to answer. */
        c->flags |= WSC__F_PINGED;
        (void)wsc_conn_ping(c, NULL, 0);
        return;
    }
    WSC__LOG(WSC_LOG_DEBUG, "closing a connection silent for %u s with 1001", w->ctx->idle_timeout);
    /* The close handshake follows, with its own deadline: a peer that does not answer is dropped
       WSC__CLOSE_TIMEOUT_S later. */
    wsc__conn_shutdown(c, WSC_CLOSE_GOING_AWAY);
}

/* Seconds a close handshake waits. A graceful shutdown's has no deadline of its own: the peer may
   need longer to read the queue in front of our close frame, and the shutdown's bound ends it. */
static unsigned close_wait(const wsc_conn *c)
{
    return c->w->graceful ? 0 : WSC__CLOSE_TIMEOUT_S;
}

void wsc__conn_sync_state(wsc_conn *c)
{
    if (c->state == WSC__ST_OPEN && (c->flags & WSC__F_SHUT_DUE) && !(c->flags & WSC__F_BUSY)) {
        /* The callback that ran when the server stopped returned: its writes left its thread
           before it handed the connection back, so the close frame follows them. */
        c->flags &= (uint16_t)~WSC__F_SHUT_DUE;
        wsc__conn_send_close(c, WSC_CLOSE_GOING_AWAY, NULL, 0);
    }
    if (c->state == WSC__ST_OPEN &&
        atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN) {
        /* A callback or another thread sent a close frame: wait for the peer's (section 7.1.2),
           unless it came first (then only our frame has to leave). Never finishes here: this may
           run inside a callback. */
        c->state = (c->flags & WSC__F_PEER_CLOSED) ? WSC__ST_DRAIN : WSC__ST_CLOSING;
        wsc__conn_set_deadline(c, close_wait(c));
    }
}

void wsc__conn_check_done(wsc_conn *c)
{
    if (c->state != WSC__ST_DRAIN || (c->flags & WSC__F_BUSY))
        return;
    if (!(c->flags & (WSC__F_EOF | WSC__F_PEER_CLOSED)) || !wsc__conn_sent_all(c))
        return;
    uint8_t b;
    if (!(c->flags & WSC__F_EOF) && c->fd >= 0 &&
        ((c->flags & WSC__F_TRAILING) || recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0)) {
        /* The peer still sends after its close frame. Closing now, with its bytes unread, would
           reset the connection and destroy what of ours is still on its way: read them away
           (as garbage) until its FIN, within the close wait. Once it sent any, a moment with none
           pending proves nothing (more may be on the wire), so only its FIN ends the wait; ours
           went out after our close frame. Peers that send nothing after their close, the usual
           ones, are closed at once. */
        c->flags |= WSC__F_TRAILING;
        if (!c->deadline)
            wsc__conn_set_deadline(c, WSC__CLOSE_TIMEOUT_S);
        return;
    }
    wsc__conn_finish(c);
}

void wsc__conn_on_eof(wsc_conn *c, bool reset)
{
    c->flags |= WSC__F_EOF;
    c->flags &= (uint16_t)~WSC__F_RD_PENDING;
    if (c->span_len)
        wsc__conn_flush_span(c);
    if (reset || c->state == WSC__ST_HS || wsc__conn_sent_all(c)) {
        wsc__conn_finish(c);
        return;
    }
    /* A half-closed peer may still read: what was accepted for it goes out first, within the
       close wait (an unread queue is dropped then). Nothing more is read or parsed. */
    if (c->state < WSC__ST_DRAIN)
        c->state = WSC__ST_DRAIN;
    if (!c->deadline)
        wsc__conn_set_deadline(c, close_wait(c));
}

void wsc__conn_shutdown(wsc_conn *c, unsigned code)
{
    switch (c->state) {
    case WSC__ST_HS:
        /* Not accepted yet. While init runs in the pool, its end decides (the loop is stopping). */
        if (!(c->flags & WSC__F_BUSY))
            wsc__conn_finish(c);
        return;
    case WSC__ST_OPEN:
        if (c->flags & WSC__F_STALLED) {
            wsc__wctx_unstall(c->w, c);
            c->job = WSC__JOB_NONE;
        }
        if (c->flags & WSC__F_BUSY) {
            /* Its pool thread gathers the callback's writes and sends them when it returns: a
               close frame sent now would turn them away (nothing follows a close frame). */
            c->flags |= WSC__F_SHUT_DUE;
            return;
        }
        wsc__conn_send_close(c, code, NULL, 0);
        wsc__conn_sync_state(c);
        return;
    default:
        return;
    }
}

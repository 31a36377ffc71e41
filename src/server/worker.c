/* The worker loop. One iteration, in this order:
 *   1. wait for events (no timeout while nothing has a deadline and nothing is deferred);
 *   2. per connection: writable first (frees queue space), then readable: every read's frames are
 *      processed at once, inline callbacks run right there;
 *   3. the inbox: pool callbacks that returned (their connection is parsed and read again), closes
 *      requested from other threads, and retries of jobs the full backlog refused;
 *   4. connections whose reads were deferred (fairness cap, back pressure);
 *   5. the timer sweep (deadlines, idle timeouts, kept buffers), at most once per second;
 *   6. one flush per connection for everything written inline in this iteration;
 *   7. the graveyard: memory of connections forgotten in this iteration (events of the batch may
 *      still have pointed at them).
 */
#include "server/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn/hs.h"
#include "conn/sock.h"
#include "io/listener.h"
#include "util/log.h"

enum {
    ACCEPTS_PER_WAKE = 64,
    OBUF_SIZE = 65536,
};

static char tag_listen, tag_stop, tag_drop, tag_wake;

static uint32_t coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

int wsc__worker_init(wsc__worker *wk, wsc__ctx *ctx, int listen_fd, bool tcp, int stop_fd,
                     int drop_fd, const _Atomic bool *stop, const _Atomic bool *graceful,
                     size_t max_conn, size_t rbuf_size, size_t arena_size)
{
    memset(wk, 0, sizeof *wk);
    wk->tcp = tcp;
    wk->poller.fd = -1;
    wk->listen_fd = listen_fd;
    wk->stop_fd = stop_fd;
    wk->drop_fd = drop_fd;
    wk->stop = stop;
    wk->graceful = graceful;
    wk->max_conn = max_conn;
    if (wsc__wctx_init(&wk->w, ctx, false, rbuf_size, OBUF_SIZE, arena_size) != 0)
        return WSC_ENOMEM;
    int fd = wsc__wakefd_open();
    if (fd < 0 || wsc__poller_open(&wk->poller) != 0) {
        if (fd >= 0)
            close(fd);
        wsc__wctx_destroy(&wk->w);
        return WSC_EIO;
    }
    wk->w.wake_fd = fd;
    wk->w.poll_fd = wk->poller.fd;
    if (wsc__poller_add_level(&wk->poller, fd, &tag_wake, false) != 0 ||
        wsc__poller_add_level(&wk->poller, stop_fd, &tag_stop, false) != 0 ||
        wsc__poller_add_level(&wk->poller, drop_fd, &tag_drop, false) != 0 ||
        wsc__poller_add_level(&wk->poller, listen_fd, &tag_listen, true) != 0) {
        wsc__worker_destroy(wk);
        return WSC_EIO;
    }
    wk->listening = true;
    return 0;
}

void wsc__worker_destroy(wsc__worker *wk)
{
    wsc__poller_close(&wk->poller);
    if (wk->w.wake_fd >= 0)
        close(wk->w.wake_fd);
    wk->w.wake_fd = -1;
    wsc__wctx_destroy(&wk->w);
}

void wsc__worker_kick(wsc__worker *wk)
{
    /* Rare (a full backlog freed up): always write, and the loop retries its stalled jobs. */
    wsc__wakefd_signal(wk->w.wake_fd);
}

static void accept_some(wsc__worker *wk)
{
    wsc__wctx *w = &wk->w;
    const wsc__ctx *x = w->ctx;
    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        int fd = wsc__accept(wk->listen_fd, true, wk->tcp);
        if (fd < 0) {
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                /* The pending connection stays in the kernel's queue and the level-triggered
                   listener would wake us again at once: stop watching it for a second rather
                   than spin. */
                WSC__LOG(WSC_LOG_WARN, "accept: %s; pausing accepts for a second", strerror(-fd));
                wsc__poller_del(&wk->poller, wk->listen_fd);
                wk->listening = false;
                wk->paused_until = w->now + 1;
            } else if (fd != -EAGAIN && fd != -EWOULDBLOCK && fd != -EINTR &&
                       fd != -ECONNABORTED) {
                WSC__LOG(WSC_LOG_WARN, "accept: %s", strerror(-fd));
            }
            return;
        }
        /* Over max_conn: accepted and closed at once, so the client learns right away instead of
           waiting in the kernel's backlog. */
        if (w->nconns >= wk->max_conn) {
            close(fd);
            continue;
        }
        wsc_conn *c = wsc__conn_new(w, fd, true);
        if (!c || !wsc__wctx_add(w, c)) {
            if (c)
                wsc__conn_free(c);
            else
                close(fd);
            continue;
        }
        /* The TLS handshake, if any, runs within the first reads, under the handshake timeout. */
        wsc__conn_set_deadline(c, x->hs_timeout);
        if (!wsc__conn_start_tls(c) || wsc__poller_add_conn(&wk->poller, fd, c) != 0) {
            wsc__conn_finish(c);
            continue;
        }
        /* The request is usually in already: read now rather than after another epoll round. */
        wsc__conn_on_readable(c);
    }
}

/* Stop and shutdown both start here: the listener goes, and every connection gets its close
   (1001). They differ in how long a close handshake may take: a stop gives each the usual close
   wait (WSC__CLOSE_TIMEOUT_S); a shutdown gives them until its own bound, which ends in drop_all. */
static void begin_stop(wsc__worker *wk)
{
    wsc__wctx *w = &wk->w;
    w->stopping = true;
    w->graceful = atomic_load(wk->graceful) && !atomic_load(wk->stop);
    /* The stop descriptor stays readable (level-triggered): stop watching it, and the listener. */
    wsc__poller_del(&wk->poller, wk->stop_fd);
    if (wk->listening) {
        wsc__poller_del(&wk->poller, wk->listen_fd);
        wk->listening = false;
    }
    /* Backwards: a connection finished here leaves the table by swapping with the last entry. */
    for (size_t i = w->nconns; i-- > 0;)
        if (i < w->nconns)
            wsc__conn_shutdown(w->conns[i], WSC_CLOSE_GOING_AWAY);
}

/* The shutdown's bound passed (or a stop came during it): what is left ends now, each connection
   with its close callback. */
static void drop_all(wsc__worker *wk)
{
    wsc__wctx *w = &wk->w;
    if (!w->stopping)
        begin_stop(wk);
    /* Level-triggered and never reset: watched no more. */
    wsc__poller_del(&wk->poller, wk->drop_fd);
    wk->dropped = true;
    w->graceful = false;
    for (size_t i = w->nconns; i-- > 0;)
        if (i < w->nconns)
            wsc__conn_finish(w->conns[i]);
}

static void retry_stalled(wsc__wctx *w)
{
    size_t i = 0;
    while (i < w->nstall && wsc__conn_retry_stalled(w->stall[i]))
        i++;
    if (i) {
        memmove(w->stall, w->stall + i, (w->nstall - i) * sizeof *w->stall);
        w->nstall -= i;
    }
    w->stalled = w->nstall > 0;
}

static void run_ready(wsc__wctx *w)
{
    if (!w->nready || w->stalled)
        return;
    /* Take the list: connections deferred again while serving it go to a fresh one. */
    wsc_conn **list = w->ready;
    size_t n = w->nready;
    w->ready = NULL;
    w->nready = w->ready_cap = 0;
    for (size_t i = 0; i < n; i++)
        list[i]->flags &= (uint16_t)~WSC__F_IN_READY;
    for (size_t i = 0; i < n; i++) {
        wsc_conn *c = list[i];
        if (c->state < WSC__ST_DEAD && (c->flags & WSC__F_RD_PENDING))
            wsc__conn_on_readable(c);
    }
    if (!w->ready) {
        w->ready = list; /* keep the allocation */
        w->ready_cap = n;
    } else {
        free(list);
    }
}

/* Once a second over every connection of the loop (uSockets' coarse tick): the idle timer adds no
   structure and no list operation per frame, only a 4-byte time stamp per connection, and a pass
   costs about 30 ns a connection, mostly cache misses (measured with 10,000 idle connections:
   0.3 ms of CPU a second, against 0.002 ms with the idle timeout off). */
enum { IDLE_OFF, IDLE_TICK, IDLE_RESTART };

static void sweep(wsc__wctx *w, int idle)
{
    for (size_t i = w->nconns; i-- > 0;) {
        if (i >= w->nconns)
            continue;
        wsc_conn *c = w->conns[i];
        if (c->deadline && c->deadline <= w->now) {
            wsc__conn_timeout(c);
            continue;
        }
        if (c->flags & WSC__F_KEPT)
            wsc__conn_trim(c);
        if (idle == IDLE_TICK)
            wsc__conn_idle(c);
        else if (idle == IDLE_RESTART)
            wsc__conn_heard(c);
    }
}

void *wsc__worker_main(void *arg)
{
    wsc__worker *wk = arg;
    wsc__wctx *w = &wk->w;
    wsc__pevent ev[WSC__POLLER_BATCH];
    uint32_t last_sweep = 0;

    wsc__tl_wctx = w;
    w->now = coarse_now();
    for (;;) {
        int timeout = -1;
        if (w->nready && !w->stalled)
            timeout = 0;
        else if (w->ndeadlines || w->nkept || w->stopping || wk->paused_until ||
                 (w->ctx->idle_timeout && w->nconns))
            timeout = 1000;
        if (w->submitted) {
            w->submitted = false;
            w->ctx->kick(w->ctx);
        }
        if (timeout != 0 && !wsc__wctx_may_sleep(w))
            timeout = 0;
        int n = wsc__poller_wait(&wk->poller, ev, WSC__POLLER_BATCH, timeout);
        atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
        w->now = coarse_now();
        bool inbox = false;
        for (int i = 0; i < n; i++) {
            void *p = ev[i].ptr;
            if (p == &tag_listen) {
                if (!w->stopping)
                    accept_some(wk);
            } else if (p == &tag_stop) {
                if (!w->stopping)
                    begin_stop(wk);
            } else if (p == &tag_drop) {
                if (!wk->dropped)
                    drop_all(wk);
            } else if (p == &tag_wake) {
                inbox = true;
            } else {
                wsc_conn *c = p;
                if (c->state >= WSC__ST_DEAD)
                    continue;
                if (ev[i].events & WSC__EV_OUT)
                    wsc__conn_on_writable(c);
                if (ev[i].events & WSC__EV_HUP)
                    c->flags |= WSC__F_HUP;
                if (((ev[i].events & WSC__EV_IN) ||
                     ((ev[i].events & WSC__EV_OUT) && wsc__conn_read_wants_write(c))) &&
                    c->state < WSC__ST_DEAD)
                    wsc__conn_on_readable(c);
            }
        }
        /* Pool callbacks that returned while we were busy need no wake-up: look every time. */
        wsc__wctx_inbox(w, inbox);
        if (inbox && w->nstall)
            retry_stalled(w);
        run_ready(w);
        if (wk->paused_until && w->now >= wk->paused_until) {
            wk->paused_until = 0;
            if (!w->stopping &&
                wsc__poller_add_level(&wk->poller, wk->listen_fd, &tag_listen, true) == 0)
                wk->listening = true;
        }
        int idle = w->ctx->idle_timeout && w->nconns ? IDLE_TICK : IDLE_OFF;
        if (idle) {
            /* Inline callbacks held the loop for seconds: it read nothing meanwhile, so that time
               is nobody's silence, and every idle timer starts again. */
            uint32_t t = coarse_now();
            if (t - w->now >= WSC__IDLE_HELD_S) {
                w->now = t;
                idle = IDLE_RESTART;
            }
        }
        if (w->now != last_sweep && (w->ndeadlines || w->nkept || idle)) {
            last_sweep = w->now;
            sweep(w, idle);
        }
        wsc__wctx_flush(w);
        wsc__wctx_bury(w);
        if (w->stopping && w->nconns == 0)
            break;
    }
    /* Pool callbacks of this worker have all returned (nconns counts connections until their
       close callback is done); their last inbox entries may remain. */
    wsc__wctx_inbox(w, false);
    wsc__wctx_bury(w);
    wsc__tl_wctx = NULL;
    return NULL;
}

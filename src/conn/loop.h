/* The loop context: what one event loop owns beside its connections. An epoll worker has one; in
 * blocking mode each connection's thread has its own (no spans, no inbox), and so has each test
 * helper. Its lists (every connection, the ones to read again, the stalled, the ones with writes
 * to flush), its inbox of requests from other threads, the graveyard of connections forgotten in
 * this iteration, and its buffers (the shared receive buffer and its spares, the output buffer for
 * inline writes). Every field is the loop thread's ([loop]) but the inbox and `sleeping`, which
 * other threads use atomically. */
#ifndef WSC_CONN_LOOP_H
#define WSC_CONN_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/arena.h"
#include "mem/buffers.h"
#include "util/thread_local.h"
#include "wsc.h"

struct wsc__ctx;

/* Receive buffers a loop keeps for reuse after connections handed them back: as many as large
   messages are commonly on pool threads at once, and at most WSC__SPARE_BYTES of them (one at
   least, however large the receive buffer); beyond that they are freed. */
enum { WSC__SPARE_RBUFS = 16, WSC__SPARE_BYTES = 2 << 20 };

/* A loop context: an epoll worker, or one blocking-mode connection thread. [loop] */
typedef struct wsc__wctx {
    struct wsc__ctx *ctx;
    bool blocking;   /* one connection's own thread (blocking mode, test helpers): no spans, no
                        inbox; a write that queues wakes the thread through wake_fd */
    bool sync_writes; /* test helpers: a blocking socket, writes complete before returning */
    bool stopping;   /* no new connections; closes with 1001 */
    bool graceful;   /* stopping by wsc_server_shutdown: a close handshake waits for the peer and
                        for the queue without a deadline of its own; the shutdown's bound ends it */
    bool stalled;    /* a job is waiting for backlog room: no connection is read */
    bool submitted;  /* jobs went to the pool in this iteration: kick it before sleeping */
    uint32_t now;    /* coarse monotonic seconds, refreshed once per iteration */
    uint8_t *rbuf;   /* the receive buffer shared by this loop's connections */
    size_t rbuf_cap;
    uint8_t *spare[WSC__SPARE_RBUFS]; /* receive buffers handed back by connections (see below) */
    unsigned nspare;
    uint8_t *obuf;   /* inline writes of this iteration (spans) */
    size_t obuf_cap, obuf_len;
    wsc_conn **flush; /* connections with a span */
    size_t nflush, flush_cap;
    wsc_conn **ready; /* readable connections whose read was deferred */
    size_t nready, ready_cap;
    wsc_conn **conns; /* every live connection, for timers and stop */
    size_t nconns, conns_cap;
    wsc_conn **stall; /* connections whose job waits for backlog room */
    size_t nstall, stall_cap;
    size_t ndeadlines; /* connections with a deadline (0: no timer sweep needed) */
    size_t nkept;      /* connections with WSC__F_KEPT (the sweep also trims those) */
    wsc_conn *grave;   /* finished connections, unreferenced at the end of the iteration */
    _Atomic(wsc_conn *) inbox;
    _Atomic int sleeping; /* the loop is (about to be) blocked in the poller: posts must wake it */
    int wake_fd;
    int poll_fd;       /* the poller's descriptor (for removal), -1 in blocking mode */
    bool defer_close;  /* blocking mode: the thread closes the socket itself, after it unregistered */
    int deferred_fd;
    wsc_arena arena;   /* inline callbacks */
    wsc_handshake *scratch; /* inline callbacks: requests that arrive whole are parsed in rbuf */
    struct wsc__pmd_shared *pmd_shared; /* epoll workers with deflate.shared_compressor: the
                                           compressor their connections share (its own lock) */
} wsc__wctx;

/* The loop context of the calling thread (NULL on other threads): writes made on a connection's own
 * worker go to the span, and are flushed once per iteration. Thread-local, set by the loop. */
extern WSC__THREAD_LOCAL wsc__wctx *wsc__tl_wctx;

/* A receive buffer (rbuf_cap bytes, from the heap) to replace one handed to a connection; NULL
 * when out of memory. [loop] */
uint8_t *wsc__wctx_take_spare(wsc__wctx *w);
/* Takes buf back as a spare receive buffer when it can serve as one (a heap buffer of rbuf_cap
 * bytes) and there is room; then buf is emptied and true returned. [loop] */
bool wsc__wctx_keep_spare(wsc__wctx *w, wsc__buf *buf);

/* Wakes a loop that sleeps in its poller (any thread). */
void wsc__wctx_wake(wsc__wctx *w);
/* rbuf_size: the shared receive buffer; obuf_size: inline write spans (0 in blocking mode);
   arena_size: first block of the inline callbacks' arena. Returns 0 or WSC_ENOMEM. */
int wsc__wctx_init(wsc__wctx *w, struct wsc__ctx *ctx, bool blocking, size_t rbuf_size, size_t obuf_size,
                   size_t arena_size);
void wsc__wctx_destroy(wsc__wctx *w);
/* Adds c to the connection table. Returns false when out of memory. */
bool wsc__wctx_add(wsc__wctx *w, wsc_conn *c);
/* Lists c for another read attempt in this loop (deferred by fairness or back pressure). */
void wsc__wctx_ready(wsc__wctx *w, wsc_conn *c);
/* Parks c whose job found the backlog full; the loop stops reading until it is dispatched. */
bool wsc__wctx_stall(wsc__wctx *w, wsc_conn *c);
/* Takes c off the stalled list (its job will not run: the connection ended), and lets the loop
   read again when it was the last. */
void wsc__wctx_unstall(wsc__wctx *w, wsc_conn *c);
/* Lists c for the end-of-iteration flush. */
bool wsc__wctx_flush_list(wsc__wctx *w, wsc_conn *c);
/* Forgets c (after its close callback, or at once when none is owed). */
void wsc__wctx_remove(wsc__wctx *w, wsc_conn *c);
/* Drops the loop's reference to every connection forgotten in this iteration. */
void wsc__wctx_bury(wsc__wctx *w);
/* Serves the inbox (pool callbacks that returned, closes from other threads). drain: the wake-up
   descriptor fired and must be read. */
void wsc__wctx_inbox(wsc__wctx *w, bool drain);
/* Before blocking in the poller: returns false (do not block) when the inbox has entries. */
bool wsc__wctx_may_sleep(wsc__wctx *w);

#endif

/* The handler thread pool (websocket.zig's thread_pool): `count` threads run connection callbacks
 * from a FIFO with room for `backlog` jobs. A full backlog refuses new message jobs, and the worker
 * that was refused stops reading until room frees up: that is the back pressure. Close callbacks
 * are never refused (every connection gets its close exactly once).
 *
 * Jobs are the connections themselves (an intrusive list through job_next): a connection has at most
 * one job at a time, so submitting allocates nothing. */
#ifndef WSC_SERVER_HANDLER_POOL_H
#define WSC_SERVER_HANDLER_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "conn/conn.h"
#include "util/thread_local.h"

typedef struct wsc__hpool wsc__hpool;

/* True on a handler-pool thread (of any server): callbacks run there. */
extern WSC__THREAD_LOCAL bool wsc__tl_in_pool;

/* unstall(arg) is called (from a pool thread) when a full backlog gets room again. */
wsc__hpool *wsc__hpool_new(unsigned threads, size_t backlog, size_t arena_size,
                           void (*unstall)(void *arg), void *arg);
/* Starts the threads. Returns 0 or WSC_ENOMEM/WSC_EIO. */
int wsc__hpool_start(wsc__hpool *p);
/* The wsc__ctx.submit of a pooled server (ctx->pool is the pool): queues without waking anyone. */
bool wsc__hpool_submit(wsc__ctx *ctx, wsc_conn *c, bool force);
/* The wsc__ctx.kick: wakes a handler thread if jobs wait and one sleeps. With more than one CPU
   the woken thread wakes another while jobs remain (up to every thread), so a burst spreads over
   the pool and a trickle costs one wake-up per batch. When the process may run on one CPU only
   (its affinity mask when the pool was created), the caller yields the CPU to the woken thread,
   which runs the whole batch, and wakes the next one only if jobs are still queued when it gets
   the CPU back (the first blocked in a handler). */
void wsc__hpool_kick(wsc__ctx *ctx);
/* Lets the threads finish every queued job, then joins them. */
void wsc__hpool_stop(wsc__hpool *p);
void wsc__hpool_free(wsc__hpool *p);

#endif

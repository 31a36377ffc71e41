/* One server connection: handshake, frames, message assembly, control frames, the close handshake,
 * and the outbound path. Shared by the epoll workers, the blocking (thread-per-connection) mode and
 * the test helpers.
 *
 * Threads: who owns each field, at each moment. A connection belongs to one "loop context"
 * (wsc__wctx): an epoll worker, or in blocking mode the connection's own thread (which polls its one
 * socket). Every field below carries its owner:
 * - [loop]: only the loop thread reads or writes it, always (state, flags, timers, list slots).
 * - [owner]: the parse state (reader, receive and message buffers, the pending job, the handshake,
 *   user). The loop thread owns it, except while the connection is BUSY: from the hand-off to the
 *   handler pool (wsc__owner_give just before submit) until the loop takes the DONE request from its
 *   inbox (wsc__owner_take), it belongs to the pool thread that runs the job, and the loop neither
 *   reads nor writes it; the pool thread lets go (wsc__owner_give) before it posts DONE. With inline
 *   handlers and in blocking mode the loop thread owns it always. owner.h asserts this in debug and
 *   sanitizer builds.
 * - [lock]: any thread, under `lock` (the socket and the outbound queue: writes come from anywhere).
 * - [atomic]: any thread, atomically.
 * - [topics]: any thread, under the server's topics mutex (server/topics.c).
 * Callbacks run on the loop thread (inline handlers, blocking mode) or on a handler-pool thread;
 * while one runs the connection is BUSY and the loop neither parses nor reads it, which is the
 * one-message-at-a-time guarantee.
 *
 * Memory. An idle connection holds only this struct: read buffers come from the loop (one receive
 * buffer per worker) and the server's pools, and go back when a message is done (with pooled small
 * buffers; a dedicated small buffer is kept). */
#ifndef WSC_CONN_CONN_H
#define WSC_CONN_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "conn/conn_deflate.h"
#include "conn/owner.h"
#include "io/lock.h"
#include "mem/arena.h"
#include "mem/buffers.h"
#include "proto/reader.h"
#include "util/thread_local.h"
#include "wsc.h"

struct wsc__hs_pool;
struct wsc__topics;
struct wsc__sub;
struct wsc__tls_server;
struct wsc__transport;
struct wsc__seg;
struct wsc__shared;

/* Seconds to wait for the peer's side of the close handshake (its close frame, or its FIN after we
 * failed the connection) before the TCP connection is dropped. */
enum { WSC__CLOSE_TIMEOUT_S = 3 };

/* Inline writes from a worker are gathered per connection and flushed once per loop iteration;
 * frames larger than this are sent at once (copying them would cost more than the syscall saved). */
enum { WSC__SPAN_FRAME_MAX = 16384 };

/* Server-wide settings every connection reads (immutable while the server runs). */
typedef struct wsc__ctx {
    wsc_handler h;
    void *app;
    wsc__buffers *bufs;
    struct wsc__hs_pool *hs_pool;
    uint64_t max_message;
    size_t max_buffered;
    unsigned reader_flags;      /* WSC__READER_UTF8 unless no_utf8_check */
    unsigned hs_timeout;        /* seconds */
    unsigned idle_timeout;      /* seconds of silence from the peer before close 1001; 0: off */
    bool idle_ping;             /* ping at half idle_timeout */
    bool keep_small;            /* dedicated small buffers: the read buffer stays with the conn */
    wsc__pmd_settings pmd;      /* permessage-deflate (pmd.neg.enabled false: off) */
    /* Hands a job to the handler pool. force: close callbacks, never refused. Returns false when
       the backlog is full (the caller stalls: back pressure). NULL: callbacks run inline. */
    bool (*submit)(struct wsc__ctx *ctx, wsc_conn *c, bool force);
    /* Submitted jobs wait for this (once per loop iteration) to wake a handler thread: a batch of
       jobs costs one wake-up, not one each. */
    void (*kick)(struct wsc__ctx *ctx);
    void *pool;
    struct wsc__topics *topics; /* the server's topics (NULL for the test helpers' connections) */
    struct wsc__tls_server *tls; /* NULL: plain TCP (set before listening, never changed) */
} wsc__ctx;

#include "conn/loop.h" /* after wsc__ctx, which the loop context points to */

/* worker-only connection states ([loop] `state`) */
enum {
    WSC__ST_HS,      /* reading the upgrade request */
    WSC__ST_OPEN,    /* frames flow both ways */
    WSC__ST_CLOSING, /* we sent a close frame: waiting for the peer's (data is discarded) */
    WSC__ST_DRAIN,   /* nothing more to parse: waiting to flush, then for the peer's FIN */
    WSC__ST_DEAD,    /* socket closed: the close callback is pending or running */
    WSC__ST_DONE     /* close callback returned: the loop forgets the connection */
};

/* [atomic] write state, guarded by lock for transitions */
enum { WSC__W_OPEN, WSC__W_CLOSING, WSC__W_CLOSED };

/* [loop] flags */
enum {
    WSC__F_BUSY = 1 << 0,        /* a callback runs (pool) */
    WSC__F_RD_PENDING = 1 << 1,  /* readable and not known to be drained */
    WSC__F_ACCEPTED = 1 << 2,    /* init accepted: the close callback is owed */
    WSC__F_PEER_CLOSED = 1 << 3, /* the peer's close frame arrived */
    WSC__F_STALLED = 1 << 4,     /* a job waits for room in the backlog */
    WSC__F_IN_FLUSH = 1 << 5,    /* listed in the loop's flush list */
    WSC__F_IN_READY = 1 << 6,    /* listed in the loop's ready list */
    WSC__F_REJECTED = 1 << 7,    /* init refused */
    WSC__F_EOF = 1 << 8,         /* read returned 0 */
    WSC__F_HUP = 1 << 9,         /* the poller saw the peer's FIN: read until 0 */
    WSC__F_KEPT = 1 << 10,       /* holds a big message or queue buffer for reuse (see trim) */
    WSC__F_PINGED = 1 << 11,     /* the idle timer pinged the peer, which was not heard since */
    WSC__F_SHUT_DUE = 1 << 12,   /* stop or shutdown: the close (1001) follows the running
                                    callback, whose writes go first */
    WSC__F_TRAILING = 1 << 13,   /* bytes came after the end we wait for: close only at its FIN */
    WSC__F_DRAIN_DUE = 1 << 15,  /* the drain callback runs as soon as no other callback does */
};

/* A big heap buffer (a large message's, a long queue's) stays with its connection this long after
 * its last use: a stream of large messages then reuses one buffer instead of allocating, faulting
 * in and copying megabytes per message; an idle connection gives it back. */
enum { WSC__KEEP_MIN = 256 * 1024, WSC__KEEP_SECONDS = 2 };

/* [lock] flags (wflags) */
enum {
    WSC__WF_SHUT = 1,   /* shutdown(SHUT_WR) done once the close frame went out */
    WSC__WF_BROKEN = 2, /* a send failed: the socket is unusable */
    WSC__WF_DRAIN = 4,  /* the queue passed max_buffered, or a write was refused: the drain
                           callback is owed once the queue falls below half of it */
};

/* jobs: which callback a (pool or inline) run performs */
enum {
    WSC__JOB_NONE,
    WSC__JOB_INIT, /* init, then the 101 (or error) response, then after_init; for a plain HTTP
                      request the http callback and its response */
    WSC__JOB_MSG,
    WSC__JOB_PING,
    WSC__JOB_PONG,
    WSC__JOB_CLOSE_FRAME,
    WSC__JOB_CLOSE,
    WSC__JOB_DRAIN, /* the queue fell below half of max_buffered */
    /* left for the loop by a pool thread that ran ahead (wsc__conn_run_pool_job) */
    WSC__JOB_PEER_CLOSE, /* the peer's close frame: job_code, job_data/len */
    WSC__JOB_FAIL        /* fail the connection with job_code */
};

/* inbox requests (bits of `req`) */
enum {
    WSC__REQ_DONE = 1,  /* a pool callback returned */
    WSC__REQ_CLOSE = 2, /* closed from another thread: arm the close timeout */
};

struct wsc_conn {
    wsc__lock lock;
    int fd;       /* [lock] -1 once closed */
    struct wsc__transport *tls; /* [lock] TLS over fd, NULL for plain TCP: set at creation, cleared
                                   with fd; the loop thread, which alone clears it, reads through
                                   it without the lock (the transport serialises its own calls) */
    wsc__buf out; /* [lock] outbound queue: bytes [out_off, out_len) not yet taken by the socket */
    uint32_t out_off, out_len; /* [lock] */
    struct wsc__seg *seg_head, *seg_tail; /* [lock] the queue's rest, behind out (shared.h) */
    size_t seg_bytes;                     /* [lock] bytes in it */
    uint8_t wflags;            /* [lock] WSC__WF_* */
    _Atomic uint8_t full;      /* [atomic] the queue holds more than max_buffered (changed under
                                  lock): the lock-free writes (span, batch) take the locked path */
    _Atomic uint8_t wstate;    /* [atomic] WSC__W_*, changed under lock */
    uint8_t state;             /* [loop] WSC__ST_* */
    uint8_t job;               /* [owner] WSC__JOB_* pending or running */
    uint16_t flags;            /* [loop] WSC__F_* */
    uint32_t deadline;     /* [loop] coarse seconds of the loop clock, 0 = none */
    uint32_t slot;         /* [loop] index in the loop's connection table */
    _Atomic uint32_t refs; /* [atomic] the loop's, one per inbox entry, wsc_conn_retain's */
    _Atomic uint32_t req;  /* [atomic] WSC__REQ_* pending */
    struct wsc__wctx *w;   /* set at creation, never changed */
    void *user;            /* [owner] set by init; callbacks read it */
    wsc_conn *inbox_next;  /* the inbox's (an atomic list) */
    wsc_conn *job_next;    /* the handler pool's queue link, under its mutex */
    wsc_handshake *hs;     /* [owner] during the handshake */
    uint8_t *job_data;     /* [owner] the job's payload (in `in` or `msg`) */
    size_t job_len;        /* [owner] */
    wsc__reader rd;        /* [owner] */
    wsc__buf in;           /* [owner] unparsed bytes [in_off, in_len) */
    uint32_t in_off, in_len;     /* [owner] */
    wsc__buf msg;                /* [owner] a message that spans reads, msg_len bytes so far */
    size_t msg_len;              /* [owner] */
    uint32_t span_off, span_len; /* [loop] this iteration's inline writes, in the loop's obuf */
    uint32_t frame_rest;         /* [owner] payload bytes the current data frame still declares */
    uint32_t kept_at;            /* [loop] loop clock of the last use of a kept buffer */
    uint32_t heard;              /* [loop] loop clock when the idle timer last restarted (see
                                    wsc__conn_heard); the pool thread never touches it */
    uint16_t job_code; /* [owner] JOB_CLOSE_FRAME: the peer's code; JOB_INIT: 0, or the reject
                          status; JOB_MSG: the opcode (here, in what was padding) */
    bool msg_used;     /* [owner] the message buffer took bytes since the loop last looked */
    bool topics_ended; /* [topics] the connection ended: no more subscriptions (topics.c) */
    struct wsc__sub *subs; /* [topics] its subscriptions, under the server's topics mutex */
    wsc__pmd_conn *pmd; /* permessage-deflate negotiated (NULL: not): set by the handshake before
                           the 101 and before any write, freed with the connection (see
                           conn_deflate.h for its fields' owners) */
    WSC__OWNER_FIELD             /* checked builds: the [owner] fields' owner (owner.h) */
};


/* ---- lifecycle (conn.c) ---- */

/* A new connection on fd, in state HS (or OPEN when hs is false: the test helpers). Returns NULL
 * when out of memory. */
wsc_conn *wsc__conn_new(wsc__wctx *w, int fd, bool hs);
/* Closes the socket (idempotent) and moves on to the close callback when it is owed; a connection
 * whose callback is still running gets there when the callback returns. [loop] */
void wsc__conn_finish(wsc_conn *c);
/* Drops one reference; the last one frees the memory. Thread-safety: any thread. */
void wsc__conn_unref(wsc_conn *c);
/* Frees the buffers and memory of a connection nobody references. */
void wsc__conn_free(wsc_conn *c);
/* Posts requests to the loop's inbox and wakes the loop if it sleeps (any thread). */
void wsc__conn_request(wsc_conn *c, uint32_t bits);
/* Posts without waking: returns the loop to pass to wsc__wctx_wake soon, or NULL when nothing was
   pushed (already pending). For threads that post many in a row. */
wsc__wctx *wsc__conn_post(wsc_conn *c, uint32_t bits);
/* Arms or clears the loop-clock deadline. [loop] */
void wsc__conn_set_deadline(wsc_conn *c, unsigned seconds);
/* The timer sweep found c's deadline passed. [loop] */
void wsc__conn_timeout(wsc_conn *c);
/* The idle timer (ctx->idle_timeout): restarts whenever the peer is heard from: a frame, or a piece
 * of a frame's payload, was parsed. Also when the loop may not have read for a while through no fault
 * of the peer's: the handshake just ended, a pool callback handed the connection back. [loop] */
static inline void wsc__conn_heard(wsc_conn *c)
{
    c->heard = c->w->now;
    c->flags &= (uint16_t)~WSC__F_PINGED;
}
/* A loop that its own work (inline callbacks) held this many seconds read nothing meanwhile: its
 * idle timers start again (wsc__conn_heard) rather than count that time as the peers' silence. */
enum { WSC__IDLE_HELD_S = 2 };
/* Loop-clock second at which wsc__conn_idle has something to do for c (ping or close), 0 when its
 * idle timer does not run (idle timeout off; not open; a callback runs; another timer runs). [loop] */
uint32_t wsc__conn_idle_due(const wsc_conn *c);
/* The idle timer's tick: pings a peer silent for half the idle timeout (once per silence), and
 * starts the close (1001) of one silent for all of it. Call at least once a second. [loop] */
void wsc__conn_idle(wsc_conn *c);
/* Keeps buf (a message or queue buffer now empty) for reuse when it is big and from the heap;
   returns false when the caller should give it back instead. [loop] */
bool wsc__conn_keep(wsc_conn *c, const wsc__buf *buf);
/* The sweep: gives back kept buffers unused for WSC__KEEP_SECONDS. [loop] */
void wsc__conn_trim(wsc_conn *c);
/* Starts the server-side close (stop: 1001). While a pool callback runs, the close frame waits for
 * its return, so that what the callback wrote (gathered in its thread) goes out first. [loop] */
void wsc__conn_shutdown(wsc_conn *c, unsigned code);
/* Moves the loop state after a callback or a close from elsewhere. [loop] */
void wsc__conn_sync_state(wsc_conn *c);
/* Ends a connection in DRAIN (not while a callback runs) once its queue has left and the peer
   sent its FIN or close frame. [loop] */
void wsc__conn_check_done(wsc_conn *c);
/* The peer's FIN (a read returned 0), or a reset: ends the connection at once, or, when output
   accepted for the peer is still queued, once it has left (bounded by the close wait). [loop] */
void wsc__conn_on_eof(wsc_conn *c, bool reset);

/* ---- reading and dispatch (recv.c, frames.c, handshake_read.c, jobs.c, run_ahead.c) ---- */

/* Reads what the socket has (bounded per call for fairness) and processes every frame in it. [loop] */
void wsc__conn_on_readable(wsc_conn *c);
/* Handles inbox requests (a pool callback returned, a close from another thread). [loop] */
void wsc__conn_on_request(wsc_conn *c, uint32_t bits);
/* The queue fell below half of max_buffered after passing it: runs the drain callback as soon as no
   other callback runs (now, or when the running one returns). [loop] */
void wsc__conn_drain_due(wsc_conn *c);
/* Retries a job that found the backlog full. Returns false if it is still full. [loop] */
bool wsc__conn_retry_stalled(wsc_conn *c);
/* Runs the pending job's callbacks (pool thread, or the loop for inline handlers), then resets
 * arena. The job's payload stays valid throughout. */
void wsc__conn_run_job(wsc_conn *c, wsc_arena *arena);
/* The handler pool's entry: runs the job, then the callbacks of further complete messages that
 * were already read, while nothing needs the loop; this thread's writes to c are gathered and sent
 * once at the end. */
void wsc__conn_run_pool_job(wsc_conn *c, wsc_arena *arena);

/* ---- writing (conn_write.c) ---- */

/* Sends or queues, in order: c's span (with_span: the loop thread only), then iov[0..n). The span
 * and iov[0..accepted) were accepted already (inline writes, a pool thread's batch, close frames,
 * the handshake response) and always go; iov[accepted..n) is a new write, refused whole, with
 * nothing of it sent, when more than max_buffered bytes are queued already (*overflow is set: the
 * caller closes with 1008). A write accepted on a short queue may take it past max_buffered.
 * Returns 0, WSC_ECLOSED or WSC_EFULL. Caller holds c->lock. */
int wsc__conn_out_locked(wsc_conn *c, bool with_span, const struct iovec *iov, int n, int accepted,
                         bool *overflow);
/* Writes a shared frame (shared.h), in order with this thread's other writes to c, under the same
 * rules as any write (accepted whole or refused whole; 1008 on a full queue): what the socket does
 * not take at once is queued as a reference, not a copy. Any thread. */
int wsc__conn_write_shared(wsc_conn *c, struct wsc__shared *f);
/* Writes raw bytes (the handshake response) in order with everything else. Any thread. */
int wsc__conn_send_raw(wsc_conn *c, const void *data, size_t len);
/* The socket is writable again: sends what is queued. [loop] */
void wsc__conn_on_writable(wsc_conn *c);
/* Sends c's span (this iteration's inline writes). [loop] */
void wsc__conn_flush_span(wsc_conn *c);
/* Flushes every span of the loop and empties obuf. [loop] */
void wsc__wctx_flush(wsc__wctx *w);
/* Sends a close frame if none was sent, and marks the connection closing (any thread). Returns true
 * when this call made the transition. */
bool wsc__conn_send_close(wsc_conn *c, unsigned code, const char *reason, size_t reason_len);
/* Queue length (under the lock). */
size_t wsc__conn_queued(wsc_conn *c);
/* True when nothing queued can still go out: the queue is empty, or the socket is closed or
   broken. */
bool wsc__conn_sent_all(wsc_conn *c);
/* After a close frame or an error response: shuts the write side once the queue is empty. */
void wsc__conn_shut_if_drained(wsc_conn *c);
/* Pool threads: gathers this thread's writes to c (the connection whose callbacks it runs) until
 * batch_end sends them with one system call. batch_free releases the thread's buffer. */
void wsc__batch_begin(wsc_conn *c);
void wsc__batch_end(wsc_conn *c);
void wsc__batch_free(void);

/* ---- permessage-deflate (conn_pmd.c; the codec's glue in conn_write.c) ---- */

/* The handshake: answers the first acceptable offer (into hs's 101) and makes c->pmd. Returns 0
   (accepted or not) or WSC_ENOMEM. [owner] */
int wsc__conn_pmd_accept(wsc_conn *c, wsc_handshake *hs);
/* wsc_conn_write when c->pmd is set: compresses what qualifies. Any thread. */
int wsc__conn_pmd_write(wsc_conn *c, wsc_msg_type type, const void *data, size_t len);
/* wsc_conn_write's own path, never compressing. Any thread. */
int wsc__conn_write_plain(wsc_conn *c, wsc_msg_type type, const void *data, size_t len);
/* Sends one built frame (hdr, then data) in order after this thread's earlier writes; with context
   takeover straight through the lock, so that frames compressed in one order leave in it. */
int wsc__conn_write_frame(wsc_conn *c, const uint8_t *hdr, size_t hl, const void *data, size_t len);

/* ---- the loop context's side (loop.h) that needs the connection's fields ---- */

/* Its common case, with no call (the write path's): c is listed already, or the list has room.
   False when the list must grow first, which wsc__wctx_flush_list does. */
static inline bool wsc__wctx_flush_list_fast(wsc__wctx *w, wsc_conn *c)
{
    if (c->flags & WSC__F_IN_FLUSH)
        return true;
    if (w->nflush == w->flush_cap)
        return false;
    w->flush[w->nflush++] = c;
    c->flags |= WSC__F_IN_FLUSH;
    return true;
}
/* Gives back a connection's handshake object (the loop's scratch one is only reset). */
void wsc__conn_drop_hs(wsc_conn *c);

#endif

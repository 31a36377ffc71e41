/* Client reads: frames from the proto reader, messages assembled in the read buffer, a pooled
 * buffer or a heap buffer, control frames returned as they come. */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "io/connect.h"
#include "mem/iobuf.h"
#include "proto/assembler.h"
#include "proto/close.h"
#include "proto/close_handshake.h"
#include "util/log.h"

/* ---- message buffers ------------------------------------------------------ */

/* Capacity for a heap buffer that must hold need bytes: doubling (few reallocations for a message
   that arrives in many reads) but never past max_size, the most a message can be. */
static size_t heap_cap(const wsc_client *c, size_t have, size_t need)
{
    size_t cap = have < c->buffer_size ? c->buffer_size : have;
    cap = cap > c->max_size / 2 ? c->max_size : cap * 2;
    return cap < need ? need : cap;
}

/* Moves the message being assembled in the read buffer to a buffer of at least need bytes: a pooled
   one when it fits and one is free, else the heap. */
static int to_external(wsc_client *c, size_t need)
{
    wsc__pool *pool = c->provider ? c->provider->pool : NULL;
    uint8_t *b = NULL;

    if (pool && need <= wsc__pool_buf_size(pool) && (b = wsc__pool_get(pool)) != NULL) {
        c->mmode = WSC__MB_POOL;
        c->mcap = wsc__pool_buf_size(pool);
    } else {
        size_t cap = heap_cap(c, 0, need);
        b = wsc__iobuf_alloc(cap);
        if (!b)
            return WSC_ENOMEM;
        c->mmode = WSC__MB_HEAP;
        c->mcap = cap;
    }
    memcpy(b, c->rbuf + c->mstart, c->mlen);
    c->mbuf = b;
    c->mstart = 0;
    return 0;
}

/* Grows the external message buffer to hold need bytes; a pooled buffer that is too small is traded
   for a heap one (and goes back to the pool at once). */
static int ensure(wsc_client *c, size_t need)
{
    if (need <= c->mcap)
        return 0;
    size_t cap = heap_cap(c, c->mcap, need);
    uint8_t *b;
    if (c->mmode == WSC__MB_POOL) {
        b = wsc__iobuf_alloc(cap);
        if (!b)
            return WSC_ENOMEM;
        memcpy(b, c->mbuf, c->mlen);
        wsc__pool_put(c->provider->pool, c->mbuf);
        c->mmode = WSC__MB_HEAP;
    } else {
        b = wsc__iobuf_resize(c->mbuf, c->mcap, c->mlen, cap);
        if (!b)
            return WSC_ENOMEM;
    }
    c->mbuf = b;
    c->mcap = cap;
    return 0;
}

static void free_buffer(wsc_client *c, int mode, uint8_t *b, size_t cap)
{
    if (mode == WSC__MB_POOL)
        wsc__pool_put(c->provider->pool, b);
    else if (mode == WSC__MB_HEAP)
        wsc__iobuf_free(b, cap);
}

/* The message assembler's store (proto/assembler.h): the read buffer, where the message starts
   around its first bytes and continues in place across reads while it fits in buffer_size; beyond
   that a pooled buffer, or the heap. mlen is the assembler's count of bytes so far. */
static uint8_t *msg_room(void *ctx, size_t have, size_t need, const uint8_t *chunk)
{
    wsc_client *c = ctx;
    (void)have;
    if (c->mmode == WSC__MB_NONE && c->inflating) {
        /* Inflated bytes cannot share the read buffer with the compressed ones they come from. */
        c->mlen = 0;
        if (to_external(c, need) != 0)
            return NULL;
    }
    if (c->mmode == WSC__MB_NONE) {
        c->mmode = WSC__MB_RBUF;
        c->mstart = (size_t)(chunk - c->rbuf);
    }
    if (c->mmode == WSC__MB_RBUF) {
        if (need <= c->buffer_size)
            return c->rbuf + c->mstart;
        if (to_external(c, need) != 0)
            return NULL;
    }
    return ensure(c, need) == 0 ? c->mbuf : NULL;
}

void wsc__client_release(wsc_client *c)
{
    free_buffer(c, c->held_mode, c->held, c->held_cap);
    c->held_mode = WSC__MB_NONE;
    c->held = NULL;
}

/* Makes room at the end of the read buffer: the message being assembled there moves to the front,
   the unparsed bytes right after it. */
static void compact(wsc_client *c)
{
    size_t dst = 0;
    if (c->mmode == WSC__MB_RBUF) {
        if (c->mstart)
            memmove(c->rbuf, c->rbuf + c->mstart, c->mlen);
        c->mstart = 0;
        dst = c->mlen;
    }
    size_t raw = c->rend - c->rstart;
    if (c->rstart != dst)
        memmove(c->rbuf + dst, c->rbuf + c->rstart, raw);
    c->rstart = dst;
    c->rend = dst + raw;
}

/* Reads more bytes, first making sure the reader's request (need bytes from rstart) fits. */
static int read_more(wsc_client *c, size_t need, int64_t deadline)
{
    if (c->rstart == c->rend && c->mmode != WSC__MB_RBUF)
        c->rstart = c->rend = 0;
    if (c->rend == c->rcap || c->rstart + need > c->rcap)
        compact(c);
    if (c->rend == c->rcap && c->mmode == WSC__MB_RBUF) {
        /* Cannot happen with the slack the buffer has; kept so a wrong guess costs a copy, not a
           stuck connection. */
        int rc = to_external(c, c->mlen);
        if (rc)
            return rc;
        compact(c);
    }
    if (c->rend == c->rcap)
        return WSC_EIO;
    return wsc__client_fill(c, deadline);
}

/* ---- failing and closing --------------------------------------------------- */

static int code_error(unsigned close_code)
{
    switch (close_code) {
    case WSC__CLOSE_INVALID_DATA:
        return WSC_EUTF8;
    case WSC__CLOSE_TOO_BIG:
        return WSC_ETOOBIG;
    case WSC__CLOSE_INTERNAL:
        return WSC_ENOMEM;
    default:
        return WSC_EPROTO;
    }
}

/* Section 7.1.7, "Fail the WebSocket Connection": send a close frame with the reason's code (unless
   one was sent already) and drop the connection without waiting for an answer. */
static int fail(wsc_client *c, unsigned close_code, int rc, const char *why)
{
    WSC__LOG(WSC_LOG_INFO, "client %s:%d: closing with %u: %s", c->host, c->port, close_code, why);
    (void)wsc__client_send_close(c, close_code, NULL, 0,
                                 wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS);
    wsc__client_mark_closed(c, rc);
    return rc;
}

/* A close frame arrived: either the answer to ours (the handshake is complete) or the server's
   opening move, which section 5.5.1 says we must answer. */
static void on_close_frame(wsc_client *c, unsigned code, bool answer)
{
    pthread_mutex_lock(&c->mu);
    c->peer_closed = true;
    wsc__client_note_close_locked(c, code, true);
    int st = atomic_load(&c->state);
    if (st == WSC__CS_CLOSING)
        wsc__client_mark_closed_locked(c, 0);
    pthread_mutex_unlock(&c->mu);
    if (st == WSC__CS_OPEN && answer) {
        /* Echo the code (1005, "no code", becomes an empty payload), as section 5.5.1 suggests. */
        wsc__client_answer_close(c, wsc__close_answer_code(code, 0));
    }
}

/* ---- the idle timer ------------------------------------------------------------ */

/* When the idle timer acts next: a ping at half idle_ms, the close at all of it. WSC__NO_DEADLINE
   when it does not run: off, or not open (after a close frame the close wait rules). */
static int64_t idle_due(const wsc_client *c)
{
    if (!c->idle_ms || atomic_load(&c->state) != WSC__CS_OPEN)
        return WSC__NO_DEADLINE;
    return c->heard_ms + (c->idle_ping && !c->idle_pinged ? c->idle_ms / 2 : c->idle_ms);
}

/* The idle timer is due. Returns 0 to read on (after the ping), or WSC_EIDLE once the connection is
   closed. The read that timed out found no byte waiting, so the server is not blocked writing to
   us: this thread may wait (bounded) for wmu without the deadlock that automatic replies avoid. */
static int idle_fire(wsc_client *c)
{
    int64_t wait = wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS;
    if (c->idle_ping && !c->idle_pinged) {
        uint8_t none[1];
        c->idle_pinged = true; /* once per silence; any byte from the server ends it */
        (void)wsc__client_send(c, WSC__OP_PING, none, 0, false, wait);
        return 0;
    }
    WSC__LOG(WSC_LOG_INFO, "client %s:%d: nothing from the server for %lld s: closing with 1001",
             c->host, c->port, (long long)(c->idle_ms / 1000));
    int rc = wsc__client_send_close(c, WSC__CLOSE_GOING_AWAY, NULL, 0, wait);
    if (rc == 0 || atomic_load(&c->state) == WSC__CS_CLOSING)
        wsc__client_drain(c); /* the server's answer, within the close wait */
    wsc__client_mark_closed(c, WSC_EIDLE);
    return WSC_EIDLE;
}

/* ---- reading ------------------------------------------------------------------ */

int wsc__client_read_msg(wsc_client *c, wsc_msg *msg, int64_t deadline, bool answer_close)
{
    memset(msg, 0, sizeof *msg);
    wsc__client_release(c);
    for (;;) {
        if (atomic_load(&c->state) == WSC__CS_CLOSED)
            return WSC_ECLOSED;
        wsc__event ev;
        size_t n = wsc__reader_next(&c->reader, c->rbuf + c->rstart, c->rend - c->rstart, &ev);
        switch (ev.kind) {
        case WSC__EV_DATA: {
            c->rstart += n;
            if (ev.first)
                c->mmode = WSC__MB_NONE; /* msg_room places it around its first bytes */
            const wsc__asm_store store = {msg_room, c};
            uint8_t *data;
            size_t len;
            enum wsc__asm_result r;
            if (ev.rsv1) {
                c->inflating = true;
                r = wsc__asm_add_compressed(&c->mlen, &ev, &store, &c->pmd->in, c->max_size,
                                            (c->reader_flags & WSC__READER_UTF8) != 0, &data, &len);
                c->inflating = false;
            } else {
                r = wsc__asm_add(&c->mlen, &ev, &store, &data, &len);
            }
            if (r == WSC__ASM_NOMEM)
                return fail(c, WSC__CLOSE_INTERNAL, WSC_ENOMEM, "out of memory for a message");
            /* RFC 7692 8.1: limits apply to the inflated message; corrupt data is invalid data. */
            if (r == WSC__ASM_TOO_BIG)
                return fail(c, WSC__CLOSE_TOO_BIG, WSC_ETOOBIG,
                            "compressed message inflates past max_size");
            if (r == WSC__ASM_INVALID)
                return fail(c, WSC__CLOSE_INVALID_DATA, WSC_EPROTO,
                            "compressed message corrupt or not UTF-8");
            if (r == WSC__ASM_MORE)
                continue;
            /* Whole in one chunk, or assembled in the read buffer: it stays there until the next
               read. In a buffer of its own: held until wsc_client_done or the next read. */
            msg->type = (wsc_msg_type)ev.opcode;
            msg->data = data ? data : c->rbuf;
            msg->len = len;
            if (c->mmode == WSC__MB_POOL || c->mmode == WSC__MB_HEAP) {
                c->held_mode = c->mmode;
                c->held = c->mbuf;
                c->held_cap = c->mcap;
                c->mbuf = NULL;
                c->mcap = 0;
            }
            c->mmode = WSC__MB_NONE;
            return 0;
        }
        case WSC__EV_CONTROL:
            c->rstart += n;
            msg->type = (wsc_msg_type)ev.opcode;
            msg->data = ev.data;
            msg->len = ev.len;
            if (ev.opcode == WSC__OP_CLOSE) {
                msg->close_code = ev.close_code;
                msg->data = ev.reason ? (uint8_t *)ev.reason : ev.data + ev.len;
                msg->len = ev.reason_len;
                on_close_frame(c, ev.close_code, answer_close);
            }
            return 0;
        case WSC__EV_ERROR:
            return fail(c, ev.close_code, code_error(ev.close_code), wsc__reader_error(&c->reader));
        case WSC__EV_NEED_MORE:
            break;
        }
        int64_t idle = idle_due(c);
        int rc = read_more(c, ev.need, idle < deadline ? idle : deadline);
        if (rc == 0) {
            if (c->idle_ms) {
                c->heard_ms = wsc__clock_ms();
                c->idle_pinged = false;
            }
            continue;
        }
        if (rc == WSC_ETIMEDOUT && idle_due(c) <= wsc__clock_ms()) {
            rc = idle_fire(c);
            if (rc == 0)
                continue;
            return rc;
        }
        if (rc == WSC_ENOMEM)
            return fail(c, WSC__CLOSE_INTERNAL, rc, "out of memory for a message");
        if (rc == WSC_ETIMEDOUT) {
            /* The caller's own timeout: the message in progress is kept for the next call. */
            if (atomic_load(&c->state) != WSC__CS_CLOSING ||
                wsc__clock_ms() < atomic_load(&c->close_deadline))
                return rc;
            WSC__LOG(WSC_LOG_INFO, "client %s:%d: no close frame from the server in time", c->host,
                     c->port);
        }
        /* The stream ended or broke: without a close frame this is an abnormal closure (1006). */
        wsc__client_mark_closed(c, rc);
        return WSC_ECLOSED;
    }
}

int wsc__client_reader_claim(wsc_client *c)
{
    pthread_mutex_lock(&c->mu);
    /* wsc_client_close may be reading the server's answer: wait for it rather than read alongside.
     */
    while (c->reader_active && c->reader_known && !pthread_equal(c->reader_tid, pthread_self()) &&
           atomic_load(&c->state) == WSC__CS_CLOSING)
        pthread_cond_wait(&c->cond, &c->mu);
    int rc = 0;
    int st = atomic_load(&c->state);
    if (st == WSC__CS_NEW)
        rc = WSC_ESTATE;
    else if (c->reader_active)
        rc = st == WSC__CS_CLOSED ? WSC_ECLOSED : WSC_ESTATE;
    if (rc == 0) {
        c->reader_active = true;
        c->reader_known = true;
        c->reader_tid = pthread_self();
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

void wsc__client_reader_release(wsc_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->reader_active = false;
    c->reader_known = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

void wsc__client_drain(wsc_client *c)
{
    wsc_msg m;
    while (atomic_load(&c->state) != WSC__CS_CLOSED) {
        int rc = wsc__client_read_msg(c, &m, atomic_load(&c->close_deadline), false);
        if (rc == WSC_ETIMEDOUT) {
            wsc__client_mark_closed(c, WSC_ETIMEDOUT);
            break;
        }
        if (rc)
            break;
    }
    wsc__client_release(c);
}

/* ---- public reads ---- */

WSC_API int wsc_client_read_timeout(wsc_client *c, unsigned ms)
{
    if (!c)
        return WSC_EINVAL;
    c->read_timeout_ms = ms;
    return 0;
}

WSC_API int wsc_client_read(wsc_client *c, wsc_msg *msg)
{
    if (!c || !msg)
        return WSC_EINVAL;
    memset(msg, 0, sizeof *msg);
    int rc = wsc__client_reader_claim(c);
    if (rc)
        return rc;
    rc = wsc__client_read_msg(c, msg, wsc__deadline_in(c->read_timeout_ms, true), true);
    wsc__client_reader_release(c);
    return rc;
}

WSC_API void wsc_client_done(wsc_client *c, wsc_msg *msg)
{
    if (!c)
        return;
    if (msg && c->held && msg->data == c->held)
        wsc__client_release(c);
    if (msg) {
        msg->data = NULL;
        msg->len = 0;
    }
}

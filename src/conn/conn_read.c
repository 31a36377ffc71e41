/* The read side of a connection: where each read lands, frame parsing, message assembly, control
 * frames, and handing messages to the callbacks (inline or through the handler pool).
 *
 * Where bytes are read to, in order of preference:
 * - the middle of a message that spans reads: straight into the message buffer's free tail, so a
 *   large message is copied only by the kernel;
 * - otherwise the loop's shared receive buffer, after any bytes left over from the last read (at
 *   most one partial frame header or control frame, <= 139 bytes, copied to its front).
 * A complete message found in one read is handed to an inline callback in place (zero copy). A
 * callback on a pool thread needs bytes that outlive the read, so the message and what follows it
 * move to the connection's own `in` buffer (copied when they are small; when they fill much of the
 * receive buffer, the buffer itself goes to the connection and the loop reads on into a spare), and
 * parsing resumes from there when the callback returns. */
#include "conn/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn/hs.h"
#include "proto/assembler.h"
#include "proto/close.h"
#include "proto/close_handshake.h"
#include "proto/frame.h"
#include "util/log.h"

enum {
    RUN_AHEAD_MAX = 64,    /* messages a pool thread handles per hand-off */
    READS_PER_WAKE = 8,    /* then other connections get a turn (fairness) */
    MSG_TAIL_MIN = 4096,   /* read into a message's tail only with at least this much room */
    MSG_AHEAD_MIN = 65536, /* a message buffer may be this far ahead of the bytes received... */
    MSG_AHEAD_FACTOR = 8,  /* ...or this many times what arrived */
};

/* JOB_INIT's job_code: init accepted the connection but no 101 could follow (out of memory), so
   the close callback is owed although the request is answered with an error. */
enum { INIT_CLOSE_OWED = 0x8000 };

/* Where the bytes being parsed live. */
enum { R_RBUF, R_IN, R_MSG };

static uint8_t empty_payload[1];

static bool parsing(const wsc_conn *c)
{
    return (c->state == WSC__ST_OPEN || c->state == WSC__ST_CLOSING) &&
           !(c->flags & (WSC__F_BUSY | WSC__F_STALLED | WSC__F_PEER_CLOSED));
}

/* Returns buffers nothing needs any more: a message buffer between messages, an empty `in` (unless
   it is the connection's dedicated small buffer). */
static void maybe_release(wsc_conn *c)
{
    /* While BUSY the buffers are the pool thread's (conn.h): not even looked at. */
    if (c->flags & (WSC__F_BUSY | WSC__F_STALLED))
        return;
    wsc__owner_check(c);
    if (!c->msg.data && !c->in.data) /* the usual small message, read and answered in place */
        return;
    wsc__buffers *b = c->w->ctx->bufs;
    if (c->msg.data && c->msg_len == 0 && !wsc__reader_in_message(&c->rd) &&
        !wsc__conn_keep(c, &c->msg))
        wsc__buffers_put(b, &c->msg);
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        if (c->in.data &&
            !(c->w->ctx->keep_small && c->in.cap <= wsc__buffers_small_size(b)) &&
            !wsc__wctx_keep_spare(c->w, &c->in))
            wsc__buffers_put(b, &c->in);
    }
}

/* Bytes that must outlive a read and fill at least this fraction of the receive buffer take the
   buffer with them instead of being copied out of it. */
enum { HAND_OVER_FRACTION = 4 };

/* The receive buffer becomes the connection's `in`, holding base[from..len) where they were read,
   and the loop reads on into a spare. For a pool callback on a large message this saves copying the
   message; the connection holds a whole receive buffer only until its callback returns. */
static bool hand_over_rbuf(wsc_conn *c, size_t from, size_t len)
{
    wsc__wctx *w = c->w;
    uint8_t *spare = wsc__wctx_take_spare(w);
    if (!spare)
        return false;
    wsc__buffers_put(w->ctx->bufs, &c->in);
    c->in.data = w->rbuf;
    c->in.cap = w->rbuf_cap;
    c->in_off = (uint32_t)from;
    c->in_len = (uint32_t)len;
    w->rbuf = spare;
    return true;
}

/* Keeps base[from..len) (unparsed bytes) in `in`, from in_off on. */
static bool keep_rest(wsc_conn *c, uint8_t *base, size_t from, size_t len, int region)
{
    wsc__owner_check(c);
    if (region == R_IN) {
        c->in_off = (uint32_t)from;
        return true;
    }
    size_t n = len - from;
    if (n == 0)
        return true;
    if (base == c->w->rbuf && n >= c->w->rbuf_cap / HAND_OVER_FRACTION &&
        hand_over_rbuf(c, from, len))
        return true;
    /* `in` is empty here: its bytes were moved to the front of the receive buffer before the read. */
    if (wsc__buffers_grow(c->w->ctx->bufs, &c->in, n, 0) != 0)
        return false;
    memcpy(c->in.data, base + from, n);
    c->in_off = 0;
    c->in_len = (uint32_t)n;
    return true;
}

static void fail(wsc_conn *c, unsigned code)
{
    WSC__LOG(WSC_LOG_DEBUG, "closing connection with %u: %s", code, wsc__reader_error(&c->rd));
    wsc__conn_send_close(c, code, NULL, 0);
    /* Section 7.1.7: no more frames are read; the peer's FIN (after it read our close frame) or the
       timeout ends the connection. Closing now, with its bytes unread, would reset the connection
       and could destroy the close frame in flight. */
    c->state = WSC__ST_DRAIN;
    wsc__conn_set_deadline(c, WSC__CLOSE_TIMEOUT_S);
    if (c->msg.data) {
        c->msg_len = 0;
        wsc__buffers_put(c->w->ctx->bufs, &c->msg);
    }
}

static bool on_peer_close(wsc_conn *c, unsigned code, uint8_t *p, size_t n, uint8_t *base,
                          size_t *pos, size_t len, int region);

/* The loop's part after a callback (inline, or the pool's DONE). */
static void after_job(wsc_conn *c)
{
    wsc__owner_check(c);
    unsigned job = c->job;
    c->job = WSC__JOB_NONE;
    switch (job) {
    case WSC__JOB_INIT:
        wsc__conn_drop_hs(c);
        if (c->job_code == 0) {
            c->flags |= WSC__F_ACCEPTED;
            if (c->state == WSC__ST_HS) {
                c->state = WSC__ST_OPEN;
                if (c->w->stopping)
                    wsc__conn_send_close(c, WSC_CLOSE_GOING_AWAY, NULL, 0);
            }
        } else {
            c->flags |= WSC__F_REJECTED;
            if (c->job_code & INIT_CLOSE_OWED)
                c->flags |= WSC__F_ACCEPTED; /* init saw the connection as its own */
            if (c->state == WSC__ST_HS) {
                if (c->job_code == 1) {
                    wsc__conn_finish(c); /* WSC_REJECT_SILENT */
                    return;
                }
                c->state = WSC__ST_DRAIN;
                wsc__conn_set_deadline(c, WSC__CLOSE_TIMEOUT_S);
                wsc__conn_shut_if_drained(c);
            }
        }
        break;
    case WSC__JOB_CLOSE:
        c->state = WSC__ST_DONE;
        wsc__wctx_remove(c->w, c);
        return;
    case WSC__JOB_PEER_CLOSE:
        /* Met by a pool thread running ahead (wsc__conn_run_pool_job): the loop's business. */
        if (c->state == WSC__ST_OPEN || c->state == WSC__ST_CLOSING) {
            size_t pos = c->in_off;
            on_peer_close(c, c->job_code, c->job_data, c->job_len, c->in.data, &pos, c->in_len,
                          R_IN);
        }
        break;
    case WSC__JOB_FAIL:
        if (c->state == WSC__ST_OPEN || c->state == WSC__ST_CLOSING)
            fail(c, c->job_code);
        break;
    default:
        break;
    }
    wsc__conn_sync_state(c);
    wsc__conn_check_done(c);
}

/* Runs the job now (inline) or hands it to the pool. Returns true when parsing may go on. */
static bool dispatch(wsc_conn *c)
{
    wsc__ctx *x = c->w->ctx;
    if (!x->submit) {
        wsc__conn_run_job(c, &c->w->arena);
        after_job(c);
        return true;
    }
    /* What this loop wrote for the connection (pongs) goes out before anything the callback
       writes from its own thread: replies keep the order of the requests. */
    if (c->span_len)
        wsc__conn_flush_span(c);
    /* From here until the DONE request the parse state is the pool thread's: the caller must
       have left everything it needs in `in` or `msg` already, and must not touch them again. */
    wsc__owner_give(c);
    if (x->submit(x, c, false)) {
        c->flags |= WSC__F_BUSY;
        c->w->submitted = true;
        return false;
    }
    wsc__owner_take(c);
    /* Backlog full: this is the back pressure. The job waits here and the loop reads nothing until
       the pool has room again. */
    WSC__LOG(WSC_LOG_DEBUG, "handler backlog full: the worker stops reading");
    if (!wsc__wctx_stall(c->w, c)) {
        c->job = WSC__JOB_NONE;
        fail(c, WSC_CLOSE_INTERNAL);
    }
    return false;
}

/* Prepares a job whose payload p[0..n) lies in the region being parsed (base[..len), parsing
   resumes at *pos). Inline, the payload is used in place. For the pool, the payload and everything
   after it move to `in` (at most one copy; none when they are there already or take the receive
   buffer along, see keep_rest). */
static bool job_in_place(wsc_conn *c, unsigned job, uint8_t *p, size_t n, uint8_t *base,
                         size_t *pos, size_t len, int region)
{
    c->job = (uint8_t)job;
    c->job_data = n ? p : empty_payload;
    c->job_len = n;
    if (c->w->ctx->submit && region != R_IN) {
        size_t from = (size_t)(p - base);
        size_t skip = *pos - from;
        if (!keep_rest(c, base, from, len, region)) {
            c->job = WSC__JOB_NONE;
            fail(c, WSC_CLOSE_INTERNAL);
            return false;
        }
        c->job_data = n ? c->in.data + c->in_off : empty_payload;
        c->in_off += (uint32_t)skip;
        *pos = len; /* nothing left in the region: it all lives in `in` now */
    } else if (region == R_IN) {
        c->in_off = (uint32_t)*pos;
    }
    return dispatch(c);
}

/* Payload length declared by the frame header at h (already validated by the reader). */
static uint64_t header_payload_len(const uint8_t *h)
{
    unsigned l7 = h[1] & 0x7fu;
    uint64_t n = 0;
    if (l7 < 126)
        return l7;
    for (int i = 0, k = l7 == 126 ? 2 : 8; i < k; i++)
        n = n << 8 | h[2 + i];
    return n;
}

/* Makes room in `msg` for at least need bytes. Sized ahead of the bytes, to what the frame
   declares, so that a large message is not copied again and again as it grows; but never more than
   MSG_AHEAD_FACTOR times what arrived (or MSG_AHEAD_MIN): a peer that declares a large frame and
   sends little cannot make us hold much more than it sent (STYLE: grow as bytes arrive). */
static bool msg_reserve(wsc_conn *c, size_t need)
{
    const wsc__ctx *x = c->w->ctx;
    size_t want = c->msg_len + c->frame_rest;
    size_t ahead = c->msg_len > MSG_AHEAD_MIN / MSG_AHEAD_FACTOR ? c->msg_len * MSG_AHEAD_FACTOR
                                                                  : MSG_AHEAD_MIN;
    if (want > ahead)
        want = ahead;
    if (want > x->max_message)
        want = x->max_message;
    if (want < need)
        want = need;
    if (c->msg.data && c->msg.cap >= want)
        return true;
    return wsc__buffers_grow(x->bufs, &c->msg, want, c->msg_len) == 0;
}

/* Keeps frame_rest (the current frame's declared payload still to come) up to date. */
static void track_frame(wsc_conn *c, const wsc__event *ev, size_t used)
{
    if (ev->last) /* the message, hence its frame, is complete: no header to decode again */
        c->frame_rest = 0;
    else if (used > ev->len) /* this chunk starts a frame: its header precedes the payload */
        c->frame_rest = (uint32_t)(header_payload_len(ev->data - (used - ev->len)) - ev->len);
    else
        c->frame_rest -= (uint32_t)ev->len;
}

/* The message assembler's store (proto/assembler.h): the connection's message buffer. A chunk read
   into the buffer's own tail (maybe behind a frame header) fits, at or before where it lies, and
   the buffer must not move under it; otherwise the buffer grows as bytes arrive, never by what the
   peer merely declares. */
static uint8_t *msg_room(void *ctx, size_t have, size_t need, const uint8_t *chunk)
{
    wsc_conn *c = ctx;
    (void)have;
    if (!chunk || (c->msg.data && chunk >= c->msg.data && chunk < c->msg.data + c->msg.cap))
        return c->msg.data;
    return msg_reserve(c, need) ? c->msg.data : NULL;
}

/* Adds a chunk of a message that spans frames or reads to `msg`; a complete message becomes the
   pending job. Only the connection's current owner (the loop, or the pool thread running its
   callback) calls it. */
static enum wsc__asm_result add_chunk(wsc_conn *c, const wsc__event *ev)
{
    wsc__owner_check(c);
    const wsc__asm_store store = {msg_room, c};
    uint8_t *data;
    size_t len;
    enum wsc__asm_result r = wsc__asm_add(&c->msg_len, ev, &store, &data, &len);
    if (r == WSC__ASM_DONE) {
        c->job = WSC__JOB_MSG;
        c->job_code = (uint16_t)ev->opcode;
        c->job_data = data ? data : empty_payload;
        c->job_len = len;
    }
    return r;
}

static int call_message(wsc_conn *c, const wsc__ctx *x, wsc_arena *arena, unsigned type,
                        uint8_t *data, size_t len)
{
    wsc_msg m = {.type = (wsc_msg_type)type, .data = data, .len = len, .arena = arena};
    return x->h.message(c, c->user, &m);
}

/* Inline handlers and a message whole in one frame, the common case: the callback gets the bytes
   where they were read, with none of the job bookkeeping a pool hand-off needs. */
static bool deliver_inline(wsc_conn *c, const wsc__event *ev)
{
    wsc__wctx *w = c->w;
    if (call_message(c, w->ctx, &w->arena, ev->opcode, ev->len ? ev->data : empty_payload,
                     ev->len) != 0)
        wsc_conn_close(c, WSC_CLOSE_INTERNAL, NULL);
    wsc__arena_reset(&w->arena);
    if (ev->data == c->msg.data)
        c->msg_len = 0;
    /* Usually the connection is still open both ways and there is nothing to move on. */
    if (c->state != WSC__ST_OPEN ||
        atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN) {
        wsc__conn_sync_state(c);
        wsc__conn_check_done(c);
    }
    return true;
}

static bool on_data(wsc_conn *c, const wsc__event *ev, size_t used, uint8_t *base, size_t *pos,
                    size_t len, int region)
{
    track_frame(c, ev, used);
    if (c->state == WSC__ST_CLOSING) {
        /* After our close frame, data is not delivered (section 1.4: the closing endpoint discards
           what arrives until the peer's close). */
        c->msg_len = 0;
        return true;
    }
    if (ev->first && ev->last) {
        if (!c->w->ctx->submit && region != R_IN)
            return deliver_inline(c, ev);
        c->job_code = (uint16_t)ev->opcode;
        return job_in_place(c, WSC__JOB_MSG, ev->data, ev->len, base, pos, len, region);
    }
    enum wsc__asm_result r = add_chunk(c, ev);
    if (r == WSC__ASM_NOMEM) {
        fail(c, WSC_CLOSE_INTERNAL);
        return false;
    }
    if (r == WSC__ASM_MORE)
        return true;
    if (c->w->ctx->submit) {
        /* The message is in `msg`; what follows it in this region moves to `in`. */
        if (!keep_rest(c, base, *pos, len, region)) {
            fail(c, WSC_CLOSE_INTERNAL);
            return false;
        }
        if (region != R_IN)
            *pos = len;
    }
    return dispatch(c);
}

/* The peer's close frame (payload p[0..n), already validated). */
static bool on_peer_close(wsc_conn *c, unsigned code, uint8_t *p, size_t n, uint8_t *base,
                          size_t *pos, size_t len, int region)
{
    c->flags |= WSC__F_PEER_CLOSED;
    if (c->state == WSC__ST_CLOSING || !c->w->ctx->h.client_close) {
        /* No callback: answer at once (close_handshake.h), unless ours went out first; then the
           server closes TCP (7.1.1). */
        if (c->state == WSC__ST_OPEN)
            wsc__conn_send_close(c, wsc__close_answer_code(code, 0), NULL, 0);
        c->state = WSC__ST_DRAIN;
        wsc__conn_set_deadline(c, WSC__CLOSE_TIMEOUT_S);
        if (c->msg.data) {
            c->msg_len = 0;
            wsc__buffers_put(c->w->ctx->bufs, &c->msg);
        }
        return false;
    }
    c->job_code = (uint16_t)code;
    wsc__conn_set_deadline(c, WSC__CLOSE_TIMEOUT_S);
    return job_in_place(c, WSC__JOB_CLOSE_FRAME, p, n, base, pos, len, region);
}

static bool on_control(wsc_conn *c, const wsc__event *ev, uint8_t *base, size_t *pos, size_t len,
                       int region)
{
    const wsc_handler *h = &c->w->ctx->h;
    switch (ev->opcode) {
    case WSC__OP_PING:
        if (c->state != WSC__ST_OPEN)
            return true;
        if (!h->client_ping) {
            wsc_conn_pong(c, ev->data, ev->len); /* section 5.5.2 */
            return true;
        }
        return job_in_place(c, WSC__JOB_PING, ev->data, ev->len, base, pos, len, region);
    case WSC__OP_PONG:
        if (!h->client_pong || c->state != WSC__ST_OPEN)
            return true;
        return job_in_place(c, WSC__JOB_PONG, ev->data, ev->len, base, pos, len, region);
    case WSC__OP_CLOSE:
        return on_peer_close(c, ev->close_code, ev->data, ev->len, base, pos, len, region);
    default:
        return true;
    }
}

/* Parses base[pos..len) until it needs more bytes or must stop; keeps the rest in `in`. */
static void parse(wsc_conn *c, uint8_t *base, size_t pos, size_t len, int region)
{
    wsc__owner_check(c);
    /* Nothing left: the reader could only answer NEED_MORE (it reports an empty frame with its
       header, and an error on the call that found it). */
    while (pos < len && parsing(c)) {
        wsc__event ev;
        size_t used = wsc__reader_next(&c->rd, base + pos, len - pos, &ev);
        if (ev.kind == WSC__EV_NEED_MORE)
            break;
        if (ev.kind == WSC__EV_ERROR) {
            fail(c, ev.close_code);
            return;
        }
        pos += used;
        wsc__conn_heard(c);
        bool go_on = ev.kind == WSC__EV_DATA ? on_data(c, &ev, used, base, &pos, len, region)
                                             : on_control(c, &ev, base, &pos, len, region);
        if (!go_on)
            break;
    }
    /* A job went to the pool (or waits for room in its backlog): the bytes after it were put in
       `in` before the hand-off, and from then on the parse state is the pool thread's, which may
       be parsing them already. Not one more write here. */
    if (c->flags & (WSC__F_BUSY | WSC__F_STALLED))
        return;
    if (c->state <= WSC__ST_CLOSING && (pos < len || region == R_IN) &&
        !keep_rest(c, base, pos, len, region))
        fail(c, WSC_CLOSE_INTERNAL);
}

/* ---- the handshake ---- */

static void hs_fail(wsc_conn *c, int status)
{
    size_t n = 0;
    char *resp = wsc__hs_response_error(status, &n);
    WSC__LOG(WSC_LOG_DEBUG, "handshake refused (%d): %s", status,
             wsc__hs_err_str(c->hs->req.err));
    if (resp) {
        wsc__conn_send_raw(c, resp, n);
        free(resp);
    }
    wsc__conn_drop_hs(c);
    wsc__lock_acquire(&c->lock);
    atomic_store_explicit(&c->wstate, WSC__W_CLOSING, memory_order_release);
    wsc__lock_release(&c->lock);
    wsc__conn_shut_if_drained(c);
    c->state = WSC__ST_DRAIN;
    wsc__conn_set_deadline(c, WSC__CLOSE_TIMEOUT_S);
}

/* A receive that ends the read loop on EOF, errors and EAGAIN. Returns the byte count, or -1. */
static ssize_t hs_recv(wsc_conn *c, void *dst, size_t want)
{
    for (;;) {
        ssize_t n = recv(c->fd, dst, want, 0);
        if (n > 0) {
            if ((size_t)n < want && !(c->flags & WSC__F_HUP))
                c->flags &= (uint16_t)~WSC__F_RD_PENDING;
            return n;
        }
        if (n < 0 && errno == EINTR)
            continue;
        c->flags &= (uint16_t)~WSC__F_RD_PENDING;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            wsc__conn_finish(c);
        return -1;
    }
}

/* The request is complete in buf[0..len) (c->hs parsed it): hand it to init. */
static bool hs_complete(wsc_conn *c, const uint8_t *buf, size_t len)
{
    /* Frames a client sent right behind its request belong to the WebSocket stream. */
    size_t extra = len - c->hs->req.len;
    if (extra) {
        if (wsc__buffers_grow(c->w->ctx->bufs, &c->in, extra, 0) != 0) {
            wsc__conn_finish(c);
            return false;
        }
        memcpy(c->in.data, buf + c->hs->req.len, extra);
        c->in_off = 0;
        c->in_len = (uint32_t)extra;
    }
    wsc__conn_set_deadline(c, 0);
    c->job = WSC__JOB_INIT;
    c->job_code = 0;
    dispatch(c);
    if (c->state == WSC__ST_OPEN && c->in_len > c->in_off)
        parse(c, c->in.data, c->in_off, c->in_len, R_IN);
    maybe_release(c);
    return c->state == WSC__ST_OPEN && (c->flags & WSC__F_RD_PENDING);
}

/* Returns true to read again. */
static bool read_handshake(wsc_conn *c)
{
    wsc__wctx *w = c->w;
    wsc__hs_pool *pool = w->ctx->hs_pool;
    wsc_handshake *hs = c->hs;
    enum wsc__hs_result r;

    if (!hs && w->scratch) {
        /* Usually the whole request comes in the first read: parse it where it landed, in the
           loop's receive buffer, with the loop's handshake object. Nothing per connection. */
        ssize_t n = hs_recv(c, w->rbuf, w->rbuf_cap);
        if (n < 0)
            return false;
        hs = w->scratch;
        hs->fd = c->fd;
        r = wsc__http_request_parse(&hs->req, (char *)w->rbuf, (size_t)n);
        if (r == WSC__HS_COMPLETE || r == WSC__HS_ERROR) {
            c->hs = hs;
            if (r == WSC__HS_ERROR) {
                hs_fail(c, hs->req.http_status);
                return false;
            }
            return hs_complete(c, w->rbuf, (size_t)n);
        }
        /* A request in pieces: its bytes wait in an object of its own. */
        wsc__hs_reset(pool, hs);
        if (!(c->hs = wsc__hs_acquire(pool))) {
            wsc__conn_finish(c);
            return false;
        }
        memcpy(c->hs->buf, w->rbuf, (size_t)n); /* n < max_size, or the parser had failed */
        c->hs->len = (size_t)n;
        c->hs->fd = c->fd;
        r = wsc__http_request_parse(&c->hs->req, c->hs->buf, c->hs->len);
        return r == WSC__HS_INCOMPLETE && (c->flags & WSC__F_RD_PENDING);
    }
    if (!hs) {
        if (!(hs = c->hs = wsc__hs_acquire(pool))) {
            wsc__conn_finish(c);
            return false;
        }
        hs->fd = c->fd;
    }
    size_t want = hs->cap - hs->len;
    if (want) {
        ssize_t n = hs_recv(c, hs->buf + hs->len, want);
        if (n < 0)
            return false;
        hs->len += (size_t)n;
    }
    r = wsc__http_request_parse(&hs->req, hs->buf, hs->len);
    if (r == WSC__HS_INCOMPLETE && hs->len < hs->cap)
        return (c->flags & WSC__F_RD_PENDING) != 0;
    if (r != WSC__HS_COMPLETE) {
        hs_fail(c, r == WSC__HS_ERROR ? hs->req.http_status : 431);
        return false;
    }
    return hs_complete(c, (const uint8_t *)hs->buf, hs->len);
}

/* ---- reading ---- */

static bool can_read(const wsc_conn *c)
{
    return c->state <= WSC__ST_DRAIN && !(c->flags & (WSC__F_BUSY | WSC__F_STALLED)) &&
           !c->w->stalled && (c->flags & WSC__F_RD_PENDING);
}

/* One read and its parsing. Returns true to read again. */
static bool read_once(wsc_conn *c)
{
    wsc__wctx *w = c->w;
    uint8_t *dst;
    size_t cap, pre = 0;
    int region;

    if (c->state == WSC__ST_DRAIN || (c->flags & WSC__F_PEER_CLOSED)) {
        dst = w->rbuf; /* only waiting for the FIN: discard */
        cap = w->rbuf_cap;
        region = -1;
    } else if (c->msg.data && c->in_off == c->in_len && wsc__reader_in_message(&c->rd) &&
               c->frame_rest >= MSG_TAIL_MIN &&
               msg_reserve(c, c->msg_len + MSG_TAIL_MIN)) {
        /* The rest of a large frame goes straight to its place in the message. */
        dst = c->msg.data + c->msg_len;
        cap = c->msg.cap - c->msg_len;
        region = R_MSG;
    } else {
        pre = c->in_len - c->in_off;
        if (pre)
            memcpy(w->rbuf, c->in.data + c->in_off, pre);
        c->in_off = c->in_len = 0;
        dst = w->rbuf + pre;
        cap = w->rbuf_cap - pre;
        region = R_RBUF;
    }

    ssize_t n = recv(c->fd, dst, cap, 0);
    if (n <= 0) {
        if (n < 0 && errno == EINTR) {
            if (pre)
                keep_rest(c, w->rbuf, 0, pre, R_RBUF);
            return true;
        }
        c->flags &= (uint16_t)~WSC__F_RD_PENDING;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (pre)
                keep_rest(c, w->rbuf, 0, pre, R_RBUF);
            return false;
        }
        /* EOF or a reset. Inline writes of this iteration still go out to a half-closed peer. */
        c->flags |= WSC__F_EOF;
        if (c->span_len)
            wsc__conn_flush_span(c);
        wsc__conn_finish(c);
        return false;
    }
    /* A short read means the socket was drained: an edge-triggered poller reports the next
       arrival, so no extra read is spent to see EAGAIN. Not so for a FIN that was already
       reported: no new edge would announce it. */
    if ((size_t)n < cap && !(c->flags & WSC__F_HUP))
        c->flags &= (uint16_t)~WSC__F_RD_PENDING;
    if (region < 0)
        return (c->flags & WSC__F_RD_PENDING) != 0;
    if (region == R_MSG)
        parse(c, dst, 0, (size_t)n, R_MSG);
    else
        parse(c, w->rbuf, 0, pre + (size_t)n, R_RBUF);
    maybe_release(c);
    wsc__conn_check_done(c);
    return (c->flags & WSC__F_RD_PENDING) != 0;
}

void wsc__conn_on_readable(wsc_conn *c)
{
    c->flags |= WSC__F_RD_PENDING;
    for (int i = 0; can_read(c); i++) {
        if (i == READS_PER_WAKE) {
            wsc__wctx_ready(c->w, c);
            return;
        }
        bool again = c->state == WSC__ST_HS ? read_handshake(c) : read_once(c);
        if (!again)
            return;
    }
    if (c->w->stalled && (c->flags & WSC__F_RD_PENDING) && c->state <= WSC__ST_DRAIN)
        wsc__wctx_ready(c->w, c);
}

/* Runs an owed drain callback when no other callback runs. Returns true when it went to the pool:
   its DONE resumes parsing. */
static bool run_drain_if_due(wsc_conn *c)
{
    if (!(c->flags & WSC__F_DRAIN_DUE) || (c->flags & (WSC__F_BUSY | WSC__F_STALLED)))
        return false;
    c->flags &= (uint16_t)~WSC__F_DRAIN_DUE;
    if (c->state != WSC__ST_OPEN ||
        atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN)
        return false;
    c->job = WSC__JOB_DRAIN;
    return !dispatch(c);
}

void wsc__conn_drain_due(wsc_conn *c)
{
    c->flags |= WSC__F_DRAIN_DUE;
    run_drain_if_due(c);
}

/* After a pool callback: parse what waited in `in`, then read again if the socket had more. */
static void resume(wsc_conn *c)
{
    if (c->in_len > c->in_off && parsing(c))
        parse(c, c->in.data, c->in_off, c->in_len, R_IN);
    maybe_release(c);
    wsc__conn_check_done(c);
    if (can_read(c))
        wsc__conn_on_readable(c);
}

void wsc__conn_on_request(wsc_conn *c, uint32_t bits)
{
    if (bits & WSC__REQ_DONE) {
        wsc__owner_take(c); /* the pool thread let go before it posted DONE */
        c->flags &= (uint16_t)~WSC__F_BUSY;
        after_job(c);
        if (c->state == WSC__ST_DONE)
            return;
        if (c->state == WSC__ST_DEAD) {
            wsc__conn_finish(c); /* it ended while the callback ran: now close can follow */
            return;
        }
        if (!run_drain_if_due(c))
            resume(c);
    }
    if ((bits & WSC__REQ_CLOSE) && c->state < WSC__ST_DEAD) {
        wsc__conn_sync_state(c);
        wsc__conn_check_done(c);
    }
}

bool wsc__conn_retry_stalled(wsc_conn *c)
{
    wsc__ctx *x = c->w->ctx;
    wsc__owner_give(c);
    if (!x->submit(x, c, false)) {
        wsc__owner_take(c);
        return false;
    }
    c->w->submitted = true;
    c->flags &= (uint16_t)~WSC__F_STALLED;
    c->flags |= WSC__F_BUSY;
    return true;
}

/* ---- running callbacks ---- */

static void run_init(wsc_conn *c, const wsc__ctx *x)
{
    wsc_handshake *hs = c->hs;
    int rc = x->h.init ? x->h.init(hs, c, x->app, &c->user) : 0;
    size_t n = 0;
    char *resp;

    bool accepted = rc == 0;
    if (accepted) {
        resp = wsc__hs_response_101(hs, &n);
        if (!resp) {
            rc = 500; /* out of memory: init accepted, so close is owed all the same */
        } else {
            wsc__conn_send_raw(c, resp, n);
            free(resp);
            c->job_code = 0;
            if (x->h.after_init && x->h.after_init(c, c->user, x->app) != 0)
                wsc_conn_close(c, WSC_CLOSE_INTERNAL, NULL);
            return;
        }
    }
    if (rc == WSC_REJECT_SILENT) {
        c->job_code = 1;
        return;
    }
    int status = rc >= 400 && rc <= 599 ? rc : 400;
    c->job_code = (uint16_t)(status | (accepted ? INIT_CLOSE_OWED : 0));
    /* With what init added: a 401's WWW-Authenticate, a 503's Retry-After. */
    resp = wsc__hs_response_error_with(hs, status, &n);
    if (resp) {
        wsc__conn_send_raw(c, resp, n);
        free(resp);
    }
    /* Nothing else may follow the error response: shut the write side once it is out. */
    wsc__lock_acquire(&c->lock);
    atomic_store_explicit(&c->wstate, WSC__W_CLOSING, memory_order_release);
    wsc__lock_release(&c->lock);
}

/* Pool thread, connection BUSY: the parse state belongs to this thread until DONE. Handles what
   needs no loop (complete messages, pings, pongs) and leaves the rest: bytes still to read, an
   error (the reader repeats it to the loop), the peer's close (recorded as a job). */
static void run_ahead(wsc_conn *c, wsc_arena *arena)
{
    const wsc_handler *h = &c->w->ctx->h;
    for (int budget = RUN_AHEAD_MAX; budget > 0;) {
        c->job = WSC__JOB_NONE;
        if (atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN ||
            c->in_off == c->in_len)
            return;
        wsc__event ev;
        size_t used =
            wsc__reader_next(&c->rd, c->in.data + c->in_off, c->in_len - c->in_off, &ev);
        if (ev.kind == WSC__EV_NEED_MORE || ev.kind == WSC__EV_ERROR)
            return;
        c->in_off += (uint32_t)used;
        if (ev.kind == WSC__EV_DATA) {
            track_frame(c, &ev, used);
            if (ev.first && ev.last) {
                c->job = WSC__JOB_MSG;
                c->job_code = (uint16_t)ev.opcode;
                c->job_data = ev.len ? ev.data : empty_payload;
                c->job_len = ev.len;
            } else {
                enum wsc__asm_result r = add_chunk(c, &ev);
                if (r == WSC__ASM_NOMEM) {
                    c->job = WSC__JOB_FAIL;
                    c->job_code = WSC_CLOSE_INTERNAL;
                    return;
                }
                if (r == WSC__ASM_MORE)
                    continue;
            }
        } else if (ev.opcode == WSC__OP_PING) {
            if (!h->client_ping) {
                wsc_conn_pong(c, ev.data, ev.len);
                continue;
            }
            c->job = WSC__JOB_PING;
        } else if (ev.opcode == WSC__OP_PONG) {
            if (!h->client_pong)
                continue;
            c->job = WSC__JOB_PONG;
        } else {
            c->job = WSC__JOB_PEER_CLOSE;
            c->job_code = (uint16_t)ev.close_code;
        }
        if (ev.kind == WSC__EV_CONTROL) {
            c->job_data = ev.len ? ev.data : empty_payload;
            c->job_len = ev.len;
            if (c->job == WSC__JOB_PEER_CLOSE)
                return;
        }
        wsc__conn_run_job(c, arena);
        budget--;
    }
}

void wsc__conn_run_pool_job(wsc_conn *c, wsc_arena *arena)
{
    wsc__owner_take(c);
    bool ahead = c->job == WSC__JOB_MSG || c->job == WSC__JOB_PING || c->job == WSC__JOB_PONG;
    if (!ahead) {
        wsc__conn_run_job(c, arena);
    } else {
        wsc__batch_begin(c);
        wsc__conn_run_job(c, arena);
        run_ahead(c, arena);
        wsc__batch_end(c);
    }
    /* Before the caller posts DONE: from then on the loop owns the parse state again. */
    wsc__owner_give(c);
}

void wsc__conn_run_job(wsc_conn *c, wsc_arena *arena)
{
    wsc__owner_check(c);
    const wsc__ctx *x = c->w->ctx;
    int rc = 0;
    switch (c->job) {
    case WSC__JOB_INIT:
        run_init(c, x);
        break;
    case WSC__JOB_MSG:
        rc = call_message(c, x, arena, c->job_code, c->job_data, c->job_len);
        break;
    case WSC__JOB_PING:
        rc = x->h.client_ping(c, c->user, c->job_data, c->job_len);
        break;
    case WSC__JOB_PONG:
        rc = x->h.client_pong(c, c->user, c->job_data, c->job_len);
        break;
    case WSC__JOB_CLOSE_FRAME: {
        const uint8_t *reason = c->job_len > 2 ? c->job_data + 2 : NULL;
        size_t rlen = c->job_len > 2 ? c->job_len - 2 : 0;
        rc = x->h.client_close(c, c->user, c->job_code, reason, rlen);
        /* The answer is owed whatever the callback did; nothing when it closed itself. After any
           frame it wrote, and before the loop sees the job done. */
        wsc__conn_send_close(c, wsc__close_answer_code(c->job_code, rc), NULL, 0);
        rc = 0;
        break;
    }
    case WSC__JOB_CLOSE:
        x->h.close(c, c->user);
        break;
    case WSC__JOB_DRAIN:
        rc = x->h.drain(c, c->user);
        break;
    default:
        break;
    }
    /* A callback that fails closes the connection, as an error from a websocket.zig handler does. */
    if (rc != 0)
        wsc_conn_close(c, WSC_CLOSE_INTERNAL, NULL);
    wsc__arena_reset(arena);
}

/* Where each read of an open connection lands, and what is kept between reads.
 *
 * In order of preference:
 * - the middle of a message that spans reads: straight into the message buffer's free tail, so a
 *   large message is copied only by the kernel;
 * - otherwise the loop's shared receive buffer, after any bytes left over from the last read (at
 *   most one partial frame header or control frame, <= 139 bytes, copied to its front).
 * A complete message found in one read is handed to an inline callback in place (zero copy). A
 * callback on a pool thread needs bytes that outlive the read, so the message and what follows it
 * move to the connection's own `in` buffer (copied when they are small; when they fill much of the
 * receive buffer, the buffer itself goes to the connection and the loop reads on into a spare), and
 * parsing resumes from there when the callback returns. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "conn/read.h"
#include "conn/sock.h"

enum {
    READS_PER_WAKE = 8,    /* then other connections get a turn (fairness) */
    MSG_TAIL_MIN = 4096,   /* read into a message's tail only with at least this much room */
    MSG_AHEAD_MIN = 65536, /* a message buffer may be this far ahead of the bytes received... */
    MSG_AHEAD_FACTOR = 8,  /* ...or this many times what arrived */
};

/* Returns buffers nothing needs any more: a message buffer between messages, an empty `in` (unless
   it is the connection's dedicated small buffer). */
void wsc__conn_maybe_release(wsc_conn *c)
{
    /* While BUSY the buffers are the pool thread's (conn.h): not even looked at. */
    if (c->flags & (WSC__F_BUSY | WSC__F_STALLED))
        return;
    wsc__owner_check(c);
    if (!c->msg.data && !c->in.data) /* the usual small message, read and answered in place */
        return;
    wsc__buffers *b = c->w->ctx->bufs;
    if (c->msg.data && c->msg_len == 0 && !wsc__reader_in_message(&c->rd)) {
        /* A big buffer stays a while after its last use (conn.h), counted from a use, not from
           every read: small messages that never touch it let it go on time. */
        bool used = c->msg_used;
        c->msg_used = false;
        if (used ? !wsc__conn_keep(c, &c->msg) : !(c->flags & WSC__F_KEPT))
            wsc__buffers_put(b, &c->msg);
        else if (!used && c->w->now - c->kept_at >= WSC__KEEP_SECONDS)
            wsc__conn_trim(c); /* the sweep may have found the connection busy each time */
    }
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
bool wsc__conn_keep_rest(wsc_conn *c, uint8_t *base, size_t from, size_t len, int region)
{
    wsc__owner_check(c);
    if (region == WSC__R_IN) {
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

/* The message assembler's store (proto/assembler.h): the connection's message buffer. A chunk read
   into the buffer's own tail (maybe behind a frame header) fits, at or before where it lies, and
   the buffer must not move under it; otherwise the buffer grows as bytes arrive, never by what the
   peer merely declares. */
static uint8_t *msg_room(void *ctx, size_t have, size_t need, const uint8_t *chunk)
{
    wsc_conn *c = ctx;
    (void)have;
    if (!chunk)
        return c->msg.data;
    c->msg_used = true;
    if (c->msg.data && chunk >= c->msg.data && chunk < c->msg.data + c->msg.cap)
        return c->msg.data;
    return msg_reserve(c, need) ? c->msg.data : NULL;
}

/* A complete message becomes the pending job. */
static enum wsc__asm_result msg_job(wsc_conn *c, const wsc__event *ev, enum wsc__asm_result r,
                                    uint8_t *data, size_t len)
{
    if (r == WSC__ASM_DONE) {
        c->job = WSC__JOB_MSG;
        c->job_code = (uint16_t)ev->opcode;
        c->job_data = data ? data : wsc__empty_payload;
        c->job_len = len;
    }
    return r;
}

/* Adds a chunk of a message that spans frames or reads to `msg`; a complete message becomes the
   pending job. Only the connection's current owner (the loop, or the pool thread running its
   callback) calls it. */
enum wsc__asm_result wsc__conn_add_chunk(wsc_conn *c, const wsc__event *ev)
{
    wsc__owner_check(c);
    const wsc__asm_store store = {msg_room, c};
    uint8_t *data = NULL;
    size_t len = 0;
    enum wsc__asm_result r = wsc__asm_add(&c->msg_len, ev, &store, &data, &len);
    return msg_job(c, ev, r, data, len);
}

enum wsc__asm_result wsc__conn_add_compressed(wsc_conn *c, const wsc__event *ev)
{
    wsc__owner_check(c);
    const wsc__asm_store store = {msg_room, c};
    uint8_t *data = NULL;
    size_t len = 0;
    const wsc__ctx *x = c->w->ctx;
    enum wsc__asm_result r =
        wsc__asm_add_compressed(&c->msg_len, ev, &store, &c->pmd->in, x->max_message,
                                (x->reader_flags & WSC__READER_UTF8) != 0, &data, &len);
    return msg_job(c, ev, r, data, len);
}

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
    } else if (c->msg.data && !c->pmd && c->in_off == c->in_len && wsc__reader_in_message(&c->rd) &&
               c->frame_rest >= MSG_TAIL_MIN && msg_reserve(c, c->msg_len + MSG_TAIL_MIN)) {
        /* The rest of a large frame goes straight to its place in the message. */
        dst = c->msg.data + c->msg_len;
        cap = c->msg.cap - c->msg_len;
        region = WSC__R_MSG;
    } else {
        pre = c->in_len - c->in_off;
        if (pre)
            memcpy(w->rbuf, c->in.data + c->in_off, pre);
        c->in_off = c->in_len = 0;
        dst = w->rbuf + pre;
        cap = w->rbuf_cap - pre;
        region = WSC__R_RBUF;
    }

    ssize_t n = wsc__conn_recv(c, dst, cap);
    if (n <= 0) {
        if (n < 0 && errno == EINTR) {
            if (pre)
                wsc__conn_keep_rest(c, w->rbuf, 0, pre, WSC__R_RBUF);
            return true;
        }
        c->flags &= (uint16_t)~WSC__F_RD_PENDING;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (pre)
                wsc__conn_keep_rest(c, w->rbuf, 0, pre, WSC__R_RBUF);
            return false;
        }
        wsc__conn_on_eof(c, n < 0);
        return false;
    }
    /* A short read means the socket was drained: an edge-triggered poller reports the next
       arrival, so no extra read is spent to see EAGAIN. Not so for a FIN that was already
       reported: no new edge would announce it. */
    if ((size_t)n < cap && !(c->flags & WSC__F_HUP))
        c->flags &= (uint16_t)~WSC__F_RD_PENDING;
    if (region < 0) { /* discarded: only waiting for the end */
        c->flags |= WSC__F_TRAILING;
        wsc__conn_check_done(c);
        return (c->flags & WSC__F_RD_PENDING) != 0;
    }
    if (region == WSC__R_MSG)
        wsc__conn_parse(c, dst, 0, (size_t)n, WSC__R_MSG);
    else
        wsc__conn_parse(c, w->rbuf, 0, pre + (size_t)n, WSC__R_RBUF);
    wsc__conn_maybe_release(c);
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
        bool again = c->state == WSC__ST_HS ? wsc__conn_read_handshake(c) : read_once(c);
        if (!again)
            return;
    }
    if (c->w->stalled && (c->flags & WSC__F_RD_PENDING) && c->state <= WSC__ST_DRAIN)
        wsc__wctx_ready(c->w, c);
}

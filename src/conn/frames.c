/* Frame dispatch: what each frame the reader reports does to an open connection. Data frames
 * build messages (proto/assembler.h), control frames are answered or handed to their callbacks,
 * the peer's close starts our side of the close handshake, and a complete message goes to its
 * callback: in place for inline handlers, through `in` and the job for the pool. */
#include <string.h>

#include "conn/read.h"
#include "proto/close.h"
#include "proto/close_handshake.h"
#include "proto/frame.h"
#include "util/log.h"

uint8_t wsc__empty_payload[1];

void wsc__conn_fail(wsc_conn *c, unsigned code)
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

/* Prepares a job whose payload p[0..n) lies in the region being parsed (base[..len), parsing
   resumes at *pos). Inline, the payload is used in place. For the pool, the payload and everything
   after it move to `in` (at most one copy; none when they are there already or take the receive
   buffer along, see keep_rest). */
static bool job_in_place(wsc_conn *c, unsigned job, uint8_t *p, size_t n, uint8_t *base,
                         size_t *pos, size_t len, int region)
{
    c->job = (uint8_t)job;
    c->job_data = n ? p : wsc__empty_payload;
    c->job_len = n;
    if (c->w->ctx->submit && region != WSC__R_IN) {
        size_t from = (size_t)(p - base);
        size_t skip = *pos - from;
        if (!wsc__conn_keep_rest(c, base, from, len, region)) {
            c->job = WSC__JOB_NONE;
            wsc__conn_fail(c, WSC_CLOSE_INTERNAL);
            return false;
        }
        c->job_data = n ? c->in.data + c->in_off : wsc__empty_payload;
        c->in_off += (uint32_t)skip;
        *pos = len; /* nothing left in the region: it all lives in `in` now */
    } else if (region == WSC__R_IN) {
        c->in_off = (uint32_t)*pos;
    }
    return wsc__conn_dispatch(c);
}

/* Inline handlers and a message whole in one frame, the common case: the callback gets the bytes
   where they were read, with none of the job bookkeeping a pool hand-off needs. */
static bool deliver_inline(wsc_conn *c, const wsc__event *ev)
{
    wsc__wctx *w = c->w;
    if (wsc__conn_call_message(c, w->ctx, &w->arena, ev->opcode, ev->len ? ev->data : wsc__empty_payload,
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
    wsc__conn_track_frame(c, ev, used);
    if (c->state == WSC__ST_CLOSING) {
        /* After our close frame, data is not delivered (section 1.4: the closing endpoint discards
           what arrives until the peer's close). */
        c->msg_len = 0;
        return true;
    }
    if (ev->first && ev->last && !ev->rsv1) {
        if (!c->w->ctx->submit && region != WSC__R_IN)
            return deliver_inline(c, ev);
        c->job_code = (uint16_t)ev->opcode;
        return job_in_place(c, WSC__JOB_MSG, ev->data, ev->len, base, pos, len, region);
    }
    enum wsc__asm_result r =
        ev->rsv1 ? wsc__conn_add_compressed(c, ev) : wsc__conn_add_chunk(c, ev);
    if (r >= WSC__ASM_NOMEM) {
        /* RFC 7692 8.1 and RFC 6455 7.4.1: too big after inflating 1009, corrupt data or
           invalid text 1007. */
        wsc__conn_fail(c, r == WSC__ASM_TOO_BIG   ? WSC_CLOSE_TOO_BIG
                          : r == WSC__ASM_INVALID ? WSC_CLOSE_INVALID_DATA
                                                  : WSC_CLOSE_INTERNAL);
        return false;
    }
    if (r == WSC__ASM_MORE)
        return true;
    if (c->w->ctx->submit) {
        /* The message is in `msg`; what follows it in this region moves to `in`. */
        if (!wsc__conn_keep_rest(c, base, *pos, len, region)) {
            wsc__conn_fail(c, WSC_CLOSE_INTERNAL);
            return false;
        }
        if (region != WSC__R_IN)
            *pos = len;
    }
    return wsc__conn_dispatch(c);
}

/* The peer's close frame (payload p[0..n), already validated). */
bool wsc__conn_on_peer_close(wsc_conn *c, unsigned code, uint8_t *p, size_t n, uint8_t *base,
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
        return wsc__conn_on_peer_close(c, ev->close_code, ev->data, ev->len, base, pos, len, region);
    default:
        return true;
    }
}

/* Parses base[pos..len) until it needs more bytes or must stop; keeps the rest in `in`. */
void wsc__conn_parse(wsc_conn *c, uint8_t *base, size_t pos, size_t len, int region)
{
    wsc__owner_check(c);
    /* Nothing left: the reader could only answer NEED_MORE (it reports an empty frame with its
       header, and an error on the call that found it). */
    while (pos < len && wsc__conn_parsing(c)) {
        wsc__event ev;
        size_t used = wsc__reader_next(&c->rd, base + pos, len - pos, &ev);
        if (ev.kind == WSC__EV_NEED_MORE)
            break;
        if (ev.kind == WSC__EV_ERROR) {
            wsc__conn_fail(c, ev.close_code);
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
    if (c->state <= WSC__ST_CLOSING && (pos < len || region == WSC__R_IN) &&
        !wsc__conn_keep_rest(c, base, pos, len, region))
        wsc__conn_fail(c, WSC_CLOSE_INTERNAL);
}

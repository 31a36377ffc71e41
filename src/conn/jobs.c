/* Running callbacks: a job (init, a message, a control frame, close, drain) runs inline on the
 * loop or goes to the handler pool (the hand-off of the parse state, conn.h), and the loop moves
 * the connection on when it returns: accepting or refusing the handshake, parsing what waited. */
#include <stdlib.h>

#include "conn/hs.h"
#include "conn/read.h"
#include "proto/close_handshake.h"
#include "util/log.h"

/* JOB_INIT's job_code: init accepted the connection but no 101 could follow (out of memory), so
   the close callback is owed although the request is answered with an error. */
enum { INIT_CLOSE_OWED = 0x8000 };

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
            wsc__conn_on_peer_close(c, c->job_code, c->job_data, c->job_len, c->in.data, &pos, c->in_len,
                          WSC__R_IN);
        }
        break;
    case WSC__JOB_FAIL:
        if (c->state == WSC__ST_OPEN || c->state == WSC__ST_CLOSING)
            wsc__conn_fail(c, c->job_code);
        break;
    default:
        break;
    }
    wsc__conn_sync_state(c);
    wsc__conn_check_done(c);
}

/* Runs the job now (inline) or hands it to the pool. Returns true when parsing may go on. */
bool wsc__conn_dispatch(wsc_conn *c)
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
        wsc__conn_fail(c, WSC_CLOSE_INTERNAL);
    }
    return false;
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
    return !wsc__conn_dispatch(c);
}

void wsc__conn_drain_due(wsc_conn *c)
{
    c->flags |= WSC__F_DRAIN_DUE;
    run_drain_if_due(c);
}

/* After a pool callback: parse what waited in `in`, then read again if the socket had more. */
static void wsc__conn_resume(wsc_conn *c)
{
    if (c->in_len > c->in_off && wsc__conn_parsing(c))
        wsc__conn_parse(c, c->in.data, c->in_off, c->in_len, WSC__R_IN);
    wsc__conn_maybe_release(c);
    wsc__conn_check_done(c);
    /* The socket may hold more (and the edge-triggered poller will not say so again): read it now,
       or, while the loop is stalled on a full backlog, list it for when the stall clears. */
    if ((c->flags & WSC__F_RD_PENDING) && c->state <= WSC__ST_DRAIN &&
        !(c->flags & (WSC__F_BUSY | WSC__F_STALLED)))
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
            wsc__conn_resume(c);
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

/* Sends resp (NULL: out of memory, nothing), the last bytes of a connection that was never opened
   (an error response, or a plain request's answer): once they are out the write side shuts. */
static void send_last(wsc_conn *c, char *resp, size_t n)
{
    if (resp) {
        wsc__conn_send_raw(c, resp, n);
        free(resp);
    }
    wsc__lock_acquire(&c->lock);
    atomic_store_explicit(&c->wstate, WSC__W_CLOSING, memory_order_release);
    wsc__lock_release(&c->lock);
}

/* A request that is no upgrade (let through only when there is an http callback): its answer, then
   the end of the connection, as for a refused upgrade (job_code: the status; no close callback is
   owed, init never saw it). */
static void run_http(wsc_conn *c, const wsc__ctx *x)
{
    wsc_handshake *hs = c->hs;
    int rc = x->h.http(hs, x->app);
    size_t n = 0;

    if (rc == WSC_REJECT_SILENT) {
        c->job_code = 1;
        return;
    }
    /* 0 with no response set: nothing here by that name. */
    int status = rc == 0 ? (hs->plain_status ? 0 : 404) : rc >= 400 && rc <= 599 ? rc : 400;
    char *resp = wsc__hs_response_plain(hs, status, &n);
    if (!resp && status == 0) {
        status = 500; /* out of memory: a short error response may still fit */
        resp = wsc__hs_response_plain(hs, status, &n);
    }
    c->job_code = (uint16_t)(status ? status : hs->plain_status);
    send_last(c, resp, n);
}

static void run_init(wsc_conn *c, const wsc__ctx *x)
{
    wsc_handshake *hs = c->hs;
    if (hs->req.plain) {
        run_http(c, x);
        return;
    }
    /* Before init, which may hand the connection to threads that write at once. */
    int rc = x->pmd.neg.enabled ? wsc__conn_pmd_accept(c, hs) : 0;
    if (rc == 0 && x->h.init)
        rc = x->h.init(hs, c, x->app, &c->user);
    else if (rc)
        rc = 500;
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
    send_last(c, resp, n);
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
        rc = wsc__conn_call_message(c, x, arena, c->job_code, c->job_data, c->job_len);
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

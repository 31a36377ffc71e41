/* Reading the upgrade request: usually whole in one read, parsed where it landed with the loop's
 * scratch handshake object; in pieces, in an object of its own. A complete request goes to init
 * (jobs.c), or to the http callback when it is a plain HTTP request; a bad one is answered with its
 * HTTP error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conn/hs.h"
#include "conn/read.h"
#include "conn/sock.h"
#include "util/log.h"

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
        ssize_t n = wsc__conn_recv(c, dst, want);
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

/* Parses buf[0..len), all of the request received so far. With an http callback a request that
   is no upgrade completes too (req.plain), for that callback. */
static enum wsc__hs_result hs_parse(wsc_conn *c, wsc_handshake *hs, char *buf, size_t len)
{
    hs->req.allow_plain = c->w->ctx->h.http != NULL;
    return wsc__http_request_parse(&hs->req, buf, len);
}

/* The request is complete in buf[0..len) (c->hs parsed it): hand it to init (or http). */
static bool hs_complete(wsc_conn *c, const uint8_t *buf, size_t len)
{
    /* Frames a client sent right behind its request belong to the WebSocket stream. Behind a
       plain request (a pipelined one) nothing is read: its answer ends the connection. */
    size_t extra = c->hs->req.plain ? 0 : len - c->hs->req.len;
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
    wsc__conn_dispatch(c);
    if (c->state == WSC__ST_OPEN && c->in_len > c->in_off)
        wsc__conn_parse(c, c->in.data, c->in_off, c->in_len, WSC__R_IN);
    wsc__conn_maybe_release(c);
    return c->state == WSC__ST_OPEN && (c->flags & WSC__F_RD_PENDING);
}

/* Returns true to read again. */
bool wsc__conn_read_handshake(wsc_conn *c)
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
        r = hs_parse(c, hs, (char *)w->rbuf, (size_t)n);
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
        r = hs_parse(c, c->hs, c->hs->buf, c->hs->len);
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
    r = hs_parse(c, hs, hs->buf, hs->len);
    if (r == WSC__HS_INCOMPLETE && hs->len < hs->cap)
        return (c->flags & WSC__F_RD_PENDING) != 0;
    if (r != WSC__HS_COMPLETE) {
        hs_fail(c, r == WSC__HS_ERROR ? hs->req.http_status : 431);
        return false;
    }
    return hs_complete(c, (const uint8_t *)hs->buf, hs->len);
}

/* Client writes: masked frames (RFC 6455 section 5.3), one whole frame at a time under wmu, and the
 * close handshake. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "io/connect.h"
#include "mem/iobuf.h"
#include "proto/close.h"
#include "proto/frame.h"
#include "proto/mask.h"
#include "proto/utf8.h"
#include "util/log.h"

static int lock_writer(wsc_client *c, int64_t deadline)
{
    if (deadline == WSC__NO_DEADLINE)
        return pthread_mutex_lock(&c->wmu) == 0 ? 0 : WSC_EIO;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t left = deadline - wsc__clock_ms();
    if (left < 0)
        left = 0;
    ts.tv_sec += (time_t)(left / 1000);
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int e = pthread_mutex_timedlock(&c->wmu, &ts);
    return e == 0 ? 0 : e == ETIMEDOUT ? WSC_ETIMEDOUT : WSC_EIO;
}

/* Makes the write buffer hold want bytes, up to WSC__CLIENT_WBUF_MAX (wmu held). A frame the buffer
   cannot hold whole goes out through it in pieces, so a failed growth only costs write calls; returns
   false when there is no buffer at all. */
static bool wbuf_reserve(wsc_client *c, size_t want)
{
    if (want > WSC__CLIENT_WBUF_MAX)
        want = WSC__CLIENT_WBUF_MAX;
    if (want > c->wcap) {
        size_t cap = c->wcap ? c->wcap : WSC__CLIENT_WBUF_MIN;
        while (cap < want)
            cap *= 2;
        uint8_t *b = wsc__iobuf_alloc(cap);
        if (b) {
            wsc__iobuf_free(c->wbuf, c->wcap);
            c->wbuf = b;
            c->wcap = cap;
        }
    }
    return c->wcap > WSC__FRAME_HEADER_MAX;
}

/* Masks src while copying it into the write buffer (reserved by the caller) behind the header: the
   caller's bytes are never written, and a frame that fits the buffer leaves in one write. */
static int write_masked_copy(wsc_client *c, const uint8_t *hdr, size_t hlen, const uint8_t *src,
                             size_t len, const uint8_t key[4], int64_t deadline)
{
    uint8_t *buf = c->wbuf;
    size_t cap = c->wcap;
    memcpy(buf, hdr, hlen);
    size_t n = len < cap - hlen ? len : cap - hlen;
    wsc__mask_copy(buf + hlen, src, n, key, 0);
    struct iovec iov = {buf, hlen + n};
    int rc = wsc__client_write_all(c, &iov, 1, deadline);
    size_t off = n;
    while (rc == 0 && off < len) {
        n = len - off < cap ? len - off : cap;
        wsc__mask_copy(buf, src + off, n, key, off);
        iov = (struct iovec){buf, n};
        rc = wsc__client_write_all(c, &iov, 1, deadline);
        off += n;
    }
    return rc;
}

/* Puts one masked frame on the wire (wmu held); rsv1: a compressed message (RFC 7692 6). */
static int put_frame_rsv(wsc_client *c, unsigned opcode, bool rsv1, void *data, size_t len,
                         bool copy, int64_t deadline)
{
    uint8_t hdr[WSC__FRAME_HEADER_MAX];
    uint8_t key[4];

    /* Section 5.3: a fresh, unpredictable key for every frame, so a script cannot choose the bytes
       that appear on the wire (the cache-poisoning attack of section 10.3). */
    wsc__mask_key_new(key);
    size_t hlen = wsc__frame_header_build(hdr, opcode, true, rsv1, len, key);
    if (copy)
        return write_masked_copy(c, hdr, hlen, data, len, key, deadline);
    wsc__mask(data, len, key, 0);
    struct iovec iov[2] = {{hdr, hlen}, {data, len}};
    return wsc__client_write_all(c, iov, 2, deadline);
}

static int put_frame(wsc_client *c, unsigned opcode, void *data, size_t len, bool copy,
                     int64_t deadline)
{
    return put_frame_rsv(c, opcode, false, data, len, copy, deadline);
}

/* The compressed-output buffer (wmu held): the retained one, or one for this message. */
static uint8_t *z_room(void *ctx, size_t have, size_t need)
{
    wsc__pmd_conn *p = ctx;
    (void)have;
    if (need <= p->wcap)
        return p->wbuf;
    uint8_t *b = realloc(p->wbuf, need);
    if (!b)
        return NULL;
    p->wbuf = b;
    p->wcap = need;
    return b;
}

/* Compresses and sends one message (wmu held, so messages leave in the order their compression
   saw them, as context takeover needs). */
static int put_compressed(wsc_client *c, unsigned opcode, const void *data, size_t len,
                          int64_t deadline)
{
    wsc__pmd_conn *p = c->pmd;
    const wsc__pmd_sink sink = {z_room, p};
    uint8_t *out;
    size_t clen;
    int rc;
    if (wsc__deflate_message(&p->out, data, len, &sink, 0, &out, &clen) != 0)
        rc = WSC_ENOMEM;
    else
        rc = put_frame_rsv(c, opcode, true, out, clen, false, deadline);
    if (!p->retain) {
        free(p->wbuf);
        p->wbuf = NULL;
        p->wcap = 0;
    }
    return rc;
}

/* Our close frame is out: wait for the answer (bounded). When it was the answer to the server's
   close, the reader that received that close (in wsc__client_answer_close) ends the connection
   after waiting for the server to hang up first. */
static void close_sent(wsc_client *c)
{
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->close_deadline, wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS);
    if (atomic_load(&c->state) == WSC__CS_OPEN)
        atomic_store(&c->state, WSC__CS_CLOSING);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* A failed write ends the connection: a frame may be half written, so nothing more can follow. */
static int write_failed(wsc_client *c, int rc)
{
    if (rc == WSC_EIO || rc == WSC_ETIMEDOUT)
        wsc__client_mark_closed(c, rc);
    return rc;
}

/* Sends the pending automatic replies (wmu held), between whole frames only. With only_if_writable
 * (the reader) nothing is sent while the socket is full: a control frame of at most 131 bytes fits
 * at once whenever poll reports POLLOUT, so the reader does not wait on the socket either. Returns
 * 0 or a write error; *left is set when replies stay pending for that reason. */
static int send_pending(wsc_client *c, int64_t deadline, bool only_if_writable, bool *left)
{
    *left = false;
    while (atomic_load(&c->pend_any)) {
        if (only_if_writable) {
            struct pollfd p = {c->t->fd, POLLOUT, 0};
            if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
                *left = true;
                return 0;
            }
        }
        uint8_t payload[WSC__CONTROL_MAX];
        size_t n = 0;
        unsigned op = 0;
        pthread_mutex_lock(&c->mu);
        if (atomic_load(&c->state) == WSC__CS_OPEN) {
            if (c->pend_close) {
                /* Nothing may follow a close frame, so a pending pong goes with it. */
                op = WSC__OP_CLOSE;
                n = wsc__close_payload_build(payload, c->pend_close_code, NULL, 0);
                wsc__client_note_close_locked(c, c->pend_close_code, false);
            } else if (c->pend_pong) {
                op = WSC__OP_PONG;
                n = c->pend_pong_len;
                memcpy(payload, c->pend_pong_data, n);
            }
        }
        c->pend_close = c->pend_pong = false;
        atomic_store(&c->pend_any, false);
        pthread_mutex_unlock(&c->mu);
        if (!op)
            return 0;
        int rc = put_frame(c, op, payload, n, false, deadline);
        if (rc)
            return write_failed(c, rc);
        if (op == WSC__OP_CLOSE)
            close_sent(c);
    }
    return 0;
}

/* Lets go of wmu. A reply the reader left pending after our last look (it found wmu taken) would
   otherwise wait for the next write: take wmu back and send it, unless another writer has it (that
   one sends it). */
static void unlock_writer(wsc_client *c, int64_t deadline)
{
    pthread_mutex_unlock(&c->wmu);
    while (atomic_load(&c->pend_any) && pthread_mutex_trylock(&c->wmu) == 0) {
        bool left;
        (void)send_pending(c, deadline, false, &left);
        pthread_mutex_unlock(&c->wmu);
    }
}

int wsc__client_send(wsc_client *c, unsigned opcode, void *data, size_t len, bool copy,
                     int64_t deadline)
{
    bool plain = opcode & WSC__CLIENT_PLAIN;
    opcode &= 0xFu;
    if (wsc__op_is_control(opcode) && len > WSC__CONTROL_MAX)
        return WSC_EINVAL;
    if (len && !data)
        return WSC_EINVAL;
    int rc = lock_writer(c, deadline);
    if (rc)
        return rc;
    int st = atomic_load(&c->state);
    if (st != WSC__CS_OPEN) {
        pthread_mutex_unlock(&c->wmu);
        return st == WSC__CS_NEW ? WSC_ESTATE : WSC_ECLOSED;
    }
    /* Set by the handshake before the state became OPEN (read above): not before, when a write
       from another thread during the handshake would race with its setting. */
    bool compress = c->pmd && !plain && !wsc__op_is_control(opcode) && len >= c->pmd->threshold;
    if (copy && !compress && !wbuf_reserve(c, WSC__FRAME_HEADER_MAX + len)) {
        pthread_mutex_unlock(&c->wmu);
        return WSC_ENOMEM;
    }
    bool left;
    rc = send_pending(c, deadline, false, &left);
    if (rc == 0 && atomic_load(&c->state) != WSC__CS_OPEN)
        rc = WSC_ECLOSED; /* the pending reply was a close frame */
    if (rc == 0) {
        if (opcode == WSC__OP_CLOSE) {
            /* Noted before it leaves: the server's answer may be read before this thread resumes. */
            const uint8_t *p = data;
            pthread_mutex_lock(&c->mu);
            wsc__client_note_close_locked(c, len >= 2 ? (unsigned)(p[0] << 8 | p[1])
                                                      : WSC__CLOSE_NO_STATUS,
                                          false);
            pthread_mutex_unlock(&c->mu);
        }
        rc = write_failed(c, compress ? put_compressed(c, opcode, data, len, deadline)
                                      : put_frame(c, opcode, data, len, copy, deadline));
        if (rc == 0 && opcode == WSC__OP_CLOSE)
            close_sent(c);
        /* Replies that came in while this frame was being written go right after it: a frame of
           many megabytes must not keep a pong (or a close reply) waiting any longer. */
        if (rc == 0)
            (void)send_pending(c, deadline, false, &left);
    }
    unlock_writer(c, deadline);
    return rc;
}

void wsc__client_flush_pending(wsc_client *c)
{
    while (atomic_load(&c->pend_any) && pthread_mutex_trylock(&c->wmu) == 0) {
        bool left;
        int rc = send_pending(c, wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS, true, &left);
        pthread_mutex_unlock(&c->wmu);
        if (rc || left)
            break;
    }
}

void wsc__client_send_auto(wsc_client *c, unsigned opcode, const uint8_t *data, size_t len,
                           unsigned code)
{
    pthread_mutex_lock(&c->mu);
    if (atomic_load(&c->state) == WSC__CS_OPEN) {
        if (opcode == WSC__OP_CLOSE) {
            if (!c->pend_close) {
                c->pend_close = true;
                c->pend_close_code = code;
            }
        } else {
            /* Section 5.5.3: answering only the most recent ping is enough. */
            c->pend_pong = true;
            c->pend_pong_len = len < WSC__CONTROL_MAX ? len : WSC__CONTROL_MAX;
            if (len)
                memcpy(c->pend_pong_data, data, c->pend_pong_len);
        }
        atomic_store(&c->pend_any, true);
    }
    pthread_mutex_unlock(&c->mu);
    wsc__client_flush_pending(c);
}

void wsc__client_answer_close(wsc_client *c, unsigned code)
{
    int64_t deadline = wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS;
    wsc__client_send_auto(c, WSC__OP_CLOSE, NULL, 0, code);
    /* Nothing is left to read after the server's close frame, so this thread may now wait for the
       socket too: the answer goes out from here if wmu is free, else from the thread that holds
       it, right after its frame. Either way within the close wait. */
    if (atomic_load(&c->pend_any) && pthread_mutex_trylock(&c->wmu) == 0) {
        bool left;
        (void)send_pending(c, deadline, false, &left);
        unlock_writer(c, deadline);
    }
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->state) == WSC__CS_OPEN) {
        struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000L};
        if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT &&
            atomic_load(&c->state) == WSC__CS_OPEN) {
            WSC__LOG(WSC_LOG_INFO, "client %s:%d: close reply not sent in time", c->host, c->port);
            wsc__client_mark_closed_locked(c, WSC_ETIMEDOUT);
        }
    }
    bool answered = atomic_load(&c->state) == WSC__CS_CLOSING;
    pthread_mutex_unlock(&c->mu);
    /* Section 7.1.1: the server should close the TCP connection first, so that TIME_WAIT lands on
       its side; give it a moment, reading and discarding, before closing ourselves. */
    if (answered)
        wsc__client_linger(c, wsc__clock_ms() + WSC__CLIENT_LINGER_MS);
    wsc__client_mark_closed(c, 0);
}

int wsc__client_send_close(wsc_client *c, unsigned code, const char *reason, size_t reason_len,
                           int64_t deadline)
{
    uint8_t p[WSC__CONTROL_MAX];
    size_t n = wsc__close_payload_build(p, code, reason, reason_len);
    if (atomic_load(&c->state) != WSC__CS_OPEN)
        return WSC_ECLOSED;
    return wsc__client_send(c, WSC__OP_CLOSE, p, n, false, deadline);
}

/* ---- public writes ---- */

static int check_type(wsc_msg_type type)
{
    switch (type) {
    case WSC_TEXT:
    case WSC_BINARY:
    case WSC_PING:
    case WSC_PONG:
    case WSC_CLOSE:
        return 0;
    default:
        return WSC_EINVAL;
    }
}

static int write_frame(wsc_client *c, wsc_msg_type type, void *data, size_t len, bool copy)
{
    if (!c || check_type(type))
        return WSC_EINVAL;
    /* A close frame written by hand must be one the server accepts (section 7.4); otherwise the
       peer would fail the connection with 1002 instead of closing it. */
    if (type == WSC_CLOSE && wsc__close_payload_parse(data, len, NULL, NULL, NULL) != 0)
        return WSC_EINVAL;
    return wsc__client_send(c, (unsigned)type, data, len, copy, WSC__NO_DEADLINE);
}

/* The copying writes only read data (copy true): the cast gives it to the one internal signature
   that also serves the in-place write. */
WSC_API int wsc_client_write(wsc_client *c, wsc_msg_type type, const void *data, size_t len)
{
    return write_frame(c, type, (void *)data, len, true);
}

WSC_API int wsc_client_write_text(wsc_client *c, const char *data, size_t len)
{
    return wsc_client_write(c, WSC_TEXT, data, len);
}

WSC_API int wsc_client_write_binary(wsc_client *c, const void *data, size_t len)
{
    return wsc_client_write(c, WSC_BINARY, data, len);
}

WSC_API int wsc_client_write_ping(wsc_client *c, const void *data, size_t len)
{
    return wsc_client_write(c, WSC_PING, data, len);
}

WSC_API int wsc_client_write_pong(wsc_client *c, const void *data, size_t len)
{
    return wsc_client_write(c, WSC_PONG, data, len);
}

WSC_API int wsc_client_write_copy(wsc_client *c, wsc_msg_type type, const void *data, size_t len)
{
    return wsc_client_write(c, type, data, len);
}

WSC_API int wsc_client_write_in_place(wsc_client *c, wsc_msg_type type, void *data, size_t len)
{
    return write_frame(c, type, data, len, false);
}

WSC_API int wsc_client_write_uncompressed(wsc_client *c, wsc_msg_type type, const void *data,
                                          size_t len)
{
    if (!c || (type != WSC_TEXT && type != WSC_BINARY))
        return write_frame(c, type, (void *)data, len, true);
    return wsc__client_send(c, (unsigned)type | WSC__CLIENT_PLAIN, (void *)data, len, true,
                            WSC__NO_DEADLINE);
}

WSC_API bool wsc_client_compressed(const wsc_client *c)
{
    /* Set by the handshake before it returns; read only after that. */
    return c && atomic_load(&c->state) != WSC__CS_NEW && c->pmd;
}

/* ---- the close code ---- */

void wsc__client_note_close_locked(wsc_client *c, unsigned code, bool by_server)
{
    if (c->close_code == 0) {
        c->close_code = code ? code : WSC__CLOSE_NO_STATUS;
        c->close_by_server = by_server;
    }
}

WSC_API unsigned wsc_client_close_code(const wsc_client *c, bool *from_server)
{
    bool server = false;
    unsigned code = 0;
    if (c) {
        wsc_client *m = (wsc_client *)c; /* only mu is written: locked and unlocked */
        pthread_mutex_lock(&m->mu);
        code = c->close_code;
        server = c->close_by_server;
        pthread_mutex_unlock(&m->mu);
    }
    if (from_server)
        *from_server = server;
    return code;
}

/* ---- close ---- */

WSC_API int wsc_client_close(wsc_client *c, unsigned code, const char *reason)
{
    if (!c)
        return WSC_EINVAL;
    if (code == 0)
        code = WSC__CLOSE_NORMAL;
    size_t rlen = reason ? strlen(reason) : 0;
    if (!wsc__close_code_valid_on_wire(code) || rlen > WSC__CLOSE_REASON_MAX ||
        (rlen && !wsc__utf8_valid((const uint8_t *)reason, rlen)))
        return WSC_EINVAL;
    int st = atomic_load(&c->state);
    if (st == WSC__CS_CLOSED || st == WSC__CS_CLOSING)
        return 0;
    if (st == WSC__CS_NEW) {
        /* No WebSocket yet: there is no close handshake to run, only a socket to drop. */
        wsc__client_mark_closed(c, WSC_ECLOSED);
        return 0;
    }
    int64_t deadline = wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS;
    int rc = wsc__client_send_close(c, code, reason, rlen, deadline);
    if (rc == WSC_ECLOSED)
        return 0; /* another thread closed first */
    if (rc) {
        wsc__client_mark_closed(c, rc);
        return 0;
    }

    /* Wait for the server's close frame (section 7.1.1: the server should close the TCP connection
       after it). Whoever holds the reader role receives it; with no reader, this thread becomes it.
     */
    pthread_mutex_lock(&c->mu);
    while (atomic_load(&c->state) != WSC__CS_CLOSED) {
        if (!c->reader_active) {
            c->reader_active = true;
            c->reader_known = true;
            c->reader_tid = pthread_self();
            pthread_mutex_unlock(&c->mu);
            wsc__client_drain(c);
            pthread_mutex_lock(&c->mu);
            c->reader_active = false;
            c->reader_known = false;
            pthread_cond_broadcast(&c->cond);
            continue;
        }
        /* Called from a read loop callback: the loop itself reads the answer. */
        if (c->reader_known && pthread_equal(c->reader_tid, pthread_self()))
            break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* the condition variable runs on CLOCK_MONOTONIC */
        int64_t left = atomic_load(&c->close_deadline) - wsc__clock_ms();
        if (left <= 0) {
            /* No answer in time: drop the connection, which also wakes the reader. */
            wsc__client_mark_closed_locked(c, WSC_ETIMEDOUT);
            break;
        }
        ts.tv_sec += (time_t)(left / 1000);
        ts.tv_nsec += (long)(left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cond, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return 0;
}

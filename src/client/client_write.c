/* Client writes: masked frames (RFC 6455 section 5.3), one whole frame at a time under wmu, and the
 * close handshake. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "io/connect.h"
#include "proto/close.h"
#include "proto/frame.h"
#include "proto/mask.h"
#include "proto/utf8.h"
#include "util/log.h"

/* Masked copies of const data go out through a stack buffer of this size, so a const write of any
   length needs no allocation (one TLS record per chunk). */
enum { COPY_CHUNK = 16384 };

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

static int write_masked_copy(wsc_client *c, const uint8_t *hdr, size_t hlen, const uint8_t *src,
                             size_t len, const uint8_t key[4], int64_t deadline)
{
    uint8_t buf[COPY_CHUNK];
    size_t off = 0;

    memcpy(buf, hdr, hlen);
    size_t n = len < COPY_CHUNK - hlen ? len : COPY_CHUNK - hlen;
    wsc__mask_copy(buf + hlen, src, n, key, 0);
    struct iovec iov = {buf, hlen + n};
    int rc = wsc__client_write_all(c, &iov, 1, deadline);
    off = n;
    while (rc == 0 && off < len) {
        n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
        wsc__mask_copy(buf, src + off, n, key, off);
        iov = (struct iovec){buf, n};
        rc = wsc__client_write_all(c, &iov, 1, deadline);
        off += n;
    }
    return rc;
}

int wsc__client_send(wsc_client *c, unsigned opcode, void *data, size_t len, bool copy,
                     int64_t deadline)
{
    uint8_t hdr[WSC__FRAME_HEADER_MAX];
    uint8_t key[4];

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
    /* Section 5.3: a fresh, unpredictable key for every frame, so a script cannot choose the bytes
       that appear on the wire (the cache-poisoning attack of section 10.3). */
    wsc__mask_key_new(key);
    size_t hlen = wsc__frame_header_build(hdr, opcode, true, false, len, key);
    if (copy) {
        rc = write_masked_copy(c, hdr, hlen, data, len, key, deadline);
    } else {
        wsc__mask(data, len, key, 0);
        struct iovec iov[2] = {{hdr, hlen}, {data, len}};
        rc = wsc__client_write_all(c, iov, 2, deadline);
    }
    if (rc == 0 && opcode == WSC__OP_CLOSE) {
        pthread_mutex_lock(&c->mu);
        atomic_store(&c->close_deadline, wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS);
        if (atomic_load(&c->state) == WSC__CS_OPEN) {
            atomic_store(&c->state, WSC__CS_CLOSING);
            /* The server closed first and this is our answer: the handshake is complete. */
            if (c->peer_closed)
                wsc__client_mark_closed_locked(c, 0);
        }
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->mu);
    } else if (rc == WSC_EIO) {
        /* A frame may be half written: nothing more can be sent on this stream. */
        wsc__client_mark_closed(c, WSC_EIO);
    } else if (rc == WSC_ETIMEDOUT) {
        wsc__client_mark_closed(c, WSC_ETIMEDOUT);
    }
    pthread_mutex_unlock(&c->wmu);
    return rc;
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

WSC_API int wsc_client_write(wsc_client *c, wsc_msg_type type, void *data, size_t len)
{
    return write_frame(c, type, data, len, false);
}

WSC_API int wsc_client_write_text(wsc_client *c, char *data, size_t len)
{
    return write_frame(c, WSC_TEXT, data, len, false);
}

WSC_API int wsc_client_write_binary(wsc_client *c, void *data, size_t len)
{
    return write_frame(c, WSC_BINARY, data, len, false);
}

WSC_API int wsc_client_write_ping(wsc_client *c, void *data, size_t len)
{
    return write_frame(c, WSC_PING, data, len, false);
}

WSC_API int wsc_client_write_pong(wsc_client *c, void *data, size_t len)
{
    return write_frame(c, WSC_PONG, data, len, false);
}

WSC_API int wsc_client_write_copy(wsc_client *c, wsc_msg_type type, const void *data, size_t len)
{
    return write_frame(c, type, (void *)data, len, true);
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

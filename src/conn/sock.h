/* A connection's socket I/O: plain TCP straight to the kernel, TLS through its transport
 * (conn_tls.c). Plain connections pay one predictable branch per call. The TLS variants keep the
 * plain calls' contract, errno included, so the callers need no second path:
 * - recv: > 0 bytes, 0 at the end of the stream, -1 with errno (EAGAIN: wait for readiness). A
 *   short read means the stream is drained for now, as for TCP: the TLS variant reads on until
 *   its buffer is full or the socket has no more.
 * - send: the bytes taken, or -1 with errno (EAGAIN when the socket is full). A short write
 *   means the socket is full, as for TCP. */
#ifndef WSC_CONN_SOCK_H
#define WSC_CONN_SOCK_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "conn/conn.h"

ssize_t wsc__conn_tls_recv(wsc_conn *c, void *buf, size_t len);
ssize_t wsc__conn_tls_sendv(wsc_conn *c, const struct iovec *v, int k);

static inline ssize_t wsc__conn_recv(wsc_conn *c, void *buf, size_t len)
{
    if (__builtin_expect(c->tls != NULL, 0))
        return wsc__conn_tls_recv(c, buf, len);
    return recv(c->fd, buf, len, 0);
}

/* Caller holds c->lock. */
static inline ssize_t wsc__conn_send(wsc_conn *c, const void *buf, size_t len)
{
    if (__builtin_expect(c->tls != NULL, 0)) {
        struct iovec v = {(void *)buf, len};
        return wsc__conn_tls_sendv(c, &v, 1);
    }
    return send(c->fd, buf, len, MSG_NOSIGNAL);
}

/* Caller holds c->lock. */
static inline ssize_t wsc__conn_sendmsg(wsc_conn *c, struct iovec *v, int k)
{
    if (__builtin_expect(c->tls != NULL, 0))
        return wsc__conn_tls_sendv(c, v, k);
    struct msghdr mh = {.msg_iov = v, .msg_iovlen = (size_t)k};
    return sendmsg(c->fd, &mh, MSG_NOSIGNAL);
}

/* Shuts the write side after the close frame went out; TLS first says close_notify. Caller holds
   c->lock. */
void wsc__conn_shut_write(wsc_conn *c);
/* Puts c (new, in state HS) under TLS when the server speaks it. Returns false when out of
   memory. [loop] */
bool wsc__conn_start_tls(wsc_conn *c);
/* Frees c's TLS state once its socket is closed or about to be (c->tls already cleared under the
   lock). */
void wsc__conn_end_tls(struct wsc__transport *t);
/* True when the loop should wait for the socket to be writable to go on reading (a TLS handshake's
   answer did not fit). [loop] */
bool wsc__conn_read_wants_write(const wsc_conn *c);

#endif

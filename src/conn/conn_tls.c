/* The TLS side of a server connection's socket I/O (sock.h): OpenSSL's record-at-a-time calls
 * turned into the kernel's contract that the read and write paths rely on. */
#include <errno.h>

#include "conn/sock.h"
#include "io/tls.h"

ssize_t wsc__conn_tls_recv(wsc_conn *c, void *buf, size_t len)
{
    wsc__transport *t = c->tls;
    size_t got = 0;
    ptrdiff_t n = 0;

    /* One call returns at most one record: read on until the buffer is full or the socket is
       empty, so that a short read means what it means for TCP (an edge-triggered poller reports
       only new arrivals, not bytes a record-sized read left behind). */
    while (got < len) {
        n = t->ops->read(t, (char *)buf + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (!wsc__tls_read_more(t))
            return (ssize_t)got; /* drained: the next arrival brings an event */
    }
    if (got) {
        if (n == 0 || n == WSC__IO_ERROR)
            c->flags |= WSC__F_HUP; /* the end comes with the next read: no event will say so */
        return (ssize_t)got;
    }
    if (n == 0)
        return 0;
    if (n == WSC__IO_WANT_READ || n == WSC__IO_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    int sys = atomic_load_explicit(&t->sys_errno, memory_order_relaxed);
    errno = sys ? sys : EPROTO; /* a TLS error (garbage, plain HTTP, a failed handshake) */
    return -1;
}

ssize_t wsc__conn_tls_sendv(wsc_conn *c, const struct iovec *v, int k)
{
    wsc__transport *t = c->tls;
    struct iovec rest[8];
    size_t sent = 0;
    int next = 0, first = 0, have = 0;

    /* Records go one by one (partial writes): write on until all is taken or the socket is full,
       so that a short write means a full socket, as for TCP (an edge-triggered poller reports
       room only after a write found none). The iovecs are taken a window at a time, every one of
       them: stopping after the first window would be a short write with room left. A retry after
       WANT_WRITE starts with the same bytes (the caller queued them), which is what OpenSSL
       requires. */
    for (;;) {
        if (first == have) {
            if (next == k)
                break;
            first = 0;
            for (have = 0; have < (int)(sizeof rest / sizeof rest[0]) && next < k; have++)
                rest[have] = v[next++];
        }
        if (rest[first].iov_len == 0) {
            first++;
            continue;
        }
        ptrdiff_t n = t->ops->writev(t, rest + first, have - first);
        if (n <= 0) {
            if (sent)
                return (ssize_t)sent;
            if (n == WSC__IO_WANT_WRITE || n == WSC__IO_WANT_READ) {
                errno = EAGAIN;
                return -1;
            }
            int sys = atomic_load_explicit(&t->sys_errno, memory_order_relaxed);
            errno = sys ? sys : EPIPE;
            return -1;
        }
        sent += (size_t)n;
        size_t skip = (size_t)n;
        while (first < have && skip >= rest[first].iov_len) {
            skip -= rest[first].iov_len;
            first++;
        }
        if (first < have) {
            rest[first].iov_base = (uint8_t *)rest[first].iov_base + skip;
            rest[first].iov_len -= skip;
        }
    }
    return (ssize_t)sent;
}

void wsc__conn_shut_write(wsc_conn *c)
{
    if (c->tls)
        wsc__tls_close_notify(c->tls);
    shutdown(c->fd, SHUT_WR);
}

bool wsc__conn_start_tls(wsc_conn *c)
{
    if (!c->w->ctx->tls)
        return true;
    c->tls = wsc__tls_server_accept(c->w->ctx->tls, c->fd);
    return c->tls != NULL;
}

void wsc__conn_end_tls(struct wsc__transport *t)
{
    if (t)
        wsc__transport_free_keep_fd(t);
}

bool wsc__conn_read_wants_write(const wsc_conn *c)
{
    return c->tls && wsc__tls_read_wants_write(c->tls);
}

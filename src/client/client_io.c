/* The client's blocking reads and writes, built on the non-blocking transport and poll. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "client/client.h"
#include "io/connect.h"
#include "util/log.h"

enum { PENDING_RETRY_MS = 50 };

int wsc__client_write_all(wsc_client *c, struct iovec *iov, int iovcnt, int64_t deadline)
{
    wsc__transport *t = c->t;

    while (iovcnt > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        ptrdiff_t n = t->ops->writev(t, iov, iovcnt);
        if (n > 0) {
            size_t left = (size_t)n;
            while (iovcnt > 0 && left >= iov->iov_len) {
                left -= iov->iov_len;
                iov++;
                iovcnt--;
            }
            if (iovcnt > 0) {
                iov->iov_base = (uint8_t *)iov->iov_base + left;
                iov->iov_len -= left;
            }
            continue;
        }
        if (n == WSC__IO_WANT_WRITE || n == WSC__IO_WANT_READ) {
            int rc = wsc__fd_wait(t->fd, n == WSC__IO_WANT_WRITE ? POLLOUT : POLLIN, deadline);
            if (rc)
                return rc;
            continue;
        }
        WSC__LOG(WSC_LOG_INFO, "write to %s: %s", c->host,
                 t->sys_errno ? strerror(t->sys_errno) : "TLS error");
        return WSC_EIO;
    }
    return 0;
}

int wsc__client_fill(wsc_client *c, int64_t deadline)
{
    wsc__transport *t = c->t;

    for (;;) {
        ptrdiff_t n = t->ops->read(t, c->rbuf + c->rend, c->rcap - c->rend);
        if (n > 0) {
            c->rend += (size_t)n;
            return 0;
        }
        if (n == 0)
            return WSC_ECLOSED;
        if (n == WSC__IO_ERROR) {
            WSC__LOG(WSC_LOG_INFO, "read from %s: %s", c->host,
                     t->sys_errno ? strerror(t->sys_errno) : "TLS error");
            return WSC_EIO;
        }
        int64_t d = deadline;
        if (atomic_load(&c->state) == WSC__CS_CLOSING) {
            int64_t cd = atomic_load(&c->close_deadline);
            if (cd < d)
                d = cd;
        }
        /* An automatic reply left pending on a full socket, with no writer to send it: look again
           now and then, since this thread waits only for input. */
        int64_t w = d;
        if (atomic_load(&c->pend_any)) {
            wsc__client_flush_pending(c);
            if (atomic_load(&c->pend_any) && wsc__clock_ms() + PENDING_RETRY_MS < d)
                w = wsc__clock_ms() + PENDING_RETRY_MS;
        }
        int rc = wsc__fd_wait(t->fd, n == WSC__IO_WANT_READ ? POLLIN : POLLOUT, w);
        if (rc == WSC_ETIMEDOUT && w != d)
            continue;
        if (rc)
            return rc;
    }
}

void wsc__client_linger(wsc_client *c, int64_t deadline)
{
    wsc__transport *t = c->t;
    uint8_t buf[512];

    /* The clock is checked on every pass, so a server that keeps sending cannot hold us here. */
    while (wsc__clock_ms() < deadline) {
        ptrdiff_t n = t->ops->read(t, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n == 0 || n == WSC__IO_ERROR)
            return;
        if (wsc__fd_wait(t->fd, n == WSC__IO_WANT_READ ? POLLIN : POLLOUT, deadline) != 0)
            return;
    }
}

void wsc__client_mark_closed_locked(wsc_client *c, int rc)
{
    if (atomic_load(&c->state) != WSC__CS_CLOSED) {
        c->end_rc = rc;
        atomic_store(&c->state, WSC__CS_CLOSED);
        c->t->ops->shutdown(c->t);
    }
    pthread_cond_broadcast(&c->cond);
}

void wsc__client_mark_closed(wsc_client *c, int rc)
{
    pthread_mutex_lock(&c->mu);
    wsc__client_mark_closed_locked(c, rc);
    pthread_mutex_unlock(&c->mu);
}

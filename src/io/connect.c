/* Outgoing TCP connections with a deadline. */
#include "io/connect.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

int64_t wsc__clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t wsc__deadline_in(unsigned ms, bool zero_means_forever)
{
    if (ms == 0 && zero_means_forever)
        return WSC__NO_DEADLINE;
    return wsc__clock_ms() + ms;
}

int wsc__fd_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int timeout = -1;
        if (deadline != WSC__NO_DEADLINE) {
            int64_t left = deadline - wsc__clock_ms();
            if (left <= 0)
                left = 0;
            timeout = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, timeout);
        if (n > 0)
            return 0;
        if (n == 0) {
            if (timeout >= 0 && wsc__clock_ms() >= deadline)
                return WSC_ETIMEDOUT;
            continue;
        }
        if (errno != EINTR)
            return WSC_EIO;
    }
}

/* One address: a non-blocking connect, then a wait for writability (the end of the TCP handshake,
 * successful or not: SO_ERROR tells). Returns 0 with *fd set, or a WSC_E* code with *sys set. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *fd, int *sys)
{
    int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (s < 0) {
        *sys = errno;
        return WSC_EIO;
    }
    int rc = 0;
    if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) {
            *sys = errno;
            rc = errno == ECONNREFUSED ? WSC_ECONNREFUSED : WSC_EIO;
            goto fail;
        }
        rc = wsc__fd_wait(s, POLLOUT, deadline);
        if (rc) {
            *sys = rc == WSC_ETIMEDOUT ? ETIMEDOUT : errno;
            goto fail;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
            soerr = errno;
        if (soerr) {
            *sys = soerr;
            rc = soerr == ECONNREFUSED ? WSC_ECONNREFUSED
                 : soerr == ETIMEDOUT  ? WSC_ETIMEDOUT
                                       : WSC_EIO;
            goto fail;
        }
    }
    /* Frames are written whole (header and payload in one call), so Nagle's algorithm would only
       delay small messages waiting for an ACK. */
    int one = 1;
    (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd = s;
    return 0;
fail:
    close(s);
    return rc;
}

int wsc__tcp_connect(const char *host, int port, int64_t deadline, int *fd, wsc_err *err)
{
    char service[8];
    struct addrinfo hints, *list = NULL;

    *fd = -1;
    if (!host || !*host || port <= 0 || port > 65535)
        return wsc__err(err, WSC_EINVAL, "connect: bad host or port");
    snprintf(service, sizeof service, "%d", port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, service, &hints, &list);
    if (g != 0) {
        if (g == EAI_SYSTEM)
            return wsc__err_sys(err, WSC_EADDR, errno, "cannot resolve %s", host);
        return wsc__err(err, WSC_EADDR, "cannot resolve %s: %s", host, gai_strerror(g));
    }
    /* getaddrinfo orders the addresses by RFC 6724 preference; take the first that answers. The
       last failure is the one reported, except that a refusal is kept over a later odd error
       because it is the most useful thing to tell ("nothing listens there"). */
    int rc = WSC_EADDR, sys = 0;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int s_sys = 0;
        int r = connect_one(ai, deadline, fd, &s_sys);
        if (r == 0) {
            freeaddrinfo(list);
            return 0;
        }
        WSC__LOG(WSC_LOG_DEBUG, "connect to %s port %d (family %d): %s", host, port, ai->ai_family,
                 strerror(s_sys));
        if (!(rc == WSC_ECONNREFUSED && r == WSC_EIO)) {
            rc = r;
            sys = s_sys;
        }
        if (r == WSC_ETIMEDOUT)
            break; /* the deadline is spent: later addresses would fail at once */
    }
    freeaddrinfo(list);
    if (rc == WSC_ETIMEDOUT)
        return wsc__err(err, WSC_ETIMEDOUT, "connect to %s port %d: timed out", host, port);
    if (rc == WSC_EADDR)
        return wsc__err(err, WSC_EADDR, "cannot resolve %s: no address", host);
    return wsc__err_sys(err, rc, sys, "connect to %s port %d", host, port);
}

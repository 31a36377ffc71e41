/* Outgoing TCP connections (IPv4 and IPv6) with a deadline, and the small clock and poll helpers
 * every blocking wait of the client uses. */
#ifndef WSC_IO_CONNECT_H
#define WSC_IO_CONNECT_H

#include <stdint.h>

#include "wsc.h"

/* A point in time, in milliseconds of CLOCK_MONOTONIC; WSC__NO_DEADLINE waits forever. Deadlines
 * (not per-call timeouts) are what we carry around, so a wait that wakes up early and loops never
 * extends the total time a caller asked for. */
#define WSC__NO_DEADLINE INT64_MAX

/* CLOCK_MONOTONIC now, in milliseconds. Thread-safety: any thread. */
int64_t wsc__clock_ms(void);

/* now + ms, or WSC__NO_DEADLINE when ms is 0 and zero_means_forever is set. */
int64_t wsc__deadline_in(unsigned ms, bool zero_means_forever);

/* Waits until fd has one of events (POLLIN/POLLOUT) or the deadline passes. Returns 0 when ready
 * (also for POLLHUP/POLLERR: the next read or write reports what happened), WSC_ETIMEDOUT, or
 * WSC_EIO when poll itself fails. EINTR is retried with the time left. Thread-safety: any thread.
 */
int wsc__fd_wait(int fd, short events, int64_t deadline);

/* Resolves host (name, IPv4 or IPv6 literal without brackets) with getaddrinfo and connects to port
 * over TCP, trying each address in turn until one answers, all within deadline (the connect itself
 * is non-blocking; name resolution is not: getaddrinfo has no timeout). On success *fd is a
 * connected, non-blocking, close-on-exec socket with TCP_NODELAY (a WebSocket frame is sent as soon
 * as it is written). Returns 0, WSC_EADDR (unknown host), WSC_ECONNREFUSED, WSC_ETIMEDOUT or
 * WSC_EIO, with err filled. Thread-safety: any thread. */
int wsc__tcp_connect(const char *host, int port, int64_t deadline, int *fd, wsc_err *err);

#endif

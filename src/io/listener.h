/* Listening sockets (TCP over IPv4 or IPv6, unix) and accepted-socket setup. */
#ifndef WSC_IO_LISTENER_H
#define WSC_IO_LISTENER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "wsc.h"

/* Binds and listens on address:port (an IPv4/IPv6 literal or a host name; port 0 = any free port),
 * non-blocking and close-on-exec, with SO_REUSEADDR. *bound_port gets the port actually bound.
 * Returns 0 or WSC_EADDR/WSC_EIO with err filled. Thread-safety: any thread. */
int wsc__listen_tcp(const char *address, int port, int *fd, int *bound_port, wsc_err *err);

/* Binds and listens on a unix socket path (a stale socket file there is replaced; any other file is
 * an error). Returns 0 or WSC_EADDR/WSC_EIO with err filled. Thread-safety: any thread. */
int wsc__listen_unix(const char *path, int *fd, wsc_err *err);

/* Accepts one connection. nonblocking selects the accepted socket's mode; tcp: set TCP_NODELAY (a
 * frame goes out as soon as it is written). The peer's address is not fetched (getpeername when
 * wanted). Returns the fd, or a negative errno (-EAGAIN when none is pending). Thread-safety: any
 * thread. */
int wsc__accept(int lfd, bool nonblocking, bool tcp);

#endif

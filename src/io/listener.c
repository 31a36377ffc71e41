/* Listening sockets. */
#include "io/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/err.h"

enum { LISTEN_BACKLOG = 1024 };

int wsc__listen_tcp(const char *address, int port, int *fd_out, int *bound_port, wsc_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    int last_errno = 0, fd = -1;

    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(address, service, &hints, &res);
    if (rc != 0)
        return wsc__err(err, WSC_EADDR, "cannot resolve listen address \"%s\": %s", address,
                        gai_strerror(rc));
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, LISTEN_BACKLOG) == 0)
            break;
        last_errno = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return wsc__err_sys(err, last_errno == EADDRINUSE || last_errno == EADDRNOTAVAIL ||
                                         last_errno == EACCES
                                     ? WSC_EADDR
                                     : WSC_EIO,
                            last_errno, "cannot listen on %s port %d", address, port);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    *fd_out = fd;
    return 0;
}

int wsc__listen_unix(const char *path, int *fd_out, wsc_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof sa.sun_path)
        return wsc__err(err, WSC_EADDR, "unix_path must be 1 to %zu bytes long",
                        sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, n + 1);
    /* A socket file left by an earlier run would make bind fail with EADDRINUSE; replace it, but
       never delete anything that is not a socket. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return wsc__err(err, WSC_EADDR, "unix_path \"%s\" exists and is not a socket", path);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return wsc__err_sys(err, WSC_EIO, errno, "socket(AF_UNIX)");
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        return wsc__err_sys(err, WSC_EADDR, e, "cannot listen on unix socket \"%s\"", path);
    }
    *fd_out = fd;
    return 0;
}

int wsc__accept(int lfd, bool nonblocking, bool tcp)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
    if (fd < 0)
        return -errno;
    if (tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

/* epoll backend of poller.h. */
#include "io/poller.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int wsc__poller_open(wsc__poller *p)
{
    p->fd = epoll_create1(EPOLL_CLOEXEC);
    return p->fd < 0 ? -errno : 0;
}

void wsc__poller_close(wsc__poller *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

int wsc__poller_add_conn(wsc__poller *p, int fd, void *ptr)
{
    /* EPOLLRDHUP: a peer's FIN shows up as readable, and the read that returns 0 handles it. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = ptr};
    return epoll_ctl(p->fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int wsc__poller_add_level(wsc__poller *p, int fd, void *ptr, bool exclusive)
{
    struct epoll_event ev = {.events = EPOLLIN | (exclusive ? EPOLLEXCLUSIVE : 0u), .data.ptr = ptr};
    return epoll_ctl(p->fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int wsc__poller_del(wsc__poller *p, int fd)
{
    struct epoll_event ev = {0};
    return epoll_ctl(p->fd, EPOLL_CTL_DEL, fd, &ev) ? -errno : 0;
}

int wsc__poller_wait(wsc__poller *p, wsc__pevent *out, int max, int timeout_ms)
{
    struct epoll_event evs[WSC__POLLER_BATCH];
    if (max > WSC__POLLER_BATCH)
        max = WSC__POLLER_BATCH;
    int n = epoll_wait(p->fd, evs, max, timeout_ms);
    if (n < 0)
        return 0;
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        out[i].ptr = evs[i].data.ptr;
        out[i].events = ((e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? WSC__EV_IN : 0u) |
                        ((e & (EPOLLOUT | EPOLLERR)) ? WSC__EV_OUT : 0u) |
                        ((e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? WSC__EV_HUP : 0u);
    }
    return n;
}

int wsc__wakefd_open(void)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void wsc__wakefd_signal(int fd)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated: the fd is readable anyway. */
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;
}

void wsc__wakefd_drain(int fd)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
}

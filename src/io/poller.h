/* The event-loop backend behind one small interface (epoll here; a kqueue or poll backend would be
 * another file implementing these functions, chosen at build time).
 *
 * Connections are registered once, edge-triggered, for both reads and writes: the worker never
 * changes a registration per message (no epoll_ctl on the hot path). It remembers "readable but not
 * drained" itself, and learns "writable again" from the edge that follows a write that hit EAGAIN.
 * Listening sockets and wake-up descriptors are level-triggered. */
#ifndef WSC_IO_POLLER_H
#define WSC_IO_POLLER_H

#include <stdbool.h>

enum {
    WSC__EV_IN = 1,  /* readable, or peer hung up / error: a read tells which */
    WSC__EV_OUT = 2, /* writable */
    WSC__EV_HUP = 4, /* with IN: the peer's FIN (or an error) is queued behind any data, so a short
                        read does not mean drained: read until 0 */
};

typedef struct {
    void *ptr;
    unsigned events; /* WSC__EV_* */
} wsc__pevent;

enum { WSC__POLLER_BATCH = 256 };

typedef struct {
    int fd;
} wsc__poller;

/* Returns 0 or a negative errno. Thread-safety: one owner thread for wait; add/del from any. */
int wsc__poller_open(wsc__poller *p);
void wsc__poller_close(wsc__poller *p);
/* A connection: reads and writes, edge-triggered. */
int wsc__poller_add_conn(wsc__poller *p, int fd, void *ptr);
/* A listener or wake-up fd: reads, level-triggered. exclusive: when several pollers watch the same
 * fd, one readiness wakes one of them (no thundering herd on a shared listener). */
int wsc__poller_add_level(wsc__poller *p, int fd, void *ptr, bool exclusive);
/* Call before closing a registered fd: epoll tracks the open file description, which a forked
 * child may keep open after this process closes its descriptor; its events would still come. */
int wsc__poller_del(wsc__poller *p, int fd);
/* Waits up to timeout_ms (-1 forever) and fills at most max (<= WSC__POLLER_BATCH) events.
 * Returns the count (0 on timeout or EINTR). */
int wsc__poller_wait(wsc__poller *p, wsc__pevent *out, int max, int timeout_ms);

/* A wake-up descriptor (eventfd): signal is async-signal-safe (one write(2)). */
int wsc__wakefd_open(void);
void wsc__wakefd_signal(int fd);
void wsc__wakefd_drain(int fd);

#endif

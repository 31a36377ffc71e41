/* The server object shared by server.c (epoll mode) and blocking.c (thread per connection). */
#ifndef WSC_SERVER_SERVER_H
#define WSC_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "conn/conn.h"
#include "conn/hs.h"
#include "server/config.h"

struct wsc__worker;
struct wsc__hpool;
struct wsc__bconn;

struct wsc_server {
    wsc__ctx ctx;
    wsc__srv_config cfg;
    int listen_fd;
    int port;
    int stop_fd;           /* eventfd: readable once stop or shutdown was called */
    int drop_fd;           /* eventfd: readable once a shutdown's connections are to be dropped */
    _Atomic bool stop;     /* wsc_server_stop was called */
    _Atomic bool graceful; /* wsc_server_shutdown was called */
    _Atomic bool drop;     /* end every remaining connection now (set with drop_fd) */
    wsc__buffers *bufs;
    wsc__hs_pool *hs_pool;
    /* epoll mode */
    struct wsc__worker *workers;
    unsigned nworkers;
    struct wsc__hpool *pool;
    /* listen state and blocking-mode bookkeeping, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started;
    int running;           /* 0 not yet, 1 serving, 2 returned, -1 failed */
    struct wsc__bconn **live; /* blocking mode: one entry per connection thread */
    size_t nlive, live_cap;
};

/* Blocking mode: accepts in the calling thread and runs each connection in its own thread, until
 * stop and the end of every connection. Returns 0 or a WSC_E* code. */
int wsc__listen_blocking(wsc_server *s);
/* Blocking mode: wakes every connection's thread (it looks at the flags again). Caller holds mu. */
void wsc__blocking_wake_all(wsc_server *s);
/* Ends a shutdown's wait: every remaining connection is dropped (any thread, async-signal-safe). */
void wsc__server_drop(wsc_server *s);
/* Wakes whoever waits in wsc_server_listen_thread. */
void wsc__server_mark_running(wsc_server *s, int state);

#endif

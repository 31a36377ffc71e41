/* One epoll worker: accepts on the shared listener, owns its connections (up to max_conn), reads,
 * parses and dispatches, flushes writes once per iteration, and sweeps timeouts once a second. */
#ifndef WSC_SERVER_WORKER_H
#define WSC_SERVER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn/conn.h"
#include "io/poller.h"

typedef struct wsc__worker {
    wsc__wctx w; /* first: the connection code sees only this part */
    wsc__poller poller;
    pthread_t thread;
    int listen_fd;
    int stop_fd;
    int drop_fd;
    const _Atomic bool *stop;     /* the server's: wsc_server_stop was called */
    const _Atomic bool *graceful; /* the server's: wsc_server_shutdown was called */
    bool dropped;
    size_t max_conn;
    bool tcp;
    bool listening;
    uint32_t paused_until; /* accept paused (out of descriptors) until this coarse second */
} wsc__worker;

/* Prepares a worker on listen_fd (tcp: a TCP listener, else unix); stop_fd becomes readable when the server stops. Returns 0 or a
 * WSC_E* code. */
/* stop_fd turns readable at a stop or a shutdown (which one: *stop, *graceful), drop_fd when the
   connections left by a shutdown are to be dropped. */
int wsc__worker_init(wsc__worker *wk, wsc__ctx *ctx, int listen_fd, bool tcp, int stop_fd,
                     int drop_fd, const _Atomic bool *stop, const _Atomic bool *graceful,
                     size_t max_conn, size_t rbuf_size, size_t arena_size);
/* Runs the loop until the server stops and every connection is gone. Thread entry point. */
void *wsc__worker_main(void *arg);
/* Wakes the worker (any thread): it retries stalled jobs. */
void wsc__worker_kick(wsc__worker *wk);
void wsc__worker_destroy(wsc__worker *wk);

#endif

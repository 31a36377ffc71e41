/* Blocking mode: the calling thread accepts; each connection gets a thread that reads with a
 * blocking recv and runs its callbacks inline. The receive timeout is one second, so a thread also
 * notices a stop, a close from another thread and its deadlines without any other wake-up
 * mechanism. Writes block the writer (under the connection's lock): there is no loop to stall. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/listener.h"
#include "server/blocking.h"
#include "util/log.h"

struct wsc__bconn {
    wsc_server *s;
    int fd; /* stays open until the entry leaves the live list */
};

static uint32_t coarse_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

static void unregister(wsc_server *s, struct wsc__bconn *b)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nlive; i++) {
        if (s->live[i] == b) {
            s->live[i] = s->live[--s->nlive];
            break;
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void serve(wsc_server *s, struct wsc__bconn *b, wsc__wctx *w)
{
    wsc_conn *c = wsc__conn_new(w, b->fd, true);
    if (!c || !wsc__wctx_add(w, c)) {
        if (c) {
            c->fd = -1; /* the thread owns the socket */
            wsc__conn_free(c);
        }
        return;
    }
    w->now = coarse_now();
    wsc__conn_set_deadline(c, s->ctx.hs_timeout);
    bool stop_seen = false;
    while (c->state < WSC__ST_DEAD) {
        w->now = coarse_now();
        if (!stop_seen && atomic_load(&s->stop)) {
            stop_seen = w->stopping = true;
            wsc__conn_shutdown(c, WSC_CLOSE_GOING_AWAY);
        }
        wsc__conn_sync_state(c);
        wsc__conn_check_done(c);
        if (c->state < WSC__ST_DEAD && c->deadline && c->deadline <= w->now)
            wsc__conn_timeout(c);
        if (c->state < WSC__ST_DEAD)
            wsc__conn_on_readable(c);
    }
    /* Inline: the close callback has run (or was not owed), and the connection sits in the
       graveyard. */
    wsc__wctx_bury(w);
}

static void *conn_main(void *arg)
{
    struct wsc__bconn *b = arg;
    wsc_server *s = b->s;
    wsc__wctx w;

    if (wsc__wctx_init(&w, &s->ctx, true, s->cfg.small_size, 0, s->cfg.arena_size) == 0) {
        w.defer_close = true;
        wsc__tl_wctx = &w;
        serve(s, b, &w);
        wsc__tl_wctx = NULL;
        wsc__wctx_destroy(&w);
    }
    int fd = b->fd;
    unregister(s, b); /* after this, nobody else touches fd: close it */
    close(fd);
    free(b);
    return NULL;
}

static bool spawn(wsc_server *s, int fd)
{
    struct wsc__bconn *b = calloc(1, sizeof *b);
    if (!b)
        return false;
    b->s = s;
    b->fd = fd;
    /* A second's receive timeout: the thread looks at stop, closes and deadlines that often. */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    pthread_mutex_lock(&s->mu);
    if (s->nlive >= s->cfg.max_conn ||
        (s->nlive == s->live_cap &&
         !(s->live = realloc(s->live, (s->live_cap = s->live_cap ? s->live_cap * 2 : 64) *
                                          sizeof *s->live)))) {
        if (!s->live)
            s->live_cap = s->nlive = 0;
        pthread_mutex_unlock(&s->mu);
        free(b);
        return false;
    }
    s->live[s->nlive++] = b;
    pthread_mutex_unlock(&s->mu);

    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, conn_main, b);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        unregister(s, b);
        free(b);
        return false;
    }
    return true;
}

int wsc__listen_blocking(wsc_server *s)
{
    struct pollfd pfd[2] = {{.fd = s->listen_fd, .events = POLLIN},
                            {.fd = s->stop_fd, .events = POLLIN}};
    wsc__server_mark_running(s, 1);
    while (!atomic_load(&s->stop)) {
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        int fd = wsc__accept(s->listen_fd, false, !s->cfg.unix_path);
        if (fd < 0) {
            if (fd != -EAGAIN && fd != -EINTR && fd != -ECONNABORTED)
                WSC__LOG(WSC_LOG_WARN, "accept: %s", strerror(-fd));
            continue;
        }
        /* Over max_conn (or out of threads): accepted and closed at once. */
        if (!spawn(s, fd))
            close(fd);
    }
    /* Each thread sees the stop within a second and closes with 1001; those whose peer does not
       answer in time are cut off (the socket is shut down under them). */
    pthread_mutex_lock(&s->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WSC__CLOSE_TIMEOUT_S + 2;
    while (s->nlive > 0) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT) {
            for (size_t i = 0; i < s->nlive; i++)
                shutdown(s->live[i]->fd, SHUT_RDWR);
            until.tv_sec += 3600;
        }
    }
    free(s->live);
    s->live = NULL;
    s->live_cap = 0;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

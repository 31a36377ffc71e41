/* Blocking mode: the calling thread accepts; each connection gets a thread of its own that waits on
 * its socket and runs every callback inline. The thread polls the socket (and an eventfd that
 * stops, closes from other threads and queued writes signal), so writes from any thread never block
 * on a slow peer: what the socket does not take is queued, flushed by the connection's thread, and
 * capped by max_buffered, exactly as with the workers. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn/sock.h"
#include "io/drain.h"
#include "io/listener.h"
#include "io/poller.h"
#include "server/blocking.h"
#include "util/log.h"

struct wsc__bconn {
    wsc_server *s;
    int fd;      /* stays open until the entry leaves the live list */
    int wake_fd; /* likewise */
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

/* How long the connection's thread may sleep in poll: until its next deadline or idle-timer event,
   each checked at the top of the loop. */
static int poll_timeout(const wsc_conn *c, uint32_t now)
{
    enum { TICK_MS = 1000, IDLE_MAX_MS = 3600 * 1000 };
    /* Stopping: a stop from a signal handler, which cannot wake each thread, ends a shutdown's
       wait; the flag is looked at every tick. */
    int ms = c->deadline || (c->flags & WSC__F_KEPT) || c->w->stopping ? TICK_MS : -1;
    uint32_t due = wsc__conn_idle_due(c);
    if (due) {
        /* The loop clock is coarse (whole seconds, and a few milliseconds behind): wake a little
           after it turns, not just before. */
        long long idle = due > now ? (long long)(due - now) * 1000 + 20 : TICK_MS;
        if (idle > IDLE_MAX_MS)
            idle = IDLE_MAX_MS;
        if (ms < 0 || idle < ms)
            ms = (int)idle;
    }
    return ms;
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
    if (!wsc__conn_start_tls(c)) {
        wsc__conn_finish(c);
        wsc__wctx_bury(w);
        return;
    }
    bool stop_seen = false;
    c->flags |= WSC__F_RD_PENDING; /* the request is usually in already */
    for (;;) {
        w->now = coarse_now();
        if (!stop_seen && (atomic_load(&s->stop) || atomic_load(&s->graceful))) {
            /* As a worker's begin_stop: a shutdown's close handshake has no bound of its own. */
            stop_seen = w->stopping = true;
            w->graceful = !atomic_load(&s->stop);
            wsc__conn_shutdown(c, WSC_CLOSE_GOING_AWAY);
        }
        if (atomic_load(&s->drop)) {
            w->graceful = false;
            break; /* the shutdown's bound passed: finished below */
        }
        if (c->state < WSC__ST_DEAD) {
            wsc__conn_sync_state(c);
            wsc__conn_check_done(c);
        }
        if (c->state < WSC__ST_DEAD && c->deadline && c->deadline <= w->now)
            wsc__conn_timeout(c);
        if (c->state < WSC__ST_DEAD && (c->flags & WSC__F_KEPT))
            wsc__conn_trim(c);
        if (c->state < WSC__ST_DEAD && (c->flags & WSC__F_RD_PENDING)) {
            wsc__conn_on_readable(c);
            uint32_t t = s->ctx.idle_timeout ? coarse_now() : w->now;
            if (t - w->now >= WSC__IDLE_HELD_S) {
                /* Its callbacks held this thread for seconds: no silence of the peer's. */
                w->now = t;
                wsc__conn_heard(c);
            }
        }
        if (c->state < WSC__ST_DEAD)
            wsc__conn_idle(c); /* after the read: what just arrived counts */
        if (c->state >= WSC__ST_DEAD)
            break;
        /* Level-triggered: wait for input, for room when something is queued, or a wake-up. */
        struct pollfd p[2] = {{.fd = b->fd, .events = (c->flags & WSC__F_EOF) ? 0 : POLLIN},
                              {.fd = w->wake_fd, .events = POLLIN}};
        if (wsc__conn_queued(c) || wsc__conn_read_wants_write(c))
            p[0].events |= POLLOUT;
        int n = poll(p, 2, poll_timeout(c, coarse_now()));
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (p[1].revents)
            wsc__wakefd_drain(w->wake_fd);
        if (p[0].revents & (POLLOUT | POLLERR))
            wsc__conn_on_writable(c);
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) ||
            ((p[0].revents & POLLOUT) && wsc__conn_read_wants_write(c)))
            c->flags |= WSC__F_RD_PENDING;
    }
    if (c->state < WSC__ST_DEAD)
        wsc__conn_finish(c);
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
        w.wake_fd = b->wake_fd;
        wsc__tl_wctx = &w;
        serve(s, b, &w);
        wsc__tl_wctx = NULL;
        wsc__wctx_destroy(&w);
    }
    int fd = b->fd, wake = b->wake_fd;
    unregister(s, b); /* after this, nobody else touches fd or wake */
    wsc__socket_drain_input(fd);
    close(fd);
    close(wake);
    free(b);
    return NULL;
}

/* Adds b to the live list, false over max_conn or out of memory. The list is what stop waits on
   before the server may be freed: on a failed growth it stays as it was, every running thread in
   it, and only this connection is refused. */
static bool live_add(wsc_server *s, struct wsc__bconn *b)
{
    bool ok = false;
    pthread_mutex_lock(&s->mu);
    if (s->nlive < s->cfg.max_conn && s->nlive == s->live_cap) {
        size_t cap = s->live_cap ? s->live_cap * 2 : 64;
        struct wsc__bconn **live = realloc(s->live, cap * sizeof *live);
        if (live) {
            s->live = live;
            s->live_cap = cap;
        }
    }
    if (s->nlive < s->cfg.max_conn && s->nlive < s->live_cap) {
        s->live[s->nlive++] = b;
        ok = true;
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static bool spawn(wsc_server *s, int fd)
{
    struct wsc__bconn *b = calloc(1, sizeof *b);
    if (!b)
        return false;
    b->s = s;
    b->fd = fd;
    b->wake_fd = wsc__wakefd_open();
    if (b->wake_fd < 0) {
        free(b);
        return false;
    }

    if (!live_add(s, b)) {
        close(b->wake_fd);
        free(b);
        return false;
    }

    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, conn_main, b);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        unregister(s, b);
        close(b->wake_fd);
        free(b);
        return false;
    }
    return true;
}

void wsc__blocking_wake_all(wsc_server *s)
{
    for (size_t i = 0; i < s->nlive; i++)
        wsc__wakefd_signal(s->live[i]->wake_fd);
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
        int fd = wsc__accept(s->listen_fd, true, !s->cfg.unix_path);
        if (fd < 0) {
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
                /* The listener stays readable: wait a second (or for stop) instead of spinning. */
                WSC__LOG(WSC_LOG_WARN, "accept: %s; pausing accepts for a second", strerror(-fd));
                poll(pfd + 1, 1, 1000);
            } else if (fd != -EAGAIN && fd != -EINTR && fd != -ECONNABORTED) {
                WSC__LOG(WSC_LOG_WARN, "accept: %s", strerror(-fd));
            }
            continue;
        }
        /* Over max_conn (or out of threads): accepted and closed at once. */
        if (!spawn(s, fd))
            close(fd);
    }
    /* Each thread is woken to close with 1001; those whose peer does not answer in time are cut
       off (the socket is shut down under them). After a shutdown, "in time" starts when its bound
       passed (drop): until then the threads wait for their peers as long as they need. */
    pthread_mutex_lock(&s->mu);
    wsc__blocking_wake_all(s);
    struct timespec until;
    bool armed = false;
    while (s->nlive > 0) {
        if (!armed && (!atomic_load(&s->graceful) || atomic_load(&s->drop) ||
                       atomic_load(&s->stop))) {
            armed = true;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += WSC__CLOSE_TIMEOUT_S + 2;
        }
        if (!armed) {
            /* A stop from a signal handler cannot signal cv: look at the flags every second. */
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&s->cv, &s->mu, &until);
            continue;
        }
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

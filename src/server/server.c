/* wsc_server: creation (config, listener, pools), listen in the calling or a new thread, stop. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conn/conn.h"
#include "conn/hs.h"
#include "io/listener.h"
#include "io/poller.h"
#include "io/tls.h"
#include "proto/handshake.h"
#include "server/blocking.h"
#include "server/config.h"
#include "server/handler_pool.h"
#include "server/server.h"
#include "server/topics.h"
#include "server/worker.h"
#include "util/err.h"
#include "util/log.h"

/* Each worker's receive buffer: big enough that a burst of pipelined messages, or a 64 KiB
   message, comes in with one read. */
enum { RBUF_SIZE = 128 * 1024 };

wsc_server *wsc_server_new(const wsc_handler *handler, const wsc_server_config *cfg, wsc_err *err)
{
    wsc_server *s = calloc(1, sizeof *s);
    if (!s) {
        wsc__err(err, WSC_ENOMEM, NULL);
        return NULL;
    }
    s->listen_fd = s->stop_fd = s->drop_fd = -1;
    atomic_init(&s->stop, false);
    atomic_init(&s->graceful, false);
    atomic_init(&s->drop, false);
    pthread_mutex_init(&s->mu, NULL);
    /* Timed waits on cv (shutdown's bound, blocking mode's close wait) count on the monotonic
       clock: a change of the wall clock must not stretch or cut them. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (wsc__config_resolve(handler, cfg, &s->cfg, err) != 0)
        goto fail;
    const wsc__srv_config *c = &s->cfg;
    int rc = c->unix_path ? wsc__listen_unix(c->unix_path, &s->listen_fd, err)
                          : wsc__listen_tcp(c->address, c->port, &s->listen_fd, &s->port, err);
    if (rc != 0)
        goto fail;
    s->stop_fd = wsc__wakefd_open();
    if (s->stop_fd < 0) {
        wsc__err_sys(err, WSC_EIO, -s->stop_fd, "eventfd");
        goto fail;
    }
    s->drop_fd = wsc__wakefd_open();
    if (s->drop_fd < 0) {
        wsc__err_sys(err, WSC_EIO, -s->drop_fd, "eventfd");
        goto fail;
    }
    s->bufs = wsc__buffers_new(c->small_pool, c->small_size, c->large_pool, c->large_size);
    s->hs_pool = wsc__hs_pool_new(c->hs_count, c->hs_max_size, c->hs_max_headers, c->hs_max_res);
    s->ctx.topics = wsc__topics_new();
    if (!s->bufs || !s->hs_pool || !s->ctx.topics) {
        wsc__err(err, WSC_ENOMEM, "cannot allocate the buffer pools");
        goto fail;
    }
    wsc__ctx *x = &s->ctx;
    x->h = *handler;
    x->bufs = s->bufs;
    x->hs_pool = s->hs_pool;
    x->max_message = c->max_message;
    x->max_buffered = c->max_buffered;
    x->reader_flags = c->utf8 ? WSC__READER_UTF8 : 0;
    x->hs_timeout = c->hs_timeout;
    x->idle_timeout = c->idle_timeout;
    x->idle_ping = c->idle_ping;
    x->keep_small = c->small_pool == 0;
    if (cfg && cfg->tls.cert_file) {
        wsc__tls_server_opts o = {.cert_file = cfg->tls.cert_file,
                                  .key_file = cfg->tls.key_file,
                                  .ca_file = cfg->tls.client_ca_file,
                                  .ca_path = cfg->tls.client_ca_path,
                                  .client_cert_optional = cfg->tls.client_cert_optional,
                                  .min_version = c->tls_min_version,
                                  .max_version = c->tls_max_version,
                                  .no_tickets = cfg->tls.no_session_tickets};
        if (wsc__tls_server_new(&o, &x->tls, err) != 0)
            goto fail;
    }
    x->pmd = c->pmd;
    /* OpenSSL initialises itself lazily (providers, configuration) on first use: pay that now, not
       in the first connection's handshake, and not in every measure of per-connection memory. */
    char accept[29];
    wsc__accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
    return s;
fail:
    wsc_server_free(s);
    return NULL;
}

static void unstall_all(void *arg)
{
    wsc_server *s = arg;
    for (unsigned i = 0; i < s->nworkers; i++)
        wsc__worker_kick(&s->workers[i]);
}

void wsc__server_mark_running(wsc_server *s, int state)
{
    pthread_mutex_lock(&s->mu);
    s->running = state;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static int listen_epoll(wsc_server *s)
{
    const wsc__srv_config *c = &s->cfg;
    int rc = 0;

    if (c->threads) {
        s->pool = wsc__hpool_new(c->threads, c->backlog, c->arena_size, unstall_all, s);
        if (!s->pool)
            return WSC_ENOMEM;
        s->ctx.pool = s->pool;
        s->ctx.submit = wsc__hpool_submit;
        s->ctx.kick = wsc__hpool_kick;
    }
    s->workers = calloc(c->workers, sizeof *s->workers);
    if (!s->workers)
        return WSC_ENOMEM;
    size_t rbuf = c->small_size > RBUF_SIZE ? c->small_size : RBUF_SIZE;
    for (; s->nworkers < c->workers; s->nworkers++) {
        rc = wsc__worker_init(&s->workers[s->nworkers], &s->ctx, s->listen_fd, !c->unix_path,
                              s->stop_fd, s->drop_fd, &s->stop, &s->graceful, c->max_conn, rbuf,
                              c->arena_size);
        if (rc != 0)
            goto out;
    }
    if (s->pool && (rc = wsc__hpool_start(s->pool)) != 0)
        goto out;
    unsigned started = 1;
    for (; started < s->nworkers; started++) {
        if (pthread_create(&s->workers[started].thread, NULL, wsc__worker_main,
                           &s->workers[started]) != 0) {
            rc = WSC_EIO;
            /* Stop the ones already running: they see the stop descriptor. */
            atomic_store(&s->stop, true);
            wsc__wakefd_signal(s->stop_fd);
            break;
        }
    }
    wsc__server_mark_running(s, 1);
    /* Worker 0 is the calling thread. */
    wsc__worker_main(&s->workers[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(s->workers[i].thread, NULL);
out:
    /* Every connection is gone; the pool's last wake-ups were sent before its threads ended. */
    if (s->pool)
        wsc__hpool_stop(s->pool);
    for (unsigned i = 0; i < s->nworkers; i++) {
        wsc__wctx_inbox(&s->workers[i].w, false);
        wsc__wctx_bury(&s->workers[i].w);
        wsc__worker_destroy(&s->workers[i]);
    }
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
    wsc__hpool_free(s->pool);
    s->pool = NULL;
    s->ctx.pool = NULL;
    s->ctx.submit = NULL;
    s->ctx.kick = NULL;
    return rc;
}

/* Takes the one right to listen: WSC_ESTATE when listen runs or ran already (in any thread). */
static int claim(wsc_server *s)
{
    pthread_mutex_lock(&s->mu);
    int rc = s->started ? WSC_ESTATE : 0;
    s->started = true;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Gives the right back when the listen thread could not even start. */
static void unclaim(wsc_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->started = false;
    pthread_mutex_unlock(&s->mu);
}

static int run(wsc_server *s, void *app)
{
    s->ctx.app = app;
    int rc = s->cfg.blocking ? wsc__listen_blocking(s) : listen_epoll(s);
    wsc__server_mark_running(s, rc == 0 ? 2 : -1);
    return rc;
}

int wsc_server_listen(wsc_server *s, void *app)
{
    if (!s)
        return WSC_EINVAL;
    int rc = claim(s);
    return rc ? rc : run(s, app);
}

struct listen_arg {
    wsc_server *s;
    void *app;
};

static void *listen_main(void *p)
{
    struct listen_arg a = *(struct listen_arg *)p;
    free(p);
    run(a.s, a.app);
    return NULL;
}

int wsc_server_listen_thread(wsc_server *s, void *app, pthread_t *thread)
{
    if (!s || !thread)
        return WSC_EINVAL;
    /* Claimed here, not in the new thread: a second call must fail, not start a thread that
       fails later while this call reports success. */
    int rc = claim(s);
    if (rc)
        return rc;
    struct listen_arg *a = malloc(sizeof *a);
    if (!a) {
        unclaim(s);
        return WSC_ENOMEM;
    }
    a->s = s;
    a->app = app;
    if (pthread_create(thread, NULL, listen_main, a) != 0) {
        free(a);
        unclaim(s);
        return WSC_EIO;
    }
    /* The socket has listened since wsc_server_new; wait until the workers serve it too. */
    pthread_mutex_lock(&s->mu);
    while (s->running == 0)
        pthread_cond_wait(&s->cv, &s->mu);
    rc = s->running < 0 ? WSC_EIO : 0;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void wsc_server_stop(wsc_server *s)
{
    /* Async-signal-safe: a lock-free atomic store and one write(2), whose failure must not reach
       the errno of the code the signal interrupted. */
    if (!s)
        return;
    int saved = errno;
    atomic_store(&s->stop, true);
    wsc__wakefd_signal(s->stop_fd);
    /* During a shutdown, a stop ends its wait at once. */
    if (atomic_load(&s->graceful))
        wsc__server_drop(s);
    errno = saved;
}

void wsc__server_drop(wsc_server *s)
{
    atomic_store(&s->drop, true);
    wsc__wakefd_signal(s->drop_fd);
}

/* True until listen has returned (or failed). Caller holds mu. */
static bool listening(const wsc_server *s)
{
    return s->running == 0 || s->running == 1;
}

int wsc_server_shutdown(wsc_server *s, unsigned timeout_ms)
{
    if (!s)
        return WSC_EINVAL;
    /* From a callback the wait could never end: the server waits for that callback to return. */
    if (wsc__tl_wctx || wsc__tl_in_pool)
        return WSC_ESTATE;
    pthread_mutex_lock(&s->mu);
    bool started = s->started;
    pthread_mutex_unlock(&s->mu);
    if (!started)
        return WSC_ESTATE;
    /* The same path as a stop (stop_fd), which each loop tells apart by the flags: no listener,
       close 1001 everywhere, but the close handshakes wait for the peers without their usual
       bound, and the queues in front of the close frames go out whole. */
    atomic_store(&s->graceful, true);
    wsc__wakefd_signal(s->stop_fd);

    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    while (listening(s))
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    if (listening(s)) {
        /* The bound passed: the rest is dropped. Blocking mode's threads sleep in poll, each woken
           here; the epoll workers watch drop_fd. */
        rc = WSC_ETIMEDOUT;
        wsc__server_drop(s);
        wsc__blocking_wake_all(s);
        pthread_cond_broadcast(&s->cv);
        while (listening(s))
            pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    /* A stop during the wait dropped the rest too. */
    if (atomic_load(&s->drop))
        rc = WSC_ETIMEDOUT;
    return rc;
}

void wsc_server_free(wsc_server *s)
{
    if (!s)
        return;
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        if (s->cfg.unix_path)
            unlink(s->cfg.unix_path);
    }
    if (s->stop_fd >= 0)
        close(s->stop_fd);
    if (s->drop_fd >= 0)
        close(s->drop_fd);
    wsc__hs_pool_free(s->hs_pool);
    wsc__topics_free(s->ctx.topics);
    wsc__buffers_free(s->bufs);
    wsc__tls_server_free(s->ctx.tls);
    wsc__config_free(&s->cfg);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

int wsc_server_reload_tls(wsc_server *s, wsc_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!s)
        return wsc__err(err, WSC_EINVAL, NULL);
    if (!s->ctx.tls)
        return wsc__err(err, WSC_ESTATE, "the server has no TLS");
    return wsc__tls_server_reload(s->ctx.tls, err);
}

int wsc_server_port(const wsc_server *s)
{
    return s ? s->port : 0;
}

bool wsc_server_blocking(const wsc_server *s)
{
    return s && s->cfg.blocking;
}

bool wsc_blocking_mode(void)
{
    return false; /* Linux has epoll: the blocking mode is chosen per server (cfg.blocking) */
}

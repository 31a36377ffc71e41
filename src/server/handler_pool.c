/* Handler pool: one mutex and condition variable around an intrusive FIFO. The mutex is held only to
 * link or unlink a connection; callbacks run outside it, and so do signals. Wake-ups are batched
 * both ways: a worker kicks the pool once per loop iteration, and a handler thread wakes a worker
 * once per batch of finished jobs (or before it sleeps). */
#include "server/handler_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "util/cpus.h"
#include "util/log.h"

struct wsc__hpool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wsc_conn *head, *tail;
    size_t queued; /* jobs that count against the backlog (all but close callbacks) */
    size_t backlog;
    bool full;     /* a submit was refused since room last freed up */
    bool quit;
    unsigned idle; /* threads waiting on cv */
    unsigned nthreads, started;
    unsigned ncpus; /* CPUs the threads (and the loops) may run on */
    size_t arena_size;
    void (*unstall)(void *);
    void *arg;
    pthread_t *threads;
};

wsc__hpool *wsc__hpool_new(unsigned threads, size_t backlog, size_t arena_size,
                           void (*unstall)(void *), void *arg)
{
    wsc__hpool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc(threads ? threads : 1, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->nthreads = threads;
    p->ncpus = wsc__cpus_allowed(); /* the threads inherit this thread's mask */
    p->backlog = backlog;
    p->arena_size = arena_size;
    p->unstall = unstall;
    p->arg = arg;
    return p;
}

bool wsc__hpool_submit(wsc__ctx *ctx, wsc_conn *c, bool force)
{
    wsc__hpool *p = ctx->pool;
    pthread_mutex_lock(&p->mu);
    if (!force && p->queued >= p->backlog) {
        p->full = true;
        pthread_mutex_unlock(&p->mu);
        return false;
    }
    if (!force)
        p->queued++;
    c->job_next = NULL;
    if (p->tail)
        p->tail->job_next = c;
    else
        p->head = c;
    p->tail = c;
    pthread_mutex_unlock(&p->mu);
    return true;
}

/* Wakes a thread if jobs wait and one sleeps; returns whether it did. */
static bool wake_one(wsc__hpool *p)
{
    pthread_mutex_lock(&p->mu);
    bool wake = p->head && p->idle;
    pthread_mutex_unlock(&p->mu);
    /* Signalled after the unlock: a thread woken on this CPU must not find the mutex still held and
       go back to sleep on it at once. */
    if (wake)
        pthread_cond_signal(&p->cv);
    return wake;
}

void wsc__hpool_kick(wsc__ctx *ctx)
{
    wsc__hpool *p = ctx->pool;
    if (!wake_one(p) || p->ncpus > 1)
        return;
    /* One CPU for the loop and the pool: the woken thread runs the batch now, while the loop
       yields, instead of whenever the loop next sleeps (by then it has read many more messages,
       and the replies to the first ones have waited for all of them). Jobs still queued when the
       loop gets the CPU back mean that the thread blocked in a handler or was preempted: the
       next thread takes them, as it would have on a CPU of its own. */
    for (unsigned woken = 1;; woken++) {
        sched_yield();
        if (woken == p->nthreads || !wake_one(p))
            break;
    }
}

enum { WAKE_SLOTS = 8, WAKE_EVERY = 32 };

/* Loops to wake after this thread's callbacks returned: each gets one wake-up per batch of jobs
   (and only if it sleeps), not one per message. */
typedef struct {
    wsc__wctx *w[WAKE_SLOTS];
    int n, since;
} wake_list;

static void wake_all(wake_list *l)
{
    for (int i = 0; i < l->n; i++)
        wsc__wctx_wake(l->w[i]);
    l->n = 0;
    l->since = 0;
}

static void note_done(wake_list *l, wsc_conn *c)
{
    wsc__wctx *w = wsc__conn_post(c, WSC__REQ_DONE);
    if (w) {
        int i = 0;
        while (i < l->n && l->w[i] != w)
            i++;
        if (i == l->n) {
            if (l->n == WAKE_SLOTS)
                wake_all(l);
            l->w[l->n++] = w;
        }
    }
    /* Bounded delay: a long run of jobs still lets the loops carry on every few messages. */
    if (++l->since >= WAKE_EVERY)
        wake_all(l);
}

WSC__THREAD_LOCAL bool wsc__tl_in_pool;

static void *run(void *arg)
{
    wsc__hpool *p = arg;
    wsc__tl_in_pool = true;
    wsc_arena arena;
    wake_list wl = {0};
    wsc__arena_init(&arena, p->arena_size);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->quit) {
            if (wl.n) {
                /* About to sleep: the loops get their results now. */
                pthread_mutex_unlock(&p->mu);
                wake_all(&wl);
                pthread_mutex_lock(&p->mu);
                continue;
            }
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        wsc_conn *c = p->head;
        if (!c) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        p->head = c->job_next;
        if (!p->head)
            p->tail = NULL;
        /* More work: another thread takes it. On a single CPU it would only take turns with this
           one, a context switch per turn; there the loop wakes the next thread when this one
           blocks (see wsc__hpool_kick). */
        bool spread = p->head && p->idle && p->ncpus > 1;
        bool unstall = false;
        if (c->job != WSC__JOB_CLOSE) {
            p->queued--;
            if (p->full && p->queued < p->backlog) {
                p->full = false;
                unstall = true;
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (spread)
            pthread_cond_signal(&p->cv);
        if (unstall && p->unstall)
            p->unstall(p->arg);
        wsc__conn_run_pool_job(c, &arena);
        /* Publishes the callback's effects to the connection's worker (release in the inbox). */
        note_done(&wl, c);
    }
    wake_all(&wl);
    wsc__arena_destroy(&arena);
    wsc__batch_free();
    return NULL;
}

int wsc__hpool_start(wsc__hpool *p)
{
    for (; p->started < p->nthreads; p->started++) {
        if (pthread_create(&p->threads[p->started], NULL, run, p) != 0) {
            WSC__LOG(WSC_LOG_ERROR, "cannot start handler thread %u", p->started);
            return WSC_EIO;
        }
    }
    return 0;
}

void wsc__hpool_stop(wsc__hpool *p)
{
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    p->started = 0;
}

void wsc__hpool_free(wsc__hpool *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

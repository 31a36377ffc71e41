/* The Redis cluster module: relays a server's publishes through Redis pub/sub so that servers
 * attached to one Redis share their topics (see wsc_cluster_redis_attach in wsc.h).
 *
 * Threads. The module runs one thread of its own, which owns the two Redis connections (hiredis
 * contexts in non-blocking mode, driven by poll): `sub` carries SUBSCRIBE/UNSUBSCRIBE and the
 * messages, `pub` the PUBLISHes (a subscribed connection may not publish). Handlers and workers
 * never touch them: the topics registry calls the hooks below with its mutex held, and they only
 * queue an operation under `mu` and wake the thread (eventfd). Lock order: the topics mutex, then
 * `mu`; the thread never holds `mu` while it delivers (which takes the topics mutex).
 *
 * Why not hiredis' async API: its per-channel callback table forgets a channel when an UNSUBSCRIBE
 * is confirmed after the same channel was subscribed again, which a topic whose last subscriber
 * leaves and a new one arrives does all the time. Replies are read here as a plain stream instead.
 *
 * Messages on a channel: 16 bytes of the publishing server's random id (a server drops its own
 * echo: its local subscribers had the message already), one byte of type, then the payload. */
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io/poller.h"
#include "proto/redis_url.h"
#include "server/server.h"
#include "server/topics.h"
#include "util/err.h"
#include "util/log.h"

enum {
    ORIGIN_LEN = 16,
    HEAD_LEN = ORIGIN_LEN + 1,
    CONNECT_TIMEOUT_MS = 5000,
    OPS_PER_ROUND = 1024, /* taken from the queue per round (then the sockets get their turn) */
    PREFIX_MAX = 64,
};

enum op_kind { OP_SUB, OP_UNSUB, OP_PUB };

/* A queued operation: the channel, then for OP_PUB the message as it goes to Redis. */
struct op {
    struct op *next;
    uint8_t kind;
    size_t chan_len, body_len;
    char data[];
};

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_UP };

/* One Redis connection, the thread's only. */
struct link {
    redisContext *c;
    bool connected; /* the TCP connect completed */
    bool want_write; /* hiredis holds output the socket did not take */
};

struct wsc_cluster {
    wsc__topics *topics;
    char host[WSC__REDIS_HOST_MAX + 1];
    int port;
    char prefix[PREFIX_MAX];
    size_t prefix_len;
    wsc_cluster_opts opts;
    uint8_t origin[ORIGIN_LEN];
    int wake_fd;
    pthread_t thread;

    /* under mu */
    pthread_mutex_t mu;
    struct op *head, *tail;
    size_t pending;  /* bytes of publishes queued here or in hiredis' output buffer */
    bool connected;  /* publishes are accepted for relaying */
    bool stop;
    wsc_cluster_stats stats;

    /* the thread's own */
    struct link sub, pub;
    enum link_state state;
    uint64_t next_try_ms, started_ms, lost_ms;
    unsigned backoff_ms, attempts;
    bool had_link, lost;
    uint64_t not_relayed_at_loss; /* stats.not_relayed when the link was lost (under mu) */
    size_t appended; /* publish bytes handed to hiredis since its buffer was last empty (under mu
                        where pending is adjusted with it) */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the hooks (any thread, with the topics mutex held) ---- */

/* Caller holds mu. */
static void push_locked(struct wsc_cluster *cl, struct op *o)
{
    bool was_empty = !cl->head;
    o->next = NULL;
    if (cl->tail)
        cl->tail->next = o;
    else
        cl->head = o;
    cl->tail = o;
    if (was_empty)
        wsc__wakefd_signal(cl->wake_fd);
}

static struct op *new_op(const struct wsc_cluster *cl, enum op_kind kind, const char *topic,
                         size_t len, size_t body_len)
{
    struct op *o = malloc(sizeof *o + cl->prefix_len + len + body_len);
    if (!o)
        return NULL;
    o->kind = (uint8_t)kind;
    o->chan_len = cl->prefix_len + len;
    o->body_len = body_len;
    memcpy(o->data, cl->prefix, cl->prefix_len);
    memcpy(o->data + cl->prefix_len, topic, len);
    return o;
}

/* A topic's first subscriber arrived / its last one left: (un)subscribe in Redis. While the link
   is down nothing is queued: the resubscription after the reconnect covers every topic. */
static void hook_sub(struct wsc_cluster *cl, enum op_kind kind, const char *topic, size_t len)
{
    pthread_mutex_lock(&cl->mu);
    if (cl->connected) {
        struct op *o = new_op(cl, kind, topic, len, 0);
        if (o)
            push_locked(cl, o);
        else
            WSC__LOG(WSC_LOG_ERROR, "cluster: out of memory: a topic's Redis subscription changed "
                                    "only at the next reconnect");
    }
    pthread_mutex_unlock(&cl->mu);
}

static void hook_first(void *arg, const char *topic, size_t len)
{
    hook_sub(arg, OP_SUB, topic, len);
}

static void hook_last(void *arg, const char *topic, size_t len)
{
    hook_sub(arg, OP_UNSUB, topic, len);
}

static bool hook_relay(void *arg, const char *topic, size_t len, wsc_msg_type type,
                       const void *data, size_t data_len)
{
    struct wsc_cluster *cl = arg;
    size_t body = HEAD_LEN + data_len;
    pthread_mutex_lock(&cl->mu);
    bool ok = cl->connected && cl->pending + body <= cl->opts.max_pending;
    struct op *o = ok ? new_op(cl, OP_PUB, topic, len, body) : NULL;
    if (o) {
        uint8_t *b = (uint8_t *)o->data + o->chan_len;
        memcpy(b, cl->origin, ORIGIN_LEN);
        b[ORIGIN_LEN] = (uint8_t)type;
        if (data_len)
            memcpy(b + HEAD_LEN, data, data_len);
        cl->pending += body;
        cl->stats.relayed++;
        push_locked(cl, o);
    } else {
        cl->stats.not_relayed++;
    }
    pthread_mutex_unlock(&cl->mu);
    return o != NULL;
}

/* ---- the thread: links ---- */

static void link_close(struct link *l)
{
    if (l->c)
        redisFree(l->c);
    *l = (struct link){0};
}

static bool link_open(struct wsc_cluster *cl, struct link *l)
{
    *l = (struct link){0};
    l->c = redisConnectNonBlock(cl->host, cl->port);
    if (!l->c || l->c->err) {
        WSC__LOG(WSC_LOG_DEBUG, "cluster: connect to %s:%d: %s", cl->host, cl->port,
                 l->c ? l->c->errstr : "out of memory");
        link_close(l);
        return false;
    }
    return true;
}

/* Frees what is queued; caller holds mu. Returns the publishes among it. */
static uint64_t drop_queue_locked(struct wsc_cluster *cl)
{
    uint64_t pubs = 0;
    while (cl->head) {
        struct op *o = cl->head;
        cl->head = o->next;
        pubs += o->kind == OP_PUB;
        free(o);
    }
    cl->tail = NULL;
    return pubs;
}

/* The link broke (or never came up): drop both connections and retry after the backoff. */
static void lose(struct wsc_cluster *cl, const char *reason)
{
    char why[128]; /* reason may be a context's errstr, freed below */
    snprintf(why, sizeof why, "%s", reason);
    bool was_up = cl->state == LINK_UP;
    link_close(&cl->sub);
    link_close(&cl->pub);
    cl->state = LINK_DOWN;
    uint64_t now = now_ms();
    cl->next_try_ms = now + cl->backoff_ms;
    pthread_mutex_lock(&cl->mu);
    if (cl->connected) {
        cl->connected = false;
        cl->not_relayed_at_loss = cl->stats.not_relayed;
        /* Accepted but not (known to be) sent: at most once means lost. A publish whose bytes
           hiredis had written already may or may not have reached Redis; those are not counted. */
        cl->stats.not_relayed += drop_queue_locked(cl);
        cl->pending = 0;
        cl->appended = 0;
    }
    pthread_mutex_unlock(&cl->mu);
    if (was_up) {
        cl->lost = true;
        cl->lost_ms = now;
        cl->attempts = 0;
        WSC__LOG(WSC_LOG_WARN, "cluster: lost the link to redis %s:%d (%s); retrying in %u ms",
                 cl->host, cl->port, why, cl->backoff_ms);
    } else {
        WSC__LOG(WSC_LOG_DEBUG, "cluster: redis %s:%d unreachable (%s); retrying in %u ms",
                 cl->host, cl->port, why, cl->backoff_ms);
    }
    cl->backoff_ms = cl->backoff_ms * 2 > cl->opts.reconnect_max_ms ? cl->opts.reconnect_max_ms
                                                                     : cl->backoff_ms * 2;
}

static void start_connect(struct wsc_cluster *cl)
{
    cl->attempts++;
    cl->started_ms = now_ms();
    if (!link_open(cl, &cl->sub) || !link_open(cl, &cl->pub)) {
        lose(cl, "connect failed");
        return;
    }
    cl->state = LINK_CONNECTING;
}

/* ---- the thread: (re)subscription when the link comes up ---- */

struct names {
    struct wsc_cluster *cl;
    struct op *list;
    bool oom;
};

static void collect_topic(void *arg, const char *topic, size_t len)
{
    struct names *n = arg;
    struct op *o = new_op(n->cl, OP_SUB, topic, len, 0);
    if (!o) {
        n->oom = true;
        return;
    }
    o->next = n->list;
    n->list = o;
}

/* Under the topics mutex: from here on, the hooks queue subscriptions and publishes; queued
   subscription changes from before are covered by the list just collected. */
static void mark_up(void *arg)
{
    struct names *n = arg;
    struct wsc_cluster *cl = n->cl;
    pthread_mutex_lock(&cl->mu);
    drop_queue_locked(cl);
    cl->pending = 0;
    cl->appended = 0;
    cl->connected = true;
    pthread_mutex_unlock(&cl->mu);
}

static bool append_op(struct wsc_cluster *cl, const struct op *o)
{
    static const char *const verbs[] = {"SUBSCRIBE", "UNSUBSCRIBE", "PUBLISH"};
    const char *argv[3] = {verbs[o->kind], o->data, o->data + o->chan_len};
    size_t lens[3] = {strlen(verbs[o->kind]), o->chan_len, o->body_len};
    struct link *l = o->kind == OP_PUB ? &cl->pub : &cl->sub;
    if (redisAppendCommandArgv(l->c, o->kind == OP_PUB ? 3 : 2, argv, lens) != REDIS_OK)
        return false;
    if (o->kind == OP_PUB)
        cl->appended += o->body_len;
    l->want_write = true;
    return true;
}

static void came_up(struct wsc_cluster *cl)
{
    struct names n = {.cl = cl};
    wsc__topics_each(cl->topics, collect_topic, mark_up, &n);
    cl->state = LINK_UP;
    cl->backoff_ms = cl->opts.reconnect_min_ms;
    size_t count = 0;
    bool ok = !n.oom;
    while (n.list) {
        struct op *o = n.list;
        n.list = o->next;
        ok = ok && append_op(cl, o);
        count++;
        free(o);
    }
    if (!ok) {
        lose(cl, "out of memory while subscribing");
        return;
    }
    WSC__LOG(WSC_LOG_INFO, "cluster: connected to redis %s:%d, %zu topics subscribed", cl->host,
             cl->port, count);
    if (!cl->lost) {
        cl->had_link = true;
        return;
    }
    cl->lost = false;
    wsc_cluster_gap g = {.duration_ms = now_ms() - cl->lost_ms, .attempts = cl->attempts};
    pthread_mutex_lock(&cl->mu);
    g.not_relayed = cl->stats.not_relayed - cl->not_relayed_at_loss;
    cl->stats.gaps++;
    pthread_mutex_unlock(&cl->mu);
    WSC__LOG(WSC_LOG_WARN,
             "cluster: redis link restored after a gap of %llu ms (%u attempts): messages from "
             "other servers in that time are lost here; %llu local publishes were not relayed",
             (unsigned long long)g.duration_ms, g.attempts, (unsigned long long)g.not_relayed);
    if (cl->opts.gap)
        cl->opts.gap(&g, cl->opts.user);
}

/* ---- the thread: I/O ---- */

/* A reply on the subscribed connection: deliver messages of other servers. */
static void on_sub_reply(struct wsc_cluster *cl, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len != 7 || memcmp(r->element[0]->str, "message", 7) != 0)
        return; /* a (un)subscription's confirmation */
    const redisReply *chan = r->element[1], *body = r->element[2];
    if (chan->type != REDIS_REPLY_STRING || body->type != REDIS_REPLY_STRING ||
        (size_t)chan->len < cl->prefix_len || (size_t)body->len < HEAD_LEN)
        return;
    const uint8_t *b = (const uint8_t *)body->str;
    if (memcmp(b, cl->origin, ORIGIN_LEN) == 0)
        return; /* our own: its local subscribers had it at once */
    wsc_msg_type type = b[ORIGIN_LEN];
    if (type != WSC_TEXT && type != WSC_BINARY)
        return;
    int rc = wsc__topics_publish(cl->topics, chan->str + cl->prefix_len,
                                 (size_t)chan->len - cl->prefix_len, type, b + HEAD_LEN,
                                 (size_t)body->len - HEAD_LEN, NULL, false);
    if (rc >= 0) {
        pthread_mutex_lock(&cl->mu);
        cl->stats.received++;
        pthread_mutex_unlock(&cl->mu);
    }
}

/* Reads what the link has and handles every complete reply. False when the link broke. */
static bool link_read(struct wsc_cluster *cl, struct link *l, bool is_sub)
{
    if (redisBufferRead(l->c) != REDIS_OK)
        return false;
    for (;;) {
        void *reply = NULL;
        if (redisGetReplyFromReader(l->c, &reply) != REDIS_OK)
            return false;
        if (!reply)
            return true;
        const redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR)
            WSC__LOG(WSC_LOG_WARN, "cluster: redis answered: %.*s", (int)r->len, r->str);
        else if (is_sub)
            on_sub_reply(cl, r);
        freeReplyObject(reply);
    }
}

static bool link_write(struct wsc_cluster *cl, struct link *l, bool is_pub)
{
    int done = 0;
    if (redisBufferWrite(l->c, &done) != REDIS_OK)
        return false;
    l->want_write = !done;
    if (done && is_pub) {
        pthread_mutex_lock(&cl->mu);
        cl->pending = cl->pending > cl->appended ? cl->pending - cl->appended : 0;
        cl->appended = 0;
        pthread_mutex_unlock(&cl->mu);
    }
    return true;
}

/* A connecting link's socket became writable (or failed). */
static bool link_connected(struct link *l)
{
    int e = 0;
    socklen_t sl = sizeof e;
    if (getsockopt(l->c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0 || e != 0)
        return false;
    l->connected = true;
    return true;
}

/* Takes queued operations and hands them to hiredis. */
static bool take_ops(struct wsc_cluster *cl)
{
    pthread_mutex_lock(&cl->mu);
    struct op *list = cl->head;
    struct op *last = NULL;
    size_t n = 0;
    for (struct op *o = list; o && n < OPS_PER_ROUND; o = o->next, n++)
        last = o;
    if (last) {
        cl->head = last->next;
        if (!cl->head)
            cl->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&cl->mu);
    bool ok = true;
    while (list) {
        struct op *o = list;
        list = o->next;
        ok = ok && append_op(cl, o);
        free(o);
    }
    return ok;
}

static bool stopping(struct wsc_cluster *cl)
{
    pthread_mutex_lock(&cl->mu);
    bool s = cl->stop;
    pthread_mutex_unlock(&cl->mu);
    return s;
}

static bool queue_empty(struct wsc_cluster *cl)
{
    pthread_mutex_lock(&cl->mu);
    bool e = !cl->head;
    pthread_mutex_unlock(&cl->mu);
    return e;
}

/* One poll entry for a link. */
static void link_poll(const struct link *l, struct pollfd *p)
{
    p->fd = l->c ? l->c->fd : -1;
    p->events = 0;
    p->revents = 0;
    if (!l->c)
        return;
    if (!l->connected)
        p->events = POLLOUT;
    else
        p->events = (short)(POLLIN | (l->want_write ? POLLOUT : 0));
}

/* Handles a link's events; false when it broke. */
static bool link_events(struct wsc_cluster *cl, struct link *l, short rev, bool is_sub)
{
    if (!l->c || !rev)
        return true;
    if (!l->connected)
        return !(rev & (POLLOUT | POLLERR | POLLHUP)) || link_connected(l);
    if ((rev & (POLLIN | POLLHUP | POLLERR)) && !link_read(cl, l, is_sub))
        return false;
    if ((rev & POLLOUT) && !link_write(cl, l, !is_sub))
        return false;
    return true;
}

static void *cluster_main(void *arg)
{
    struct wsc_cluster *cl = arg;
    while (!stopping(cl)) {
        uint64_t now = now_ms();
        if (cl->state == LINK_DOWN && now >= cl->next_try_ms)
            start_connect(cl);
        if (cl->state == LINK_CONNECTING && cl->sub.connected && cl->pub.connected)
            came_up(cl);
        if (cl->state == LINK_CONNECTING && now - cl->started_ms > CONNECT_TIMEOUT_MS)
            lose(cl, "connect timed out");
        if (cl->state == LINK_UP) {
            if (!take_ops(cl) || (cl->sub.want_write && !link_write(cl, &cl->sub, false)) ||
                (cl->pub.want_write && !link_write(cl, &cl->pub, true))) {
                lose(cl, "write failed");
                continue;
            }
        }
        struct pollfd p[3] = {{.fd = cl->wake_fd, .events = POLLIN}};
        link_poll(&cl->sub, &p[1]);
        link_poll(&cl->pub, &p[2]);
        int timeout = -1;
        if (cl->state == LINK_DOWN)
            timeout = cl->next_try_ms > now ? (int)(cl->next_try_ms - now) : 0;
        else if (cl->state == LINK_CONNECTING)
            timeout = 100;
        else if (!queue_empty(cl))
            timeout = 0; /* more than one round's worth was queued */
        int n = poll(p, 3, timeout);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (p[0].revents)
            wsc__wakefd_drain(cl->wake_fd);
        if (!link_events(cl, &cl->sub, p[1].revents, true)) {
            lose(cl, cl->sub.c && cl->sub.c->err ? cl->sub.c->errstr : "connection closed");
            continue;
        }
        if (!link_events(cl, &cl->pub, p[2].revents, false)) {
            lose(cl, cl->pub.c && cl->pub.c->err ? cl->pub.c->errstr : "connection closed");
            continue;
        }
    }
    link_close(&cl->sub);
    link_close(&cl->pub);
    return NULL;
}

/* ---- public ---- */

static void cluster_free(struct wsc_cluster *cl)
{
    drop_queue_locked(cl);
    if (cl->wake_fd >= 0)
        close(cl->wake_fd);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}

wsc_cluster *wsc_cluster_redis_attach(wsc_server *srv, const char *url,
                                      const wsc_cluster_opts *opts, wsc_err *err)
{
    wsc_cluster_opts o = opts ? *opts : (wsc_cluster_opts){0};
    if (!srv) {
        wsc__err(err, WSC_EINVAL, "no server");
        return NULL;
    }
    if (!o.prefix)
        o.prefix = "wsc:";
    if (!o.reconnect_min_ms)
        o.reconnect_min_ms = 100;
    if (!o.reconnect_max_ms)
        o.reconnect_max_ms = 5000;
    if (!o.max_pending)
        o.max_pending = 8u << 20;
    if (strlen(o.prefix) > PREFIX_MAX) {
        wsc__err(err, WSC_ECONFIG, "cluster prefix longer than %d bytes", PREFIX_MAX);
        return NULL;
    }
    if (o.reconnect_max_ms < o.reconnect_min_ms) {
        wsc__err(err, WSC_ECONFIG, "reconnect_max_ms is less than reconnect_min_ms");
        return NULL;
    }
    struct wsc_cluster *cl = calloc(1, sizeof *cl);
    if (!cl) {
        wsc__err(err, WSC_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&cl->mu, NULL);
    cl->wake_fd = -1;
    const char *bad = wsc__redis_url_parse(url, url ? strlen(url) : 0, cl->host, &cl->port);
    if (bad) {
        wsc__err(err, WSC_ECONFIG, "cluster url: %s", bad);
        cluster_free(cl);
        return NULL;
    }
    cl->topics = srv->ctx.topics;
    cl->opts = o;
    cl->opts.prefix = NULL; /* copied below; the caller's string need not outlive the call */
    cl->prefix_len = strlen(o.prefix);
    memcpy(cl->prefix, o.prefix, cl->prefix_len);
    cl->backoff_ms = o.reconnect_min_ms;
    if (getrandom(cl->origin, sizeof cl->origin, 0) != (ssize_t)sizeof cl->origin) {
        wsc__err_sys(err, WSC_EIO, errno, "getrandom");
        cluster_free(cl);
        return NULL;
    }
    cl->wake_fd = wsc__wakefd_open();
    if (cl->wake_fd < 0) {
        wsc__err_sys(err, WSC_EIO, -cl->wake_fd, "eventfd");
        cl->wake_fd = -1;
        cluster_free(cl);
        return NULL;
    }
    wsc__topics_hooks h = {.arg = cl, .first = hook_first, .last = hook_last, .relay = hook_relay};
    if (wsc__topics_set_hooks(cl->topics, &h) != 0) {
        wsc__err(err, WSC_ESTATE, "the server has a cluster attached already");
        cluster_free(cl);
        return NULL;
    }
    int rc = pthread_create(&cl->thread, NULL, cluster_main, cl);
    if (rc != 0) {
        wsc__topics_set_hooks(cl->topics, NULL);
        wsc__err_sys(err, WSC_EIO, rc, "pthread_create");
        cluster_free(cl);
        return NULL;
    }
    return cl;
}

void wsc_cluster_get_stats(wsc_cluster *cl, wsc_cluster_stats *st)
{
    if (!cl || !st)
        return;
    pthread_mutex_lock(&cl->mu);
    *st = cl->stats;
    st->connected = cl->connected;
    pthread_mutex_unlock(&cl->mu);
}

void wsc_cluster_detach(wsc_cluster *cl)
{
    if (!cl)
        return;
    /* After this no hook runs or will: publishes stay local. */
    wsc__topics_set_hooks(cl->topics, NULL);
    pthread_mutex_lock(&cl->mu);
    cl->stop = true;
    pthread_mutex_unlock(&cl->mu);
    wsc__wakefd_signal(cl->wake_fd);
    pthread_join(cl->thread, NULL);
    cluster_free(cl);
}

/* Topics: subscriptions and publishes within one server (see topics.h for the design). */
#include "server/topics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conn/conn.h"
#include "conn/conn_deflate.h"
#include "conn/shared.h"
#include "proto/frame.h"
#include "server/server.h"

/* One subscription: a node in its connection's list and a slot in its topic's array. */
struct wsc__sub {
    wsc_conn *c;
    struct topic *t;
    struct wsc__sub *next; /* the connection's next subscription */
    struct wsc__sub **pprev; /* what points to this one in the connection's list (O(1) unlink) */
    uint32_t index;        /* its slot in t->subs */
};

struct topic {
    struct topic *next; /* the bucket's chain */
    uint64_t hash;
    struct wsc__sub **subs;
    uint32_t n, cap;
    size_t len;
    char name[]; /* not NUL-terminated */
};

struct wsc__topics {
    pthread_mutex_t mu;
    struct topic **buckets; /* power-of-two count */
    size_t nbuckets, ntopics;
    wsc__topics_hooks hooks;
};

/* Publishes to up to this many subscribers snapshot them on the stack. */
enum { SNAPSHOT_STACK = 64, BUCKETS_MIN = 16 };

/* FNV-1a: short keys, no adversary with control over bucket choice beyond their own topics'
   chains (topic names come from the application). */
static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211u;
    }
    return h;
}

wsc__topics *wsc__topics_new(void)
{
    wsc__topics *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->buckets = calloc(BUCKETS_MIN, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    t->nbuckets = BUCKETS_MIN;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void wsc__topics_free(wsc__topics *t)
{
    if (!t)
        return;
    /* Every connection ended, so every topic is gone; free what an error path may have left. */
    for (size_t i = 0; i < t->nbuckets; i++)
        while (t->buckets[i]) {
            struct topic *tp = t->buckets[i];
            t->buckets[i] = tp->next;
            free(tp->subs);
            free(tp);
        }
    free(t->buckets);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Caller holds mu. */
static struct topic *find(wsc__topics *t, const char *name, size_t len, uint64_t h)
{
    for (struct topic *tp = t->buckets[h & (t->nbuckets - 1)]; tp; tp = tp->next)
        if (tp->hash == h && tp->len == len && memcmp(tp->name, name, len) == 0)
            return tp;
    return NULL;
}

/* Caller holds mu. Doubles the table when it holds more topics than buckets (a failed grow only
   costs longer chains). */
static void maybe_grow(wsc__topics *t)
{
    if (t->ntopics <= t->nbuckets)
        return;
    size_t nb = t->nbuckets * 2;
    struct topic **b = calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < t->nbuckets; i++)
        while (t->buckets[i]) {
            struct topic *tp = t->buckets[i];
            t->buckets[i] = tp->next;
            tp->next = b[tp->hash & (nb - 1)];
            b[tp->hash & (nb - 1)] = tp;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

/* Caller holds mu. The topic, created (without subscribers) when absent; NULL when out of memory. */
static struct topic *get(wsc__topics *t, const char *name, size_t len, uint64_t h)
{
    struct topic *tp = find(t, name, len, h);
    if (tp)
        return tp;
    tp = calloc(1, sizeof *tp + len);
    if (!tp)
        return NULL;
    memcpy(tp->name, name, len);
    tp->len = len;
    tp->hash = h;
    size_t i = h & (t->nbuckets - 1);
    tp->next = t->buckets[i];
    t->buckets[i] = tp;
    t->ntopics++;
    maybe_grow(t);
    return tp;
}

/* Caller holds mu. Removes a topic that has no subscriber left. */
static void drop_topic(wsc__topics *t, struct topic *tp)
{
    if (t->hooks.last)
        t->hooks.last(t->hooks.arg, tp->name, tp->len);
    for (struct topic **p = &t->buckets[tp->hash & (t->nbuckets - 1)]; *p; p = &(*p)->next)
        if (*p == tp) {
            *p = tp->next;
            break;
        }
    t->ntopics--;
    free(tp->subs);
    free(tp);
}

/* Caller holds mu. Takes s out of its topic (the last subscription takes its slot). */
static void unlink_sub(wsc__topics *t, struct wsc__sub *s)
{
    struct topic *tp = s->t;
    uint32_t last = --tp->n;
    if (s->index != last) {
        tp->subs[s->index] = tp->subs[last];
        tp->subs[s->index]->index = s->index;
    }
    if (tp->n == 0)
        drop_topic(t, tp);
}

/* Caller holds mu. c's subscription to tp, or NULL: the topic's subscribers and the connection's
   subscriptions are walked in step, so the cost is the shorter list's, never the length of a
   connection's many subscriptions nor a topic's many subscribers alone. */
static struct wsc__sub *find_sub(const struct topic *tp, const wsc_conn *c)
{
    struct wsc__sub *s = c->subs;
    for (uint32_t i = 0; i < tp->n && s; i++, s = s->next) {
        if (tp->subs[i]->c == c)
            return tp->subs[i];
        if (s->t == tp)
            return s;
    }
    return NULL;
}

/* Caller holds mu. Takes s out of its connection's list. */
static void unlink_from_conn(struct wsc__sub *s)
{
    *s->pprev = s->next;
    if (s->next)
        s->next->pprev = s->pprev;
}

static int subscribe(wsc__topics *t, wsc_conn *c, const char *name, size_t len)
{
    uint64_t h = hash_name(name, len);
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    if (c->topics_ended) {
        rc = WSC_ECLOSED;
        goto out;
    }
    struct topic *tp = find(t, name, len, h);
    if (tp && find_sub(tp, c))
        goto out; /* subscribed already: one delivery per publish */
    if (!tp)
        tp = get(t, name, len, h);
    struct wsc__sub *s = tp ? malloc(sizeof *s) : NULL;
    if (tp && !s && tp->n == 0)
        drop_topic(t, tp);
    if (!s) {
        rc = WSC_ENOMEM;
        goto out;
    }
    if (tp->n == tp->cap) {
        uint32_t cap = tp->cap ? tp->cap * 2 : 4;
        struct wsc__sub **subs = cap > tp->cap ? realloc(tp->subs, cap * sizeof *subs) : NULL;
        if (!subs) {
            free(s);
            if (tp->n == 0)
                drop_topic(t, tp);
            rc = WSC_ENOMEM;
            goto out;
        }
        tp->subs = subs;
        tp->cap = cap;
    }
    *s = (struct wsc__sub){.c = c, .t = tp, .next = c->subs, .pprev = &c->subs, .index = tp->n};
    tp->subs[tp->n++] = s;
    if (c->subs)
        c->subs->pprev = &s->next;
    c->subs = s;
    if (tp->n == 1 && t->hooks.first)
        t->hooks.first(t->hooks.arg, name, len);
out:
    pthread_mutex_unlock(&t->mu);
    return rc;
}

static int unsubscribe(wsc__topics *t, wsc_conn *c, const char *name, size_t len)
{
    int rc = WSC_ESTATE;
    pthread_mutex_lock(&t->mu);
    struct topic *tp = find(t, name, len, hash_name(name, len));
    struct wsc__sub *s = tp ? find_sub(tp, c) : NULL;
    if (s) {
        unlink_from_conn(s);
        unlink_sub(t, s);
        free(s);
        rc = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void wsc__topics_conn_end(wsc__topics *t, wsc_conn *c)
{
    pthread_mutex_lock(&t->mu);
    c->topics_ended = true;
    while (c->subs) {
        struct wsc__sub *s = c->subs;
        unlink_from_conn(s);
        unlink_sub(t, s);
        free(s);
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- one publish's frames ---- */

/* The frames of one publish: the plain one, and compressed ones made on first need, one per window
   size, for subscribers whose permessage-deflate has no context takeover on our side: each of
   their messages is compressed from an empty window, so one compression serves every such
   subscriber with that window. Subscribers with context takeover get the plain frame (RFC 7692
   lets any message go uncompressed): their compressed bytes would depend on their own history,
   one compression each. */
struct frames {
    wsc__shared *plain;
    wsc__shared *z[16]; /* by window bits */
    uint16_t tried;     /* a bit per window size whose compression was attempted */
    wsc_msg_type type;
    const void *data;
    size_t len;
};

struct grow_buf {
    uint8_t *p;
    size_t cap;
};

static uint8_t *grow_room(void *ctx, size_t have, size_t need)
{
    struct grow_buf *b = ctx;
    (void)have;
    if (need <= b->cap)
        return b->p;
    size_t cap = need > 2 * b->cap ? need : 2 * b->cap;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return NULL;
    b->p = p;
    b->cap = cap;
    return p;
}

/* The message compressed from an empty window of 2^bits bytes, framed with RSV1; NULL when out of
   memory (the subscriber then gets the plain frame). */
static wsc__shared *compressed(const struct frames *fr, unsigned bits, int level)
{
    wsc__deflater d;
    wsc__deflater_init(&d, bits, level, true, false);
    struct grow_buf b = {NULL, 0};
    const wsc__pmd_sink sink = {grow_room, &b};
    uint8_t *out, hdr[WSC__FRAME_HEADER_MAX];
    size_t clen;
    wsc__shared *f = NULL;
    if (wsc__deflate_message(&d, fr->data, fr->len, &sink, 0, &out, &clen) == 0) {
        size_t hl = wsc__frame_header_build(hdr, (unsigned)fr->type, true, true, clen, NULL);
        f = wsc__shared_new(hdr, hl, out, clen);
    }
    wsc__deflater_end(&d);
    free(b.p);
    return f;
}

static wsc__shared *frame_for(struct frames *fr, const wsc_conn *c)
{
    /* c->pmd and the fields read here are set once, before c could subscribe. */
    const wsc__pmd_conn *p = c->pmd;
    if (!p || !p->out.reset || fr->len < p->threshold || p->out.bits > 15)
        return fr->plain;
    unsigned bits = p->out.bits;
    if (!(fr->tried & (1u << bits))) {
        fr->tried |= (uint16_t)(1u << bits);
        fr->z[bits] = compressed(fr, bits, p->out.level);
    }
    return fr->z[bits] ? fr->z[bits] : fr->plain;
}

int wsc__topics_publish(wsc__topics *t, const char *name, size_t len, wsc_msg_type type,
                        const void *data, size_t data_len, wsc_conn *except, bool relay)
{
    /* A shared frame's length is 32 bits (so is any sane message); larger is the caller's error. */
    if ((type != WSC_TEXT && type != WSC_BINARY) || data_len > WSC_PUBLISH_MAX)
        return WSC_EINVAL;
    /* Framed once: every subscriber gets these same bytes, by reference when it has to queue them. */
    wsc__shared *f = wsc__shared_frame(type, data, data_len);
    if (!f)
        return WSC_ENOMEM;
    wsc_conn *stack[SNAPSHOT_STACK], **to = stack;
    size_t k = 0;
    bool relayed = true;
    pthread_mutex_lock(&t->mu);
    struct topic *tp = find(t, name, len, hash_name(name, len));
    size_t n = tp ? tp->n : 0;
    if (n > SNAPSHOT_STACK && !(to = malloc(n * sizeof *to))) {
        pthread_mutex_unlock(&t->mu);
        wsc__shared_unref(f);
        return WSC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        wsc_conn *c = tp->subs[i]->c;
        if (c == except)
            continue;
        wsc_conn_retain(c); /* valid after the mutex is released, even if it ends meanwhile */
        to[k++] = c;
    }
    if (relay && t->hooks.relay)
        relayed = t->hooks.relay(t->hooks.arg, name, len, type, data, data_len);
    pthread_mutex_unlock(&t->mu);

    int accepted = 0;
    struct frames fr = {.plain = f, .type = type, .data = data, .len = data_len};
    for (size_t i = 0; i < k; i++) {
        /* A refusal is that subscriber's own matter (closing, or too far behind: 1008). */
        if (wsc__conn_write_shared(to[i], frame_for(&fr, to[i])) == 0)
            accepted++;
        wsc__conn_unref(to[i]);
    }
    if (to != stack)
        free(to);
    for (unsigned b = 0; b < 16; b++)
        if (fr.z[b])
            wsc__shared_unref(fr.z[b]);
    wsc__shared_unref(f);
    return relayed ? accepted : WSC_ENORELAY;
}

int wsc__topics_set_hooks(wsc__topics *t, const wsc__topics_hooks *h)
{
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    if (h && t->hooks.relay)
        rc = WSC_ESTATE;
    else if (h)
        t->hooks = *h;
    else
        memset(&t->hooks, 0, sizeof t->hooks);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void wsc__topics_each(wsc__topics *t, void (*fn)(void *arg, const char *topic, size_t len),
                      void (*locked)(void *arg), void *arg)
{
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->nbuckets; i++)
        for (struct topic *tp = t->buckets[i]; tp; tp = tp->next)
            fn(arg, tp->name, tp->len);
    if (locked)
        locked(arg);
    pthread_mutex_unlock(&t->mu);
}

/* ---- public ---- */

static bool topic_ok(const char *topic, size_t *len)
{
    if (!topic)
        return false;
    *len = strnlen(topic, WSC_TOPIC_MAX + 1);
    return *len > 0 && *len <= WSC_TOPIC_MAX;
}

int wsc_conn_subscribe(wsc_conn *c, const char *topic)
{
    size_t len;
    if (!c || !topic_ok(topic, &len))
        return WSC_EINVAL;
    if (!c->w->ctx->topics)
        return WSC_ESTATE; /* a connection of the test helpers: no server */
    return subscribe(c->w->ctx->topics, c, topic, len);
}

int wsc_conn_unsubscribe(wsc_conn *c, const char *topic)
{
    size_t len;
    if (!c || !topic_ok(topic, &len))
        return WSC_EINVAL;
    if (!c->w->ctx->topics)
        return WSC_ESTATE;
    return unsubscribe(c->w->ctx->topics, c, topic, len);
}

int wsc_server_publish(wsc_server *srv, const char *topic, wsc_msg_type type, const void *data,
                       size_t len)
{
    size_t tl;
    if (!srv || !topic_ok(topic, &tl) || (!data && len))
        return WSC_EINVAL;
    return wsc__topics_publish(srv->ctx.topics, topic, tl, type, data, len, NULL, true);
}

int wsc_conn_publish(wsc_conn *c, const char *topic, wsc_msg_type type, const void *data,
                     size_t len)
{
    size_t tl;
    if (!c || !topic_ok(topic, &tl) || (!data && len))
        return WSC_EINVAL;
    if (!c->w->ctx->topics)
        return WSC_ESTATE;
    return wsc__topics_publish(c->w->ctx->topics, topic, tl, type, data, len, c, true);
}

/* The broadcast handler: a room per request path holds the connections that upgraded on it.
 *
 * A connection joins in after_init, not init: before the 101 is out nothing may be written to it,
 * and a broadcast could otherwise reach it first. It leaves in close.
 *
 * Threads: callbacks of different connections run at once on the handler pool, so one mutex guards
 * every room. A broadcast frames the message once (wsc_frame_new), takes a snapshot of its room
 * under the lock with each connection retained, and writes outside the lock: a write may end a
 * connection whose queue is full (1008), and the close callback that follows takes the lock. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rooms.h"

struct room {
    struct room *next;
    wsc_conn **conns;
    size_t n, cap;
    size_t path_len;
    char path[];
};

struct rooms {
    pthread_mutex_t mu;
    struct room *list;
};

/* A connection's user data. */
struct member {
    rooms *rs;
    struct room *room; /* NULL until it joined (after_init) */
    size_t index;      /* its place in room->conns */
    size_t path_len;
    char path[];
};

rooms *rooms_new(void)
{
    rooms *r = calloc(1, sizeof *r);
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void room_free(struct room *room)
{
    free(room->conns);
    free(room);
}

void rooms_free(rooms *r)
{
    if (!r)
        return;
    while (r->list) {
        struct room *next = r->list->next;
        room_free(r->list);
        r->list = next;
    }
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Caller holds mu. */
static struct room *room_get(rooms *rs, const char *path, size_t len)
{
    for (struct room *room = rs->list; room; room = room->next)
        if (room->path_len == len && memcmp(room->path, path, len) == 0)
            return room;
    struct room *room = calloc(1, sizeof *room + len);
    if (!room)
        return NULL;
    memcpy(room->path, path, len);
    room->path_len = len;
    room->next = rs->list;
    rs->list = room;
    return room;
}

/* Caller holds mu. */
static void room_drop_if_empty(rooms *rs, struct room *room)
{
    if (room->n)
        return;
    for (struct room **p = &rs->list; *p; p = &(*p)->next)
        if (*p == room) {
            *p = room->next;
            room_free(room);
            return;
        }
}

/* Caller holds mu. */
static bool room_add(struct room *room, wsc_conn *conn, size_t *index)
{
    if (room->n == room->cap) {
        size_t cap = room->cap ? room->cap * 2 : 8;
        wsc_conn **conns = realloc(room->conns, cap * sizeof *conns);
        if (!conns)
            return false;
        room->conns = conns;
        room->cap = cap;
    }
    *index = room->n;
    room->conns[room->n++] = conn;
    return true;
}

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn;
    wsc_str path = wsc_handshake_path(hs);
    struct member *m = calloc(1, sizeof *m + path.len);
    if (!m)
        return 503;
    m->rs = app;
    if (path.len)
        memcpy(m->path, path.ptr, path.len);
    m->path_len = path.len;
    *user = m;
    return 0;
}

static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    struct member *m = user;
    rooms *rs = m->rs;
    pthread_mutex_lock(&rs->mu);
    struct room *room = room_get(rs, m->path, m->path_len);
    if (room && room_add(room, conn, &m->index))
        m->room = room;
    else if (room)
        room_drop_if_empty(rs, room);
    pthread_mutex_unlock(&rs->mu);
    return m->room ? 0 : WSC_ENOMEM;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    struct member *m = user;
    struct room *room = m->room;
    if (room) {
        rooms *rs = m->rs;
        pthread_mutex_lock(&rs->mu);
        /* The last connection takes the leaver's place. */
        size_t last = --room->n;
        if (m->index != last) {
            wsc_conn *moved = room->conns[last];
            room->conns[m->index] = moved;
            ((struct member *)wsc_conn_user(moved))->index = m->index;
        }
        room_drop_if_empty(rs, room);
        pthread_mutex_unlock(&rs->mu);
    }
    free(m);
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)conn;
    struct member *m = user;
    rooms *rs = m->rs;
    wsc_framed frame;
    int rc = wsc_frame_new(&frame, msg->type, msg->data, msg->len);
    if (rc)
        return rc;

    pthread_mutex_lock(&rs->mu);
    size_t n = m->room ? m->room->n : 0;
    wsc_conn **to = n ? wsc_arena_alloc(msg->arena, n * sizeof *to) : NULL;
    if (to)
        for (size_t i = 0; i < n; i++) {
            to[i] = m->room->conns[i];
            wsc_conn_retain(to[i]);
        }
    pthread_mutex_unlock(&rs->mu);

    /* A refused write is the receiver's problem: closing (WSC_ECLOSED) or too far behind
       (WSC_EFULL, which closes it with 1008). The others still get the message. */
    for (size_t i = 0; to && i < n; i++) {
        (void)wsc_conn_write_framed(to[i], frame.data, frame.len);
        wsc_conn_release(to[i]);
    }
    wsc_frame_free(&frame);
    return n && !to ? WSC_ENOMEM : 0;
}

void rooms_handler(wsc_handler *h)
{
    h->init = on_init;
    h->after_init = on_after_init;
    h->message = on_message;
    h->close = on_close;
}

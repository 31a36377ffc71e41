/* The broadcast handler: a room per request path holds the connections that upgraded on it. A room
 * is a topic of the server (wsc_conn_subscribe, wsc_server_publish): the library frames each message
 * once, writes it to every member, and drops a member's subscription when it ends.
 *
 * A connection joins in after_init, not init: before the 101 is out nothing may be written to it,
 * and a broadcast could otherwise reach it first. */
#include <stdlib.h>
#include <string.h>

#include "rooms.h"

struct rooms {
    wsc_server *srv;
};

/* A connection's user data: its room's name. */
struct member {
    rooms *rs;
    char path[];
};

rooms *rooms_new(void)
{
    return calloc(1, sizeof(rooms));
}

void rooms_bind(rooms *r, wsc_server *srv)
{
    r->srv = srv;
}

void rooms_free(rooms *r)
{
    free(r);
}

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn;
    wsc_str path = wsc_handshake_path(hs);
    if (path.len == 0 || path.len > WSC_TOPIC_MAX || memchr(path.ptr, 0, path.len))
        return 400;
    struct member *m = malloc(sizeof *m + path.len + 1);
    if (!m)
        return 503;
    m->rs = app;
    memcpy(m->path, path.ptr, path.len);
    m->path[path.len] = 0;
    *user = m;
    return 0;
}

static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    struct member *m = user;
    return wsc_conn_subscribe(conn, m->path);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    free(user); /* its subscription ended with the connection */
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)conn;
    struct member *m = user;
    /* A refused write is the receiver's problem: closing, or too far behind (1008). The others
       still get the message. */
    int rc = wsc_server_publish(m->rs->srv, m->path, msg->type, msg->data, msg->len);
    return rc == WSC_ENOMEM ? rc : 0;
}

void rooms_handler(wsc_handler *h)
{
    h->init = on_init;
    h->after_init = on_after_init;
    h->message = on_message;
    h->close = on_close;
}

/* A chat room in the browser: one program serves the page over plain HTTP (GET /) and the room's
 * WebSocket (/ws) on the same port.
 *
 *   chat [--port N] [--address A]
 *
 * Listens on 127.0.0.1:9224 by default (--port 0: any free port) and prints the URL to open in a
 * browser. Every line a browser sends goes to every browser in the room, framed once. SIGINT or
 * SIGTERM stops it cleanly (exit status 0). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

/* What the server keeps per browser: made in init, freed in close. */
struct member {
    chat_room *room;
    bool joined;
    char name[CHAT_NAME_MAX + 1];
};

static wsc_server *server;
static atomic_uint guests;

static void on_signal(int sig)
{
    (void)sig;
    wsc_server_stop(server); /* async-signal-safe */
}

static bool is(wsc_str s, const char *lit)
{
    return s.ptr && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Plain HTTP requests: the page at "/", nothing else. The connection closes after the answer. */
static int on_http(wsc_handshake *hs, void *app)
{
    (void)app;
    wsc_str path = wsc_handshake_path(hs);
    if (!is(path, "/") && !is(path, "/index.html"))
        return 404;
    if (wsc_handshake_add_response_header(hs, "Cache-Control", "no-store") != 0)
        return 500;
    return wsc_handshake_respond(hs, 200, "text/html; charset=utf-8", chat_page, chat_page_len) == 0
               ? 0
               : 500;
}

/* A page of another site may open a WebSocket to this server too (browsers send its Origin and
   let it through): only the page this server served may join. */
static bool same_origin(const wsc_handshake *hs)
{
    wsc_str origin = wsc_handshake_header(hs, "origin"), host = wsc_handshake_header(hs, "host");
    if (!origin.ptr)
        return true; /* not a browser */
    return host.ptr && origin.len == 7 + host.len && memcmp(origin.ptr, "http://", 7) == 0 &&
           memcmp(origin.ptr + 7, host.ptr, host.len) == 0;
}

/* The upgrade request of /ws?name=...: who joins. */
static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn;
    if (!is(wsc_handshake_path(hs), "/ws"))
        return 404;
    if (!same_origin(hs))
        return 403;
    struct member *m = calloc(1, sizeof *m);
    if (!m)
        return 503;
    m->room = app;
    char name[CHAT_NAME_MAX + 1];
    int n = wsc_handshake_query_param(hs, "name", name, sizeof name);
    if (n > 0 && chat_name_ok(name, (size_t)n))
        memcpy(m->name, name, (size_t)n + 1);
    else
        snprintf(m->name, sizeof m->name, "guest-%u", atomic_fetch_add(&guests, 1) + 1);
    *user = m;
    return 0;
}

static void announce(struct member *m, const char *kind, size_t online)
{
    char event[CHAT_EVENT_MAX];
    size_t n = chat_event_presence(event, sizeof event, kind, m->name, online);
    chat_room_send(m->room, event, n);
}

/* The 101 is out: the browser is in the room from here on, and everyone hears of it. */
static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    struct member *m = user;
    size_t online = chat_room_join(m->room, conn);
    if (online == 0)
        return -1; /* out of memory: closes with 1011 */
    m->joined = true;
    announce(m, "join", online);
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct member *m = user;
    if (msg->type != WSC_TEXT) {
        wsc_conn_close(conn, WSC_CLOSE_UNSUPPORTED, "text only");
        return 0;
    }
    if (msg->len == 0)
        return 0;
    /* The event lives on the callback's arena: nothing to free. */
    char *event = wsc_arena_alloc(msg->arena, CHAT_EVENT_MAX);
    if (!event)
        return -1;
    size_t n = chat_event_message(event, CHAT_EVENT_MAX, m->name, (const char *)msg->data, msg->len);
    chat_room_send(m->room, event, n);
    return 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    struct member *m = user;
    if (m->joined)
        announce(m, "leave", chat_room_leave(m->room, conn));
    free(m);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--port N] [--address A]\n"
            "  serves a chat page at http://A:N/ (default 127.0.0.1:9224; --port 0: any free port)\n",
            argv0);
}

int main(int argc, char **argv)
{
    wsc_server_config cfg = {
        .port = 9224,
        .address = "127.0.0.1",
        .max_message_size = CHAT_TEXT_MAX,
        /* A browser's request carries its cookies and a long User-Agent: more than the default
           1 KiB at times. */
        .handshake = {.max_size = 8192},
    };
    wsc_handler handler = {.http = on_http,
                           .init = on_init,
                           .after_init = on_after_init,
                           .message = on_message,
                           .close = on_close};
    wsc_err err;

    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0]);
            return 0;
        }
        char *end = NULL;
        long port = v && strcmp(a, "--port") == 0 ? strtol(v, &end, 10) : -1;
        if (v && strcmp(a, "--address") == 0) {
            cfg.address = v;
        } else if (end && end != v && !*end && port >= 0 && port <= 65535) {
            cfg.port = port == 0 ? WSC_PORT_EPHEMERAL : (int)port;
        } else {
            fprintf(stderr, "%s: bad option or value: %s %s\n", argv[0], a, v ? v : "");
            usage(argv[0]);
            return 2;
        }
    }

    chat_room *room = chat_room_new();
    if (!room) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    server = wsc_server_new(&handler, &cfg, &err);
    if (!server) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        chat_room_free(room);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    bool v6 = strchr(cfg.address, ':') != NULL;
    printf("chat: open http://%s%s%s:%d/ in a browser (Ctrl-C stops)\n", v6 ? "[" : "",
           cfg.address, v6 ? "]" : "", wsc_server_port(server));
    fflush(stdout);

    int rc = wsc_server_listen(server, room);
    wsc_server_free(server);
    chat_room_free(room);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[0], wsc_strerror(rc));
        return 1;
    }
    return 0;
}

/* A broadcast server on topics: a client that connects to ws://HOST:PORT/PATH joins topic PATH, and
 * every text or binary message it sends is published to that topic: every client in it receives
 * it, the sender included. With --redis, on every server attached to the same Redis too (see
 * examples/cluster/README.md for two servers behind nginx).
 *
 *   broadcast_server [--port N] [--address A] [--redis redis://HOST:PORT] [--threads N]
 *                    [--max-buffered BYTES]
 *
 * Listens on 127.0.0.1:9225 by default (--port 0: any free port; the line printed at start says
 * which). A client that stops reading is closed with 1008 once more than --max-buffered bytes wait
 * for it. Cluster events (connected, link lost, the gap after a reconnect) are logged to standard
 * error. SIGINT or SIGTERM stops it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsc.h"

static wsc_server *server;

static void on_signal(int sig)
{
    (void)sig;
    wsc_server_stop(server); /* async-signal-safe */
}

/* The topic is the request path (the query is not part of it). */
static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn;
    (void)app;
    wsc_str path = wsc_handshake_path(hs);
    if (path.len == 0 || path.len > WSC_TOPIC_MAX || memchr(path.ptr, 0, path.len))
        return 400;
    char *topic = malloc(path.len + 1);
    if (!topic)
        return 503;
    memcpy(topic, path.ptr, path.len);
    topic[path.len] = 0;
    *user = topic;
    return 0;
}

/* Joins after the 101 went out: a publish may write to it from now on. */
static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    return wsc_conn_subscribe(conn, user);
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)conn;
    /* WSC_ENORELAY (Redis is away) still reached this server's clients: not the sender's fault.
       Subscribers too far behind are closed by the library (1008); the others get it. */
    int rc = wsc_server_publish(server, user, msg->type, msg->data, msg->len);
    return rc == WSC_ENOMEM ? rc : 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    free(user); /* the subscription ended with the connection */
}

static void on_gap(const wsc_cluster_gap *gap, void *user)
{
    (void)user;
    fprintf(stderr,
            "broadcast_server: redis gap of %llu ms (%u attempts), %llu publishes not relayed\n",
            (unsigned long long)gap->duration_ms, gap->attempts,
            (unsigned long long)gap->not_relayed);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--port N] [--address A] [--redis redis://HOST:PORT] [--threads N]\n"
            "          [--max-buffered BYTES]\n"
            "  --port 0 picks a free port; --threads 0 runs handlers inline on the workers\n",
            argv0);
}

static bool number(const char *s, long long min, long long max, long long *out)
{
    char *end;
    if (!s || !*s)
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    wsc_server_config cfg = {.port = 9225, .address = "127.0.0.1"};
    wsc_handler handler = {.init = on_init,
                           .after_init = on_after_init,
                           .message = on_message,
                           .close = on_close};
    const char *redis = NULL;
    wsc_err err;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(argv[0]);
            return 0;
        }
        if (!v) {
            usage(argv[0]);
            return 2;
        }
        i++;
        if (strcmp(a, "--address") == 0) {
            cfg.address = v;
        } else if (strcmp(a, "--redis") == 0) {
            redis = v;
        } else if (strcmp(a, "--port") == 0 && number(v, 0, 65535, &n)) {
            cfg.port = n == 0 ? WSC_PORT_EPHEMERAL : (int)n;
        } else if (strcmp(a, "--threads") == 0 && number(v, 0, 1024, &n)) {
            cfg.thread_pool.count = n == 0 ? WSC_THREAD_POOL_INLINE : (int)n;
        } else if (strcmp(a, "--max-buffered") == 0 && number(v, 1, 1LL << 40, &n)) {
            cfg.max_buffered = (size_t)n;
        } else {
            fprintf(stderr, "%s: bad option or value: %s %s\n", argv[0], a, v);
            usage(argv[0]);
            return 2;
        }
    }

    wsc_log_set_level(WSC_LOG_INFO);
    server = wsc_server_new(&handler, &cfg, &err);
    if (!server) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        return 1;
    }
    wsc_cluster *cluster = NULL;
    if (redis) {
        wsc_cluster_opts opts = {.gap = on_gap};
        cluster = wsc_cluster_redis_attach(server, redis, &opts, &err);
        if (!cluster) {
            fprintf(stderr, "%s: --redis %s: %s\n", argv[0], redis, err.message);
            wsc_server_free(server);
            return 1;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (strchr(cfg.address, ':'))
        printf("broadcast_server listening on ws://[%s]:%d/\n", cfg.address, wsc_server_port(server));
    else
        printf("broadcast_server listening on ws://%s:%d/\n", cfg.address, wsc_server_port(server));
    fflush(stdout);

    int rc = wsc_server_listen(server, NULL);
    wsc_cluster_detach(cluster);
    wsc_server_free(server);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[0], wsc_strerror(rc));
        return 1;
    }
    return 0;
}

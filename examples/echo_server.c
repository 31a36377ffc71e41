/* The first example of websocket.zig's README in C: a server that echoes every message back.
 *
 *   echo_server [--port N] [--address A] [--unix PATH] [--workers N] [--threads N] [--blocking]
 *               [--small-pool N] [--max-message N] [--idle-timeout S]
 *               [--tls-cert F --tls-key F [--tls-client-ca F]]
 *               [--deflate [--deflate-no-takeover] [--deflate-shared] [--deflate-level N]]
 *
 * Listens on 127.0.0.1:9224 by default. --threads 0 runs the handler inline on the worker threads
 * (no hand-off). --idle-timeout S pings a client silent for S/2 seconds and closes one silent for S
 * (default 120; 0: never). --tls-cert and --tls-key (PEM files) serve wss:// instead of ws://;
 * --tls-client-ca admits only clients with a certificate issued by a CA in that PEM file. SIGHUP
 * reads the certificate files again (renewal) without dropping a connection. --deflate accepts
 * permessage-deflate and compresses every message (no threshold); --deflate-no-takeover also asks
 * the client for no context takeover in both directions, --deflate-shared compresses with one
 * stream per worker (no context takeover for the server's messages); --deflate-level N (1..9,
 * default 6) is zlib's compression level.
 *
 * SIGTERM or SIGINT shuts it down gracefully: no new connections, close 1001 to every client after
 * what was queued for it, and up to SHUTDOWN_MS for the clients to answer; a second one stops at
 * once. Exit status 0 either way. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsc.h"

enum { SHUTDOWN_MS = 10000 };

static wsc_server *server;
static int wake[2] = {-1, -1}; /* the signal handler's pipe to the shutdown thread */
static volatile sig_atomic_t signals;

/* Async-signal-safe: the handler only writes to a pipe or calls wsc_server_stop; the graceful
   shutdown, which waits, runs on a thread of its own. */
static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        char b = 'r';
        if (write(wake[1], &b, 1) < 0) {
            /* a reload is already pending */
        }
    } else if (signals++ == 0) {
        char b = 's';
        if (write(wake[1], &b, 1) < 0) {
            /* nothing to do here: the next signal stops at once */
        }
    } else {
        wsc_server_stop(server);
    }
    errno = saved;
}

/* Waits for the first SIGTERM or SIGINT ('s'), or for main to say listen returned ('q'); reloads
   the certificates on each SIGHUP ('r') meanwhile. */
static void *shutdown_main(void *arg)
{
    (void)arg;
    char b = 0;
    for (;;) {
        ssize_t n = read(wake[0], &b, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != 1 || b != 'r')
            break;
        wsc_err err;
        if (wsc_server_reload_tls(server, &err) == 0)
            fprintf(stderr, "echo_server: TLS certificate reloaded\n");
        else
            fprintf(stderr, "echo_server: reload failed, keeping the old certificate: %s\n",
                    err.message);
    }
    if (b == 's') {
        fprintf(stderr, "echo_server: shutting down (up to %d s; signal again to stop now)\n",
                SHUTDOWN_MS / 1000);
        if (wsc_server_shutdown(server, SHUTDOWN_MS) == WSC_ETIMEDOUT)
            fprintf(stderr, "echo_server: some clients did not close in time: dropped\n");
    }
    return NULL;
}

/* This is where the application's per-connection state would be made (websocket.zig's
 * Handler.init). */
static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs, (void)conn, (void)app, (void)user;
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0 ? 0 : -1;
}

static void usage(const char *argv0)
{
    fprintf(
        stderr,
        "usage: %s [--port N] [--address A] [--unix PATH] [--workers N] [--threads N]\n"
        "          [--blocking] [--small-pool N] [--max-message N] [--idle-timeout S]\n"
        "          [--tls-cert F --tls-key F [--tls-client-ca F]]\n"
        "          [--deflate [--deflate-no-takeover] [--deflate-shared] [--deflate-level N]]\n"
        "  --threads 0 runs handlers inline on the workers\n"
        "  --idle-timeout S: ping a client silent for S/2 seconds, close one silent for S\n"
        "    (default 120; 0: never)\n"
        "  --tls-cert, --tls-key: PEM certificate chain and key: serve wss:// (SIGHUP reloads)\n"
        "  --tls-client-ca F: require client certificates issued by a CA in F\n"
        "  --deflate: permessage-deflate, every message compressed; --deflate-no-takeover: no\n"
        "    context takeover either way; --deflate-shared: one compressor per worker\n",
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
    wsc_server_config cfg = {.port = 9224, .address = "127.0.0.1"};
    wsc_handler handler = {.init = on_init, .message = on_message};
    wsc_err err;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long long n = 0;
        if (strcmp(a, "--blocking") == 0) {
            cfg.blocking = true;
            continue;
        }
        if (strcmp(a, "--deflate") == 0) {
            cfg.deflate.enabled = true;
            continue;
        }
        if (strcmp(a, "--deflate-no-takeover") == 0) {
            cfg.deflate.server_no_context_takeover = true;
            cfg.deflate.client_no_context_takeover = true;
            continue;
        }
        if (strcmp(a, "--deflate-shared") == 0) {
            cfg.deflate.shared_compressor = true;
            continue;
        }
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
        } else if (strcmp(a, "--unix") == 0) {
            cfg.unix_path = v;
        } else if (strcmp(a, "--port") == 0 && number(v, 0, 65535, &n)) {
            cfg.port = n == 0 ? WSC_PORT_EPHEMERAL : (int)n;
        } else if (strcmp(a, "--workers") == 0 && number(v, 1, 256, &n)) {
            cfg.worker_count = (unsigned)n;
        } else if (strcmp(a, "--threads") == 0 && number(v, 0, 1024, &n)) {
            cfg.thread_pool.count = n == 0 ? WSC_THREAD_POOL_INLINE : (int)n;
        } else if (strcmp(a, "--small-pool") == 0 && number(v, 0, 1 << 24, &n)) {
            cfg.buffers.small_pool = (size_t)n;
        } else if (strcmp(a, "--deflate-level") == 0 && number(v, 1, 9, &n)) {
            cfg.deflate.level = (int)n;
        } else if (strcmp(a, "--max-message") == 0 && number(v, 1, 1LL << 30, &n)) {
            cfg.max_message_size = (size_t)n;
        } else if (strcmp(a, "--idle-timeout") == 0 && number(v, 0, 1 << 30, &n)) {
            cfg.idle_timeout = n == 0 ? WSC_TIMEOUT_OFF : (int)n;
        } else if (strcmp(a, "--tls-cert") == 0) {
            cfg.tls.cert_file = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            cfg.tls.key_file = v;
        } else if (strcmp(a, "--tls-client-ca") == 0) {
            cfg.tls.client_ca_file = v;
        } else {
            fprintf(stderr, "%s: bad option or value: %s %s\n", argv[0], a, v);
            usage(argv[0]);
            return 2;
        }
    }

    server = wsc_server_new(&handler, &cfg, &err);
    if (!server) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        return 1;
    }
    pthread_t shutdown_thread;
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    sigaddset(&both, SIGHUP);
    if (pipe(wake) != 0) {
        perror("pipe");
        wsc_server_free(server);
        return 1;
    }
    /* The signals go to this thread (which listens): the shutdown thread starts with them
       blocked. */
    pthread_sigmask(SIG_BLOCK, &both, &old);
    int trc = pthread_create(&shutdown_thread, NULL, shutdown_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (trc != 0) {
        fprintf(stderr, "%s: cannot start a thread\n", argv[0]);
        wsc_server_free(server);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sa.sa_mask = both; /* one handler at a time: signals counts them */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (cfg.tls.cert_file)
        sigaction(SIGHUP, &sa, NULL);

    const char *scheme = cfg.tls.cert_file ? "wss" : "ws";
    if (cfg.unix_path)
        printf("echo_server listening on unix:%s%s\n", cfg.unix_path,
               cfg.tls.cert_file ? " (TLS)" : "");
    else if (strchr(cfg.address, ':'))
        printf("echo_server listening on %s://[%s]:%d/\n", scheme, cfg.address,
               wsc_server_port(server));
    else
        printf("echo_server listening on %s://%s:%d/\n", scheme, cfg.address,
               wsc_server_port(server));
    fflush(stdout);

    int rc = wsc_server_listen(server, NULL);
    pthread_sigmask(SIG_BLOCK, &both, NULL); /* no handler may reach the server once it is freed */
    /* A shutdown under way returns now that listen did; without one, the thread just ends. */
    char q = 'q';
    if (write(wake[1], &q, 1) < 0)
        perror("write");
    pthread_join(shutdown_thread, NULL);
    wsc_server_free(server);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", argv[0], wsc_strerror(rc));
        return 1;
    }
    return 0;
}

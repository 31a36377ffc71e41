/* lws_echo: a libwebsockets echo server, for the comparison rows of the
 * benchmark. Built only where Debian's libwebsockets-dev is installed:
 *   cc -O2 bench/lws_echo.c $(pkg-config --cflags --libs libwebsockets)
 *
 * It is written the way the library's own examples are: one service loop,
 * messages gathered from their fragments, echoed from the WRITEABLE
 * callback. Received bytes are gathered straight into the connection's
 * outbound queue (each record with the LWS_PRE room lws_write needs in front
 * of it), so an echo costs no copy of our own and no allocation once the
 * queue has grown to the working size.
 *
 *   lws_echo [--port N] [--address A] [--tls-cert F --tls-key F] [--deflate]
 *   (default 127.0.0.1:9226)
 * With a certificate and key (PEM) it serves wss through the TLS library libwebsockets was built
 * with (Debian's: OpenSSL). --deflate accepts permessage-deflate (the library's own RFC 7692
 * extension).
 * SIGINT/SIGTERM stop it (exit status 0). */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE (64u * 1024u * 1024u)

/* A record in the queue: header, LWS_PRE bytes of room, payload. */
struct rec {
    size_t len;
    int binary;
};
#define REC_PAYLOAD (sizeof(struct rec) + LWS_PRE)

struct pss {
    unsigned char *q; /* records [head, done) are complete; [done, tail) is being received */
    size_t cap, head, done, tail;
};

/* Set by SIGINT/SIGTERM. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int reserve(struct pss *p, size_t more)
{
    if (p->tail + more <= p->cap)
        return 0;
    /* Complete records written already: slide what is left to the front. */
    if (p->head > 0) {
        memmove(p->q, p->q + p->head, p->tail - p->head);
        p->done -= p->head;
        p->tail -= p->head;
        p->head = 0;
        if (p->tail + more <= p->cap)
            return 0;
    }
    size_t cap = p->cap ? p->cap : 4096;
    while (cap < p->tail + more)
        cap *= 2;
    unsigned char *q = realloc(p->q, cap);
    if (!q)
        return -1;
    p->q = q;
    p->cap = cap;
    return 0;
}

static int on_receive(struct lws *wsi, struct pss *p, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        if (reserve(p, REC_PAYLOAD))
            return -1;
        struct rec r = {.len = 0, .binary = lws_frame_is_binary(wsi)};
        memcpy(p->q + p->done, &r, sizeof r);
        p->tail = p->done + REC_PAYLOAD;
    }
    if (p->tail - p->done - REC_PAYLOAD + len > MAX_MESSAGE || reserve(p, len))
        return -1;
    memcpy(p->q + p->tail, in, len);
    p->tail += len;
    if (lws_is_final_fragment(wsi)) {
        struct rec r;
        memcpy(&r, p->q + p->done, sizeof r);
        r.len = p->tail - p->done - REC_PAYLOAD;
        memcpy(p->q + p->done, &r, sizeof r);
        p->done = p->tail;
        lws_callback_on_writable(wsi);
    }
    return 0;
}

static int on_writeable(struct lws *wsi, struct pss *p)
{
    while (p->head < p->done) {
        struct rec r;
        memcpy(&r, p->q + p->head, sizeof r);
        unsigned char *payload = p->q + p->head + REC_PAYLOAD;
        int n = lws_write(wsi, payload, r.len, r.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (n < (int)r.len)
            return -1;
        /* lws keeps what the socket did not take, so the record is free now. */
        p->head += REC_PAYLOAD + r.len;
        if (p->head < p->done && lws_send_pipe_choked(wsi)) {
            lws_callback_on_writable(wsi);
            break;
        }
    }
    if (p->head == p->done && p->done == p->tail)
        p->head = p->done = p->tail = 0;
    return 0;
}

static int callback_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    struct pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        memset(p, 0, sizeof *p);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, p, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, p);
    case LWS_CALLBACK_CLOSED:
        free(p->q);
        p->q = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"echo", callback_echo, sizeof(struct pss), 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* permessage-deflate with the library's defaults, as its examples enable it. */
static const struct lws_extension extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *cert = NULL, *key = NULL;
    int port = 9226, deflate = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            addr = argv[++i];
        else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc)
            cert = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc)
            key = argv[++i];
        else if (strcmp(argv[i], "--deflate") == 0)
            deflate = 1;
        else {
            fprintf(stderr, "usage: lws_echo [--port N] [--address A] [--tls-cert F --tls-key F] "
                            "[--deflate]\n");
            return 2;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    lws_set_log_level(LLL_ERR, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = addr;
    info.protocols = protocols;
    if (deflate)
        info.extensions = extensions;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    if (strchr(addr, ':'))
        info.options = 0;
    if (cert && key) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cert;
        info.ssl_private_key_filepath = key;
    }
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        fprintf(stderr, "lws_echo: cannot listen on %s:%d\n", addr, port);
        return 1;
    }
    int n = 0;
    while (n >= 0 && !interrupted)
        n = lws_service(ctx, 0);
    lws_context_destroy(ctx);
    return 0;
}

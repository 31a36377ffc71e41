/* Test helpers for users' handlers (websocket.zig's `testing`): a real connected socket pair on
 * 127.0.0.1. The server end is a wsc_conn in blocking mode (writes go straight to the socket); the
 * client end is read here with the client-side frame reader. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn/conn.h"
#include "proto/assembler.h"
#include "proto/reader.h"

enum { EXPECT_WAIT_MS = 2000, TEST_BUF = 4096 };

struct wsc_test {
    wsc__ctx ctx;
    wsc__wctx w;
    wsc_conn *conn;
    int client_fd;
    wsc__reader rd;
    uint8_t *in; /* bytes received on the client side, [off, len) not parsed yet */
    size_t off, len, cap;
    uint8_t *msg; /* the message being assembled */
    size_t msg_len, msg_cap;
};

static int test_message(wsc_conn *c, void *user, const wsc_msg *m)
{
    (void)c, (void)user, (void)m;
    return 0;
}

static int socket_pair(int *server_fd, int *client_fd)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int cfd = -1, sfd = -1;
    if (lfd < 0)
        return -1;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) != 0)
        goto fail;
    cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof sa) != 0)
        goto fail;
    sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (sfd < 0)
        goto fail;
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(lfd);
    *server_fd = sfd;
    *client_fd = cfd;
    return 0;
fail:
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    return -1;
}

wsc_test *wsc_test_init(void)
{
    wsc_test *t = calloc(1, sizeof *t);
    int sfd = -1;
    if (!t)
        return NULL;
    t->client_fd = -1;
    t->ctx.h.message = test_message;
    t->ctx.max_message = 0; /* the server side reads nothing here */
    t->ctx.max_buffered = SIZE_MAX;
    t->ctx.bufs = wsc__buffers_new(0, 2048, 0, 0);
    if (!t->ctx.bufs || wsc__wctx_init(&t->w, &t->ctx, true, 256, 0, 0) != 0) {
        wsc__buffers_free(t->ctx.bufs);
        free(t);
        return NULL;
    }
    t->w.sync_writes = true; /* nobody polls this socket: writes complete in the call */
    if (socket_pair(&sfd, &t->client_fd) != 0 || !(t->conn = wsc__conn_new(&t->w, sfd, false))) {
        if (sfd >= 0)
            close(sfd);
        wsc_test_free(t);
        return NULL;
    }
    /* The client end reads what a server sends: unmasked frames, no size limit. */
    wsc__reader_init(&t->rd, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    return t;
}

wsc_conn *wsc_test_conn(wsc_test *t)
{
    return t ? t->conn : NULL;
}

void wsc_test_free(wsc_test *t)
{
    if (!t)
        return;
    if (t->conn)
        wsc__conn_free(t->conn); /* closes the server end */
    if (t->client_fd >= 0)
        close(t->client_fd);
    wsc__wctx_destroy(&t->w);
    wsc__buffers_free(t->ctx.bufs);
    free(t->in);
    free(t->msg);
    free(t);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads more bytes into t->in, waiting until deadline. */
static int fill(wsc_test *t, int64_t deadline)
{
    if (t->off == t->len)
        t->off = t->len = 0;
    if (t->len == t->cap) {
        if (t->off) {
            memmove(t->in, t->in + t->off, t->len - t->off);
            t->len -= t->off;
            t->off = 0;
        } else {
            size_t nc = t->cap ? t->cap * 2 : TEST_BUF;
            uint8_t *p = realloc(t->in, nc);
            if (!p)
                return WSC_ENOMEM;
            t->in = p;
            t->cap = nc;
        }
    }
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return WSC_ETIMEDOUT;
        struct pollfd p = {.fd = t->client_fd, .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return WSC_ETIMEDOUT;
        ssize_t n = recv(t->client_fd, t->in + t->len, t->cap - t->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return WSC_ECLOSED;
        t->len += (size_t)n;
        return 0;
    }
}

/* The message assembler's store (proto/assembler.h): a heap buffer that doubles. */
static uint8_t *msg_room(void *ctx, size_t have, size_t need, const uint8_t *chunk)
{
    wsc_test *t = ctx;
    (void)have;
    (void)chunk;
    if (need > t->msg_cap) {
        uint8_t *p = realloc(t->msg, need * 2);
        if (!p)
            return NULL;
        t->msg = p;
        t->msg_cap = need * 2;
    }
    return t->msg;
}

/* The next complete frame's message: type and payload (a data message may span frames). */
static int next_message(wsc_test *t, unsigned *type, const uint8_t **data, size_t *len)
{
    int64_t deadline = now_ms() + EXPECT_WAIT_MS;
    const wsc__asm_store store = {msg_room, t};
    t->msg_len = 0;
    for (;;) {
        wsc__event ev;
        size_t used = wsc__reader_next(&t->rd, t->in + t->off, t->len - t->off, &ev);
        if (ev.kind == WSC__EV_NEED_MORE) {
            int rc = fill(t, deadline);
            if (rc != 0)
                return rc;
            continue;
        }
        if (ev.kind == WSC__EV_ERROR) {
            fprintf(stderr, "wsc_test: invalid frame from the connection: %s\n",
                    wsc__reader_error(&t->rd));
            return WSC_EPROTO;
        }
        t->off += used;
        if (ev.kind == WSC__EV_CONTROL) {
            *type = ev.opcode;
            *data = ev.data;
            *len = ev.len;
            return 0;
        }
        uint8_t *msg;
        switch (wsc__asm_add(&t->msg_len, &ev, &store, &msg, len)) {
        case WSC__ASM_NOMEM:
        case WSC__ASM_TOO_BIG: /* only compressed messages, which the test helpers never agree to */
        case WSC__ASM_INVALID:
            return WSC_ENOMEM;
        case WSC__ASM_MORE:
            continue;
        case WSC__ASM_DONE:
            *type = ev.opcode;
            *data = msg ? msg : (const uint8_t *)"";
            return 0;
        }
    }
}

static const char *type_name(unsigned type)
{
    switch (type) {
    case WSC_TEXT:
        return "text";
    case WSC_BINARY:
        return "binary";
    case WSC_CLOSE:
        return "close";
    case WSC_PING:
        return "ping";
    case WSC_PONG:
        return "pong";
    default:
        return "unknown";
    }
}

static int report(int rc)
{
    if (rc == WSC_ETIMEDOUT)
        fprintf(stderr, "wsc_test: no frame within %d ms\n", EXPECT_WAIT_MS);
    else if (rc == WSC_ECLOSED)
        fprintf(stderr, "wsc_test: the connection ended before a frame arrived\n");
    return rc == WSC_ECLOSED || rc == WSC_EPROTO ? WSC_EMISMATCH : rc;
}

int wsc_test_expect_message(wsc_test *t, wsc_msg_type type, const void *data, size_t len)
{
    unsigned got_type = 0;
    const uint8_t *got = NULL;
    size_t got_len = 0;
    if (!t || (!data && len))
        return WSC_EINVAL;
    int rc = next_message(t, &got_type, &got, &got_len);
    if (rc != 0)
        return report(rc);
    if (got_type != (unsigned)type) {
        fprintf(stderr, "wsc_test: expected a %s message, got %s\n", type_name(type),
                type_name(got_type));
        return WSC_EMISMATCH;
    }
    if (got_len != len || (len && memcmp(got, data, len) != 0)) {
        fprintf(stderr, "wsc_test: expected %s \"%.*s\" (%zu bytes), got \"%.*s\" (%zu bytes)\n",
                type_name(type), (int)(len > 64 ? 64 : len), (const char *)data, len,
                (int)(got_len > 64 ? 64 : got_len), (const char *)got, got_len);
        return WSC_EMISMATCH;
    }
    return 0;
}

int wsc_test_expect_close(wsc_test *t)
{
    unsigned got_type = 0;
    const uint8_t *got = NULL;
    size_t got_len = 0;
    if (!t)
        return WSC_EINVAL;
    int rc = next_message(t, &got_type, &got, &got_len);
    if (rc != 0)
        return report(rc);
    if (got_type != WSC_CLOSE) {
        fprintf(stderr, "wsc_test: expected a close frame, got %s\n", type_name(got_type));
        return WSC_EMISMATCH;
    }
    return 0;
}

/* A blocked writer must not stop the reader (the deadlock of a full socket in both directions).
 *
 * The raw server (a thread of this test) stops reading as soon as the client's big message starts
 * arriving, so the client's writer blocks holding the writer lock. It then pings and writes far more
 * than the socket buffers hold, reading nothing until all of it is written. The client's read loop
 * must keep reading (its automatic pong cannot go out in the middle of the writer's frame, so it
 * waits for the end of that frame instead of blocking the reader); only then can the server finish
 * writing and read the big message and the pong that follows it. Every wait is bounded: a stall is
 * reported as a failure after a few seconds, never a hang. */
#include "../test.h"

#include <pthread.h>

#include "client_test_util.h"
#include "proto/handshake.h"

enum {
    CLIENT_MSG = 8 << 20,   /* more than the client's send buffer and the server's receive buffer */
    SERVER_MSG = 1 << 20,   /* each server message */
    SERVER_MSGS = 40,       /* more than the client's receive buffer can grow to */
    PINGS = 4,              /* spread through the data, after one before it */
    STALL_MS = 5000,        /* no progress writing for this long: the stall is there */
    SMALL_BUF = 64 * 1024
};

typedef struct {
    int ls, port;
    pthread_t tid;
    /* results */
    bool stalled;        /* the server's writes made no progress for STALL_MS */
    bool got_message;    /* the client's big message arrived intact */
    int pongs;           /* pongs seen */
    char last_pong[126]; /* payload of the last one */
    char last_ping[16];
    int close_code; /* the client's answer to our close, -1 if none */
} stall_server;

/* Writes all of p within STALL_MS of the last progress. */
static bool write_progress(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        struct pollfd pfd = {fd, POLLOUT, 0};
        if (poll(&pfd, 1, STALL_MS) <= 0)
            return false;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static size_t server_header(uint8_t *h, unsigned op, size_t n)
{
    h[0] = (uint8_t)(0x80 | op);
    if (n < 126) {
        h[1] = (uint8_t)n;
        return 2;
    }
    if (n < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)n >> (8 * (7 - i)));
    return 10;
}

static bool send_ping(int fd, stall_server *s, int i)
{
    uint8_t f[32];
    int n = snprintf(s->last_ping, sizeof s->last_ping, "ping-%d", i);
    size_t h = server_header(f, 9, (size_t)n);
    memcpy(f + h, s->last_ping, (size_t)n);
    return write_progress(fd, f, h + (size_t)n);
}

static void *serve(void *arg)
{
    stall_server *s = arg;
    char head[4096], out[512];
    int fd = ct_accept(s->ls, 10000);
    if (fd < 0)
        return NULL;
    ct_read_head(fd, head, sizeof head, 5000);
    size_t n = ct_build_101(head, NULL, out, sizeof out);
    ct_write_all(fd, out, n);

    /* The big message has started: from here its writer holds the lock until we read. */
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, 10000) <= 0)
        goto out;

    uint8_t *data = malloc(SERVER_MSG + 10);
    size_t h = server_header(data, 2, SERVER_MSG);
    memset(data + h, 'd', SERVER_MSG);
    bool ok = send_ping(fd, s, 0);
    for (int i = 0; ok && i < SERVER_MSGS; i++) {
        ok = write_progress(fd, data, h + SERVER_MSG);
        if (ok && (i + 1) % (SERVER_MSGS / PINGS) == 0)
            ok = send_ping(fd, s, (i + 1) / (SERVER_MSGS / PINGS));
    }
    free(data);
    if (!ok) {
        s->stalled = true;
        goto out;
    }

    /* Now read: the big message, then (not inside it) the pong of the latest ping. */
    uint8_t *in = malloc(CLIENT_MSG);
    int64_t until = ct_now_ms() + 20000;
    while (!(s->got_message && s->pongs > 0 && strcmp(s->last_pong, s->last_ping) == 0)) {
        int64_t left = until - ct_now_ms();
        size_t len;
        bool masked;
        int op = left > 0 ? ct_read_frame(fd, in, CLIENT_MSG, &len, &masked, (int)left) : -1;
        if (op < 0)
            break;
        if (op == 2 && len == CLIENT_MSG && masked) {
            s->got_message = true;
            for (size_t i = 0; i < len; i++)
                if (in[i] != (uint8_t)(i * 7)) {
                    s->got_message = false;
                    break;
                }
        } else if (op == 10 && len < sizeof s->last_pong) {
            s->pongs++;
            memcpy(s->last_pong, in, len);
            s->last_pong[len] = '\0';
        }
    }
    static const uint8_t close1000[] = {0x88, 2, 0x03, 0xE8};
    ct_write_all(fd, close1000, sizeof close1000);
    size_t len;
    bool masked;
    if (ct_read_frame(fd, in, 125, &len, &masked, 5000) == 8)
        s->close_code = len >= 2 ? in[0] << 8 | in[1] : 1005;
    free(in);
out:
    close(fd);
    return NULL;
}

typedef struct {
    size_t bytes;
    int messages;
} counts;

static int on_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)c;
    counts *n = user;
    n->bytes += msg->len;
    n->messages++;
    return 0;
}

TEST(blocked_writer_does_not_stop_the_reader)
{
    static stall_server s;
    ct_watchdog(120);
    s.close_code = -1;
    s.ls = ct_listen(&s.port);
    CHECK(s.ls >= 0);
    /* Small buffers on the server's side make the client's writer block early; they are set on the
       listener so the accepted socket has them before any data moves. */
    int small = SMALL_BUF;
    setsockopt(s.ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    setsockopt(s.ls, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    CHECK(pthread_create(&s.tid, NULL, serve, &s) == 0);

    wsc_err err;
    wsc_client_config cfg = {.host = "127.0.0.1", .port = s.port, .max_size = SERVER_MSG};
    wsc_client *c = wsc_client_new(&cfg, &err);
    if (c && wsc_client_handshake(c, "/", NULL, &err) != 0) {
        wsc_client_free(c);
        c = NULL;
    }
    if (!c) {
        fprintf(stderr, "  %s\n", err.message);
        pthread_join(s.tid, NULL);
        close(s.ls);
        CHECK(c);
    }
    static counts got;
    wsc_client_handler h = {.message = on_message};
    pthread_t loop;
    CHECK(wsc_client_read_loop_thread(c, &h, &got, &loop) == 0);

    uint8_t *msg = malloc(CLIENT_MSG);
    CHECK(msg);
    for (size_t i = 0; i < CLIENT_MSG; i++)
        msg[i] = (uint8_t)(i * 7);
    EXPECT_EQ_INT(wsc_client_write_binary(c, msg, CLIENT_MSG), 0);
    free(msg);

    pthread_join(s.tid, NULL);
    pthread_join(loop, NULL);
    close(s.ls);
    wsc_client_free(c);

    EXPECT(!s.stalled);
    EXPECT(s.got_message);
    EXPECT(s.pongs >= 1);
    EXPECT_EQ_STR(s.last_pong, s.last_ping); /* section 5.5.3: the latest ping is the one answered */
    EXPECT_EQ_INT(got.messages, SERVER_MSGS);
    EXPECT_EQ_INT(got.bytes, (size_t)SERVER_MSGS * SERVER_MSG);
    EXPECT_EQ_INT(s.close_code, 1000);
}

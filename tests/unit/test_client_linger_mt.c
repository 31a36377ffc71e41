/* RFC 6455 section 7.1.1: when the server starts the close handshake, the client answers and then
 * waits for the server to close the TCP connection first (so that TIME_WAIT stays on the server),
 * for a bounded time only. A raw server (a thread of this test) sends a close frame, reads the
 * answer, then watches for a while whether the client hangs up before it does. */
#include "../test.h"

#include <pthread.h>

#include "client_test_util.h"
#include "proto/handshake.h"

typedef struct {
    int ls, port;
    pthread_t tid;
    bool never_close;  /* the server does not close: the client must give up by itself */
    int reply_code;    /* the client's answer: its code, 1005 if empty, -1 if none */
    bool client_first; /* the client ended the stream while the server waited */
    bool client_gone;  /* never_close: the client ended the stream in the end */
} linger_server;

static void *serve(void *arg)
{
    linger_server *s = arg;
    char head[4096], out[512];
    s->reply_code = -1;
    int fd = ct_accept(s->ls, 10000);
    if (fd < 0)
        return NULL;
    ct_read_head(fd, head, sizeof head, 5000);
    size_t n = ct_build_101(head, NULL, out, sizeof out);
    static const uint8_t close4001[] = {0x88, 2, 0x0F, 0xA1};
    ct_write_all(fd, out, n);
    ct_write_all(fd, close4001, sizeof close4001);
    uint8_t p[125];
    size_t len;
    bool masked;
    if (ct_read_frame(fd, p, sizeof p, &len, &masked, 5000) == 8)
        s->reply_code = len >= 2 ? p[0] << 8 | p[1] : 1005;
    if (s->never_close) {
        /* Much longer than the client waits: it has to end the stream itself. */
        s->client_gone = ct_read_n(fd, p, 1, 10000) == 0;
    } else {
        /* A client that closed without waiting has its end of stream here already. */
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 300) == 1 && read(fd, p, sizeof p) <= 0)
            s->client_first = true;
    }
    close(fd);
    return NULL;
}

static wsc_client *start(linger_server *s)
{
    ct_watchdog(60);
    s->ls = ct_listen(&s->port);
    if (s->ls < 0 || pthread_create(&s->tid, NULL, serve, s) != 0)
        return NULL;
    wsc_err err;
    wsc_client_config cfg = {.host = "127.0.0.1", .port = s->port};
    wsc_client *c = wsc_client_new(&cfg, &err);
    if (c && wsc_client_handshake(c, "/", NULL, &err) != 0) {
        fprintf(stderr, "  %s\n", err.message);
        wsc_client_free(c);
        c = NULL;
    }
    return c;
}

static void finish(linger_server *s)
{
    pthread_join(s->tid, NULL);
    close(s->ls);
}

TEST(read_waits_for_the_server_to_close_first)
{
    static linger_server s;
    wsc_client *c = start(&s);
    if (!c)
        finish(&s);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_CLOSE);
    EXPECT_EQ_INT(m.close_code, 4001);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
    finish(&s);
    EXPECT_EQ_INT(s.reply_code, 4001);
    EXPECT(!s.client_first);
}

static int on_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)c;
    (void)user;
    (void)msg;
    return 0;
}

TEST(read_loop_waits_for_the_server_to_close_first)
{
    static linger_server s;
    wsc_client *c = start(&s);
    if (!c)
        finish(&s);
    CHECK(c);
    wsc_client_handler h = {.message = on_message};
    EXPECT_EQ_INT(wsc_client_read_loop(c, &h, NULL), 0);
    wsc_client_free(c);
    finish(&s);
    EXPECT_EQ_INT(s.reply_code, 4001);
    EXPECT(!s.client_first);
}

TEST(the_wait_is_bounded)
{
    static linger_server s;
    s.never_close = true;
    wsc_client *c = start(&s);
    if (!c)
        finish(&s);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_CLOSE);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    /* The client closed its end after its short wait: the server sees the end of the stream. */
    finish(&s);
    wsc_client_free(c);
    EXPECT_EQ_INT(s.reply_code, 4001);
    EXPECT(s.client_gone);
}

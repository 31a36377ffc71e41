/* Server core over real sockets, in every mode (epoll + pool, epoll + inline, blocking) and with
 * dedicated and pooled small buffers: echo of every size class, fragmentation with interleaved
 * control frames, automatic pong, the close handshake from both sides, protocol violations and their
 * close codes, the size cap, max_conn, the handshake timeout, and close callbacks run exactly once. */
#include "../test.h"
#include "ws_test_client.h"

#include "conn/conn.h"

static atomic_int closes, inits, after_inits;

static int echo_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs, (void)conn, (void)app;
    *user = (void *)0x1234;
    atomic_fetch_add(&inits, 1);
    return 0;
}

static int echo_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)conn, (void)app;
    atomic_fetch_add(&after_inits, 1);
    return user == (void *)0x1234 ? 0 : -1;
}

static int echo_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    if (msg->len == 5 && memcmp(msg->data, "close", 5) == 0)
        return wsc_conn_close(conn, 4001, "asked to");
    if (msg->len == 4 && memcmp(msg->data, "fail", 4) == 0)
        return -1;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void echo_close(wsc_conn *conn, void *user)
{
    (void)conn;
    if (user == (void *)0x1234)
        atomic_fetch_add(&closes, 1);
}

static const wsc_handler echo = {
    .init = echo_init, .after_init = echo_after_init, .message = echo_message, .close = echo_close};

typedef struct {
    wt_mode mode;
    bool pooled;
} variant;

static const variant variants[] = {
    {WT_EPOLL_POOL, false},   {WT_EPOLL_POOL, true},  {WT_EPOLL_INLINE, false},
    {WT_EPOLL_INLINE, true},  {WT_BLOCKING, false},   {WT_BLOCKING, true},
};
enum { NVARIANTS = sizeof variants / sizeof variants[0] };

static void config(wsc_server_config *cfg, const variant *v)
{
    wt_config(cfg, v->mode);
    if (v->pooled)
        cfg->buffers.small_pool = 8;
}

static bool start(wt_server *s, const variant *v, wsc_server_config *cfg)
{
    (void)v;
    atomic_store(&closes, 0);
    atomic_store(&inits, 0);
    atomic_store(&after_inits, 0);
    return wt_server_start(s, &echo, cfg, NULL);
}

static void echo_sizes(const variant *v)
{
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 1 << 20};
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    config(&cfg, v);
    cfg.max_message_size = 2 << 20;
    CHECK(start(&s, v, &cfg));
    CHECK(wt_open(&c, s.port) == 0);
    uint8_t *buf = malloc(1 << 20);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && TEST_OK(); i++) {
        size_t n = sizes[i];
        wt_fill_utf8(buf, n, (unsigned)i);
        EXPECT(wt_send_frame(&c, true, WT_OP_TEXT, buf, n) == 0);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, buf, n, 10000));
        wt_fill_bytes(buf, n, (unsigned)i);
        EXPECT(wt_send_frame(&c, true, WT_OP_BIN, buf, n) == 0);
        EXPECT(wt_expect_message(&c, WT_OP_BIN, buf, n, 10000));
    }
    /* Many messages in one write: every frame of a read is processed, in order. */
    uint8_t burst[64 * 20];
    size_t bl = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t key[4] = {1, 2, 3, (uint8_t)i};
        uint8_t p[8];
        int pl = snprintf((char *)p, sizeof p, "m%d", i);
        bl += wt_masked_frame(burst + bl, WT_OP_TEXT, key, p, (size_t)pl);
    }
    EXPECT(wt_send_raw(&c, burst, bl, 5000) == 0);
    for (int i = 0; i < 64 && TEST_OK(); i++) {
        char p[8];
        int pl = snprintf(p, sizeof p, "m%d", i);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, p, (size_t)pl, 5000));
    }
    free(buf);
    EXPECT(wt_send_close(&c, 1000, "bye") == 0);
    EXPECT(wt_expect_close(&c, 5000) == 0);
    EXPECT_EQ_INT(c.close_code, 1000);
    EXPECT(wt_wait_eof(&c, 5000) == 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, 5000));
    EXPECT_EQ_INT(atomic_load(&inits), 1);
    EXPECT_EQ_INT(atomic_load(&after_inits), 1);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(echo_every_size_in_every_mode)
{
    for (int i = 0; i < NVARIANTS && TEST_OK(); i++)
        echo_sizes(&variants[i]);
}

static void fragments(const variant *v)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    config(&cfg, v);
    CHECK(start(&s, v, &cfg));
    CHECK(wt_open(&c, s.port) == 0);
    /* text in 3 fragments with a ping between each: the pongs come back at once, in order, and
       the message is whole */
    EXPECT(wt_send_frame(&c, false, WT_OP_TEXT, "Hel", 3) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "p1", 2) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_CONT, "lo, ", 4) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "p2", 2) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, "world", 5) == 0);
    wt_frame f;
    EXPECT(wt_read_frame(&c, &f, 5000) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.len == 2 && memcmp(f.data, "p1", 2) == 0);
    wt_frame_free(&f);
    EXPECT(wt_read_frame(&c, &f, 5000) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.len == 2 && memcmp(f.data, "p2", 2) == 0);
    wt_frame_free(&f);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "Hello, world", 12, 5000));
    /* a big fragmented binary message, sent a byte at a time for its first frame */
    uint8_t *big = malloc(50000);
    wt_fill_bytes(big, 50000, 7);
    uint8_t key[4] = {9, 8, 7, 6}, hdr[14];
    size_t hl = wt_header(hdr, false, 0, WT_OP_BIN, key, 1000);
    for (size_t i = 0; i < hl; i++)
        EXPECT(wt_send_raw(&c, hdr + i, 1, 5000) == 0);
    for (size_t i = 0; i < 1000; i++) {
        uint8_t b = big[i] ^ key[i & 3];
        EXPECT(wt_send_raw(&c, &b, 1, 5000) == 0);
    }
    EXPECT(wt_send_frame(&c, false, WT_OP_CONT, big + 1000, 0) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, big + 1000, 49000) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_BIN, big, 50000, 5000));
    free(big);
    /* the server closes on request, with the handler's code and reason */
    EXPECT(wt_send_text(&c, "close") == 0);
    EXPECT(wt_expect_close(&c, 5000) == 0);
    EXPECT_EQ_INT(c.close_code, 4001);
    EXPECT(strcmp(c.close_reason, "asked to") == 0);
    EXPECT(wt_send_close(&c, 4001, NULL) == 0);
    EXPECT(wt_wait_eof(&c, 5000) == 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, 5000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(fragments_pings_and_server_close)
{
    for (int i = 0; i < NVARIANTS && TEST_OK(); i++)
        fragments(&variants[i]);
}

/* Each violation is answered with its close code, then the TCP connection ends. */
typedef struct {
    const char *name;
    bool fin;
    unsigned rsv, opcode;
    bool masked;
    const char *payload;
    size_t len;
    unsigned code;
} violation;

static const violation violations[] = {
    {"unmasked", true, 0, WT_OP_TEXT, false, "hi", 2, 1002},
    {"rsv1", true, WT_RSV1, WT_OP_TEXT, true, "hi", 2, 1002},
    {"rsv2", true, WT_RSV2, WT_OP_BIN, true, "hi", 2, 1002},
    {"opcode 3", true, 0, 3, true, "hi", 2, 1002},
    {"opcode 11", true, 0, 11, true, "", 0, 1002},
    {"fragmented ping", false, 0, WT_OP_PING, true, "", 0, 1002},
    {"continuation first", true, 0, WT_OP_CONT, true, "x", 1, 1002},
    {"bad utf8", true, 0, WT_OP_TEXT, true, "\xc3\x28", 2, 1007},
    {"surrogate", true, 0, WT_OP_TEXT, true, "\xed\xa0\x80", 3, 1007},
    {"close 1 byte", true, 0, WT_OP_CLOSE, true, "\x03", 1, 1002},
    {"close 1005", true, 0, WT_OP_CLOSE, true, "\x03\xed", 2, 1002},
    {"close 999", true, 0, WT_OP_CLOSE, true, "\x03\xe7", 2, 1002},
    {"close bad reason", true, 0, WT_OP_CLOSE, true, "\x03\xe8\xff", 3, 1007},
};

static void violations_in(const variant *v)
{
    wsc_server_config cfg;
    wt_server s;
    config(&cfg, v);
    cfg.max_message_size = 1000;
    CHECK(start(&s, v, &cfg));
    int n = 0;
    for (size_t i = 0; i < sizeof violations / sizeof violations[0] && TEST_OK(); i++, n++) {
        const violation *x = &violations[i];
        wt_client c;
        CHECK(wt_open(&c, s.port) == 0);
        EXPECT(wt_send_frame_ex(&c, x->fin, x->rsv, x->opcode, x->masked, x->payload, x->len,
                                5000) == 0);
        if (!wt_expect_fail_close(&c, x->code, 5000))
            fprintf(stderr, "  violation: %s (%s)\n", x->name, wt_mode_name(v->mode));
        wt_close(&c);
    }
    /* oversized control frame, a new message inside a fragmented one, too big (declared) */
    wt_client c;
    uint8_t big[200];
    memset(big, 'a', sizeof big);
    CHECK(wt_open(&c, s.port) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, big, 126) == 0);
    EXPECT(wt_expect_fail_close(&c, 1002, 5000));
    wt_close(&c);
    n++;
    CHECK(wt_open(&c, s.port) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_TEXT, "a", 1) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_TEXT, "b", 1) == 0);
    EXPECT(wt_expect_fail_close(&c, 1002, 5000));
    wt_close(&c);
    n++;
    CHECK(wt_open(&c, s.port) == 0);
    uint8_t hdr[14], key[4] = {1, 2, 3, 4};
    size_t hl = wt_header(hdr, true, 0, WT_OP_BIN, key, 1001);
    EXPECT(wt_send_raw(&c, hdr, hl, 5000) == 0); /* the cap applies before any payload */
    EXPECT(wt_expect_fail_close(&c, 1009, 5000));
    wt_close(&c);
    n++;
    CHECK(wt_open(&c, s.port) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_BIN, big, 200) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_CONT, big, 200) == 0);
    uint8_t *many = calloc(1, 601);
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, many, 601) == 0);
    free(many);
    EXPECT(wt_expect_fail_close(&c, 1009, 5000));
    wt_close(&c);
    n++;
    /* a failing handler closes with 1011 */
    CHECK(wt_open(&c, s.port) == 0);
    EXPECT(wt_send_text(&c, "fail") == 0);
    EXPECT(wt_expect_close(&c, 5000) == 0);
    EXPECT_EQ_INT(c.close_code, 1011);
    wt_close(&c);
    n++;
    EXPECT(wt_wait_int(&closes, n, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(violations_close_with_the_right_code)
{
    for (int i = 0; i < NVARIANTS && TEST_OK(); i++)
        violations_in(&variants[i]);
}

static void peer_gone(const variant *v)
{
    wsc_server_config cfg;
    wt_server s;
    config(&cfg, v);
    CHECK(start(&s, v, &cfg));
    wt_client a, b, d;
    CHECK(wt_open(&a, s.port) == 0);
    CHECK(wt_open(&b, s.port) == 0);
    CHECK(wt_open(&d, s.port) == 0);
    EXPECT(wt_send_text(&a, "x") == 0);
    EXPECT(wt_expect_message(&a, WT_OP_TEXT, "x", 1, 5000));
    wt_close(&a); /* FIN without a close frame */
    wt_reset(&b); /* RST */
    /* a close frame without a payload is answered with an empty one */
    EXPECT(wt_send_close(&d, 0, NULL) == 0);
    EXPECT(wt_expect_close(&d, 5000) == 0);
    EXPECT_EQ_INT(d.close_code, 1005);
    EXPECT(wt_wait_eof(&d, 5000) == 0);
    wt_close(&d);
    EXPECT(wt_wait_int(&closes, 3, 5000));
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&closes), 3);
}

TEST(peer_fin_reset_and_empty_close)
{
    for (int i = 0; i < NVARIANTS && TEST_OK(); i++)
        peer_gone(&variants[i]);
}

static void limits(const variant *v)
{
    wsc_server_config cfg;
    wt_server s;
    config(&cfg, v);
    cfg.max_conn = 2;
    cfg.handshake.timeout = 1;
    CHECK(start(&s, v, &cfg));
    wt_client a, b, c;
    CHECK(wt_open(&a, s.port) == 0);
    /* a partial request is dropped after handshake.timeout (no close callback: never accepted) */
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT(wt_send_str(&c, "GET / HTTP/1.1\r\nHost: x\r\n", 1000) == 0);
    EXPECT(wt_wait_eof(&c, 10000) == 0);
    wt_close(&c);
    /* max_conn: a second connection fits (once the dropped one is gone); a third is accepted and
       closed at once */
    int64_t end = wt_now_ms() + 5000;
    while (wt_open(&b, s.port) != 0 && wt_now_ms() < end)
        wt_sleep_ms(10);
    CHECK(b.fd >= 0);
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT(wt_handshake(&c, "/") == WT_EOF);
    wt_close(&c);
    wt_close(&b);
    EXPECT(wt_wait_int(&closes, 1, 5000));
    /* a request that is not a WebSocket upgrade gets a 400 (retried while the closed connection
       still counts against max_conn) */
    char head[1024];
    int st = 0;
    end = wt_now_ms() + 5000;
    do {
        CHECK(wt_connect(&c, s.port) == 0);
        EXPECT(wt_send_str(&c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1000) == 0);
        st = wt_read_head(&c, 5000, head, sizeof head);
        wt_close(&c);
    } while (st != 400 && wt_now_ms() < end && (wt_sleep_ms(10), 1));
    EXPECT_EQ_INT(st, 400);
    EXPECT(wt_send_text(&a, "still here") == 0);
    EXPECT(wt_expect_message(&a, WT_OP_TEXT, "still here", 10, 5000));
    wt_close(&a);
    EXPECT(wt_wait_int(&closes, 2, 5000));
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&closes), 2);
}

TEST(max_conn_handshake_timeout_and_bad_request)
{
    for (int i = 0; i < NVARIANTS && TEST_OK(); i++)
        limits(&variants[i]);
}

TEST(config_errors)
{
    wsc_err err;
    wsc_server_config cfg = {.port = WSC_PORT_EPHEMERAL};
    wsc_handler none = {0};
    CHECK(wsc_server_new(&none, &cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    EXPECT(strstr(err.message, "message") != NULL);
    cfg.port = 70000;
    CHECK(wsc_server_new(&echo, &cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    EXPECT(strstr(err.message, "port") != NULL);
    cfg.port = WSC_PORT_EPHEMERAL;
    cfg.thread_pool.count = -5;
    CHECK(wsc_server_new(&echo, &cfg, &err) == NULL);
    EXPECT(strstr(err.message, "thread_pool.count") != NULL);
    cfg.thread_pool.count = 0;
    cfg.buffers.small_size = 10;
    CHECK(wsc_server_new(&echo, &cfg, &err) == NULL);
    EXPECT(strstr(err.message, "small_size") != NULL);
    cfg.buffers.small_size = 0;
    cfg.address = "not an address at all";
    CHECK(wsc_server_new(&echo, &cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_EADDR);
    cfg.address = "::1";
    wsc_server *s = wsc_server_new(&echo, &cfg, &err);
    if (s) { /* IPv6 may be off on this machine */
        EXPECT(wsc_server_port(s) > 0);
        wsc_server_free(s);
    }
    EXPECT(!wsc_blocking_mode());
}

TEST(server_stops_before_and_after_listen)
{
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_POOL);
    wsc_server *srv = wsc_server_new(&echo, &cfg, NULL);
    CHECK(srv);
    wsc_server_stop(srv); /* a stop before listen makes listen return at once */
    EXPECT_EQ_INT(wsc_server_listen(srv, NULL), 0);
    wsc_server_free(srv);
    wsc_server_free(NULL);
}

/* Messages, a ping and then a close (or a violation) in one write: everything before the close is
   answered in order, then the close (or the failure code) — in pool mode this is the path where a
   handler thread runs ahead through already-read messages and meets the close or the error. */
static void pipelined(const variant *v, bool bad)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    config(&cfg, v);
    CHECK(start(&s, v, &cfg));
    CHECK(wt_open(&c, s.port) == 0);
    uint8_t buf[1024], key[4] = {7, 7, 7, 7};
    size_t len = 0;
    for (int m = 0; m < 10; m++) {
        char p[16];
        int pl = snprintf(p, sizeof p, "msg %d", m);
        bool fin = m % 3 != 1; /* some messages in two fragments */
        len += wt_header(buf + len, fin, 0, WT_OP_TEXT, key, (uint64_t)pl);
        for (int i = 0; i < pl; i++)
            buf[len++] = (uint8_t)p[i] ^ key[i & 3];
        if (!fin) {
            len += wt_header(buf + len, true, 0, WT_OP_CONT, key, 1);
            buf[len++] = '!' ^ key[0];
        }
        if (m == 5) {
            len += wt_header(buf + len, true, 0, WT_OP_PING, key, 2);
            buf[len++] = 'p' ^ key[0];
            buf[len++] = 'g' ^ key[1];
        }
    }
    if (bad) {
        len += wt_header(buf + len, true, 0, 3, key, 0); /* reserved opcode */
    } else {
        len += wt_header(buf + len, true, 0, WT_OP_CLOSE, key, 2);
        buf[len++] = (0x0f) ^ key[0]; /* 4000 */
        buf[len++] = (0xa0) ^ key[1];
    }
    EXPECT(wt_send_raw(&c, buf, len, 5000) == 0);
    for (int m = 0; m < 10 && TEST_OK(); m++) {
        char p[16];
        int pl = snprintf(p, sizeof p, m % 3 == 1 ? "msg %d!" : "msg %d", m);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, p, (size_t)pl, 5000));
    }
    EXPECT_EQ_INT(c.pongs_seen, 1);
    EXPECT(wt_expect_close(&c, 5000) == 0);
    EXPECT_EQ_INT(c.close_code, bad ? 1002 : 4000);
    EXPECT(wt_wait_eof(&c, 5000) == 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, 5000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(pipelined_messages_then_close_or_violation)
{
    for (int i = 0; i < NVARIANTS && TEST_OK(); i++) {
        pipelined(&variants[i], false);
        pipelined(&variants[i], true);
    }
}

/* A unix socket listener, and an IPv6 one where the machine has IPv6. */
TEST(unix_and_ipv6_listeners)
{
    wsc_server_config cfg;
    wt_server s;
    char path[64];
    snprintf(path, sizeof path, "/tmp/wsc-test-%d.sock", (int)getpid());
    wt_config(&cfg, WT_EPOLL_INLINE);
    cfg.unix_path = path;
    atomic_store(&closes, 0);
    CHECK(wt_server_start(&s, &echo, &cfg, NULL));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    wt_client c;
    wt_init(&c);
    c.fd = fd;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
    EXPECT(wt_send_text(&c, "over unix") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "over unix", 9, 5000));
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, 5000));
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT(access(path, F_OK) != 0); /* the socket file is removed */

    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.address = "::1";
    wsc_server *srv = wsc_server_new(&echo, &cfg, NULL);
    if (!srv)
        return; /* no IPv6 here */
    pthread_t th;
    CHECK(wsc_server_listen_thread(srv, NULL, &th) == 0);
    int port = wsc_server_port(srv);
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    inet_pton(AF_INET6, "::1", &s6.sin6_addr);
    CHECK(connect(fd, (struct sockaddr *)&s6, sizeof s6) == 0);
    wt_init(&c);
    c.fd = fd;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
    EXPECT(wt_send_text(&c, "over v6") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "over v6", 7, 5000));
    wt_close(&c);
    wsc_server_stop(srv);
    pthread_join(th, NULL);
    wsc_server_free(srv);
}

/* Large messages keep their (heap) buffers a moment for reuse; an idle connection gives them back
   (the sweep, WSC__KEEP_SECONDS after the last use), and the next large message still works. What
   the callback sees of the connection's message buffer tells which: the callback owns the parse
   state while it runs (conn/conn.h). */
static _Atomic(uintptr_t) big_buf; /* the message buffer of the last large message */
static atomic_int big_reused, big_messages, given_back;

static int big_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    uintptr_t buf = (uintptr_t)conn->msg.data;
    if (msg->len > 1000) {
        /* The message is in the connection's message buffer, one of its own (not pooled). */
        if (!buf || (uintptr_t)msg->data < buf || (uintptr_t)msg->data >= buf + conn->msg.cap ||
            wsc__buffers_pooled(conn->w->ctx->bufs, &conn->msg))
            return -1;
        if (atomic_exchange(&big_buf, buf) == buf)
            atomic_fetch_add(&big_reused, 1);
        atomic_fetch_add(&big_messages, 1);
    } else if (!buf) {
        atomic_store(&given_back, 1); /* a small message, and no message buffer kept */
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void big_then_idle(const variant *v)
{
    static const wsc_handler h = {.init = echo_init, .message = big_message, .close = echo_close};
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    config(&cfg, v);
    cfg.max_message_size = 4 << 20;
    atomic_store(&closes, 0);
    CHECK(wt_server_start(&s, &h, &cfg, NULL));
    CHECK(wt_open(&c, s.port) == 0);
    size_t n = 3 << 20;
    uint8_t *buf = malloc(n);
    wt_fill_bytes(buf, n, 11);
    for (int round = 0; round < 2 && TEST_OK(); round++) {
        atomic_store(&big_buf, 0);
        atomic_store(&big_reused, 0);
        atomic_store(&big_messages, 0);
        atomic_store(&given_back, 0);
        EXPECT(wt_send_frame(&c, true, WT_OP_BIN, buf, n) == 0);
        EXPECT(wt_expect_message(&c, WT_OP_BIN, buf, n, 20000));
        EXPECT(wt_send_frame(&c, true, WT_OP_BIN, buf, n / 2) == 0);
        EXPECT(wt_expect_message(&c, WT_OP_BIN, buf, n / 2, 20000));
        EXPECT_EQ_INT(atomic_load(&big_messages), 2);
        EXPECT_EQ_INT(atomic_load(&big_reused), 1); /* the second one reused the first's buffer */
        /* Small messages keep coming, more often than the keep time, and need no message
           buffer: the big one is given back WSC__KEEP_SECONDS after its last use all the same
           (the sweep), and the next small message's callback finds none kept. */
        int64_t end = wt_now_ms() + (WSC__KEEP_SECONDS + 8) * 1000;
        while (TEST_OK() && !atomic_load(&given_back) && wt_now_ms() < end) {
            wt_sleep_ms(250); /* the pace of the probes, not a wait for the server */
            EXPECT(wt_send_text(&c, "small") == 0);
            EXPECT(wt_expect_message(&c, WT_OP_TEXT, "small", 5, 5000));
        }
        EXPECT(atomic_load(&given_back));
    }
    free(buf);
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, 5000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(large_buffers_are_reused_then_given_back)
{
    big_then_idle(&variants[0]); /* epoll + pool */
    big_then_idle(&variants[4]); /* blocking */
}

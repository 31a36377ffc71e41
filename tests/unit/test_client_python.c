/* The client against an independent server: Debian's python3-websockets (tests/interop/peers/
 * ws_server.py), plain TCP. Echoes of every size class up to 16 MiB, fragmented messages, server
 * pings, server-initiated close, read timeouts, non-101 answers, headers and subprotocols, the
 * buffer provider, the read loop. */
#include "../test.h"

#include "client_test_util.h"

static ct_peer peer;
static bool peer_ok;

static void stop_peer(void)
{
    ct_peer_stop(&peer);
}

static int port(void)
{
    if (!peer_ok && peer.pid == 0) {
        ct_watchdog(240);
        peer_ok = ct_peer_start(&peer, NULL, NULL) == 0;
        atexit(stop_peer);
    }
    return peer_ok ? peer.port : -1;
}

static wsc_client *open_cfg(const char *path, wsc_client_config *cfg, wsc_handshake_opts *opts)
{
    char url[256];
    wsc_err err;
    if (port() < 0)
        return NULL;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port(), path);
    wsc_client *c = wsc_client_connect_url(url, cfg, opts, &err);
    if (!c)
        fprintf(stderr, "  connect %s: %s\n", url, err.message);
    return c;
}

static wsc_client *open_default(void)
{
    return open_cfg("/", NULL, NULL);
}

/* Sends a text command (copying it) and reads the next message. */
static int ask(wsc_client *c, const char *cmd, wsc_msg *m)
{
    int rc = wsc_client_write_copy(c, WSC_TEXT, cmd, strlen(cmd));
    if (rc)
        return rc;
    return wsc_client_read(c, m);
}

static bool is_letters(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)('a' + i % 26))
            return false;
    return true;
}

static bool is_pattern(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(i % 251))
            return false;
    return true;
}

TEST(text_echo_in_place)
{
    wsc_client *c = open_default();
    CHECK(c);
    char buf[] = "hello, wsc";
    CHECK_EQ_INT(wsc_client_write_text(c, buf, strlen(buf)), 0);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_TEXT);
    EXPECT_EQ_INT(m.len, 10);
    EXPECT_EQ_MEM(m.data, "hello, wsc", 10);
    EXPECT(m.arena == NULL);
    wsc_client_done(c, &m);
    EXPECT(m.data == NULL);
    CHECK_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    EXPECT_EQ_INT(wsc_client_close(c, 1000, "again"), 0); /* a no-op on a closed client */
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "x", 1), WSC_ECLOSED);
    wsc_client_free(c);
}

TEST(binary_and_empty_messages)
{
    wsc_client *c = open_default();
    CHECK(c);
    const uint8_t bin[] = {0, 1, 2, 0xff, 0xfe, 0x80, 0};
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_BINARY, bin, sizeof bin), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_BINARY);
    EXPECT_EQ_INT(m.len, sizeof bin);
    EXPECT_EQ_MEM(m.data, bin, sizeof bin);
    wsc_client_done(c, &m);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "", 0), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_TEXT);
    EXPECT_EQ_INT(m.len, 0);
    wsc_client_done(c, &m);
    CHECK_EQ_INT(wsc_client_write_binary(c, NULL, 0), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_BINARY);
    EXPECT_EQ_INT(m.len, 0);
    wsc_client_done(c, &m);
    /* Control frames carry at most 125 bytes; bad types are refused. */
    uint8_t big[126] = {0};
    EXPECT_EQ_INT(wsc_client_write_ping(c, big, sizeof big), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_write(c, (wsc_msg_type)3, big, 1), WSC_EINVAL);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

/* Echo of every length class of section 5.2 (7-bit, 16-bit, 64-bit) up to 16 MiB, sent both masked
   in place and copied, read back with the default 4 KiB read buffer. */
TEST(echo_sizes_up_to_16mib)
{
    static const size_t sizes[] = {0,    1,     125,   126,   127,     4095,     4096,
                                   4097, 65535, 65536, 65537, 1 << 20, 16u << 20};
    wsc_client_config cfg = {.max_size = 16u << 20};
    wsc_client *c = open_cfg("/", &cfg, NULL);
    CHECK(c);
    uint8_t *src = malloc(16u << 20), *work = malloc(16u << 20);
    CHECK(src && work);
    for (size_t i = 0; i < 16u << 20; i++)
        src[i] = (uint8_t)(i * 7 + (i >> 12));
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] && TEST_OK(); k++) {
        size_t n = sizes[k];
        wsc_msg m;
        if (k % 2) {
            EXPECT_EQ_INT(wsc_client_write_binary(c, src, n), 0);
        } else {
            memcpy(work, src, n);
            EXPECT_EQ_INT(wsc_client_write_in_place(c, WSC_BINARY, work, n), 0);
        }
        EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_BINARY);
        EXPECT_EQ_INT(m.len, n);
        if (m.len == n)
            EXPECT_EQ_MEM(m.data, src, n);
        wsc_client_done(c, &m);
    }
    free(src);
    free(work);
    /* The cap holds: a 16 MiB + 1 message from the server closes with 1009. */
    wsc_msg m;
    EXPECT_EQ_INT(ask(c, "!send 16777217", &m), WSC_ETOOBIG);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
}

TEST(server_sends_16mib)
{
    wsc_client_config cfg = {.max_size = 16u << 20};
    wsc_client *c = open_cfg("/", &cfg, NULL);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(ask(c, "!send 16777216", &m), 0);
    EXPECT_EQ_INT(m.type, WSC_BINARY);
    EXPECT_EQ_INT(m.len, 16u << 20);
    EXPECT(is_pattern(m.data, m.len));
    wsc_client_done(c, &m);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(fragmented_messages_from_server)
{
    static const struct {
        const char *cmd;
        size_t len;
        wsc_msg_type type;
    } cases[] = {
        {"!frag 5 1000", 1000, WSC_TEXT},        /* assembled inside the read buffer */
        {"!fragbin 10 10", 10, WSC_BINARY},      /* one-byte fragments */
        {"!frag 4 4096", 4096, WSC_TEXT},        /* exactly the read buffer */
        {"!frag 3 5000", 5000, WSC_TEXT},        /* moves to the heap */
        {"!frag 100 60000", 60000, WSC_TEXT},    /* many fragments */
        {"!fragbin 2 65536", 65536, WSC_BINARY}, /* exactly max_size */
        {"!frag 1 3", 3, WSC_TEXT},
    };
    wsc_client *c = open_default();
    CHECK(c);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0] && TEST_OK(); k++) {
        wsc_msg m;
        CHECK_EQ_INT(ask(c, cases[k].cmd, &m), 0);
        EXPECT_EQ_INT(m.type, cases[k].type);
        EXPECT_EQ_INT(m.len, cases[k].len);
        EXPECT(m.len == cases[k].len && is_letters(m.data, m.len));
        wsc_client_done(c, &m);
    }
    /* 65537 bytes in fragments: over the default max_size, caught from the frame headers. */
    wsc_msg m;
    EXPECT_EQ_INT(ask(c, "!frag 3 65537", &m), WSC_ETOOBIG);
    wsc_client_free(c);
}

TEST(buffer_provider_pool_and_fallbacks)
{
    wsc_buffer_provider *bp = wsc_buffer_provider_new(1, 32768);
    CHECK(bp);
    wsc_client_config cfg = {.buffer_provider = bp, .max_size = 1 << 20, .buffer_size = 1024};
    wsc_client *c = open_cfg("/", &cfg, NULL);
    CHECK(c);
    wsc_msg m, m2;
    /* Fits the pool. */
    CHECK_EQ_INT(ask(c, "!frag 4 20000", &m), 0);
    EXPECT_EQ_INT(m.len, 20000);
    EXPECT(is_letters(m.data, m.len));
    wsc_client_done(c, &m);
    /* Starts in the pool, outgrows it, ends on the heap. */
    CHECK_EQ_INT(ask(c, "!frag 8 100000", &m), 0);
    EXPECT_EQ_INT(m.len, 100000);
    EXPECT(is_letters(m.data, m.len));
    wsc_client_done(c, &m);
    /* A single large frame, and one while the (one-buffer) pool is taken by another client. */
    wsc_client *c2 = open_cfg("/", &cfg, NULL);
    CHECK(c2);
    CHECK_EQ_INT(ask(c, "!send 30000", &m), 0);
    CHECK_EQ_INT(ask(c2, "!send 30001", &m2), 0);
    EXPECT_EQ_INT(m.len, 30000);
    EXPECT(is_pattern(m.data, m.len));
    EXPECT_EQ_INT(m2.len, 30001);
    EXPECT(is_pattern(m2.data, m2.len));
    EXPECT(m.data != m2.data);
    wsc_client_done(c, &m);
    wsc_client_done(c2, &m2);
    /* Reading again without done releases the previous buffer too (nothing leaks). */
    CHECK_EQ_INT(ask(c, "!send 20000", &m), 0);
    CHECK_EQ_INT(ask(c, "!send 20000", &m), 0);
    EXPECT(is_pattern(m.data, m.len));
    wsc_client_close(c, 0, NULL);
    wsc_client_close(c2, 0, NULL);
    wsc_client_free(c);
    wsc_client_free(c2);
    wsc_buffer_provider_free(bp);
}

TEST(max_size_equal_to_buffer_size)
{
    wsc_client_config cfg = {.max_size = 3000, .buffer_size = 3000};
    wsc_client *c = open_cfg("/", &cfg, NULL);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(ask(c, "!frag 7 3000", &m), 0);
    EXPECT_EQ_INT(m.len, 3000);
    EXPECT(is_letters(m.data, m.len));
    CHECK_EQ_INT(ask(c, "!send 3000", &m), 0);
    EXPECT_EQ_INT(m.len, 3000);
    EXPECT(is_pattern(m.data, m.len));
    EXPECT_EQ_INT(ask(c, "!send 3001", &m), WSC_ETOOBIG);
    wsc_client_free(c);
}

TEST(ping_from_server_is_returned_and_answered)
{
    wsc_client *c = open_default();
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(ask(c, "!ping are-you-there", &m), 0);
    CHECK_EQ_INT(m.type, WSC_PING);
    CHECK_EQ_INT(m.len, 13);
    EXPECT_EQ_MEM(m.data, "are-you-there", 13);
    /* The read() loop of websocket.zig answers pings itself with writePong(message.data). */
    CHECK_EQ_INT(wsc_client_write_pong(c, m.data, m.len), 0);
    wsc_client_done(c, &m);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_TEXT);
    EXPECT_EQ_INT(m.len, 18);
    EXPECT_EQ_MEM(m.data, "pong are-you-there", 18);
    wsc_client_done(c, &m);
    /* Our own ping gets the server's pong. */
    char p[] = "hi";
    CHECK_EQ_INT(wsc_client_write_ping(c, p, 2), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_PONG);
    EXPECT_EQ_INT(m.len, 2);
    EXPECT_EQ_MEM(m.data, "hi", 2);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(server_initiated_close_with_code_and_reason)
{
    wsc_client *c = open_default();
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(ask(c, "!close 4001 the server is done", &m), 0);
    EXPECT_EQ_INT(m.type, WSC_CLOSE);
    EXPECT_EQ_INT(m.close_code, 4001);
    EXPECT_EQ_INT(m.len, 18);
    EXPECT_EQ_MEM(m.data, "the server is done", 18);
    wsc_client_done(c, &m);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    EXPECT_EQ_INT(wsc_client_close(c, 1000, NULL), 0);
    EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "late", 4), WSC_ECLOSED);
    wsc_client_free(c);
}

TEST(read_timeout)
{
    wsc_client *c = open_default();
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_read_timeout(c, 150), 0);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ETIMEDOUT);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ETIMEDOUT);
    /* Still usable after a timeout. */
    CHECK_EQ_INT(wsc_client_read_timeout(c, 5000), 0);
    CHECK_EQ_INT(ask(c, "after the timeouts", &m), 0);
    EXPECT_EQ_INT(m.len, 18);
    wsc_client_done(c, &m);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(non_101_status_is_reported)
{
    wsc_err err;
    char url[128];
    CHECK(port() > 0);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/status/403", port());
    wsc_client *c = wsc_client_connect_url(url, NULL, NULL, &err);
    CHECK(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_EHANDSHAKE);
    EXPECT_EQ_INT(err.http_status, 403);
    if (err.http_status != 403)
        fprintf(stderr, "  %s\n", err.message);
    EXPECT(strstr(err.message, "403") != NULL);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/status/500", port());
    c = wsc_client_connect_url(url, NULL, NULL, &err);
    CHECK(c == NULL);
    EXPECT_EQ_INT(err.http_status, 500);
}

TEST(handshake_headers_path_and_host)
{
    wsc_handshake_opts opts = {.timeout_ms = 5000,
                               .headers = "X-Test: yes\r\nOrigin: http://example.test"};
    wsc_client *c = open_cfg("/a/b?c=d%20e&f", NULL, &opts);
    CHECK(c);
    wsc_msg m;
    char want[64];
    CHECK_EQ_INT(ask(c, "!headers", &m), 0);
    char *h = strndup((const char *)m.data, m.len);
    snprintf(want, sizeof want, "Host: 127.0.0.1:%d", port());
    EXPECT(strstr(h, want) != NULL);
    EXPECT(strstr(h, "X-Test: yes") != NULL);
    EXPECT(strstr(h, "Origin: http://example.test") != NULL);
    EXPECT(strstr(h, "Sec-WebSocket-Version: 13") != NULL);
    free(h);
    wsc_client_done(c, &m);
    CHECK_EQ_INT(ask(c, "!path", &m), 0);
    EXPECT_EQ_INT(m.len, 14);
    EXPECT_EQ_MEM(m.data, "/a/b?c=d%20e&f", 14);
    wsc_client_done(c, &m);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);

    /* A Host given by the caller replaces ours. */
    wsc_handshake_opts o2 = {.headers = "Host: chat.example.test\r\n"};
    c = open_cfg("/", NULL, &o2);
    CHECK(c);
    CHECK_EQ_INT(ask(c, "!headers", &m), 0);
    h = strndup((const char *)m.data, m.len);
    EXPECT(strstr(h, "Host: chat.example.test") != NULL);
    EXPECT(strstr(h, "Host: 127.0.0.1") == NULL);
    free(h);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(handshake_step_by_step_and_subprotocol)
{
    CHECK(port() > 0);
    wsc_err err;
    wsc_client_config cfg = {.host = "127.0.0.1", .port = port()};
    wsc_client *c = wsc_client_new(&cfg, &err);
    CHECK(c);
    wsc_msg m;
    /* Nothing works before the upgrade. */
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ESTATE);
    EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "x", 1), WSC_ESTATE);
    wsc_handshake_opts opts = {.headers = "Sec-WebSocket-Protocol: superchat, chat"};
    CHECK_EQ_INT(wsc_client_handshake(c, "/", &opts, &err), 0);
    EXPECT_EQ_INT(wsc_client_handshake(c, "/", &opts, &err), WSC_ESTATE);
    CHECK_EQ_INT(ask(c, "!subprotocol", &m), 0);
    EXPECT_EQ_INT(m.len, 4);
    EXPECT_EQ_MEM(m.data, "chat", 4);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);

    /* Bad extra headers are refused before anything is sent. */
    c = wsc_client_new(&cfg, &err);
    CHECK(c);
    wsc_handshake_opts bad = {.headers = "Upgrade: h2c"};
    EXPECT(wsc_client_handshake(c, "/", &bad, &err) != 0);
    wsc_client_free(c);
}

struct loop_counts {
    int messages, pings, pongs, close_frames, closes;
    unsigned code;
    char last[64];
};

static int on_msg(wsc_client *c, void *user, const wsc_msg *msg)
{
    struct loop_counts *k = user;
    (void)c;
    k->messages++;
    snprintf(k->last, sizeof k->last, "%.*s", (int)msg->len, (const char *)msg->data);
    return 0;
}

static int on_pong(wsc_client *c, void *user, const uint8_t *data, size_t len)
{
    struct loop_counts *k = user;
    (void)c, (void)data, (void)len;
    k->pongs++;
    return 0;
}

static void on_end(wsc_client *c, void *user)
{
    struct loop_counts *k = user;
    (void)c;
    k->closes++;
}

static int on_close_frame(wsc_client *c, void *user, unsigned code, const uint8_t *reason,
                          size_t len)
{
    struct loop_counts *k = user;
    (void)reason, (void)len;
    k->close_frames++;
    k->code = code;
    return wsc_client_close(c, 4100, "my own answer");
}

/* The read loop in the calling thread: default pong (the server confirms it got it), pong callback,
   the default close answer, close called once. */
TEST(read_loop_defaults)
{
    wsc_client *c = open_default();
    CHECK(c);
    char p[] = "loop";
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!ping x", 7), 0);
    CHECK_EQ_INT(wsc_client_write_ping(c, p, 4), 0);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!close 4002 bye", 15), 0);
    struct loop_counts k = {0};
    wsc_client_handler h = {.message = on_msg, .pong = on_pong, .close = on_end};
    EXPECT_EQ_INT(wsc_client_read_loop(c, &h, &k), 0);
    EXPECT_EQ_INT(k.messages, 1);
    EXPECT_EQ_STR(k.last, "pong x");
    EXPECT_EQ_INT(k.pongs, 1);
    EXPECT_EQ_INT(k.closes, 1);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);

    /* With a close_frame callback that answers with its own code. */
    c = open_default();
    CHECK(c);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!close 4003 later", 17), 0);
    struct loop_counts k2 = {0};
    wsc_client_handler h2 = {.message = on_msg, .close_frame = on_close_frame, .close = on_end};
    EXPECT_EQ_INT(wsc_client_read_loop(c, &h2, &k2), 0);
    EXPECT_EQ_INT(k2.close_frames, 1);
    EXPECT_EQ_INT(k2.code, 4003);
    EXPECT_EQ_INT(k2.closes, 1);
    wsc_client_free(c);
}

static int fail_on_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)c, (void)msg;
    ((struct loop_counts *)user)->messages++;
    return 42;
}

TEST(read_loop_callback_error_closes_with_1011)
{
    wsc_client *c = open_default();
    CHECK(c);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "one", 3), 0);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "two", 3), 0);
    struct loop_counts k = {0};
    wsc_client_handler h = {.message = fail_on_message, .close = on_end};
    EXPECT_EQ_INT(wsc_client_read_loop(c, &h, &k), 42);
    EXPECT_EQ_INT(k.messages, 1); /* nothing is dispatched after the failure */
    EXPECT_EQ_INT(k.closes, 1);
    wsc_client_free(c);
}

TEST(errors_without_a_server)
{
    wsc_err err;
    EXPECT(wsc_client_new(NULL, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    wsc_client_config cfg = {.host = "127.0.0.1", .port = 70000};
    EXPECT(wsc_client_new(&cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    EXPECT(wsc_client_connect_url("http://127.0.0.1/", NULL, NULL, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_EINVAL);
    /* A port nobody listens on: bind one, note it, close it. */
    int p;
    int s = ct_listen(&p);
    CHECK(s >= 0);
    close(s);
    cfg.port = p;
    EXPECT(wsc_client_new(&cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONNREFUSED);
    EXPECT_EQ_INT(wsc_client_read(NULL, NULL), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_close(NULL, 0, NULL), WSC_EINVAL);
    wsc_client_free(NULL);
}

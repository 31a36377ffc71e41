/* Server integration: echo over real sockets in every mode (epoll with a handler pool, epoll with
 * inline handlers, blocking thread-per-connection), with dedicated and pooled small buffers, at every
 * length-encoding boundary up to 16 MiB, text and binary; pipelined and trickled input. Public API
 * only (wsc.h), driven by the raw client in ws_test_client.h. */
#include "../test.h"
#include "ws_test_client.h"

struct app {
    atomic_int inits, closes, messages;
};

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs;
    (void)conn;
    atomic_fetch_add(&((struct app *)app)->inits, 1);
    *user = app;
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    atomic_fetch_add(&((struct app *)user)->messages, 1);
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    atomic_fetch_add(&((struct app *)user)->closes, 1);
}

static const wsc_handler echo_handler = {
    .init = on_init, .message = on_message, .close = on_close};

enum { MiB = 1 << 20, T_MS = 30000 };

static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 16 * MiB};

static bool echo_one(wt_client *c, unsigned op, size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    bool ok;
    if (!p)
        return false;
    if (op == WT_OP_TEXT)
        wt_fill_utf8(p, len, seed);
    else
        wt_fill_bytes(p, len, seed);
    ok = wt_send_frame(c, true, op, p, len) == 0 && wt_expect_message(c, op, p, len, T_MS);
    if (!ok)
        fprintf(stderr, "  echo of a %zu-byte %s message failed\n", len,
                op == WT_OP_TEXT ? "text" : "binary");
    free(p);
    return ok;
}

static void run_sizes(wt_mode mode, size_t small_pool)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;

    wt_config(&cfg, mode);
    cfg.max_message_size = 16 * MiB + 64;
    cfg.buffers.small_pool = small_pool;
    CHECK(wt_server_start(&s, &echo_handler, &cfg, &app));
    EXPECT(wsc_server_blocking(s.srv) == (mode == WT_BLOCKING));
    EXPECT(!wsc_blocking_mode());
    if (wt_open(&c, s.port) != 0) {
        fprintf(stderr, "  %s: no handshake\n", wt_mode_name(mode));
        EXPECT(0);
        wt_server_stop(&s, 10000);
        return;
    }
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && TEST_OK(); i++) {
        EXPECT(echo_one(&c, WT_OP_TEXT, sizes[i], (unsigned)i));
        EXPECT(echo_one(&c, WT_OP_BIN, sizes[i], (unsigned)i + 100));
    }
    /* Back down to small after a 16 MiB message: the large buffer was given back. */
    EXPECT(echo_one(&c, WT_OP_BIN, 10, 7));
    EXPECT(wt_send_close(&c, 1000, "done") == 0);
    EXPECT(wt_expect_close(&c, T_MS) == 0);
    EXPECT_EQ_INT(c.close_code, 1000);
    EXPECT(wt_wait_eof(&c, T_MS) == 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&app.inits), 1);
    EXPECT_EQ_INT(atomic_load(&app.closes), 1);
    EXPECT_EQ_INT(atomic_load(&app.messages), 2 * (int)(sizeof sizes / sizeof sizes[0]) + 1);
}

TEST(echo_sizes_epoll_pool_dedicated) { run_sizes(WT_EPOLL_POOL, 0); }
TEST(echo_sizes_epoll_pool_pooled_small) { run_sizes(WT_EPOLL_POOL, 4); }
TEST(echo_sizes_epoll_inline_dedicated) { run_sizes(WT_EPOLL_INLINE, 0); }
TEST(echo_sizes_epoll_inline_pooled_small) { run_sizes(WT_EPOLL_INLINE, 4); }
TEST(echo_sizes_blocking_dedicated) { run_sizes(WT_BLOCKING, 0); }
TEST(echo_sizes_blocking_pooled_small) { run_sizes(WT_BLOCKING, 4); }

/* Every length around the ones an inline write copies without a call (up to 32 bytes). */
static void run_small_lengths(wt_mode mode)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;

    wt_config(&cfg, mode);
    if (!wt_server_start(&s, &echo_handler, &cfg, &app) || wt_open(&c, s.port) != 0) {
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    for (size_t len = 0; len <= 40 && TEST_OK(); len++) {
        EXPECT(echo_one(&c, WT_OP_TEXT, len, (unsigned)len));
        EXPECT(echo_one(&c, WT_OP_BIN, len, (unsigned)len + 1000));
    }
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(echo_small_lengths_epoll_inline) { run_small_lengths(WT_EPOLL_INLINE); }
TEST(echo_small_lengths_epoll_pool) { run_small_lengths(WT_EPOLL_POOL); }

/* Many messages in one write: the server must split them out of one read, in order. Message i is
   (i * 37 * step) % max_len bytes long. */
static void run_pipelined(wt_mode mode, size_t small_pool, int n, size_t max_len, size_t step)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;
    uint8_t *all = malloc((size_t)n * (max_len + 14));
    uint8_t *payload = malloc((size_t)n * max_len);
    size_t used = 0;

    CHECK(all != NULL && payload != NULL);
    wt_config(&cfg, mode);
    cfg.buffers.small_pool = small_pool;
    cfg.max_message_size = max_len;
    if (!wt_server_start(&s, &echo_handler, &cfg, &app) || wt_open(&c, s.port) != 0) {
        free(all);
        free(payload);
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)i * 37 * step % max_len;
        uint8_t *p = payload + (size_t)i * max_len;
        uint8_t key[4] = {(uint8_t)i, 0x5a, 0xa5, (uint8_t)(i * 3)};
        unsigned op = i % 3 ? WT_OP_BIN : WT_OP_TEXT;
        if (op == WT_OP_TEXT)
            wt_fill_utf8(p, len, (unsigned)i);
        else
            wt_fill_bytes(p, len, (unsigned)i);
        used += wt_masked_frame(all + used, op, key, p, len);
    }
    EXPECT(wt_send_raw(&c, all, used, T_MS) == 0);
    for (int i = 0; i < n && TEST_OK(); i++) {
        size_t len = (size_t)i * 37 * step % max_len;
        EXPECT(wt_expect_message(&c, i % 3 ? WT_OP_BIN : WT_OP_TEXT,
                                 payload + (size_t)i * max_len, len, T_MS));
    }
    free(all);
    free(payload);
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(echo_pipelined_epoll_pool) { run_pipelined(WT_EPOLL_POOL, 0, 200, 3000, 1); }
TEST(echo_pipelined_epoll_inline_pooled_small) { run_pipelined(WT_EPOLL_INLINE, 2, 200, 3000, 1); }
TEST(echo_pipelined_blocking) { run_pipelined(WT_BLOCKING, 0, 200, 3000, 1); }
/* Messages of up to 100 KB: on the pool, those that fill much of a read take the receive buffer
   with them (no copy), together with the messages and the partial frame behind them. */
TEST(echo_pipelined_large_epoll_pool) { run_pipelined(WT_EPOLL_POOL, 0, 40, 100000, 211); }
TEST(echo_pipelined_large_epoll_inline) { run_pipelined(WT_EPOLL_INLINE, 0, 40, 100000, 211); }
/* Far more small echoes than the sockets hold, all sent before any is read: inline writes that the
   socket takes in part, or not at all, wait in order behind what went out, and all arrive. */
TEST(echo_beyond_socket_buffers_epoll_inline)
{
    enum { N = 8000, LEN = 1000 };
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;
    uint8_t *all = malloc((size_t)N * (LEN + 8)), payload[LEN];
    size_t used = 0;
    int small = 64 * 1024;

    CHECK(all != NULL);
    wt_config(&cfg, WT_EPOLL_INLINE);
    cfg.max_buffered = 64u << 20;
    if (!wt_server_start(&s, &echo_handler, &cfg, &app) || wt_open(&c, s.port) != 0) {
        free(all);
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    for (int i = 0; i < N; i++) {
        uint8_t key[4] = {(uint8_t)i, (uint8_t)(i >> 8), 0x33, 0xcc};
        wt_fill_bytes(payload, LEN, (unsigned)i);
        used += wt_masked_frame(all + used, WT_OP_BIN, key, payload, LEN);
    }
    /* Not reading while blocked: the echoes pile up in the sockets. */
    EXPECT(wt_send_raw_reading(&c, all, used, T_MS, false) == 0);
    EXPECT(wt_wait_int(&app.messages, N, T_MS));
    for (int i = 0; i < N && TEST_OK(); i++) {
        wt_fill_bytes(payload, LEN, (unsigned)i);
        EXPECT(wt_expect_message(&c, WT_OP_BIN, payload, LEN, T_MS));
    }
    free(all);
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

/* One frame sent a byte at a time: every partial header and payload state must resume. */
static void run_trickled(wt_mode mode, size_t small_pool)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;
    uint8_t frame[14 + 300], payload[300];
    uint8_t key[4] = {1, 2, 3, 4};

    wt_config(&cfg, mode);
    cfg.buffers.small_pool = small_pool;
    CHECK(wt_server_start(&s, &echo_handler, &cfg, &app));
    if (wt_open(&c, s.port) != 0) {
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    wt_fill_utf8(payload, sizeof payload, 3);
    size_t fl = wt_masked_frame(frame, WT_OP_TEXT, key, payload, sizeof payload);
    for (size_t k = 0; k < fl && TEST_OK(); k++)
        EXPECT(wt_send_raw(&c, frame + k, 1, T_MS) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, payload, sizeof payload, T_MS));
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(echo_trickled_epoll_pool) { run_trickled(WT_EPOLL_POOL, 0); }
TEST(echo_trickled_epoll_inline_pooled_small) { run_trickled(WT_EPOLL_INLINE, 2); }
TEST(echo_trickled_blocking) { run_trickled(WT_BLOCKING, 0); }

/* The handshake and the first frame in one segment: bytes after the request are WebSocket data. */
static void run_handshake_and_frame_together(wt_mode mode)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;
    char req[512];
    uint8_t key[4] = {9, 8, 7, 6};

    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &echo_handler, &cfg, &app));
    if (wt_connect(&c, s.port) != 0) {
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " WT_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n");
    size_t fl = wt_masked_frame((uint8_t *)req + n, WT_OP_TEXT, key, "hello", 5);
    EXPECT(wt_send_raw(&c, req, (size_t)n + fl, T_MS) == 0);
    char head[1024];
    EXPECT_EQ_INT(wt_read_head(&c, T_MS, head, sizeof head), 101);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "hello", 5, T_MS));
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(echo_handshake_and_frame_in_one_write_epoll) { run_handshake_and_frame_together(WT_EPOLL_POOL); }
TEST(echo_handshake_and_frame_in_one_write_blocking) { run_handshake_and_frame_together(WT_BLOCKING); }

/* A peer that resets the connection mid-message: the close callback still runs once. */
static void run_reset_mid_message(wt_mode mode)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;
    uint8_t hdr[14], key[4] = {1, 1, 1, 1};

    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &echo_handler, &cfg, &app));
    if (wt_open(&c, s.port) != 0) {
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    size_t hl = wt_header(hdr, true, 0, WT_OP_BIN, key, 1000);
    EXPECT(wt_send_raw(&c, hdr, hl, T_MS) == 0);
    EXPECT(wt_send_raw(&c, "abcdefgh", 8, T_MS) == 0);
    wt_reset(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&app.closes), 1);
    EXPECT_EQ_INT(atomic_load(&app.messages), 0);
}

/* A peer that sends a message and closes its socket at once (FIN or RST right behind the data):
 * the server must still notice the end and run the close callback. */
static void run_close_right_after_message(wt_mode mode, bool reset)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;

    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &echo_handler, &cfg, &app));
    for (int i = 0; i < 5 && TEST_OK(); i++) {
        if (wt_open(&c, s.port) != 0) {
            EXPECT(0);
            break;
        }
        EXPECT(wt_send_text(&c, "hi") == 0);
        if (reset)
            wt_reset(&c);
        else
            wt_close(&c);
        if (!wt_wait_int(&app.closes, i + 1, 10000)) {
            fprintf(stderr, "  connection %d: no close callback within 10 s of the peer's %s\n", i,
                    reset ? "RST" : "FIN");
            EXPECT(0);
        }
    }
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&app.closes), atomic_load(&app.inits));
}

TEST(fin_right_after_message_close_once_epoll_pool) { run_close_right_after_message(WT_EPOLL_POOL, false); }
TEST(fin_right_after_message_close_once_epoll_inline) { run_close_right_after_message(WT_EPOLL_INLINE, false); }
TEST(fin_right_after_message_close_once_blocking) { run_close_right_after_message(WT_BLOCKING, false); }
TEST(rst_right_after_message_close_once_epoll_pool) { run_close_right_after_message(WT_EPOLL_POOL, true); }
TEST(rst_right_after_message_close_once_epoll_inline) { run_close_right_after_message(WT_EPOLL_INLINE, true); }
TEST(rst_right_after_message_close_once_blocking) { run_close_right_after_message(WT_BLOCKING, true); }

TEST(reset_mid_message_close_once_epoll_pool) { run_reset_mid_message(WT_EPOLL_POOL); }
TEST(reset_mid_message_close_once_epoll_inline) { run_reset_mid_message(WT_EPOLL_INLINE); }
TEST(reset_mid_message_close_once_blocking) { run_reset_mid_message(WT_BLOCKING); }

/* wsc_conn_write_framed with compile-time and runtime frames, and the writer on the arena. */
static const wsc_framed HELLO = WSC_FRAME_TEXT("hello from a static frame");

static int framed_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    if (msg->len == 6 && memcmp(msg->data, "static", 6) == 0)
        return wsc_conn_write_framed(conn, HELLO.data, HELLO.len);
    if (msg->len == 7 && memcmp(msg->data, "runtime", 7) == 0) {
        wsc_framed f;
        int rc = wsc_frame_new(&f, WSC_BINARY, "\x00\x01\x02", 3);
        if (rc == 0)
            rc = wsc_conn_write_framed(conn, f.data, f.len);
        wsc_frame_free(&f);
        return rc;
    }
    if (msg->len == 6 && memcmp(msg->data, "writer", 6) == 0) {
        wsc_writer *w = wsc_writer_new(conn, WSC_TEXT, msg->arena);
        if (!w)
            return -1;
        for (int i = 0; i < 3000; i++) /* grows well past the arena's first block */
            if (wsc_writer_printf(w, "%d,", i) != 0)
                return -1;
        return wsc_writer_flush(w);
    }
    if (msg->len == 4 && memcmp(msg->data, "heap", 4) == 0) {
        wsc_writer *w = wsc_writer_new(conn, WSC_BINARY, NULL);
        if (!w)
            return -1;
        int rc = wsc_writer_write(w, "abc", 3);
        if (rc == 0)
            rc = wsc_writer_printf(w, "%s=%d", "x", 42);
        if (rc == 0 && wsc_writer_len(w) != 7)
            rc = -1;
        if (rc == 0)
            rc = wsc_writer_flush(w);
        if (rc == 0 && wsc_writer_len(w) != 0)
            rc = -1;
        if (rc == 0)
            rc = wsc_writer_flush(w); /* an empty message */
        wsc_writer_free(w);
        return rc;
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void run_framed_and_writer(wt_mode mode)
{
    wsc_handler h = echo_handler;
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    wt_client c;
    char expect[20000];
    size_t el = 0;

    h.message = framed_message;
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &h, &cfg, &app));
    if (wt_open(&c, s.port) != 0) {
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    EXPECT(wt_send_text(&c, "static") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "hello from a static frame", 25, T_MS));
    EXPECT(wt_send_text(&c, "runtime") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_BIN, "\x00\x01\x02", 3, T_MS));
    EXPECT(wt_send_text(&c, "writer") == 0);
    for (int i = 0; i < 3000; i++)
        el += (size_t)snprintf(expect + el, sizeof expect - el, "%d,", i);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, expect, el, T_MS));
    EXPECT(wt_send_text(&c, "heap") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_BIN, "abcx=42", 7, T_MS));
    EXPECT(wt_expect_message(&c, WT_OP_BIN, "", 0, T_MS));
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, 1, 10000));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(framed_and_writer_epoll_pool) { run_framed_and_writer(WT_EPOLL_POOL); }
TEST(framed_and_writer_epoll_inline) { run_framed_and_writer(WT_EPOLL_INLINE); }
TEST(framed_and_writer_blocking) { run_framed_and_writer(WT_BLOCKING); }

/* Echo over a unix socket (cfg.unix_path). */
TEST(echo_unix_socket)
{
    wsc_server_config cfg;
    struct app app = {0};
    wt_server s;
    char path[64];
    snprintf(path, sizeof path, "/tmp/wsc-test-%d.sock", (int)getpid());
    unlink(path);
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.unix_path = path;
    CHECK(wt_server_start(&s, &echo_handler, &cfg, &app));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    wt_client c;
    wt_init(&c);
    c.fd = fd;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "  cannot connect to the unix socket\n");
        EXPECT(0);
    } else {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
        EXPECT(wt_send_text(&c, "over unix") == 0);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "over unix", 9, T_MS));
    }
    wt_close(&c);
    EXPECT(wt_wait_int(&app.closes, atomic_load(&app.inits), 10000));
    EXPECT(wt_server_stop(&s, 10000));
    unlink(path);
}

/* Large messages reach the handler half a page past a page boundary (src/mem/iobuf.h says why): the
   payload starts at most one frame header past it, whether the message came in one read (the
   receive buffer, handed over to the pool or used in place) or in several (a message buffer). */
struct placement {
    atomic_int large, off_phase;
};

static int placement_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct placement *pl = user;
    if (msg->len >= 16384) {
        size_t phase = (uintptr_t)msg->data % 4096;
        atomic_fetch_add(&pl->large, 1);
        if (phase < 2048 || phase > 2048 + 14) {
            fprintf(stderr, "  %zu-byte message at page offset %zu\n", msg->len, phase);
            atomic_fetch_add(&pl->off_phase, 1);
        }
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static int placement_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs;
    (void)conn;
    *user = app;
    return 0;
}

static void run_large_payload_placement(wt_mode mode)
{
    static const size_t lens[] = {65536, 20000, 16384, 300000};
    wsc_handler h = {.init = placement_init, .message = placement_message};
    wsc_server_config cfg;
    struct placement pl = {0};
    wt_server s;
    wt_client c;
    int sent = 0;

    wt_config(&cfg, mode);
    cfg.max_message_size = 1 << 20;
    CHECK(wt_server_start(&s, &h, &cfg, &pl));
    if (wt_open(&c, s.port) != 0) {
        wt_server_stop(&s, 10000);
        CHECK(0);
    }
    for (int i = 0; i < 40 && TEST_OK(); i++, sent++)
        EXPECT(echo_one(&c, WT_OP_BIN, lens[i % 4], (unsigned)i));
    EXPECT_EQ_INT(atomic_load(&pl.large), sent);
    EXPECT_EQ_INT(atomic_load(&pl.off_phase), 0);
    wt_close(&c);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(large_payloads_half_a_page_in_epoll_pool) { run_large_payload_placement(WT_EPOLL_POOL); }
TEST(large_payloads_half_a_page_in_epoll_inline) { run_large_payload_placement(WT_EPOLL_INLINE); }
TEST(large_payloads_half_a_page_in_blocking) { run_large_payload_placement(WT_BLOCKING); }

/* Server integration: RFC 6455 protocol behaviour over real sockets, in every mode: fragmentation with
 * control frames in between, automatic pong, the close handshake from either side, the optional
 * client_close/client_ping/client_pong callbacks, and each protocol violation answered with its close
 * code (section 7.4.1) followed by the end of the TCP connection. Public API only. */
#include "../test.h"
#include "ws_test_client.h"

enum { T_MS = 10000 };

struct app {
    atomic_int inits, closes, messages;
    atomic_int rc[8];      /* return codes a callback recorded */
    atomic_int recorded;   /* set after the fields below were written */
    unsigned code;
    char text[256];
    size_t text_len;
};

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs;
    (void)conn;
    atomic_fetch_add(&((struct app *)app)->inits, 1);
    *user = app;
    return 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    atomic_fetch_add(&((struct app *)user)->closes, 1);
}

static int echo(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    atomic_fetch_add(&((struct app *)user)->messages, 1);
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static const wsc_handler echo_handler = {.init = on_init, .message = echo, .close = on_close};

typedef void (*mode_fn)(wt_mode mode, int port, struct app *app);

/* Runs fn against a fresh server in each mode; afterwards every accepted connection must have had
 * exactly one close callback. */
static void run_in_modes(const wsc_handler *h, void (*tweak)(wsc_server_config *), mode_fn fn)
{
    for (int m = 0; m < WT_MODES && TEST_OK(); m++) {
        wsc_server_config cfg;
        static struct app app;
        wt_server s;
        memset(&app, 0, sizeof app);
        wt_config(&cfg, (wt_mode)m);
        if (tweak)
            tweak(&cfg);
        if (!wt_server_start(&s, h, &cfg, &app)) {
            EXPECT(0);
            return;
        }
        fn((wt_mode)m, s.port, &app);
        if (!wt_wait_int(&app.closes, atomic_load(&app.inits), T_MS)) {
            fprintf(stderr, "  %d connections accepted but %d close callbacks\n",
                    atomic_load(&app.inits), atomic_load(&app.closes));
            EXPECT(0);
        }
        EXPECT(wt_server_stop(&s, T_MS));
        EXPECT_EQ_INT(atomic_load(&app.closes), atomic_load(&app.inits));
        if (!TEST_OK())
            fprintf(stderr, "  (mode %s)\n", wt_mode_name((wt_mode)m));
    }
}

static bool open_c(wt_client *c, int port)
{
    if (wt_open(c, port) == 0)
        return true;
    fprintf(stderr, "  connect/handshake failed\n");
    return false;
}

/* ---- fragmentation and control frames ------------------------------------------------------- */

static void frag_with_pings(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    wt_frame f;
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    EXPECT(wt_send_frame(&c, false, WT_OP_TEXT, "Hel", 3) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "p1", 2) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_CONT, "lo ", 3) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "p2", 2) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PONG, "unsolicited", 11) == 0); /* ignored (5.5.3) */
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, "World", 5) == 0);
    /* The pongs answer pings that arrived before the message completed. */
    EXPECT(wt_read_frame(&c, &f, T_MS) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.fin && f.len == 2 && memcmp(f.data, "p1", 2) == 0);
    wt_frame_free(&f);
    EXPECT(wt_read_frame(&c, &f, T_MS) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.len == 2 && memcmp(f.data, "p2", 2) == 0);
    wt_frame_free(&f);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "Hello World", 11, T_MS));
    /* Binary, with empty fragments. */
    EXPECT(wt_send_frame(&c, false, WT_OP_BIN, "", 0) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_CONT, "\x00\xff", 2) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "", 0) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, "", 0) == 0);
    EXPECT(wt_read_frame(&c, &f, T_MS) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.len == 0);
    wt_frame_free(&f);
    EXPECT(wt_expect_message(&c, WT_OP_BIN, "\x00\xff", 2, T_MS));
    /* A code point split across fragments is valid UTF-8 (validation spans frames). */
    EXPECT(wt_send_frame(&c, false, WT_OP_TEXT, "h\xc3", 2) == 0);
    EXPECT(wt_send_frame(&c, false, WT_OP_CONT, "\xa9\xe2\x82", 3) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, "\xac", 1) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "h\xc3\xa9\xe2\x82\xac", 6, T_MS));
    wt_close(&c);
}
TEST(fragmented_messages_with_pings_between) { run_in_modes(&echo_handler, NULL, frag_with_pings); }

static void many_fragments(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    uint8_t payload[60000];
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    wt_fill_bytes(payload, sizeof payload, 5);
    /* 60000 bytes in 600 fragments of 100, a ping every 50: exactly the default size cap allows. */
    for (int i = 0; i < 600 && TEST_OK(); i++) {
        EXPECT(wt_send_frame(&c, i == 599, i ? WT_OP_CONT : WT_OP_BIN, payload + i * 100, 100) == 0);
        if (i % 50 == 0)
            EXPECT(wt_send_frame(&c, true, WT_OP_PING, "x", 1) == 0);
    }
    EXPECT(wt_expect_message(&c, WT_OP_BIN, payload, sizeof payload, T_MS));
    EXPECT_EQ_INT(c.pongs_seen, 12);
    wt_close(&c);
}
TEST(many_fragments_with_pings) { run_in_modes(&echo_handler, NULL, many_fragments); }

static void exact_cap(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    static uint8_t payload[65536];
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    wt_fill_bytes(payload, sizeof payload, 9);
    EXPECT(wt_send_frame(&c, true, WT_OP_BIN, payload, 65536) == 0); /* the default cap, exactly */
    EXPECT(wt_expect_message(&c, WT_OP_BIN, payload, 65536, T_MS));
    EXPECT(wt_send_frame(&c, false, WT_OP_BIN, payload, 30000) == 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_CONT, payload + 30000, 35536) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_BIN, payload, 65536, T_MS));
    wt_close(&c);
}
TEST(message_of_exactly_max_size_accepted) { run_in_modes(&echo_handler, NULL, exact_cap); }

static void auto_pong(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    wt_frame f;
    uint8_t big[125];
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    wt_fill_bytes(big, sizeof big, 1);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, big, 125) == 0);
    EXPECT(wt_read_frame(&c, &f, T_MS) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.fin && f.rsv == 0 && f.len == 125 && memcmp(f.data, big, 125) == 0);
    wt_frame_free(&f);
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, NULL, 0) == 0);
    EXPECT(wt_read_frame(&c, &f, T_MS) == 0);
    EXPECT(f.opcode == WT_OP_PONG && f.len == 0);
    wt_frame_free(&f);
    wt_close(&c);
}
TEST(automatic_pong) { run_in_modes(&echo_handler, NULL, auto_pong); }

/* ---- the close handshake ------------------------------------------------------------------------ */

static void client_closes(wt_mode mode, int port, struct app *app)
{
    static const struct {
        unsigned code;
        const char *reason;
    } cases[] = {{1000, "bye"}, {1001, ""}, {4000, "custom code"}, {3000, NULL}, {1011, "x"}};
    (void)mode;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0] && TEST_OK(); i++) {
        wt_client c;
        CHECK(open_c(&c, port));
        EXPECT(wt_send_text(&c, "before") == 0);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "before", 6, T_MS));
        EXPECT(wt_send_close(&c, cases[i].code, cases[i].reason) == 0);
        int r = wt_expect_close(&c, T_MS);
        EXPECT_EQ_INT(r, 0);
        /* Section 5.5.1: the endpoint typically echoes the status code it received. */
        EXPECT_EQ_INT(c.close_code, cases[i].code);
        EXPECT(wt_wait_eof(&c, T_MS) == 0);
        wt_close(&c);
        EXPECT(wt_wait_int(&app->closes, (int)i + 1, T_MS));
    }
    /* A close frame with no payload: answered with an empty close (or 1000), never 1005 on the wire. */
    wt_client c;
    CHECK(open_c(&c, port));
    EXPECT(wt_send_frame(&c, true, WT_OP_CLOSE, NULL, 0) == 0);
    EXPECT(wt_expect_close(&c, T_MS) == 0);
    EXPECT(c.close_code == 1005 || c.close_code == 1000);
    EXPECT(wt_wait_eof(&c, T_MS) == 0);
    wt_close(&c);
}
TEST(close_handshake_from_client) { run_in_modes(&echo_handler, NULL, client_closes); }

static int closing_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct app *app = user;
    char buf[64];
    if (msg->len >= 5 && memcmp(msg->data, "close", 5) == 0) {
        unsigned code = 0;
        char reason[64] = "";
        snprintf(buf, sizeof buf, "%.*s", (int)msg->len, (const char *)msg->data);
        sscanf(buf, "close %u %63s", &code, reason);
        atomic_store(&app->rc[0], wsc_conn_close(conn, code, reason[0] ? reason : NULL));
        atomic_store(&app->rc[1], wsc_conn_close(conn, 1000, "again")); /* a second call: nothing */
        atomic_store(&app->rc[2], wsc_conn_write_text(conn, "late", 4));
        atomic_store(&app->recorded, 1);
        return 0;
    }
    if (msg->len == 8 && memcmp(msg->data, "badclose", 8) == 0) {
        char longr[125];
        memset(longr, 'r', 124);
        longr[124] = '\0';
        int r0 = wsc_conn_close(conn, 1005, NULL);
        int r1 = wsc_conn_close(conn, 999, NULL);
        int r2 = wsc_conn_close(conn, 1000, longr);
        int r3 = wsc_conn_close(conn, 1000, "\xff\xfe");
        int r4 = wsc_conn_close(conn, 5000, NULL);
        int r5 = wsc_conn_close(conn, 1006, NULL);
        snprintf(buf, sizeof buf, "%d %d %d %d %d %d", r0, r1, r2, r3, r4, r5);
        return wsc_conn_write_text(conn, buf, strlen(buf));
    }
    if (msg->len == 4 && memcmp(msg->data, "fail", 4) == 0)
        return 1; /* a handler error closes with 1011 */
    return echo(conn, user, msg);
}

static const wsc_handler closing_handler = {
    .init = on_init, .message = closing_message, .close = on_close};

static void server_closes(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    wt_frame f;
    char expect[64];
    (void)mode;
    CHECK(open_c(&c, port));
    EXPECT(wt_send_text(&c, "close 4001 server-bye") == 0);
    EXPECT(wt_expect_close(&c, T_MS) == 0);
    EXPECT_EQ_INT(c.close_code, 4001);
    EXPECT_EQ_STR(c.close_reason, "server-bye");
    EXPECT(wt_wait_int(&app->recorded, 1, T_MS));
    EXPECT_EQ_INT(atomic_load(&app->rc[0]), 0);
    EXPECT_EQ_INT(atomic_load(&app->rc[1]), 0); /* "a second call does nothing" */
    EXPECT_EQ_INT(atomic_load(&app->rc[2]), WSC_ECLOSED);
    /* Our reply completes the handshake; the server then closes TCP and sends nothing more. */
    EXPECT(wt_send_close(&c, 4001, NULL) == 0);
    int r = wt_read_frame(&c, &f, T_MS);
    EXPECT_EQ_INT(r, WT_EOF);
    if (r == 0)
        fprintf(stderr, "  a frame (opcode %u) after the close frame\n", f.opcode);
    wt_frame_free(&f);
    wt_close(&c);

    /* Code 0 means 1000. */
    atomic_store(&app->recorded, 0);
    CHECK(open_c(&c, port));
    EXPECT(wt_send_text(&c, "close 0") == 0);
    EXPECT(wt_expect_close(&c, T_MS) == 0);
    EXPECT_EQ_INT(c.close_code, 1000);
    EXPECT(wt_send_close(&c, 1000, NULL) == 0);
    EXPECT(wt_wait_eof(&c, T_MS) == 0);
    wt_close(&c);

    /* Invalid codes and reasons are refused and leave the connection open. */
    CHECK(open_c(&c, port));
    EXPECT(wt_send_text(&c, "badclose") == 0);
    snprintf(expect, sizeof expect, "%d %d %d %d %d %d", WSC_EINVAL, WSC_EINVAL, WSC_EINVAL,
             WSC_EINVAL, WSC_EINVAL, WSC_EINVAL);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, expect, strlen(expect), T_MS));
    EXPECT(wt_send_text(&c, "still open") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "still open", 10, T_MS));
    wt_close(&c);

    /* A message callback returning non-zero closes with 1011. */
    CHECK(open_c(&c, port));
    EXPECT(wt_send_text(&c, "fail") == 0);
    EXPECT(wt_expect_fail_close(&c, 1011, T_MS));
    wt_close(&c);

    /* The server closes but the client never answers: the server still ends the connection. */
    CHECK(open_c(&c, port));
    EXPECT(wt_send_text(&c, "close 1000 no-answer") == 0);
    EXPECT(wt_expect_close(&c, T_MS) == 0);
    EXPECT(wt_wait_eof(&c, 3 * T_MS) == 0);
    wt_close(&c);
}
TEST(close_handshake_from_server) { run_in_modes(&closing_handler, NULL, server_closes); }

static int fail_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)conn;
    (void)user;
    (void)app;
    return 7;
}

static void after_init_fails(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    EXPECT(wt_expect_fail_close(&c, 1011, T_MS));
    wt_close(&c);
}
TEST(after_init_error_closes_1011)
{
    wsc_handler h = echo_handler;
    h.after_init = fail_after_init;
    run_in_modes(&h, NULL, after_init_fails);
}

/* ---- optional callbacks ------------------------------------------------------------------------- */

static int custom_client_close(wsc_conn *conn, void *user, unsigned code, const uint8_t *reason,
                               size_t reason_len)
{
    struct app *app = user;
    app->code = code;
    app->text_len = reason_len < sizeof app->text ? reason_len : sizeof app->text - 1;
    memcpy(app->text, reason, app->text_len);
    app->text[app->text_len] = '\0';
    atomic_store(&app->recorded, 1);
    return wsc_conn_close(conn, 4444, "handled");
}

static int custom_ping(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    struct app *app = user;
    char buf[200];
    atomic_fetch_add(&app->rc[3], 1);
    snprintf(buf, sizeof buf, "ping:%.*s", (int)len, (const char *)data);
    return wsc_conn_write_text(conn, buf, strlen(buf));
}

static int custom_pong(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    char buf[200];
    (void)user;
    snprintf(buf, sizeof buf, "pong:%.*s", (int)len, (const char *)data);
    return wsc_conn_write_text(conn, buf, strlen(buf));
}

static void optional_callbacks(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    (void)mode;
    CHECK(open_c(&c, port));
    /* client_ping set: no automatic pong, the handler answers. */
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "abc", 3) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "ping:abc", 8, T_MS));
    EXPECT_EQ_INT(c.pongs_seen, 0);
    EXPECT(wt_send_frame(&c, true, WT_OP_PONG, "xyz", 3) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "pong:xyz", 8, T_MS));
    EXPECT(wt_send_close(&c, 4321, "see you") == 0);
    EXPECT(wt_expect_close(&c, T_MS) == 0);
    EXPECT_EQ_INT(c.close_code, 4444);
    EXPECT_EQ_STR(c.close_reason, "handled");
    EXPECT(wt_wait_int(&app->recorded, 1, T_MS));
    EXPECT_EQ_INT(app->code, 4321);
    EXPECT_EQ_STR(app->text, "see you");
    EXPECT_EQ_INT(c.pongs_seen, 0);
    EXPECT(wt_wait_eof(&c, T_MS) == 0);
    wt_close(&c);
}
TEST(client_close_ping_pong_callbacks)
{
    wsc_handler h = echo_handler;
    h.client_close = custom_client_close;
    h.client_ping = custom_ping;
    h.client_pong = custom_pong;
    run_in_modes(&h, NULL, optional_callbacks);
}

/* ---- violations: each answered with its close code, then the end of the connection ------------ */

struct violation {
    const char *name;
    unsigned code;
    /* Frames to send, as (fin, rsv, opcode, masked, payload, len); len SIZE_MAX ends the list. */
    struct {
        bool fin;
        unsigned rsv, opcode;
        bool masked;
        const char *payload;
        size_t len;
    } frames[4];
    const uint8_t *raw; /* or raw bytes (masked by hand) */
    size_t raw_len;
};

#define F(fin, rsv, op, masked, s) {fin, rsv, op, masked, s, sizeof(s) - 1}
#define END {false, 0, 0, false, NULL, SIZE_MAX}

static const char ping126[] = /* 126 bytes: a control frame over 125 (5.5) */
    "0123456789012345678901234567890123456789012345678901234567890123456789"
    "01234567890123456789012345678901234567890123456789012345";
_Static_assert(sizeof ping126 - 1 == 126, "126-byte control payload");

/* A 64-bit length with the most significant bit set (5.2), masked, no payload. */
static const uint8_t len_msb[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};

static const struct violation violations[] = {
    {"unmasked client frame", 1002, {F(true, 0, WT_OP_TEXT, false, "hi"), END}, NULL, 0},
    {"unmasked client ping", 1002, {F(true, 0, WT_OP_PING, false, "hi"), END}, NULL, 0},
    {"reserved data opcode 3", 1002, {F(true, 0, 3, true, "x"), END}, NULL, 0},
    {"reserved data opcode 7", 1002, {F(true, 0, 7, true, ""), END}, NULL, 0},
    {"reserved control opcode 0xB", 1002, {F(true, 0, 0xB, true, "x"), END}, NULL, 0},
    {"reserved control opcode 0xF", 1002, {F(true, 0, 0xF, true, ""), END}, NULL, 0},
    {"RSV1 without an extension", 1002, {F(true, WT_RSV1, WT_OP_TEXT, true, "x"), END}, NULL, 0},
    {"RSV2", 1002, {F(true, WT_RSV2, WT_OP_BIN, true, "x"), END}, NULL, 0},
    {"RSV3", 1002, {F(true, WT_RSV3, WT_OP_BIN, true, "x"), END}, NULL, 0},
    {"RSV1 on a ping", 1002, {F(true, WT_RSV1, WT_OP_PING, true, "x"), END}, NULL, 0},
    {"fragmented ping", 1002, {F(false, 0, WT_OP_PING, true, "x"), END}, NULL, 0},
    {"fragmented close", 1002, {F(false, 0, WT_OP_CLOSE, true, "\x03\xe8"), END}, NULL, 0},
    {"ping over 125 bytes", 1002, {F(true, 0, WT_OP_PING, true, ping126), END}, NULL, 0},
    {"close over 125 bytes", 1002, {F(true, 0, WT_OP_CLOSE, true, ping126), END}, NULL, 0},
    {"continuation without start", 1002, {F(true, 0, WT_OP_CONT, true, "x"), END}, NULL, 0},
    {"unfinished continuation without start", 1002, {F(false, 0, WT_OP_CONT, true, "x"), END}, NULL, 0},
    {"text inside a fragmented message", 1002,
     {F(false, 0, WT_OP_TEXT, true, "a"), F(true, 0, WT_OP_TEXT, true, "b"), END}, NULL, 0},
    {"binary inside a fragmented message", 1002,
     {F(false, 0, WT_OP_BIN, true, "a"), F(false, 0, WT_OP_BIN, true, "b"), END}, NULL, 0},
    {"close code 999", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x03\xe7"), END}, NULL, 0},
    {"close code 1004", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x03\xec"), END}, NULL, 0},
    {"close code 1005", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x03\xed"), END}, NULL, 0},
    {"close code 1006", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x03\xee"), END}, NULL, 0},
    {"close code 1015", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x03\xf7"), END}, NULL, 0},
    {"close code 2999", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x0b\xb7"), END}, NULL, 0},
    {"close code 5000", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x13\x88"), END}, NULL, 0},
    {"close code 0", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x00\x00"), END}, NULL, 0},
    {"close payload of 1 byte", 1002, {F(true, 0, WT_OP_CLOSE, true, "\x03"), END}, NULL, 0},
    {"64-bit length with the top bit set", 1002, {END}, len_msb, sizeof len_msb},
    {"invalid UTF-8 text", 1007, {F(true, 0, WT_OP_TEXT, true, "ab\xff"), END}, NULL, 0},
    {"overlong UTF-8", 1007, {F(true, 0, WT_OP_TEXT, true, "\xc0\xaf"), END}, NULL, 0},
    {"UTF-16 surrogate", 1007, {F(true, 0, WT_OP_TEXT, true, "\xed\xa0\x80"), END}, NULL, 0},
    {"code point over U+10FFFF", 1007, {F(true, 0, WT_OP_TEXT, true, "\xf4\x90\x80\x80"), END}, NULL, 0},
    {"truncated sequence at the end", 1007, {F(true, 0, WT_OP_TEXT, true, "ok\xe2\x82"), END}, NULL, 0},
    /* Fail fast (section 8.1): the first fragment is already invalid; the rest never comes. */
    {"invalid UTF-8 in the first fragment", 1007, {F(false, 0, WT_OP_TEXT, true, "\xff"), END}, NULL, 0},
    {"invalid UTF-8 in a continuation", 1007,
     {F(false, 0, WT_OP_TEXT, true, "ok"), F(false, 0, WT_OP_CONT, true, "\xc3\x28"), END}, NULL, 0},
    {"truncated sequence at the last fragment", 1007,
     {F(false, 0, WT_OP_TEXT, true, "ok"), F(true, 0, WT_OP_CONT, true, "\xe2"), END}, NULL, 0},
    {"invalid UTF-8 close reason", 1007, {F(true, 0, WT_OP_CLOSE, true, "\x03\xe8\xff"), END}, NULL, 0},
};

static void send_violation(wt_client *c, const struct violation *v)
{
    if (v->raw) {
        EXPECT(wt_send_raw(c, v->raw, v->raw_len, T_MS) == 0);
        return;
    }
    for (int i = 0; v->frames[i].len != SIZE_MAX; i++)
        /* A send may fail once the server has reacted to an earlier frame: that is fine. */
        wt_send_frame_ex(c, v->frames[i].fin, v->frames[i].rsv, v->frames[i].opcode,
                         v->frames[i].masked, v->frames[i].payload, v->frames[i].len, T_MS);
}

static void violations_run(wt_mode mode, int port, struct app *app)
{
    (void)mode;
    for (size_t i = 0; i < sizeof violations / sizeof violations[0]; i++) {
        wt_client c;
        const struct violation *v = &violations[i];
        CHECK(open_c(&c, port));
        /* A valid message first: the violation happens on a connection in use. */
        EXPECT(wt_send_text(&c, "fine") == 0);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "fine", 4, T_MS));
        send_violation(&c, v);
        if (!wt_expect_fail_close(&c, v->code, T_MS)) {
            fprintf(stderr, "  violation: %s\n", v->name);
            EXPECT(0);
        }
        wt_close(&c);
        if (!wt_wait_int(&app->closes, (int)i + 1, T_MS)) {
            fprintf(stderr, "  no close callback after: %s\n", v->name);
            EXPECT(0);
        }
    }
}
TEST(violations_answered_with_close_codes) { run_in_modes(&echo_handler, NULL, violations_run); }

/* ---- max_message_size (1009) ----------------------------------------------------------------- */

static void too_big(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    uint8_t hdr[14], key[4] = {1, 2, 3, 4};
    static uint8_t payload[40000];
    (void)mode;
    /* Declared length over the cap: refused from the header, before any payload arrives. */
    CHECK(open_c(&c, port));
    size_t hl = wt_header(hdr, true, 0, WT_OP_BIN, key, 65537);
    EXPECT(wt_send_raw(&c, hdr, hl, T_MS) == 0);
    EXPECT(wt_expect_fail_close(&c, 1009, T_MS));
    wt_close(&c);
    /* A huge declared length (2^62): same, and nothing is allocated for it. */
    CHECK(open_c(&c, port));
    hl = wt_header(hdr, true, 0, WT_OP_BIN, key, (uint64_t)1 << 62);
    EXPECT(wt_send_raw(&c, hdr, hl, T_MS) == 0);
    EXPECT(wt_expect_fail_close(&c, 1009, T_MS));
    wt_close(&c);
    /* Fragments that add up to more than the cap. */
    CHECK(open_c(&c, port));
    wt_fill_bytes(payload, sizeof payload, 2);
    EXPECT(wt_send_frame(&c, false, WT_OP_BIN, payload, sizeof payload) == 0);
    wt_send_frame(&c, true, WT_OP_CONT, payload, sizeof payload);
    EXPECT(wt_expect_fail_close(&c, 1009, T_MS));
    wt_close(&c);
    /* Text too. */
    CHECK(open_c(&c, port));
    memset(payload, 'a', sizeof payload);
    EXPECT(wt_send_frame(&c, false, WT_OP_TEXT, payload, sizeof payload) == 0);
    wt_send_frame(&c, false, WT_OP_CONT, payload, sizeof payload);
    EXPECT(wt_expect_fail_close(&c, 1009, T_MS));
    wt_close(&c);
    EXPECT(wt_wait_int(&app->closes, 4, T_MS));
    EXPECT_EQ_INT(atomic_load(&app->messages), 0);
}
TEST(max_message_size_closes_1009) { run_in_modes(&echo_handler, NULL, too_big); }

static void small_cap(wsc_server_config *cfg)
{
    cfg->max_message_size = 1000;
}

static void too_big_small_cap(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    uint8_t payload[1001];
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    memset(payload, 'z', sizeof payload);
    EXPECT(wt_send_frame(&c, true, WT_OP_TEXT, payload, 1000) == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, payload, 1000, T_MS));
    wt_send_frame(&c, true, WT_OP_TEXT, payload, 1001);
    EXPECT(wt_expect_fail_close(&c, 1009, T_MS));
    wt_close(&c);
}
TEST(max_message_size_configured) { run_in_modes(&echo_handler, small_cap, too_big_small_cap); }

/* ---- UTF-8 validation can be turned off ------------------------------------------------------ */

static void no_utf8(wsc_server_config *cfg)
{
    cfg->no_utf8_check = true;
}

static void invalid_text_echoed(wt_mode mode, int port, struct app *app)
{
    wt_client c;
    wt_frame f;
    (void)mode;
    (void)app;
    CHECK(open_c(&c, port));
    EXPECT(wt_send_frame(&c, true, WT_OP_TEXT, "ab\xff", 3) == 0);
    /* Read the raw frame: the echo is (deliberately) not UTF-8. */
    EXPECT(wt_read_frame(&c, &f, T_MS) == 0);
    EXPECT(f.opcode == WT_OP_TEXT && f.len == 3 && memcmp(f.data, "ab\xff", 3) == 0);
    wt_frame_free(&f);
    wt_close(&c);
}
TEST(no_utf8_check_passes_invalid_text) { run_in_modes(&echo_handler, no_utf8, invalid_text_echoed); }

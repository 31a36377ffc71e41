/* The server's side of the close handshake when the handler has a client_close callback, in every
 * mode: the peer's close frame is always answered (RFC 6455 section 5.5.1), by the callback itself
 * or, when it returns without closing, by the library echoing the code (1011 when it failed), after
 * whatever the callback wrote; then the server closes the TCP connection, and close runs once.
 * Public API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

enum { T_MS = 20000 };

struct app {
    atomic_int client_closes, closes;
    int behaviour; /* what client_close does, below */
};

enum { B_NOTHING, B_WRITE_THEN_RETURN, B_FAIL, B_OWN_CLOSE };

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs;
    (void)conn;
    *user = app;
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static int on_client_close(wsc_conn *conn, void *user, unsigned code, const uint8_t *reason,
                           size_t reason_len)
{
    struct app *app = user;
    (void)code;
    (void)reason;
    (void)reason_len;
    atomic_fetch_add(&app->client_closes, 1);
    switch (app->behaviour) {
    case B_WRITE_THEN_RETURN:
        return wsc_conn_write(conn, WSC_TEXT, "last words", 10);
    case B_FAIL:
        return -1;
    case B_OWN_CLOSE:
        return wsc_conn_close(conn, 4001, "mine");
    default:
        return 0;
    }
}

static void on_close(wsc_conn *conn, void *user)
{
    struct app *app = user;
    (void)conn;
    atomic_fetch_add(&app->closes, 1);
}

static const wsc_handler handler = {.init = on_init,
                                    .message = on_message,
                                    .client_close = on_client_close,
                                    .close = on_close};

/* The peer closes with (code, reason); the answer must carry want_code (1005: no payload). */
static void close_answered(wt_mode mode, int behaviour, unsigned code, unsigned want_code)
{
    static struct app app;
    wt_server s;
    wt_client c;
    wsc_server_config cfg;

    memset(&app, 0, sizeof app);
    app.behaviour = behaviour;
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &handler, &cfg, &app));
    if (wt_open(&c, s.port) == 0) {
        EXPECT(wt_send_text(&c, "before") == 0);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "before", 6, T_MS));
        EXPECT(wt_send_close(&c, code, code ? "bye" : NULL) == 0);
        if (behaviour == B_WRITE_THEN_RETURN)
            EXPECT(wt_expect_message(&c, WT_OP_TEXT, "last words", 10, T_MS));
        int r = wt_expect_close(&c, T_MS);
        if (r != 0)
            fprintf(stderr, "  %s: no close frame answered ours (%s)\n", wt_mode_name(mode),
                    r == WT_EOF ? "the connection was dropped" : "nothing arrived");
        EXPECT_EQ_INT(r, 0);
        EXPECT_EQ_INT(c.close_code, want_code);
        /* Section 7.1.1: then the server closes the TCP connection. */
        EXPECT_EQ_INT(wt_wait_eof(&c, T_MS), 0);
        wt_close(&c);
    } else {
        EXPECT(0);
    }
    EXPECT(wt_wait_int(&app.closes, 1, T_MS));
    EXPECT_EQ_INT(atomic_load(&app.client_closes), 1);
    EXPECT(wt_server_stop(&s, T_MS));
    EXPECT_EQ_INT(atomic_load(&app.closes), 1);
}

static void each_mode(int behaviour, unsigned code, unsigned want_code)
{
    for (int m = 0; m < WT_MODES && TEST_OK(); m++)
        close_answered((wt_mode)m, behaviour, code, want_code);
}

TEST(client_close_that_does_nothing_still_gets_the_echo) { each_mode(B_NOTHING, 1000, 1000); }
TEST(client_close_echoes_a_private_code) { each_mode(B_NOTHING, 4321, 4321); }
TEST(client_close_with_no_code_gets_an_empty_close) { each_mode(B_NOTHING, 0, 1005); }
TEST(client_close_writes_then_the_echo_follows) { each_mode(B_WRITE_THEN_RETURN, 1001, 1001); }
TEST(client_close_that_fails_answers_1011) { each_mode(B_FAIL, 1000, 1011); }
TEST(client_close_that_closes_itself_keeps_its_own_code) { each_mode(B_OWN_CLOSE, 1000, 4001); }

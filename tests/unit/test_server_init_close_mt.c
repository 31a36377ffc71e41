/* What follows init, in every mode: a connection init accepted gets its close callback whatever
 * happens next (here: init also tried to add a response header the response could never carry,
 * which is refused at once, so the 101 still goes out; LeakSanitizer sees the per-connection block
 * if close never runs), and a refusal's error response carries the headers init added (a 401's
 * WWW-Authenticate). Public API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

enum { T_MS = 20000 };

struct app {
    atomic_int inits, closes, bad_header_rc;
};

static struct app app_;

/* Per connection: what a real application allocates in init and frees in close. */
struct session {
    char name[32];
};

static int init_accepts(wsc_handshake *hs, wsc_conn *conn, void *appv, void **user)
{
    struct app *app = appv;
    (void)conn;
    struct session *s = calloc(1, sizeof *s);
    if (!s)
        return 500;
    snprintf(s->name, sizeof s->name, "session");
    *user = s;
    atomic_fetch_add(&app->inits, 1);
    /* A name with characters no header name may have: refused here, not later with a 500. */
    atomic_store(&app->bad_header_rc, wsc_handshake_add_response_header(hs, "X(Y)", "1"));
    return 0;
}

static int init_refuses(wsc_handshake *hs, wsc_conn *conn, void *appv, void **user)
{
    struct app *app = appv;
    (void)conn;
    (void)user;
    atomic_fetch_add(&app->inits, 1);
    if (wsc_handshake_add_response_header(hs, "WWW-Authenticate", "Bearer realm=\"chat\"") != 0)
        return 500;
    return 401;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    free(user);
    atomic_fetch_add(&app_.closes, 1);
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void accepted_gets_close(wt_mode mode)
{
    static const wsc_handler h = {.init = init_accepts, .message = on_message, .close = on_close};
    wt_server s;
    wt_client c;
    wsc_server_config cfg;
    memset(&app_, 0, sizeof app_);
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &h, &cfg, &app_));
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
    EXPECT(atomic_load(&app_.bad_header_rc) < 0);
    EXPECT(wt_send_text(&c, "hi") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "hi", 2, T_MS));
    wt_close(&c);
    EXPECT(wt_wait_int(&app_.closes, 1, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
    EXPECT_EQ_INT(atomic_load(&app_.closes), atomic_load(&app_.inits));
}

static void refusal_carries_headers(wt_mode mode)
{
    static const wsc_handler h = {.init = init_refuses, .message = on_message, .close = on_close};
    wt_server s;
    wt_client c;
    wsc_server_config cfg;
    char head[4096] = "";
    memset(&app_, 0, sizeof app_);
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &h, &cfg, &app_));
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake_ex(&c, "/", NULL, T_MS, head, sizeof head), 401);
    EXPECT(wt_head_has(head, "WWW-Authenticate", "Bearer realm=\"chat\""));
    EXPECT_EQ_INT(wt_wait_eof(&c, T_MS), 0); /* and then the server closes */
    wt_close(&c);
    EXPECT(wt_server_stop(&s, T_MS));
    EXPECT_EQ_INT(atomic_load(&app_.inits), 1);
    EXPECT_EQ_INT(atomic_load(&app_.closes), 0); /* refused: no close callback */
}

TEST(accepted_connection_gets_its_close_pool) { accepted_gets_close(WT_EPOLL_POOL); }
TEST(accepted_connection_gets_its_close_inline) { accepted_gets_close(WT_EPOLL_INLINE); }
TEST(accepted_connection_gets_its_close_blocking) { accepted_gets_close(WT_BLOCKING); }
TEST(refusal_carries_init_headers_pool) { refusal_carries_headers(WT_EPOLL_POOL); }
TEST(refusal_carries_init_headers_inline) { refusal_carries_headers(WT_EPOLL_INLINE); }
TEST(refusal_carries_init_headers_blocking) { refusal_carries_headers(WT_BLOCKING); }

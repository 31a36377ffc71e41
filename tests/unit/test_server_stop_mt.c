/* Stop while connections are busy: every connection gets close 1001, every close callback runs
 * exactly once, listen returns, nothing leaks (ASan) or races (TSan). Also stop from a signal
 * handler, and back pressure (a full backlog stalls reading without losing or reordering anything). */
#include "../test.h"
#include "ws_test_client.h"

enum { NCONN = 100, MAXCONN = 128 };

static atomic_int close_count[MAXCONN];
static atomic_int next_id, msgs;
static atomic_int handler_delay_ms;

static int init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs, (void)conn, (void)app;
    int id = atomic_fetch_add(&next_id, 1);
    if (id >= MAXCONN)
        return 503;
    *user = (void *)(intptr_t)(id + 1);
    return 0;
}

static int message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    atomic_fetch_add(&msgs, 1);
    int d = atomic_load(&handler_delay_ms);
    if (d)
        wt_sleep_ms(d);
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == WSC_EINVAL ? -1 : 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    intptr_t id = (intptr_t)user - 1;
    if (id >= 0 && id < MAXCONN)
        atomic_fetch_add(&close_count[id], 1);
}

static const wsc_handler handler = {.init = init, .message = message, .close = on_close};

static void reset(void)
{
    for (int i = 0; i < MAXCONN; i++)
        atomic_store(&close_count[i], 0);
    atomic_store(&next_id, 0);
    atomic_store(&msgs, 0);
    atomic_store(&handler_delay_ms, 0);
}

static void stop_busy(wt_mode mode, bool pooled)
{
    wsc_server_config cfg;
    wt_server s;
    static wt_client c[NCONN];
    reset();
    wt_config(&cfg, mode);
    if (pooled)
        cfg.buffers.small_pool = 16;
    atomic_store(&handler_delay_ms, mode == WT_EPOLL_POOL ? 1 : 0);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    for (int i = 0; i < NCONN; i++)
        CHECK(wt_open(&c[i], s.port) == 0);
    /* Keep them busy: several messages in flight on each, nothing read back yet. */
    char text[64];
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < NCONN; i++) {
            snprintf(text, sizeof text, "conn %d round %d", i, round);
            EXPECT(wt_send_text(&c[i], text) == 0);
        }
    wt_wait_at_least(&msgs, NCONN, 5000);
    wsc_server_stop(s.srv);
    /* Each client sees its echoes (possibly not all), then close 1001, and answers it. */
    int got_1001 = 0;
    for (int i = 0; i < NCONN; i++) {
        if (wt_expect_close(&c[i], 10000) == 0 && c[i].close_code == 1001)
            got_1001++;
        wt_send_close(&c[i], 1001, NULL);
        wt_close(&c[i]);
    }
    EXPECT_EQ_INT(got_1001, NCONN);
    EXPECT(wt_server_stop(&s, 15000));
    for (int i = 0; i < NCONN; i++)
        EXPECT_EQ_INT(atomic_load(&close_count[i]), 1);
    EXPECT_EQ_INT(atomic_load(&next_id), NCONN);
}

TEST(stop_with_100_busy_connections)
{
    stop_busy(WT_EPOLL_POOL, false);
    stop_busy(WT_EPOLL_INLINE, true);
    stop_busy(WT_BLOCKING, false);
}

/* A client that never answers the close: stop still ends within the close timeout, and the close
   callback runs once. */
static void stop_silent_peer(wt_mode mode)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client a, b;
    reset();
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    CHECK(wt_open(&a, s.port) == 0);
    CHECK(wt_connect(&b, s.port) == 0); /* mid-handshake: dropped without a callback */
    EXPECT(wt_send_str(&b, "GET / HTTP/1.1\r\n", 1000) == 0);
    EXPECT(wt_send_text(&a, "x") == 0);
    EXPECT(wt_expect_message(&a, WT_OP_TEXT, "x", 1, 5000));
    EXPECT(wt_server_stop(&s, 15000));
    EXPECT(wt_expect_close(&a, 1000) == 0);
    EXPECT_EQ_INT(a.close_code, 1001);
    EXPECT_EQ_INT(atomic_load(&close_count[0]), 1);
    wt_close(&a);
    wt_close(&b);
}

TEST(stop_with_a_peer_that_never_answers)
{
    stop_silent_peer(WT_EPOLL_POOL);
    stop_silent_peer(WT_EPOLL_INLINE);
    stop_silent_peer(WT_BLOCKING);
}

static wsc_server *signal_target;

static void on_sigusr1(int sig)
{
    (void)sig;
    wsc_server_stop(signal_target);
}

TEST(stop_from_a_signal_handler)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client a;
    reset();
    wt_config(&cfg, WT_EPOLL_POOL);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    CHECK(wt_open(&a, s.port) == 0);
    signal_target = s.srv;
    struct sigaction sa = {.sa_handler = on_sigusr1};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    EXPECT(wt_expect_close(&a, 5000) == 0);
    EXPECT_EQ_INT(a.close_code, 1001);
    wt_send_close(&a, 1001, NULL);
    EXPECT(wt_wait_eof(&a, 5000) == 0);
    wt_close(&a);
    /* listen returned by itself: the join succeeds */
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&close_count[0]), 1);
    signal(SIGUSR1, SIG_DFL);
}

/* One handler thread and a backlog of 1, handlers slower than the clients: the workers stop
   reading while the backlog is full, and every message is still echoed, in order per connection. */
TEST(back_pressure_loses_nothing)
{
    enum { CONNS = 6, PER = 40 };
    wsc_server_config cfg;
    wt_server s;
    wt_client c[CONNS];
    reset();
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.thread_pool.count = 1;
    cfg.thread_pool.backlog = 1;
    cfg.buffers.small_pool = 2;
    atomic_store(&handler_delay_ms, 1);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    for (int i = 0; i < CONNS; i++)
        CHECK(wt_open(&c[i], s.port) == 0);
    char text[64];
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < CONNS; i++) {
            snprintf(text, sizeof text, "c%d m%d", i, k);
            EXPECT(wt_send_text(&c[i], text) == 0);
        }
    for (int i = 0; i < CONNS && TEST_OK(); i++)
        for (int k = 0; k < PER && TEST_OK(); k++) {
            int n = snprintf(text, sizeof text, "c%d m%d", i, k);
            EXPECT(wt_expect_message(&c[i], WT_OP_TEXT, text, (size_t)n, 10000));
        }
    for (int i = 0; i < CONNS; i++)
        wt_close(&c[i]);
    EXPECT(wt_wait_int(&next_id, CONNS, 1000));
    EXPECT(wt_server_stop(&s, 15000));
    for (int i = 0; i < CONNS; i++)
        EXPECT_EQ_INT(atomic_load(&close_count[i]), 1);
}

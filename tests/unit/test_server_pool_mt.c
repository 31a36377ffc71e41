/* The handler pool when handlers block (also run under ThreadSanitizer): while two callbacks are
 * stuck, a third connection's message is still answered, whether the server's threads share one
 * CPU (the pool then runs one thread at a time and wakes the next only when one blocks) or may use
 * them all. Public API only; every wait is bounded. */
#include <sched.h>

#include "../test.h"
#include "ws_test_client.h"

enum { T_MS = 20000, ECHO_MS = 5000, CONNS = 4, THREADS = 4 };

struct app {
    atomic_int blocked; /* callbacks waiting for release */
    atomic_int release;
};

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct app *app = user;
    if (msg->len == 5 && memcmp(msg->data, "block", 5) == 0) {
        atomic_fetch_add(&app->blocked, 1);
        /* A handler waiting on something slow (a database, a lock); bounded for the test. */
        wt_wait_int(&app->release, 1, T_MS);
        atomic_fetch_sub(&app->blocked, 1);
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs;
    (void)conn;
    *user = app;
    return 0;
}

static const wsc_handler handler = {.init = on_init, .message = on_message};

static void blocked_handlers(bool one_cpu)
{
    static struct app app;
    wt_server s;
    wt_client c[CONNS];
    wsc_server_config cfg;
    cpu_set_t saved, one;
    int opened = 0;

    memset(&app, 0, sizeof app);
    CHECK(sched_getaffinity(0, sizeof saved, &saved) == 0);
    if (one_cpu) {
        /* The server's threads inherit this thread's mask: they all share one CPU, with the test. */
        int cpu = sched_getcpu();
        CPU_ZERO(&one);
        CPU_SET(cpu >= 0 ? cpu : 0, &one);
        CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    }
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.worker_count = 1;
    cfg.thread_pool.count = THREADS;
    bool started = wt_server_start(&s, &handler, &cfg, &app);
    if (!started) {
        sched_setaffinity(0, sizeof saved, &saved);
        CHECK(0);
    }
    for (; opened < CONNS; opened++)
        if (wt_open(&c[opened], s.port) != 0)
            break;
    EXPECT_EQ_INT(opened, CONNS);
    if (opened == CONNS) {
        /* Back to back, so that the worker usually reads all three in one wake-up and submits them
           as one batch: the thread taking the first job blocks with two more queued behind it. */
        EXPECT(wt_send_text(&c[0], "block") == 0);
        EXPECT(wt_send_text(&c[1], "block") == 0);
        EXPECT(wt_send_text(&c[2], "not blocked") == 0);
        EXPECT(wt_expect_message(&c[2], WT_OP_TEXT, "not blocked", 11, ECHO_MS));
        EXPECT(wt_wait_int(&app.blocked, 2, ECHO_MS));
        /* Later messages, with both handlers still stuck. */
        EXPECT(wt_send_text(&c[3], "after") == 0);
        EXPECT(wt_expect_message(&c[3], WT_OP_TEXT, "after", 5, ECHO_MS));
        EXPECT(wt_send_text(&c[2], "again") == 0);
        EXPECT(wt_expect_message(&c[2], WT_OP_TEXT, "again", 5, ECHO_MS));
        EXPECT_EQ_INT(atomic_load(&app.blocked), 2);
    }
    atomic_store(&app.release, 1);
    if (opened == CONNS) {
        EXPECT(wt_expect_message(&c[0], WT_OP_TEXT, "block", 5, T_MS));
        EXPECT(wt_expect_message(&c[1], WT_OP_TEXT, "block", 5, T_MS));
    }
    for (int i = 0; i < opened; i++)
        wt_close(&c[i]);
    EXPECT(wt_server_stop(&s, T_MS));
    EXPECT(sched_setaffinity(0, sizeof saved, &saved) == 0);
}

TEST(blocked_handlers_hold_up_only_their_connections_one_cpu) { blocked_handlers(true); }
TEST(blocked_handlers_hold_up_only_their_connections_all_cpus) { blocked_handlers(false); }

/* One connection subscribed to very many topics (an application that subscribes on its peer's
 * request): each subscribe and unsubscribe costs a constant amount, not a walk over the
 * connection's other subscriptions, which would hold the server-wide topics mutex (and so every
 * publish) for as long as the list is long; a watchdog fails the test long before that quadratic
 * cost is paid. Every subscription still gets exactly one delivery per publish. */
#include "../test.h"

#include <stdatomic.h>

#include "client_test_util.h"
#include "ws_test_client.h"

#define T_MS 20000

enum { TOPICS = 150000 };

static _Atomic(wsc_conn *) the_conn;

static int after_init(wsc_conn *c, void *user, void *app)
{
    (void)user, (void)app;
    wsc_conn_retain(c);
    atomic_store(&the_conn, c);
    return 0;
}

static int on_message(wsc_conn *c, void *user, const wsc_msg *m)
{
    (void)c, (void)user, (void)m;
    return 0;
}

static void name(char *out, size_t cap, int i)
{
    snprintf(out, cap, "room/%d", i);
}

TEST(many_subscriptions_one_connection)
{
    ct_watchdog(100);
    wt_server s;
    wsc_handler h = {.message = on_message, .after_init = after_init};
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_POOL);
    atomic_store(&the_conn, NULL);
    CHECK(wt_server_start(&s, &h, &cfg, NULL));
    wsc_err err;
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", s.port);
    wsc_client_config cc = {0};
    wsc_client *cl = wsc_client_connect_url(url, &cc, NULL, &err);
    CHECK(cl);
    wsc_client_read_timeout(cl, T_MS);
    wsc_conn *c;
    while (!(c = atomic_load(&the_conn)))
        sched_yield();
    char t[32];
    int bad = 0;
    for (int i = 0; i < TOPICS; i++) {
        name(t, sizeof t, i);
        bad += wsc_conn_subscribe(c, t) != 0;
    }
    EXPECT_EQ_INT(bad, 0);
    /* Again: one subscription each, nothing added. */
    for (int i = 0; i < TOPICS; i += 1000) {
        name(t, sizeof t, i);
        bad += wsc_conn_subscribe(c, t) != 0;
    }
    EXPECT_EQ_INT(bad, 0);
    name(t, sizeof t, TOPICS / 2);
    EXPECT_EQ_INT(wsc_server_publish(s.srv, t, WSC_TEXT, "one", 3), 1);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(cl, &m), 0);
    EXPECT(m.len == 3 && memcmp(m.data, "one", 3) == 0);
    /* Every other one goes, in the order they came: the rest stay. */
    for (int i = 0; i < TOPICS; i += 2) {
        name(t, sizeof t, i);
        bad += wsc_conn_unsubscribe(c, t) != 0;
    }
    EXPECT_EQ_INT(bad, 0);
    name(t, sizeof t, 0);
    EXPECT_EQ_INT(wsc_conn_unsubscribe(c, t), WSC_ESTATE);
    EXPECT_EQ_INT(wsc_server_publish(s.srv, t, WSC_TEXT, "none", 4), 0);
    name(t, sizeof t, TOPICS - 1);
    EXPECT_EQ_INT(wsc_server_publish(s.srv, t, WSC_TEXT, "two", 3), 1);
    EXPECT_EQ_INT(wsc_client_read(cl, &m), 0);
    EXPECT(m.len == 3 && memcmp(m.data, "two", 3) == 0);
    /* The rest end with the connection. */
    EXPECT_EQ_INT(wsc_client_close(cl, 0, NULL), 0);
    wsc_client_free(cl);
    wsc_conn_release(c);
    EXPECT(wt_server_stop(&s, T_MS));
}

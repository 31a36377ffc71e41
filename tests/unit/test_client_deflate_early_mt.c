/* A client with permessage-deflate written to from another thread while its handshake runs: the
 * writes are refused with WSC_ESTATE until the upgrade is done, and whether a write compresses is
 * decided only once the handshake has set up compression, not read from it while it is being set
 * (a data race, which ThreadSanitizer reports). */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"
#include "ws_test_client.h"

#define T_MS 20000

static atomic_int early_estate, early_other;
static atomic_bool stop_writer;

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0 ? 0 : -1;
}

static void *early_writer(void *arg)
{
    wsc_client *c = arg;
    static const char text[] = "early bird early bird early bird early bird";
    while (!atomic_load(&stop_writer)) {
        int rc = wsc_client_write_text(c, text, sizeof text - 1);
        if (rc == WSC_ESTATE) {
            atomic_fetch_add(&early_estate, 1);
            continue;
        }
        if (rc != 0)
            atomic_fetch_add(&early_other, 1);
        break;
    }
    return NULL;
}

static void early(wt_mode mode)
{
    wt_server s;
    wsc_handler h = {.message = on_message};
    wsc_server_config cfg;
    wt_config(&cfg, mode);
    cfg.deflate.enabled = true;
    CHECK(wt_server_start(&s, &h, &cfg, NULL));
    wsc_err err;
    wsc_client_config cc = {.host = "127.0.0.1", .port = s.port, .deflate = {.enabled = true}};
    wsc_client *c = wsc_client_new(&cc, &err);
    CHECK(c);
    wsc_client_read_timeout(c, T_MS);
    atomic_store(&early_estate, 0);
    atomic_store(&early_other, 0);
    atomic_store(&stop_writer, false);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, early_writer, c) == 0);
    /* Until the writer has been refused once, the handshake would race nothing. */
    while (atomic_load(&early_estate) == 0)
        sched_yield();
    EXPECT_EQ_INT(wsc_client_handshake(c, "/", NULL, &err), 0);
    pthread_join(th, NULL);
    EXPECT(wsc_client_compressed(c));
    EXPECT_EQ_INT(atomic_load(&early_other), 0);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT(m.len > 0 && memcmp(m.data, "early bird", 10) == 0);
    EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, T_MS));
}

TEST(client_write_during_handshake_pool)
{
    ct_watchdog(120);
    early(WT_EPOLL_POOL);
}

TEST(client_write_during_handshake_blocking)
{
    ct_watchdog(120);
    early(WT_BLOCKING);
}

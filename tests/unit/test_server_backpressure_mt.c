/* Back pressure on a connection's outbound queue, in every mode (pool, inline, blocking): a write
 * is accepted whole or refused whole; the cap (max_buffered) applies to what is queued already, so
 * one message larger than the cap reaches a reader, while a write made on a queue over the cap is
 * refused with nothing of it sent and the connection closes 1008 after what was accepted; the drain
 * callback lets a producer pace itself. The peer's receive buffer is fixed small, so what the
 * kernel can hold is bounded (about its 4 MiB send buffer) and the 16 MiB messages must queue.
 * Public API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

enum {
    T_MS = 60000,
    CAP = 256 * 1024,
    BIG = 16 << 20,    /* more than the kernel holds for a peer that does not read */
    PACE_MSG = 1 << 20,
    PACE_COUNT = 24,   /* 24 MiB through a 256 KiB cap: several drains */
    RCVBUF = 65536,
};

static uint8_t *big_a, *big_b, *pace_msg;

struct app {
    atomic_int rc1, rc2, done, drains, pacing, paced, pace_rc;
    atomic_long buffered1;
};

static struct app app_;

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs;
    (void)conn;
    *user = app;
    return 0;
}

/* Writes 1 MiB messages while the queue is within the cap, up to PACE_COUNT in all; then "done",
   also only on a queue within the cap (a write on a fuller one would be refused). */
static int pace(wsc_conn *conn, struct app *app)
{
    while (atomic_load(&app->paced) < PACE_COUNT && wsc_conn_buffered(conn) <= CAP) {
        int rc = wsc_conn_write_binary(conn, pace_msg, PACE_MSG);
        if (rc != 0) {
            atomic_store(&app->pace_rc, rc);
            return rc;
        }
        atomic_fetch_add(&app->paced, 1);
    }
    if (atomic_load(&app->paced) == PACE_COUNT && wsc_conn_buffered(conn) <= CAP) {
        atomic_fetch_add(&app->paced, 1); /* "done" is written once */
        return wsc_conn_write_text(conn, "done", 4);
    }
    return 0;
}

static int on_drain(wsc_conn *conn, void *user)
{
    struct app *app = user;
    atomic_fetch_add(&app->drains, 1);
    return atomic_load(&app->pacing) ? pace(conn, app) : 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct app *app = user;
    if (msg->len == 3 && memcmp(msg->data, "big", 3) == 0) {
        atomic_store(&app->rc1, wsc_conn_write_binary(conn, big_a, BIG));
        atomic_store(&app->buffered1, (long)wsc_conn_buffered(conn));
    } else if (msg->len == 3 && memcmp(msg->data, "two", 3) == 0) {
        atomic_store(&app->rc1, wsc_conn_write_binary(conn, big_a, BIG));
        atomic_store(&app->buffered1, (long)wsc_conn_buffered(conn));
        atomic_store(&app->rc2, wsc_conn_write_binary(conn, big_b, BIG));
    } else if (msg->len == 4 && memcmp(msg->data, "pace", 4) == 0) {
        atomic_store(&app->pacing, 1);
        pace(conn, app);
    } else {
        return wsc_conn_write(conn, msg->type, msg->data, msg->len);
    }
    atomic_store(&app->done, 1);
    return 0;
}

static const wsc_handler handler = {
    .init = on_init, .message = on_message, .drain = on_drain};

static bool start(wt_server *s, wt_client *c, wt_mode mode)
{
    wsc_server_config cfg;
    memset(&app_, 0, sizeof app_);
    atomic_store(&app_.rc2, 1);
    if (!big_a) {
        big_a = malloc(BIG);
        big_b = malloc(BIG);
        pace_msg = malloc(PACE_MSG);
        if (!big_a || !big_b || !pace_msg)
            return false;
        wt_fill_bytes(big_a, BIG, 1);
        wt_fill_bytes(big_b, BIG, 2);
        wt_fill_bytes(pace_msg, PACE_MSG, 3);
    }
    wt_config(&cfg, mode);
    cfg.max_buffered = CAP;
    if (!wt_server_start(s, &handler, &cfg, &app_))
        return false;
    if (wt_connect_rcvbuf(c, s->port, RCVBUF) != 0 || wt_handshake(c, "/") != 101) {
        wt_server_stop(s, T_MS);
        return false;
    }
    return true;
}

/* One message of 16 MiB, 64 times the cap, to a peer that reads only after the write returned:
   accepted, delivered whole, and the connection stays open. */
static void one_big_message(wt_mode mode)
{
    wt_server s;
    wt_client c;
    CHECK(start(&s, &c, mode));
    EXPECT(wt_send_text(&c, "big") == 0);
    EXPECT(wt_wait_int(&app_.done, 1, T_MS));
    EXPECT_EQ_INT(atomic_load(&app_.rc1), 0);
    EXPECT(atomic_load(&app_.buffered1) > CAP); /* it did queue past the cap */
    EXPECT(wt_expect_message(&c, WT_OP_BIN, big_a, BIG, T_MS));
    EXPECT(wt_send_text(&c, "still open") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "still open", 10, T_MS));
    /* The queue passed the cap once and drained: one drain callback. */
    EXPECT(wt_wait_int(&app_.drains, 1, T_MS));
    wt_close(&c);
    EXPECT(wt_server_stop(&s, T_MS));
    EXPECT_EQ_INT(atomic_load(&app_.drains), 1);
}

/* A second message written while the first still fills the queue: refused whole (nothing of it
   sent), and the connection closes 1008 after the first arrived whole. */
static void second_message_refused_whole(wt_mode mode)
{
    wt_server s;
    wt_client c;
    CHECK(start(&s, &c, mode));
    EXPECT(wt_send_text(&c, "two") == 0);
    EXPECT(wt_wait_int(&app_.done, 1, T_MS));
    EXPECT_EQ_INT(atomic_load(&app_.rc1), 0);
    EXPECT_EQ_INT(atomic_load(&app_.rc2), WSC_EFULL);
    EXPECT(wt_expect_message(&c, WT_OP_BIN, big_a, BIG, T_MS));
    /* Then the close, with no byte of the refused message before it. */
    wt_frame f;
    int r = wt_read_frame(&c, &f, T_MS);
    EXPECT_EQ_INT(r, 0);
    EXPECT_EQ_INT(f.opcode, WT_OP_CLOSE);
    if (r == 0 && f.opcode == WT_OP_CLOSE) {
        wt_note_close(&c, &f);
        EXPECT_EQ_INT(c.close_code, 1008);
    }
    wt_frame_free(&f);
    wt_close(&c);
    EXPECT(wt_server_stop(&s, T_MS));
}

/* A producer that stops when wsc_conn_buffered passes the cap and goes on from the drain callback:
   24 MiB arrive whole and in order, then "done", and the connection never closes. */
static void paced_by_drain(wt_mode mode)
{
    wt_server s;
    wt_client c;
    CHECK(start(&s, &c, mode));
    EXPECT(wt_send_text(&c, "pace") == 0);
    for (int i = 0; i < PACE_COUNT && TEST_OK(); i++)
        EXPECT(wt_expect_message(&c, WT_OP_BIN, pace_msg, PACE_MSG, T_MS));
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "done", 4, T_MS));
    EXPECT(atomic_load(&app_.drains) >= 1);
    EXPECT_EQ_INT(atomic_load(&app_.pace_rc), 0);
    EXPECT(wt_send_text(&c, "still open") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "still open", 10, T_MS));
    wt_close(&c);
    EXPECT(wt_server_stop(&s, T_MS));
}

TEST(one_message_larger_than_the_cap_is_accepted_pool) { one_big_message(WT_EPOLL_POOL); }
TEST(one_message_larger_than_the_cap_is_accepted_inline) { one_big_message(WT_EPOLL_INLINE); }
TEST(one_message_larger_than_the_cap_is_accepted_blocking) { one_big_message(WT_BLOCKING); }
TEST(write_on_a_full_queue_is_refused_whole_pool) { second_message_refused_whole(WT_EPOLL_POOL); }
TEST(write_on_a_full_queue_is_refused_whole_inline) { second_message_refused_whole(WT_EPOLL_INLINE); }
TEST(write_on_a_full_queue_is_refused_whole_blocking) { second_message_refused_whole(WT_BLOCKING); }
TEST(drain_paces_a_producer_pool) { paced_by_drain(WT_EPOLL_POOL); }
TEST(drain_paces_a_producer_inline) { paced_by_drain(WT_EPOLL_INLINE); }
TEST(drain_paces_a_producer_blocking) { paced_by_drain(WT_BLOCKING); }

__attribute__((destructor)) static void free_messages(void)
{
    free(big_a);
    free(big_b);
    free(pace_msg);
}

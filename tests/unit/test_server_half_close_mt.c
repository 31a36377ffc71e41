/* A peer that half-closes (sends its FIN) and reads on, in every mode: every message the server
 * accepted for it before the FIN still arrives, whole and in order, and then the server closes;
 * close runs once. The peer's receive buffer is fixed small, so the echoes must queue on the server
 * when the FIN arrives. Public API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

enum { T_MS = 30000, MSGS = 160, SIZE = 65536, RCVBUF = 65536 }; /* 10 MiB: more than the kernel holds */

static atomic_int closes;

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    (void)user;
    atomic_fetch_add(&closes, 1);
}

static const wsc_handler handler = {.message = on_message, .close = on_close};

static void half_close(wt_mode mode)
{
    static uint8_t payload[MSGS][SIZE];
    wt_server s;
    wt_client c;
    wsc_server_config cfg;
    atomic_store(&closes, 0);
    wt_config(&cfg, mode);
    cfg.max_buffered = 64u << 20; /* everything may queue: the test is about the FIN */
    cfg.max_message_size = SIZE;
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    CHECK(wt_connect_rcvbuf(&c, s.port, RCVBUF) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
    for (int i = 0; i < MSGS && TEST_OK(); i++) {
        wt_fill_bytes(payload[i], SIZE, (unsigned)i + 1);
        EXPECT(wt_send_frame(&c, true, WT_OP_BIN, payload[i], SIZE) == 0);
    }
    /* A ping last: its pong tells the server read everything before the FIN. */
    EXPECT(wt_send_frame(&c, true, WT_OP_PING, "end", 3) == 0);
    EXPECT(shutdown(c.fd, SHUT_WR) == 0);
    for (int i = 0; i < MSGS && TEST_OK(); i++)
        EXPECT(wt_expect_message(&c, WT_OP_BIN, payload[i], SIZE, T_MS));
    EXPECT_EQ_INT(wt_wait_eof(&c, T_MS), 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
    EXPECT_EQ_INT(atomic_load(&closes), 1);
}

TEST(half_closed_peer_gets_every_echo_pool) { half_close(WT_EPOLL_POOL); }
TEST(half_closed_peer_gets_every_echo_inline) { half_close(WT_EPOLL_INLINE); }
TEST(half_closed_peer_gets_every_echo_blocking) { half_close(WT_BLOCKING); }

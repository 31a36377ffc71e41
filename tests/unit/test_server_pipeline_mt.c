/* Pipelined messages in pool mode (also run under ThreadSanitizer): clients that send thousands of
 * small masked frames in one write, so that the worker reads hundreds of whole messages at once and
 * hands them to the pool while a pool thread runs ahead through the ones already handed over. Every
 * echo must come back exactly once and in order: a message delivered twice, skipped or reordered
 * fails the test. Public API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

enum {
    T_MS = 60000,
    PAYLOAD = 12,   /* connection, sequence number, filler */
    FRAME = PAYLOAD + 6,
    MAX_CONNS = 16,
};

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static const wsc_handler handler = {.message = on_message};

struct pipe_client {
    int port;
    unsigned id, rounds, msgs;
    atomic_int *failures;
};

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads msgs echoes and checks that echo i carries sequence number base + i. */
static bool read_echoes(wt_client *c, unsigned id, uint32_t base, unsigned msgs)
{
    for (unsigned i = 0; i < msgs; i++) {
        unsigned type = 0;
        uint8_t *d = NULL;
        size_t n = 0;
        int r = wt_read_message(c, &type, &d, &n, T_MS);
        if (r != 0) {
            fprintf(stderr, "  connection %u: echo %u of %u missing (%d)\n", id, i, msgs, r);
            return false;
        }
        bool ok = type == WT_OP_BIN && n == PAYLOAD && get32(d) == id && get32(d + 4) == base + i;
        if (!ok)
            fprintf(stderr, "  connection %u: echo %u is #%u of connection %u (%zu bytes)\n", id, i,
                    n >= 8 ? get32(d + 4) - base : 0u, n >= 4 ? get32(d) : 0u, n);
        free(d);
        if (!ok)
            return false;
    }
    return true;
}

static void *pipe_client_run(void *arg)
{
    struct pipe_client *pc = arg;
    wt_client c;
    uint8_t *batch = malloc((size_t)pc->msgs * FRAME);
    bool ok = batch && wt_open(&c, pc->port) == 0;
    uint32_t seq = 0;
    for (unsigned r = 0; ok && r < pc->rounds; r++) {
        size_t len = 0;
        for (unsigned i = 0; i < pc->msgs; i++) {
            uint8_t payload[PAYLOAD] = {0};
            uint8_t key[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)r, 0x5a};
            put32(payload, pc->id);
            put32(payload + 4, seq + i);
            put32(payload + 8, 0xabcdef01u);
            len += wt_masked_frame(batch + len, WT_OP_BIN, key, payload, PAYLOAD);
        }
        /* One write: the server reads the whole batch in a few reads. */
        ok = wt_send_raw(&c, batch, len, T_MS) == 0 && read_echoes(&c, pc->id, seq, pc->msgs);
        seq += pc->msgs;
    }
    if (!ok)
        atomic_fetch_add(pc->failures, 1);
    if (batch)
        wt_close(&c);
    free(batch);
    return NULL;
}

/* conns clients, each sending rounds batches of msgs messages, to a pool of threads threads. */
static void pipeline(unsigned threads, unsigned conns, unsigned rounds, unsigned msgs)
{
    wt_server s;
    wsc_server_config cfg;
    struct pipe_client pc[MAX_CONNS];
    pthread_t th[MAX_CONNS];
    atomic_int failures = 0;
    unsigned started = 0;

    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.worker_count = 1;
    cfg.thread_pool.count = threads;
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    for (; started < conns && started < MAX_CONNS; started++) {
        pc[started] = (struct pipe_client){s.port, started + 1, rounds, msgs, &failures};
        if (pthread_create(&th[started], NULL, pipe_client_run, &pc[started]) != 0)
            break;
    }
    EXPECT_EQ_INT(started, conns);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    EXPECT_EQ_INT(atomic_load(&failures), 0);
    EXPECT(wt_server_stop(&s, T_MS));
}

/* The configuration of the report: three clients pipelining 3,000 frames each to two threads. */
TEST(pipelined_echoes_exactly_once_in_order_two_threads) { pipeline(2, 3, 20, 3000); }

/* Many connections, more threads than CPUs: hand-offs and run-ahead on every connection at once. */
TEST(pipelined_echoes_exactly_once_in_order_many_connections) { pipeline(4, 16, 4, 2000); }

/* One thread: every hand-off waits for the one thread's batch. */
TEST(pipelined_echoes_exactly_once_in_order_one_thread) { pipeline(1, 4, 6, 3000); }


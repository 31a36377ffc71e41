/* Writes from many threads at once: 8 threads write to one connection (small and large frames,
 * while the client reads slowly so the queue fills and drains); every message arrives intact and
 * in per-thread order. Also the queue cap (close 1008 and WSC_EFULL for a peer that stops reading),
 * wsc_conn_buffered, writes after close, and retain/release. */
#include "../test.h"
#include "ws_test_client.h"

enum { WRITERS = 8, PER_WRITER = 300 };

static _Atomic(wsc_conn *) the_conn;
static atomic_int closed;

static int remember(wsc_conn *conn, void *user, void *app)
{
    (void)user, (void)app;
    wsc_conn_retain(conn);
    atomic_store(&the_conn, conn);
    return 0;
}

static int ignore(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)conn, (void)user, (void)msg;
    return 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&closed, 1);
}

static const wsc_handler handler = {.after_init = remember, .message = ignore, .close = on_close};

struct writer {
    pthread_t th;
    int id;
    int errors;
};

/* Message k of writer id: "w<id> <k> " then filler up to a size that varies (some frames exceed the
   worker's span limit and the socket buffer, so partial writes and the queue are exercised). */
static size_t make_msg(char *buf, int id, int k)
{
    int n = sprintf(buf, "w%d %d ", id, k);
    size_t size = (size_t)n + (k % 7 == 0 ? 40000u : (unsigned)(k * 13 % 200));
    for (size_t i = (size_t)n; i < size; i++)
        buf[i] = (char)('a' + (i + (size_t)k) % 26);
    return size;
}

static void *write_many(void *arg)
{
    struct writer *w = arg;
    char *buf = malloc(50000);
    wsc_conn *c = atomic_load(&the_conn);
    for (int k = 0; k < PER_WRITER; k++) {
        size_t n = make_msg(buf, w->id, k);
        if (wsc_conn_write_text(c, buf, n) != 0)
            w->errors++;
    }
    free(buf);
    return NULL;
}

/* The connection the server's init callback published, or NULL after timeout_ms. */
static wsc_conn *wait_conn(int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    while (!atomic_load(&the_conn) && wt_now_ms() < end)
        wt_sleep_ms(1);
    return atomic_load(&the_conn);
}

static void many_writers(wt_mode mode)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    atomic_store(&the_conn, NULL);
    atomic_store(&closed, 0);
    wt_config(&cfg, mode);
    cfg.max_buffered = 64 << 20;
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    CHECK(wt_open(&c, s.port) == 0);
    wsc_conn *conn = wait_conn(5000);
    CHECK(conn);
    struct writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i].id = i;
        w[i].errors = 0;
        pthread_create(&w[i].th, NULL, write_many, &w[i]);
    }
    /* Read slowly at first so the socket fills up and writes queue. */
    wt_sleep_ms(100);
    if (mode != WT_BLOCKING)
        wsc_conn_buffered(conn); /* any thread may ask */
    int next[WRITERS] = {0};
    char *want = malloc(50000);
    for (int got = 0; got < WRITERS * PER_WRITER && TEST_OK(); got++) {
        unsigned type;
        uint8_t *data;
        size_t len;
        int r = wt_read_message(&c, &type, &data, &len, 10000);
        if (r != 0) {
            fprintf(stderr, "  read failed (%d) after %d messages\n", r, got);
            EXPECT(r == 0);
            break;
        }
        int id = -1, k = -1;
        sscanf((const char *)data, "w%d %d ", &id, &k);
        EXPECT(id >= 0 && id < WRITERS);
        if (id >= 0 && id < WRITERS) {
            EXPECT_EQ_INT(k, next[id]); /* per-thread order */
            size_t n = make_msg(want, id, k);
            EXPECT(len == n && memcmp(data, want, n) == 0); /* intact */
            next[id] = k + 1;
        }
        free(data);
    }
    free(want);
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(w[i].th, NULL);
        EXPECT_EQ_INT(w[i].errors, 0);
    }
    EXPECT_EQ_INT(wsc_conn_buffered(conn), 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&closed, 1, 5000));
    /* Retained past its close callback: writes report the end. */
    EXPECT_EQ_INT(wsc_conn_write_text(conn, "late", 4), WSC_ECLOSED);
    EXPECT_EQ_INT(wsc_conn_close(conn, 1000, NULL), 0);
    wsc_conn_release(conn);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(eight_threads_write_to_one_connection)
{
    many_writers(WT_EPOLL_POOL);
    many_writers(WT_EPOLL_INLINE);
    many_writers(WT_BLOCKING);
}

TEST(queue_cap_closes_with_1008)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    atomic_store(&the_conn, NULL);
    atomic_store(&closed, 0);
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.max_buffered = 256 * 1024;
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    CHECK(wt_connect(&c, s.port) == 0);
    int rcvbuf = 4096;
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    CHECK(wt_handshake(&c, "/") == 101);
    wsc_conn *conn = wait_conn(5000);
    CHECK(conn);
    /* The client reads nothing: the socket fills, then the queue, then the cap. */
    static char block[16384];
    memset(block, 'q', sizeof block);
    int rc = 0;
    size_t seen_buffered = 0;
    for (int i = 0; i < 10000 && rc == 0; i++) {
        rc = wsc_conn_write_binary(conn, block, sizeof block);
        size_t b = wsc_conn_buffered(conn);
        if (b > seen_buffered)
            seen_buffered = b;
    }
    EXPECT_EQ_INT(rc, WSC_EFULL);
    EXPECT(seen_buffered > 0 && seen_buffered <= 256 * 1024 + sizeof block + 16);
    EXPECT_EQ_INT(wsc_conn_write_binary(conn, block, 1), WSC_ECLOSED);
    /* The connection ends by itself (the peer never reads the close frame): close runs once. */
    EXPECT(wt_wait_int(&closed, 1, 10000));
    wsc_conn_release(conn);
    wt_close(&c);
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&closed), 1);
}

static const wsc_framed hello = WSC_FRAME_TEXT("hello");

TEST(write_argument_checks)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    atomic_store(&the_conn, NULL);
    atomic_store(&closed, 0);
    wt_config(&cfg, WT_EPOLL_INLINE);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    CHECK(wt_open(&c, s.port) == 0);
    wsc_conn *conn = wait_conn(5000);
    CHECK(conn);
    char big[126] = {0};
    EXPECT_EQ_INT(wsc_conn_ping(conn, big, 126), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_conn_write(conn, WSC_CLOSE, "x", 1), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_conn_close(conn, 1005, NULL), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_conn_close(conn, 2999, NULL), WSC_EINVAL);
    char reason[130];
    memset(reason, 'r', sizeof reason);
    reason[124] = 0;
    EXPECT_EQ_INT(wsc_conn_close(conn, 1000, reason), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_conn_close(conn, 1000, "\xff"), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_conn_write_framed(conn, hello.data, hello.len), 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "hello", 5, 5000));
    EXPECT_EQ_INT(wsc_conn_ping(conn, "pi", 2), 0);
    wt_frame f;
    EXPECT(wt_read_frame(&c, &f, 5000) == 0);
    EXPECT(f.opcode == WT_OP_PING && f.len == 2);
    wt_frame_free(&f);
    EXPECT_EQ_INT(wsc_conn_close(conn, 4321, "done"), 0);
    EXPECT_EQ_INT(wsc_conn_close(conn, 1000, NULL), 0); /* a second call does nothing */
    EXPECT_EQ_INT(wsc_conn_write_text(conn, "after", 5), WSC_ECLOSED);
    EXPECT(wt_expect_close(&c, 5000) == 0);
    EXPECT_EQ_INT(c.close_code, 4321);
    EXPECT(strcmp(c.close_reason, "done") == 0);
    wt_send_close(&c, 4321, NULL);
    EXPECT(wt_wait_eof(&c, 5000) == 0);
    wt_close(&c);
    EXPECT(wt_wait_int(&closed, 1, 5000));
    wsc_conn_release(conn);
    EXPECT(wt_server_stop(&s, 10000));
}

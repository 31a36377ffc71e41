/* The client against wsc's own server, in this process, in its three shapes (epoll with a handler
 * pool, epoll with inline handlers, blocking thread-per-connection): echoes up to 16 MiB, server
 * pings, server close with code and reason, the server's size cap, read loops in many threads, and
 * a server stop while clients wait in their read loops. */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"

enum { MODE_POOL, MODE_INLINE, MODE_BLOCKING, MODES };
static const char *const mode_name[MODES] = {"pool", "inline", "blocking"};

static atomic_int server_closes;

/* Commands as in the Python peer: "!close CODE WHY", "!ping DATA", "!send SIZE"; else an echo. */
static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    if (msg->type == WSC_TEXT && msg->len > 1 && msg->data[0] == '!') {
        char cmd[160];
        snprintf(cmd, sizeof cmd, "%.*s", (int)msg->len, (const char *)msg->data);
        unsigned code;
        int at = 0;
        if (sscanf(cmd, "!close %u %n", &code, &at) == 1)
            return wsc_conn_close(conn, code, cmd + at);
        if (strncmp(cmd, "!ping ", 6) == 0)
            return wsc_conn_ping(conn, cmd + 6, strlen(cmd + 6));
        size_t n;
        if (sscanf(cmd, "!send %zu", &n) == 1) {
            uint8_t *b = malloc(n ? n : 1);
            if (!b)
                return -1;
            for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t)(i % 251);
            int rc = wsc_conn_write(conn, WSC_BINARY, b, n);
            free(b);
            return rc;
        }
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0 ? 0 : -1;
}

static int on_pong(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    (void)user;
    char b[140];
    int n = snprintf(b, sizeof b, "pong %.*s", (int)len, (const char *)data);
    return wsc_conn_write_text(conn, b, (size_t)n);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&server_closes, 1);
}

typedef struct {
    wsc_server *srv;
    pthread_t thread;
    int port;
} server;

static bool server_start(server *s, int mode)
{
    ct_watchdog(300);
    wsc_handler h = {.message = on_message, .client_pong = on_pong, .close = on_close};
    wsc_server_config cfg = {.port = WSC_PORT_EPHEMERAL,
                             .address = "127.0.0.1",
                             .max_message_size = 16u << 20,
                             .blocking = mode == MODE_BLOCKING};
    if (mode == MODE_INLINE)
        cfg.thread_pool.count = WSC_THREAD_POOL_INLINE;
    wsc_err err;
    s->srv = wsc_server_new(&h, &cfg, &err);
    if (!s->srv) {
        fprintf(stderr, "  server: %s\n", err.message);
        return false;
    }
    if (wsc_server_listen_thread(s->srv, NULL, &s->thread) != 0) {
        wsc_server_free(s->srv);
        return false;
    }
    s->port = wsc_server_port(s->srv);
    return true;
}

static void server_stop(server *s)
{
    wsc_server_stop(s->srv);
    pthread_join(s->thread, NULL);
    wsc_server_free(s->srv);
}

static wsc_client *connect_to(const server *s, size_t max_size)
{
    char url[64];
    wsc_err err;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", s->port);
    wsc_client_config cfg = {.max_size = max_size};
    wsc_client *c = wsc_client_connect_url(url, &cfg, NULL, &err);
    if (!c)
        fprintf(stderr, "  connect: %s\n", err.message);
    return c;
}

static int ask(wsc_client *c, const char *cmd, wsc_msg *m)
{
    int rc = wsc_client_write_copy(c, WSC_TEXT, cmd, strlen(cmd));
    return rc ? rc : wsc_client_read(c, m);
}

TEST(echo_sizes_in_every_mode)
{
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20};
    for (int mode = 0; mode < MODES && TEST_OK(); mode++) {
        server s;
        CHECK(server_start(&s, mode));
        wsc_client *c = connect_to(&s, 16u << 20);
        if (!c)
            server_stop(&s);
        CHECK(c);
        uint8_t *src = malloc(1 << 20), *work = malloc(1 << 20);
        for (size_t i = 0; i < 1 << 20; i++)
            src[i] = (uint8_t)(i * 31 + 7);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t n = sizes[k];
            wsc_msg m;
            memcpy(work, src, n);
            EXPECT_EQ_INT(wsc_client_write_binary(c, work, n), 0);
            EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
            EXPECT_EQ_INT(m.len, n);
            if (m.len == n)
                EXPECT_EQ_MEM(m.data, src, n);
            wsc_client_done(c, &m);
            EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "text", 4), 0);
            EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
            EXPECT_EQ_INT(m.type, WSC_TEXT);
            wsc_client_done(c, &m);
        }
        if (!TEST_OK())
            fprintf(stderr, "  mode %s\n", mode_name[mode]);
        free(src);
        free(work);
        EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
        wsc_client_free(c);
        server_stop(&s);
    }
}

TEST(sixteen_mib_both_ways)
{
    server s;
    CHECK(server_start(&s, MODE_POOL));
    wsc_client *c = connect_to(&s, 16u << 20);
    if (!c)
        server_stop(&s);
    CHECK(c);
    size_t n = 16u << 20;
    uint8_t *src = malloc(n);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i ^ (i >> 11));
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_BINARY, src, n), 0);
    EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.len, n);
    if (m.len == n)
        EXPECT_EQ_MEM(m.data, src, n);
    wsc_client_done(c, &m);
    EXPECT_EQ_INT(ask(c, "!send 16777216", &m), 0);
    EXPECT_EQ_INT(m.len, n);
    for (size_t i = 0; i < m.len; i++)
        if (m.data[i] != (uint8_t)(i % 251)) {
            EXPECT(m.data[i] == (uint8_t)(i % 251));
            break;
        }
    free(src);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
    server_stop(&s);
}

TEST(server_ping_close_and_cap)
{
    for (int mode = 0; mode < MODES && TEST_OK(); mode++) {
        server s;
        CHECK(server_start(&s, mode));
        wsc_client *c = connect_to(&s, 0);
        if (!c)
            server_stop(&s);
        CHECK(c);
        wsc_msg m;
        CHECK_EQ_INT(ask(c, "!ping hey", &m), 0);
        EXPECT_EQ_INT(m.type, WSC_PING);
        EXPECT_EQ_INT(m.len, 3);
        EXPECT_EQ_INT(wsc_client_write_pong(c, m.data, m.len), 0);
        EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_TEXT);
        EXPECT(m.len == 8 && memcmp(m.data, "pong hey", 8) == 0);
        /* The server's default pong answers ours. */
        char p[] = "ours";
        EXPECT_EQ_INT(wsc_client_write_ping(c, p, 4), 0);
        EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_PONG);
        EXPECT(m.len == 4 && memcmp(m.data, "ours", 4) == 0);
        CHECK_EQ_INT(ask(c, "!close 4321 see you", &m), 0);
        EXPECT_EQ_INT(m.type, WSC_CLOSE);
        EXPECT_EQ_INT(m.close_code, 4321);
        EXPECT(m.len == 7 && memcmp(m.data, "see you", 7) == 0);
        EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
        wsc_client_free(c);

        /* Over the server's max_message_size: it closes with 1009. */
        c = connect_to(&s, 0);
        CHECK(c);
        size_t big = (16u << 20) + 1;
        uint8_t *b = calloc(1, big);
        int rc = wsc_client_write_binary(c, b, big);
        free(b);
        EXPECT(rc == 0 || rc == WSC_EIO);
        rc = wsc_client_read(c, &m);
        EXPECT(rc == WSC_ECLOSED || (rc == 0 && m.type == WSC_CLOSE && m.close_code == 1009));
        wsc_client_free(c);
        if (!TEST_OK())
            fprintf(stderr, "  mode %s\n", mode_name[mode]);
        server_stop(&s);
    }
}

enum { LOOPERS = 50, PER_LOOPER = 20 };

struct looper {
    const server *s;
    int id;
    atomic_int got;
    atomic_int closes;
    int loop_rc;
    bool stop_mode; /* wait in the loop until the server stops */
};

static int loop_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    struct looper *l = user;
    int n = atomic_fetch_add(&l->got, 1) + 1;
    (void)msg;
    if (!l->stop_mode && n == PER_LOOPER)
        return wsc_client_close(c, 1000, NULL);
    return 0;
}

static void loop_close(wsc_client *c, void *user)
{
    (void)c;
    atomic_fetch_add(&((struct looper *)user)->closes, 1);
}

static void *looper_main(void *arg)
{
    struct looper *l = arg;
    wsc_client *c = connect_to(l->s, 0);
    if (!c) {
        l->loop_rc = -100;
        return NULL;
    }
    wsc_client_handler h = {.message = loop_message, .close = loop_close};
    pthread_t reader;
    if (wsc_client_read_loop_thread(c, &h, l, &reader) != 0) {
        wsc_client_free(c);
        l->loop_rc = -101;
        return NULL;
    }
    for (int i = 0; i < PER_LOOPER; i++) {
        char b[32];
        int n = snprintf(b, sizeof b, "%d/%d", l->id, i);
        if (wsc_client_write_text(c, b, (size_t)n) != 0)
            break;
    }
    pthread_join(reader, NULL);
    wsc_client_free(c);
    return NULL;
}

static void run_loopers(int mode, bool stop_mode)
{
    server s;
    CHECK(server_start(&s, mode));
    static struct looper ls[LOOPERS];
    pthread_t t[LOOPERS];
    for (int i = 0; i < LOOPERS; i++) {
        ls[i] = (struct looper){.s = &s, .id = i, .stop_mode = stop_mode};
        atomic_init(&ls[i].got, 0);
        atomic_init(&ls[i].closes, 0);
        pthread_create(&t[i], NULL, looper_main, &ls[i]);
    }
    if (stop_mode) {
        /* Stop once every client has its echoes: they wait in their loops for more. */
        int64_t until = ct_now_ms() + 60000;
        for (int i = 0; i < LOOPERS && ct_now_ms() < until; i++)
            while (atomic_load(&ls[i].got) < PER_LOOPER && ct_now_ms() < until)
                ct_sleep_ms(5);
        wsc_server_stop(s.srv);
    }
    for (int i = 0; i < LOOPERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < LOOPERS; i++) {
        EXPECT_EQ_INT(ls[i].loop_rc, 0);
        EXPECT_EQ_INT(atomic_load(&ls[i].got), PER_LOOPER);
        EXPECT_EQ_INT(atomic_load(&ls[i].closes), 1);
    }
    if (stop_mode) {
        pthread_join(s.thread, NULL);
        wsc_server_free(s.srv);
    } else {
        server_stop(&s);
    }
}

TEST(fifty_read_loops_close_themselves)
{
    for (int mode = 0; mode < MODES && TEST_OK(); mode++)
        run_loopers(mode, false);
}

TEST(server_stop_ends_every_read_loop)
{
    for (int mode = 0; mode < MODES && TEST_OK(); mode++)
        run_loopers(mode, true);
}

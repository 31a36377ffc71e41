/* Server integration under concurrency (also run under ThreadSanitizer): 1,000 connections echoing
 * at once, 8 threads writing to one connection (every message intact, per-thread order kept), stop
 * while 100 connections are busy (every close callback exactly once), and the outbound queue:
 * wsc_conn_buffered and the max_buffered cap against a client that stops reading (1008). Public
 * API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

enum { T_MS = 20000, SLOTS = 1100, BURST = 256 /* 64 KiB messages: 16 MiB */ };

struct app;

/* Per-connection data (the user pointer): counts its own close callbacks. */
struct cdata {
    struct app *app;
    atomic_int closes;
};

struct app {
    atomic_int inits, closes, nreg;
    struct cdata *reg[SLOTS];
    _Atomic(wsc_conn *) last_conn;
    atomic_int busy_ms; /* each message callback sleeps this long (a busy handler) */
    /* the flood handler's results */
    atomic_int flood_done, flood_ok, flood_rc;
    atomic_long flood_max_buffered, burst_buffered;
    atomic_int burst_done;
};

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *appv, void **user)
{
    struct app *app = appv;
    (void)hs;
    (void)conn;
    int k = atomic_fetch_add(&app->nreg, 1);
    if (k >= SLOTS)
        return 503;
    struct cdata *cd = calloc(1, sizeof *cd);
    if (!cd)
        return 500;
    cd->app = app;
    app->reg[k] = cd;
    atomic_fetch_add(&app->inits, 1);
    *user = cd;
    return 0;
}

static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)user;
    atomic_store(&((struct app *)app)->last_conn, conn);
    return 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    struct cdata *cd = user;
    (void)conn;
    atomic_fetch_add(&cd->closes, 1);
    atomic_fetch_add(&cd->app->closes, 1);
}

/* Every registered connection had exactly one close callback; frees the registry. */
static bool each_closed_once(struct app *app)
{
    bool ok = true;
    int n = atomic_load(&app->nreg);
    for (int i = 0; i < n && i < SLOTS; i++) {
        if (!app->reg[i])
            continue;
        int k = atomic_load(&app->reg[i]->closes);
        if (k != 1) {
            if (ok)
                fprintf(stderr, "  connection %d had %d close callbacks\n", i, k);
            ok = false;
        }
        free(app->reg[i]);
        app->reg[i] = NULL;
    }
    return ok;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct app *app = ((struct cdata *)user)->app;
    int busy = atomic_load(&app->busy_ms);
    if (busy)
        wt_sleep_ms(busy);
    if (msg->len == 5 && memcmp(msg->data, "flood", 5) == 0) {
        static uint8_t chunk[16384];
        int ok = 0, rc = 0;
        long maxb = 0;
        /* 32 MiB: more than the socket buffers of both ends take, so the queue must fill. */
        for (int i = 0; i < 2000; i++) {
            rc = wsc_conn_write_binary(conn, chunk, sizeof chunk);
            long b = (long)wsc_conn_buffered(conn);
            if (b > maxb)
                maxb = b;
            if (rc != 0)
                break;
            ok++;
        }
        atomic_store(&app->flood_ok, ok);
        atomic_store(&app->flood_rc, rc);
        atomic_store(&app->flood_max_buffered, maxb);
        atomic_store(&app->flood_done, 1);
        return 0;
    }
    if (msg->len == 5 && memcmp(msg->data, "burst", 5) == 0) {
        static uint8_t chunk[65536];
        for (int i = 0; i < BURST; i++)
            if (wsc_conn_write_binary(conn, chunk, sizeof chunk) != 0)
                return 1;
        atomic_store(&app->burst_buffered, (long)wsc_conn_buffered(conn));
        atomic_store(&app->burst_done, 1);
        return 0;
    }
    if (msg->len == 9 && memcmp(msg->data, "buffered?", 9) == 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%zu", wsc_conn_buffered(conn));
        return wsc_conn_write_text(conn, buf, strlen(buf));
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static const wsc_handler handler = {
    .init = on_init, .after_init = on_after_init, .message = on_message, .close = on_close};

static struct app app_;

static bool start(wt_server *s, wt_mode mode, void (*tweak)(wsc_server_config *))
{
    wsc_server_config cfg;
    memset(&app_, 0, sizeof app_);
    wt_config(&cfg, mode);
    if (tweak)
        tweak(&cfg);
    return wt_server_start(s, &handler, &cfg, &app_);
}

static void finish(wt_server *s, wt_mode mode)
{
    if (!wt_wait_int(&app_.closes, atomic_load(&app_.inits), T_MS)) {
        fprintf(stderr, "  %d connections, %d close callbacks\n", atomic_load(&app_.inits),
                atomic_load(&app_.closes));
        EXPECT(0);
    }
    EXPECT(wt_server_stop(s, T_MS));
    EXPECT_EQ_INT(atomic_load(&app_.closes), atomic_load(&app_.inits));
    EXPECT(each_closed_once(&app_));
    if (!TEST_OK())
        fprintf(stderr, "  (mode %s)\n", wt_mode_name(mode));
}

/* ---- many connections ---------------------------------------------------------------------------- */

static void many_connections(wt_mode mode, int n)
{
    wt_server s;
    wt_client *c = calloc((size_t)n, sizeof *c);
    int opened = 0;
    char msg[64];

    CHECK(c != NULL);
    if (!start(&s, mode, NULL)) {
        free(c);
        CHECK(0);
    }
    /* Connect and send every request before reading any answer: all are in flight at once. */
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: " WT_KEY "\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    for (int i = 0; i < n; i++) {
        if (wt_connect(&c[i], s.port) != 0) {
            fprintf(stderr, "  connect %d failed: %s\n", i, strerror(errno));
            break;
        }
        opened++;
        if (wt_send_str(&c[i], req, T_MS) != 0)
            break;
    }
    EXPECT_EQ_INT(opened, n);
    int upgraded = 0;
    for (int i = 0; i < opened; i++)
        if (wt_read_head(&c[i], T_MS, NULL, 0) == 101)
            upgraded++;
    EXPECT_EQ_INT(upgraded, opened);
    for (int i = 0; i < opened && TEST_OK(); i++) {
        int l = snprintf(msg, sizeof msg, "message from connection %d", i);
        EXPECT(wt_send_frame(&c[i], true, WT_OP_TEXT, msg, (size_t)l) == 0);
    }
    int echoed = 0;
    for (int i = 0; i < opened && TEST_OK(); i++) {
        int l = snprintf(msg, sizeof msg, "message from connection %d", i);
        if (wt_expect_message(&c[i], WT_OP_TEXT, msg, (size_t)l, T_MS))
            echoed++;
    }
    EXPECT_EQ_INT(echoed, opened);
    /* A second round, interleaved: each sends, then every echo is read. */
    for (int i = 0; i < opened && TEST_OK(); i++)
        EXPECT(wt_send_frame(&c[i], true, WT_OP_BIN, &i, sizeof i) == 0);
    for (int i = 0; i < opened && TEST_OK(); i++)
        EXPECT(wt_expect_message(&c[i], WT_OP_BIN, &i, sizeof i, T_MS));
    for (int i = 0; i < opened; i++)
        wt_close(&c[i]);
    free(c);
    finish(&s, mode);
}

TEST(thousand_connections_epoll_pool) { many_connections(WT_EPOLL_POOL, 1000); }
TEST(thousand_connections_epoll_inline) { many_connections(WT_EPOLL_INLINE, 1000); }
/* Thread per connection: fewer, to stay gentle on small machines (and TSan's thread limits). */
TEST(two_hundred_connections_blocking) { many_connections(WT_BLOCKING, 200); }

/* ---- 8 threads writing to one connection ----------------------------------------------------------- */

enum { WRITERS = 8, PER_WRITER = 150 };

struct writer_arg {
    wsc_conn *conn;
    int id;
    int failures;
};

static size_t msg_len(int id, int seq)
{
    /* Mostly small, some over the 16-bit length, one in 25 large enough to fill the socket. */
    if (seq % 25 == 24)
        return 100000 + (size_t)id * 1000;
    return 16 + (size_t)((seq * 131 + id * 17) % 3000);
}

static void msg_fill(uint8_t *p, size_t len, int id, int seq)
{
    int h = snprintf((char *)p, len, "%d %d ", id, seq);
    for (size_t i = (size_t)h; i < len; i++)
        p[i] = (uint8_t)('a' + (id * 7 + seq + (int)i) % 26);
}

static void *writer_run(void *argv)
{
    struct writer_arg *a = argv;
    uint8_t *buf = malloc(200000);
    if (!buf) {
        a->failures++;
        return NULL;
    }
    for (int seq = 0; seq < PER_WRITER; seq++) {
        size_t len = msg_len(a->id, seq);
        msg_fill(buf, len, a->id, seq);
        int rc = a->id % 2 ? wsc_conn_write_text(a->conn, (const char *)buf, len)
                           : wsc_conn_write(a->conn, WSC_TEXT, buf, len);
        if (rc != 0)
            a->failures++;
        if (a->id == 0 && seq % 30 == 0 && wsc_conn_ping(a->conn, "hb", 2) != 0)
            a->failures++;
    }
    free(buf);
    return NULL;
}

static void big_queue(wsc_server_config *cfg);

static void eight_writers(wt_mode mode)
{
    wt_server s;
    wt_client c;
    pthread_t th[WRITERS];
    struct writer_arg args[WRITERS];
    int next_seq[WRITERS] = {0};
    uint8_t *want = malloc(200000);

    CHECK(want != NULL);
    if (!start(&s, mode, big_queue) || wt_open(&c, s.port) != 0) {
        free(want);
        wt_server_stop(&s, T_MS);
        CHECK(0);
    }
    wsc_conn *conn = NULL;
    for (int i = 0; i < 1000 && !(conn = atomic_load(&app_.last_conn)); i++)
        wt_sleep_ms(5);
    if (!conn) {
        fprintf(stderr, "  after_init never ran\n");
        EXPECT(0);
    } else {
        wsc_conn_retain(conn);
        for (int i = 0; i < WRITERS; i++) {
            args[i] = (struct writer_arg){conn, i, 0};
            pthread_create(&th[i], NULL, writer_run, &args[i]);
        }
        int got = 0;
        for (; got < WRITERS * PER_WRITER && TEST_OK(); got++) {
            unsigned type;
            uint8_t *d;
            size_t n;
            int r = wt_read_message(&c, &type, &d, &n, T_MS);
            if (r != 0) {
                fprintf(stderr, "  message %d: read failed (%d, close code %u)\n", got, r,
                        c.close_code);
                EXPECT(0);
                break;
            }
            int id = -1, seq = -1;
            sscanf((const char *)d, "%d %d ", &id, &seq);
            if (id < 0 || id >= WRITERS || seq != next_seq[id]) {
                fprintf(stderr, "  message %d: writer %d seq %d, expected seq %d\n", got, id, seq,
                        id >= 0 && id < WRITERS ? next_seq[id] : -1);
                EXPECT(0);
            } else {
                size_t len = msg_len(id, seq);
                msg_fill(want, len, id, seq);
                if (type != WT_OP_TEXT || n != len || memcmp(d, want, len) != 0) {
                    fprintf(stderr, "  writer %d seq %d: corrupted (%zu bytes, expected %zu)\n", id,
                            seq, n, len);
                    EXPECT(0);
                }
                next_seq[id]++;
            }
            free(d);
        }
        for (int i = 0; i < WRITERS; i++) {
            pthread_join(th[i], NULL);
            EXPECT_EQ_INT(args[i].failures, 0);
        }
        EXPECT_EQ_INT(got, WRITERS * PER_WRITER);
        EXPECT_EQ_INT(c.pings_seen, PER_WRITER / 30);
        wsc_conn_release(conn);
    }
    free(want);
    wt_close(&c);
    finish(&s, mode);
}

TEST(eight_threads_write_one_connection_epoll_pool) { eight_writers(WT_EPOLL_POOL); }
TEST(eight_threads_write_one_connection_epoll_inline) { eight_writers(WT_EPOLL_INLINE); }
TEST(eight_threads_write_one_connection_blocking) { eight_writers(WT_BLOCKING); }

/* ---- stop while busy ---------------------------------------------------------------------------------- */

static void stop_busy(wt_mode mode)
{
    enum { N = 100, MSGS = 20 };
    wt_server s;
    wt_client *c = calloc(N, sizeof *c);
    uint8_t payload[1024];

    CHECK(c != NULL);
    if (!start(&s, mode, NULL)) {
        free(c);
        CHECK(0);
    }
    atomic_store(&app_.busy_ms, 1);
    int opened = 0;
    for (int i = 0; i < N; i++) {
        if (wt_open(&c[i], s.port) != 0)
            break;
        opened++;
    }
    EXPECT_EQ_INT(opened, N);
    wt_fill_bytes(payload, sizeof payload, 4);
    /* Every connection has messages queued and a handler running when stop comes. */
    for (int k = 0; k < MSGS; k++)
        for (int i = 0; i < opened; i++)
            wt_send_frame(&c[i], true, WT_OP_BIN, payload, sizeof payload);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += T_MS / 1000;
    wsc_server_stop(s.srv);
    wsc_server_stop(s.srv); /* twice: harmless */
    if (pthread_timedjoin_np(s.th, NULL, &ts) != 0) {
        fprintf(stderr, "  listen did not return after stop with busy connections\n");
        EXPECT(0);
        free(c);
        return; /* leaked: the server is still running */
    }
    s.running = false;
    /* listen returned: every close callback has run, exactly once. */
    EXPECT_EQ_INT(atomic_load(&app_.inits), opened);
    EXPECT_EQ_INT(atomic_load(&app_.closes), opened);
    /* Clients see the end: a close frame, if any, says 1001 (going away). */
    int eofs = 0, bad_codes = 0;
    for (int i = 0; i < opened; i++) {
        for (;;) {
            wt_frame f;
            int r = wt_read_frame(&c[i], &f, T_MS);
            if (r == 0 && f.opcode == WT_OP_CLOSE) {
                wt_note_close(&c[i], &f);
                if (c[i].close_code != 1001)
                    bad_codes++;
            }
            wt_frame_free(&f);
            if (r == WT_EOF) {
                eofs++;
                break;
            }
            if (r != 0)
                break;
        }
        wt_close(&c[i]);
    }
    EXPECT_EQ_INT(eofs, opened);
    EXPECT_EQ_INT(bad_codes, 0);
    free(c);
    wsc_server_free(s.srv);
    s.srv = NULL;
    EXPECT(each_closed_once(&app_));
    if (!TEST_OK())
        fprintf(stderr, "  (mode %s)\n", wt_mode_name(mode));
}

TEST(stop_with_100_busy_connections_epoll_pool) { stop_busy(WT_EPOLL_POOL); }
TEST(stop_with_100_busy_connections_epoll_inline) { stop_busy(WT_EPOLL_INLINE); }
TEST(stop_with_100_busy_connections_blocking) { stop_busy(WT_BLOCKING); }

/* ---- the outbound queue --------------------------------------------------------------------------- */

/* A queue that may hold everything a test writes (the 8 writers' 7 MB; a 16 MiB burst). */
static void big_queue(wsc_server_config *cfg)
{
    cfg->max_buffered = 64u << 20;
}

static void small_cap(wsc_server_config *cfg)
{
    cfg->max_buffered = 256 * 1024;
}

static void flood(wt_mode mode)
{
    wt_server s;
    wt_client c;

    if (!start(&s, mode, small_cap))
        CHECK(0);
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
    /* Ask for a flood and stop reading: the queue must hit the cap instead of growing, and the
     * handler's writes must return (EFULL) instead of blocking on the peer. */
    EXPECT(wt_send_text(&c, "flood") == 0);
    if (!wt_wait_int(&app_.flood_done, 1, T_MS)) {
        fprintf(stderr, "  the handler's writes did not return within %d ms while the peer did not "
                        "read (no max_buffered cap)\n", T_MS);
        EXPECT(0);
        wt_reset(&c); /* unblocks a write stuck on the socket */
        EXPECT(wt_wait_int(&app_.flood_done, 1, T_MS));
        finish(&s, mode);
        return;
    }
    EXPECT_EQ_INT(atomic_load(&app_.flood_rc), WSC_EFULL);
    EXPECT(atomic_load(&app_.flood_ok) < 2000);
    long maxb = atomic_load(&app_.flood_max_buffered);
    EXPECT(maxb > 0);
    EXPECT(maxb <= 256 * 1024 + 16384 + 14);
    /* The connection ends: with 1008 if a close frame gets through, and the TCP connection closes. */
    int frames = 0, r;
    for (;;) {
        wt_frame f;
        r = wt_read_frame(&c, &f, T_MS);
        if (r == 0 && f.opcode == WT_OP_CLOSE) {
            wt_note_close(&c, &f);
            EXPECT_EQ_INT(c.close_code, 1008);
        }
        wt_frame_free(&f);
        if (r != 0)
            break;
        frames++;
    }
    EXPECT_EQ_INT(r, WT_EOF);
    /* Every write that was accepted arrives whole, then the close frame: nothing of the refused
       one, nothing lost. */
    EXPECT_EQ_INT(frames, atomic_load(&app_.flood_ok) + 1);
    wt_close(&c);
    EXPECT(wt_wait_int(&app_.closes, 1, T_MS));
    finish(&s, mode);
}

TEST(max_buffered_cap_closes_1008_epoll_pool) { flood(WT_EPOLL_POOL); }
TEST(max_buffered_cap_closes_1008_epoll_inline) { flood(WT_EPOLL_INLINE); }
TEST(max_buffered_cap_closes_1008_blocking) { flood(WT_BLOCKING); }

static void buffered_drains(wt_mode mode)
{
    wt_server s;
    wt_client c;
    static uint8_t zeros[65536];

    /* 16 MiB at once, more than the socket buffers take, under a raised cap: the rest is queued,
     * wsc_conn_buffered says how much, and it drains to 0 as the client reads. */
    if (!start(&s, mode, big_queue))
        CHECK(0);
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/"), 101);
    EXPECT(wt_send_text(&c, "burst") == 0);
    /* Blocking mode writes through (nothing is queued): its writes return only as we read. */
    if (mode != WT_BLOCKING)
        EXPECT(wt_wait_int(&app_.burst_done, 1, T_MS));
    long queued = atomic_load(&app_.burst_buffered);
    if (mode != WT_BLOCKING)
        EXPECT(queued > 0);
    EXPECT(queued <= (long)BURST * (65536 + 10));
    for (int i = 0; i < BURST && TEST_OK(); i++)
        EXPECT(wt_expect_message(&c, WT_OP_BIN, zeros, sizeof zeros, T_MS));
    EXPECT(wt_send_text(&c, "buffered?") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "0", 1, T_MS));
    wt_close(&c);
    finish(&s, mode);
}

TEST(buffered_reports_queue_and_drains_epoll_pool) { buffered_drains(WT_EPOLL_POOL); }
TEST(buffered_reports_queue_and_drains_blocking) { buffered_drains(WT_BLOCKING); }

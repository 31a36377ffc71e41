/* The server's idle timeout and heartbeat (idle_timeout, no_idle_ping), in the three modes: a peer
 * that stalls in the middle of a frame is pinged, then closed with 1001, then dropped; a peer that
 * answers the pings is kept; without the ping only the close comes; with the timeout off nothing
 * comes; a callback that outlasts the timeout does not count as silence; and many stalled peers are
 * all released.
 *
 * Timeouts are small (1 to 6 s) and every wait for what must come is generous (20 s or more). The
 * only bounds checked the other way are the ones the design guarantees: nothing comes early (the
 * coarse clock's few milliseconds aside). Each scenario runs the three modes at once, one thread
 * each, to keep the program short; a thread records its first failure and the test reports it. */
#include <sys/resource.h>

#include "../test.h"
#include "ws_test_client.h"

enum {
    WAIT_MS = 20000, /* for what must come */
    EARLY_MS = 100,  /* how far the coarse clock may be behind ours */
};

/* ---- the server's side ---- */

typedef struct {
    atomic_int opened, closes, msgs;
} app_state;

static int init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs, (void)conn;
    atomic_fetch_add(&((app_state *)app)->opened, 1);
    *user = app;
    return 0;
}

enum { SLEEP_MS = 5000 };

/* Echoes; "sleep" first sleeps longer than the idle timeouts used here. */
static int message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    atomic_fetch_add(&((app_state *)user)->msgs, 1);
    if (msg->len == 5 && memcmp(msg->data, "sleep", 5) == 0)
        wt_sleep_ms(SLEEP_MS);
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0 ? 0 : -1;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    atomic_fetch_add(&((app_state *)user)->closes, 1);
}

static const wsc_handler handler = {.init = init, .message = message, .close = on_close};

/* ---- one mode's run, in a thread of its own ---- */

typedef struct run {
    wt_mode mode;
    void (*fn)(struct run *r);
    const char *fail; /* the first failed check, NULL when all passed */
    int line;
} run;

#define R_EXPECT(r, cond)                                                                          \
    do {                                                                                           \
        if (!(cond) && !(r)->fail) {                                                               \
            (r)->fail = #cond;                                                                     \
            (r)->line = __LINE__;                                                                  \
        }                                                                                          \
    } while (0)

#define R_CHECK(r, cond)                                                                           \
    do {                                                                                           \
        R_EXPECT(r, cond);                                                                         \
        if ((r)->fail)                                                                             \
            return;                                                                                \
    } while (0)

static void *run_main(void *arg)
{
    run *r = arg;
    r->fn(r);
    return NULL;
}

/* Runs fn for the three modes, at once (parallel) or one after the other, and reports failures. */
static void run_modes(void (*fn)(run *r), bool parallel)
{
    run r[WT_MODES];
    pthread_t th[WT_MODES];
    for (int m = 0; m < WT_MODES; m++) {
        r[m] = (run){.mode = (wt_mode)m, .fn = fn};
        if (!parallel)
            run_main(&r[m]);
        else if (pthread_create(&th[m], NULL, run_main, &r[m]) != 0)
            r[m].fail = "pthread_create";
    }
    for (int m = 0; parallel && m < WT_MODES; m++)
        if (!r[m].fail || strcmp(r[m].fail, "pthread_create") != 0)
            pthread_join(th[m], NULL);
    for (int m = 0; m < WT_MODES; m++) {
        if (r[m].fail) {
            fprintf(stderr, "  mode %s:\n", wt_mode_name(r[m].mode));
            test_fail_(__FILE__, r[m].line, r[m].fail);
        }
    }
}

static bool start(run *r, wt_server *s, app_state *a, int idle_timeout, bool no_ping)
{
    wsc_server_config cfg;
    wt_config(&cfg, r->mode);
    cfg.idle_timeout = idle_timeout;
    cfg.no_idle_ping = no_ping;
    memset(a, 0, sizeof *a);
    return wt_server_start(s, &handler, &cfg, a);
}

/* start, then one client upgraded; *t0 is taken before the upgrade, so it is no later than the
   moment the server's idle timer starts. */
static bool start_open(run *r, wt_server *s, app_state *a, wt_client *c, int idle_timeout,
                       bool no_ping, int64_t *t0)
{
    if (!start(r, s, a, idle_timeout, no_ping))
        return false;
    *t0 = wt_now_ms();
    return wt_open(c, s->port) == 0;
}

/* Reads the next frame and returns its opcode (the payload is dropped; a close frame's code is in
   c->close_code), or a negative WT_* on timeout or EOF. */
static int next_op(wt_client *c, int timeout_ms)
{
    wt_frame f;
    int rc = wt_read_frame(c, &f, timeout_ms);
    if (rc == 0) {
        rc = (int)f.opcode;
        if (f.opcode == WT_OP_CLOSE)
            wt_note_close(c, &f);
    }
    wt_frame_free(&f);
    return rc;
}

/* 9 bytes: the header of a masked 100-byte binary frame and 3 bytes of its payload. */
static int send_nine_bytes(wt_client *c)
{
    static const uint8_t key[4] = {1, 2, 3, 4};
    uint8_t f[9];
    size_t n = wt_header(f, true, 0, WT_OP_BIN, key, 100);
    memcpy(f + n, "abc", 3);
    return wt_send_raw(c, f, n + 3, 5000);
}

/* How every scenario ends: the next frame is close 1001, no earlier than min_ms after since; then
   (whether the peer answers the close or not) the server ends the TCP connection, the close
   callback runs once, and the server stops. */
static void expect_idle_close(run *r, wt_client *c, wt_server *s, app_state *a, int64_t since,
                              int min_ms, bool answer)
{
    R_EXPECT(r, next_op(c, WAIT_MS) == WT_OP_CLOSE);
    R_EXPECT(r, wt_now_ms() - since >= min_ms - EARLY_MS);
    R_EXPECT(r, c->close_code == WSC_CLOSE_GOING_AWAY);
    if (answer)
        R_EXPECT(r, wt_send_close(c, WSC_CLOSE_GOING_AWAY, NULL) == 0);
    R_EXPECT(r, wt_wait_eof(c, WAIT_MS) == 0);
    R_EXPECT(r, wt_wait_int(&a->closes, 1, WAIT_MS));
    wt_close(c);
    R_EXPECT(r, wt_server_stop(s, WAIT_MS));
    R_EXPECT(r, atomic_load(&a->closes) == 1);
}

/* The peer: 9 bytes of a frame, then nothing. It gets a ping (not before half the timeout),
   then close 1001 (not before the whole of it), and, answering neither, is dropped; the close
   callback runs once. */
static void stalled_frame(run *r)
{
    enum { T = 2 };
    app_state a;
    wt_server s;
    wt_client c;
    int64_t t0;
    R_CHECK(r, start_open(r, &s, &a, &c, T, false, &t0));
    t0 = wt_now_ms(); /* no later than the server last heard from the peer */
    R_CHECK(r, send_nine_bytes(&c) == 0);
    R_EXPECT(r, next_op(&c, WAIT_MS) == WT_OP_PING);
    R_EXPECT(r, wt_now_ms() - t0 >= T * 1000 / 2 - EARLY_MS);
    expect_idle_close(r, &c, &s, &a, t0, T * 1000, false);
}

TEST(peer_stalled_mid_frame_is_pinged_closed_1001_and_dropped)
{
    run_modes(stalled_frame, true);
}

/* A silent peer that answers every ping stays; once it stops answering it is closed. */
static void pong_keeps_alive(run *r)
{
    /* The peer has to answer within the half that follows the ping: at least 2 s here, which a
       test thread under load still manages. */
    enum { T = 6, ROUNDS = 2 };
    app_state a;
    wt_server s;
    wt_client c;
    /* `last`, taken before each send, is never later than when the server heard it. */
    int64_t last;
    R_CHECK(r, start_open(r, &s, &a, &c, T, false, &last));
    for (int i = 0; i < ROUNDS; i++) {
        R_CHECK(r, next_op(&c, WAIT_MS) == WT_OP_PING);
        R_EXPECT(r, wt_now_ms() - last >= T * 1000 / 2 - EARLY_MS);
        last = wt_now_ms();
        R_CHECK(r, wt_send_frame(&c, true, WT_OP_PONG, NULL, 0) == 0);
    }
    /* Still open: an echo comes back (and restarts the silence). */
    last = wt_now_ms();
    R_CHECK(r, wt_send_text(&c, "still here") == 0);
    R_CHECK(r, wt_expect_message(&c, WT_OP_TEXT, "still here", 10, WAIT_MS));
    R_EXPECT(r, next_op(&c, WAIT_MS) == WT_OP_PING); /* not answered */
    expect_idle_close(r, &c, &s, &a, last, T * 1000, true);
}

TEST(peer_answering_pings_is_kept_until_it_stops)
{
    run_modes(pong_keeps_alive, true);
}

/* no_idle_ping: the close comes with no ping before it. */
static void no_ping(run *r)
{
    enum { T = 1 };
    app_state a;
    wt_server s;
    wt_client c;
    int64_t t0;
    R_CHECK(r, start_open(r, &s, &a, &c, T, true, &t0));
    expect_idle_close(r, &c, &s, &a, t0, T * 1000, true);
}

TEST(no_idle_ping_closes_without_a_ping)
{
    run_modes(no_ping, true);
}

/* WSC_TIMEOUT_OFF: a silent connection gets nothing, here for 3 s (a timeout of 1 s would have
   pinged and closed it by then), and still echoes. */
static void timeout_off(run *r)
{
    app_state a;
    wt_server s;
    wt_client c;
    int64_t t0;
    R_CHECK(r, start_open(r, &s, &a, &c, WSC_TIMEOUT_OFF, false, &t0));
    R_CHECK(r, send_nine_bytes(&c) == 0);
    R_EXPECT(r, next_op(&c, 3000) == WT_TIMEOUT);
    uint8_t rest[97];
    memset(rest, 'x', sizeof rest); /* the frame's payload goes on where it stopped */
    R_CHECK(r, wt_send_raw(&c, rest, sizeof rest, 5000) == 0);
    unsigned type = 0;
    uint8_t *data = NULL;
    size_t len = 0;
    R_EXPECT(r, wt_read_message(&c, &type, &data, &len, WAIT_MS) == 0);
    R_EXPECT(r, type == WT_OP_BIN && len == 100);
    free(data);
    R_EXPECT(r, atomic_load(&a.closes) == 0);
    wt_close(&c); /* a FIN with no close frame: the server ends it at once */
    R_EXPECT(r, wt_wait_int(&a.closes, 1, WAIT_MS));
    R_EXPECT(r, wt_server_stop(&s, WAIT_MS));
}

TEST(idle_timeout_off_keeps_a_silent_connection)
{
    run_modes(timeout_off, true);
}

/* A callback that runs longer than the timeout is not the peer's silence: its echo comes back
   before any close (a ping may come first if this thread was slow to send), and the silence that
   ends in the close counts from the callback's end. */
static void slow_callback(run *r)
{
    enum { T = 4 };
    app_state a;
    wt_server s;
    wt_client c;
    int64_t t0;
    R_CHECK(r, start_open(r, &s, &a, &c, T, false, &t0));
    t0 = wt_now_ms();
    R_CHECK(r, wt_send_text(&c, "sleep") == 0);
    int op;
    while ((op = next_op(&c, WAIT_MS)) == WT_OP_PING) {
    }
    R_EXPECT(r, op == WT_OP_TEXT);
    R_EXPECT(r, next_op(&c, WAIT_MS) == WT_OP_PING);
    expect_idle_close(r, &c, &s, &a, t0, SLEEP_MS + T * 1000, true);
}

TEST(a_callback_longer_than_the_timeout_is_not_silence)
{
    run_modes(slow_callback, true);
}

/* Many stalled peers (the 1,500, bounded here): every one is released after the timeout,
   its close callback run, with the peers answering nothing. */
enum { NSTALLED = 200 };

static void many_stalled(run *r)
{
    enum { T = 1 };
    static wt_client cs[WT_MODES][NSTALLED];
    wt_client *c = cs[r->mode];
    app_state a;
    wt_server s;
    R_CHECK(r, start(r, &s, &a, T, false));
    int opened = 0;
    for (; opened < NSTALLED; opened++) {
        if (wt_open(&c[opened], s.port) != 0 || send_nine_bytes(&c[opened]) != 0)
            break;
    }
    R_EXPECT(r, opened == NSTALLED);
    R_EXPECT(r, wt_wait_int(&a.closes, opened, 60000));
    R_EXPECT(r, atomic_load(&a.opened) == opened);
    for (int i = 0; i < opened; i++) {
        R_EXPECT(r, wt_wait_eof(&c[i], WAIT_MS) == 0);
        wt_close(&c[i]);
    }
    R_EXPECT(r, wt_server_stop(&s, WAIT_MS));
}

TEST(many_stalled_peers_are_all_released)
{
    /* Three modes at once take about 9 descriptors a peer (both ends, a thread's wake-up in
       blocking mode, headroom): one after the other when the limit is lower. */
    struct rlimit rl;
    bool parallel = false;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)NSTALLED * 9 + 256;
        if (rl.rlim_cur < want && rl.rlim_max >= want) {
            rl.rlim_cur = want;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        parallel = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want;
    }
    run_modes(many_stalled, parallel);
}

TEST(idle_timeout_config)
{
    wsc_server_config cfg;
    wsc_err err;
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.idle_timeout = -2;
    wsc_server *srv = wsc_server_new(&handler, &cfg, &err);
    EXPECT(srv == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    EXPECT(strstr(err.message, "idle_timeout") != NULL);
    wsc_server_free(srv);
    cfg.idle_timeout = WSC_TIMEOUT_OFF;
    srv = wsc_server_new(&handler, &cfg, &err);
    EXPECT(srv != NULL);
    wsc_server_free(srv);
}

/* The client's idle timeout (wsc_client_config.idle_timeout, no_idle_ping) against a scripted server
 * that goes silent after the upgrade: the read pings it at half the timeout, closes with 1001 at the
 * whole of it and returns WSC_EIDLE; a pong keeps the connection; a read loop ends with WSC_EIDLE;
 * short read timeouts do not reset the idle timer; with the timeout off nothing is sent.
 *
 * The scripted server runs in a thread and writes down what it received; the test reads that after
 * joining it. Waits for what must happen are generous; the only other bound checked is that nothing
 * comes early, which the client's millisecond clock guarantees. */
#include <pthread.h>
#include <stdatomic.h>

#include "../test.h"
#include "client_test_util.h"

enum { WAIT_MS = 20000, EARLY_MS = 20 };

typedef struct {
    int ls, port;
    int answer_pings;  /* pings answered with a pong; later ones are not */
    bool answer_close; /* echo the client's close frame */
    /* what happened, for the test to read after the join */
    int64_t t_open, t_ping[4], t_close;
    int pings, others;
    unsigned close_code; /* 0: no close frame */
    bool eof;            /* the client ended the TCP connection after its close */
} script;

/* Waits for the end of the stream (the client closing), discarding bytes. */
static bool wait_eof(int fd, int timeout_ms)
{
    int64_t end = ct_now_ms() + timeout_ms;
    char buf[256];
    for (;;) {
        int64_t left = end - ct_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return false;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return true;
    }
}

static void *serve(void *arg)
{
    script *s = arg;
    int fd = ct_accept(s->ls, WAIT_MS);
    if (fd < 0)
        return NULL;
    char head[4096], resp[512];
    ct_read_head(fd, head, sizeof head, WAIT_MS);
    size_t n = ct_build_101(head, NULL, resp, sizeof resp);
    s->t_open = ct_now_ms();
    if (n && ct_write_all(fd, resp, n)) {
        for (;;) {
            uint8_t p[128];
            size_t len = 0;
            bool masked = false;
            int op = ct_read_frame(fd, p, sizeof p, &len, &masked, WAIT_MS);
            if (op < 0)
                break;
            if (op == 9) {
                if (s->pings < 4)
                    s->t_ping[s->pings] = ct_now_ms();
                if (++s->pings <= s->answer_pings && !ct_write_all(fd, "\x8a\x00", 2))
                    break;
                continue;
            }
            if (op != 8) {
                s->others++;
                continue;
            }
            s->t_close = ct_now_ms();
            s->close_code = len >= 2 ? (unsigned)(p[0] << 8 | p[1]) : 1005;
            uint8_t echo[4] = {0x88, 2, p[0], p[1]};
            if (s->answer_close && len >= 2)
                ct_write_all(fd, echo, sizeof echo);
            s->eof = wait_eof(fd, WAIT_MS);
            break;
        }
    }
    close(fd);
    return NULL;
}

static bool script_start(script *s, pthread_t *th, int answer_pings, bool answer_close)
{
    ct_watchdog(120); /* per test: a hang ends the program */
    memset(s, 0, sizeof *s);
    s->answer_pings = answer_pings;
    s->answer_close = answer_close;
    s->ls = ct_listen(&s->port);
    if (s->ls < 0)
        return false;
    if (pthread_create(th, NULL, serve, s) != 0) {
        close(s->ls);
        return false;
    }
    return true;
}

static void script_end(script *s, pthread_t th)
{
    pthread_join(th, NULL);
    close(s->ls);
}

/* A client upgraded on the script's port; *t0 is taken before the upgrade, so it is no later than
   the moment the idle timer starts. */
static wsc_client *open_client(const script *s, int idle_timeout, bool no_ping, int64_t *t0)
{
    wsc_client_config cfg = {.host = "127.0.0.1",
                             .port = s->port,
                             .idle_timeout = idle_timeout,
                             .no_idle_ping = no_ping};
    wsc_err err;
    wsc_client *c = wsc_client_new(&cfg, &err);
    if (!c) {
        fprintf(stderr, "  wsc_client_new: %s\n", err.message);
        return NULL;
    }
    *t0 = ct_now_ms();
    if (wsc_client_handshake(c, "/", NULL, &err) != 0) {
        fprintf(stderr, "  wsc_client_handshake: %s\n", err.message);
        wsc_client_free(c);
        return NULL;
    }
    return c;
}

/* A server silent after the upgrade: the read pings it at half the timeout, sends close 1001 at the
   whole of it, and (no answer to the close) returns WSC_EIDLE once the close wait is over. */
TEST(client_read_pings_then_closes_a_silent_server)
{
    enum { T = 1 };
    script s;
    pthread_t th;
    int64_t t0;
    CHECK(script_start(&s, &th, 0, false));
    wsc_client *c = open_client(&s, T, false, &t0);
    if (c) {
        wsc_msg m;
        EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_EIDLE);
        EXPECT(ct_now_ms() - t0 >= T * 1000);
        EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
        wsc_client_free(c);
    }
    script_end(&s, th);
    CHECK(c != NULL);
    EXPECT_EQ_INT(s.pings, 1);
    EXPECT(s.t_ping[0] - t0 >= T * 1000 / 2 - EARLY_MS);
    EXPECT_EQ_INT(s.close_code, WSC_CLOSE_GOING_AWAY);
    EXPECT(s.t_close - t0 >= T * 1000 - EARLY_MS);
    EXPECT_EQ_INT(s.others, 0);
    EXPECT(s.eof);
}

/* The server's pong is life: the read returns it, and the next silence starts from it. */
TEST(client_pong_restarts_the_idle_timer)
{
    enum { T = 2 };
    script s;
    pthread_t th;
    int64_t t0;
    CHECK(script_start(&s, &th, 1, true));
    wsc_client *c = open_client(&s, T, false, &t0);
    if (c) {
        wsc_msg m;
        EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_PONG);
        int64_t t_pong = ct_now_ms();
        wsc_client_done(c, &m);
        EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_EIDLE);
        /* The close counts from the pong, not from the upgrade. */
        EXPECT(ct_now_ms() - t_pong >= T * 1000 - EARLY_MS);
        wsc_client_free(c);
    }
    script_end(&s, th);
    CHECK(c != NULL);
    EXPECT_EQ_INT(s.pings, 2);
    EXPECT(s.t_ping[1] - s.t_ping[0] >= T * 1000 / 2 - EARLY_MS);
    EXPECT_EQ_INT(s.close_code, WSC_CLOSE_GOING_AWAY);
    EXPECT(s.t_close - s.t_ping[0] >= T * 1000 - EARLY_MS);
    EXPECT(s.eof);
}

/* A read timeout shorter than the idle timeout: each read gives up, but the silence goes on
   across them, and one of the reads ends it. */
TEST(client_short_read_timeouts_do_not_reset_the_idle_timer)
{
    enum { T = 1 };
    script s;
    pthread_t th;
    int64_t t0;
    CHECK(script_start(&s, &th, 0, true));
    wsc_client *c = open_client(&s, T, false, &t0);
    int timeouts = 0, rc = 0;
    if (c) {
        wsc_msg m;
        wsc_client_read_timeout(c, 200);
        while ((rc = wsc_client_read(c, &m)) == WSC_ETIMEDOUT && timeouts < 1000)
            timeouts++;
        EXPECT_EQ_INT(rc, WSC_EIDLE);
        EXPECT(timeouts >= 2);
        wsc_client_free(c);
    }
    script_end(&s, th);
    CHECK(c != NULL);
    EXPECT_EQ_INT(s.pings, 1);
    EXPECT_EQ_INT(s.close_code, WSC_CLOSE_GOING_AWAY);
}

static atomic_int loop_closes;

static int on_msg(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)c, (void)user, (void)msg;
    return 0;
}

static void on_loop_close(wsc_client *c, void *user)
{
    (void)c, (void)user;
    atomic_fetch_add(&loop_closes, 1);
}

/* no_idle_ping, in a read loop: no ping, the close at the timeout; the loop ends with WSC_EIDLE
   after its close callback. */
TEST(client_read_loop_without_ping_ends_with_eidle)
{
    enum { T = 1 };
    script s;
    pthread_t th;
    int64_t t0;
    atomic_store(&loop_closes, 0);
    CHECK(script_start(&s, &th, 0, true));
    wsc_client *c = open_client(&s, T, true, &t0);
    if (c) {
        wsc_client_handler h = {.message = on_msg, .close = on_loop_close};
        EXPECT_EQ_INT(wsc_client_read_loop(c, &h, NULL), WSC_EIDLE);
        EXPECT(ct_now_ms() - t0 >= T * 1000);
        EXPECT_EQ_INT(atomic_load(&loop_closes), 1);
        wsc_client_free(c);
    }
    script_end(&s, th);
    CHECK(c != NULL);
    EXPECT_EQ_INT(s.pings, 0);
    EXPECT_EQ_INT(s.close_code, WSC_CLOSE_GOING_AWAY);
    EXPECT(s.t_close - t0 >= T * 1000 - EARLY_MS);
    EXPECT(s.eof);
}

/* Off by default: a read that waits longer than a timeout of 1 s would sends nothing. */
TEST(client_idle_timeout_off_by_default)
{
    script s;
    pthread_t th;
    int64_t t0;
    CHECK(script_start(&s, &th, 0, true));
    wsc_client *c = open_client(&s, 0, false, &t0);
    if (c) {
        wsc_msg m;
        wsc_client_read_timeout(c, 2500);
        EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ETIMEDOUT);
        EXPECT_EQ_INT(wsc_client_close(c, WSC_CLOSE_NORMAL, NULL), 0);
        wsc_client_free(c);
    }
    script_end(&s, th);
    CHECK(c != NULL);
    EXPECT_EQ_INT(s.pings, 0);
    EXPECT_EQ_INT(s.close_code, WSC_CLOSE_NORMAL);
}

TEST(client_idle_timeout_config)
{
    wsc_client_config cfg = {.host = "127.0.0.1", .port = 1, .idle_timeout = -2};
    wsc_err err;
    EXPECT(wsc_client_new(&cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    EXPECT(strstr(err.message, "idle_timeout") != NULL);
}

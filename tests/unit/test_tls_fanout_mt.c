/* Topic publishes to a TLS subscriber whose socket was full: the frames queued behind it by
 * reference (conn/shared.h) are many segments, more than one TLS write takes at once. Once the
 * subscriber reads, every one must arrive: a write that took only part of the segments while the
 * socket still had room must not leave the rest waiting for a writability event that never comes
 * (an edge-triggered poller reports room only after a write found none). */
#include "../test.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "tls_test_util.h"
#include "ws_test_client.h"

enum {
    BIG = 1 << 20,  /* enough of these fill the kernel's buffers on both sides */
    BIGS = 24,
    SMALL = 200,    /* larger than what is copied instead of referenced */
    SMALLS = 64,    /* many more segments than one TLS write takes */
};

static tt_certs certs;
static int certs_state;
static atomic_int subscribed, closes;

static void cleanup(void)
{
    tt_certs_remove(&certs);
}

static bool have_certs(void)
{
    if (certs_state == 0) {
        signal(SIGPIPE, SIG_IGN);
        certs_state = tt_certs_make(&certs) == 0 ? 1 : -1;
        atexit(cleanup);
    }
    return certs_state == 1;
}

static int on_message(wsc_conn *c, void *user, const wsc_msg *m)
{
    (void)user;
    if (m->type == WSC_TEXT && m->len == 3 && memcmp(m->data, "sub", 3) == 0) {
        int rc = wsc_conn_subscribe(c, "t");
        if (rc == 0)
            atomic_fetch_add(&subscribed, 1);
        return rc;
    }
    return 0;
}

static void on_close(wsc_conn *c, void *user)
{
    (void)c, (void)user;
    atomic_fetch_add(&closes, 1);
}

static void fill(uint8_t *p, size_t n, int i)
{
    memset(p, (uint8_t)(i * 13 + 5), n);
    memcpy(p, &i, sizeof i);
}

static void fanout(wt_mode mode)
{
    static const wsc_handler h = {.message = on_message, .close = on_close};
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, mode);
    cfg.tls.cert_file = certs.live_cert;
    cfg.tls.key_file = certs.live_key;
    cfg.max_buffered = 256u << 20;
    atomic_store(&subscribed, 0);
    atomic_store(&closes, 0);
    CHECK(wt_server_start(&s, &h, &cfg, NULL));
    tt_conn t;
    CHECK(tt_open(&t, s.port, NULL) == 0);
    /* A stall fails the test instead of hanging it. */
    struct timeval tv = {30, 0};
    setsockopt(t.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT(tt_send(&t, 1, "sub", 3) == 0);
    EXPECT(wt_wait_int(&subscribed, 1, 15000));

    /* The subscriber does not read yet: the big ones fill the socket, the rest queue. */
    uint8_t *p = malloc(BIG);
    CHECK(p != NULL);
    int total = BIGS + SMALLS;
    for (int i = 0; i < total && TEST_OK(); i++) {
        size_t n = i < BIGS ? BIG : SMALL;
        fill(p, n, i);
        EXPECT_EQ_INT(wsc_server_publish(s.srv, "t", WSC_BINARY, p, n), 1);
    }
    int got = 0;
    for (; got < total && TEST_OK(); got++) {
        unsigned op;
        uint8_t *d;
        size_t len, n = got < BIGS ? BIG : SMALL;
        if (tt_recv(&t, &op, &d, &len) != 0)
            break;
        fill(p, n, got);
        EXPECT(op == 2 && len == n && memcmp(d, p, n) == 0);
        free(d);
    }
    EXPECT_EQ_INT(got, total);
    free(p);
    tt_close(&t);
    EXPECT(wt_wait_int(&closes, 1, 15000));
    EXPECT(wt_server_stop(&s, 15000));
}

TEST(tls_fanout_pool)
{
    CHECK(have_certs());
    fanout(WT_EPOLL_POOL);
}

TEST(tls_fanout_inline)
{
    CHECK(have_certs());
    fanout(WT_EPOLL_INLINE);
}

TEST(tls_fanout_blocking)
{
    CHECK(have_certs());
    fanout(WT_BLOCKING);
}

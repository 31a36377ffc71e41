/* Topics in one server, in every mode (pool, inline, blocking): subscribe, unsubscribe, publish to
 * all and to all but the sender; every subscriber gets each message once, in each publisher's
 * order, also with several publishing threads; a subscriber that stops reading is closed by the
 * max_buffered policy while the others keep receiving; connections that come and go while
 * publishes run leave no subscription behind; many topics; permessage-deflate subscribers get a
 * publish compressed once per window size.
 *
 * The handler obeys text commands from its clients: "sub T", "unsub T" (answered "rc N"),
 * "pub T text" (wsc_server_publish), "cpub T text" (wsc_conn_publish), "pubr T text" (publish,
 * then answer "rc N" with publish's result), "note T text" (writes text back to the sender).
 * Public API only; every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

#include <zlib.h>

enum { T_MS = 60000 };

static _Atomic(wsc_server *) g_srv;
static atomic_int g_opened, g_closed, g_close_sub_rc, g_slow_closed;

struct user {
    bool slow; /* the subscriber that never reads */
};

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn;
    (void)app;
    struct user *u = calloc(1, sizeof *u);
    if (!u)
        return 503;
    wsc_str path = wsc_handshake_path(hs);
    u->slow = path.len == 5 && memcmp(path.ptr, "/slow", 5) == 0;
    *user = u;
    atomic_fetch_add(&g_opened, 1);
    return 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    struct user *u = user;
    /* Too late: the connection ended. */
    atomic_store(&g_close_sub_rc, wsc_conn_subscribe(conn, "/late"));
    if (u->slow)
        atomic_fetch_add(&g_slow_closed, 1);
    free(u);
    atomic_fetch_add(&g_closed, 1);
}

static int reply_rc(wsc_conn *conn, int rc)
{
    char b[32];
    int n = snprintf(b, sizeof b, "rc %d", rc);
    return wsc_conn_write_text(conn, b, (size_t)n);
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    char cmd[2048];
    if (msg->len >= sizeof cmd)
        return WSC_ETOOBIG;
    memcpy(cmd, msg->data, msg->len);
    cmd[msg->len] = 0;
    char *topic = strchr(cmd, ' ');
    if (!topic)
        return WSC_EINVAL;
    *topic++ = 0;
    char *text = strchr(topic, ' ');
    if (text)
        *text++ = 0;
    size_t tl = text ? strlen(text) : 0;
    wsc_server *srv = atomic_load(&g_srv);
    if (strcmp(cmd, "sub") == 0)
        return reply_rc(conn, wsc_conn_subscribe(conn, topic));
    if (strcmp(cmd, "unsub") == 0)
        return reply_rc(conn, wsc_conn_unsubscribe(conn, topic));
    if (strcmp(cmd, "pub") == 0) {
        int rc = wsc_server_publish(srv, topic, WSC_TEXT, text, tl);
        return rc < 0 ? rc : 0;
    }
    if (strcmp(cmd, "cpub") == 0) {
        int rc = wsc_conn_publish(conn, topic, WSC_TEXT, text, tl);
        return rc < 0 ? rc : 0;
    }
    if (strcmp(cmd, "note") == 0) /* an ordinary write, in order with the publishes */
        return wsc_conn_write_text(conn, text ? text : "", tl);
    if (strcmp(cmd, "pubr") == 0)
        return reply_rc(conn, wsc_server_publish(srv, topic, WSC_TEXT, text, tl));
    return WSC_EINVAL;
}

static const wsc_handler handler = {
    .init = on_init, .message = on_message, .close = on_close};

static bool start_deflate(wt_server *s, wt_mode mode, size_t max_buffered,
                          const wsc_deflate_config *d)
{
    wsc_server_config cfg;
    wt_config(&cfg, mode);
    cfg.max_buffered = max_buffered;
    if (d)
        cfg.deflate = *d;
    atomic_store(&g_opened, 0);
    atomic_store(&g_closed, 0);
    atomic_store(&g_slow_closed, 0);
    atomic_store(&g_close_sub_rc, 1);
    if (!wt_server_start(s, &handler, &cfg, NULL))
        return false;
    atomic_store(&g_srv, s->srv);
    return true;
}

static bool start(wt_server *s, wt_mode mode, size_t max_buffered)
{
    return start_deflate(s, mode, max_buffered, NULL);
}

static bool open_client(wt_client *c, int port, const char *path, int rcvbuf)
{
    return wt_connect_rcvbuf(c, port, rcvbuf) == 0 && wt_handshake(c, path) == 101;
}

static bool expect_text(wt_client *c, const char *s)
{
    return wt_expect_message(c, WT_OP_TEXT, s, strlen(s), T_MS);
}

/* Sends a command and checks its answer. */
static bool command(wt_client *c, const char *cmd, int want_rc)
{
    char want[32];
    snprintf(want, sizeof want, "rc %d", want_rc);
    return wt_send_text(c, cmd) == 0 && expect_text(c, want);
}

/* ---- to all, to all but the sender, once per subscriber, unsubscribe ---- */

static void basic(wt_mode mode)
{
    wt_server s;
    wt_client c[3];
    CHECK(start(&s, mode, 0));
    for (int i = 0; i < 3; i++)
        CHECK(open_client(&c[i], s.port, "/", 0));
    for (int i = 0; i < 3; i++)
        CHECK(command(&c[i], "sub room", 0));
    EXPECT(command(&c[2], "sub room", 0)); /* twice: still one delivery per publish */
    EXPECT(command(&c[0], "sub ", WSC_EINVAL));
    EXPECT(command(&c[0], "unsub nothing", WSC_ESTATE));

    EXPECT(wt_send_text(&c[0], "pub room hello") == 0);
    for (int i = 0; i < 3; i++)
        EXPECT(expect_text(&c[i], "hello"));
    /* All but the sender: c[1]'s next message is its own later publish. */
    EXPECT(wt_send_text(&c[1], "cpub room not-you") == 0);
    EXPECT(expect_text(&c[0], "not-you"));
    EXPECT(expect_text(&c[2], "not-you"));
    EXPECT(wt_send_text(&c[1], "pub room mark") == 0);
    EXPECT(expect_text(&c[1], "mark"));
    EXPECT(expect_text(&c[0], "mark"));
    EXPECT(expect_text(&c[2], "mark"));

    EXPECT(command(&c[2], "unsub room", 0));
    EXPECT(wt_send_text(&c[0], "pub room after") == 0);
    EXPECT(expect_text(&c[0], "after"));
    EXPECT(expect_text(&c[1], "after"));
    /* Written to c[2] before c[0] got it, had c[2] still been subscribed: its next message is the
       answer to a later command. */
    EXPECT(command(&c[2], "unsub room", WSC_ESTATE));
    for (int i = 0; i < 3; i++)
        wt_close(&c[i]);
    EXPECT(wt_wait_int(&g_closed, 3, T_MS));
    EXPECT_EQ_INT(atomic_load(&g_close_sub_rc), WSC_ECLOSED);
    EXPECT(wt_server_stop(&s, T_MS));
}

/* What publish returns: the subscribers that accepted it (the sender's own copy precedes the
   answer to "pubr"). */
static void publish_counts(wt_mode mode)
{
    wt_server s;
    wt_client c[3];
    CHECK(start(&s, mode, 0));
    for (int i = 0; i < 3; i++) {
        CHECK(open_client(&c[i], s.port, "/", 0));
        CHECK(command(&c[i], "sub room", 0));
    }
    EXPECT(wt_send_text(&c[1], "pubr room mark") == 0);
    EXPECT(expect_text(&c[1], "mark"));
    EXPECT(expect_text(&c[1], "rc 3"));
    EXPECT(expect_text(&c[0], "mark"));
    EXPECT(expect_text(&c[2], "mark"));
    EXPECT(command(&c[2], "unsub room", 0));
    EXPECT(wt_send_text(&c[0], "pubr nobody x") == 0);
    EXPECT(expect_text(&c[0], "rc 0"));
    EXPECT(wt_send_text(&c[0], "pubr room y") == 0);
    EXPECT(expect_text(&c[0], "y"));
    EXPECT(expect_text(&c[0], "rc 2"));
    EXPECT(expect_text(&c[1], "y"));
    for (int i = 0; i < 3; i++)
        wt_close(&c[i]);
    EXPECT(wt_wait_int(&g_closed, 3, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
}

/* ---- several publishing threads: each one's order, every message once ---- */

enum { PUBLISHERS = 3, PER_PUBLISHER = 1500, READERS = 4, WINDOW = 64 };

struct reader {
    wt_client c;
    pthread_t th;
    int expect;          /* messages to read */
    atomic_int got;      /* read so far */
    atomic_int bad;      /* an order or content error */
    int next[PUBLISHERS];
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    while (atomic_load(&r->got) < r->expect) {
        unsigned type;
        uint8_t *d;
        size_t n;
        if (wt_read_message(&r->c, &type, &d, &n, T_MS) != 0) {
            atomic_store(&r->bad, 1);
            return NULL;
        }
        unsigned p, seq;
        if (sscanf((char *)d, "p%u %u", &p, &seq) != 2 || p >= PUBLISHERS ||
            (int)seq != r->next[p]) {
            fprintf(stderr, "  out of order or unexpected: %.*s (want p%u %d)\n", (int)n, d, p,
                    p < PUBLISHERS ? r->next[p] : -1);
            atomic_store(&r->bad, 1);
            free(d);
            return NULL;
        }
        r->next[p]++;
        free(d);
        atomic_fetch_add(&r->got, 1);
    }
    return NULL;
}

struct publisher {
    pthread_t th;
    unsigned id;
    struct reader *readers;
    atomic_int failed;
};

/* Publishes PER_PUBLISHER messages, at most WINDOW ahead of the slowest reader (so that no reader
   falls behind by max_buffered on a busy machine). */
static void *publisher_main(void *arg)
{
    struct publisher *p = arg;
    wsc_server *srv = atomic_load(&g_srv);
    for (int i = 0; i < PER_PUBLISHER; i++) {
        for (int k = 0; k < READERS; k++)
            while (atomic_load(&p->readers[k].got) + WINDOW < i && !atomic_load(&p->readers[k].bad))
                wt_sleep_ms(1);
        char b[64];
        int n = snprintf(b, sizeof b, "p%u %d", p->id, i);
        if (wsc_server_publish(srv, "many", WSC_TEXT, b, (size_t)n) != READERS) {
            atomic_store(&p->failed, 1);
            return NULL;
        }
    }
    return NULL;
}

static void publishers(wt_mode mode)
{
    wt_server s;
    static struct reader r[READERS];
    static struct publisher p[PUBLISHERS];
    CHECK(start(&s, mode, 0));
    memset(r, 0, sizeof r);
    memset(p, 0, sizeof p);
    for (int i = 0; i < READERS; i++) {
        CHECK(open_client(&r[i].c, s.port, "/", 0));
        CHECK(command(&r[i].c, "sub many", 0));
        r[i].expect = PUBLISHERS * PER_PUBLISHER;
    }
    for (int i = 0; i < READERS; i++)
        CHECK(pthread_create(&r[i].th, NULL, reader_main, &r[i]) == 0);
    for (unsigned i = 0; i < PUBLISHERS; i++) {
        p[i].id = i;
        p[i].readers = r;
        CHECK(pthread_create(&p[i].th, NULL, publisher_main, &p[i]) == 0);
    }
    for (int i = 0; i < PUBLISHERS; i++) {
        pthread_join(p[i].th, NULL);
        EXPECT(!atomic_load(&p[i].failed));
    }
    for (int i = 0; i < READERS; i++) {
        pthread_join(r[i].th, NULL);
        EXPECT(!atomic_load(&r[i].bad));
        EXPECT_EQ_INT(atomic_load(&r[i].got), PUBLISHERS * PER_PUBLISHER);
        wt_close(&r[i].c);
    }
    EXPECT(wt_wait_int(&g_closed, READERS, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
}

/* ---- a subscriber that does not read ---- */

enum { SLOW_CAP = 64 * 1024, SLOW_MSG = 16 * 1024, SLOW_COUNT = 1200, SLOW_READERS = 2 };

static void slow_subscriber(wt_mode mode)
{
    wt_server s;
    wt_client slow;
    static struct reader r[SLOW_READERS];
    CHECK(start(&s, mode, SLOW_CAP));
    memset(r, 0, sizeof r);
    CHECK(open_client(&slow, s.port, "/slow", 4096));
    CHECK(command(&slow, "sub many", 0));
    for (int i = 0; i < SLOW_READERS; i++) {
        CHECK(open_client(&r[i].c, s.port, "/", 0));
        CHECK(command(&r[i].c, "sub many", 0));
        r[i].expect = SLOW_COUNT;
        CHECK(pthread_create(&r[i].th, NULL, reader_main, &r[i]) == 0);
    }
    /* 19 MiB in all: far more than the kernel holds for the one that does not read. */
    char *msg = malloc(SLOW_MSG);
    CHECK(msg);
    wsc_server *srv = s.srv;
    int slow_refused_at = -1;
    for (int i = 0; i < SLOW_COUNT; i++) {
        /* At most 3 messages (48 KiB) ahead of a reader: under the cap even with no kernel
           buffer, so only the subscriber that does not read falls behind by it. */
        for (int k = 0; k < SLOW_READERS; k++)
            while (atomic_load(&r[k].got) + 2 < i && !atomic_load(&r[k].bad))
                wt_sleep_ms(1);
        int n = snprintf(msg, SLOW_MSG, "p0 %d ", i);
        memset(msg + n, 'x', SLOW_MSG - (size_t)n);
        int rc = wsc_server_publish(srv, "many", WSC_TEXT, msg, SLOW_MSG);
        if (rc < SLOW_READERS + 1 && slow_refused_at < 0)
            slow_refused_at = i;
        EXPECT(rc >= SLOW_READERS);
    }
    free(msg);
    EXPECT(slow_refused_at > 0);
    for (int i = 0; i < SLOW_READERS; i++) {
        pthread_join(r[i].th, NULL);
        EXPECT(!atomic_load(&r[i].bad));
        EXPECT_EQ_INT(atomic_load(&r[i].got), SLOW_COUNT);
    }
    /* Closed by policy (1008; the close timeout ends a peer that never reads it). */
    EXPECT(wt_wait_int(&g_slow_closed, 1, T_MS));
    for (int i = 0; i < SLOW_READERS; i++)
        wt_close(&r[i].c);
    wt_close(&slow);
    EXPECT(wt_wait_int(&g_closed, SLOW_READERS + 1, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
}

/* ---- a queue of shared frames with ordinary writes among them ---- */

enum { QMSG = 16 * 1024, QCOUNT = 900 };

/* A subscriber that reads only at the end: 9 MiB of publishes outgrow what the kernel holds for
   it, so most are queued (by reference); an ordinary write to it (its own "note"), and further
   publishes, queue behind them, and everything arrives in order. */
static void queued_in_order(wt_mode mode)
{
    wt_server s;
    wt_client c;
    CHECK(start(&s, mode, 64u << 20));
    CHECK(open_client(&c, s.port, "/", 4096));
    CHECK(command(&c, "sub q", 0));
    char *msg = malloc(QMSG);
    CHECK(msg);
    for (int i = 0; i < QCOUNT + 10; i++) {
        if (i == QCOUNT) /* written when the server reads it: after s899, before or among the rest */
            EXPECT(wt_send_text(&c, "note q between") == 0);
        /* Every third one small: those are copied into the queue, the rest referenced. */
        size_t len = i % 3 ? QMSG : 30;
        int n = snprintf(msg, QMSG, "s%d ", i);
        memset(msg + n, 'q', len - (size_t)n);
        EXPECT_EQ_INT(wsc_server_publish(s.srv, "q", WSC_TEXT, msg, len), 1);
    }
    free(msg);
    bool note_seen = false;
    int next = 0;
    while ((next < QCOUNT + 10 || !note_seen) && TEST_OK()) {
        unsigned type;
        uint8_t *d;
        size_t n;
        CHECK(wt_read_message(&c, &type, &d, &n, T_MS) == 0);
        if (n == 7 && memcmp(d, "between", 7) == 0) {
            EXPECT(!note_seen && next >= QCOUNT);
            note_seen = true;
        } else {
            int seq = -1;
            EXPECT(n == (next % 3 ? QMSG : 30) && sscanf((char *)d, "s%d ", &seq) == 1 &&
                   seq == next);
            next++;
        }
        free(d);
    }
    EXPECT(note_seen);
    wt_close(&c);
    EXPECT(wt_wait_int(&g_closed, 1, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
}

/* ---- permessage-deflate subscribers ---- */

/* Reads one data frame; a compressed one (RSV1) is inflated here, independently of the library.
   *compressed tells which it was. Returns the message (malloc'd) or NULL. */
static char *read_publish(wt_client *c, bool *compressed, size_t *len)
{
    wt_frame f;
    if (wt_read_frame(c, &f, T_MS) != 0 || f.opcode != WT_OP_TEXT || !f.fin) {
        wt_frame_free(&f);
        return NULL;
    }
    *compressed = f.rsv & WT_RSV1;
    if (!*compressed) {
        *len = f.len;
        return (char *)f.data;
    }
    uint8_t *in = malloc(f.len + 4);
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof z);
    bool ok = in && out && inflateInit2(&z, -15) == Z_OK;
    if (ok) {
        memcpy(in, f.data, f.len);
        memcpy(in + f.len, "\x00\x00\xff\xff", 4); /* the tail the sender removed (RFC 7692) */
        z.next_in = in;
        z.avail_in = (uInt)(f.len + 4);
        z.next_out = (Bytef *)out;
        z.avail_out = (uInt)cap;
        int rc = inflate(&z, Z_SYNC_FLUSH);
        ok = (rc == Z_OK || rc == Z_STREAM_END) && z.avail_in == 0;
        *len = cap - z.avail_out;
        inflateEnd(&z);
    }
    free(in);
    wt_frame_free(&f);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static bool expect_publish(wt_client *c, const char *want, size_t want_len, bool want_compressed)
{
    bool compressed = false;
    size_t len = 0;
    char *got = read_publish(c, &compressed, &len);
    bool ok = got && len == want_len && memcmp(got, want, len) == 0 && compressed == want_compressed;
    if (!ok)
        fprintf(stderr, "  publish: %s, %zu bytes, %s (want %zu, %s)\n", got ? "read" : "no frame",
                len, compressed ? "compressed" : "plain", want_len,
                want_compressed ? "compressed" : "plain");
    free(got);
    return ok;
}

/* With no context takeover on the server's side, a publish is compressed once per window size
   and those bytes go to every such subscriber; a subscriber without the extension, a message under
   the threshold, and a subscriber with context takeover get the plain frame. */
static void compressed_publish(wt_mode mode)
{
    wt_server s;
    wt_client z15, z10, plain;
    char head[1024];
    wsc_deflate_config d = {.enabled = true, .server_no_context_takeover = true,
                            .write_threshold = 1000};
    CHECK(start_deflate(&s, mode, 0, &d));
    CHECK(wt_connect(&z15, s.port) == 0);
    CHECK(wt_handshake_ex(&z15, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n", T_MS,
                          head, sizeof head) == 101);
    EXPECT(strstr(head, "server_no_context_takeover"));
    CHECK(wt_connect(&z10, s.port) == 0);
    CHECK(wt_handshake_ex(&z10, "/",
                          "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10"
                          "\r\n",
                          T_MS, head, sizeof head) == 101);
    EXPECT(strstr(head, "server_max_window_bits=10"));
    CHECK(open_client(&plain, s.port, "/", 0));
    wt_client *all[] = {&z15, &z10, &plain};
    for (int i = 0; i < 3; i++)
        CHECK(command(all[i], "sub z", 0));

    char big[3000];
    size_t n = 0;
    while (n + 40 < sizeof big)
        n += (size_t)snprintf(big + n, sizeof big - n, "{\"topic\":\"z\",\"n\":%zu},", n);
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "z", WSC_TEXT, big, n), 3);
    EXPECT(expect_publish(&z15, big, n, true));
    EXPECT(expect_publish(&z10, big, n, true));
    EXPECT(expect_publish(&plain, big, n, false));
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "z", WSC_TEXT, big, 500), 3); /* under the threshold */
    for (int i = 0; i < 3; i++)
        EXPECT(expect_publish(all[i], big, 500, false));
    for (int i = 0; i < 3; i++)
        wt_close(all[i]);
    EXPECT(wt_wait_int(&g_closed, 3, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));

    /* Context takeover: the compressed bytes would depend on the connection's history. */
    d.server_no_context_takeover = false;
    CHECK(start_deflate(&s, mode, 0, &d));
    CHECK(wt_connect(&z15, s.port) == 0);
    CHECK(wt_handshake_ex(&z15, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n", T_MS,
                          head, sizeof head) == 101);
    EXPECT(strstr(head, "permessage-deflate") && !strstr(head, "server_no_context_takeover"));
    CHECK(command(&z15, "sub z", 0));
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "z", WSC_TEXT, big, n), 1);
    EXPECT(expect_publish(&z15, big, n, false));
    wt_close(&z15);
    EXPECT(wt_wait_int(&g_closed, 1, T_MS));
    EXPECT(wt_server_stop(&s, T_MS));
}

/* ---- connections that come and go while publishes run ---- */

enum { CHURN_ROUNDS = 150 };

static atomic_int churn_stop;

static void *churn_publisher(void *arg)
{
    wsc_server *srv = arg;
    while (!atomic_load(&churn_stop)) {
        (void)wsc_server_publish(srv, "churn", WSC_TEXT, "tick", 4);
        wt_sleep_ms(0);
    }
    return NULL;
}

static void churn(wt_mode mode)
{
    wt_server s;
    pthread_t th;
    CHECK(start(&s, mode, 0));
    atomic_store(&churn_stop, 0);
    CHECK(pthread_create(&th, NULL, churn_publisher, s.srv) == 0);
    int opened = 0;
    for (int i = 0; i < CHURN_ROUNDS && TEST_OK(); i++) {
        wt_client c;
        EXPECT(open_client(&c, s.port, "/", 0));
        opened++;
        EXPECT(wt_send_text(&c, "sub churn") == 0);
        if (i % 3 == 0) {
            unsigned type;
            uint8_t *d;
            size_t n;
            /* The answer, then ticks. */
            EXPECT(wt_read_message(&c, &type, &d, &n, T_MS) == 0);
            free(d);
            EXPECT(wt_read_message(&c, &type, &d, &n, T_MS) == 0);
            free(d);
        }
        if (i % 3 == 1)
            wt_reset(&c);
        else
            wt_close(&c);
    }
    atomic_store(&churn_stop, 1);
    pthread_join(th, NULL);
    EXPECT(wt_wait_int(&g_closed, opened, T_MS));
    /* Every subscription ended with its connection. */
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "churn", WSC_TEXT, "x", 1), 0);
    EXPECT(wt_server_stop(&s, T_MS));
}

/* ---- many topics: the table grows; each publish reaches its own topic only ---- */

enum { TOPICS = 300 };

static void many_topics(wt_mode mode)
{
    wt_server s;
    wt_client c;
    char b[64];
    CHECK(start(&s, mode, 0));
    CHECK(open_client(&c, s.port, "/", 0));
    for (int i = 0; i < TOPICS && TEST_OK(); i++) {
        snprintf(b, sizeof b, "sub t%d", i);
        EXPECT(command(&c, b, 0));
    }
    for (int i = TOPICS - 1; i >= 0; i--) {
        char want[16];
        snprintf(b, sizeof b, "t%d", i);
        snprintf(want, sizeof want, "m%d", i);
        EXPECT_EQ_INT(wsc_server_publish(s.srv, b, WSC_TEXT, want, strlen(want)), 1);
        EXPECT(expect_text(&c, want));
    }
    for (int i = 0; i < TOPICS && TEST_OK(); i += 2) {
        snprintf(b, sizeof b, "unsub t%d", i);
        EXPECT(command(&c, b, 0));
    }
    for (int i = 0; i < TOPICS; i++) {
        snprintf(b, sizeof b, "t%d", i);
        EXPECT_EQ_INT(wsc_server_publish(s.srv, b, WSC_TEXT, "z", 1), i % 2);
    }
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "", WSC_TEXT, "z", 1), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "t1", WSC_PING, "z", 1), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_server_publish(NULL, "t1", WSC_TEXT, "z", 1), WSC_EINVAL);
    /* Refused before its bytes are read: an argument error, not an allocation failure. */
    if (SIZE_MAX > WSC_PUBLISH_MAX)
        EXPECT_EQ_INT(wsc_server_publish(s.srv, "t1", WSC_TEXT, "z", (size_t)WSC_PUBLISH_MAX + 1),
                      WSC_EINVAL);
    wt_close(&c);
    EXPECT(wt_wait_int(&g_closed, 1, T_MS));
    EXPECT_EQ_INT(wsc_server_publish(s.srv, "t1", WSC_TEXT, "z", 1), 0);
    EXPECT(wt_server_stop(&s, T_MS));
}

TEST(publish_unsubscribe_pool) { basic(WT_EPOLL_POOL); }
TEST(publish_unsubscribe_inline) { basic(WT_EPOLL_INLINE); }
TEST(publish_unsubscribe_blocking) { basic(WT_BLOCKING); }
TEST(publish_counts_pool) { publish_counts(WT_EPOLL_POOL); }
TEST(publish_counts_inline) { publish_counts(WT_EPOLL_INLINE); }
TEST(publish_counts_blocking) { publish_counts(WT_BLOCKING); }
TEST(publishers_keep_order_pool) { publishers(WT_EPOLL_POOL); }
TEST(publishers_keep_order_inline) { publishers(WT_EPOLL_INLINE); }
TEST(publishers_keep_order_blocking) { publishers(WT_BLOCKING); }
TEST(slow_subscriber_closed_by_policy_pool) { slow_subscriber(WT_EPOLL_POOL); }
TEST(slow_subscriber_closed_by_policy_inline) { slow_subscriber(WT_EPOLL_INLINE); }
TEST(slow_subscriber_closed_by_policy_blocking) { slow_subscriber(WT_BLOCKING); }
TEST(queued_publishes_and_writes_keep_order_pool) { queued_in_order(WT_EPOLL_POOL); }
TEST(queued_publishes_and_writes_keep_order_inline) { queued_in_order(WT_EPOLL_INLINE); }
TEST(queued_publishes_and_writes_keep_order_blocking) { queued_in_order(WT_BLOCKING); }
TEST(compressed_once_per_window_pool) { compressed_publish(WT_EPOLL_POOL); }
TEST(compressed_once_per_window_inline) { compressed_publish(WT_EPOLL_INLINE); }
TEST(compressed_once_per_window_blocking) { compressed_publish(WT_BLOCKING); }
TEST(connections_churn_while_publishing_pool) { churn(WT_EPOLL_POOL); }
TEST(connections_churn_while_publishing_inline) { churn(WT_EPOLL_INLINE); }
TEST(connections_churn_while_publishing_blocking) { churn(WT_BLOCKING); }
TEST(many_topics_pool) { many_topics(WT_EPOLL_POOL); }
TEST(many_topics_inline) { many_topics(WT_EPOLL_INLINE); }
TEST(many_topics_blocking) { many_topics(WT_BLOCKING); }

/* Graceful shutdown (wsc_server_shutdown) with 1,000 busy connections, in each mode: every message
 * the server accepted for writing reaches the peers that keep reading, in order, before close 1001,
 * which they answer; peers that never read are dropped at the bound; every close callback runs once;
 * the call returns within its bound and a margin. Also: no peer left, the call returns 0 at once;
 * a stop during the wait drops the rest at once; the call is refused from a callback. */
#include <sys/resource.h>

#include "../test.h"
#include "ws_test_client.h"

enum {
    NCONN = 1000,
    NSILENT = 20,    /* the last NSILENT connections never read */
    NECHO = 3,       /* messages each reading peer sends, echoed by the server */
    NROUNDS = 50,    /* rounds of the writer thread: a message to every connection each */
    SILENT_ROUNDS = 8, /* of which the silent peers get (their queues stay below max_buffered) */
    SILENT_MSG = 8192, /* what the writer sends a silent peer: soon more than the socket holds */
    NREADERS = 4,
    TIMEOUT_MS = 4000,
    MARGIN_MS = 3000,
};

static wsc_conn *conns[NCONN];          /* set by after_init, retained until the end */
static atomic_int close_count[NCONN];
static atomic_int acc_echo[NCONN], acc_write[NCONN]; /* writes the server accepted */
static atomic_int opened, echoed, rounds_done;
static atomic_bool writer_quit;
static atomic_int refused_in_callback;
static wsc_server *current;

static int conn_id(void *user)
{
    return (int)(intptr_t)user - 1;
}

static int init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn, (void)app;
    wsc_str p = wsc_handshake_path(hs);
    char num[16] = {0};
    if (!p.ptr || p.len < 2 || p.len - 1 >= sizeof num)
        return 400;
    memcpy(num, p.ptr + 1, p.len - 1);
    int id = atoi(num);
    if (id < 0 || id >= NCONN)
        return 400;
    *user = (void *)(intptr_t)(id + 1);
    return 0;
}

static int after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    wsc_conn_retain(conn);
    conns[conn_id(user)] = conn;
    atomic_fetch_add(&opened, 1);
    return 0;
}

static int message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    int id = conn_id(user);
    if (msg->len == 8 && memcmp(msg->data, "shutdown", 8) == 0) {
        /* From a callback the call could never end: refused. */
        if (wsc_server_shutdown(current, 1000) == WSC_ESTATE)
            atomic_fetch_add(&refused_in_callback, 1);
        return 0;
    }
    if (wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0)
        atomic_fetch_add(&acc_echo[id], 1);
    atomic_fetch_add(&echoed, 1);
    return 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    atomic_fetch_add(&close_count[conn_id(user)], 1);
}

static const wsc_handler handler = {
    .init = init, .after_init = after_init, .message = message, .close = on_close};

static void reset(void)
{
    for (int i = 0; i < NCONN; i++) {
        conns[i] = NULL;
        atomic_store(&close_count[i], 0);
        atomic_store(&acc_echo[i], 0);
        atomic_store(&acc_write[i], 0);
    }
    atomic_store(&opened, 0);
    atomic_store(&echoed, 0);
    atomic_store(&rounds_done, 0);
    atomic_store(&writer_quit, false);
    atomic_store(&refused_in_callback, 0);
}

/* An application thread that writes to every connection, round after round, also while the
   shutdown runs: what the server accepts (0) is counted, and must arrive. */
static void *writer_main(void *arg)
{
    int n = *(int *)arg;
    static char big[SILENT_MSG];
    memset(big, 'z', sizeof big);
    for (int r = 0; r < NROUNDS && !atomic_load(&writer_quit); r++) {
        for (int i = 0; i < n; i++) {
            if (i >= n - NSILENT) {
                if (r < SILENT_ROUNDS && wsc_conn_write(conns[i], WSC_BINARY, big, sizeof big) == 0)
                    atomic_fetch_add(&acc_write[i], 1);
                continue;
            }
            char text[32];
            int seq = atomic_load(&acc_write[i]);
            int len = snprintf(text, sizeof text, "w%d", seq);
            /* One writer per connection: seq numbers what was accepted, without gaps. */
            if (wsc_conn_write(conns[i], WSC_TEXT, text, (size_t)len) == 0)
                atomic_fetch_add(&acc_write[i], 1);
        }
        atomic_fetch_add(&rounds_done, 1);
    }
    return NULL;
}

/* What one reading peer saw. */
typedef struct peer {
    wt_client c;
    int got_echo, got_write; /* in order, numbered from 0 */
    bool bad, closed, eof;
    unsigned code;
} peer;

static peer peers[NCONN];

typedef struct reader_arg {
    int from, to;
    int64_t deadline;
} reader_arg;

/* Takes every frame the buffer holds; false once the peer is done (EOF after the close). */
static void take_frames(peer *p)
{
    for (;;) {
        wt_frame f;
        int r = wt_read_frame(&p->c, &f, 0);
        if (r != 0) {
            wt_frame_free(&f);
            if (r == WT_EOF)
                p->eof = true;
            else if (r == WT_EBAD)
                p->bad = true;
            return;
        }
        if (f.opcode == WT_OP_CLOSE) {
            if (p->closed)
                p->bad = true;
            p->closed = true;
            p->code = f.len >= 2 ? (unsigned)((f.data[0] << 8) | f.data[1]) : 1005u;
            wt_send_close(&p->c, 1001, NULL);
        } else if (p->closed) {
            p->bad = true; /* nothing may follow a close frame */
        } else if (f.opcode == WT_OP_TEXT && f.len > 1) {
            int seq = atoi((const char *)f.data + 1);
            if (f.data[0] == 'e' && seq == p->got_echo)
                p->got_echo++;
            else if (f.data[0] == 'w' && seq == p->got_write)
                p->got_write++;
            else
                p->bad = true;
        } else {
            p->bad = true;
        }
        wt_frame_free(&f);
    }
}

/* Reads its peers until each has seen the close and the end of the TCP connection. */
static void *reader_main(void *arg)
{
    reader_arg *a = arg;
    int n = a->to - a->from;
    struct pollfd *pf = calloc((size_t)n, sizeof *pf);
    if (!pf)
        return NULL;
    while (wt_now_ms() < a->deadline) {
        int live = 0;
        for (int i = 0; i < n; i++) {
            peer *p = &peers[a->from + i];
            pf[i].fd = p->eof ? -1 : p->c.fd;
            pf[i].events = POLLIN;
            pf[i].revents = 0;
            live += !p->eof;
        }
        if (!live)
            break;
        if (poll(pf, (nfds_t)n, 100) <= 0)
            continue;
        for (int i = 0; i < n; i++) {
            peer *p = &peers[a->from + i];
            if (!pf[i].revents)
                continue;
            int r = wt_read_now(&p->c);
            if (r == WT_EOF)
                p->eof = true;
            take_frames(p);
        }
    }
    free(pf);
    return NULL;
}

static void raise_fd_limit(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void shutdown_busy(wt_mode mode, int n)
{
    wsc_server_config cfg;
    wt_server s;
    static wt_client silent[NSILENT];
    char path[32];
    reset();
    wt_config(&cfg, mode);
    cfg.max_conn = (size_t)n + 16;
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    current = s.srv;
    int nread = n - NSILENT;
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "/%d", i);
        wt_client *c = i < nread ? &peers[i].c : &silent[i - nread];
        if (i < nread)
            memset(&peers[i], 0, sizeof peers[i]);
        /* A silent peer's small receive buffer fills soon: the rest stays queued on the server. */
        CHECK(wt_connect_rcvbuf(c, s.port, i < nread ? 0 : 4096) == 0);
        CHECK(wt_handshake(c, path) == 101);
    }
    CHECK(wt_wait_int(&opened, n, 20000));

    /* Busy: echoes in flight, and an application thread writing to every connection. */
    for (int k = 0; k < NECHO; k++)
        for (int i = 0; i < nread; i++) {
            snprintf(path, sizeof path, "e%d", k);
            EXPECT(wt_send_text(&peers[i].c, path) == 0);
        }
    pthread_t writer, readers[NREADERS];
    reader_arg ra[NREADERS];
    CHECK(pthread_create(&writer, NULL, writer_main, &n) == 0);
    CHECK(wt_wait_at_least(&rounds_done, 1, 20000));
    CHECK(wt_wait_at_least(&echoed, nread, 20000));
    int64_t t0 = wt_now_ms();
    for (int r = 0; r < NREADERS; r++) {
        ra[r].from = nread * r / NREADERS;
        ra[r].to = nread * (r + 1) / NREADERS;
        ra[r].deadline = t0 + TIMEOUT_MS + 20000;
        CHECK(pthread_create(&readers[r], NULL, reader_main, &ra[r]) == 0);
    }

    int rc = wsc_server_shutdown(s.srv, TIMEOUT_MS);
    int64_t took = wt_now_ms() - t0;
    atomic_store(&writer_quit, true);
    pthread_join(writer, NULL);
    for (int r = 0; r < NREADERS; r++)
        pthread_join(readers[r], NULL);

    /* The silent peers never answered: dropped at the bound. */
    EXPECT_EQ_INT(rc, WSC_ETIMEDOUT);
    EXPECT(took >= TIMEOUT_MS - 50);
    EXPECT(took < TIMEOUT_MS + MARGIN_MS);
    if (took >= TIMEOUT_MS + MARGIN_MS || took < TIMEOUT_MS - 50)
        fprintf(stderr, "  %s: shutdown took %lld ms\n", wt_mode_name(mode), (long long)took);
    int complete = 0;
    for (int i = 0; i < nread; i++) {
        peer *p = &peers[i];
        bool ok = !p->bad && p->closed && p->code == 1001 && p->eof &&
                  p->got_echo == atomic_load(&acc_echo[i]) &&
                  p->got_write == atomic_load(&acc_write[i]);
        if (!ok && complete == i)
            fprintf(stderr,
                    "  %s: peer %d: bad %d closed %d code %u eof %d echo %d/%d write %d/%d\n",
                    wt_mode_name(mode), i, p->bad, p->closed, p->code, p->eof, p->got_echo,
                    atomic_load(&acc_echo[i]), p->got_write, atomic_load(&acc_write[i]));
        complete += ok;
    }
    EXPECT_EQ_INT(complete, nread);
    for (int i = 0; i < NSILENT; i++) {
        EXPECT(atomic_load(&acc_write[nread + i]) > 0);
        /* Dropped: after what the buffers held, the end of the connection (or a reset). */
        EXPECT(wt_wait_eof(&silent[i], 20000) == 0);
    }
    EXPECT(wt_server_stop(&s, 10000)); /* listen returned already: joins and frees */
    for (int i = 0; i < n; i++) {
        EXPECT_EQ_INT(atomic_load(&close_count[i]), 1);
        if (conns[i])
            wsc_conn_release(conns[i]);
    }
    for (int i = 0; i < nread; i++)
        wt_close(&peers[i].c);
    for (int i = 0; i < NSILENT; i++)
        wt_close(&silent[i]);
}

TEST(shutdown_with_1000_busy_connections)
{
    /* Both ends of each connection, a thread's wake-up in blocking mode, headroom. */
    raise_fd_limit((rlim_t)NCONN * 4 + 256);
    struct rlimit rl;
    int n = NCONN;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)NCONN * 4 + 256)
        n = (int)((rl.rlim_cur - 256) / 4);
    CHECK(n > NSILENT * 2);
    for (wt_mode m = 0; m < WT_MODES; m++)
        shutdown_busy(m, n);
}

/* Every peer answers: the call returns 0 as soon as the last one did, long before its bound. */
static void shutdown_all_answer(wt_mode mode)
{
    enum { N = 20 };
    wsc_server_config cfg;
    wt_server s;
    char path[16];
    reset();
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    for (int i = 0; i < N; i++) {
        memset(&peers[i], 0, sizeof peers[i]);
        snprintf(path, sizeof path, "/%d", i);
        CHECK(wt_connect(&peers[i].c, s.port) == 0);
        CHECK(wt_handshake(&peers[i].c, path) == 101);
    }
    CHECK(wt_wait_int(&opened, N, 10000));
    pthread_t reader;
    reader_arg ra = {0, N, wt_now_ms() + 30000};
    CHECK(pthread_create(&reader, NULL, reader_main, &ra) == 0);
    int64_t t0 = wt_now_ms();
    EXPECT_EQ_INT(wsc_server_shutdown(s.srv, 30000), 0);
    EXPECT(wt_now_ms() - t0 < 10000);
    pthread_join(reader, NULL);
    for (int i = 0; i < N; i++) {
        EXPECT(peers[i].closed && peers[i].code == 1001 && peers[i].eof && !peers[i].bad);
        EXPECT_EQ_INT(atomic_load(&close_count[i]), 1);
        wt_close(&peers[i].c);
        wsc_conn_release(conns[i]);
    }
    /* After listen returned, a second call has nothing to wait for. */
    EXPECT_EQ_INT(wsc_server_shutdown(s.srv, 1000), 0);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(shutdown_returns_once_every_peer_answered)
{
    for (wt_mode m = 0; m < WT_MODES; m++)
        shutdown_all_answer(m);
}

static wsc_server *stop_target;

/* Reads the peer until its close 1001 (the shutdown is under way), then stops the server. */
static void *stop_when_closing(void *arg)
{
    wt_client *a = arg;
    if (wt_expect_close(a, 10000) == 0 && a->close_code == 1001)
        wsc_server_stop(stop_target);
    return NULL;
}

/* A server in mode with one open peer (id 0). False when that failed. */
static bool start_with_one(wt_mode mode, wt_server *s, wt_client *a)
{
    wsc_server_config cfg;
    reset();
    wt_config(&cfg, mode);
    if (!wt_server_start(s, &handler, &cfg, NULL))
        return false;
    current = s->srv;
    return wt_connect(a, s->port) == 0 && wt_handshake(a, "/0") == 101 &&
           wt_wait_int(&opened, 1, 10000);
}

/* A peer that never answers, and a stop during the wait (a second SIGTERM): the rest is dropped at
   once, long before the bound. */
static void stop_during_shutdown(wt_mode mode)
{
    wt_server s;
    wt_client a;
    CHECK(start_with_one(mode, &s, &a));
    stop_target = s.srv;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stop_when_closing, &a) == 0);
    int64_t t0 = wt_now_ms();
    EXPECT_EQ_INT(wsc_server_shutdown(s.srv, 60000), WSC_ETIMEDOUT);
    int64_t took = wt_now_ms() - t0;
    pthread_join(t, NULL);
    /* Blocking mode's threads look at a stop once a second. */
    EXPECT(took < 5000);
    EXPECT_EQ_INT(a.close_code, 1001);
    EXPECT(wt_wait_eof(&a, 5000) == 0);
    EXPECT_EQ_INT(atomic_load(&close_count[0]), 1);
    wt_close(&a);
    wsc_conn_release(conns[0]);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(stop_during_shutdown_drops_the_rest_at_once)
{
    for (wt_mode m = 0; m < WT_MODES; m++)
        stop_during_shutdown(m);
}

/* From a callback the call is refused (the server would wait for that very callback); a server
   that never listened is refused too. */
TEST(shutdown_refused_from_a_callback_and_before_listen)
{
    for (wt_mode m = 0; m < WT_MODES; m++) {
        wt_server s;
        wt_client a;
        CHECK(start_with_one(m, &s, &a));
        EXPECT(wt_send_text(&a, "shutdown") == 0);
        EXPECT(wt_send_text(&a, "e0") == 0);
        EXPECT(wt_expect_message(&a, WT_OP_TEXT, "e0", 2, 10000));
        EXPECT_EQ_INT(atomic_load(&refused_in_callback), 1);
        wt_close(&a);
        EXPECT(wt_wait_int(&close_count[0], 1, 10000));
        wsc_conn_release(conns[0]);
        EXPECT(wt_server_stop(&s, 10000));
    }
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_POOL);
    wsc_server *srv = wsc_server_new(&handler, &cfg, NULL);
    CHECK(srv != NULL);
    EXPECT_EQ_INT(wsc_server_shutdown(srv, 100), WSC_ESTATE);
    wsc_server_free(srv);
}

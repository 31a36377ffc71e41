/* Promises of wsc.h that no other test holds the library to, each over real sockets: what init's
 * return values answer (-1 and WSC_E* codes: 400; WSC_REJECT_SILENT: nothing), worker_count above
 * one, wsc_conn_pong, wsc_conn_user, a client read loop's own ping callback, handshake.count and
 * its heap fallback, a non-default handshake.max_res_headers, thread_pool.buffer_size,
 * buffers.large_pool and large_size, a host name as the listen address, and a client read that
 * times out in the middle of a fragmented message and finds it whole on the next read. Where the
 * promise is about memory (which pool a buffer came from), the check reads the library's internal
 * state from inside a callback, when that state is the callback's. */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "conn/conn.h"
#include "conn/hs.h"
#include "mem/arena.h"
#include "mem/buffers.h"
#include "mem/pool.h"
#include "ws_test_client.h"
#include "wsc_client_steps.h"

static bool path_is(wsc_handshake *hs, const char *path)
{
    wsc_str p = wsc_handshake_path(hs);
    return p.len == strlen(path) && memcmp(p.ptr, path, p.len) == 0;
}

/* Waits (bounded) until *flag is set; for callbacks that must hold their thread a moment. */
static bool hold_until(atomic_int *flag)
{
    return wt_wait_int(flag, 1, 20000);
}

/* ---- init's return values ------------------------------------------------------------------- */

static atomic_int init_closes;

static int reject_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn, (void)app, (void)user;
    if (path_is(hs, "/minus-one"))
        return -1;
    if (path_is(hs, "/enomem"))
        return WSC_ENOMEM;
    if (path_is(hs, "/silent"))
        return WSC_REJECT_SILENT;
    if (path_is(hs, "/teapot"))
        return 418;
    return 0;
}

static int echo(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void count_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&init_closes, 1);
}

TEST(init_minus_one_and_error_codes_answer_400_and_only_reject_silent_is_silent)
{
    static const wsc_handler h = {.init = reject_init, .message = echo, .close = count_close};
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_config(&cfg, (wt_mode)mode);
        atomic_store(&init_closes, 0);
        CHECK(wt_server_start(&s, &h, &cfg, NULL));
        static const struct {
            const char *path;
            int status;
        } cases[] = {{"/minus-one", 400}, {"/enomem", 400}, {"/teapot", 418},
                     {"/silent", WT_EOF}, {"/", 101}};
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            wt_client c;
            EXPECT(wt_connect(&c, s.port) == 0);
            int st = wt_handshake(&c, cases[k].path);
            if (st != cases[k].status)
                fprintf(stderr, "  %s, %s: status %d, want %d\n", wt_mode_name((wt_mode)mode),
                        cases[k].path, st, cases[k].status);
            EXPECT_EQ_INT(st, cases[k].status);
            if (st != 101)
                EXPECT_EQ_INT(wt_wait_eof(&c, 5000), 0); /* closed after the answer, or none */
            wt_close(&c);
        }
        EXPECT(wt_wait_int(&init_closes, 1, 5000)); /* the accepted one only */
        EXPECT(wt_server_stop(&s, 10000));
        EXPECT_EQ_INT(atomic_load(&init_closes), 1);
    }
}

/* ---- worker_count ------------------------------------------------------------------------------ */

static atomic_int worker_blocked, worker_release;
static _Atomic(unsigned long) blocked_thread, other_thread;

static int worker_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    if (msg->len == 5 && memcmp(msg->data, "block", 5) == 0) {
        /* Inline handlers run on their worker: this one holds its worker's loop. */
        atomic_store(&blocked_thread, (unsigned long)pthread_self());
        atomic_store(&worker_blocked, 1);
        hold_until(&worker_release);
    } else {
        atomic_store(&other_thread, (unsigned long)pthread_self());
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

TEST(worker_count_above_one_serves_while_one_worker_is_held)
{
    static const wsc_handler h = {.message = worker_message};
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, WT_EPOLL_INLINE);
    cfg.worker_count = 3;
    atomic_store(&worker_blocked, 0);
    atomic_store(&worker_release, 0);
    CHECK(wt_server_start(&s, &h, &cfg, NULL));
    wt_client a, b;
    EXPECT(wt_open(&a, s.port) == 0);
    EXPECT(wt_send_text(&a, "block") == 0);
    EXPECT(wt_wait_int(&worker_blocked, 1, 10000));
    /* One worker is stuck in a's callback; another accepts, upgrades and echoes b. */
    EXPECT(wt_open(&b, s.port) == 0);
    EXPECT(wt_send_text(&b, "free") == 0);
    EXPECT(wt_expect_message(&b, WT_OP_TEXT, "free", 4, 10000));
    EXPECT(atomic_load(&other_thread) != atomic_load(&blocked_thread));
    atomic_store(&worker_release, 1);
    EXPECT(wt_expect_message(&a, WT_OP_TEXT, "block", 5, 10000));
    wt_close(&a);
    wt_close(&b);
    EXPECT(wt_server_stop(&s, 10000));
}

/* ---- wsc_conn_pong, wsc_conn_user, the client's ping callback ---------------------------------- */

typedef struct {
    int id;
    atomic_int *closes_seen;
} conn_state;

static atomic_int user_closes;

static int user_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)hs, (void)conn, (void)app;
    static atomic_int next;
    conn_state *st = malloc(sizeof *st);
    if (!st)
        return 500;
    st->id = atomic_fetch_add(&next, 1);
    st->closes_seen = &user_closes;
    *user = st;
    return 0;
}

/* "!pong": an unsolicited pong; "!user": whether wsc_conn_user gives this callback's user;
   "!ping": a ping; else an echo. A pong from the client comes back as "pong:" and its payload. */
static int cmd_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    if (msg->len == 5 && memcmp(msg->data, "!pong", 5) == 0)
        return wsc_conn_pong(conn, "unasked", 7);
    if (msg->len == 5 && memcmp(msg->data, "!ping", 5) == 0)
        return wsc_conn_ping(conn, "abc", 3);
    if (msg->len == 5 && memcmp(msg->data, "!user", 5) == 0) {
        bool same = user && wsc_conn_user(conn) == user;
        return wsc_conn_write_text(conn, same ? "user ok" : "user wrong", same ? 7 : 10);
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static int cmd_pong(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    (void)user;
    char b[140];
    int n = snprintf(b, sizeof b, "pong:%.*s", (int)len, (const char *)data);
    return wsc_conn_write_text(conn, b, (size_t)n);
}

static void user_close(wsc_conn *conn, void *user)
{
    conn_state *st = user;
    if (st && wsc_conn_user(conn) == user)
        atomic_fetch_add(st->closes_seen, 1);
    free(st);
}

static const wsc_handler cmd_handler = {
    .init = user_init, .message = cmd_message, .client_pong = cmd_pong, .close = user_close};

TEST(conn_pong_and_conn_user_in_every_mode)
{
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_config(&cfg, (wt_mode)mode);
        atomic_store(&user_closes, 0);
        CHECK(wt_server_start(&s, &cmd_handler, &cfg, NULL));
        wsc_client *c = cs_open(s.port, NULL);
        if (c) {
            EXPECT_EQ_INT(wsc_client_write_text(c, "!pong", 5), 0);
            wsc_msg m;
            EXPECT(wsc_client_read(c, &m) == 0 && m.type == WSC_PONG && m.len == 7 &&
                   memcmp(m.data, "unasked", 7) == 0);
            EXPECT_EQ_INT(wsc_client_write_text(c, "!user", 5), 0);
            EXPECT(cs_expect_text(c, "user ok"));
            EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
            wsc_client_free(c);
        }
        EXPECT(c);
        /* close found the same user through wsc_conn_user */
        EXPECT(wt_wait_int(&user_closes, 1, 5000));
        EXPECT(wt_server_stop(&s, 10000));
    }
}

typedef struct {
    pthread_mutex_t mu;
    char seen[4][32]; /* messages in order */
    int nseen;
    char ping[8];
    atomic_int pings, ended;
} ping_user;

static int loop_ping(wsc_client *c, void *user, const uint8_t *data, size_t len)
{
    ping_user *u = user;
    snprintf(u->ping, sizeof u->ping, "%.*s", (int)len, (const char *)data);
    atomic_fetch_add(&u->pings, 1);
    return wsc_client_write_pong(c, "custom", 6); /* not the ping's payload */
}

static int loop_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)c;
    ping_user *u = user;
    pthread_mutex_lock(&u->mu);
    if (u->nseen < 4)
        snprintf(u->seen[u->nseen++], sizeof u->seen[0], "%.*s", (int)msg->len,
                 (const char *)msg->data);
    bool end = msg->len == 3 && memcmp(msg->data, "end", 3) == 0;
    pthread_mutex_unlock(&u->mu);
    if (end)
        atomic_store(&u->ended, 1);
    return 0;
}

TEST(client_ping_callback_replaces_the_automatic_pong)
{
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, WT_EPOLL_POOL);
    CHECK(wt_server_start(&s, &cmd_handler, &cfg, NULL));
    wsc_client *c = cs_open(s.port, NULL);
    if (c) {
        static ping_user u = {.mu = PTHREAD_MUTEX_INITIALIZER};
        wsc_client_handler h = {.message = loop_message, .ping = loop_ping};
        pthread_t th;
        CHECK_EQ_INT(wsc_client_read_loop_thread(c, &h, &u, &th), 0);
        EXPECT_EQ_INT(wsc_client_write_text(c, "!ping", 5), 0);
        EXPECT(wt_wait_int(&u.pings, 1, 10000));
        /* The server handles its messages in order: any pong the loop sent for the ping came
           back before this echo. */
        EXPECT_EQ_INT(wsc_client_write_text(c, "end", 3), 0);
        EXPECT(wt_wait_int(&u.ended, 1, 10000));
        EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
        pthread_join(th, NULL);
        EXPECT(strcmp(u.ping, "abc") == 0);
        EXPECT_EQ_INT(u.nseen, 2);
        EXPECT(strcmp(u.seen[0], "pong:custom") == 0);
        EXPECT(strcmp(u.seen[1], "end") == 0);
        wsc_client_free(c);
    }
    EXPECT(c);
    EXPECT(wt_server_stop(&s, 10000));
}

/* ---- handshake.count, handshake.max_res_headers ------------------------------------------------ */

static atomic_int hs_in_init, hs_release;
static atomic_int hs_pooled[3]; /* by path: 1 pooled, 2 from the heap */
static atomic_int res_rc[6];

static int hs_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)app, (void)user;
    /* The handshake object's pool is the server's (immutable while it runs). */
    bool pooled = wsc__pool_owns(conn->w->ctx->hs_pool->pool, hs);
    int k = path_is(hs, "/a") ? 0 : path_is(hs, "/b") ? 1 : 2;
    atomic_store(&hs_pooled[k], pooled ? 1 : 2);
    if (k == 0) {
        atomic_store(&hs_in_init, 1);
        hold_until(&hs_release);
    }
    if (path_is(hs, "/headers")) {
        char name[24];
        for (int i = 0; i < 6; i++) {
            snprintf(name, sizeof name, "X-Extra-%d", i);
            atomic_store(&res_rc[i], wsc_handshake_add_response_header(hs, name, "v"));
        }
    }
    return 0;
}

static const wsc_handler hs_handler = {.init = hs_init, .message = echo};

/* a holds a handshake object inside init while b upgrades; then c. */
static void handshake_objects(unsigned count, int want_b)
{
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, WT_EPOLL_POOL); /* every request in a handshake object of the pool's */
    cfg.handshake.count = count;
    atomic_store(&hs_in_init, 0);
    atomic_store(&hs_release, 0);
    for (int i = 0; i < 3; i++)
        atomic_store(&hs_pooled[i], 0);
    CHECK(wt_server_start(&s, &hs_handler, &cfg, NULL));
    wt_client a, b, c;
    EXPECT(wt_connect(&a, s.port) == 0);
    EXPECT(wt_send_str(&a,
                       "GET /a HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: " WT_KEY "\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n",
                       5000) == 0);
    EXPECT(wt_wait_int(&hs_in_init, 1, 10000));
    EXPECT(wt_connect(&b, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&b, "/b"), 101);
    atomic_store(&hs_release, 1);
    EXPECT_EQ_INT(wt_read_head(&a, 10000, NULL, 0), 101);
    /* An echo on a: its init is over for the loop too, which has given its object back. */
    EXPECT(wt_send_text(&a, "back") == 0);
    EXPECT(wt_expect_message(&a, WT_OP_TEXT, "back", 4, 10000));
    EXPECT(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/c"), 101);
    EXPECT_EQ_INT(atomic_load(&hs_pooled[0]), 1);
    EXPECT_EQ_INT(atomic_load(&hs_pooled[1]), want_b);
    EXPECT_EQ_INT(atomic_load(&hs_pooled[2]), 1); /* a's object went back to the pool */
    wt_close(&a);
    wt_close(&b);
    wt_close(&c);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(handshake_count_bounds_the_pool_and_the_heap_takes_the_rest)
{
    handshake_objects(1, 2); /* one pooled object, held by a: b's comes from the heap */
    handshake_objects(0, 1); /* the default, 32: b's is pooled too */
}

TEST(max_res_headers_above_the_default)
{
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_config(&cfg, (wt_mode)mode);
        cfg.handshake.max_res_headers = 5;
        CHECK(wt_server_start(&s, &hs_handler, &cfg, NULL));
        wt_client c;
        char head[2048];
        EXPECT(wt_connect(&c, s.port) == 0);
        EXPECT_EQ_INT(wt_handshake_ex(&c, "/headers", NULL, 5000, head, sizeof head), 101);
        for (int i = 0; i < 5; i++) {
            char name[24];
            snprintf(name, sizeof name, "X-Extra-%d", i);
            EXPECT_EQ_INT(atomic_load(&res_rc[i]), 0);
            EXPECT(wt_head_has(head, name, "v"));
        }
        EXPECT_EQ_INT(atomic_load(&res_rc[5]), WSC_EFULL);
        EXPECT(!strstr(head, "X-Extra-5"));
        wt_close(&c);
        EXPECT(wt_server_stop(&s, 10000));
    }
}

/* ---- thread_pool.buffer_size ---------------------------------------------------------------- */

static atomic_int arena_heap; /* -1: nothing yet; else the heap bytes after two allocations */

static int arena_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    uint8_t *p = wsc_arena_alloc(msg->arena, 40000), *q = wsc_arena_alloc(msg->arena, 40000);
    if (!p || !q)
        return -1;
    memset(p, 1, 40000);
    memset(q, 2, 40000);
    atomic_store(&arena_heap, (int)wsc__arena_heap_bytes(msg->arena));
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

TEST(thread_pool_buffer_size_sets_the_arena_kept_per_thread)
{
    static const wsc_handler h = {.message = arena_message};
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        for (int big = 0; big < 2; big++) {
            wsc_server_config cfg;
            wt_server s;
            wt_config(&cfg, (wt_mode)mode);
            if (big)
                cfg.thread_pool.buffer_size = 100000; /* both allocations fit */
            atomic_store(&arena_heap, -1);
            CHECK(wt_server_start(&s, &h, &cfg, NULL));
            wt_client c;
            EXPECT(wt_open(&c, s.port) == 0);
            EXPECT(wt_send_text(&c, "arena") == 0);
            EXPECT(wt_expect_message(&c, WT_OP_TEXT, "arena", 5, 5000));
            int heap = atomic_load(&arena_heap);
            if (big)
                EXPECT_EQ_INT(heap, 0);
            else
                EXPECT(heap > 0); /* the default 32768 holds neither */
            wt_close(&c);
            EXPECT(wt_server_stop(&s, 10000));
        }
    }
}

/* ---- buffers.large_pool, buffers.large_size ----------------------------------------------------- */

static atomic_int large_pooled[4]; /* by the message's first byte: 1 pooled, 2 not */

static int large_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    if (msg->type == WSC_BINARY && msg->len && msg->data[0] < 4) {
        wsc__buf b = {msg->data, msg->len};
        atomic_store(&large_pooled[msg->data[0]],
                     wsc__buffers_pooled(conn->w->ctx->bufs, &b) ? 1 : 2);
    }
    return wsc_conn_write_text(conn, "got", 3);
}

/* A ping answered on c: the server has handled everything c sent before it, down to giving back
   the buffer of a message whose callback returned (the loop answers the ping only after that). */
static bool pong_after(wt_client *c)
{
    int seen = c->pongs_seen;
    bool ok = wt_send_frame(c, true, WT_OP_PING, "y", 1) == 0;
    for (int64_t end = wt_now_ms() + 10000; ok && c->pongs_seen == seen;) {
        wt_frame f;
        ok = wt_read_frame(c, &f, (int)(end - wt_now_ms())) == 0;
        if (ok && f.opcode == WT_OP_PONG)
            c->pongs_seen++;
        wt_frame_free(&f);
    }
    return ok;
}

/* The first fragment of a message (first byte id) of n bytes, then a ping whose pong tells that
   the server has read it: the message now waits in a buffer of its own. */
static bool start_message(wt_client *c, uint8_t id, size_t n)
{
    uint8_t *p = calloc(1, n);
    if (!p)
        return false;
    p[0] = id;
    bool ok = wt_send_frame(c, false, WT_OP_BIN, p, n) == 0;
    free(p);
    return ok && pong_after(c);
}

static bool finish_message(wt_client *c, size_t n)
{
    uint8_t *p = calloc(1, n);
    bool ok = p && wt_send_frame(c, true, WT_OP_CONT, p, n) == 0 &&
              wt_expect_message(c, WT_OP_TEXT, "got", 3, 10000);
    free(p);
    return ok;
}

TEST(large_pool_and_large_size_on_a_server)
{
    static const wsc_handler h = {.message = large_message};
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_config(&cfg, (wt_mode)mode);
        cfg.buffers.large_pool = 1;
        cfg.buffers.large_size = 12000;
        for (int i = 0; i < 4; i++)
            atomic_store(&large_pooled[i], 0);
        CHECK(wt_server_start(&s, &h, &cfg, NULL));
        wt_client a, b, c;
        EXPECT(wt_open(&a, s.port) == 0);
        EXPECT(wt_open(&b, s.port) == 0);
        EXPECT(wt_open(&c, s.port) == 0);
        /* a takes the one large buffer; b, meanwhile, the heap (b ends first: a buffer that grows
           takes a pooled one again when one is free). */
        EXPECT(start_message(&a, 0, 6000));
        EXPECT(start_message(&b, 1, 6000));
        EXPECT(finish_message(&b, 4000));
        EXPECT(finish_message(&a, 4000));
        EXPECT(pong_after(&a)); /* "got" comes from the callback; the buffer goes back after it */
        /* a gave it back: c gets it; then a message over large_size gets the heap. */
        EXPECT(start_message(&c, 2, 6000));
        EXPECT(finish_message(&c, 5000));
        c.pongs_seen = 0;
        EXPECT(start_message(&c, 3, 6000));
        EXPECT(finish_message(&c, 9000));
        EXPECT_EQ_INT(atomic_load(&large_pooled[0]), 1);
        EXPECT_EQ_INT(atomic_load(&large_pooled[1]), 2);
        EXPECT_EQ_INT(atomic_load(&large_pooled[2]), 1);
        EXPECT_EQ_INT(atomic_load(&large_pooled[3]), 2);
        if (!TEST_OK())
            fprintf(stderr, "  mode %s\n", wt_mode_name((wt_mode)mode));
        wt_close(&a);
        wt_close(&b);
        wt_close(&c);
        EXPECT(wt_server_stop(&s, 10000));
    }
}

/* ---- a host name as the address ------------------------------------------------------------- */

TEST(host_name_as_listen_address)
{
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.address = "localhost";
    CHECK(wt_server_start(&s, &cmd_handler, &cfg, NULL));
    EXPECT(s.port > 0);
    /* Resolved by the client too: whichever of 127.0.0.1 and ::1 the server took, it connects. */
    wsc_client_config cc = {.host = "localhost"};
    wsc_client *c = cs_open(s.port, &cc);
    if (c) {
        EXPECT_EQ_INT(wsc_client_write_text(c, "by name", 7), 0);
        EXPECT(cs_expect_text(c, "by name"));
        EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
        wsc_client_free(c);
    }
    EXPECT(c);
    EXPECT(wt_server_stop(&s, 10000));
}

/* ---- a client read timing out inside a fragmented message --------------------------------------- */

static int half_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    static const uint8_t first[] = {0x01, 3, 'h', 'e', 'l'}; /* text, not final */
    static const uint8_t rest[] = {0x80, 2, 'l', 'o'};       /* continuation, final */
    if (msg->len == 5 && memcmp(msg->data, "!half", 5) == 0) {
        int rc = wsc_conn_write_framed(conn, first, sizeof first);
        return rc ? rc : wsc_conn_ping(conn, "p", 1);
    }
    if (msg->len == 5 && memcmp(msg->data, "!rest", 5) == 0)
        return wsc_conn_write_framed(conn, rest, sizeof rest);
    return 0;
}

TEST(client_read_timeout_keeps_a_half_received_message)
{
    static const wsc_handler h = {.message = half_message};
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_config(&cfg, (wt_mode)mode);
        CHECK(wt_server_start(&s, &h, &cfg, NULL));
        wsc_client *c = cs_open(s.port, NULL);
        if (c) {
            wsc_msg m;
            EXPECT_EQ_INT(wsc_client_read_timeout(c, 10000), 0);
            EXPECT_EQ_INT(wsc_client_write_text(c, "!half", 5), 0);
            /* The ping came after the first fragment: by now that fragment has been read. */
            EXPECT(wsc_client_read(c, &m) == 0 && m.type == WSC_PING);
            EXPECT_EQ_INT(wsc_client_read_timeout(c, 200), 0);
            EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ETIMEDOUT);
            EXPECT_EQ_INT(wsc_client_write_text(c, "!rest", 5), 0);
            EXPECT_EQ_INT(wsc_client_read_timeout(c, 10000), 0);
            EXPECT(cs_expect_text(c, "hello"));
            EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
            wsc_client_free(c);
        }
        EXPECT(c);
        EXPECT(wt_server_stop(&s, 10000));
    }
}

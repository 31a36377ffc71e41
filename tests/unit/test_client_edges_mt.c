/* The client's sharp edges, against wsc's own server and a raw TCP peer: writes of const data (a
 * string literal) leave it alone, wsc_client_write_in_place masks the caller's buffer into exactly
 * the bytes on the wire, no_utf8_check, which close frame ended a connection and whose
 * (wsc_client_close_code) for every way it ends, and a read loop's close callback, run exactly once
 * also when the loop cannot start (before the handshake, another reader, no thread). */
#include "../test.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"
#include "ws_test_client.h"
#include "wsc_client_steps.h"

/* ---- pthread_create, failing on demand ---------------------------------------------------------
 * Interposed so that wsc_client_read_loop_thread meets a thread that cannot start. Every other call
 * goes on to the next definition (a sanitizer's interceptor, then the C library's). */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static atomic_int fail_next_thread;
static _Atomic(create_fn) real_create;

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (atomic_exchange(&fail_next_thread, 0))
        return EAGAIN;
    create_fn real = atomic_load(&real_create);
    if (!real) {
        void *sym = dlsym(RTLD_NEXT, "pthread_create");
        memcpy(&real, &sym, sizeof real); /* POSIX's way from dlsym to a function pointer */
        atomic_store(&real_create, real);
    }
    return real ? real(t, attr, fn, arg) : EAGAIN;
}

/* ---- the server ------------------------------------------------------------------------------- */

/* "!close N": closes with N; "!bad": invalid UTF-8 as text; "!big N": N bytes; else an echo. A
   pong comes back as the text "pong:" and its payload. */
static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%.*s", (int)(msg->len < 63 ? msg->len : 63),
             (const char *)msg->data);
    unsigned code;
    size_t n;
    if (msg->type == WSC_TEXT && sscanf(cmd, "!close %u", &code) == 1)
        return wsc_conn_close(conn, code, "bye");
    if (msg->type == WSC_TEXT && strcmp(cmd, "!bad") == 0)
        return wsc_conn_write(conn, WSC_TEXT, "ok\xC3\x28", 4);
    if (msg->type == WSC_TEXT && sscanf(cmd, "!big %zu", &n) == 1) {
        uint8_t *b = calloc(1, n);
        int rc = b ? wsc_conn_write_binary(conn, b, n) : -1;
        free(b);
        return rc;
    }
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static int on_pong(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    (void)user;
    char b[140];
    int n = snprintf(b, sizeof b, "pong:%.*s", (int)len, (const char *)data);
    return wsc_conn_write_text(conn, b, (size_t)n);
}

static const wsc_handler handler = {.message = on_message, .client_pong = on_pong};

static bool server_start(wt_server *s)
{
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.max_message_size = 1 << 20;
    return wt_server_start(s, &handler, &cfg, NULL);
}

/* ---- 1. writes ------------------------------------------------------------------------------- */

TEST(writes_take_const_data_and_leave_it_alone)
{
    wt_server s;
    CHECK(server_start(&s));
    wsc_client_config cfg = {.max_size = 1 << 20};
    wsc_client *c = cs_open(s.port, &cfg);
    if (c) {
        /* String literals live in read-only memory: masking them in place would crash. */
        EXPECT_EQ_INT(wsc_client_write_text(c, "hi", 2), 0);
        EXPECT(cs_expect(c, WSC_TEXT, "hi", 2));
        static const uint8_t bin[] = {0, 1, 2, 0xff};
        EXPECT_EQ_INT(wsc_client_write_binary(c, bin, sizeof bin), 0);
        EXPECT(cs_expect(c, WSC_BINARY, bin, sizeof bin));
        EXPECT_EQ_INT(wsc_client_write(c, WSC_TEXT, "typed", 5), 0);
        EXPECT(cs_expect(c, WSC_TEXT, "typed", 5));
        EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "old name", 8), 0);
        EXPECT(cs_expect(c, WSC_TEXT, "old name", 8));
        EXPECT_EQ_INT(wsc_client_write_pong(c, "lit", 3), 0);
        EXPECT(cs_expect(c, WSC_TEXT, "pong:lit", 8));
        EXPECT_EQ_INT(wsc_client_write_ping(c, "p", 1), 0);
        wsc_msg m;
        EXPECT(wsc_client_read(c, &m) == 0 && m.type == WSC_PONG && m.len == 1 && m.data[0] == 'p');

        /* Larger than the write buffer grows to (64 KiB): it goes out through it in pieces. */
        size_t n = 200000;
        uint8_t *src = malloc(n), *orig = malloc(n);
        CHECK(src && orig);
        wt_fill_bytes(src, n, 5);
        memcpy(orig, src, n);
        EXPECT_EQ_INT(wsc_client_write_binary(c, src, n), 0);
        EXPECT_EQ_MEM(src, orig, n);
        EXPECT(cs_expect(c, WSC_BINARY, orig, n));
        /* And a small one after it. */
        EXPECT_EQ_INT(wsc_client_write_text(c, "after", 5), 0);
        EXPECT(cs_expect(c, WSC_TEXT, "after", 5));
        free(src);
        free(orig);
        EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
        wsc_client_free(c);
    }
    EXPECT(c);
    EXPECT(wt_server_stop(&s, 10000));
}

/* A raw peer that answers the upgrade, records the frames it receives as they were on the wire,
   and answers a close frame. */
typedef struct {
    int ls, port;
    pthread_t tid;
    bool hang_up; /* close the TCP connection right after the 101 */
    int nframes;
    uint8_t key[4][4];
    size_t len[4];
    uint8_t wire[4][64]; /* payloads as received, still masked */
} peer;

static void *peer_run(void *arg)
{
    peer *p = arg;
    char head[4096], out[512];
    int fd = ct_accept(p->ls, 10000);
    if (fd < 0)
        return NULL;
    if (ct_read_head(fd, head, sizeof head, 5000) == 0) {
        close(fd); /* a client that never asked for the upgrade */
        return NULL;
    }
    size_t n = ct_build_101(head, NULL, out, sizeof out);
    ct_write_all(fd, out, n);
    while (!p->hang_up && p->nframes < 4) {
        uint8_t h[2];
        if (ct_read_n(fd, h, 2, 5000) != 2 || (h[1] & 0x7f) > 63 || !(h[1] & 0x80))
            break;
        int k = p->nframes;
        p->len[k] = h[1] & 0x7f;
        if (ct_read_n(fd, p->key[k], 4, 5000) != 4 ||
            ct_read_n(fd, p->wire[k], p->len[k], 5000) != p->len[k])
            break;
        p->nframes++;
        if ((h[0] & 0x0f) == 8) {
            uint8_t f[80], payload[64];
            for (size_t i = 0; i < p->len[k]; i++)
                payload[i] = p->wire[k][i] ^ p->key[k][i & 3];
            ct_write_all(fd, f, wt_build_frame(f, true, 0, 8, NULL, payload, p->len[k]));
            break;
        }
    }
    ct_read_n(fd, head, sizeof head, 2000); /* until the client hangs up */
    close(fd);
    return NULL;
}

static bool peer_start(peer *p, bool hang_up)
{
    memset(p, 0, sizeof *p);
    p->hang_up = hang_up;
    p->ls = ct_listen(&p->port);
    return p->ls >= 0 && pthread_create(&p->tid, NULL, peer_run, p) == 0;
}

static void peer_finish(peer *p)
{
    pthread_join(p->tid, NULL);
    close(p->ls);
}

TEST(write_in_place_leaves_the_wire_bytes_in_the_callers_buffer)
{
    peer p;
    CHECK(peer_start(&p, false));
    wsc_client *c = cs_open(p.port, NULL);
    char text[] = "masked in place";
    char kept[] = "copied, untouched";
    const size_t tn = sizeof text - 1, kn = sizeof kept - 1;
    if (c) {
        EXPECT_EQ_INT(wsc_client_write_in_place(c, WSC_TEXT, text, tn), 0);
        EXPECT_EQ_INT(wsc_client_write_text(c, kept, kn), 0);
        EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
        wsc_client_free(c);
    }
    peer_finish(&p);
    CHECK(c);
    CHECK_EQ_INT(p.nframes, 3);
    /* In place: the caller's buffer holds exactly what went on the wire, which unmasks to the text. */
    CHECK_EQ_INT(p.len[0], tn);
    EXPECT_EQ_MEM(text, p.wire[0], tn);
    for (size_t i = 0; i < tn; i++)
        EXPECT_EQ_INT(p.wire[0][i] ^ p.key[0][i & 3], "masked in place"[i]);
    /* Copied: the caller's buffer is as it was, and the wire unmasks to it all the same. */
    EXPECT_EQ_MEM(kept, "copied, untouched", kn);
    CHECK_EQ_INT(p.len[1], kn);
    for (size_t i = 0; i < kn; i++)
        EXPECT_EQ_INT(p.wire[1][i] ^ p.key[1][i & 3], kept[i]);
}

/* ---- 3. no_utf8_check -------------------------------------------------------------------------- */

TEST(invalid_text_passes_with_no_utf8_check_and_fails_with_1007_without)
{
    wt_server s;
    CHECK(server_start(&s));
    for (int check = 0; check < 2; check++) {
        wsc_client_config cfg = {.no_utf8_check = !check};
        wsc_client *c = cs_open(s.port, &cfg);
        EXPECT(c);
        if (!c)
            break;
        EXPECT_EQ_INT(wsc_client_write_text(c, "!bad", 4), 0);
        bool from_server = true;
        if (!check) {
            EXPECT(cs_expect(c, WSC_TEXT, "ok\xC3\x28", 4));
            EXPECT_EQ_INT(wsc_client_close_code(c, NULL), 0);
            EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
        } else {
            wsc_msg m;
            EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_EUTF8);
            EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 1007);
            EXPECT(!from_server);
        }
        wsc_client_free(c);
    }
    EXPECT(wt_server_stop(&s, 10000));
}

/* ---- 4. the close code and the read loop -------------------------------------------------------- */

TEST(close_code_tells_who_closed_and_with_what)
{
    wt_server s;
    CHECK(server_start(&s));
    bool from_server = false;

    /* The server closes first. */
    wsc_client *c = cs_open(s.port, NULL);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 0);
    EXPECT_EQ_INT(wsc_client_write_text(c, "!close 4001", 11), 0);
    wsc_msg m;
    EXPECT(wsc_client_read(c, &m) == 0 && m.type == WSC_CLOSE && m.close_code == 4001);
    EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 4001);
    EXPECT(from_server);
    wsc_client_free(c);

    /* We close first; the server's answer does not change it. */
    c = cs_open(s.port, NULL);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_close(c, 4002, "done"), 0);
    EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 4002);
    EXPECT(!from_server);
    EXPECT_EQ_INT(wsc_client_close_code(c, NULL), 4002);
    wsc_client_free(c);

    /* Too big for the client: it fails the connection with 1009. */
    wsc_client_config small = {.max_size = 1000};
    c = cs_open(s.port, &small);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_write_text(c, "!big 5000", 9), 0);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ETOOBIG);
    EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 1009);
    EXPECT(!from_server);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, 10000));
}

typedef struct {
    atomic_int closes, messages;
    atomic_int fail_messages; /* message returns -1 */
    pthread_t close_thread;
} loop_user;

static int loop_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)c, (void)msg;
    loop_user *u = user;
    atomic_fetch_add(&u->messages, 1);
    return atomic_load(&u->fail_messages) ? -1 : 0;
}

static void loop_close(wsc_client *c, void *user)
{
    (void)c;
    loop_user *u = user;
    u->close_thread = pthread_self();
    atomic_fetch_add(&u->closes, 1);
}

static const wsc_client_handler loop_handler = {.message = loop_message, .close = loop_close};

TEST(read_loop_result_and_close_code_tell_a_failure_from_a_broken_connection)
{
    wt_server s;
    CHECK(server_start(&s));
    bool from_server = true;

    /* The client failed it (invalid UTF-8): WSC_EUTF8, and 1007 was ours. */
    loop_user u = {0};
    wsc_client *c = cs_open(s.port, NULL);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_write_text(c, "!bad", 4), 0);
    EXPECT_EQ_INT(wsc_client_read_loop(c, &loop_handler, &u), WSC_EUTF8);
    EXPECT_EQ_INT(atomic_load(&u.closes), 1);
    EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 1007);
    EXPECT(!from_server);
    wsc_client_free(c);

    /* A callback failed: its value, and 1011 was ours. */
    loop_user f = {0};
    atomic_store(&f.fail_messages, 1);
    c = cs_open(s.port, NULL);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_write_text(c, "x", 1), 0);
    EXPECT_EQ_INT(wsc_client_read_loop(c, &loop_handler, &f), -1);
    EXPECT_EQ_INT(atomic_load(&f.closes), 1);
    EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 1011);
    EXPECT(!from_server);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, 10000));

    /* The TCP connection just ends (no close frame either way): WSC_ECLOSED and no code. */
    peer p;
    CHECK(peer_start(&p, true));
    loop_user b = {0};
    c = cs_open(p.port, NULL);
    if (c) {
        EXPECT_EQ_INT(wsc_client_read_loop(c, &loop_handler, &b), WSC_ECLOSED);
        EXPECT_EQ_INT(atomic_load(&b.closes), 1);
        EXPECT_EQ_INT(wsc_client_close_code(c, &from_server), 0);
        wsc_client_free(c);
    }
    EXPECT(c);
    peer_finish(&p);
}

TEST(read_loop_close_runs_once_when_the_loop_cannot_start)
{
    /* Before the handshake: no loop, WSC_ESTATE, and close all the same. */
    peer p;
    CHECK(peer_start(&p, false));
    wsc_client_config cfg = {.host = "127.0.0.1", .port = p.port};
    wsc_client *c = wsc_client_new(&cfg, NULL);
    CHECK(c);
    loop_user early = {0};
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ESTATE);
    EXPECT_EQ_INT(wsc_client_read_loop(c, &loop_handler, &early), WSC_ESTATE);
    EXPECT_EQ_INT(atomic_load(&early.closes), 1);
    EXPECT(pthread_equal(early.close_thread, pthread_self()));
    /* Bad arguments: nothing runs. */
    wsc_client_handler no_message = {.close = loop_close};
    EXPECT_EQ_INT(wsc_client_read_loop(c, &no_message, &early), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_read_loop(c, NULL, &early), WSC_EINVAL);
    EXPECT_EQ_INT(atomic_load(&early.closes), 1);
    wsc_client_free(c);
    peer_finish(&p);

    /* Another thread reads: wsc_client_read and a second loop (here or in a thread of its own)
       get WSC_ESTATE; each second loop's close runs once; the first loop goes on. */
    wt_server s;
    CHECK(server_start(&s));
    c = cs_open(s.port, NULL);
    CHECK(c);
    loop_user first = {0}, second = {0};
    pthread_t t1, t2;
    CHECK_EQ_INT(wsc_client_read_loop_thread(c, &loop_handler, &first, &t1), 0);
    EXPECT_EQ_INT(wsc_client_write_text(c, "running?", 8), 0);
    EXPECT(wt_wait_int(&first.messages, 1, 10000)); /* the first loop holds the reader role */
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ESTATE);
    EXPECT_EQ_INT(wsc_client_read_loop(c, &loop_handler, &second), WSC_ESTATE);
    EXPECT_EQ_INT(atomic_load(&second.closes), 1);
    EXPECT_EQ_INT(wsc_client_read_loop_thread(c, &loop_handler, &second, &t2), 0);
    pthread_join(t2, NULL);
    EXPECT_EQ_INT(atomic_load(&second.closes), 2);
    EXPECT_EQ_INT(atomic_load(&second.messages), 0);

    /* No thread can be started: WSC_EIO, and close runs in this thread before the return. */
    loop_user nothread = {0};
    pthread_t t3;
    atomic_store(&fail_next_thread, 1);
    EXPECT_EQ_INT(wsc_client_read_loop_thread(c, &loop_handler, &nothread, &t3), WSC_EIO);
    EXPECT_EQ_INT(atomic_load(&nothread.closes), 1);
    EXPECT(pthread_equal(nothread.close_thread, pthread_self()));

    /* The first loop was not disturbed: it still dispatches, and ends once with the close. */
    EXPECT_EQ_INT(wsc_client_write_text(c, "still", 5), 0);
    EXPECT(wt_wait_int(&first.messages, 2, 10000));
    EXPECT_EQ_INT(atomic_load(&first.closes), 0);
    EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    pthread_join(t1, NULL);
    EXPECT_EQ_INT(atomic_load(&first.closes), 1);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, 10000));
}

/* permessage-deflate end to end over sockets on 127.0.0.1: wsc's client against wsc's server in its
 * three shapes (handler pool, inline handlers, blocking), with and without context takeover and
 * with the shared compressor. Compressed writes from several threads at once on both sides keep
 * each thread's order and arrive intact (run under ThreadSanitizer too); what each side offers or
 * declines decides whether compression is on; bad settings are refused; a client refuses an answer
 * it did not offer, saying why. */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"
#include "ws_test_client.h"

#define T_MS 20000

enum { WRITERS = 3, PER_WRITER = 60 };

/* Message i of writer w: a JSON-like record of a size that varies, so some are over and some under
   a window, all compressible. */
static size_t make_msg(char *out, size_t cap, int w, int i)
{
    size_t n = (size_t)snprintf(out, cap, "w%d #%d ", w, i);
    size_t want = 20 + (size_t)((i * 997 + w * 131) % 3000);
    while (n + 40 < cap && n < want)
        n += (size_t)snprintf(out + n, cap - n, "{\"w\":%d,\"i\":%d,\"ok\":true},", w, i);
    return n;
}

/* ---- the server: "go" starts WRITERS threads that each write PER_WRITER messages ---- */

struct go {
    wsc_conn *conn;
    int w;
    atomic_int *errors;
};

static atomic_int server_errors;
static atomic_int compressed_seen; /* wsc_conn_compressed at init's end, as 0/1 + 1 */

static void *server_writer(void *arg)
{
    struct go *g = arg;
    char buf[4096];
    for (int i = 0; i < PER_WRITER; i++) {
        size_t n = make_msg(buf, sizeof buf, g->w, i);
        if (wsc_conn_write(g->conn, (i & 1) ? WSC_BINARY : WSC_TEXT, buf, n) != 0)
            atomic_fetch_add(g->errors, 1);
    }
    return NULL;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    atomic_store(&compressed_seen, wsc_conn_compressed(conn) ? 2 : 1);
    if (msg->len == 2 && memcmp(msg->data, "go", 2) == 0) {
        pthread_t th[WRITERS];
        struct go g[WRITERS];
        for (int w = 0; w < WRITERS; w++) {
            g[w] = (struct go){conn, w, &server_errors};
            if (pthread_create(&th[w], NULL, server_writer, &g[w]) != 0)
                return -1;
        }
        for (int w = 0; w < WRITERS; w++)
            pthread_join(th[w], NULL);
        return 0;
    }
    if (msg->len == 5 && memcmp(msg->data, "plain", 5) == 0)
        return wsc_conn_write_uncompressed(conn, WSC_TEXT, "as is", 5) == 0 ? 0 : -1;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0 ? 0 : -1;
}

static bool server_start(wt_server *s, wt_mode mode, const wsc_deflate_config *d)
{
    wsc_handler h = {.message = on_message};
    wsc_server_config cfg;
    wt_config(&cfg, mode);
    cfg.max_message_size = 4u << 20;
    if (d)
        cfg.deflate = *d;
    return wt_server_start(s, &h, &cfg, NULL);
}

static wsc_client *client_open(int port, const wsc_deflate_config *d, wsc_err *err)
{
    char url[64];
    wsc_client_config cfg = {.max_size = 4u << 20};
    if (d)
        cfg.deflate = *d;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", port);
    wsc_client *c = wsc_client_connect_url(url, &cfg, NULL, err);
    if (c)
        wsc_client_read_timeout(c, T_MS);
    return c;
}

/* Reads WRITERS * PER_WRITER messages and checks each writer's come in order, intact. */
static bool read_all_writers(wsc_client *c)
{
    int next[WRITERS] = {0};
    char want[4096];
    for (int k = 0; k < WRITERS * PER_WRITER; k++) {
        wsc_msg m;
        if (wsc_client_read(c, &m) != 0)
            return false;
        int w = -1, i = -1;
        bool ok = m.len > 4 && sscanf((const char *)m.data, "w%d #%d", &w, &i) == 2 && w >= 0 &&
                  w < WRITERS && i == next[w];
        if (ok) {
            size_t n = make_msg(want, sizeof want, w, i);
            ok = m.len == n && memcmp(m.data, want, n) == 0 &&
                 m.type == ((i & 1) ? WSC_BINARY : WSC_TEXT);
            next[w]++;
        }
        wsc_client_done(c, &m);
        if (!ok) {
            fprintf(stderr, "  message %d: writer %d item %d out of order or changed\n", k, w, i);
            return false;
        }
    }
    return true;
}

static bool echo(wsc_client *c, wsc_msg_type type, const void *data, size_t len)
{
    wsc_msg m;
    if (wsc_client_write(c, type, data, len) != 0 || wsc_client_read(c, &m) != 0)
        return false;
    bool ok = m.type == type && m.len == len && (len == 0 || memcmp(m.data, data, len) == 0);
    wsc_client_done(c, &m);
    return ok;
}

/* ---- the client: WRITERS threads write at once; the server echoes ---- */

static void *client_writer(void *arg)
{
    struct go *g = arg;
    wsc_client *c = (wsc_client *)(void *)g->conn;
    char buf[4096];
    for (int i = 0; i < PER_WRITER; i++) {
        size_t n = make_msg(buf, sizeof buf, g->w, i);
        if (wsc_client_write(c, (i & 1) ? WSC_BINARY : WSC_TEXT, buf, n) != 0)
            atomic_fetch_add(g->errors, 1);
    }
    return NULL;
}

static void session(wt_mode mode, const wsc_deflate_config *sd, const wsc_deflate_config *cd)
{
    wt_server s;
    wsc_err err;
    CHECK(server_start(&s, mode, sd));
    wsc_client *c = client_open(s.port, cd, &err);
    CHECK(c);
    EXPECT(wsc_client_compressed(c));

    /* Echoes of every size class, compressible and not. */
    static uint8_t big[1u << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)((i * 2654435761u) >> 13);
    EXPECT(echo(c, WSC_TEXT, "", 0));
    EXPECT(echo(c, WSC_TEXT, "Hello", 5));
    EXPECT(echo(c, WSC_TEXT, "Hello", 5));
    EXPECT(echo(c, WSC_BINARY, big, sizeof big));
    memset(big, 'a', sizeof big);
    EXPECT(echo(c, WSC_BINARY, big, sizeof big));
    EXPECT_EQ_INT(atomic_load(&compressed_seen), 2);

    /* An uncompressed write on a compressed connection. */
    wsc_msg m;
    EXPECT(wsc_client_write_uncompressed(c, WSC_TEXT, "plain", 5) == 0);
    EXPECT(wsc_client_read(c, &m) == 0 && m.len == 5 && memcmp(m.data, "as is", 5) == 0);
    wsc_client_done(c, &m);

    /* The server's threads write at once. */
    atomic_store(&server_errors, 0);
    EXPECT(wsc_client_write(c, WSC_TEXT, "go", 2) == 0);
    EXPECT(read_all_writers(c));
    EXPECT_EQ_INT(atomic_load(&server_errors), 0);

    /* The client's threads write at once; the echoes keep each one's order. */
    atomic_int client_errors = 0;
    pthread_t th[WRITERS];
    struct go g[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        g[w] = (struct go){(wsc_conn *)(void *)c, w, &client_errors};
        CHECK(pthread_create(&th[w], NULL, client_writer, &g[w]) == 0);
    }
    EXPECT(read_all_writers(c));
    for (int w = 0; w < WRITERS; w++)
        pthread_join(th[w], NULL);
    EXPECT_EQ_INT(atomic_load(&client_errors), 0);

    EXPECT(wsc_client_close(c, 0, NULL) == 0);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, T_MS));
}

static const wt_mode modes[] = {WT_EPOLL_POOL, WT_EPOLL_INLINE, WT_BLOCKING};

TEST(takeover_every_mode)
{
    ct_watchdog(300);
    wsc_deflate_config d = {.enabled = true};
    for (size_t i = 0; i < 3 && TEST_OK(); i++) {
        fprintf(stderr, "  mode %s\n", wt_mode_name(modes[i]));
        session(modes[i], &d, &d);
    }
}

TEST(no_takeover_small_windows)
{
    ct_watchdog(300);
    wsc_deflate_config sd = {.enabled = true,
                             .server_no_context_takeover = true,
                             .client_no_context_takeover = true,
                             .level = 1,
                             .retain_write_buffer = true};
    wsc_deflate_config cd = {.enabled = true,
                             .server_max_window_bits = 9,
                             .client_max_window_bits = 10,
                             .write_threshold = 100};
    for (size_t i = 0; i < 3 && TEST_OK(); i++) {
        fprintf(stderr, "  mode %s\n", wt_mode_name(modes[i]));
        session(modes[i], &sd, &cd);
    }
}

TEST(shared_compressor)
{
    ct_watchdog(300);
    wsc_deflate_config sd = {.enabled = true, .shared_compressor = true};
    wsc_deflate_config cd = {.enabled = true};
    session(WT_EPOLL_POOL, &sd, &cd);
    session(WT_EPOLL_INLINE, &sd, &cd);
}

/* Compression is on only when both sides want it. */
TEST(offered_or_not)
{
    ct_watchdog(120);
    wt_server s;
    wsc_err err;
    wsc_deflate_config on = {.enabled = true};
    CHECK(server_start(&s, WT_EPOLL_POOL, NULL));
    wsc_client *c = client_open(s.port, &on, &err);
    CHECK(c);
    EXPECT(!wsc_client_compressed(c));
    EXPECT(echo(c, WSC_TEXT, "Hello", 5));
    EXPECT_EQ_INT(atomic_load(&compressed_seen), 1);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, T_MS));

    CHECK(server_start(&s, WT_EPOLL_POOL, &on));
    c = client_open(s.port, NULL, &err);
    CHECK(c);
    EXPECT(!wsc_client_compressed(c));
    EXPECT(echo(c, WSC_TEXT, "Hello", 5));
    EXPECT_EQ_INT(atomic_load(&compressed_seen), 1);
    wsc_client_free(c);
    EXPECT(wt_server_stop(&s, T_MS));
}

TEST(bad_settings)
{
    wsc_handler h = {.message = on_message};
    wsc_server_config cfg;
    wsc_err err;
    const wsc_deflate_config bad[] = {
        {.enabled = true, .level = 10},
        {.enabled = true, .level = -1},
        {.enabled = true, .server_max_window_bits = 7},
        {.enabled = true, .client_max_window_bits = 16},
        {.enabled = true, .compress_window_bits = 8},
    };
    const char *names[] = {"deflate.level", "deflate.level", "deflate.server_max_window_bits",
                           "deflate.client_max_window_bits", "deflate.compress_window_bits"};
    for (size_t i = 0; i < 5; i++) {
        wt_config(&cfg, WT_EPOLL_POOL);
        cfg.deflate = bad[i];
        wsc_server *srv = wsc_server_new(&h, &cfg, &err);
        EXPECT(srv == NULL);
        EXPECT_EQ_INT(err.code, WSC_ECONFIG);
        EXPECT(strstr(err.message, names[i]) != NULL);
        if (srv)
            wsc_server_free(srv);
        wsc_client_config cc = {.host = "127.0.0.1", .port = 1, .deflate = bad[i]};
        wsc_client *c = wsc_client_new(&cc, &err);
        EXPECT(c == NULL);
        EXPECT_EQ_INT(err.code, WSC_ECONFIG);
        if (c)
            wsc_client_free(c);
    }
    /* Off: nothing is checked (a zeroed struct is the default). */
    wt_config(&cfg, WT_EPOLL_POOL);
    cfg.deflate = (wsc_deflate_config){.level = 42};
    wsc_server *srv = wsc_server_new(&h, &cfg, &err);
    EXPECT(srv != NULL);
    if (srv)
        wsc_server_free(srv);
}

/* A raw server answers the client's offer with `answer`; the client must refuse it with why. */
struct rogue {
    int ls;
    const char *answer;
};

static void *rogue_server(void *arg)
{
    struct rogue *r = arg;
    char head[4096], out[4096], extra[512];
    int fd = ct_accept(r->ls, T_MS);
    if (fd < 0)
        return NULL;
    if (ct_read_head(fd, head, sizeof head, T_MS) > 0) {
        snprintf(extra, sizeof extra, "Sec-WebSocket-Extensions: %s\r\n", r->answer);
        size_t n = ct_build_101(head, extra, out, sizeof out);
        if (n)
            ct_write_all(fd, out, n);
    }
    /* Wait for the client to hang up. */
    char b[256];
    while (ct_read_n(fd, b, sizeof b, T_MS) > 0) {
    }
    close(fd);
    return NULL;
}

TEST(client_refuses_bad_answers)
{
    ct_watchdog(120);
    const struct {
        wsc_deflate_config offer;
        const char *answer, *why;
    } cases[] = {
        {{.enabled = true},
         "permessage-deflate; client_max_window_bits=16",
         "client_max_window_bits"},
        {{.enabled = true}, "permessage-deflate; foo", "foo"},
        {{.enabled = true}, "x-webkit-deflate-frame", "x-webkit-deflate-frame"},
        {{.enabled = true}, "permessage-deflate, permessage-deflate", "permessage-deflate"},
        {{.enabled = true, .server_no_context_takeover = true},
         "permessage-deflate",
         "server_no_context_takeover"},
        {{.enabled = true, .client_max_window_bits = 10},
         "permessage-deflate; client_max_window_bits=12",
         "client_max_window_bits"},
        {{.enabled = true, .server_max_window_bits = 10},
         "permessage-deflate; server_max_window_bits=11",
         "server_max_window_bits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rogue r = {.answer = cases[i].answer};
        int port;
        r.ls = ct_listen(&port);
        CHECK(r.ls >= 0);
        pthread_t th;
        CHECK(pthread_create(&th, NULL, rogue_server, &r) == 0);
        wsc_err err;
        wsc_client *c = client_open(port, &cases[i].offer, &err);
        EXPECT(c == NULL);
        EXPECT_EQ_INT(err.code, WSC_EHANDSHAKE);
        if (!strstr(err.message, cases[i].why)) {
            fprintf(stderr, "  answer \"%s\": message \"%s\"\n", cases[i].answer, err.message);
            EXPECT(false);
        }
        if (c)
            wsc_client_free(c);
        pthread_join(th, NULL);
        close(r.ls);
    }
}

/* The Redis cluster module against a real redis-server (started here on a free loopback port with
 * its own temporary folder, stopped by PID): two servers in this process (one with a handler pool,
 * one inline) attached to it. A message published on either reaches the clients of both, once and
 * in order; a server subscribes in Redis only while it has local subscribers; while Redis is gone
 * publishes are local and return WSC_ENORELAY; after a restart both servers report the gap,
 * subscribe again and relay again. Bad URLs and a second attach are refused. Skipped (and says so)
 * without redis-server or without hiredis in this build. Every wait is bounded. */
#include "../test.h"
#include "ws_test_client.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

enum { T_MS = 30000, MSGS = 100 };

static const char *const REDIS = "/usr/bin/redis-server";

/* ---- redis-server ---- */

static pid_t redis_pid = -1;
static int redis_port;
static char redis_dir[256];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Sends one RESP command (its arguments' lengths given by strlen) and returns the reply's first
   bytes, NUL-terminated, in out; false when Redis does not answer. */
static bool redis_ask(const char *const *argv, int argc, char *out, size_t cap)
{
    wt_client c;
    char req[512];
    int n = snprintf(req, sizeof req, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(req + n, sizeof req - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (wt_connect(&c, redis_port) != 0)
        return false;
    bool ok = wt_send_raw(&c, req, (size_t)n, 5000) == 0;
    int64_t end = wt_now_ms() + 5000;
    while (ok && wt_now_ms() < end) {
        if (wt_fill(&c, end) < 0)
            break;
        if (c.len && c.buf[c.len - 1] == '\n' && (argv[0][0] != 'P' || argc < 3 ||
                                                   memmem(c.buf, c.len, "\r\n:", 3)))
            break;
    }
    size_t k = c.len < cap - 1 ? c.len : cap - 1;
    if (c.buf)
        memcpy(out, c.buf, k);
    out[k] = 0;
    wt_close(&c);
    return ok && k > 0;
}

static bool redis_ping(void)
{
    const char *argv[] = {"PING"};
    char out[64];
    return redis_ask(argv, 1, out, sizeof out) && strstr(out, "+PONG");
}

/* Subscribers Redis counts on channel wsc:<topic>; -1 when it does not answer. */
static int numsub(const char *topic)
{
    char chan[128], out[256];
    snprintf(chan, sizeof chan, "wsc:%s", topic);
    const char *argv[] = {"PUBSUB", "NUMSUB", chan};
    if (!redis_ask(argv, 3, out, sizeof out))
        return -1;
    char *p = strstr(out, "\r\n:");
    return p ? atoi(p + 3) : -1;
}

static bool wait_numsub(const char *topic, int want)
{
    int64_t end = wt_now_ms() + T_MS;
    while (wt_now_ms() < end) {
        if (numsub(topic) == want)
            return true;
        wt_sleep_ms(10);
    }
    fprintf(stderr, "  NUMSUB %s: %d, want %d\n", topic, numsub(topic), want);
    return false;
}

static bool redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    char *argv[] = {(char *)REDIS, "--port", port, "--bind", "127.0.0.1", "--dir", redis_dir,
                    "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile",
                    "redis.log", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&redis_pid, REDIS, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        redis_pid = -1;
        return false;
    }
    int64_t end = wt_now_ms() + T_MS;
    while (wt_now_ms() < end) {
        if (redis_ping())
            return true;
        wt_sleep_ms(10);
    }
    return false;
}

static void redis_stop(int sig)
{
    if (redis_pid <= 0)
        return;
    kill(redis_pid, sig);
    waitpid(redis_pid, NULL, 0);
    redis_pid = -1;
}

static void redis_cleanup(void)
{
    redis_stop(SIGKILL);
    if (redis_dir[0]) {
        char path[sizeof redis_dir + 16];
        snprintf(path, sizeof path, "%s/redis.log", redis_dir);
        unlink(path);
        rmdir(redis_dir);
    }
}

/* ---- the servers: clients join topic PATH; their messages are published to it ---- */

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn;
    (void)app;
    wsc_str p = wsc_handshake_path(hs);
    char *topic = calloc(1, p.len + 1);
    if (!topic)
        return 503;
    memcpy(topic, p.ptr, p.len);
    *user = topic;
    return 0;
}

static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    return wsc_conn_subscribe(conn, user);
}

static _Atomic(wsc_server *) servers[2];
static atomic_int closed;

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)conn;
    /* The test's clients name their server: "a ..." on server 0, "b ..." on server 1. */
    wsc_server *srv = atomic_load(&servers[msg->len && msg->data[0] == 'b']);
    int rc = wsc_server_publish(srv, user, msg->type, msg->data, msg->len);
    return rc == WSC_ENOMEM ? rc : 0;
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn;
    free(user);
    atomic_fetch_add(&closed, 1);
}

static const wsc_handler handler = {
    .init = on_init, .after_init = on_after_init, .message = on_message, .close = on_close};

static atomic_int gaps[2];
static atomic_long gap_not_relayed[2];

static void on_gap(const wsc_cluster_gap *g, void *user)
{
    int i = (int)(intptr_t)user;
    atomic_store(&gap_not_relayed[i], (long)g->not_relayed); /* before the count the test waits for */
    atomic_fetch_add(&gaps[i], 1);
}

static bool wait_connected(wsc_cluster *cl, bool want)
{
    int64_t end = wt_now_ms() + T_MS;
    wsc_cluster_stats st;
    while (wt_now_ms() < end) {
        wsc_cluster_get_stats(cl, &st);
        if (st.connected == want)
            return true;
        wt_sleep_ms(10);
    }
    return false;
}

/* Reads until n messages from each of the senders "a" and "b" arrived: each once, in order. */
static bool read_all(wt_client *c, int n_a, int n_b, int first)
{
    int next[2] = {first, first};
    while (next[0] < first + n_a || next[1] < first + n_b) {
        unsigned type;
        uint8_t *d;
        size_t len;
        if (wt_read_message(c, &type, &d, &len, T_MS) != 0) {
            fprintf(stderr, "  missing: a up to %d, b up to %d\n", next[0], next[1]);
            return false;
        }
        int seq = -1;
        int who = d[0] == 'b';
        bool ok = sscanf((char *)d + 1, " %d", &seq) == 1 && seq == next[who];
        if (!ok)
            fprintf(stderr, "  got %s, want %c %d\n", (char *)d, who ? 'b' : 'a', next[who]);
        free(d);
        if (!ok)
            return false;
        next[who]++;
    }
    return true;
}

static bool have_redis(void)
{
    if (access(REDIS, X_OK) != 0) {
        printf("skipped: no %s (Debian: apt-get install redis-server)\n", REDIS);
        return false;
    }
    wsc_err err;
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_INLINE);
    wsc_server *s = wsc_server_new(&handler, &cfg, &err);
    if (!s)
        return false;
    wsc_cluster *cl = wsc_cluster_redis_attach(s, "redis://127.0.0.1:1", NULL, &err);
    bool ok = cl != NULL;
    if (!ok)
        printf("skipped: %s\n", err.message);
    wsc_cluster_detach(cl);
    wsc_server_free(s);
    return ok;
}

TEST(two_servers_share_topics_and_survive_a_redis_restart)
{
    if (!have_redis())
        return;
    const char *tmp = getenv("TMPDIR");
    snprintf(redis_dir, sizeof redis_dir, "%s/wsc-redis-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CHECK(mkdtemp(redis_dir));
    atexit(redis_cleanup);
    redis_port = free_port();
    CHECK(redis_port > 0 && redis_start());

    wt_server s[2];
    wsc_cluster *cl[2] = {NULL, NULL};
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
    for (int i = 0; i < 2; i++) {
        wsc_server_config cfg;
        wt_config(&cfg, i == 0 ? WT_EPOLL_POOL : WT_EPOLL_INLINE);
        CHECK(wt_server_start(&s[i], &handler, &cfg, NULL));
        atomic_store(&servers[i], s[i].srv);
        wsc_cluster_opts opts = {.gap = on_gap, .user = (void *)(intptr_t)i,
                                 .reconnect_min_ms = 20, .reconnect_max_ms = 200};
        wsc_err err;
        cl[i] = wsc_cluster_redis_attach(s[i].srv, url, &opts, &err);
        CHECK(cl[i]);
        EXPECT(wsc_cluster_redis_attach(s[i].srv, url, &opts, &err) == NULL &&
               err.code == WSC_ESTATE);
    }
    for (int i = 0; i < 2; i++)
        CHECK(wait_connected(cl[i], true));

    /* Clients "a" on server 0 (two of them), "b" on server 1. */
    wt_client a1, a2, b1;
    CHECK(wt_connect(&a1, s[0].port) == 0 && wt_handshake(&a1, "/t") == 101);
    CHECK(wt_connect(&a2, s[0].port) == 0 && wt_handshake(&a2, "/t") == 101);
    CHECK(wt_connect(&b1, s[1].port) == 0 && wt_handshake(&b1, "/t") == 101);
    /* One Redis subscription per server, however many local subscribers. */
    CHECK(wait_numsub("/t", 2));

    char m[32];
    for (int i = 0; i < MSGS; i++) {
        snprintf(m, sizeof m, "a %d", i);
        EXPECT(wt_send_text(&a1, m) == 0);
        snprintf(m, sizeof m, "b %d", i);
        EXPECT(wt_send_text(&b1, m) == 0);
    }
    EXPECT(read_all(&a1, MSGS, MSGS, 0));
    EXPECT(read_all(&a2, MSGS, MSGS, 0));
    EXPECT(read_all(&b1, MSGS, MSGS, 0));
    /* The cluster thread counts a message after delivering it: the count may trail the reads. */
    wsc_cluster_stats st0, st1;
    int64_t end = wt_now_ms() + T_MS;
    do {
        wsc_cluster_get_stats(cl[0], &st0);
        wsc_cluster_get_stats(cl[1], &st1);
        if (st0.received >= MSGS && st1.received >= MSGS)
            break;
        wt_sleep_ms(5);
    } while (wt_now_ms() < end);
    EXPECT_EQ_INT(st0.relayed, MSGS);
    EXPECT_EQ_INT(st1.relayed, MSGS);
    EXPECT_EQ_INT(st0.received, MSGS); /* b's: a's own echo is dropped */
    EXPECT_EQ_INT(st1.received, MSGS);

    /* Redis goes away: publishes stay local and say so. */
    redis_stop(SIGKILL);
    for (int i = 0; i < 2; i++)
        EXPECT(wait_connected(cl[i], false));
    EXPECT_EQ_INT(wsc_server_publish(s[0].srv, "/t", WSC_TEXT, "a 100", 5), WSC_ENORELAY);
    EXPECT(read_all(&a1, 1, 0, MSGS));
    EXPECT(read_all(&a2, 1, 0, MSGS));

    /* Back: both report the gap, subscribe again and relay again. */
    CHECK(redis_start());
    for (int i = 0; i < 2; i++) {
        EXPECT(wt_wait_int(&gaps[i], 1, T_MS));
        EXPECT(wait_connected(cl[i], true));
    }
    EXPECT(atomic_load(&gap_not_relayed[0]) >= 1);
    CHECK(wait_numsub("/t", 2));
    EXPECT(wt_send_text(&b1, "b 100") == 0);
    EXPECT(read_all(&a1, 0, 1, MSGS));
    EXPECT(read_all(&a2, 0, 1, MSGS));
    EXPECT(read_all(&b1, 0, 1, MSGS));
    EXPECT(wsc_server_publish(s[0].srv, "/t", WSC_TEXT, "a 101", 5) == 2);
    EXPECT(read_all(&b1, 1, 0, MSGS + 1));
    wsc_cluster_get_stats(cl[1], &st1);
    EXPECT_EQ_INT(st1.gaps, 1);

    /* The last local subscriber leaves: that server unsubscribes in Redis. */
    wt_close(&b1);
    EXPECT(wait_numsub("/t", 1));
    wt_close(&a1);
    wt_close(&a2);
    EXPECT(wait_numsub("/t", 0));
    EXPECT(wt_wait_int(&closed, 3, T_MS));

    for (int i = 0; i < 2; i++) {
        wsc_cluster_detach(cl[i]);
        EXPECT(wt_server_stop(&s[i], T_MS));
    }
    redis_stop(SIGTERM);
}

TEST(bad_urls_are_refused)
{
    wsc_err err;
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_INLINE);
    wsc_server *s = wsc_server_new(&handler, &cfg, &err);
    CHECK(s);
    const char *bad[] = {NULL, "", "http://127.0.0.1:6379", "redis://", "redis://h:0",
                         "redis://u:p@h:1", "redis://h:1/2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        EXPECT(wsc_cluster_redis_attach(s, bad[i], NULL, &err) == NULL);
        EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    }
    wsc_cluster_opts o = {.prefix = "0123456789012345678901234567890123456789012345678901234567890123456789"};
    EXPECT(wsc_cluster_redis_attach(s, "redis://h", &o, &err) == NULL && err.code == WSC_ECONFIG);
    EXPECT(wsc_cluster_redis_attach(NULL, "redis://h", NULL, &err) == NULL);
    wsc_cluster_detach(NULL);
    wsc_server_free(s);
}

/* One listen per server: a second wsc_server_listen_thread or wsc_server_listen, while the first
 * runs, at the same time as it, or after it returned, fails with WSC_ESTATE and leaves the running
 * server alone. And wsc_server_stop, which a signal handler may call, leaves errno as it was,
 * also when its wake-up write fails. */
#include <dirent.h>

#include "../test.h"
#include "ws_test_client.h"

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static const wsc_handler handler = {.message = on_message};

static bool echo_once(int port)
{
    wt_client c;
    if (wt_open(&c, port) != 0)
        return false;
    bool ok = wt_send_text(&c, "still serving") == 0 &&
              wt_expect_message(&c, WT_OP_TEXT, "still serving", 13, 5000);
    wt_close(&c);
    return ok;
}

static void listen_twice(wt_mode mode)
{
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    pthread_t second;
    EXPECT_EQ_INT(wsc_server_listen_thread(s.srv, NULL, &second), WSC_ESTATE);
    EXPECT_EQ_INT(wsc_server_listen(s.srv, NULL), WSC_ESTATE);
    EXPECT(echo_once(s.port));
    EXPECT_EQ_INT(wsc_server_listen_thread(s.srv, NULL, &second), WSC_ESTATE);
    EXPECT(echo_once(s.port));
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(listen_while_the_listen_thread_runs)
{
    for (int m = 0; m < WT_MODES; m++)
        listen_twice((wt_mode)m);
}

TEST(listen_after_listen_returned)
{
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_POOL);
    wsc_server *srv = wsc_server_new(&handler, &cfg, NULL);
    CHECK(srv);
    pthread_t th;
    CHECK(wsc_server_listen_thread(srv, NULL, &th) == 0);
    wsc_server_stop(srv);
    pthread_join(th, NULL);
    EXPECT_EQ_INT(wsc_server_listen_thread(srv, NULL, &th), WSC_ESTATE);
    EXPECT_EQ_INT(wsc_server_listen(srv, NULL), WSC_ESTATE);
    wsc_server_free(srv);
}

/* Two threads call wsc_server_listen_thread at once: exactly one wins. */
struct racer {
    wsc_server *srv;
    pthread_barrier_t *go;
    pthread_t listen_thread;
    int rc;
};

static void *race(void *p)
{
    struct racer *r = p;
    pthread_barrier_wait(r->go);
    r->rc = wsc_server_listen_thread(r->srv, NULL, &r->listen_thread);
    return NULL;
}

TEST(two_threads_start_one_server)
{
    for (int m = 0; m < WT_MODES; m++) {
        wsc_server_config cfg;
        wt_config(&cfg, (wt_mode)m);
        wsc_server *srv = wsc_server_new(&handler, &cfg, NULL);
        CHECK(srv);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        struct racer r[2] = {{srv, &go, 0, 1}, {srv, &go, 0, 1}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            CHECK(pthread_create(&t[i], NULL, race, &r[i]) == 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        int won = r[0].rc == 0 ? 0 : 1;
        EXPECT_EQ_INT(r[won].rc, 0);
        EXPECT_EQ_INT(r[1 - won].rc, WSC_ESTATE);
        EXPECT(echo_once(wsc_server_port(srv)));
        wsc_server_stop(srv);
        if (r[won].rc == 0)
            pthread_join(r[won].listen_thread, NULL);
        if (r[1 - won].rc == 0)
            pthread_join(r[1 - won].listen_thread, NULL);
        wsc_server_free(srv);
    }
}

/* ---- stop and errno ---- */

/* The eventfds this process has open, as a bit set of descriptor numbers below 1024. */
static void eventfds(uint64_t set[16])
{
    memset(set, 0, 16 * sizeof *set);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[64], target[64];
        int fd = atoi(e->d_name);
        if (fd <= 0 || fd >= 1024)
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strstr(target, "eventfd"))
                set[fd / 64] |= 1ull << (fd % 64);
        }
    }
    closedir(d);
}

static wsc_server *sig_srv;
static volatile sig_atomic_t sig_errno_before, sig_errno_after;

static void on_sigusr1(int sig)
{
    (void)sig;
    sig_errno_before = errno;
    wsc_server_stop(sig_srv);
    sig_errno_after = errno;
}

TEST(stop_keeps_errno_when_its_write_fails)
{
    wsc_server_config cfg;
    wt_config(&cfg, WT_EPOLL_POOL);
    uint64_t before[16], after[16];
    eventfds(before);
    wsc_server *srv = wsc_server_new(&handler, &cfg, NULL);
    CHECK(srv);
    eventfds(after);
    /* The server's stop descriptor is the eventfd it opened. Fill its counter to the top, so that
       stop's one write fails (EAGAIN) as it would after ~2^64 stops. */
    int stop_fd = -1;
    for (int i = 0; i < 1024 && stop_fd < 0; i++)
        if ((after[i / 64] & ~before[i / 64]) & (1ull << (i % 64)))
            stop_fd = i;
    CHECK(stop_fd >= 0);
    uint64_t full = UINT64_MAX - 1;
    CHECK(write(stop_fd, &full, sizeof full) == (ssize_t)sizeof full);

    errno = ERANGE;
    wsc_server_stop(srv);
    EXPECT_EQ_INT(errno, ERANGE);

    /* From a real signal handler, interrupting code that looks at errno afterwards. */
    sig_srv = srv;
    struct sigaction sa = {.sa_handler = on_sigusr1}, old;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0);
    errno = EDOM;
    raise(SIGUSR1);
    int seen = errno;
    EXPECT_EQ_INT(seen, EDOM);
    EXPECT_EQ_INT(sig_errno_after, sig_errno_before);
    sigaction(SIGUSR1, &old, NULL);
    wsc_server_free(srv);
}

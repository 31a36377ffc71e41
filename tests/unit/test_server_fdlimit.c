/* Out of file descriptors: the worker pauses accepting instead of spinning on the listener, and
 * serves the waiting connections once descriptors are available again. */
#include "../test.h"
#include "ws_test_client.h"

#include <sys/resource.h>

static int echo(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static const wsc_handler handler = {.message = echo};

static int highest_fd(void)
{
    int fd = dup(0);
    close(fd);
    return fd;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void emfile(wt_mode mode)
{
    enum { N = 6 };
    wsc_server_config cfg;
    wt_server s;
    wt_client c[N];
    struct rlimit old, low;
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    /* The client sockets exist before the limit drops (connect needs no new descriptor). */
    for (int i = 0; i < N; i++) {
        wt_init(&c[i]);
        c[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        CHECK(c[i].fd >= 0);
    }
    CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
    low = old;
    low.rlim_cur = (rlim_t)highest_fd(); /* nothing more can be opened */
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < N; i++)
        EXPECT(connect(c[i].fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    /* The server cannot accept them; it must not burn the CPU meanwhile. */
    double t0 = cpu_seconds();
    wt_sleep_ms(1500);
    double used = cpu_seconds() - t0;
    EXPECT(used < 1.0);
    if (used >= 1.0)
        fprintf(stderr, "  %.2f s of CPU in 1.5 s while out of descriptors\n", used);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    for (int i = 0; i < N; i++) {
        fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
        EXPECT_EQ_INT(wt_handshake(&c[i], "/"), 101);
        EXPECT(wt_send_text(&c[i], "back") == 0);
        EXPECT(wt_expect_message(&c[i], WT_OP_TEXT, "back", 4, 5000));
        wt_close(&c[i]);
    }
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(emfile_pauses_accepts_then_recovers)
{
    emfile(WT_EPOLL_INLINE);
    emfile(WT_BLOCKING);
}

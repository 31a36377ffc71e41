/* An application that forks (system(), popen()) while the server runs: the child inherits every
 * descriptor, the server's sockets included, and may keep them open. epoll watches the open file
 * description, not the descriptor number, so a connection's socket closed in the parent while the
 * child still holds it would stay in the worker's epoll set, and a later event on it would reach
 * the freed connection (ASan: heap-use-after-free). The server must remove each socket from its
 * poller before closing it. Every mode runs, blocking too (it polls per call, so it never had the
 * problem). */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../test.h"
#include "ws_test_client.h"

static atomic_int closes;

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    if (msg->len == 3 && memcmp(msg->data, "bye", 3) == 0)
        return wsc_conn_close(conn, WSC_CLOSE_NORMAL, "bye");
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&closes, 1);
}

static const wsc_handler handler = {.message = on_message, .close = on_close};

/* A child that holds a copy of every descriptor of this process until it is killed, or its
   parent ends (a failed test aborts: the child must not outlive it, nor keep its output open).
   Only async-signal-safe calls after fork: the parent has threads. */
static pid_t fork_holder(void)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(0);
        close(STDOUT_FILENO);
        close(STDERR_FILENO);
        alarm(120); /* the watchdog's handler ends it */
        for (;;)
            pause();
    }
    return pid;
}

static void end_holder(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
}

static bool echo(wt_client *c, const char *text)
{
    return wt_send_text(c, text) == 0 && wt_expect_message(c, WT_OP_TEXT, text, strlen(text), 5000);
}

enum { ROUNDS = 4, PER_ROUND = 3 };

/* Makes an event on the server's side of c's connection: data, or for a peer that sent its FIN
   already, a reset. */
static void poke(wt_client *c, int i)
{
    if (i % 3 == 2)
        wt_reset(c);
    else if (c->fd >= 0)
        wt_send_str(c, "still here", 1000);
}

static void closed_while_a_child_holds_it(wt_mode mode)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client old[ROUNDS * PER_ROUND];
    atomic_store(&closes, 0);
    wt_config(&cfg, mode);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    int nold = 0;
    for (int round = 0; round < ROUNDS && TEST_OK(); round++) {
        wt_client c[PER_ROUND];
        int n = 0;
        for (; n < PER_ROUND; n++)
            if (wt_open(&c[n], s.port) != 0)
                break;
        EXPECT_EQ_INT(n, PER_ROUND);
        for (int i = 0; i < n; i++)
            EXPECT(echo(&c[i], "before the fork"));
        pid_t child = fork_holder();
        EXPECT(child > 0);
        /* Each connection ends in its own way; the server closes its socket every time, but the
           child keeps the socket itself alive (so no EOF reaches the peer). */
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) { /* the peer closes */
                EXPECT(wt_send_close(&c[i], 1000, NULL) == 0);
                EXPECT(wt_expect_close(&c[i], 5000) == 0);
            } else if (i % 3 == 1) { /* the server closes */
                EXPECT(wt_send_text(&c[i], "bye") == 0);
                EXPECT(wt_expect_close(&c[i], 5000) == 0);
                EXPECT(wt_send_close(&c[i], 1000, NULL) == 0);
            } else { /* a protocol error (unmasked), then the peer's FIN */
                EXPECT(wt_send_frame_ex(&c[i], true, 0, WT_OP_TEXT, false, "x", 1, 5000) == 0);
                EXPECT(wt_expect_close(&c[i], 5000) == 0 && c[i].close_code == 1002);
                shutdown(c[i].fd, SHUT_WR);
            }
        }
        EXPECT(wt_wait_int(&closes, nold + n, 5000));
        wt_sleep_ms(50); /* the loop frees what it finished */
        /* The peers go on talking to sockets the server no longer has: each write is an event
           on a description the child keeps open. New connections take the freed memory and
           descriptor numbers meanwhile. */
        wt_client fresh;
        EXPECT(wt_open(&fresh, s.port) == 0);
        for (int k = 0; k < 3; k++) {
            for (int i = 0; i < n; i++)
                poke(&c[i], i);
            for (int i = 0; i < nold; i++)
                poke(&old[i], i);
            EXPECT(echo(&fresh, "after the close"));
            wt_sleep_ms(20);
        }
        wt_send_close(&fresh, 1000, NULL);
        EXPECT(wt_expect_close(&fresh, 5000) == 0);
        EXPECT(wt_wait_eof(&fresh, 5000) == 0); /* no child holds this one */
        wt_close(&fresh);
        EXPECT(wt_wait_int(&closes, nold + n + 1, 5000));
        atomic_fetch_sub(&closes, 1);
        for (int i = 0; i < n; i++)
            old[nold++] = c[i];
        if (child > 0)
            end_holder(child);
    }
    /* The child is gone: the last copies close, and those sockets hang up. */
    for (int i = 0; i < nold; i++) {
        poke(&old[i], i);
        wt_close(&old[i]);
    }
    wt_sleep_ms(50);
    wt_client last;
    EXPECT(wt_open(&last, s.port) == 0);
    EXPECT(echo(&last, "the server still runs"));
    wt_close(&last);
    EXPECT(wt_server_stop(&s, 10000));
}

TEST(socket_closed_while_a_forked_child_holds_it)
{
    for (int m = 0; m < WT_MODES; m++) {
        fprintf(stderr, "  mode %s\n", wt_mode_name((wt_mode)m));
        closed_while_a_child_holds_it((wt_mode)m);
    }
}

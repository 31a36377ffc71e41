/* Subprotocol negotiation end to end, over sockets on 127.0.0.1: wsc's client against wsc's server
 * in its three shapes (handler pool, inline handlers, blocking), and each against Debian's
 * python3-websockets as the independent peer. The server sees the offered list (several lines,
 * odd whitespace), picks one, none, or fails to pick one that was not offered; the client reports
 * the choice, and refuses an answer it did not offer. */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"
#include "ws_test_client.h"

#define T_MS 10000

/* What init saw and what its calls returned, for the main thread: guarded by mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char seen_list[256];
static int rc_unknown, rc_first, rc_second, rc_header;

static void record_list(const wsc_handshake *hs)
{
    char b[sizeof seen_list];
    size_t it = 0, n = 0;
    wsc_str p;
    b[0] = '\0';
    while (wsc_handshake_protocols(hs, &it, &p) && n < sizeof b - 1)
        n += (size_t)snprintf(b + n, sizeof b - n, "%.*s|", (int)p.len, p.ptr);
    pthread_mutex_lock(&mu);
    memcpy(seen_list, b, sizeof b);
    pthread_mutex_unlock(&mu);
}

/* Paths: /second picks the second name offered; /none picks none; /unknown tries a name that was
   not offered, then the first one twice, then adds the header by hand; /rogue answers "rogue"
   through a raw header, as a broken server would. */
static int init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn, (void)app, (void)user;
    wsc_str path = wsc_handshake_path(hs);
    record_list(hs);
    if (path.len == 7 && memcmp(path.ptr, "/second", 7) == 0) {
        size_t it = 0;
        wsc_str p;
        char name[64];
        if (!wsc_handshake_protocols(hs, &it, &p) || !wsc_handshake_protocols(hs, &it, &p) ||
            p.len >= sizeof name)
            return 0;
        snprintf(name, sizeof name, "%.*s", (int)p.len, p.ptr);
        return wsc_handshake_select_protocol(hs, name) == 0 ? 0 : 500;
    }
    if (path.len == 8 && memcmp(path.ptr, "/unknown", 8) == 0) {
        int a = wsc_handshake_select_protocol(hs, "nope");
        int b = wsc_handshake_select_protocol(hs, "one");
        int c = wsc_handshake_select_protocol(hs, "one");
        int d = wsc_handshake_add_response_header(hs, "sec-websocket-protocol", "two");
        pthread_mutex_lock(&mu);
        rc_unknown = a, rc_first = b, rc_second = c, rc_header = d;
        pthread_mutex_unlock(&mu);
        return 0;
    }
    if (path.len == 6 && memcmp(path.ptr, "/rogue", 6) == 0) {
        int d = wsc_handshake_add_response_header(hs, "Sec-WebSocket-Protocol", "rogue");
        int b = wsc_handshake_select_protocol(hs, "one"); /* a second answer is refused */
        pthread_mutex_lock(&mu);
        rc_header = d, rc_second = b;
        pthread_mutex_unlock(&mu);
    }
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len) == 0 ? 0 : -1;
}

static bool server_start(wt_server *s, wt_mode mode)
{
    wsc_handler h = {.init = init, .message = on_message};
    wsc_server_config cfg;
    wt_config(&cfg, mode);
    return wt_server_start(s, &h, &cfg, NULL);
}

static void seen(char *out, size_t cap)
{
    pthread_mutex_lock(&mu);
    snprintf(out, cap, "%s", seen_list);
    pthread_mutex_unlock(&mu);
}

static wsc_client *open_with(int port, const char *path, const wsc_handshake_opts *opts,
                             wsc_err *err)
{
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, path);
    return wsc_client_connect_url(url, NULL, opts, err);
}

/* An echo proves the connection is usable after the negotiation. */
static bool echo_ok(wsc_client *c)
{
    wsc_msg m;
    if (wsc_client_read_timeout(c, T_MS) != 0 || wsc_client_write_copy(c, WSC_TEXT, "hi", 2) != 0 ||
        wsc_client_read(c, &m) != 0)
        return false;
    bool ok = m.type == WSC_TEXT && m.len == 2 && memcmp(m.data, "hi", 2) == 0;
    wsc_client_done(c, &m);
    return ok;
}

static void against_wsc(wt_mode mode)
{
    wt_server s;
    wsc_err err;
    char list[256];
    const char *const three[] = {"one", "two", "three", NULL};
    wsc_handshake_opts opts = {.protocols = three};

    fprintf(stderr, "  mode %s\n", wt_mode_name(mode));
    CHECK(server_start(&s, mode));

    /* The server picks the second name; the client reports it. */
    wsc_client *c = open_with(s.port, "/second", &opts, &err);
    CHECK(c);
    seen(list, sizeof list);
    EXPECT(strcmp(list, "one|two|three|") == 0);
    EXPECT(wsc_client_protocol(c) && strcmp(wsc_client_protocol(c), "two") == 0);
    EXPECT(echo_ok(c));
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);

    /* It picks none: no header in the 101, and NULL for the client. */
    c = open_with(s.port, "/none", &opts, &err);
    CHECK(c);
    EXPECT(wsc_client_protocol(c) == NULL);
    EXPECT(echo_ok(c));
    wsc_client_free(c);

    /* Nothing offered: the iterator ends at once, /second picks nothing. */
    c = open_with(s.port, "/second", NULL, &err);
    CHECK(c);
    seen(list, sizeof list);
    EXPECT(strcmp(list, "") == 0);
    EXPECT(wsc_client_protocol(c) == NULL);
    wsc_client_free(c);

    /* A name not offered is refused to init (which then picks one, once). */
    c = open_with(s.port, "/unknown", &opts, &err);
    CHECK(c);
    pthread_mutex_lock(&mu);
    EXPECT_EQ_INT(rc_unknown, WSC_EINVAL);
    EXPECT_EQ_INT(rc_first, 0);
    EXPECT_EQ_INT(rc_second, WSC_ESTATE);
    EXPECT_EQ_INT(rc_header, WSC_ESTATE);
    pthread_mutex_unlock(&mu);
    EXPECT(wsc_client_protocol(c) && strcmp(wsc_client_protocol(c), "one") == 0);
    EXPECT(echo_ok(c));
    wsc_client_free(c);

    /* Offered in a raw header, over several lines with odd whitespace; the same names. */
    wsc_handshake_opts raw = {.headers = "Sec-WebSocket-Protocol: , one\t,\r\n"
                                         "X-Between: a, b\r\n"
                                         "Sec-WebSocket-Protocol:two , bad token,three"};
    c = open_with(s.port, "/second", &raw, &err);
    CHECK(c);
    seen(list, sizeof list);
    EXPECT(strcmp(list, "one|two|three|") == 0);
    EXPECT(wsc_client_protocol(c) && strcmp(wsc_client_protocol(c), "two") == 0);
    wsc_client_free(c);

    /* A server answering a name that was not offered fails the handshake. */
    c = open_with(s.port, "/rogue", &opts, &err);
    EXPECT(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_EHANDSHAKE);
    EXPECT(strstr(err.message, "\"rogue\" that was not offered") != NULL);
    pthread_mutex_lock(&mu);
    EXPECT_EQ_INT(rc_header, 0);
    EXPECT_EQ_INT(rc_second, WSC_ESTATE);
    pthread_mutex_unlock(&mu);
    if (c)
        wsc_client_free(c);
    /* ... and so does any answer when nothing was offered. */
    c = open_with(s.port, "/rogue", NULL, &err);
    EXPECT(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_EHANDSHAKE);
    EXPECT(strstr(err.message, "none was offered") != NULL);
    if (c)
        wsc_client_free(c);

    EXPECT(wt_server_stop(&s, T_MS));
}

TEST(wsc_client_and_server_pool)
{
    ct_watchdog(300);
    against_wsc(WT_EPOLL_POOL);
}

TEST(wsc_client_and_server_inline)
{
    ct_watchdog(300);
    against_wsc(WT_EPOLL_INLINE);
}

TEST(wsc_client_and_server_blocking)
{
    ct_watchdog(300);
    against_wsc(WT_BLOCKING);
}

TEST(bad_offers_are_refused_before_sending)
{
    int ls, port;
    wsc_err err;
    ct_watchdog(300);
    CHECK((ls = ct_listen(&port)) >= 0);
    wsc_client_config cfg = {.host = "127.0.0.1", .port = port};
    /* Nobody answers on ls: a request that went out would time out, not fail with WSC_EINVAL. */
    const char *const space[] = {"a b", NULL};
    const char *const empty[] = {"ok", "", NULL};
    const char *const twice[] = {"x", "y", "x", NULL};
    const char *const fine[] = {"x", NULL};
    wsc_handshake_opts o1 = {.protocols = space}, o2 = {.protocols = empty},
                       o3 = {.protocols = twice},
                       o4 = {.protocols = fine, .headers = "Sec-WebSocket-Protocol: y"};
    const wsc_handshake_opts *all[] = {&o1, &o2, &o3, &o4};
    for (size_t i = 0; i < 4; i++) {
        wsc_client *c = wsc_client_new(&cfg, &err);
        CHECK(c);
        wsc_handshake_opts o = *all[i];
        o.timeout_ms = 200;
        EXPECT_EQ_INT(wsc_client_handshake(c, "/", &o, &err), WSC_EINVAL);
        EXPECT(wsc_client_protocol(c) == NULL);
        wsc_client_free(c);
    }
    close(ls);
}

/* ---- python3-websockets as the peer -------------------------------------------------------- */

/* A Python client offering one, two, three to ws://127.0.0.1:port/path: prints the subprotocol
   it got (None when none) and the echo of "hi". */
static const char py_client[] =
    "import asyncio, sys, websockets\n"
    "async def main():\n"
    "    url = 'ws://127.0.0.1:%s%s' % (sys.argv[1], sys.argv[2])\n"
    "    async with websockets.connect(url, subprotocols=['one', 'two', 'three'],\n"
    "                                  compression=None, open_timeout=10) as ws:\n"
    "        await ws.send('hi')\n"
    "        echo = await asyncio.wait_for(ws.recv(), 10)\n"
    "        print(ws.subprotocol, echo, flush=True)\n"
    "asyncio.run(asyncio.wait_for(main(), 30))\n";

/* Runs the Python client; its standard output goes into out. Returns its exit status, -1 when it
   could not run or did not end in time. */
static int run_py_client(int port, const char *path, bool quiet, char *out, size_t cap)
{
    int fds[2];
    char port_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        if (quiet) { /* a failure we expect: no traceback in the test's output */
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0)
                dup2(devnull, 2);
        }
        execl(CT_PYTHON, CT_PYTHON, "-c", py_client, port_s, path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    int64_t deadline = ct_now_ms() + 40000;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int64_t left = deadline - ct_now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fds[0], out + got, cap - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == cap - 1)
            break;
    }
    out[got] = '\0';
    close(fds[0]);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (ct_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return -1;
        }
        struct pollfd none = {-1, 0, 0};
        poll(&none, 0, 20); /* the child closed its output: it is about to end */
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(python_client_against_wsc_server)
{
    wt_server s;
    char out[256], list[256];
    ct_watchdog(300);
    CHECK(server_start(&s, WT_EPOLL_POOL));
    EXPECT_EQ_INT(run_py_client(s.port, "/second", false, out, sizeof out), 0);
    EXPECT(strcmp(out, "two hi\n") == 0);
    seen(list, sizeof list);
    EXPECT(strcmp(list, "one|two|three|") == 0);
    EXPECT_EQ_INT(run_py_client(s.port, "/none", false, out, sizeof out), 0);
    EXPECT(strcmp(out, "None hi\n") == 0);
    /* The Python client, too, refuses an answer it did not offer. */
    EXPECT(run_py_client(s.port, "/rogue", true, out, sizeof out) > 0);
    EXPECT(strcmp(out, "") == 0);
    EXPECT(wt_server_stop(&s, T_MS));
}

TEST(wsc_client_against_python_server)
{
    ct_peer peer;
    wsc_err err;
    wsc_msg m;
    ct_watchdog(300);
    CHECK(ct_peer_start(&peer, NULL, NULL) == 0);
    /* The Python server supports "chat" only. */
    const char *const offer[] = {"superchat", "chat", NULL};
    wsc_handshake_opts opts = {.protocols = offer};
    wsc_client *c = open_with(peer.port, "/", &opts, &err);
    EXPECT(c);
    if (c) {
        EXPECT(wsc_client_protocol(c) && strcmp(wsc_client_protocol(c), "chat") == 0);
        EXPECT_EQ_INT(wsc_client_read_timeout(c, T_MS), 0);
        EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!subprotocol", 12), 0);
        EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT(m.len == 4 && memcmp(m.data, "chat", 4) == 0);
        wsc_client_done(c, &m);
        wsc_client_close(c, 0, NULL);
        wsc_client_free(c);
    }
    /* Nothing in common: the server answers without a subprotocol. */
    const char *const other[] = {"mqtt", NULL};
    wsc_handshake_opts opts2 = {.protocols = other};
    c = open_with(peer.port, "/", &opts2, &err);
    EXPECT(c);
    if (c) {
        EXPECT(wsc_client_protocol(c) == NULL);
        wsc_client_free(c);
    }
    ct_peer_stop(&peer);
}

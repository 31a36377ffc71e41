/* The request checks of the server over real sockets: an absolute-form request line names the host
 * the application sees (RFC 9112 3.2.2) and only ws/wss/http/https targets are accepted; a Host
 * that is empty or not host[:port] is a 400; a response header init adds is checked when added, so
 * a bad one is an error init sees instead of a 500 the client gets. */
#include "../test.h"
#include "ws_test_client.h"

static char seen_host[64], seen_url[64], seen_path[64], seen_query[64];
static int bad_name_rc, bad_value_rc, ok_rc;
static atomic_int inits;

/* Keeps a wsc_str that is valid during init only (cut to the array's size). */
#define KEEP(dst, s)                                                                               \
    do {                                                                                           \
        wsc_str s_ = (s);                                                                          \
        snprintf(dst, sizeof dst, "%.*s", (int)s_.len, s_.ptr ? s_.ptr : "");                      \
    } while (0)

static int init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn, (void)app, (void)user;
    KEEP(seen_host, wsc_handshake_header(hs, "host"));
    KEEP(seen_url, wsc_handshake_url(hs));
    KEEP(seen_path, wsc_handshake_path(hs));
    KEEP(seen_query, wsc_handshake_query(hs));
    bad_name_rc = wsc_handshake_add_response_header(hs, "X(Y)", "v");
    bad_value_rc = wsc_handshake_add_response_header(hs, "X-Split", "a\r\nSet-Cookie: s=1");
    ok_rc = wsc_handshake_add_response_header(hs, "X-Ok", "1");
    atomic_fetch_add(&inits, 1);
    return 0;
}

static int message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)conn, (void)user, (void)msg;
    return 0;
}

static const wsc_handler handler = {.init = init, .message = message};

#define REST                                                                                       \
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " WT_KEY                      \
    "\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* Sends one raw request on a new connection; returns the response status (head in head). */
static int request(int port, const char *req, char *head, size_t cap)
{
    wt_client c;
    if (wt_connect(&c, port) != 0)
        return -1;
    int st = wt_send_str(&c, req, 2000) == 0 ? wt_read_head(&c, 5000, head, cap) : -1;
    wt_close(&c);
    return st;
}

TEST(absolute_form_and_host_checks)
{
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        char head[2048];
        wt_config(&cfg, (wt_mode)mode);
        CHECK(wt_server_start(&s, &handler, &cfg, NULL));

        /* The request: the URI's authority wins over Host. */
        EXPECT_EQ_INT(request(s.port,
                              "GET ws://evil.example/chat?room=1 HTTP/1.1\r\nHost: good.example\r\n" REST,
                              head, sizeof head),
                      101);
        EXPECT_EQ_STR(seen_host, "evil.example");
        EXPECT_EQ_STR(seen_url, "/chat?room=1");
        EXPECT_EQ_STR(seen_path, "/chat");
        EXPECT_EQ_STR(seen_query, "room=1");

        EXPECT_EQ_INT(request(s.port, "GET HTTP://h.example:8080?a=1 HTTP/1.1\r\nHost: h.example\r\n" REST,
                              head, sizeof head),
                      101);
        EXPECT_EQ_STR(seen_host, "h.example:8080");
        EXPECT_EQ_STR(seen_url, "/?a=1");
        EXPECT_EQ_STR(seen_path, "/");

        EXPECT_EQ_INT(request(s.port, "GET /p HTTP/1.1\r\nHost: [::1]:9224\r\n" REST, head, sizeof head),
                      101);
        EXPECT_EQ_STR(seen_host, "[::1]:9224");
        EXPECT_EQ_STR(seen_url, "/p");

        /* Refused with 400, before init. */
        int before = atomic_load(&inits);
        static const char *bad[] = {
            "GET ftp://h.example/chat HTTP/1.1\r\nHost: h.example\r\n" REST,
            "GET ws://u:p@h.example/ HTTP/1.1\r\nHost: h.example\r\n" REST,
            "GET ws://h.example:70000/ HTTP/1.1\r\nHost: h.example\r\n" REST,
            "GET / HTTP/1.1\r\nHost:\r\n" REST,
            "GET / HTTP/1.1\r\nHost: a b\r\n" REST,
            "GET / HTTP/1.1\r\nHost: h.example:65536\r\n" REST,
            "GET / HTTP/1.1\r\nHost: h.example/x\r\n" REST,
            "GET ws://h.example/ HTTP/1.1\r\nHost: \r\n" REST,
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int st = request(s.port, bad[i], head, sizeof head);
            if (st != 400)
                fprintf(stderr, "  %s: case %zu: %d\n", wt_mode_name((wt_mode)mode), i, st);
            EXPECT_EQ_INT(st, 400);
        }
        EXPECT_EQ_INT(atomic_load(&inits), before);
        EXPECT(wt_server_stop(&s, 10000));
    }
}

TEST(bad_response_header_is_refused_to_init_not_a_500)
{
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_client c;
        char head[2048];
        wt_config(&cfg, (wt_mode)mode);
        cfg.handshake.max_res_headers = 4;
        CHECK(wt_server_start(&s, &handler, &cfg, NULL));
        CHECK(wt_connect(&c, s.port) == 0);
        EXPECT_EQ_INT(wt_handshake_ex(&c, "/", NULL, 5000, head, sizeof head), 101);
        EXPECT_EQ_INT(bad_name_rc, WSC_EINVAL);
        EXPECT_EQ_INT(bad_value_rc, WSC_EINVAL);
        EXPECT_EQ_INT(ok_rc, 0);
        EXPECT(wt_head_has(head, "X-Ok", "1"));
        EXPECT(strstr(head, "X(Y)") == NULL && strstr(head, "Set-Cookie") == NULL);
        wt_close(&c);
        EXPECT(wt_server_stop(&s, 10000));
    }
}

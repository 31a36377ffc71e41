/* Plain HTTP requests on a WebSocket server (the handler's http callback, wsc_handshake_respond):
 * a GET answered with its body, Content-Type and Content-Length, a HEAD without the body, the
 * callback's other answers (404, an error status, silence), requests still refused (without the
 * callback, too large, not a GET or HEAD of HTTP/1.1, with a body), and upgrades on the same port.
 * Every test runs in the three server modes, over real sockets. */
#include "../test.h"
#include "ws_test_client.h"

static const char PAGE[] = "<!doctype html><title>t</title><p>hello</p>\n";

static atomic_int http_calls, inits, closes;
static atomic_int respond_checks; /* 1: every argument check in /checks gave what it should */
static atomic_int init_respond_rc;
static char seen_query[64], seen_agent[64];
static int app_marker;

static bool is(wsc_str s, const char *lit)
{
    return s.ptr && s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void copy(char *dst, wsc_str s)
{
    size_t n = s.len < 63 ? s.len : 63;
    memcpy(dst, s.ptr ? s.ptr : "", n);
    dst[n] = 0;
}

static int on_http(wsc_handshake *hs, void *app)
{
    atomic_fetch_add(&http_calls, 1);
    if (app != &app_marker)
        return 500;
    wsc_str path = wsc_handshake_path(hs);
    if (is(path, "/")) {
        copy(seen_query, wsc_handshake_query(hs));
        copy(seen_agent, wsc_handshake_header(hs, "user-agent"));
        /* Before and after respond: both go out; Content-Type of this kind is ours. */
        if (wsc_handshake_add_response_header(hs, "Cache-Control", "no-store") != 0)
            return 500;
        int rc = wsc_handshake_respond(hs, 200, "text/html; charset=utf-8", PAGE, sizeof PAGE - 1);
        if (rc != 0 || wsc_handshake_add_response_header(hs, "X-After", "1") != 0 ||
            wsc_handshake_add_response_header(hs, "Content-Type", "text/plain") != 0)
            return 500;
        return 0;
    }
    if (is(path, "/checks")) {
        bool ok = wsc_handshake_respond(hs, 199, NULL, NULL, 0) == WSC_EINVAL &&
                  wsc_handshake_respond(hs, 600, NULL, NULL, 0) == WSC_EINVAL &&
                  wsc_handshake_respond(hs, 200, NULL, NULL, 3) == WSC_EINVAL &&
                  wsc_handshake_respond(hs, 204, NULL, "x", 1) == WSC_EINVAL &&
                  wsc_handshake_respond(hs, 200, "text/plain\r\nX-Evil: 1", "x", 1) == WSC_EINVAL &&
                  wsc_handshake_respond(NULL, 200, NULL, NULL, 0) == WSC_EINVAL &&
                  wsc_handshake_respond(hs, 200, "text/plain", "first", 5) == 0 &&
                  wsc_handshake_respond(hs, 204, NULL, NULL, 0) == 0; /* replaces the first */
        atomic_store(&respond_checks, ok ? 1 : 2);
        return 0;
    }
    if (is(path, "/deny"))
        return 403;
    if (is(path, "/silent"))
        return WSC_REJECT_SILENT;
    if (is(path, "/odd"))
        return 7; /* any other value: 400 */
    if (is(path, "/late-error")) {
        wsc_handshake_respond(hs, 200, "text/plain", "unused", 6);
        return 503; /* the status wins over what was set */
    }
    return 0; /* nothing set: 404 */
}

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn, (void)app, (void)user;
    atomic_fetch_add(&inits, 1);
    /* An upgrade request is answered by init's return value, never by respond. */
    atomic_store(&init_respond_rc, wsc_handshake_respond(hs, 200, "text/plain", "x", 1));
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&closes, 1);
}

static const wsc_handler with_http = {
    .init = on_init, .message = on_message, .close = on_close, .http = on_http};
static const wsc_handler without_http = {.init = on_init, .message = on_message, .close = on_close};

typedef struct response {
    int status;   /* or WT_TIMEOUT, WT_EOF, WT_EBAD */
    char head[2048];
    char body[1024];
    size_t body_len;
    bool eof;     /* the server closed the connection after the response */
} response;

/* Sends req (split in two writes 30 ms apart at `split` when non-zero) on a new connection and
 * reads the response head, then everything up to the server's FIN as the body. */
static void fetch_split(int port, const char *req, size_t split, response *r)
{
    wt_client c;
    memset(r, 0, sizeof *r);
    r->status = WT_EOF;
    if (wt_connect(&c, port) != 0)
        return;
    size_t n = strlen(req);
    if (split && split < n) {
        if (wt_send_raw(&c, req, split, 2000) != 0)
            goto out;
        wt_sleep_ms(30);
        req += split;
        n -= split;
    }
    if (wt_send_raw(&c, req, n, 2000) != 0)
        goto out;
    r->status = wt_read_head(&c, 5000, r->head, sizeof r->head);
    if (r->status < 0)
        goto out;
    int64_t end = wt_now_ms() + 5000;
    for (;;) {
        int rc = wt_fill(&c, end);
        if (rc == WT_EOF) {
            r->eof = true;
            break;
        }
        if (rc < 0)
            break;
    }
    r->body_len = c.len < sizeof r->body ? c.len : sizeof r->body;
    memcpy(r->body, c.buf, r->body_len);
out:
    wt_close(&c);
}

static void fetch(int port, const char *req, response *r)
{
    fetch_split(port, req, 0, r);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t/1\r\n\r\n"
#define HEAD(path) "HEAD " path " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

/* Runs body against a new server with handler h (handshake.max_size: max_size) in each of the three
 * modes, then stops the server. */
static void each_mode(const wsc_handler *h, size_t max_size, void (*body)(int port))
{
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        atomic_store(&http_calls, 0);
        atomic_store(&inits, 0);
        atomic_store(&closes, 0);
        wt_config(&cfg, (wt_mode)mode);
        cfg.handshake.max_size = max_size;
        cfg.handshake.max_res_headers = 4;
        cfg.handshake.max_headers = 8;
        CHECK(wt_server_start(&s, h, &cfg, &app_marker));
        body(s.port);
        EXPECT(wt_server_stop(&s, 10000));
        if (!TEST_OK())
            fprintf(stderr, "  mode %s\n", wt_mode_name((wt_mode)mode));
    }
}

static bool body_is(const response *r, const char *s, size_t n)
{
    return r->body_len == n && memcmp(r->body, s, n) == 0;
}

static void get_answered(int port)
{
    response r;
    char len[16];
    snprintf(len, sizeof len, "%zu", sizeof PAGE - 1);

    fetch(port, GET("/?room=a"), &r);
    EXPECT_EQ_INT(r.status, 200);
    EXPECT(wt_head_has(r.head, "Content-Type", "text/html; charset=utf-8"));
    EXPECT(wt_head_has(r.head, "Content-Length", len));
    EXPECT(wt_head_has(r.head, "Connection", "close"));
    EXPECT(wt_head_has(r.head, "Cache-Control", "no-store"));
    EXPECT(wt_head_has(r.head, "X-After", "1"));
    EXPECT(!wt_head_has(r.head, "Content-Type", "text/plain")); /* one Content-Type: ours */
    EXPECT(body_is(&r, PAGE, sizeof PAGE - 1));
    EXPECT(r.eof);
    EXPECT_EQ_STR(seen_query, "room=a");
    EXPECT_EQ_STR(seen_agent, "t/1");

    /* HEAD: the same head, no body. */
    fetch(port, HEAD("/"), &r);
    EXPECT_EQ_INT(r.status, 200);
    EXPECT(wt_head_has(r.head, "Content-Length", len));
    EXPECT_EQ_INT(r.body_len, 0);
    EXPECT(r.eof);

    /* In two pieces: the request waits in a handshake object of its own. */
    fetch_split(port, GET("/"), 9, &r);
    EXPECT_EQ_INT(r.status, 200);
    EXPECT(body_is(&r, PAGE, sizeof PAGE - 1));
    EXPECT(r.eof);

    /* An absolute-form target is the same resource. */
    fetch(port, "GET http://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &r);
    EXPECT_EQ_INT(r.status, 200);
    EXPECT(r.eof);
    EXPECT_EQ_INT(atomic_load(&inits), 0);
    EXPECT_EQ_INT(atomic_load(&closes), 0); /* no WebSocket connection, no close callback */
}

TEST(http_get_answered_with_body_type_and_length)
{
    each_mode(&with_http, 0, get_answered);
}

static void callback_results(int port)
{
    response r;
    atomic_store(&respond_checks, 0);
    fetch(port, GET("/checks"), &r);
    EXPECT_EQ_INT(atomic_load(&respond_checks), 1);
    EXPECT_EQ_INT(r.status, 204); /* the second respond replaced the first */
    EXPECT(!strcasestr(r.head, "Content-Length"));
    EXPECT_EQ_INT(r.body_len, 0);
    EXPECT(r.eof);

    fetch(port, GET("/nothing-here"), &r);
    EXPECT_EQ_INT(r.status, 404);
    EXPECT(wt_head_has(r.head, "Connection", "close"));
    EXPECT(body_is(&r, "Not Found", 9));
    EXPECT(r.eof);

    fetch(port, HEAD("/nothing-here"), &r);
    EXPECT_EQ_INT(r.status, 404);
    EXPECT(wt_head_has(r.head, "Content-Length", "9"));
    EXPECT_EQ_INT(r.body_len, 0);
    EXPECT(r.eof);

    fetch(port, GET("/deny"), &r);
    EXPECT_EQ_INT(r.status, 403);
    EXPECT(r.eof);
    fetch(port, GET("/odd"), &r);
    EXPECT_EQ_INT(r.status, 400);
    fetch(port, GET("/late-error"), &r);
    EXPECT_EQ_INT(r.status, 503);
    EXPECT(body_is(&r, "Service Unavailable", 19));
    fetch(port, GET("/silent"), &r);
    EXPECT_EQ_INT(r.status, WT_EOF);

    EXPECT_EQ_INT(atomic_load(&http_calls), 7);
    EXPECT_EQ_INT(atomic_load(&closes), 0);
}

TEST(http_callback_results)
{
    each_mode(&with_http, 0, callback_results);
}

/* A WebSocket connection opens and echoes. */
static void expect_echo(int port)
{
    wt_client c;
    CHECK(wt_open(&c, port) == 0);
    EXPECT(wt_send_text(&c, "hi") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "hi", 2, 5000));
    wt_close(&c);
}

static void upgrade_beside_http(int port)
{
    response r;
    atomic_store(&init_respond_rc, 0);

    fetch(port, GET("/"), &r);
    EXPECT_EQ_INT(r.status, 200);
    expect_echo(port);
    EXPECT_EQ_INT(atomic_load(&init_respond_rc), WSC_ESTATE);
    EXPECT(wt_wait_int(&closes, 1, 5000));

    /* Upgrade: websocket makes it an upgrade request, refused as ever when it is a bad one. */
    fetch(port, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", &r);
    EXPECT_EQ_INT(r.status, 400);
    fetch(port,
          "HEAD / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " WT_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
          &r);
    EXPECT_EQ_INT(r.status, 400);
    fetch(port,
          "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: " WT_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
          &r);
    EXPECT_EQ_INT(r.status, 426);
    EXPECT_EQ_INT(atomic_load(&http_calls), 1);
    EXPECT_EQ_INT(atomic_load(&inits), 1);
    EXPECT_EQ_INT(atomic_load(&closes), 1);
}

/* The upgrade on the same port is untouched: checked in full, answered by init, echoing. */
TEST(http_upgrade_on_the_same_server)
{
    each_mode(&with_http, 0, upgrade_beside_http);
}

static void refused_without_callback(int port)
{
    response r;
    fetch(port, GET("/"), &r);
    EXPECT_EQ_INT(r.status, 400);
    EXPECT(r.eof);
    fetch(port, HEAD("/"), &r);
    EXPECT_EQ_INT(r.status, 400);
    expect_echo(port);
    EXPECT_EQ_INT(atomic_load(&inits), 1);
}

/* Without the callback a plain request is refused with 400 before any callback, as it always was. */
TEST(http_without_callback_refused)
{
    each_mode(&without_http, 0, refused_without_callback);
}

/* A request of 1399 bytes: over the default handshake.max_size (1024). */
static char big[1400];

static void still_refused(int port)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"GET / HTTP/1.0\r\nHost: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n\r\n", 400},                                  /* no Host */
        {"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},            /* two */
        {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab", 400}, /* a body */
        {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"GET / HTTP/1.1\nHost: x\n\n", 400},                              /* bare LF */
        {"GET /#x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    };
    response r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fetch(port, cases[i].req, &r);
        if (r.status != cases[i].status)
            fprintf(stderr, "  case %zu: %d\n", i, r.status);
        EXPECT_EQ_INT(r.status, cases[i].status);
        EXPECT(r.eof);
    }
    /* Over handshake.max_size: 431, whole or in pieces. */
    fetch(port, big, &r);
    EXPECT_EQ_INT(r.status, 431);
    fetch_split(port, big, 100, &r);
    EXPECT_EQ_INT(r.status, 431);
    EXPECT_EQ_INT(atomic_load(&http_calls), 0);
}

static void big_answered(int port)
{
    response r;
    fetch(port, big, &r);
    EXPECT_EQ_INT(r.status, 200);
}

/* Plain requests are held to the same limits and syntax as upgrades. */
TEST(http_requests_still_refused)
{
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", 32);
    memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
    each_mode(&with_http, 0, still_refused);
    each_mode(&with_http, 2048, big_answered); /* a larger max_size lets it through */
}

static void pipelined(int port)
{
    response r;
    fetch(port, GET("/") GET("/deny"), &r);
    EXPECT_EQ_INT(r.status, 200);
    EXPECT(body_is(&r, PAGE, sizeof PAGE - 1));
    EXPECT(r.eof);
    EXPECT_EQ_INT(atomic_load(&http_calls), 1);
}

/* One request per connection: a second one sent behind the first is never read or answered. */
TEST(http_pipelined_request_not_answered)
{
    each_mode(&with_http, 0, pipelined);
}

/* The handshake as init sees it (method, url, path, query and its parameters, headers by name and
 * by iteration when handshake.max_headers > 0, the peer address, extra response headers), and what
 * init's return value does: accept, reject with a status, reject silently. */
#include "../test.h"
#include "ws_test_client.h"

static char seen_path[64], seen_query[64], seen_room[64], seen_auth[64], seen_origin[64];
static int seen_headers, seen_family, query_rc;
static atomic_int closes;

static void copy(char *dst, wsc_str s)
{
    size_t n = s.len < 63 ? s.len : 63;
    memcpy(dst, s.ptr ? s.ptr : "", n);
    dst[n] = 0;
}

static int init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)conn, (void)app, (void)user;
    copy(seen_path, wsc_handshake_path(hs));
    copy(seen_query, wsc_handshake_query(hs));
    copy(seen_auth, wsc_handshake_header(hs, "Authorization"));
    copy(seen_origin, wsc_handshake_header(hs, "origin"));
    query_rc = wsc_handshake_query_param(hs, "room", seen_room, sizeof seen_room);
    seen_headers = 0;
    size_t it = 0;
    wsc_str name, value;
    while (wsc_handshake_header_next(hs, &it, &name, &value))
        seen_headers++;
    socklen_t len = 0;
    seen_family = wsc_handshake_address(hs, &len)->sa_family;
    wsc_str m = wsc_handshake_method(hs), raw = wsc_handshake_raw(hs);
    if (m.len != 3 || memcmp(m.ptr, "GET", 3) != 0 || raw.len < 20)
        return 500;
    if (strcmp(seen_path, "/deny") == 0)
        return 403;
    if (strcmp(seen_path, "/silent") == 0)
        return WSC_REJECT_SILENT;
    if (strcmp(seen_path, "/odd") == 0)
        return 12345; /* any other value: 400 */
    if (wsc_handshake_add_response_header(hs, "Sec-WebSocket-Protocol", "chat") != 0 ||
        wsc_handshake_add_response_header(hs, "Set-Cookie", "a=b") != 0 ||
        wsc_handshake_add_response_header(hs, "X-Third", "no room") != WSC_EFULL ||
        wsc_handshake_add_response_header(hs, "Bad\r\nName", "x") != WSC_EINVAL)
        return 500;
    return 0;
}

static int message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&closes, 1);
}

static const wsc_handler handler = {.init = init, .message = message, .close = on_close};

static void run(wt_mode mode, unsigned max_headers)
{
    wsc_server_config cfg;
    wt_server s;
    wt_client c;
    char head[2048];
    atomic_store(&closes, 0);
    wt_config(&cfg, mode);
    cfg.handshake.max_headers = max_headers;
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));

    CHECK(wt_connect(&c, s.port) == 0);
    int st = wt_handshake_ex(&c, "/chat?room=a%20b&x=1",
                             "Authorization: Bearer t0k\r\nOrigin: http://example\r\n", 5000, head,
                             sizeof head);
    EXPECT_EQ_INT(st, 101);
    EXPECT(strcmp(seen_path, "/chat") == 0);
    EXPECT(strcmp(seen_query, "room=a%20b&x=1") == 0);
    EXPECT_EQ_INT(query_rc, 3);
    EXPECT(strcmp(seen_room, "a b") == 0);
    EXPECT(strcmp(seen_origin, "http://example") == 0); /* always kept */
    if (max_headers) {
        EXPECT(strcmp(seen_auth, "Bearer t0k") == 0);
        EXPECT_EQ_INT(seen_headers, 7);
    } else {
        EXPECT(seen_auth[0] == 0); /* websocket.zig's rule: no headers kept by default */
        EXPECT_EQ_INT(seen_headers, 0);
    }
    EXPECT_EQ_INT(seen_family, AF_INET);
    EXPECT(wt_head_has(head, "Sec-WebSocket-Protocol", "chat"));
    EXPECT(wt_head_has(head, "Set-Cookie", "a=b"));
    EXPECT(wt_send_text(&c, "hi") == 0);
    EXPECT(wt_expect_message(&c, WT_OP_TEXT, "hi", 2, 5000));
    wt_close(&c);
    EXPECT(wt_wait_int(&closes, 1, 5000));

    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/deny"), 403);
    EXPECT(wt_wait_eof(&c, 5000) == 0);
    wt_close(&c);
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/odd"), 400);
    wt_close(&c);
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT_EQ_INT(wt_handshake(&c, "/silent"), WT_EOF);
    wt_close(&c);
    /* version 12: 426 naming 13 */
    CHECK(wt_connect(&c, s.port) == 0);
    EXPECT(wt_send_str(&c,
                       "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n",
                       1000) == 0);
    EXPECT_EQ_INT(wt_read_head(&c, 5000, head, sizeof head), 426);
    EXPECT(wt_head_has(head, "Sec-WebSocket-Version", "13"));
    wt_close(&c);
    /* a request over handshake.max_size: 431 */
    CHECK(wt_connect(&c, s.port) == 0);
    char big[1500];
    memset(big, 'a', sizeof big);
    memcpy(big, "X-Big: ", 7);
    memcpy(big + sizeof big - 3, "\r\n", 3);
    EXPECT_EQ_INT(wt_handshake_ex(&c, "/", big, 5000, head, sizeof head), 431);
    wt_close(&c);
    /* rejected connections never get a close callback */
    wt_sleep_ms(50);
    EXPECT_EQ_INT(atomic_load(&closes), 1);
    EXPECT(wt_server_stop(&s, 10000));
    EXPECT_EQ_INT(atomic_load(&closes), 1);
}

TEST(handshake_fields_and_init_results)
{
    run(WT_EPOLL_POOL, 0);
    run(WT_EPOLL_INLINE, 16);
    run(WT_BLOCKING, 16);
}

/* Frames sent right behind the request (before the 101 arrives) are not lost. */
TEST(frames_right_behind_the_request)
{
    for (int mode = 0; mode < WT_MODES && TEST_OK(); mode++) {
        wsc_server_config cfg;
        wt_server s;
        wt_client c;
        wt_config(&cfg, (wt_mode)mode);
        CHECK(wt_server_start(&s, &handler, &cfg, NULL));
        CHECK(wt_connect(&c, s.port) == 0);
        uint8_t buf[512], key[4] = {5, 6, 7, 8};
        int n = snprintf((char *)buf, sizeof buf,
                         "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: " WT_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
        size_t len = (size_t)n;
        for (int m = 0; m < 3; m++) {
            len += wt_header(buf + len, true, 0, WT_OP_TEXT, key, 3);
            for (int i = 0; i < 3; i++)
                buf[len++] = (uint8_t)("abc"[i] + m) ^ key[i];
        }
        EXPECT(wt_send_raw(&c, buf, len, 1000) == 0);
        char head[1024];
        EXPECT_EQ_INT(wt_read_head(&c, 5000, head, sizeof head), 101);
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "abc", 3, 5000));
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "bcd", 3, 5000));
        EXPECT(wt_expect_message(&c, WT_OP_TEXT, "cde", 3, 5000));
        wt_close(&c);
        EXPECT(wt_server_stop(&s, 10000));
    }
}

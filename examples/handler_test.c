/* How to test a handler with wsc's test helpers (websocket.zig's `testing`): wsc_test_init opens a
 * real connected socket pair on 127.0.0.1; wsc_test_conn is the server side to hand to the handler;
 * the expect functions check what a client would receive.
 *
 * The handler under test is a tiny chat command parser: "ping" -> "pong", "join <room>" ->
 * "joined <room>", "quit" -> close 1000, anything else -> a pre-framed "unknown command". Exits 0
 * when every expectation holds. */
#include <stdio.h>
#include <string.h>

#include "wsc.h"

/* ---- the application's handler ---- */

static const wsc_framed UNKNOWN = WSC_FRAME_TEXT("unknown command");

static int chat_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    char out[128];
    if (msg->len == 4 && memcmp(msg->data, "ping", 4) == 0)
        return wsc_conn_write_text(conn, "pong", 4);
    if (msg->len > 5 && memcmp(msg->data, "join ", 5) == 0 && msg->len < 100) {
        int n = snprintf(out, sizeof out, "joined %.*s", (int)(msg->len - 5),
                         (const char *)msg->data + 5);
        return wsc_conn_write_text(conn, out, (size_t)n);
    }
    if (msg->len == 4 && memcmp(msg->data, "quit", 4) == 0)
        return wsc_conn_close(conn, WSC_CLOSE_NORMAL, "bye");
    return wsc_conn_write_framed(conn, UNKNOWN.data, UNKNOWN.len);
}

/* ---- the test ---- */

static int failures;

static void expect(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "FAIL %s: %s\n", what, wsc_strerror(rc));
        failures++;
    }
}

static void send_text(wsc_conn *conn, const char *text)
{
    wsc_msg msg = {.type = WSC_TEXT, .data = (uint8_t *)text, .len = strlen(text)};
    expect(chat_message(conn, NULL, &msg), text);
}

int main(void)
{
    wsc_test *t = wsc_test_init();
    if (!t) {
        fprintf(stderr, "wsc_test_init failed\n");
        return 1;
    }
    wsc_conn *conn = wsc_test_conn(t);

    send_text(conn, "ping");
    expect(wsc_test_expect_message(t, WSC_TEXT, "pong", 4), "ping -> pong");

    send_text(conn, "join lobby");
    expect(wsc_test_expect_message(t, WSC_TEXT, "joined lobby", 12), "join -> joined");

    send_text(conn, "dance");
    expect(wsc_test_expect_message(t, WSC_TEXT, "unknown command", 15), "unknown command");

    send_text(conn, "quit");
    expect(wsc_test_expect_close(t), "quit -> close");

    wsc_test_free(t);
    printf("%s\n", failures ? "handler test FAILED" : "handler test passed");
    return failures ? 1 : 0;
}

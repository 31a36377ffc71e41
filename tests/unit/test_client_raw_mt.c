/* The client against a scripted raw TCP server (a thread of this test): every way a server can
 * break the protocol ends the connection with the right close code (masked frame, reserved opcodes,
 * RSV bits, bad UTF-8, oversize messages, bad control frames, bad close payloads), broken
 * handshakes (no answer, non-101, wrong accept key, unoffered extension or subprotocol), frames
 * trickled one byte at a time with control frames between fragments, and both ways of ending the
 * close handshake. */
#include "../test.h"

#include <pthread.h>

#include "client_test_util.h"
#include "test_frame_build.h"
#include "proto/handshake.h"

typedef struct {
    /* script */
    const char *response;  /* NULL: a correct 101; "": no answer at all; else sent as is */
    const char *extra_101; /* extra header lines for the correct 101 ("Name: v\r\n") */
    uint8_t frames[4096];  /* sent after the response */
    size_t frames_len;
    bool together;         /* response and frames in one write */
    bool trickle;          /* frames one byte at a time */
    bool eof_after_frames; /* hang up right after the frames */
    bool answer_close;     /* echo the client's close frame */
    int hold_ms;           /* how long to wait for the client's frames */
    /* results */
    int close_code; /* the client's close frame: its code, 1005 if empty, -1 if none */
    size_t close_len;
    uint8_t close_payload[125];
    int frames_seen;
    bool all_masked;
    /* plumbing */
    int ls, port;
    pthread_t tid;
} script;

static void add(script *s, bool fin, unsigned rsv, unsigned op, const void *p, size_t n,
                bool masked)
{
    static const uint8_t key[4] = {1, 2, 3, 4};
    s->frames_len +=
        wt_build_frame(s->frames + s->frames_len, fin, rsv, op, masked ? key : NULL, p, n);
}

/* Only the frame header: a declared length whose payload never comes. */
static void add_header_only(script *s, unsigned op, uint64_t n)
{
    s->frames_len += wt_header(s->frames + s->frames_len, true, 0, op, NULL, n);
}

static void *serve(void *arg)
{
    script *s = arg;
    char head[4096], out[8192];
    size_t out_len = 0;

    s->close_code = -1;
    s->all_masked = true;
    int fd = ct_accept(s->ls, 10000);
    if (fd < 0)
        return NULL;
    ct_read_head(fd, head, sizeof head, 5000);
    if (s->response == NULL) {
        out_len = ct_build_101(head, s->extra_101, out, sizeof out);
    } else {
        out_len = (size_t)snprintf(out, sizeof out, "%s", s->response);
    }
    if (s->together && !s->trickle) {
        memcpy(out + out_len, s->frames, s->frames_len);
        out_len += s->frames_len;
        ct_write_all(fd, out, out_len);
    } else {
        ct_write_all(fd, out, out_len);
        for (size_t i = 0; i < s->frames_len; i += s->trickle ? 1 : s->frames_len) {
            ct_write_all(fd, s->frames + i, s->trickle ? 1 : s->frames_len);
            if (s->trickle && i % 7 == 0)
                ct_sleep_ms(1); /* let some bytes arrive alone */
        }
    }
    if (s->eof_after_frames) {
        close(fd);
        return NULL;
    }
    int64_t until = ct_now_ms() + (s->hold_ms ? s->hold_ms : 5000);
    uint8_t p[256];
    for (;;) {
        int64_t left = until - ct_now_ms();
        if (left <= 0)
            break;
        size_t len;
        bool masked;
        int op = ct_read_frame(fd, p, sizeof p, &len, &masked, (int)left);
        if (op < 0)
            break;
        s->frames_seen++;
        s->all_masked &= masked;
        if (op == 8) {
            s->close_code = len >= 2 ? p[0] << 8 | p[1] : 1005;
            s->close_len = len;
            memcpy(s->close_payload, p, len);
            if (s->answer_close) {
                uint8_t f[160];
                ct_write_all(fd, f, wt_build_frame(f, true, 0, 8, NULL, p, len));
            }
            break;
        }
    }
    /* Stay until the client hangs up, so it sees our answer rather than a reset. */
    ct_read_n(fd, p, sizeof p, 2000);
    close(fd);
    return NULL;
}

static bool start(script *s)
{
    s->ls = ct_listen(&s->port);
    if (s->ls < 0)
        return false;
    return pthread_create(&s->tid, NULL, serve, s) == 0;
}

static void finish(script *s)
{
    pthread_join(s->tid, NULL);
    close(s->ls);
}

static wsc_client *open_script(script *s, wsc_client_config *cfg, wsc_err *err)
{
    ct_watchdog(120);
    if (!start(s))
        return NULL;
    wsc_client_config c = {0};
    if (cfg)
        c = *cfg;
    c.host = "127.0.0.1";
    c.port = s->port;
    wsc_client *cl = wsc_client_new(&c, err);
    if (cl && wsc_client_handshake(cl, "/", NULL, err) != 0) {
        wsc_client_free(cl);
        cl = NULL;
    }
    return cl;
}

/* Runs a script whose frames break the protocol; checks the read error and the close code the
   server received. */
static void expect_failure(script *s, wsc_client_config *cfg, int want_rc, int want_code)
{
    wsc_err err;
    wsc_client *c = open_script(s, cfg, &err);
    if (!c) {
        fprintf(stderr, "  %s\n", err.message);
        finish(s);
        CHECK(c);
    }
    wsc_msg m;
    int rc;
    do {
        rc = wsc_client_read(c, &m);
    } while (rc == 0 && m.type != WSC_CLOSE);
    EXPECT_EQ_INT(rc, want_rc);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "x", 1), WSC_ECLOSED);
    wsc_client_free(c);
    finish(s);
    EXPECT_EQ_INT(s->close_code, want_code);
    EXPECT(s->all_masked);
}

static const uint8_t bad_utf8[] = {'o', 'k', 0xC3, 0x28};

TEST(masked_server_frame_is_1002)
{
    static script s;
    add(&s, true, 0, 1, "masked", 6, true);
    expect_failure(&s, NULL, WSC_EPROTO, 1002);
}

TEST(reserved_data_opcode_is_1002)
{
    static script s;
    add(&s, true, 0, 3, "x", 1, false);
    expect_failure(&s, NULL, WSC_EPROTO, 1002);
}

TEST(reserved_control_opcode_is_1002)
{
    static script s;
    add(&s, true, 0, 0xB, "x", 1, false);
    expect_failure(&s, NULL, WSC_EPROTO, 1002);
}

TEST(rsv_bits_without_extension_are_1002)
{
    static script s, s2;
    add(&s, true, 4, 1, "x", 1, false); /* RSV1 */
    expect_failure(&s, NULL, WSC_EPROTO, 1002);
    add(&s2, true, 1, 2, "x", 1, false); /* RSV3 */
    expect_failure(&s2, NULL, WSC_EPROTO, 1002);
}

TEST(bad_utf8_text_is_1007)
{
    static script s;
    add(&s, true, 0, 1, bad_utf8, sizeof bad_utf8, false);
    expect_failure(&s, NULL, WSC_EUTF8, 1007);
}

TEST(bad_utf8_in_first_fragment_fails_before_the_end)
{
    static script s;
    /* The message never ends: the client must not wait for it to notice. */
    add(&s, false, 0, 1, bad_utf8, sizeof bad_utf8, false);
    s.hold_ms = 5000;
    expect_failure(&s, NULL, WSC_EUTF8, 1007);
}

TEST(oversize_message_is_1009_from_the_header)
{
    static script s;
    /* Declares 1 GiB and sends none of it. */
    add_header_only(&s, 2, 1u << 30);
    wsc_client_config cfg = {.max_size = 1000};
    expect_failure(&s, &cfg, WSC_ETOOBIG, 1009);
}

TEST(oversize_fragmented_message_is_1009)
{
    static script s;
    static uint8_t part[600];
    add(&s, false, 0, 2, part, sizeof part, false);
    add(&s, true, 0, 0, part, sizeof part, false);
    wsc_client_config cfg = {.max_size = 1000};
    expect_failure(&s, &cfg, WSC_ETOOBIG, 1009);
}

TEST(continuation_without_start_is_1002)
{
    static script s;
    add(&s, true, 0, 0, "x", 1, false);
    expect_failure(&s, NULL, WSC_EPROTO, 1002);
}

TEST(new_message_inside_fragmented_one_is_1002)
{
    static script s;
    add(&s, false, 0, 1, "a", 1, false);
    add(&s, true, 0, 1, "b", 1, false);
    expect_failure(&s, NULL, WSC_EPROTO, 1002);
}

TEST(bad_control_frames_are_1002)
{
    static script s1, s2;
    static uint8_t big[126];
    add(&s1, true, 0, 9, big, sizeof big, false); /* a 126-byte ping */
    expect_failure(&s1, NULL, WSC_EPROTO, 1002);
    add(&s2, false, 0, 9, "p", 1, false); /* a fragmented ping */
    expect_failure(&s2, NULL, WSC_EPROTO, 1002);
}

TEST(bad_close_payloads)
{
    static script s1, s2, s3;
    static const uint8_t code999[] = {0x03, 0xE7};
    static const uint8_t one[] = {0x03};
    static const uint8_t bad_reason[] = {0x03, 0xE8, 0xFF};
    add(&s1, true, 0, 8, code999, 2, false);
    expect_failure(&s1, NULL, WSC_EPROTO, 1002);
    add(&s2, true, 0, 8, one, 1, false);
    expect_failure(&s2, NULL, WSC_EPROTO, 1002);
    add(&s3, true, 0, 8, bad_reason, 3, false);
    expect_failure(&s3, NULL, WSC_EUTF8, 1007);
}

/* The server sends response (possibly nothing) and then holds the connection: the handshake gives
   up after its timeout, and the client is closed. */
static void expect_handshake_timeout(script *s, const char *response)
{
    s->response = response;
    s->hold_ms = 3000;
    CHECK(start(s));
    wsc_err err;
    wsc_client_config cfg = {.host = "127.0.0.1", .port = s->port};
    wsc_client *c = wsc_client_new(&cfg, &err);
    CHECK(c);
    wsc_handshake_opts opts = {.timeout_ms = 300};
    EXPECT_EQ_INT(wsc_client_handshake(c, "/", &opts, &err), WSC_ETIMEDOUT);
    EXPECT_EQ_INT(err.code, WSC_ETIMEDOUT);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
    finish(s);
}

TEST(handshake_never_answered_times_out)
{
    static script s;
    expect_handshake_timeout(&s, "");
}

TEST(handshake_partial_answer_times_out)
{
    static script s;
    expect_handshake_timeout(&s, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
}

static void expect_handshake_error(script *s, int want_status, const char *want_text)
{
    wsc_err err;
    s->hold_ms = 500;
    wsc_client *c = open_script(s, NULL, &err);
    finish(s);
    CHECK(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_EHANDSHAKE);
    EXPECT_EQ_INT(err.http_status, want_status);
    EXPECT(strstr(err.message, want_text) != NULL);
    if (!strstr(err.message, want_text))
        fprintf(stderr, "  message: %s\n", err.message);
}

TEST(non_101_answers)
{
    static script s1, s2, s3;
    s1.response = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    expect_handshake_error(&s1, 404, "404");
    s2.response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    expect_handshake_error(&s2, 200, "200");
    s3.response = "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n";
    expect_handshake_error(&s3, 302, "302");
}

TEST(wrong_accept_key)
{
    static script s;
    s.response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    expect_handshake_error(&s, 0, "ccept");
}

TEST(unoffered_extension_or_subprotocol)
{
    static script s1, s2;
    s1.extra_101 = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
    expect_handshake_error(&s1, 0, "extension");
    s2.extra_101 = "Sec-WebSocket-Protocol: chat\r\n";
    expect_handshake_error(&s2, 0, "subprotocol");
}

TEST(server_hangs_up_during_handshake)
{
    static script s;
    s.response = "HTTP/1.1 101 Switching";
    s.eof_after_frames = true;
    expect_handshake_error(&s, 0, "closed");
}

/* Reads the scripted sequence: PING "p", TEXT "Hello", BINARY 300 bytes, TEXT "" and a close. */
static void read_sequence(script *s, wsc_client_config *cfg)
{
    wsc_err err;
    wsc_client *c = open_script(s, cfg, &err);
    if (!c)
        finish(s);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_PING);
    EXPECT_EQ_INT(m.len, 1);
    EXPECT_EQ_MEM(m.data, "p", 1);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_TEXT);
    EXPECT_EQ_INT(m.len, 5);
    EXPECT_EQ_MEM(m.data, "Hello", 5);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_BINARY);
    EXPECT_EQ_INT(m.len, 300);
    for (size_t i = 0; i < m.len && i < 300; i++)
        if (m.data[i] != (uint8_t)i) {
            EXPECT(m.data[i] == (uint8_t)i);
            break;
        }
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_TEXT);
    EXPECT_EQ_INT(m.len, 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_CLOSE);
    EXPECT_EQ_INT(m.close_code, 1000);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
    finish(s);
    EXPECT_EQ_INT(s->close_code, 1000); /* the echoed code */
}

static void sequence_frames(script *s)
{
    static uint8_t bin[300];
    static const uint8_t close1000[] = {0x03, 0xE8};
    for (int i = 0; i < 300; i++)
        bin[i] = (uint8_t)i;
    add(s, false, 0, 1, "Hel", 3, false);
    add(s, true, 0, 9, "p", 1, false); /* a ping between fragments (section 5.4) */
    add(s, false, 0, 0, "", 0, false); /* an empty continuation */
    add(s, true, 0, 0, "lo", 2, false);
    add(s, true, 0, 2, bin, sizeof bin, false); /* 16-bit length */
    add(s, true, 0, 1, "", 0, false);
    add(s, true, 0, 8, close1000, 2, false);
}

TEST(frames_in_one_piece_with_the_101)
{
    static script s;
    sequence_frames(&s);
    s.together = true;
    read_sequence(&s, NULL);
}

TEST(frames_trickled_one_byte_at_a_time)
{
    static script s;
    sequence_frames(&s);
    s.trickle = true;
    read_sequence(&s, NULL);
}

TEST(frames_trickled_into_a_tiny_buffer)
{
    static script s, s2;
    sequence_frames(&s);
    s.trickle = true;
    wsc_client_config cfg = {.buffer_size = 16, .max_size = 1000};
    read_sequence(&s, &cfg);
    sequence_frames(&s2);
    s2.together = true;
    read_sequence(&s2, &cfg);
}

/* max_size == buffer_size: a message of exactly that size, fragmented, with the largest control
   frames between its fragments, still assembles in the read buffer. */
TEST(max_size_message_with_control_frames_between_fragments)
{
    static script s, s2;
    static uint8_t part[100], ping[125];
    memset(part, 'x', sizeof part);
    memset(ping, 'p', sizeof ping);
    for (int k = 0; k < 2; k++) {
        script *sc = k ? &s2 : &s;
        add(sc, false, 0, 2, part, 100, false);
        add(sc, true, 0, 9, ping, 125, false);
        add(sc, false, 0, 0, part, 50, false);
        add(sc, true, 0, 10, ping, 125, false);
        add(sc, true, 0, 0, part, 50, false);
        sc->trickle = k == 1;
        wsc_client_config cfg = {.buffer_size = 200, .max_size = 200};
        wsc_err err;
        wsc_client *c = open_script(sc, &cfg, &err);
        if (!c)
            finish(sc);
        CHECK(c);
        wsc_msg m;
        CHECK_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_PING);
        EXPECT_EQ_INT(m.len, 125);
        CHECK_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_PONG);
        CHECK_EQ_INT(wsc_client_read(c, &m), 0);
        EXPECT_EQ_INT(m.type, WSC_BINARY);
        EXPECT_EQ_INT(m.len, 200);
        for (size_t i = 0; i < m.len; i++)
            if (m.data[i] != 'x') {
                EXPECT(m.data[i] == 'x');
                break;
            }
        wsc_client_close(c, 0, NULL);
        wsc_client_free(c);
        finish(sc);
    }
}

TEST(close_answered_by_the_server)
{
    static script s;
    s.answer_close = true;
    wsc_err err;
    wsc_client *c = open_script(&s, NULL, &err);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_close(c, 4000, "bye"), 0);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
    finish(&s);
    EXPECT_EQ_INT(s.close_code, 4000);
    EXPECT_EQ_INT(s.close_len, 5);
    EXPECT_EQ_MEM(s.close_payload + 2, "bye", 3);
    /* Bad arguments are refused without sending anything. */
}

TEST(close_arguments_are_checked)
{
    static script s;
    s.answer_close = true;
    wsc_err err;
    wsc_client *c = open_script(&s, NULL, &err);
    CHECK(c);
    char longer[200];
    memset(longer, 'r', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    EXPECT_EQ_INT(wsc_client_close(c, 1005, NULL), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_close(c, 999, NULL), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_close(c, 1000, longer), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_close(c, 1000, "\xff"), WSC_EINVAL);
    uint8_t bad_close[] = {0x03, 0xE7};
    EXPECT_EQ_INT(wsc_client_write(c, WSC_CLOSE, bad_close, 2), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    wsc_client_free(c);
    finish(&s);
    EXPECT_EQ_INT(s.close_code, 1000);
    EXPECT_EQ_INT(s.frames_seen, 1);
}

TEST(close_not_answered_gives_up)
{
    static script s;
    s.answer_close = false;
    s.hold_ms = 4000;
    wsc_err err;
    wsc_client *c = open_script(&s, NULL, &err);
    CHECK(c);
    EXPECT_EQ_INT(wsc_client_close(c, 1001, NULL), 0);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
    finish(&s);
    EXPECT_EQ_INT(s.close_code, 1001);
}

/* The script's only frame is a close: the read returns it with want_code and a reason of
   want_len bytes, and the client's answer echoes the code. */
static void expect_server_close(script *s, unsigned want_code, size_t want_len)
{
    wsc_err err;
    wsc_client *c = open_script(s, NULL, &err);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_CLOSE);
    EXPECT_EQ_INT(m.close_code, want_code);
    EXPECT_EQ_INT(m.len, want_len);
    wsc_client_free(c);
    finish(s);
    EXPECT_EQ_INT(s->close_code, want_code);
}

TEST(server_close_without_code_is_1005_and_answered_empty)
{
    static script s;
    add(&s, true, 0, 8, "", 0, false);
    expect_server_close(&s, 1005, 0);
    EXPECT_EQ_INT(s.close_len, 0);
}

TEST(longest_close_reason)
{
    static script s;
    uint8_t p[125];
    p[0] = 0x0F;
    p[1] = 0xA0; /* 4000 */
    memset(p + 2, 'r', 123);
    add(&s, true, 0, 8, p, sizeof p, false);
    expect_server_close(&s, 4000, 123);
}

TEST(eof_in_the_middle_of_a_message)
{
    static script s;
    add(&s, false, 0, 1, "partial", 7, false);
    s.frames_len -= 3; /* cut inside the payload */
    s.eof_after_frames = true;
    wsc_err err;
    wsc_client *c = open_script(&s, NULL, &err);
    CHECK(c);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    wsc_client_free(c);
    finish(&s);
}

TEST(frames_we_send_are_masked)
{
    static script s;
    s.answer_close = true;
    wsc_err err;
    wsc_client *c = open_script(&s, NULL, &err);
    CHECK(c);
    char text[] = "masked text";
    char copy[sizeof text];
    memcpy(copy, text, sizeof text);
    EXPECT_EQ_INT(wsc_client_write_in_place(c, WSC_TEXT, text, 11), 0);
    EXPECT_EQ_INT(wsc_client_write_binary(c, copy, 11), 0);
    EXPECT_EQ_INT(memcmp(copy, "masked text", 11), 0); /* the copying write leaves the data alone */
    EXPECT_EQ_INT(wsc_client_write_ping(c, NULL, 0), 0);
    EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    wsc_client_free(c);
    finish(&s);
    EXPECT_EQ_INT(s.frames_seen, 4);
    EXPECT(s.all_masked);
}

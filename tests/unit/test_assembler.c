/* The message assembler (proto/assembler.h) fed by the real reader: the RFC 6455 section 5.6
 * fragmented "Hello" example, messages in fragments of every size with control frames between
 * them, fed whole and split at every byte; a whole message handed out in place; a chunk read where
 * it belongs not copied; a store that refuses room; empty messages and fragments. */
#include "../test.h"

#include "proto/assembler.h"
#include "proto/frame.h"
#include "proto/reader.h"
#include "test_frame_build.h"

/* A store over a fixed buffer, with a limit and counts of what it was asked. */
struct store {
    uint8_t buf[4096];
    size_t limit;
    int calls;
};

static uint8_t *room(void *ctx, size_t have, size_t need, const uint8_t *chunk)
{
    struct store *s = ctx;
    (void)have;
    (void)chunk;
    s->calls++;
    return need <= s->limit ? s->buf : NULL;
}

/* Feeds stream[0..n) to a client-role reader in pieces of at most step bytes, as a connection does
   (unconsumed bytes kept and extended), collecting complete messages into out ("|"-separated,
   type as 't' or 'b' before each) and counting control frames. Returns the last result. */
static int feed(const uint8_t *stream, size_t n, size_t step, struct store *st, char *out,
                size_t out_cap, int *controls)
{
    wsc__reader r;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    const wsc__asm_store store = {room, st};
    uint8_t win[8192];
    size_t have = 0, wlen = 0, fed = 0, olen = 0;
    int last = WSC__ASM_MORE;
    out[0] = 0;
    *controls = 0;
    while (fed < n || wlen) {
        size_t take = n - fed < step ? n - fed : step;
        memcpy(win + wlen, stream + fed, take);
        wlen += take;
        fed += take;
        size_t pos = 0;
        for (;;) {
            wsc__event ev;
            size_t used = wsc__reader_next(&r, win + pos, wlen - pos, &ev);
            if (ev.kind == WSC__EV_NEED_MORE || ev.kind == WSC__EV_ERROR)
                break;
            pos += used;
            if (ev.kind == WSC__EV_CONTROL) {
                (*controls)++;
                continue;
            }
            uint8_t *data;
            size_t len;
            last = wsc__asm_add(&have, &ev, &store, &data, &len);
            if (last == WSC__ASM_NOMEM)
                return last;
            if (last == WSC__ASM_DONE)
                olen += (size_t)snprintf(out + olen, out_cap - olen, "%c%.*s|",
                                         ev.opcode == WSC__OP_TEXT ? 't' : 'b', (int)len,
                                         len ? (const char *)data : "");
        }
        /* What is left of a partial frame moves to the front; bytes of a data frame already
           consumed are gone (their chunk was handed out). */
        memmove(win, win + pos, wlen - pos);
        wlen -= pos;
        if (fed == n && pos == 0)
            break;
    }
    return last;
}

static size_t frame(uint8_t *out, bool fin, unsigned op, const char *payload)
{
    return wt_build_frame(out, fin, 0, op, NULL, payload, strlen(payload));
}

TEST(rfc_fragmented_hello_at_every_split)
{
    /* Section 5.6: "Hel" then "lo" in a text message of two frames. */
    static const uint8_t stream[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    for (size_t step = 1; step <= sizeof stream; step++) {
        struct store st = {.limit = sizeof st.buf};
        char out[64];
        int controls;
        EXPECT_EQ_INT(feed(stream, sizeof stream, step, &st, out, sizeof out, &controls),
                      WSC__ASM_DONE);
        EXPECT(strcmp(out, "tHello|") == 0);
    }
}

TEST(fragments_with_control_frames_between_at_every_split)
{
    uint8_t stream[512];
    size_t n = 0;
    n += frame(stream + n, true, WSC__OP_BINARY, "whole");
    n += frame(stream + n, false, WSC__OP_TEXT, "one ");
    n += frame(stream + n, true, WSC__OP_PING, "p");
    n += frame(stream + n, false, WSC__OP_CONT, "");
    n += frame(stream + n, false, WSC__OP_CONT, "two ");
    n += frame(stream + n, true, WSC__OP_PONG, "");
    n += frame(stream + n, true, WSC__OP_CONT, "three");
    n += frame(stream + n, true, WSC__OP_TEXT, "");
    n += frame(stream + n, false, WSC__OP_BINARY, "");
    n += frame(stream + n, true, WSC__OP_CONT, "");
    for (size_t step = 1; step <= n; step++) {
        struct store st = {.limit = sizeof st.buf};
        char out[128];
        int controls;
        feed(stream, n, step, &st, out, sizeof out, &controls);
        EXPECT(strcmp(out, "bwhole|tone two three|t|b|") == 0);
        EXPECT_EQ_INT(controls, 2);
        if (!TEST_OK()) {
            fprintf(stderr, "  step %zu: %s\n", step, out);
            return;
        }
    }
}

TEST(whole_message_in_place_and_no_store_call)
{
    uint8_t buf[64];
    size_t n = frame(buf, true, WSC__OP_TEXT, "abc");
    wsc__reader r;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    struct store st = {.limit = sizeof st.buf};
    const wsc__asm_store store = {room, &st};
    wsc__event ev;
    EXPECT_EQ_INT(wsc__reader_next(&r, buf, n, &ev), n);
    size_t have = 0, len = 0;
    uint8_t *data = NULL;
    EXPECT_EQ_INT(wsc__asm_add(&have, &ev, &store, &data, &len), WSC__ASM_DONE);
    EXPECT(data == buf + 2);
    EXPECT_EQ_INT(len, 3);
    EXPECT_EQ_INT(st.calls, 0);
}

TEST(chunk_where_it_belongs_is_not_moved)
{
    /* A store whose buffer is where the chunks were read: the bytes stay (memmove would be a
       no-op, and is skipped), and the message is the buffer. */
    struct store st = {.limit = sizeof st.buf};
    const wsc__asm_store store = {room, &st};
    memcpy(st.buf, "abcdef", 6);
    wsc__event first = {.kind = WSC__EV_DATA, .opcode = WSC__OP_BINARY, .data = st.buf, .len = 3,
                        .first = true};
    wsc__event last = {.kind = WSC__EV_DATA, .opcode = WSC__OP_BINARY, .data = st.buf + 3, .len = 3,
                       .last = true};
    size_t have = 0, len = 0;
    uint8_t *data = NULL;
    EXPECT_EQ_INT(wsc__asm_add(&have, &first, &store, &data, &len), WSC__ASM_MORE);
    EXPECT_EQ_INT(have, 3);
    EXPECT_EQ_INT(wsc__asm_add(&have, &last, &store, &data, &len), WSC__ASM_DONE);
    EXPECT(data == st.buf);
    EXPECT_EQ_INT(len, 6);
    EXPECT(memcmp(st.buf, "abcdef", 6) == 0);
    EXPECT_EQ_INT(have, 0);
}

TEST(store_without_room_fails_the_message)
{
    uint8_t stream[64];
    size_t n = 0;
    n += frame(stream + n, false, WSC__OP_TEXT, "0123456789");
    n += frame(stream + n, true, WSC__OP_CONT, "0123456789");
    struct store st = {.limit = 15};
    char out[64];
    int controls;
    EXPECT_EQ_INT(feed(stream, n, n, &st, out, sizeof out, &controls), WSC__ASM_NOMEM);
    EXPECT(out[0] == 0);
}

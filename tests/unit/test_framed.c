/* Compile-time frames (WSC_FRAME_TEXT / WSC_FRAME_BIN) and runtime frames (wsc_frame_new), checked byte
 * for byte against the frame header builder, at each length-encoding boundary. */
#include "proto/frame.h"
#include "../test.h"
#include "wsc.h"

/* Literals of exact lengths, built by doubling (string literal concatenation). Lengths beyond 4095
 * exceed what ISO C requires compilers to support; gcc and clang handle them. */
#pragma GCC diagnostic ignored "-Woverlength-strings"
#define L1 "a"
#define L2 "bc"
#define L4 L2 L2
#define L8 "defghijk"
#define L16 L8 L8
#define L32 L16 L16
#define L64 L32 L32
#define L128 L64 L64
#define L256 L128 L128
#define L512 L256 L256
#define L1K L512 L512
#define L2K L1K L1K
#define L4K L2K L2K
#define L8K L4K L4K
#define L16K L8K L8K
#define L32K L16K L16K
#define L64K L32K L32K

#define S0 ""
#define S1 L1
#define S125 L64 L32 L16 L8 L4 L1
#define S126 L64 L32 L16 L8 L4 L2
#define S200 L128 L64 L8
#define S65535 L32K L16K L8K L4K L2K L1K L512 L256 L128 L64 L32 L16 L8 L4 L2 L1
#define S65536 L64K

_Static_assert(sizeof(S125) - 1 == 125, "S125");
_Static_assert(sizeof(S126) - 1 == 126, "S126");
_Static_assert(sizeof(S200) - 1 == 200, "S200");
_Static_assert(sizeof(S65535) - 1 == 65535, "S65535");
_Static_assert(sizeof(S65536) - 1 == 65536, "S65536");

static const wsc_framed T0 = WSC_FRAME_TEXT(S0), B0 = WSC_FRAME_BIN(S0);
static const wsc_framed T1 = WSC_FRAME_TEXT(S1), B1 = WSC_FRAME_BIN(S1);
static const wsc_framed T125 = WSC_FRAME_TEXT(S125), B125 = WSC_FRAME_BIN(S125);
static const wsc_framed T126 = WSC_FRAME_TEXT(S126), B126 = WSC_FRAME_BIN(S126);
static const wsc_framed T200 = WSC_FRAME_TEXT(S200), B200 = WSC_FRAME_BIN(S200);
static const wsc_framed T65535 = WSC_FRAME_TEXT(S65535), B65535 = WSC_FRAME_BIN(S65535);
static const wsc_framed T65536 = WSC_FRAME_TEXT(S65536), B65536 = WSC_FRAME_BIN(S65536);

/* The reference: header from wsc__frame_header_build, then the payload. */
static bool frame_matches(const wsc_framed *f, unsigned opcode, const char *payload, size_t len)
{
    uint8_t hdr[14];
    size_t hl = wsc__frame_header_build(hdr, opcode, true, false, len, NULL);
    if (f->len != hl + len) {
        fprintf(stderr, "  length %zu: frame is %zu bytes, expected %zu\n", len, f->len, hl + len);
        return false;
    }
    if (memcmp(f->data, hdr, hl) != 0) {
        fprintf(stderr, "  length %zu: header differs\n", len);
        return false;
    }
    return len == 0 || memcmp(f->data + hl, payload, len) == 0;
}

/* And the same bytes from wsc_frame_new. */
static bool runtime_matches(const wsc_framed *f, wsc_msg_type type, const char *payload, size_t len)
{
    wsc_framed r;
    bool ok;
    if (wsc_frame_new(&r, type, payload, len) != 0)
        return false;
    ok = r.len == f->len && memcmp(r.data, f->data, r.len) == 0;
    wsc_frame_free(&r);
    return ok;
}

#define CHECK_PAIR(T, B, S)                                                                        \
    do {                                                                                           \
        EXPECT(frame_matches(&(T), WSC__OP_TEXT, S, sizeof(S) - 1));                               \
        EXPECT(frame_matches(&(B), WSC__OP_BINARY, S, sizeof(S) - 1));                             \
        EXPECT(runtime_matches(&(T), WSC_TEXT, S, sizeof(S) - 1));                                 \
        EXPECT(runtime_matches(&(B), WSC_BINARY, S, sizeof(S) - 1));                               \
    } while (0)

TEST(frame_macros_file_scope)
{
    CHECK_PAIR(T0, B0, S0);
    CHECK_PAIR(T1, B1, S1);
    CHECK_PAIR(T125, B125, S125);
    CHECK_PAIR(T126, B126, S126);
    CHECK_PAIR(T200, B200, S200);
    CHECK_PAIR(T65535, B65535, S65535);
    CHECK_PAIR(T65536, B65536, S65536);
}

TEST(frame_macros_header_bytes_explicit)
{
    /* Section 5.2 encodings spelled out, independent of the builder. */
    EXPECT(T0.len == 2 && T0.data[0] == 0x81 && T0.data[1] == 0);
    EXPECT(B1.len == 3 && B1.data[0] == 0x82 && B1.data[1] == 1 && B1.data[2] == 'a');
    EXPECT(T125.len == 127 && T125.data[1] == 125);
    EXPECT(T126.len == 130 && T126.data[1] == 126 && T126.data[2] == 0 && T126.data[3] == 126);
    EXPECT(T65535.data[1] == 126 && T65535.data[2] == 0xff && T65535.data[3] == 0xff);
    static const uint8_t h64k[10] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    EXPECT_EQ_MEM(B65536.data, h64k, 10);
    EXPECT_EQ_INT(B65536.len, 65546);
}

TEST(frame_macros_block_scope)
{
    {
        const wsc_framed t = WSC_FRAME_TEXT(S0), b = WSC_FRAME_BIN(S0);
        CHECK_PAIR(t, b, S0);
    }
    {
        const wsc_framed t = WSC_FRAME_TEXT(S1), b = WSC_FRAME_BIN(S1);
        CHECK_PAIR(t, b, S1);
    }
    {
        const wsc_framed t = WSC_FRAME_TEXT(S125), b = WSC_FRAME_BIN(S125);
        CHECK_PAIR(t, b, S125);
    }
    {
        const wsc_framed t = WSC_FRAME_TEXT(S126), b = WSC_FRAME_BIN(S126);
        CHECK_PAIR(t, b, S126);
    }
    {
        const wsc_framed t = WSC_FRAME_TEXT(S200), b = WSC_FRAME_BIN(S200);
        CHECK_PAIR(t, b, S200);
    }
    {
        const wsc_framed t = WSC_FRAME_TEXT(S65535), b = WSC_FRAME_BIN(S65535);
        CHECK_PAIR(t, b, S65535);
    }
    {
        const wsc_framed t = WSC_FRAME_TEXT(S65536), b = WSC_FRAME_BIN(S65536);
        CHECK_PAIR(t, b, S65536);
    }
    {
        /* Non-ASCII bytes survive unchanged (the frame is bytes, not characters). */
        const wsc_framed t = WSC_FRAME_TEXT("h\xc3\xa9llo \xe2\x82\xac");
        EXPECT(frame_matches(&t, WSC__OP_TEXT, "h\xc3\xa9llo \xe2\x82\xac", 10));
    }
}

TEST(frame_new_control_and_errors)
{
    wsc_framed f;
    uint8_t payload[126];
    memset(payload, 'p', sizeof payload);
    CHECK_EQ_INT(wsc_frame_new(&f, WSC_PING, payload, 125), 0);
    EXPECT(f.len == 127 && f.data[0] == 0x89 && f.data[1] == 125);
    wsc_frame_free(&f);
    EXPECT(f.data == NULL && f.len == 0);
    CHECK_EQ_INT(wsc_frame_new(&f, WSC_PONG, NULL, 0), 0);
    EXPECT(f.len == 2 && f.data[0] == 0x8a && f.data[1] == 0);
    wsc_frame_free(&f);
    EXPECT_EQ_INT(wsc_frame_new(&f, WSC_PING, payload, 126), WSC_EINVAL); /* section 5.5 */
    EXPECT(f.data == NULL);
    EXPECT_EQ_INT(wsc_frame_new(&f, WSC_CLOSE, payload, 2), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_frame_new(&f, (wsc_msg_type)3, payload, 2), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_frame_new(&f, WSC_TEXT, NULL, 5), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_frame_new(NULL, WSC_TEXT, "x", 1), WSC_EINVAL);
    wsc_frame_free(NULL);
    wsc_frame_free(&f); /* already empty */
}

TEST(frame_new_large_runtime)
{
    size_t n = (size_t)1 << 20;
    uint8_t *p = malloc(n);
    wsc_framed f;
    CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31);
    CHECK_EQ_INT(wsc_frame_new(&f, WSC_BINARY, p, n), 0);
    uint8_t hdr[14];
    size_t hl = wsc__frame_header_build(hdr, WSC__OP_BINARY, true, false, n, NULL);
    EXPECT_EQ_INT(f.len, hl + n);
    EXPECT_EQ_MEM(f.data, hdr, hl);
    EXPECT_EQ_MEM(f.data + hl, p, n);
    wsc_frame_free(&f);
    free(p);
}

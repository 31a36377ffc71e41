/* Frame header builder: RFC 6455 section 5.2 layout and the section 5.7 example frames. */
#include "../test.h"

#include "proto/frame.h"
#include "proto/mask.h"

static const uint8_t rfc_key[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Builds a whole frame (header + payload, masked when key != NULL) into out; returns its length. */
static size_t build(uint8_t *out, unsigned op, bool fin, const void *payload, size_t n,
                    const uint8_t *key)
{
    size_t h = wsc__frame_header_build(out, op, fin, false, n, key);
    if (n)
        memcpy(out + h, payload, n);
    if (key)
        wsc__mask(out + h, n, key, 0);
    return h + n;
}

TEST(rfc_5_7_single_frame_unmasked_text)
{
    static const uint8_t want[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    uint8_t out[64];
    CHECK_EQ_INT(build(out, WSC__OP_TEXT, true, "Hello", 5, NULL), sizeof want);
    CHECK_EQ_MEM(out, want, sizeof want);
}

TEST(rfc_5_7_single_frame_masked_text)
{
    static const uint8_t want[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t out[64];
    CHECK_EQ_INT(build(out, WSC__OP_TEXT, true, "Hello", 5, rfc_key), sizeof want);
    CHECK_EQ_MEM(out, want, sizeof want);
}

TEST(rfc_5_7_fragmented_unmasked_text)
{
    static const uint8_t want1[] = {0x01, 0x03, 0x48, 0x65, 0x6c};
    static const uint8_t want2[] = {0x80, 0x02, 0x6c, 0x6f};
    uint8_t out[64];
    CHECK_EQ_INT(build(out, WSC__OP_TEXT, false, "Hel", 3, NULL), sizeof want1);
    CHECK_EQ_MEM(out, want1, sizeof want1);
    CHECK_EQ_INT(build(out, WSC__OP_CONT, true, "lo", 2, NULL), sizeof want2);
    CHECK_EQ_MEM(out, want2, sizeof want2);
}

TEST(rfc_5_7_unmasked_ping_masked_pong)
{
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t out[64];
    CHECK_EQ_INT(build(out, WSC__OP_PING, true, "Hello", 5, NULL), sizeof ping);
    CHECK_EQ_MEM(out, ping, sizeof ping);
    CHECK_EQ_INT(build(out, WSC__OP_PONG, true, "Hello", 5, rfc_key), sizeof pong);
    CHECK_EQ_MEM(out, pong, sizeof pong);
}

TEST(rfc_5_7_binary_256_bytes_and_64k)
{
    static const uint8_t want256[] = {0x82, 0x7E, 0x01, 0x00};
    static const uint8_t want64k[] = {0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    uint8_t out[14];
    CHECK_EQ_INT(wsc__frame_header_build(out, WSC__OP_BINARY, true, false, 256, NULL), 4);
    CHECK_EQ_MEM(out, want256, 4);
    CHECK_EQ_INT(wsc__frame_header_build(out, WSC__OP_BINARY, true, false, 65536, NULL), 10);
    CHECK_EQ_MEM(out, want64k, 10);
}

TEST(length_encoding_boundaries)
{
    static const struct {
        uint64_t len;
        size_t hl;
        uint8_t b1;
    } cases[] = {{0, 2, 0},
                 {1, 2, 1},
                 {125, 2, 125},
                 {126, 4, 126},
                 {127, 4, 126},
                 {65535, 4, 126},
                 {65536, 10, 127},
                 {UINT64_C(0xFFFFFFFF), 10, 127},
                 {UINT64_C(0x100000000), 10, 127},
                 {INT64_MAX, 10, 127}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[14];
        size_t hl = wsc__frame_header_build(out, WSC__OP_BINARY, true, false, cases[i].len, NULL);
        CHECK_EQ_INT(hl, cases[i].hl);
        CHECK_EQ_INT(wsc__frame_header_len(cases[i].len, false), cases[i].hl);
        CHECK_EQ_INT(wsc__frame_header_len(cases[i].len, true), cases[i].hl + 4);
        CHECK_EQ_INT(out[1], cases[i].b1);
        uint64_t got = out[1];
        if (hl == 4)
            got = (uint64_t)out[2] << 8 | out[3];
        else if (hl == 10) {
            got = 0;
            for (int j = 0; j < 8; j++)
                got = got << 8 | out[2 + j];
        }
        CHECK(got == cases[i].len);
        uint8_t key[4] = {1, 2, 3, 4};
        CHECK_EQ_INT(wsc__frame_header_build(out, WSC__OP_BINARY, true, false, cases[i].len, key),
                     hl + 4);
        CHECK_EQ_INT(out[1] & 0x80, 0x80);
        CHECK_EQ_MEM(out + hl, key, 4);
    }
}

TEST(length_top_bit_never_set)
{
    uint8_t out[14];
    CHECK_EQ_INT(wsc__frame_header_build(out, WSC__OP_BINARY, true, false, UINT64_MAX, NULL), 10);
    CHECK_EQ_INT(out[2] & 0x80, 0);
    CHECK_EQ_INT(out[2], 0x7F);
}

TEST(first_byte_bits)
{
    uint8_t out[14];
    wsc__frame_header_build(out, WSC__OP_TEXT, false, false, 0, NULL);
    CHECK_EQ_INT(out[0], 0x01);
    wsc__frame_header_build(out, WSC__OP_TEXT, true, true, 0, NULL);
    CHECK_EQ_INT(out[0], 0xC1);
    wsc__frame_header_build(out, WSC__OP_CONT, true, false, 0, NULL);
    CHECK_EQ_INT(out[0], 0x80);
    wsc__frame_header_build(out, WSC__OP_CLOSE, true, false, 2, NULL);
    CHECK_EQ_INT(out[0], 0x88);
    CHECK_EQ_INT(out[1], 2);
    wsc__frame_header_build(out, 0x1F, true, false, 0, NULL); /* opcode is 4 bits */
    CHECK_EQ_INT(out[0], 0x8F);
}

TEST(opcode_classes)
{
    for (unsigned op = 0; op < 16; op++)
        CHECK_EQ_INT(wsc__op_is_control(op), op >= 8);
    CHECK_EQ_INT(WSC__CONTROL_FRAME_MAX, 139);
}

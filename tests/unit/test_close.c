/* Close codes and payloads: RFC 6455 sections 5.5.1 and 7.4. */
#include "../test.h"

#include "proto/close.h"
#include "wsc.h"

static bool expected_valid(unsigned c)
{
    if (c < 1000 || c >= 5000)
        return false;
    if (c >= 1004 && c <= 1006)
        return false;
    if (c >= 1015 && c < 3000) /* 1015 (local-only) and 1016-2999 (reserved) */
        return false;
    return true;
}

TEST(code_rules_exhaustive)
{
    for (unsigned c = 0; c <= 70000; c++)
        CHECK_EQ_INT(wsc__close_code_valid_on_wire(c), expected_valid(c));
}

TEST(code_rules_named)
{
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                  1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                   1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK(wsc__close_code_valid_on_wire(ok[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(!wsc__close_code_valid_on_wire(bad[i]));
}

/* 1012 (service restart), 1013 (try again later) and 1014 (bad gateway): registered in the IANA
 * WebSocket Close Code Number Registry after RFC 6455, sent by servers and proxies in practice. */
TEST(iana_codes_1012_to_1014_accepted)
{
    static const unsigned codes[] = {1012, 1013, 1014};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        unsigned c = codes[i];
        uint8_t p[] = {(uint8_t)(c >> 8), (uint8_t)c, 'b', 'y', 'e'}, out[125];
        unsigned code = 0;
        const uint8_t *reason = NULL;
        size_t rl = 0;
        CHECK_EQ_INT(wsc__close_payload_parse(p, sizeof p, &code, &reason, &rl), 0);
        CHECK_EQ_INT(code, c);
        CHECK(reason == p + 2 && rl == 3);
        CHECK_EQ_INT(wsc__close_payload_build(out, c, "bye", 3), 5);
        CHECK_EQ_MEM(out, p, 5);
    }
    CHECK_EQ_INT(WSC__CLOSE_SERVICE_RESTART, 1012);
    CHECK_EQ_INT(WSC__CLOSE_TRY_AGAIN_LATER, 1013);
    CHECK_EQ_INT(WSC__CLOSE_BAD_GATEWAY, 1014);
    CHECK_EQ_INT(WSC_CLOSE_SERVICE_RESTART, 1012);
    CHECK_EQ_INT(WSC_CLOSE_TRY_AGAIN_LATER, 1013);
    CHECK_EQ_INT(WSC_CLOSE_BAD_GATEWAY, 1014);
    /* 1015 stays local-only: a TLS failure is never announced in a close frame. */
    uint8_t tls[] = {0x03, 0xF7};
    CHECK_EQ_INT(wsc__close_payload_parse(tls, 2, NULL, NULL, NULL), 1002);
}

TEST(parse_empty_is_1005)
{
    unsigned code = 0;
    const uint8_t *reason = (const uint8_t *)"x";
    size_t rl = 9;
    CHECK_EQ_INT(wsc__close_payload_parse(NULL, 0, &code, &reason, &rl), 0);
    CHECK_EQ_INT(code, 1005);
    CHECK(reason == NULL);
    CHECK_EQ_INT(rl, 0);
}

TEST(parse_one_byte_is_1002)
{
    uint8_t p[1] = {0x03};
    CHECK_EQ_INT(wsc__close_payload_parse(p, 1, NULL, NULL, NULL), 1002);
}

TEST(parse_code_only_and_with_reason)
{
    uint8_t p[] = {0x03, 0xE8, 'b', 'y', 'e'};
    unsigned code;
    const uint8_t *reason;
    size_t rl;
    CHECK_EQ_INT(wsc__close_payload_parse(p, 2, &code, &reason, &rl), 0);
    CHECK_EQ_INT(code, 1000);
    CHECK(reason == NULL);
    CHECK_EQ_INT(rl, 0);
    CHECK_EQ_INT(wsc__close_payload_parse(p, 5, &code, &reason, &rl), 0);
    CHECK_EQ_INT(code, 1000);
    CHECK(reason == p + 2);
    CHECK_EQ_INT(rl, 3);
}

TEST(parse_every_code)
{
    for (unsigned c = 0; c <= 65535; c++) {
        uint8_t p[2] = {(uint8_t)(c >> 8), (uint8_t)c};
        unsigned code = 0;
        int rc = wsc__close_payload_parse(p, 2, &code, NULL, NULL);
        CHECK_EQ_INT(rc, expected_valid(c) ? 0 : 1002);
        if (rc == 0)
            CHECK_EQ_INT(code, c);
    }
}

TEST(parse_reason_utf8)
{
    uint8_t good[] = {0x0F, 0xA0, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9}; /* 4000 "κό" */
    uint8_t bad[] = {0x03, 0xE8, 'o', 'k', 0xED, 0xA0, 0x80};    /* surrogate */
    uint8_t cut[] = {0x03, 0xE8, 0xE2, 0x82};                    /* truncated euro sign */
    uint8_t over[] = {0x03, 0xE8, 0xC0, 0x80};                   /* overlong NUL */
    CHECK_EQ_INT(wsc__close_payload_parse(good, sizeof good, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(wsc__close_payload_parse(bad, sizeof bad, NULL, NULL, NULL), 1007);
    CHECK_EQ_INT(wsc__close_payload_parse(cut, sizeof cut, NULL, NULL, NULL), 1007);
    CHECK_EQ_INT(wsc__close_payload_parse(over, sizeof over, NULL, NULL, NULL), 1007);
    /* A bad code is reported as 1002 even when the reason is also bad. */
    over[1] = 0xED; /* 1005 */
    CHECK_EQ_INT(wsc__close_payload_parse(over, sizeof over, NULL, NULL, NULL), 1002);
}

TEST(parse_length_limit)
{
    uint8_t p[126];
    memset(p, 'a', sizeof p);
    p[0] = 0x03;
    p[1] = 0xE8;
    CHECK_EQ_INT(wsc__close_payload_parse(p, 125, NULL, NULL, NULL), 0);
    CHECK_EQ_INT(wsc__close_payload_parse(p, 126, NULL, NULL, NULL), 1002);
}

TEST(build_code_and_reason)
{
    uint8_t out[125];
    size_t n = wsc__close_payload_build(out, 1001, "going", 5);
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_MEM(out, "\x03\xE9going", 7);
    CHECK_EQ_INT(wsc__close_payload_build(out, 4999, NULL, 0), 2);
    CHECK_EQ_MEM(out, "\x13\x87", 2);
}

TEST(build_no_status_codes_give_empty_payload)
{
    uint8_t out[125];
    CHECK_EQ_INT(wsc__close_payload_build(out, 0, "x", 1), 0);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1005, NULL, 0), 0);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1006, NULL, 0), 0);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1015, NULL, 0), 0);
    CHECK_EQ_INT(wsc__close_payload_build(out, 5000, NULL, 0), 0);
}

TEST(build_truncates_reason_at_code_point)
{
    uint8_t out[125];
    char r[300];
    memset(r, 'a', sizeof r);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, r, sizeof r), 125);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, r, 123), 125);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, r, 122), 124);
    /* 62 two-byte characters = 124 bytes: only 61 fit. */
    for (int i = 0; i < 62; i++) {
        r[2 * i] = (char)0xC3;
        r[2 * i + 1] = (char)0xA9;
    }
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, r, 124), 2 + 122);
    /* Four-byte characters: 31 * 4 = 124, 30 fit (120 bytes); shift by one ASCII byte: 1 + 30 * 4.
     */
    r[0] = 'x';
    for (int i = 0; i < 31; i++)
        memcpy(r + 1 + 4 * i, "\xF0\x9F\x98\x80", 4);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, r, 125), 2 + 121);
    unsigned code;
    const uint8_t *reason;
    size_t rl;
    CHECK_EQ_INT(wsc__close_payload_parse(out, 123, &code, &reason, &rl), 0);
    CHECK_EQ_INT(rl, 121);
}

TEST(build_drops_invalid_reason)
{
    uint8_t out[125];
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, "a\xFF", 2), 2);
    CHECK_EQ_INT(wsc__close_payload_build(out, 1000, "a\xE2\x82", 3), 2);
}

TEST(build_parse_round_trip)
{
    static const char *reasons[] = {"", "normal", "\xE2\x82\xAC uro", "\xF4\x8F\xBF\xBF"};
    for (unsigned c = 990; c < 5010; c++)
        for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
            uint8_t out[125];
            size_t rl0 = strlen(reasons[i]);
            size_t n = wsc__close_payload_build(out, c, reasons[i], rl0);
            unsigned code;
            const uint8_t *reason;
            size_t rl;
            CHECK_EQ_INT(wsc__close_payload_parse(out, n, &code, &reason, &rl), 0);
            if (expected_valid(c)) {
                CHECK_EQ_INT(code, c);
                CHECK_EQ_INT(rl, rl0);
                CHECK_EQ_MEM(reason, reasons[i], rl0);
            } else {
                CHECK_EQ_INT(n, 0);
                CHECK_EQ_INT(code, 1005);
            }
        }
}

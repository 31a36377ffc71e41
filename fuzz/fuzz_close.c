/* libFuzzer target: close payload parsing (any bytes) and building (code and reason from the
 * input), checked against the rules of RFC 6455 sections 5.5.1 and 7.4 restated here. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/close.h"
#include "proto/utf8.h"

static bool code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned code = 12345;
    const uint8_t *reason = data;
    size_t rl = 999;
    int rc = wsc__close_payload_parse(data, size, &code, &reason, &rl);

    int want;
    if (size == 0)
        want = 0;
    else if (size == 1 || size > 125 || !code_ok((unsigned)data[0] << 8 | data[1]))
        want = 1002;
    else
        want = wsc__utf8_valid(data + 2, size - 2) ? 0 : 1007;
    ASSERT(rc == want);
    ASSERT(wsc__close_code_valid_on_wire(size >= 2 ? ((unsigned)data[0] << 8 | data[1]) : 0) ==
           (size >= 2 && code_ok((unsigned)data[0] << 8 | data[1])));
    if (rc == 0) {
        if (size == 0) {
            ASSERT(code == 1005 && reason == NULL && rl == 0);
        } else {
            ASSERT(code == ((unsigned)data[0] << 8 | data[1]));
            ASSERT(rl == size - 2);
            ASSERT(rl == 0 ? reason == NULL : reason == data + 2);
        }
    }
    /* Null output pointers are allowed. */
    ASSERT(wsc__close_payload_parse(data, size, NULL, NULL, NULL) == rc);

    /* Build from the input: code from the first two bytes, reason from the rest (any length). */
    if (size >= 2) {
        unsigned c = (unsigned)data[0] << 8 | data[1];
        const char *r = (const char *)data + 2;
        size_t n = size - 2;
        uint8_t out[125 + 16];
        memset(out, 0xEE, sizeof out);
        size_t len = wsc__close_payload_build(out, c, r, n);
        ASSERT(len <= 125);
        for (size_t i = 125; i < sizeof out; i++)
            ASSERT(out[i] == 0xEE);
        if (!code_ok(c)) {
            ASSERT(len == 0);
        } else {
            ASSERT(len >= 2);
            unsigned got;
            const uint8_t *gr;
            size_t grl;
            ASSERT(wsc__close_payload_parse(out, len, &got, &gr, &grl) == 0);
            ASSERT(got == c);
            ASSERT(grl <= WSC__CLOSE_REASON_MAX && grl <= n);
            ASSERT(grl == 0 || memcmp(gr, r, grl) == 0);
            if (wsc__utf8_valid(data + 2, n)) {
                if (n <= WSC__CLOSE_REASON_MAX)
                    ASSERT(grl == n);
                else
                    ASSERT(grl + 3 >=
                           WSC__CLOSE_REASON_MAX); /* cut at most a 3-byte partial code point */
            } else {
                ASSERT(grl == 0);
            }
        }
    }
    return 0;
}

/* libFuzzer target: the client's 101 response parser, and the server's
 * response builders checked against it.
 *
 * Input byte 0: bit 7 selects the builder mode. Byte 1: max_size
 * (64 + 16 * byte). Bytes 2-3 seed the split points.
 *
 * Parser mode: the rest is a server's answer to a request sent with RFC 6455's
 * example key (so the corpus can hold the right accept value). It is parsed
 * whole, split at input-derived points (each prefix in an exact allocation)
 * and, when short, one byte at a time; all must agree.
 *
 * Builder mode: the rest is extra header names and values separated by 0xff
 * (and a status); whatever the 101 builder accepts, the client parser must
 * accept with the same protocol, and every error response must parse as a
 * non-101 status. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/handshake.h"

static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";

typedef struct {
    enum wsc__hs_result res;
    enum wsc__hs_err err;
    int status;
    size_t len;
    long poff, eoff;
    size_t plen, elen;
    unsigned pc, ec;
} summary;

static void summarize(const wsc__http_response *r, enum wsc__hs_result res, const char *buf,
                      summary *s)
{
    memset(s, 0, sizeof *s);
    s->res = res;
    s->err = r->err;
    s->status = r->status;
    s->len = r->len;
    if (res != WSC__HS_COMPLETE)
        return;
    s->poff = r->protocol ? (long)(r->protocol - buf) : -1;
    s->eoff = r->extensions ? (long)(r->extensions - buf) : -1;
    s->plen = r->protocol_len;
    s->elen = r->extensions_len;
    s->pc = r->protocol_count;
    s->ec = r->extensions_count;
}

static void parser_mode(const uint8_t *data, size_t size, size_t max_size, unsigned seed)
{
    wsc__http_response r1, r2;
    summary s1, s2;
    char *whole = fuzz_copy(NULL, data, size), *last = NULL;
    enum wsc__hs_result res1, res2 = WSC__HS_INCOMPLETE;

    ASSERT(wsc__http_response_init(&r1, max_size, key));
    res1 = wsc__http_response_parse(&r1, whole, size);
    summarize(&r1, res1, whole, &s1);
    ASSERT(res1 != WSC__HS_INCOMPLETE || size < r1.max_size);
    if (res1 == WSC__HS_COMPLETE) {
        ASSERT(r1.status == 101 && r1.len >= 4 && r1.len <= size && r1.len <= max_size);
        ASSERT(memcmp(whole + r1.len - 4, "\r\n\r\n", 4) == 0);
        ASSERT(memcmp(whole, "HTTP/1.1 101", 12) == 0);
        size_t pos = 0, cnt = 0, vn;
        const char *v;
        while (wsc__hs_header_next(whole, r1.len, "Sec-WebSocket-Protocol", &pos, &v, &vn)) {
            ASSERT(v >= whole && v + vn <= whole + r1.len);
            cnt++;
        }
        ASSERT(cnt == r1.protocol_count);
    }
    if (res1 == WSC__HS_ERROR && r1.err == WSC__HS_E_STATUS)
        ASSERT(r1.status >= 0 && r1.status <= 999 && r1.status != 101);
    ASSERT(wsc__http_response_parse(&r1, whole, size) == res1);

    ASSERT(wsc__http_response_init(&r2, max_size, key));
    size_t at = 0;
    uint32_t x = seed * 2654435761u + 7;
    do {
        at = fuzz_next_split(&x, at, size);
        last = fuzz_copy(last, data, at);
        res2 = wsc__http_response_parse(&r2, last, at);
    } while (res2 == WSC__HS_INCOMPLETE && at < size);
    summarize(&r2, res2, last, &s2);
    ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);
    free(last);
    last = NULL;

    if (size <= 512) {
        ASSERT(wsc__http_response_init(&r2, max_size, key));
        res2 = WSC__HS_INCOMPLETE;
        for (size_t k = 0; k <= size; k++) {
            last = fuzz_copy(last, data, k);
            res2 = wsc__http_response_parse(&r2, last, k);
            if (res2 != WSC__HS_INCOMPLETE)
                break;
        }
        summarize(&r2, res2, last, &s2);
        ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);
        ASSERT(r2.scan.work <= 2 * size + 2);
        free(last);
    }
    free(whole);
}

enum { MAXX = 4 };

static void builder_mode(const uint8_t *data, size_t size)
{
    wsc__hs_header extra[MAXX];
    size_t n_extra = 0, i = 0;
    int status = 200 + (size ? data[0] : 0) % 400;

    if (size) {
        data++;
        size--;
    }
    /* name 0xff value 0xff name 0xff value ... */
    while (i < size && n_extra < MAXX) {
        size_t b = i;
        while (i < size && data[i] != 0xff)
            i++;
        extra[n_extra].name = (const char *)data + b;
        extra[n_extra].name_len = i - b;
        if (i < size)
            i++;
        b = i;
        while (i < size && data[i] != 0xff)
            i++;
        extra[n_extra].value = (const char *)data + b;
        extra[n_extra].value_len = i - b;
        if (i < size)
            i++;
        n_extra++;
    }

    size_t need = 0, n = 0;
    int rc = wsc__http_response_101(NULL, 0, &need, key, 24, extra, n_extra);
    ASSERT(rc == WSC__HS_EINVAL || rc == WSC__HS_ENOSPC);
    if (rc == WSC__HS_ENOSPC) {
        char *out = malloc(need);
        ASSERT(wsc__http_response_101(out, need, &n, key, 24, extra, n_extra) == 0 && n == need);
        wsc__http_response r;
        ASSERT(wsc__http_response_init(&r, need, key));
        ASSERT(wsc__http_response_parse(&r, out, n) == WSC__HS_COMPLETE);
        ASSERT(r.len == n);
        free(out);
    }

    /* body: the value bytes up to the first NUL, as a C string */
    char body[64];
    size_t bl = 0;
    while (bl < size && bl < sizeof body - 1 && data[bl])
        bl++;
    memcpy(body, data, bl);
    body[bl] = '\0';
    rc = wsc__http_response_error(NULL, 0, &need, status, body, extra, n_extra);
    ASSERT(rc == WSC__HS_EINVAL || rc == WSC__HS_ENOSPC);
    if (rc == WSC__HS_ENOSPC) {
        char *out = malloc(need);
        ASSERT(wsc__http_response_error(out, need, &n, status, body, extra, n_extra) == 0);
        ASSERT(n == need);
        wsc__http_response r;
        ASSERT(wsc__http_response_init(&r, need, key));
        ASSERT(wsc__http_response_parse(&r, out, n) == WSC__HS_ERROR);
        ASSERT(r.err == WSC__HS_E_STATUS && r.status == status);
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t max_size = 64 + 16 * (size_t)data[1];
    unsigned seed = (unsigned)data[2] << 8 | data[3];
    if (data[0] & 0x80)
        builder_mode(data + 4, size - 4);
    else
        parser_mode(data + 4, size - 4, max_size, seed);
    return 0;
}

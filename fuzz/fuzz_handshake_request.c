/* libFuzzer target: the server's upgrade request parser, and the client's
 * request builder checked against it.
 *
 * Input byte 0: bit 7 selects the builder mode, bits 0-3 max_headers.
 * Byte 1: max_size (64 + 16 * byte). Bytes 2-3 seed the split points.
 *
 * Parser mode: the rest is a request, parsed whole, split at input-derived
 * points (each prefix in a fresh allocation of exactly its size, so ASan sees
 * any read past the end and the buffer moves between calls) and, for short
 * inputs, one byte at a time. All three must agree on the result, the error,
 * the length used and every field's position. A complete request must satisfy
 * the invariants of the header (CRLFCRLF at the end, a valid key, ...) and its
 * key must give a 101 the client parser accepts.
 *
 * Builder mode: the rest is host, path and extra headers separated by 0xff; a
 * request the builder accepts must be one the server parser accepts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/handshake.h"

enum { MAXH = 16 };

/* Everything that must agree between two parses, as offsets into the buffer. */
typedef struct {
    enum wsc__hs_result res;
    enum wsc__hs_err err;
    int status;
    size_t len, total, count;
    long off[9];
    size_t n[9];
    unsigned pc, ec;
    bool slash;
    long auth_off;
    size_t auth_n;
} summary;

static long off(const char *p, const char *buf)
{
    return p ? (long)(p - buf) : -1;
}

static void summarize(const wsc__http_request *r, enum wsc__hs_result res, const char *buf,
                      summary *s)
{
    memset(s, 0, sizeof *s);
    s->res = res;
    s->err = r->err;
    s->status = r->http_status;
    s->len = r->len;
    s->total = r->header_total;
    s->count = r->header_count;
    if (res != WSC__HS_COMPLETE)
        return;
    const char *p[9] = {r->method, r->url, r->path, r->query, r->host,
                        r->key, r->origin, r->protocol, r->extensions};
    size_t n[9] = {r->method_len, r->url_len, r->path_len, r->query_len, r->host_len,
                   r->key_len, r->origin_len, r->protocol_len, r->extensions_len};
    for (int i = 0; i < 9; i++) {
        /* url and path may be the static "/" for an absolute-form target. */
        s->off[i] = ((i == 1 || i == 2) && p[i] && (p[i] < buf || p[i] >= buf + r->len))
                        ? -2
                        : off(p[i], buf);
        s->n[i] = n[i];
    }
    s->pc = r->protocol_count;
    s->ec = r->extensions_count;
    s->slash = r->url_slash;
    s->auth_off = off(r->authority, buf);
    s->auth_n = r->authority_len;
}

static bool in(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && n <= len && p - buf <= (long)(len - n);
}

static void check_complete(wsc__http_request *r, char *buf, size_t size, const uint8_t *data,
                           size_t dsize)
{
    ASSERT(r->len >= 4 && r->len <= size && r->len <= r->max_size);
    ASSERT(r->raw == buf);
    ASSERT(memcmp(buf + r->len - 4, "\r\n\r\n", 4) == 0);
    if (r->plain) {
        /* A plain HTTP request (allow_plain): a GET or HEAD that asks for no upgrade. */
        ASSERT((r->method_len == 3 && memcmp(r->method, "GET", 3) == 0) ||
               (r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0));
    } else {
        ASSERT(r->method_len == 3 && memcmp(r->method, "GET", 3) == 0);
        ASSERT(wsc__hs_key_valid(r->key, r->key_len));
    }
    /* url is the origin form: in the buffer (or the static "/"), starting with '/', except for
       "scheme://authority?query" where it is the "?query" that follows the implied '/'. */
    ASSERT(r->url_len > 0);
    ASSERT(in(r->url, r->url_len, buf, r->len) || (r->url_len == 1 && r->url[0] == '/'));
    ASSERT(r->url[0] == (r->url_slash ? '?' : '/'));
    ASSERT(!r->url_slash || (r->authority && r->query == r->url + 1));
    ASSERT(r->path_len > 0 && r->path[0] == '/');
    ASSERT(r->host && in(r->host, r->host_len, buf, r->len));
    ASSERT(wsc__hs_host_valid(r->host, r->host_len));
    /* An absolute-form target's authority is the host (RFC 9112 3.2.2), from the request line. */
    if (r->authority) {
        const char *eol = memchr(buf, '\r', r->len);
        ASSERT(r->host == r->authority && r->host_len == r->authority_len);
        ASSERT(eol && r->authority > buf && r->authority + r->authority_len < eol);
    }
    ASSERT(!r->query || in(r->query, r->query_len, buf, r->len));
    ASSERT(r->header_count <= r->max_headers && r->header_count <= r->header_total);
    ASSERT(r->header_total >= (r->plain ? 1u : 5u));
    for (size_t i = 0; i < r->header_count; i++) {
        const wsc__hs_header *h = wsc__http_request_header_at(r, i);
        size_t vn;
        ASSERT(h && in(h->name, h->name_len, buf, r->len) && in(h->value, h->value_len, buf, r->len));
        for (size_t k = 0; k < h->name_len; k++)
            ASSERT(!(h->name[k] >= 'A' && h->name[k] <= 'Z'));
        /* A lookup by the stored name finds a header of that name. */
        char name[64];
        if (h->name_len < sizeof name) {
            memcpy(name, h->name, h->name_len);
            name[h->name_len] = '\0';
            ASSERT(wsc__http_request_header(r, name, &vn) != NULL);
        }
    }
    ASSERT(wsc__http_request_header_at(r, r->header_count) == NULL);
    /* Raw iteration sees every occurrence, and terminates. */
    size_t pos = 0, cnt = 0, vn;
    const char *v;
    while (wsc__hs_header_next(r->raw, r->len, "sec-websocket-extensions", &pos, &v, &vn)) {
        ASSERT(in(v, vn, buf, r->len));
        cnt++;
    }
    ASSERT(cnt == r->extensions_count);
    /* Query lookups with names from the input stay in bounds. */
    if (r->query) {
        char out[8], name[5];
        size_t k = dsize < 4 ? dsize : 4;
        memcpy(name, data, k);
        name[k] = '\0';
        for (size_t cut = 0; cut <= k; cut++) {
            name[cut] = '\0';
            size_t on = 0;
            int rc = wsc__query_get(r->query, r->query_len, name, out, sizeof out, &on);
            ASSERT(rc == 1 || rc == 0 || rc == WSC__HS_EINVAL || rc == WSC__HS_ENOSPC);
            if (rc == 1) /* a C string of exactly the value: no NUL inside ("%00" refused) */
                ASSERT(on < sizeof out && out[on] == '\0' && strlen(out) == on);
            if (rc == WSC__HS_ENOSPC)
                ASSERT(on >= sizeof out);
            if (cut < k)
                name[cut] = (char)data[cut];
        }
        size_t on = 0;
        (void)wsc__query_get(r->query, r->query_len, "a", NULL, 0, &on);
    }
    /* The server's 101 for this key is what the client wants to see (an upgrade has a key). */
    if (r->plain)
        return;
    char key[25], resp[256];
    size_t rn;
    memcpy(key, r->key, 24);
    key[24] = '\0';
    ASSERT(wsc__http_response_101(resp, sizeof resp, &rn, r->key, r->key_len, NULL, 0) == 0);
    wsc__http_response c;
    ASSERT(wsc__http_response_init(&c, 0, key));
    ASSERT(wsc__http_response_parse(&c, resp, rn) == WSC__HS_COMPLETE && c.len == rn);
}

static void parser_mode(const uint8_t *data, size_t size, size_t max_size, size_t max_headers,
                        unsigned seed, bool plain)
{
    wsc__hs_header h1[MAXH], h2[MAXH];
    wsc__http_request r1, r2;
    summary s1, s2;
    char *whole = fuzz_copy(NULL, data, size);
    enum wsc__hs_result res1, res2 = WSC__HS_INCOMPLETE;
    char *last = NULL;

    wsc__http_request_init(&r1, max_size, h1, max_headers);
    r1.allow_plain = plain;
    res1 = wsc__http_request_parse(&r1, whole, size);
    summarize(&r1, res1, whole, &s1);
    ASSERT(res1 != WSC__HS_INCOMPLETE || size < r1.max_size);
    if (res1 == WSC__HS_ERROR)
        ASSERT(r1.http_status == 400 || r1.http_status == 426 || r1.http_status == 431);
    if (res1 == WSC__HS_COMPLETE)
        check_complete(&r1, whole, size, data, size);
    /* Sticky: the same answer again. */
    ASSERT(wsc__http_request_parse(&r1, whole, size) == res1);

    /* Split at input-derived points; each prefix in its own exact allocation. */
    wsc__http_request_init(&r2, max_size, h2, max_headers);
    r2.allow_plain = plain;
    size_t at = 0;
    uint32_t x = seed * 2654435761u + 1;
    do {
        at = fuzz_next_split(&x, at, size);
        last = fuzz_copy(last, data, at);
        res2 = wsc__http_request_parse(&r2, last, at);
    } while (res2 == WSC__HS_INCOMPLETE && at < size);
    summarize(&r2, res2, last, &s2);
    ASSERT(memcmp(&s1, &s2, sizeof s1) == 0);
    free(last);
    last = NULL;

    /* One byte at a time on short inputs: the scan must stay linear. */
    if (size <= 512) {
        wsc__http_request_init(&r2, max_size, h2, max_headers);
        r2.allow_plain = plain;
        res2 = WSC__HS_INCOMPLETE;
        for (size_t k = 0; k <= size; k++) {
            last = fuzz_copy(last, data, k);
            res2 = wsc__http_request_parse(&r2, last, k);
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

/* Splits s at 0xff bytes into up to n NUL-free C strings (NULs kept would end
 * them early: the builder takes C strings for host and path). */
static void builder_mode(const uint8_t *data, size_t size, size_t max_headers)
{
    char *parts[3] = {NULL, NULL, NULL};
    size_t lens[3] = {0, 0, 0};
    size_t i = 0;
    for (int p = 0; p < 3; p++) {
        size_t b = i;
        while (i < size && data[i] != 0xff)
            i++;
        lens[p] = i - b;
        parts[p] = malloc(lens[p] + 1);
        memcpy(parts[p], data + b, lens[p]);
        parts[p][lens[p]] = '\0';
        if (i < size)
            i++;
    }
    char key[25];
    ASSERT(wsc__hs_key_new(key));
    size_t need = 0;
    int rc = wsc__http_request_build(NULL, 0, &need, parts[0], parts[1], key, parts[2], lens[2]);
    ASSERT(rc == WSC__HS_EINVAL || rc == WSC__HS_ENOSPC);
    if (rc == WSC__HS_ENOSPC) {
        char *out = malloc(need);
        size_t n = 0;
        ASSERT(wsc__http_request_build(out, need, &n, parts[0], parts[1], key, parts[2], lens[2]) == 0);
        ASSERT(n == need);
        wsc__hs_header h[MAXH];
        wsc__http_request r;
        wsc__http_request_init(&r, n, h, max_headers);
        enum wsc__hs_result res = wsc__http_request_parse(&r, out, n);
        /* Two Origins in extra are refused by the server, not the builder;
           everything else the builder accepts, the server accepts. */
        if (res != WSC__HS_COMPLETE) {
            ASSERT(res == WSC__HS_ERROR && (r.err == WSC__HS_E_DUPLICATE || r.err == WSC__HS_E_HOST));
        } else {
            ASSERT(r.len == n);
            ASSERT(r.key_len == 24 && memcmp(r.key, key, 24) == 0);
        }
        free(out);
    }
    for (int p = 0; p < 3; p++)
        free(parts[p]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t max_headers = data[0] & 0x0f;
    size_t max_size = 64 + 16 * (size_t)data[1];
    unsigned seed = (unsigned)data[2] << 8 | data[3];
    if (data[0] & 0x80)
        builder_mode(data + 4, size - 4, max_headers);
    else
        parser_mode(data + 4, size - 4, max_size, max_headers, seed, (data[0] & 0x10) != 0);
    return 0;
}

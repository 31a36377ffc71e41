/* The server's handshake object as init sees it, without sockets: the accessors over a parsed
 * request (absolute-form targets, query parameters), the response headers init adds (checked when
 * added, so the 101 never fails on them) and the error response that carries them. */
#include "../test.h"

#include "conn/hs.h"

enum { MAX_SIZE = 2048, MAX_RES = 8 };

#define HEAD                                                                                       \
    "Host: good.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"                          \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* A handshake object holding the parsed request line + HEAD, or NULL if it does not parse. */
static wsc_handshake *parsed(wsc__hs_pool *p, const char *line)
{
    wsc_handshake *hs = wsc__hs_acquire(p);
    if (!hs)
        return NULL;
    hs->len = (size_t)snprintf(hs->buf, hs->cap, "%s" HEAD, line);
    if (wsc__http_request_parse(&hs->req, hs->buf, hs->len) != WSC__HS_COMPLETE) {
        wsc__hs_release(p, hs);
        return NULL;
    }
    return hs;
}

/* A pool of one object and that object, holding a parsed request. */
typedef struct {
    wsc__hs_pool *pool;
    wsc_handshake *hs;
} fixture;

static void fixture_close(fixture *f)
{
    if (f->hs)
        wsc__hs_release(f->pool, f->hs);
    wsc__hs_pool_free(f->pool);
    f->pool = NULL;
    f->hs = NULL;
}

static bool fixture_open(fixture *f, const char *line)
{
    f->pool = wsc__hs_pool_new(1, MAX_SIZE, 4, MAX_RES);
    f->hs = f->pool ? parsed(f->pool, line) : NULL;
    if (!f->hs)
        fixture_close(f);
    return f->hs != NULL;
}

static bool str_is(wsc_str s, const char *want)
{
    return s.ptr && s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static bool has(const char *out, size_t n, const char *s)
{
    return memmem(out, n, s, strlen(s)) != NULL;
}

TEST(accessors_of_absolute_form)
{
    wsc__hs_pool *p = wsc__hs_pool_new(1, MAX_SIZE, 4, MAX_RES);
    CHECK(p);
    wsc_handshake *hs = parsed(p, "GET ws://evil.example/chat?room=1 HTTP/1.1\r\n");
    CHECK(hs);
    EXPECT(str_is(wsc_handshake_url(hs), "/chat?room=1"));
    EXPECT(str_is(wsc_handshake_path(hs), "/chat"));
    EXPECT(str_is(wsc_handshake_query(hs), "room=1"));
    EXPECT(str_is(wsc_handshake_header(hs, "Host"), "evil.example"));
    wsc__hs_release(p, hs);

    /* "/?a=b" is nowhere in the request: built on demand, freed with the object (ASan checks). */
    hs = parsed(p, "GET HTTPS://h.example:8443?a=b&c=%41 HTTP/1.1\r\n");
    CHECK(hs);
    wsc_str url = wsc_handshake_url(hs);
    EXPECT(str_is(url, "/?a=b&c=%41"));
    EXPECT(wsc_handshake_url(hs).ptr == url.ptr); /* built once */
    EXPECT(str_is(wsc_handshake_path(hs), "/"));
    EXPECT(str_is(wsc_handshake_query(hs), "a=b&c=%41"));
    EXPECT(str_is(wsc_handshake_header(hs, "host"), "h.example:8443"));
    char v[8];
    EXPECT_EQ_INT(wsc_handshake_query_param(hs, "c", v, sizeof v), 1);
    EXPECT_EQ_STR(v, "A");
    /* A reset object starts clean. */
    wsc__hs_reset(p, hs);
    EXPECT(wsc_handshake_url(hs).ptr == NULL);
    wsc__hs_release(p, hs);

    hs = parsed(p, "GET http://h.example HTTP/1.1\r\n");
    CHECK(hs);
    EXPECT(str_is(wsc_handshake_url(hs), "/"));
    EXPECT(wsc_handshake_query(hs).ptr == NULL);
    wsc__hs_release(p, hs);

    EXPECT(parsed(p, "GET ftp://h.example/ HTTP/1.1\r\n") == NULL);
    wsc__hs_pool_free(p);
}

TEST(query_param_refuses_nul)
{
    fixture f;
    CHECK(fixture_open(&f, "GET /?token=secret%00junk&u=ok&z=%00 HTTP/1.1\r\n"));
    wsc_handshake *hs = f.hs;
    char buf[32];
    memset(buf, 'Z', sizeof buf);
    EXPECT_EQ_INT(wsc_handshake_query_param(hs, "token", buf, sizeof buf), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_handshake_query_param(hs, "z", buf, sizeof buf), WSC_EINVAL);
    EXPECT_EQ_INT(buf[0], 'Z');
    EXPECT_EQ_INT(wsc_handshake_query_param(hs, "u", buf, sizeof buf), 2);
    EXPECT_EQ_STR(buf, "ok");
    fixture_close(&f);
}

TEST(add_response_header_checks_name_and_value)
{
    fixture f;
    CHECK(fixture_open(&f, "GET / HTTP/1.1\r\n"));
    wsc_handshake *hs = f.hs;
    static const char *bad_names[] = {
        "X(Y)", "X Y", "X:Y", "", "Bad\r\nName", "X\tY", "X,Y", "X\"Y", "X/Y", "X@Y", "X{Y}",
        "caf\xc3\xa9", "X\x7f", "[X]",
        /* set by the server itself: the 101 would contradict them */
        "Upgrade", "connection", "Sec-WebSocket-Accept", "CONTENT-LENGTH", "Transfer-Encoding",
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        if (wsc_handshake_add_response_header(hs, bad_names[i], "v") != WSC_EINVAL)
            fprintf(stderr, "  name accepted: '%s'\n", bad_names[i]);
        EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, bad_names[i], "v"), WSC_EINVAL);
    }
    static const char *bad_values[] = {"a\rb", "a\nb", "a\r\nSet-Cookie: x=1", "\x01", "a\x1f",
                                       "a\x7f", "\x1b[31m"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++)
        EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X-V", bad_values[i]), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(NULL, "X", "v"), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, NULL, "v"), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X", NULL), WSC_EINVAL);
    EXPECT_EQ_INT(hs->nres, 0); /* refusals take no slot */

    /* Every tchar; HTAB, SP, obs-text and an empty value are fine. */
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "!#$%&'*+-.^_`|~09azAZ", "a\tb c"), 0);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X-Obs", "caf\xc3\xa9"), 0);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X-Empty", ""), 0);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "Sec-WebSocket-Protocol", "chat"), 0);
    /* What was accepted always builds: no 500 for a header init was told is fine. */
    size_t n = 0;
    char *out = wsc__hs_response_101(hs, &n);
    CHECK(out);
    EXPECT(has(out, n, "HTTP/1.1 101 Switching Protocols\r\n"));
    EXPECT(has(out, n, "\r\n!#$%&'*+-.^_`|~09azAZ: a\tb c\r\n"));
    EXPECT(has(out, n, "\r\nSec-WebSocket-Protocol: chat\r\n"));
    free(out);

    for (size_t i = hs->nres; i < MAX_RES; i++)
        EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X-Fill", "1"), 0);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X-One-More", "1"), WSC_EFULL);
    fixture_close(&f);
}

TEST(error_response_carries_added_headers)
{
    fixture f;
    CHECK(fixture_open(&f, "GET /private HTTP/1.1\r\n"));
    wsc_handshake *hs = f.hs;
    size_t n = 0;

    /* Nothing added: the same bytes as the plain error response. */
    char *plain = wsc__hs_response_error(401, &n);
    CHECK(plain);
    size_t pn = n;
    char *with = wsc__hs_response_error_with(hs, 401, &n);
    CHECK(with);
    EXPECT(n == pn && memcmp(with, plain, n) == 0);
    free(with);
    with = wsc__hs_response_error_with(NULL, 401, &n);
    CHECK(with);
    EXPECT(n == pn && memcmp(with, plain, n) == 0);
    free(with);
    free(plain);

    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "WWW-Authenticate", "Basic realm=\"x\""), 0);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "Retry-After", "5"), 0);
    /* Fine on a 101, but an error response sets these itself: left out there, not a failure. */
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "Content-Type", "text/html"), 0);
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "Sec-WebSocket-Version", "8"), 0);

    with = wsc__hs_response_error_with(hs, 401, &n);
    CHECK(with);
    EXPECT(has(with, n, "HTTP/1.1 401 Unauthorized\r\n"));
    EXPECT(has(with, n, "\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"));
    EXPECT(has(with, n, "\r\nRetry-After: 5\r\n"));
    EXPECT(has(with, n, "\r\nContent-Type: text/plain"));
    EXPECT(!has(with, n, "text/html"));
    EXPECT(!has(with, n, "Sec-WebSocket-Version"));
    EXPECT(has(with, n, "\r\nConnection: close\r\n"));
    EXPECT(n > 4 && memcmp(with + n - 12, "Unauthorized", 12) == 0);
    /* It is one valid HTTP head: the client's parser reads it as a status. */
    wsc__http_response r;
    CHECK(wsc__http_response_init(&r, 0, "dGhlIHNhbXBsZSBub25jZQ=="));
    EXPECT_EQ_INT(wsc__http_response_parse(&r, with, n), WSC__HS_ERROR);
    EXPECT_EQ_INT(r.err, WSC__HS_E_STATUS);
    EXPECT_EQ_INT(r.status, 401);
    free(with);

    /* 426 names version 13, never the application's. */
    with = wsc__hs_response_error_with(hs, 426, &n);
    CHECK(with);
    EXPECT(has(with, n, "\r\nSec-WebSocket-Version: 13\r\n"));
    EXPECT(!has(with, n, "Sec-WebSocket-Version: 8"));
    EXPECT(has(with, n, "\r\nRetry-After: 5\r\n"));
    free(with);

    /* Larger than the builder's first guess: still whole. */
    char big[600];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    EXPECT_EQ_INT(wsc_handshake_add_response_header(hs, "X-Big", big), 0);
    with = wsc__hs_response_error_with(hs, 503, &n);
    CHECK(with);
    EXPECT(n > sizeof big && has(with, n, big));
    EXPECT(has(with, n, "HTTP/1.1 503 Service Unavailable\r\n"));
    free(with);

    EXPECT(wsc__hs_response_error_with(hs, 600, &n) == NULL);
    EXPECT(wsc__hs_response_error_with(hs, 101, &n) == NULL);
    fixture_close(&f);
}

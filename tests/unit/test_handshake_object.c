/* The server's handshake object as init sees it, without sockets: the accessors over a parsed
 * request (absolute-form targets, query parameters). */
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

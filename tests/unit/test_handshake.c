/* The opening handshake (RFC 6455 section 4): request parser, response
 * builders, accept key, query lookup. Every parse runs twice, whole and one
 * byte at a time, with the input placed against a PROT_NONE page so that a
 * read past the end crashes; both runs must agree. */
#include <sys/mman.h>
#include <unistd.h>

#include "proto/handshake.h"
#include "../test.h"

/* ------------------------------------------------------------------ helpers */

/* Input against a guard page: data ends exactly where the mapping stops. */
typedef struct {
    char *base;
    size_t span;
    size_t cap;
} guard;

static void guard_init(guard *g, size_t cap)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    g->cap = cap;
    g->span = (cap + pg - 1) / pg * pg + pg;
    g->base = mmap(NULL, g->span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->base == MAP_FAILED)
        abort();
    if (mprotect(g->base + g->span - pg, pg, PROT_NONE) != 0)
        abort();
}

static void guard_free(guard *g)
{
    munmap(g->base, g->span);
}

/* Copies s[0..n) so that it ends at the guard page; returns where it starts. */
static char *guard_put(guard *g, const char *s, size_t n)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    char *end = g->base + g->span - pg;
    if (n > g->cap)
        abort();
    memcpy(end - n, s, n);
    return end - n;
}

/* The whole-buffer parse stays alive in g_req_buf for the field checks. */
static guard g_req_guard;
static bool g_req_guard_ok;
static wsc__hs_header g_hdrs[64];
/* allow_plain for the parses of req_parse2 (tests of plain requests set it, then clear it). */
static bool g_allow_plain;

/* Parses s[0..n) byte by byte (the buffer moving each time, as a connection's
 * might), then whole; checks both agree and leaves the whole parse in *r. */
static enum wsc__hs_result req_parse2(const char *s, size_t n, size_t max_size, size_t max_headers,
                                      wsc__http_request *r, bool *agree)
{
    guard g;
    wsc__http_request t;
    wsc__hs_header th[64];
    enum wsc__hs_result a = WSC__HS_INCOMPLETE, b;
    size_t k;

    guard_init(&g, n + 1);
    wsc__http_request_init(&t, max_size, th, max_headers);
    t.allow_plain = g_allow_plain;
    for (k = 1; k <= n; k++) {
        a = wsc__http_request_parse(&t, guard_put(&g, s, k), k);
        if (a != WSC__HS_INCOMPLETE)
            break;
    }
    guard_free(&g);

    if (g_req_guard_ok)
        guard_free(&g_req_guard);
    guard_init(&g_req_guard, n + 1);
    g_req_guard_ok = true;
    wsc__http_request_init(r, max_size, g_hdrs, max_headers);
    r->allow_plain = g_allow_plain;
    b = wsc__http_request_parse(r, guard_put(&g_req_guard, s, n), n);

    *agree = a == b && t.err == r->err && t.len == r->len && t.http_status == r->http_status &&
             t.header_total == r->header_total && t.header_count == r->header_count &&
             t.plain == r->plain;
    return b;
}

#define REQ(s, max_size, max_headers, r)                                                            \
    do {                                                                                            \
        bool agree_;                                                                                \
        req_res_ = req_parse2((s), strlen(s), (max_size), (max_headers), (r), &agree_);            \
        CHECK(agree_);                                                                              \
    } while (0)

static enum wsc__hs_result resp_parse2(const char *key, const char *s, size_t n, size_t max_size,
                                       wsc__http_response *r, bool *agree)
{
    guard g;
    wsc__http_response t;
    enum wsc__hs_result a = WSC__HS_INCOMPLETE, b;
    static guard keep;
    static bool keep_ok;

    guard_init(&g, n + 1);
    wsc__http_response_init(&t, max_size, key);
    for (size_t k = 1; k <= n; k++) {
        a = wsc__http_response_parse(&t, guard_put(&g, s, k), k);
        if (a != WSC__HS_INCOMPLETE)
            break;
    }
    guard_free(&g);
    if (keep_ok)
        guard_free(&keep);
    guard_init(&keep, n + 1);
    keep_ok = true;
    wsc__http_response_init(r, max_size, key);
    b = wsc__http_response_parse(r, guard_put(&keep, s, n), n);
    *agree = a == b && t.err == r->err && t.len == r->len && t.status == r->status &&
             t.protocol_count == r->protocol_count && t.extensions_count == r->extensions_count;
    return b;
}

static bool span_eq(const char *p, size_t n, const char *s)
{
    return p != NULL && n == strlen(s) && memcmp(p, s, n) == 0;
}

#define RFC_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define L1 "GET /chat HTTP/1.1\r\n"
#define H_HOST "Host: server.example.com\r\n"
#define H_UP "Upgrade: websocket\r\n"
#define H_CONN "Connection: Upgrade\r\n"
#define H_KEY "Sec-WebSocket-Key: " RFC_KEY "\r\n"
#define H_VER "Sec-WebSocket-Version: 13\r\n"
#define OK_HEAD H_HOST H_UP H_CONN H_KEY H_VER

/* RFC 6455 section 1.2's example request. */
static const char rfc_request[] = "GET /chat HTTP/1.1\r\n"
                                  "Host: server.example.com\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Origin: http://example.com\r\n"
                                  "Sec-WebSocket-Protocol: chat, superchat\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

/* ------------------------------------------------------------- accept key */

TEST(accept_key_rfc_example)
{
    char out[29];
    CHECK(wsc__accept_key(RFC_KEY, strlen(RFC_KEY), out));
    CHECK_EQ_STR(out, RFC_ACCEPT);
}

TEST(key_valid)
{
    CHECK(wsc__hs_key_valid(RFC_KEY, 24));
    CHECK(wsc__hs_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
    CHECK(wsc__hs_key_valid("+/+/+/+/+/+/+/+/+/+/+w==", 24));
    CHECK(!wsc__hs_key_valid(RFC_KEY, 23));
    CHECK(!wsc__hs_key_valid("dGhlIHNhbXBsZSBub25jZQ", 22)); /* unpadded */
    CHECK(!wsc__hs_key_valid("dGhlIHNhbXBsZSBub25jZQ=A", 24));
    CHECK(!wsc__hs_key_valid("dGhlIHNhbXBsZSBub25jZ===", 24)); /* 15 bytes */
    CHECK(!wsc__hs_key_valid("dGhlIHNhbXBsZSBub25jZ-==", 24)); /* base64url */
    CHECK(!wsc__hs_key_valid("dGhlIHNhbXBsZSBub25jZQ==AAAA", 28)); /* 19 bytes */
    CHECK(!wsc__hs_key_valid("dGhlIHNhbXBsZSBub2 jZQ==", 24));
    CHECK(!wsc__hs_key_valid(NULL, 24));
}

TEST(key_new_is_random_and_valid)
{
    char a[25], b[25];
    CHECK(wsc__hs_key_new(a));
    CHECK(wsc__hs_key_new(b));
    CHECK_EQ_INT(strlen(a), 24);
    CHECK(wsc__hs_key_valid(a, 24));
    CHECK(wsc__hs_key_valid(b, 24));
    CHECK(strcmp(a, b) != 0);
}

/* ------------------------------------------------------- request: success */

TEST(request_rfc_example)
{
    wsc__http_request r;
    enum wsc__hs_result req_res_;
    size_t n;
    const char *v;

    REQ(rfc_request, 0, 16, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    CHECK_EQ_INT(r.err, WSC__HS_OK);
    CHECK_EQ_INT(r.len, strlen(rfc_request));
    CHECK(r.raw != NULL);
    CHECK_EQ_MEM(r.raw, rfc_request, 4);
    CHECK(span_eq(r.method, r.method_len, "GET"));
    CHECK(span_eq(r.url, r.url_len, "/chat"));
    CHECK(span_eq(r.path, r.path_len, "/chat"));
    CHECK(r.query == NULL && r.query_len == 0);
    CHECK(span_eq(r.host, r.host_len, "server.example.com"));
    CHECK(span_eq(r.key, r.key_len, RFC_KEY));
    CHECK(span_eq(r.origin, r.origin_len, "http://example.com"));
    CHECK(span_eq(r.protocol, r.protocol_len, "chat, superchat"));
    CHECK_EQ_INT(r.protocol_count, 1);
    CHECK(r.extensions == NULL && r.extensions_count == 0);
    CHECK_EQ_INT(r.header_total, 7);
    CHECK_EQ_INT(r.header_count, 7);
    v = wsc__http_request_header(&r, "sec-websocket-protocol", &n);
    CHECK(span_eq(v, n, "chat, superchat"));
    v = wsc__http_request_header(&r, "Sec-WebSocket-Protocol", &n); /* any case */
    CHECK(span_eq(v, n, "chat, superchat"));
    CHECK(wsc__http_request_header(&r, "x-missing", &n) == NULL && n == 0);
    CHECK(wsc__hs_token_list_has(r.protocol, r.protocol_len, "superchat"));
    CHECK(!wsc__hs_token_list_has(r.protocol, r.protocol_len, "super"));
    /* Names come out lowercase (as websocket.zig shows them), values as sent. */
    const wsc__hs_header *h = wsc__http_request_header_at(&r, 3);
    CHECK(h != NULL);
    CHECK(span_eq(h->name, h->name_len, "sec-websocket-key"));
    CHECK(span_eq(h->value, h->value_len, RFC_KEY));
    CHECK(wsc__http_request_header_at(&r, 7) == NULL);
    /* Same answer when asked again. */
    CHECK_EQ_INT(wsc__http_request_parse(&r, (char *)r.raw, r.len), WSC__HS_COMPLETE);
    CHECK(span_eq(r.path, r.path_len, "/chat"));
}

TEST(request_leaves_following_frame_bytes)
{
    char buf[512];
    size_t head = strlen(rfc_request);
    wsc__http_request r;
    /* A client may pipeline its first frame right after the request. */
    memcpy(buf, rfc_request, head);
    memcpy(buf + head, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    wsc__http_request_init(&r, 0, NULL, 0);
    CHECK_EQ_INT(wsc__http_request_parse(&r, buf, head + 11), WSC__HS_COMPLETE);
    CHECK_EQ_INT(r.len, head);
    /* Trickled, the frame bytes are never looked at either. */
    wsc__http_request_init(&r, 0, NULL, 0);
    for (size_t k = 1; k <= head + 11; k++) {
        enum wsc__hs_result res = wsc__http_request_parse(&r, buf, k);
        if (k < head)
            CHECK_EQ_INT(res, WSC__HS_INCOMPLETE);
        else
            CHECK_EQ_INT(res, WSC__HS_COMPLETE);
    }
    CHECK_EQ_INT(r.len, head);
}

TEST(request_token_lists_and_case)
{
    static const char *ok[] = {
        L1 H_HOST "Upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n" H_KEY H_VER "\r\n",
        L1 H_HOST "upgrade: websocket\r\nconnection: upgrade\r\n" H_KEY H_VER "\r\n",
        L1 H_HOST "UPGRADE:websocket\r\nCONNECTION:UPGRADE\r\n" H_KEY H_VER "\r\n",
        L1 H_HOST "Upgrade: h2c, websocket\r\nConnection: Upgrade,keep-alive\r\n" H_KEY H_VER "\r\n",
        L1 H_HOST "Upgrade: ,websocket,\r\nConnection: keep-alive\r\nConnection: \t Upgrade \t\r\n" H_KEY H_VER "\r\n",
        L1 H_HOST H_UP H_CONN H_KEY "Sec-WebSocket-Version:13\r\nSec-WebSocket-Version: 13\r\n\r\n",
        L1 H_HOST H_UP H_CONN "Sec-WebSocket-Key:   " RFC_KEY "   \r\n" H_VER "\r\n",
        L1 H_HOST H_UP H_CONN H_KEY H_VER "X-Empty:\r\nX-Sp:   \r\nX-Obs: caf\xc3\xa9\r\n\r\n",
        L1 H_HOST H_UP H_CONN H_KEY H_VER "Content-Length: 0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        wsc__http_request r;
        enum wsc__hs_result req_res_;
        REQ(ok[i], 0, 8, &r);
        if (req_res_ != WSC__HS_COMPLETE)
            fprintf(stderr, "  case %zu: %s\n", i, wsc__hs_err_str(r.err));
        CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
        CHECK(span_eq(r.key, r.key_len, RFC_KEY));
    }
}

/* url, path and query are the origin form's, also for an absolute-form target (RFC 9112 3.2.2),
 * and then the host is the target's authority, not Host (H_HOST is server.example.com). url_slash
 * marks the one origin form not in the buffer: "/?q" of "scheme://authority?q". */
TEST(request_targets)
{
    static const struct {
        const char *line, *url, *path, *query, *host;
        bool slash;
    } t[] = {
        {"GET / HTTP/1.1\r\n", "/", "/", NULL, "server.example.com", false},
        {"GET /?a=1 HTTP/1.1\r\n", "/?a=1", "/", "a=1", "server.example.com", false},
        {"GET /chat? HTTP/1.1\r\n", "/chat?", "/chat", "", "server.example.com", false},
        {"GET /a/b?x=1&y=%20?z HTTP/1.1\r\n", "/a/b?x=1&y=%20?z", "/a/b", "x=1&y=%20?z",
         "server.example.com", false},
        {"GET ws://example.com/chat?room=1 HTTP/1.1\r\n", "/chat?room=1", "/chat", "room=1",
         "example.com", false},
        {"GET http://example.com HTTP/1.1\r\n", "/", "/", NULL, "example.com", false},
        {"GET https://example.com:8443?a=b HTTP/1.1\r\n", "?a=b", "/", "a=b", "example.com:8443",
         true},
        {"GET wss://[::1]:9224/ HTTP/1.1\r\n", "/", "/", NULL, "[::1]:9224", false},
        {"GET WS://Example.COM/x HTTP/1.1\r\n", "/x", "/x", NULL, "Example.COM", false},
        {"GET HtTpS://192.0.2.1:443/a/b/ HTTP/1.1\r\n", "/a/b/", "/a/b/", NULL, "192.0.2.1:443",
         false},
        {"GET ws://h//x HTTP/1.1\r\n", "//x", "//x", NULL, "h", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char req[512];
        wsc__http_request r;
        enum wsc__hs_result req_res_;
        snprintf(req, sizeof req, "%s%s\r\n", t[i].line, OK_HEAD);
        REQ(req, 0, 0, &r);
        CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
        if (!span_eq(r.url, r.url_len, t[i].url) || !span_eq(r.host, r.host_len, t[i].host))
            fprintf(stderr, "  case %zu: url '%.*s' host '%.*s'\n", i, (int)r.url_len, r.url,
                    (int)r.host_len, r.host);
        CHECK(span_eq(r.url, r.url_len, t[i].url));
        CHECK_EQ_INT(r.url_slash, t[i].slash);
        CHECK(span_eq(r.path, r.path_len, t[i].path));
        CHECK(span_eq(r.host, r.host_len, t[i].host));
        CHECK_EQ_INT(r.authority != NULL, t[i].line[4] != '/');
        if (t[i].query)
            CHECK(span_eq(r.query, r.query_len, t[i].query));
        else
            CHECK(r.query == NULL && r.query_len == 0);
    }
}

/* The issue's case: a proxy or a check in front of the server that reads the request line sees
 * evil.example; so must the application, not the Host it was sent alongside. */
TEST(request_absolute_form_authority_wins_over_host)
{
    const char *req = "GET ws://evil.example/chat HTTP/1.1\r\nHost: good.example\r\n" H_UP H_CONN
                      H_KEY H_VER "\r\n";
    wsc__http_request r;
    enum wsc__hs_result req_res_;
    size_t n;
    REQ(req, 0, 8, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    CHECK(span_eq(r.host, r.host_len, "evil.example"));
    CHECK(span_eq(r.authority, r.authority_len, "evil.example"));
    CHECK(span_eq(r.url, r.url_len, "/chat"));
    CHECK(span_eq(r.path, r.path_len, "/chat"));
    /* The header itself is still there as received. */
    const char *v = wsc__http_request_header(&r, "host", &n);
    CHECK(span_eq(v, n, "good.example"));
    /* Origin-form: Host is the host. */
    REQ("GET /chat HTTP/1.1\r\nHost: good.example\r\n" H_UP H_CONN H_KEY H_VER "\r\n", 0, 0, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    CHECK(span_eq(r.host, r.host_len, "good.example"));
    CHECK(r.authority == NULL);
}

/* RFC 3986 3.2.2 host (reg-name, IPv4address, "[" IPv6address "]") and 3.2.3 port, as RFC 9112
 * 3.2 requires of Host. */
TEST(host_values)
{
    static const char *ok[] = {
        "example.com", "example.com:80", "example.com:", "example.com:0", "example.com:65535",
        "EXAMPLE.com.", "a", "localhost:9224", "192.0.2.1", "192.0.2.1:8080", "999.1.1.1",
        "xn--bcher-kva.example", "a-b_c~d", "%41b", "sub!$&'()*+,;=", "[::1]", "[::1]:9224",
        "[::]", "[2001:db8::7]", "[2001:db8:0:0:1:0:0:1]", "[1:2:3:4:5:6:7:8]", "[1::]",
        "[::ffff:192.0.2.1]", "[1:2:3:4:5:6:192.0.2.1]", "[::192.0.2.1]", "[fe80::1]:1",
        "[ABCD:ef01::9]", "example.com:0080",
    };
    static const char *bad[] = {
        "", ":80", ":", "example.com:65536", "example.com:99999999999999999999", "example.com:8a",
        "example.com:-1", "exa mple.com", "exa\tmple", "user@example.com", "example.com/",
        "example.com?", "example.com#", "a:80:90", "%4", "%zz", "[", "[]", "[::1", "::1",
        "[::1]x", "[::1]:x", "[:::]", "[1:::2]", "[1::2::3]", "[1:2:3:4:5:6:7:8:9]",
        "[1:2:3:4:5:6:7]", "[1::2:3:4:5:6:7:8]", "[12345::]", "[1:]", "[:1]", "[g::]",
        "[::1%25eth0]", "[v1.x]", "[::256.0.0.1]", "[::01.2.3.4]", "[::1.2.3]", "[::1.2.3.4.5]",
        "[1.2.3.4]", "[::1.2.3.4:5]", "exam\"ple", "a<b", "a\\b", "[::1]]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (!wsc__hs_host_valid(ok[i], strlen(ok[i])))
            fprintf(stderr, "  refused: '%s'\n", ok[i]);
        CHECK(wsc__hs_host_valid(ok[i], strlen(ok[i])));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (wsc__hs_host_valid(bad[i], strlen(bad[i])))
            fprintf(stderr, "  accepted: '%s'\n", bad[i]);
        CHECK(!wsc__hs_host_valid(bad[i], strlen(bad[i])));
    }
    CHECK(!wsc__hs_host_valid(NULL, 0));
    /* Length-bounded: a valid prefix of a longer string is judged alone. */
    CHECK(wsc__hs_host_valid("a.b:80junk", 6));
    CHECK(wsc__hs_host_valid("[::1]:1junk", 7));
}

/* -------------------------------------------------------- request: errors */

/* BAD(name, text, ...): sizeof gives the length even with an embedded NUL. */
#define BAD(name, text, err, status) {name, text, sizeof(text) - 1, err, status}
static const struct bad_case {
    const char *name;
    const char *text;
    size_t len;
    enum wsc__hs_err err;
    int status;
} bad_requests[] = {
    BAD("post", "POST /chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_METHOD, 400),
    BAD("lowercase get", "get /chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_METHOD, 400),
    BAD("head", "HEAD /chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_METHOD, 400),
    BAD("http/1.0", "GET /chat HTTP/1.0\r\n" OK_HEAD "\r\n", WSC__HS_E_HTTP_VERSION, 400),
    BAD("http/2.0", "GET /chat HTTP/2.0\r\n" OK_HEAD "\r\n", WSC__HS_E_HTTP_VERSION, 400),
    BAD("http/1.1 lowercase", "GET /chat http/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("version junk", "GET /chat HTTP/1.1x\r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("no version", "GET /chat\r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("two spaces", "GET  /chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("trailing space", "GET /chat HTTP/1.1 \r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("leading space", " GET /chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("empty request", "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("asterisk target", "GET * HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("fragment", "GET /chat#x HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("no authority", "GET http:///chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("authority-form", "GET example.com:80 HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("scheme ftp", "GET ftp://example.com/chat HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("scheme file", "GET file:///etc/passwd HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("scheme wsx", "GET wsx://example.com/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("scheme prefix", "GET w://example.com/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("scheme no slashes", "GET ws:example.com/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("scheme empty", "GET ://example.com/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("userinfo", "GET ws://user:pw@example.com/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("authority bad port", "GET ws://example.com:99999/ HTTP/1.1\r\n" OK_HEAD "\r\n",
     WSC__HS_E_TARGET, 400),
    BAD("authority only port", "GET ws://:80/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("authority bad ipv6", "GET ws://[::1:/ HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("absolute-form bad host", "GET ws://example.com/ HTTP/1.1\r\nHost: a b\r\n" H_UP H_CONN H_KEY
     H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("absolute-form no host", "GET ws://example.com/ HTTP/1.1\r\n" H_UP H_CONN H_KEY H_VER "\r\n",
     WSC__HS_E_HOST, 400),
    BAD("empty host", L1 "Host:\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("blank host", L1 "Host:   \r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("host with space", L1 "Host: exa mple.com\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("host with path", L1 "Host: example.com/x\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("host with userinfo", L1 "Host: u@example.com\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST,
     400),
    BAD("host port too big", L1 "Host: example.com:65536\r\n" H_UP H_CONN H_KEY H_VER "\r\n",
     WSC__HS_E_HOST, 400),
    BAD("host port not digits", L1 "Host: example.com:http\r\n" H_UP H_CONN H_KEY H_VER "\r\n",
     WSC__HS_E_HOST, 400),
    BAD("host two ports", L1 "Host: example.com:1:2\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST,
     400),
    BAD("host bare ipv6", L1 "Host: ::1\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("host list", L1 "Host: a.example, b.example\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST,
     400),
    BAD("host 8-bit", L1 "Host: caf\xc3\xa9.example\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST,
     400),
    BAD("8-bit target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_TARGET, 400),
    BAD("no host", L1 H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("two hosts", L1 H_HOST H_HOST H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_HOST, 400),
    BAD("no upgrade", L1 H_HOST H_CONN H_KEY H_VER "\r\n", WSC__HS_E_UPGRADE, 400),
    BAD("upgrade h2c", L1 H_HOST "Upgrade: h2c\r\n" H_CONN H_KEY H_VER "\r\n", WSC__HS_E_UPGRADE, 400),
    BAD("upgrade prefix", L1 H_HOST "Upgrade: websockets\r\n" H_CONN H_KEY H_VER "\r\n",
     WSC__HS_E_UPGRADE, 400),
    BAD("upgrade quoted", L1 H_HOST "Upgrade: \"websocket\"\r\n" H_CONN H_KEY H_VER "\r\n",
     WSC__HS_E_UPGRADE, 400),
    BAD("no connection", L1 H_HOST H_UP H_KEY H_VER "\r\n", WSC__HS_E_CONNECTION, 400),
    BAD("connection keep-alive", L1 H_HOST H_UP "Connection: keep-alive\r\n" H_KEY H_VER "\r\n",
     WSC__HS_E_CONNECTION, 400),
    BAD("connection upgrades", L1 H_HOST H_UP "Connection: upgrades\r\n" H_KEY H_VER "\r\n",
     WSC__HS_E_CONNECTION, 400),
    BAD("no key", L1 H_HOST H_UP H_CONN H_VER "\r\n", WSC__HS_E_KEY, 400),
    BAD("two keys", L1 H_HOST H_UP H_CONN H_KEY H_KEY H_VER "\r\n", WSC__HS_E_KEY, 400),
    BAD("key unpadded", L1 H_HOST H_UP H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" H_VER "\r\n",
     WSC__HS_E_KEY, 400),
    BAD("key 15 bytes", L1 H_HOST H_UP H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n" H_VER "\r\n",
     WSC__HS_E_KEY, 400),
    BAD("key 18 bytes",
     L1 H_HOST H_UP H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n" H_VER "\r\n",
     WSC__HS_E_KEY, 400),
    BAD("key bad char", L1 H_HOST H_UP H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ!==\r\n" H_VER "\r\n",
     WSC__HS_E_KEY, 400),
    BAD("key empty", L1 H_HOST H_UP H_CONN "Sec-WebSocket-Key:\r\n" H_VER "\r\n", WSC__HS_E_KEY, 400),
    BAD("version 8", L1 H_HOST H_UP H_CONN H_KEY "Sec-WebSocket-Version: 8\r\n\r\n",
     WSC__HS_E_WS_VERSION, 426),
    BAD("version missing", L1 H_HOST H_UP H_CONN H_KEY "\r\n", WSC__HS_E_WS_VERSION, 426),
    BAD("version list", L1 H_HOST H_UP H_CONN H_KEY "Sec-WebSocket-Version: 13, 8\r\n\r\n",
     WSC__HS_E_WS_VERSION, 426),
    BAD("version 13 and 8", L1 H_HOST H_UP H_CONN H_KEY H_VER "Sec-WebSocket-Version: 8\r\n\r\n",
     WSC__HS_E_WS_VERSION, 426),
    BAD("version 013", L1 H_HOST H_UP H_CONN H_KEY "Sec-WebSocket-Version: 013\r\n\r\n",
     WSC__HS_E_WS_VERSION, 426),
    BAD("two origins", L1 OK_HEAD "Origin: http://a\r\nOrigin: http://b\r\n\r\n", WSC__HS_E_DUPLICATE, 400),
    BAD("content-length", L1 OK_HEAD "Content-Length: 5\r\n\r\nhello", WSC__HS_E_BODY, 400),
    BAD("content-length junk", L1 OK_HEAD "Content-Length: 0x\r\n\r\n", WSC__HS_E_BODY, 400),
    BAD("transfer-encoding", L1 OK_HEAD "Transfer-Encoding: chunked\r\n\r\n", WSC__HS_E_BODY, 400),
    BAD("obs-fold", L1 OK_HEAD "X-A: one\r\n two\r\n\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("obs-fold tab", L1 OK_HEAD "X-A: one\r\n\ttwo\r\n\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("bare lf end", L1 OK_HEAD "\n", WSC__HS_E_SYNTAX, 400),
    BAD("bare lf lines", "GET /chat HTTP/1.1\nHost: a\n\n", WSC__HS_E_SYNTAX, 400),
    BAD("bare lf header", L1 H_HOST "X-A: 1\nX-B: 2\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("bare cr", L1 H_HOST "X-A: 1\rX-B: 2\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("nul in value", L1 H_HOST "X-A: a\0b\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("ctl in value", L1 H_HOST "X-A: a\x01" "b\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("del in value", L1 H_HOST "X-A: a\x7f\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("esc in request line", "GET /ch\x1b" "at HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("space before colon", L1 "Host : server\r\n" H_UP H_CONN H_KEY H_VER "\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("no colon", L1 OK_HEAD "X-A\r\n\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("empty name", L1 OK_HEAD ": v\r\n\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("bad name char", L1 OK_HEAD "X(A): v\r\n\r\n", WSC__HS_E_SYNTAX, 400),
    BAD("8-bit name", L1 OK_HEAD "X\xc3\xa9: v\r\n\r\n", WSC__HS_E_SYNTAX, 400),
};

TEST(request_errors_whole_and_bytewise)
{
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0]; i++) {
        const struct bad_case *c = &bad_requests[i];
        wsc__http_request r;
        bool agree;
        enum wsc__hs_result res;
        res = req_parse2(c->text, c->len, 0, 8, &r, &agree);
        if (res != WSC__HS_ERROR || r.err != c->err || !agree)
            fprintf(stderr, "  case '%s': result %d err '%s' agree %d\n", c->name, (int)res,
                    wsc__hs_err_str(r.err), (int)agree);
        CHECK(agree);
        CHECK_EQ_INT(res, WSC__HS_ERROR);
        CHECK_EQ_INT(r.err, c->err);
        CHECK_EQ_INT(r.http_status, c->status);
        CHECK_EQ_INT(r.len, 0);
        /* An error is sticky. */
        CHECK_EQ_INT(wsc__http_request_parse(&r, (char *)c->text, c->len), WSC__HS_ERROR);
    }
}

TEST(request_errors_detected_early)
{
    /* A bad request line is refused before the headers arrive. */
#define EARLY(s) {s, sizeof(s) - 1}
    static const struct {
        const char *s;
        size_t n;
    } early[] = {EARLY("POST / HTTP/1.1\r\n"), EARLY("GET / HTTP/1.0\r\n"), EARLY("GET * HTTP/1.1\r\n"),
                 EARLY("GET ftp://h/ HTTP/1.1\r\n"), EARLY("GET ws://u@h/ HTTP/1.1\r\n"),
                 EARLY("GET /\0"), EARLY("GET /\n"), EARLY(" "),
                 EARLY("GET / HTTP/1.1\r\nHost: a\r\n b")};
    for (size_t i = 0; i < sizeof early / sizeof early[0]; i++) {
        wsc__http_request r;
        bool agree;
        CHECK_EQ_INT(req_parse2(early[i].s, early[i].n, 0, 0, &r, &agree), WSC__HS_ERROR);
        CHECK(agree);
        CHECK_EQ_INT(r.http_status, 400);
    }
}

/* ------------------------------------------- request: plain HTTP requests */

/* Parses c whole and byte by byte (allow_plain as g_allow_plain says): both fail as c says. */
static void expect_bad(const struct bad_case *c)
{
    wsc__http_request r;
    bool agree;
    enum wsc__hs_result res = req_parse2(c->text, c->len, 0, 8, &r, &agree);
    if (res != WSC__HS_ERROR || r.err != c->err)
        fprintf(stderr, "  case '%s': result %d err '%s'\n", c->name, (int)res,
                wsc__hs_err_str(r.err));
    EXPECT(agree);
    EXPECT_EQ_INT(res, WSC__HS_ERROR);
    EXPECT_EQ_INT(r.err, c->err);
    EXPECT_EQ_INT(r.http_status, c->status);
    EXPECT(!r.plain);
}

TEST(request_plain_when_allowed)
{
    static const struct {
        const char *text, *method, *path;
    } ok[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/"},
        {"HEAD /index.html?x=1 HTTP/1.1\r\nHost: a:8080\r\n\r\n", "HEAD", "/index.html"},
        {"GET http://h.example/p HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/p"},
        /* Upgrade without "websocket" asks nothing of ours (RFC 9110 7.8: ignored). */
        {"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", "GET",
         "/chat"},
        {"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n" H_KEY H_VER "\r\n", "GET", "/"},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "GET", "/"},
    };
    g_allow_plain = true;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        wsc__http_request r;
        enum wsc__hs_result req_res_;
        REQ(ok[i].text, 0, 8, &r);
        if (req_res_ != WSC__HS_COMPLETE)
            fprintf(stderr, "  case %zu: %s\n", i, wsc__hs_err_str(r.err));
        EXPECT_EQ_INT(req_res_, WSC__HS_COMPLETE);
        EXPECT(r.plain);
        EXPECT_EQ_INT(r.len, strlen(ok[i].text));
        EXPECT(span_eq(r.method, r.method_len, ok[i].method));
        EXPECT(span_eq(r.path, r.path_len, ok[i].path));
    }
    /* An upgrade request is still one, with every field. */
    wsc__http_request r;
    enum wsc__hs_result req_res_;
    REQ(rfc_request, 0, 8, &r);
    EXPECT_EQ_INT(req_res_, WSC__HS_COMPLETE);
    EXPECT(!r.plain);
    EXPECT(span_eq(r.key, r.key_len, RFC_KEY));
    /* Bytes behind a plain request are not part of it. */
    static const char two[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n";
    REQ(two, 0, 0, &r);
    EXPECT_EQ_INT(req_res_, WSC__HS_COMPLETE);
    EXPECT_EQ_INT(r.len, 27);
    g_allow_plain = false;

    /* Not allowed: refused as ever, a HEAD as soon as its request line is in. */
    REQ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, &r);
    EXPECT_EQ_INT(req_res_, WSC__HS_ERROR);
    EXPECT_EQ_INT(r.err, WSC__HS_E_UPGRADE);
    EXPECT(!r.plain);
    REQ("HEAD / HTTP/1.1\r\n", 0, 0, &r);
    EXPECT_EQ_INT(req_res_, WSC__HS_ERROR);
    EXPECT_EQ_INT(r.err, WSC__HS_E_METHOD);
}

TEST(request_plain_errors)
{
    static const struct bad_case plain_bad[] = {
        BAD("post", "POST / HTTP/1.1\r\nHost: a\r\n\r\n", WSC__HS_E_METHOD, 400),
        BAD("lowercase head", "head / HTTP/1.1\r\nHost: a\r\n\r\n", WSC__HS_E_METHOD, 400),
        BAD("http/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", WSC__HS_E_HTTP_VERSION, 400),
        BAD("no host", "GET / HTTP/1.1\r\n\r\n", WSC__HS_E_HOST, 400),
        BAD("two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", WSC__HS_E_HOST, 400),
        BAD("bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", WSC__HS_E_HOST, 400),
        BAD("body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab", WSC__HS_E_BODY, 400),
        BAD("chunked", "HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            WSC__HS_E_BODY, 400),
        BAD("asterisk", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", WSC__HS_E_TARGET, 400),
        BAD("bare lf", "GET / HTTP/1.1\nHost: a\n\n", WSC__HS_E_SYNTAX, 400),
        /* "websocket" in Upgrade: an upgrade request, checked in full. */
        BAD("head upgrade", "HEAD / HTTP/1.1\r\n" OK_HEAD "\r\n", WSC__HS_E_METHOD, 400),
        BAD("upgrade no key", "GET / HTTP/1.1\r\n" H_HOST H_UP H_CONN H_VER "\r\n", WSC__HS_E_KEY, 400),
        BAD("upgrade no connection", "GET / HTTP/1.1\r\n" H_HOST H_UP "\r\n", WSC__HS_E_CONNECTION,
            400),
    };
    g_allow_plain = true;
    for (size_t i = 0; i < sizeof plain_bad / sizeof plain_bad[0] && TEST_OK(); i++)
        expect_bad(&plain_bad[i]);
    /* Too large: 431 as for any request. */
    char big[600];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
    memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
    wsc__http_request r;
    bool agree;
    EXPECT_EQ_INT(req_parse2(big, sizeof big - 1, 512, 0, &r, &agree), WSC__HS_ERROR);
    EXPECT(agree);
    EXPECT_EQ_INT(r.http_status, 431);
    g_allow_plain = false;
}

/* Allowing plain requests changes nothing for an upgrade request: every bad one of the table fails
 * as before, but those that ask for no upgrade, which are plain requests now. */
TEST(request_errors_same_with_plain_allowed)
{
    g_allow_plain = true;
    for (size_t i = 0; i < sizeof bad_requests / sizeof bad_requests[0] && TEST_OK(); i++) {
        const struct bad_case *c = &bad_requests[i];
        if (c->err != WSC__HS_E_UPGRADE) {
            expect_bad(c);
            continue;
        }
        wsc__http_request r;
        bool agree;
        EXPECT_EQ_INT(req_parse2(c->text, c->len, 0, 8, &r, &agree), WSC__HS_COMPLETE);
        EXPECT(agree);
        EXPECT(r.plain);
    }
    g_allow_plain = false;
}

TEST(request_incomplete_then_complete)
{
    char buf[1024];
    size_t n = strlen(rfc_request);
    wsc__http_request r;
    memcpy(buf, rfc_request, n);
    wsc__http_request_init(&r, 0, NULL, 0);
    /* Ending right after the CR of the final CRLF: still incomplete. */
    CHECK_EQ_INT(wsc__http_request_parse(&r, buf, n - 1), WSC__HS_INCOMPLETE);
    CHECK_EQ_INT(wsc__http_request_parse(&r, buf, n - 1), WSC__HS_INCOMPLETE);
    CHECK_EQ_INT(wsc__http_request_parse(&r, buf, n), WSC__HS_COMPLETE);
    CHECK_EQ_INT(r.len, n);
}

/* ---------------------------------------------------------- request: limits */

TEST(request_max_size)
{
    size_t n = strlen(rfc_request);
    wsc__http_request r;
    enum wsc__hs_result req_res_;

    REQ(rfc_request, n, 0, &r); /* exactly fits, final CRLF included */
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    REQ(rfc_request, n - 1, 0, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_ERROR);
    CHECK_EQ_INT(r.err, WSC__HS_E_TOO_LARGE);
    CHECK_EQ_INT(r.http_status, 431);
    REQ(rfc_request, n - 2, 0, &r);
    CHECK_EQ_INT(r.err, WSC__HS_E_TOO_LARGE);
    REQ(rfc_request, 10, 0, &r);
    CHECK_EQ_INT(r.err, WSC__HS_E_TOO_LARGE);
}

TEST(request_default_max_size_is_1024)
{
    static char big[4096];
    wsc__http_request r;
    size_t n;
    /* An endless header: refused once 1024 bytes are in, not later. */
    n = (size_t)snprintf(big, sizeof big, L1 OK_HEAD "Cookie: ");
    memset(big + n, 'a', sizeof big - n);
    wsc__http_request_init(&r, 0, NULL, 0);
    CHECK_EQ_INT(wsc__http_request_parse(&r, big, 1023), WSC__HS_INCOMPLETE);
    CHECK_EQ_INT(wsc__http_request_parse(&r, big, 1024), WSC__HS_ERROR);
    CHECK_EQ_INT(r.http_status, 431);
    CHECK(r.scan.work <= 1024);
}

TEST(request_max_headers)
{
    const char *req = L1 "X-One: 1\r\n" OK_HEAD "X-Two: 2\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
                         "Sec-WebSocket-Extensions: x-foo; a=1\r\nSec-WebSocket-Protocol: chat\r\n"
                         "Origin: http://o\r\n\r\n";
    wsc__http_request r;
    enum wsc__hs_result req_res_;
    size_t n, pos = 0;
    const char *v;

    REQ(req, 0, 2, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    CHECK_EQ_INT(r.header_count, 2);
    CHECK_EQ_INT(r.header_total, 11);
    v = wsc__http_request_header(&r, "x-one", &n);
    CHECK(span_eq(v, n, "1"));
    CHECK(wsc__http_request_header(&r, "x-two", &n) == NULL); /* beyond max_headers */
    /* Every header is still found by raw scan, and the required ones checked. */
    CHECK(wsc__hs_header_next(r.raw, r.len, "X-Two", &pos, &v, &n) && span_eq(v, n, "2"));
    CHECK(!wsc__hs_header_next(r.raw, r.len, "X-Two", &pos, &v, &n));

    /* max_headers 0: nothing stored, but Origin, protocol and extensions are. */
    REQ(req, 0, 0, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    CHECK_EQ_INT(r.header_count, 0);
    CHECK_EQ_INT(r.header_total, 11);
    CHECK(wsc__http_request_header(&r, "x-one", &n) == NULL);
    CHECK(wsc__http_request_header_at(&r, 0) == NULL);
    CHECK(span_eq(r.origin, r.origin_len, "http://o"));
    CHECK(span_eq(r.protocol, r.protocol_len, "chat"));
    CHECK(span_eq(r.extensions, r.extensions_len, "permessage-deflate"));
    CHECK_EQ_INT(r.extensions_count, 2);
    pos = 0;
    CHECK(wsc__hs_header_next(r.raw, r.len, "sec-websocket-extensions", &pos, &v, &n));
    CHECK(span_eq(v, n, "permessage-deflate"));
    CHECK(wsc__hs_header_next(r.raw, r.len, "sec-websocket-extensions", &pos, &v, &n));
    CHECK(span_eq(v, n, "x-foo; a=1"));
    CHECK(!wsc__hs_header_next(r.raw, r.len, "sec-websocket-extensions", &pos, &v, &n));

    /* Large max_headers: all stored, iterator in order, names lowercase. */
    REQ(req, 0, 64, &r);
    CHECK_EQ_INT(r.header_count, 11);
    const wsc__hs_header *h0 = wsc__http_request_header_at(&r, 0);
    const wsc__hs_header *h10 = wsc__http_request_header_at(&r, 10);
    CHECK(h0 && span_eq(h0->name, h0->name_len, "x-one"));
    CHECK(h10 && span_eq(h10->name, h10->name_len, "origin"));
    v = wsc__http_request_header(&r, "x-two", &n);
    CHECK(span_eq(v, n, "2"));
}

/* A request trickled one byte at a time costs O(n) scanning in total: each
 * call resumes where the last stopped instead of rescanning from the start. */
TEST(request_trickle_is_linear)
{
    enum { N = 60000 };
    static char buf[N + 256];
    wsc__http_request r;
    size_t n = (size_t)snprintf(buf, sizeof buf, L1 OK_HEAD);
    size_t k, calls = 0;

    while (n < N) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, "X-Pad-%zu: %s\r\n", n,
                              "abcdefghijklmnopqrstuvwxyz0123456789");
    }
    memcpy(buf + n, "\r\n", 2);
    n += 2;
    wsc__http_request_init(&r, 65536, NULL, 0);
    for (k = 1; k <= n; k++) {
        enum wsc__hs_result res = wsc__http_request_parse(&r, buf, k);
        calls++;
        if (k < n)
            CHECK_EQ_INT(res, WSC__HS_INCOMPLETE);
        else
            CHECK_EQ_INT(res, WSC__HS_COMPLETE);
    }
    CHECK_EQ_INT(calls, n);
    /* Each byte is examined once, plus at most one re-look at a CR waiting
       for its LF per call; quadratic rescanning would be ~n*n/2. */
    printf("  trickle: %zu bytes, %zu calls, %zu bytes scanned\n", n, calls, r.scan.work);
    CHECK(r.scan.work <= 2 * n);
    CHECK(r.scan.work >= n);
    CHECK_EQ_INT(r.len, n);
}

/* ------------------------------------------------------------------- query */

TEST(query_lookup_percent_decoding)
{
    const char *q = "room=a%20b&name=J%C3%B6rg&flag&x=1+2&e=&bad=%zz&%6Bey=v&dup=1&dup=2&trunc=%4";
    size_t qn = strlen(q), n;
    char out[32];

    CHECK_EQ_INT(wsc__query_get(q, qn, "room", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "a b");
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(wsc__query_get(q, qn, "name", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "J\xc3\xb6rg");
    CHECK_EQ_INT(wsc__query_get(q, qn, "flag", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "");
    CHECK_EQ_INT(wsc__query_get(q, qn, "x", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "1 2");
    CHECK_EQ_INT(wsc__query_get(q, qn, "e", out, sizeof out, &n), 1);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(wsc__query_get(q, qn, "bad", out, sizeof out, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__query_get(q, qn, "trunc", out, sizeof out, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__query_get(q, qn, "key", out, sizeof out, &n), 1); /* key decoded too */
    CHECK_EQ_STR(out, "v");
    CHECK_EQ_INT(wsc__query_get(q, qn, "dup", out, sizeof out, &n), 1); /* first wins */
    CHECK_EQ_STR(out, "1");
    CHECK_EQ_INT(wsc__query_get(q, qn, "missing", out, sizeof out, &n), 0);
    CHECK_EQ_INT(wsc__query_get(q, qn, "roo", out, sizeof out, &n), 0);
    CHECK_EQ_INT(wsc__query_get(q, qn, "rooms", out, sizeof out, &n), 0);
    /* Too small: nothing written, size reported (without the NUL). */
    memset(out, 'Z', sizeof out);
    CHECK_EQ_INT(wsc__query_get(q, qn, "room", out, 3, &n), WSC__HS_ENOSPC);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(out[0], 'Z');
    CHECK_EQ_INT(wsc__query_get(q, qn, "room", out, 4, &n), 1);
    CHECK_EQ_INT(wsc__query_get(NULL, 0, "room", out, sizeof out, &n), 0);
    CHECK_EQ_INT(wsc__query_get("", 0, "room", out, sizeof out, &n), 0);
    CHECK_EQ_INT(wsc__query_get("&&a=1&&", 7, "a", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "1");
    CHECK_EQ_INT(wsc__query_get("=1&a", 4, "", out, sizeof out, &n), 1); /* empty key */
    CHECK_EQ_STR(out, "1");
}

/* out is a C string: a value with "%00" would read as a shorter one ("secret" for
 * "secret%00junk") and could pass a check the value sent fails. Refused, out untouched. */
TEST(query_value_with_nul_refused)
{
    const char *q = "token=secret%00junk&a=%00&b=x%00&c=%000&k%00=v&ok=%01";
    size_t qn = strlen(q), n = 99;
    char out[32];

    memset(out, 'Z', sizeof out);
    CHECK_EQ_INT(wsc__query_get(q, qn, "token", out, sizeof out, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(out[0], 'Z');
    CHECK_EQ_INT(wsc__query_get(q, qn, "a", out, sizeof out, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__query_get(q, qn, "b", out, sizeof out, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__query_get(q, qn, "c", out, sizeof out, &n), WSC__HS_EINVAL);
    /* Even when out is too small to hold the value. */
    CHECK_EQ_INT(wsc__query_get(q, qn, "token", out, 2, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__query_get(q, qn, "token", NULL, 0, &n), WSC__HS_EINVAL);
    CHECK_EQ_INT(out[0], 'Z');
    /* A key with %00 can never equal a C-string name. */
    CHECK_EQ_INT(wsc__query_get(q, qn, "k", out, sizeof out, &n), 0);
    /* Other control bytes decode (length-accurate C strings). */
    CHECK_EQ_INT(wsc__query_get(q, qn, "ok", out, sizeof out, &n), 1);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(out[0], 1);
}

TEST(query_from_request)
{
    const char *req = "GET /chat?token=abc%2Fdef%3D&room=%E2%82%AC HTTP/1.1\r\n" OK_HEAD "\r\n";
    wsc__http_request r;
    enum wsc__hs_result req_res_;
    char out[16];
    size_t n;
    REQ(req, 0, 0, &r);
    CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
    CHECK_EQ_INT(wsc__query_get(r.query, r.query_len, "token", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "abc/def=");
    CHECK_EQ_INT(wsc__query_get(r.query, r.query_len, "room", out, sizeof out, &n), 1);
    CHECK_EQ_STR(out, "\xe2\x82\xac");
}

/* -------------------------------------------------------- server responses */

TEST(response_101_rfc_example)
{
    char out[256];
    size_t n;
    wsc__hs_header extra[] = {{"Sec-WebSocket-Protocol", 22, "chat", 4}};
    const char *want = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n"
                       "\r\n";
    CHECK_EQ_INT(wsc__http_response_101(out, sizeof out, &n, RFC_KEY, 24, extra, 1), 0);
    CHECK_EQ_INT(n, strlen(want));
    CHECK_EQ_MEM(out, want, n);
    /* Exactly enough room, one byte short, and a size query. */
    CHECK_EQ_INT(wsc__http_response_101(out, strlen(want), &n, RFC_KEY, 24, extra, 1), 0);
    CHECK_EQ_INT(wsc__http_response_101(out, strlen(want) - 1, &n, RFC_KEY, 24, extra, 1),
                 WSC__HS_ENOSPC);
    CHECK_EQ_INT(n, strlen(want));
    CHECK_EQ_INT(wsc__http_response_101(NULL, 0, &n, RFC_KEY, 24, NULL, 0), WSC__HS_ENOSPC);
    CHECK_EQ_INT(n, strlen(want) - 30);
}

TEST(response_101_rejects_bad_extra_headers)
{
    static const wsc__hs_header bad[] = {
        {"X-A", 3, "a\r\nSet-Cookie: x", 16}, /* response splitting */
        {"X-A", 3, "a\nb", 3},
        {"X-A", 3, "a\rb", 3},
        {"X-A", 3, "a\0b", 3},
        {"X A", 3, "v", 1},
        {"X:A", 3, "v", 1},
        {"", 0, "v", 1},
        {"X-A\r\n", 5, "v", 1},
        {"Upgrade", 7, "h2c", 3},
        {"connection", 10, "close", 5},
        {"Sec-WebSocket-Accept", 20, "x", 1},
        {"Content-Length", 14, "3", 1},
    };
    char out[512];
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ_INT(wsc__http_response_101(out, sizeof out, &n, RFC_KEY, 24, &bad[i], 1),
                     WSC__HS_EINVAL);
    /* Several valid ones, including an empty value. */
    wsc__hs_header ok[] = {{"Set-Cookie", 10, "a=b; Path=/", 11}, {"X-Empty", 7, "", 0}};
    CHECK_EQ_INT(wsc__http_response_101(out, sizeof out, &n, RFC_KEY, 24, ok, 2), 0);
    CHECK(memmem(out, n, "\r\nSet-Cookie: a=b; Path=/\r\nX-Empty: \r\n\r\n", 40) != NULL);
}

/* The one rule both builders apply, which wsc_handshake_add_response_header applies when a header
 * is added (with 101) so that init hears of a bad one instead of the client getting a 500. */
TEST(response_header_rule)
{
    static const struct {
        wsc__hs_header h;
        bool in_101, in_error;
    } t[] = {
        {{"Set-Cookie", 10, "a=b", 3}, true, true},
        {{"WWW-Authenticate", 16, "Basic realm=\"x\"", 15}, true, true},
        {{"X-Tab", 5, "a\tb", 3}, true, true},
        {{"X-Obs", 5, "caf\xc3\xa9", 5}, true, true},
        {{"X-Empty", 7, "", 0}, true, true},
        {{"Content-Type", 12, "text/html", 9}, true, false},
        {{"sec-websocket-version", 21, "13", 2}, true, false},
        {{"Upgrade", 7, "websocket", 9}, false, true},
        {{"Sec-WebSocket-Accept", 20, "x", 1}, false, true},
        {{"Connection", 10, "close", 5}, false, false},
        {{"Content-Length", 14, "0", 1}, false, false},
        {{"Transfer-Encoding", 17, "chunked", 7}, false, false},
        {{"X(Y)", 4, "v", 1}, false, false},
        {{"X Y", 3, "v", 1}, false, false},
        {{"", 0, "v", 1}, false, false},
        {{NULL, 0, "v", 1}, false, false},
        {{"X", 1, NULL, 1}, false, false},
        {{"X", 1, "a\rb", 3}, false, false},
        {{"X", 1, "a\x00" "b", 3}, false, false},
        {{"X", 1, "a\x1f", 2}, false, false},
        {{"X", 1, "a\x7f", 2}, false, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (wsc__http_response_header_ok(&t[i].h, 101) != t[i].in_101 ||
            wsc__http_response_header_ok(&t[i].h, 401) != t[i].in_error)
            fprintf(stderr, "  case %zu\n", i);
        CHECK_EQ_INT(wsc__http_response_header_ok(&t[i].h, 101), t[i].in_101);
        CHECK_EQ_INT(wsc__http_response_header_ok(&t[i].h, 401), t[i].in_error);
        CHECK_EQ_INT(wsc__http_response_header_ok(&t[i].h, 426), t[i].in_error);
    }
}

static bool has(const char *out, size_t n, const char *s)
{
    return memmem(out, n, s, strlen(s)) != NULL;
}

TEST(response_errors)
{
    static const struct {
        int status;
        const char *line;
    } t[] = {{400, "HTTP/1.1 400 Bad Request\r\n"},
             {401, "HTTP/1.1 401 Unauthorized\r\n"},
             {403, "HTTP/1.1 403 Forbidden\r\n"},
             {426, "HTTP/1.1 426 Upgrade Required\r\n"},
             {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
             {503, "HTTP/1.1 503 Service Unavailable\r\n"},
             {499, "HTTP/1.1 499 Error\r\n"}};
    char out[512];
    size_t n;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *reason = wsc__http_reason(t[i].status);
        char cl[64];
        CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, t[i].status, NULL, NULL, 0), 0);
        CHECK_EQ_MEM(out, t[i].line, strlen(t[i].line));
        CHECK(has(out, n, "\r\nConnection: close\r\n"));
        snprintf(cl, sizeof cl, "\r\nContent-Length: %zu\r\n", strlen(reason));
        CHECK(has(out, n, cl));
        CHECK(n > strlen(reason) && memcmp(out + n - strlen(reason), reason, strlen(reason)) == 0);
        CHECK(has(out, n, "\r\n\r\n"));
        CHECK_EQ_INT(has(out, n, "\r\nSec-WebSocket-Version: 13\r\n"), t[i].status == 426);
    }
    /* The handler's own body and headers. */
    wsc__hs_header auth = {"WWW-Authenticate", 16, "Bearer", 6};
    CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, 401, "token expired\n", &auth, 1), 0);
    CHECK(has(out, n, "\r\nWWW-Authenticate: Bearer\r\n"));
    CHECK(has(out, n, "\r\nContent-Length: 14\r\n"));
    CHECK(has(out, n, "\r\n\r\ntoken expired\n"));
    CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, 101, NULL, NULL, 0), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, 600, NULL, NULL, 0), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, 99, NULL, NULL, 0), WSC__HS_EINVAL);
    wsc__hs_header inj = {"X", 1, "a\r\n\r\nHTTP/1.1 200 OK", 19};
    CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, 403, NULL, &inj, 1), WSC__HS_EINVAL);
    wsc__hs_header dup = {"Sec-WebSocket-Version", 21, "8", 1};
    CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, 426, NULL, &dup, 1), WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_response_error(out, 10, &n, 400, NULL, NULL, 0), WSC__HS_ENOSPC);
    CHECK(n > 10);
    CHECK_EQ_INT(wsc__http_response_error(out, n, &n, 400, NULL, NULL, 0), 0);
}

TEST(error_statuses_map)
{
    CHECK_EQ_INT(wsc__hs_err_http_status(WSC__HS_E_TOO_LARGE), 431);
    CHECK_EQ_INT(wsc__hs_err_http_status(WSC__HS_E_WS_VERSION), 426);
    CHECK_EQ_INT(wsc__hs_err_http_status(WSC__HS_E_SYNTAX), 400);
    CHECK_EQ_INT(wsc__hs_err_http_status(WSC__HS_E_KEY), 400);
    CHECK_EQ_INT(wsc__hs_err_http_status(WSC__HS_OK), 0);
    for (int e = WSC__HS_OK; e <= WSC__HS_E_ACCEPT; e++)
        CHECK(wsc__hs_err_str((enum wsc__hs_err)e)[0] != '\0');
}

/* ------------------------------------------------------------------ client */

TEST(client_request_build)
{
    char out[1024];
    size_t n;
    const char *want = "GET /chat?x=1 HTTP/1.1\r\n"
                       "Host: server.example.com\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "Origin: http://example.com\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n"
                       "\r\n";
    const char *extra = "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat";
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "server.example.com", "/chat?x=1",
                                         RFC_KEY, extra, strlen(extra)), 0);
    CHECK_EQ_INT(n, strlen(want));
    CHECK_EQ_MEM(out, want, n);
    /* A trailing CRLF in extra gives the same bytes. */
    char extra2[128];
    snprintf(extra2, sizeof extra2, "%s\r\n", extra);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "server.example.com", "/chat?x=1",
                                         RFC_KEY, extra2, strlen(extra2)), 0);
    CHECK_EQ_INT(n, strlen(want));
    CHECK_EQ_MEM(out, want, n);
    /* Empty path means "/", no extra. */
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h:1", "", RFC_KEY, NULL, 0), 0);
    CHECK_EQ_MEM(out, "GET / HTTP/1.1\r\nHost: h:1\r\n", 27);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "[::1]:9224", NULL, RFC_KEY, NULL, 0), 0);
    CHECK(has(out, n, "\r\nHost: [::1]:9224\r\n"));
    /* The caller's Host (any case) replaces ours; host may then be NULL. */
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "ours", "/", RFC_KEY,
                                         "hOsT: theirs:80", 15), 0);
    CHECK(!has(out, n, "ours"));
    CHECK(has(out, n, "\r\nhOsT: theirs:80\r\n"));
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, NULL, "/", RFC_KEY, "Host: x", 7), 0);
    /* Size checks. */
    CHECK_EQ_INT(wsc__http_request_build(NULL, 0, &n, "h", "/", RFC_KEY, NULL, 0), WSC__HS_ENOSPC);
    size_t need = n;
    CHECK_EQ_INT(wsc__http_request_build(out, need - 1, &n, "h", "/", RFC_KEY, NULL, 0), WSC__HS_ENOSPC);
    CHECK_EQ_INT(wsc__http_request_build(out, need, &n, "h", "/", RFC_KEY, NULL, 0), 0);
    CHECK_EQ_INT(n, need);
}

TEST(client_request_build_rejects_injection)
{
    static const char *bad_extra[] = {
        "A: 1\nB: 2",        /* bare LF */
        "A: 1\rB: 2",        /* bare CR */
        "A: 1\r",            /* trailing bare CR */
        "A: 1\n",            /* trailing bare LF */
        "A: 1\r\n\r\nGET / HTTP/1.1", /* ends the head early: smuggles a request */
        "A: 1\r\n\r\n",      /* empty line */
        "\r\nA: 1",          /* leading empty line */
        "A: 1\r\nB",         /* not a header */
        " A: 1",             /* obs-fold / leading space */
        "A : 1",
        "A: 1\r\n\tcontinued",
        "Upgrade: h2c",
        "connection: close",
        "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",
        "Sec-WebSocket-Version: 8",
        "Content-Length: 4",
        "Transfer-Encoding: chunked",
        "A: x\x01y",
    };
    char out[1024];
    size_t n;
    for (size_t i = 0; i < sizeof bad_extra / sizeof bad_extra[0]; i++) {
        int rc = wsc__http_request_build(out, sizeof out, &n, "h", "/", RFC_KEY, bad_extra[i],
                                         strlen(bad_extra[i]));
        if (rc != WSC__HS_EINVAL)
            fprintf(stderr, "  extra %zu accepted\n", i);
        CHECK_EQ_INT(rc, WSC__HS_EINVAL);
    }
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "/", RFC_KEY, "A: 1\0B", 6),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "chat", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "/a b", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "/a\r\nX: y", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "/a#f", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h\r\nX: y", "/", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h h", "/", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, NULL, "/", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "", "/", RFC_KEY, NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "/", "short==", NULL, 0),
                 WSC__HS_EINVAL);
    CHECK_EQ_INT(wsc__http_request_build(out, sizeof out, &n, "h", "/", NULL, NULL, 0),
                 WSC__HS_EINVAL);
}

/* Client request -> server parser -> 101 -> client response parser. */
TEST(client_server_round_trip)
{
    char key[25], req[1024], resp[512];
    size_t req_n, resp_n;
    wsc__http_request r;
    wsc__http_response c;
    enum wsc__hs_result req_res_;
    bool agree;
    const char *extra = "Origin: http://example.com\r\n"
                        "Sec-WebSocket-Protocol: chat, superchat\r\n"
                        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

    for (int round = 0; round < 20; round++) {
        CHECK(wsc__hs_key_new(key));
        CHECK_EQ_INT(wsc__http_request_build(req, sizeof req, &req_n, "localhost:9224", "/ws?u=1",
                                             key, extra, strlen(extra)), 0);
        req[req_n] = '\0';
        REQ(req, 0, 16, &r);
        CHECK_EQ_INT(req_res_, WSC__HS_COMPLETE);
        CHECK_EQ_INT(r.len, req_n);
        CHECK(span_eq(r.key, r.key_len, key));
        CHECK(span_eq(r.host, r.host_len, "localhost:9224"));
        CHECK(span_eq(r.path, r.path_len, "/ws"));
        CHECK(span_eq(r.query, r.query_len, "u=1"));
        CHECK(span_eq(r.origin, r.origin_len, "http://example.com"));
        CHECK(span_eq(r.extensions, r.extensions_len, "permessage-deflate; client_max_window_bits"));

        wsc__hs_header ext[] = {{"Sec-WebSocket-Protocol", 22, "chat", 4},
                                {"Sec-WebSocket-Extensions", 24, "permessage-deflate", 18}};
        CHECK_EQ_INT(wsc__http_response_101(resp, sizeof resp - 8, &resp_n, r.key, r.key_len, ext, 2), 0);
        /* The server's first frame may arrive in the same read. */
        memcpy(resp + resp_n, "\x81\x02hi", 4);
        CHECK_EQ_INT(resp_parse2(key, resp, resp_n + 4, 0, &c, &agree), WSC__HS_COMPLETE);
        CHECK(agree);
        CHECK_EQ_INT(c.status, 101);
        CHECK_EQ_INT(c.len, resp_n);
        CHECK(span_eq(c.protocol, c.protocol_len, "chat"));
        CHECK_EQ_INT(c.protocol_count, 1);
        CHECK(span_eq(c.extensions, c.extensions_len, "permessage-deflate"));
        /* Another key's response must not pass. */
        char other[25];
        CHECK(wsc__hs_key_new(other));
        CHECK_EQ_INT(resp_parse2(other, resp, resp_n, 0, &c, &agree), WSC__HS_ERROR);
        CHECK(agree);
        CHECK_EQ_INT(c.err, WSC__HS_E_ACCEPT);
    }
}

/* RFC 6455 section 1.3's server response. */
TEST(client_response_rfc_example)
{
    const char *resp = "HTTP/1.1 101 Switching Protocols\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                       "Sec-WebSocket-Protocol: chat\r\n"
                       "\r\n";
    wsc__http_response c;
    bool agree;
    CHECK_EQ_INT(resp_parse2(RFC_KEY, resp, strlen(resp), 0, &c, &agree), WSC__HS_COMPLETE);
    CHECK(agree);
    CHECK_EQ_INT(c.len, strlen(resp));
    CHECK(span_eq(c.protocol, c.protocol_len, "chat"));
    CHECK(c.extensions == NULL && c.extensions_count == 0);
}

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define RUP "Upgrade: websocket\r\n"
#define RCONN "Connection: Upgrade\r\n"
#define RACC "Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

TEST(client_response_checks)
{
    static const struct {
        const char *name, *text;
        enum wsc__hs_result res;
        enum wsc__hs_err err;
        int status;
    } t[] = {
        {"ok", R101 RUP RCONN RACC "\r\n", WSC__HS_COMPLETE, WSC__HS_OK, 101},
        {"no reason", "HTTP/1.1 101\r\n" RUP RCONN RACC "\r\n", WSC__HS_COMPLETE, WSC__HS_OK, 101},
        {"empty reason", "HTTP/1.1 101 \r\n" RUP RCONN RACC "\r\n", WSC__HS_COMPLETE, WSC__HS_OK, 101},
        {"case", R101 "UPGRADE: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                      "sec-websocket-accept: " RFC_ACCEPT "\r\n\r\n", WSC__HS_COMPLETE, WSC__HS_OK, 101},
        {"404", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", WSC__HS_ERROR, WSC__HS_E_STATUS, 404},
        {"status line only", "HTTP/1.1 403 Forbidden\r\n", WSC__HS_ERROR, WSC__HS_E_STATUS, 403},
        {"200", "HTTP/1.1 200 OK\r\n" RUP RCONN RACC "\r\n", WSC__HS_ERROR, WSC__HS_E_STATUS, 200},
        {"426 http/1.0", "HTTP/1.0 426 Upgrade Required\r\n", WSC__HS_ERROR, WSC__HS_E_STATUS, 426},
        {"101 http/1.0", "HTTP/1.0 101 Switching Protocols\r\n" RUP RCONN RACC "\r\n", WSC__HS_ERROR,
         WSC__HS_E_HTTP_VERSION, 101},
        {"short code", "HTTP/1.1 10 x\r\n\r\n", WSC__HS_ERROR, WSC__HS_E_SYNTAX, 0},
        {"long code", "HTTP/1.1 1010 x\r\n\r\n", WSC__HS_ERROR, WSC__HS_E_SYNTAX, 0},
        {"not http", "ICY 200 OK\r\n\r\n", WSC__HS_ERROR, WSC__HS_E_SYNTAX, 0},
        {"empty", "\r\n", WSC__HS_ERROR, WSC__HS_E_SYNTAX, 0},
        {"no upgrade", R101 RCONN RACC "\r\n", WSC__HS_ERROR, WSC__HS_E_UPGRADE, 101},
        {"upgrade h2c", R101 "Upgrade: h2c\r\n" RCONN RACC "\r\n", WSC__HS_ERROR, WSC__HS_E_UPGRADE, 101},
        {"no connection", R101 RUP RACC "\r\n", WSC__HS_ERROR, WSC__HS_E_CONNECTION, 101},
        {"no accept", R101 RUP RCONN "\r\n", WSC__HS_ERROR, WSC__HS_E_ACCEPT, 101},
        {"two accepts", R101 RUP RCONN RACC RACC "\r\n", WSC__HS_ERROR, WSC__HS_E_ACCEPT, 101},
        {"wrong accept", R101 RUP RCONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
         WSC__HS_ERROR, WSC__HS_E_ACCEPT, 101},
        {"accept case", R101 RUP RCONN "Sec-WebSocket-Accept: S3PPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
         WSC__HS_ERROR, WSC__HS_E_ACCEPT, 101},
        {"accept is key", R101 RUP RCONN "Sec-WebSocket-Accept: " RFC_KEY "\r\n\r\n", WSC__HS_ERROR,
         WSC__HS_E_ACCEPT, 101},
        {"bare lf", "HTTP/1.1 101 Switching Protocols\n" RUP RCONN RACC "\r\n", WSC__HS_ERROR,
         WSC__HS_E_SYNTAX, 0},
        {"obs-fold", R101 RUP RCONN RACC "X: a\r\n b\r\n\r\n", WSC__HS_ERROR, WSC__HS_E_SYNTAX, 101},
        {"bad header", R101 RUP RCONN RACC "X a\r\n\r\n", WSC__HS_ERROR, WSC__HS_E_SYNTAX, 101},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        wsc__http_response c;
        bool agree;
        enum wsc__hs_result res = resp_parse2(RFC_KEY, t[i].text, strlen(t[i].text), 0, &c, &agree);
        if (res != t[i].res || c.err != t[i].err || c.status != t[i].status)
            fprintf(stderr, "  case '%s': result %d err '%s' status %d\n", t[i].name, (int)res,
                    wsc__hs_err_str(c.err), c.status);
        CHECK(agree);
        CHECK_EQ_INT(res, t[i].res);
        CHECK_EQ_INT(c.err, t[i].err);
        CHECK_EQ_INT(c.status, t[i].status);
    }
}

TEST(client_response_limits)
{
    char resp[] = R101 RUP RCONN RACC "\r\n"; /* parsers lowercase names in place */
    size_t n = strlen(resp);
    wsc__http_response c;
    bool agree;
    CHECK_EQ_INT(resp_parse2(RFC_KEY, resp, n, n, &c, &agree), WSC__HS_COMPLETE);
    CHECK_EQ_INT(resp_parse2(RFC_KEY, resp, n, n - 1, &c, &agree), WSC__HS_ERROR);
    CHECK(agree);
    CHECK_EQ_INT(c.err, WSC__HS_E_TOO_LARGE);
    CHECK_EQ_INT(c.status, 101); /* known from the status line */
    /* An invalid key can match no response. */
    CHECK(!wsc__http_response_init(&c, 0, "nope"));
    CHECK_EQ_INT(wsc__http_response_parse(&c, resp, n), WSC__HS_ERROR);
    CHECK_EQ_INT(c.err, WSC__HS_E_ACCEPT);
    CHECK(!wsc__http_response_init(&c, 0, NULL));
}

TEST(error_response_parses_as_status)
{
    char out[512];
    size_t n;
    wsc__http_response c;
    bool agree;
    int statuses[] = {400, 401, 403, 426, 431, 500};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        CHECK_EQ_INT(wsc__http_response_error(out, sizeof out, &n, statuses[i], NULL, NULL, 0), 0);
        CHECK_EQ_INT(resp_parse2(RFC_KEY, out, n, 0, &c, &agree), WSC__HS_ERROR);
        CHECK(agree);
        CHECK_EQ_INT(c.err, WSC__HS_E_STATUS);
        CHECK_EQ_INT(c.status, statuses[i]);
    }
}

/* -------------------------------------------------------- no allocations */

/* ASan's allocator hooks count every malloc; they exist only in sanitizer
 * builds (which is how `make test` builds this), hence the weak reference. */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *))
    __attribute__((weak));
static volatile size_t g_mallocs;
static void on_malloc(const volatile void *p, size_t n)
{
    (void)p;
    (void)n;
    g_mallocs++;
}
static void on_free(const volatile void *p)
{
    (void)p;
}

TEST(parsers_never_allocate)
{
    char buf[1024], resp[512];
    size_t n = strlen(rfc_request), rn, vn;
    wsc__http_request r;
    wsc__hs_header hdrs[8];
    wsc__http_response c;
    char out[16];

    if (!__sanitizer_install_malloc_and_free_hooks) {
        printf("  (no sanitizer allocator hooks: allocation check skipped)\n");
        return;
    }
    CHECK_EQ_INT(wsc__http_response_101(resp, sizeof resp, &rn, RFC_KEY, 24, NULL, 0), 0);
    CHECK(wsc__http_response_init(&c, 0, RFC_KEY));
    memcpy(buf, rfc_request, n);
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    g_mallocs = 0;
    for (int rep = 0; rep < 2; rep++) {
        wsc__http_request_init(&r, 0, hdrs, rep ? 8 : 0);
        for (size_t k = 1; k <= n; k++)
            (void)wsc__http_request_parse(&r, buf, k);
        (void)wsc__http_request_header(&r, "origin", &vn);
        (void)wsc__query_get("a=%20b", 6, "a", out, sizeof out, &vn);
    }
    for (size_t k = 1; k <= rn; k++)
        (void)wsc__http_response_parse(&c, resp, k);
    size_t seen = g_mallocs;
    __sanitizer_install_malloc_and_free_hooks(NULL, NULL);
    CHECK_EQ_INT(r.err, WSC__HS_OK);
    CHECK_EQ_INT(c.err, WSC__HS_OK);
    CHECK_EQ_INT(seen, 0);
    /* The hook works: a real allocation is seen. */
    __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    void *volatile probe = malloc(16); /* volatile: clang drops a bare malloc/free pair */
    free(probe);
    seen = g_mallocs;
    __sanitizer_install_malloc_and_free_hooks(NULL, NULL);
    CHECK(seen >= 1);
}

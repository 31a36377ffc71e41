/* Server side of the opening handshake: the client's upgrade request,
 * RFC 6455 section 4.2.1 on RFC 9112 message syntax. */
#include "proto/handshake.h"

#include <string.h>

#include "proto/http_lex.h"

void wsc__http_request_init(wsc__http_request *r, size_t max_size, wsc__hs_header *headers,
                            size_t max_headers)
{
    memset(r, 0, sizeof *r);
    r->max_size = max_size ? max_size : WSC__HS_DEFAULT_REQUEST_MAX;
    r->headers = headers;
    r->max_headers = headers ? max_headers : 0;
}

static enum wsc__hs_result fail(wsc__http_request *r, enum wsc__hs_err e)
{
    r->err = e;
    r->http_status = wsc__hs_err_http_status(e);
    r->len = 0;
    return WSC__HS_ERROR;
}

/* The schemes of a URI that may name a WebSocket resource: ws and wss (RFC 6455
 * section 3), and http and https, those of an HTTP request forwarded by an
 * intermediary (RFC 9110 4.2). Case-insensitive (RFC 3986 3.1). Returns the
 * length of "scheme://", or 0. */
static size_t scheme_len(const char *t, size_t n)
{
    static const char *const schemes[] = {"ws", "wss", "http", "https"};
    size_t i = 0;

    while (i < n && t[i] != ':' && t[i] != '/')
        i++;
    if (n - i < 3 || memcmp(t + i, "://", 3) != 0)
        return 0;
    for (size_t k = 0; k < sizeof schemes / sizeof schemes[0]; k++)
        if (wsc__http_ieq(t, i, schemes[k]))
            return i + 3;
    return 0;
}

/* Splits the request target into path and query. Origin-form ("/p?q") is what
 * clients send; absolute-form ("ws://host/p?q") must be accepted too (RFC 9112
 * 3.2.2), and then its authority is the request's host, whatever Host says.
 * The url, path and query seen by the application are those of the origin
 * form either way, so no check made on them can be sidestepped by sending the
 * same resource in absolute form. A fragment never belongs in a WebSocket URI
 * (RFC 6455 3). */
static enum wsc__hs_err split_target(wsc__http_request *r, const char *t, size_t n)
{
    size_t path_begin = 0, q;

    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)t[k];
        /* RFC 3986 characters only: no obs-text, no '#'. */
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return WSC__HS_E_TARGET;
    }
    r->authority = NULL;
    r->authority_len = 0;
    r->url_slash = false;
    if (n == 0)
        return WSC__HS_E_TARGET;
    if (t[0] != '/') {
        size_t a = scheme_len(t, n);
        if (a == 0)
            return WSC__HS_E_TARGET;
        path_begin = a;
        while (path_begin < n && t[path_begin] != '/' && t[path_begin] != '?')
            path_begin++;
        /* host [":" port] only: an empty host is invalid in these schemes
           (RFC 9110 4.2.1), and userinfo has no place in a request target
           (RFC 9110 4.2.4; ws-URI of RFC 6455 3 has none). */
        if (!wsc__hs_host_valid(t + a, path_begin - a))
            return WSC__HS_E_TARGET;
        r->authority = t + a;
        r->authority_len = path_begin - a;
    }
    q = path_begin;
    while (q < n && t[q] != '?')
        q++;
    if (q == path_begin) {
        /* An empty path is "/" (RFC 9110 4.2.3); "ws://h?q" has the origin
           form "/?q", which is not in the buffer. */
        r->path = "/";
        r->path_len = 1;
        r->url_slash = q < n;
    } else {
        r->path = t + path_begin;
        r->path_len = q - path_begin;
    }
    if (q < n) {
        r->query = t + q + 1;
        r->query_len = n - q - 1;
    } else {
        r->query = NULL;
        r->query_len = 0;
    }
    if (path_begin == n) {
        r->url = "/";
        r->url_len = 1;
    } else {
        r->url = t + path_begin;
        r->url_len = n - path_begin;
    }
    return WSC__HS_OK;
}

static bool method_is(const wsc__http_request *r, const char *m)
{
    return r->method_len == strlen(m) && memcmp(r->method, m, r->method_len) == 0;
}

/* request-line = method SP request-target SP HTTP-version (RFC 9112 3). */
static enum wsc__hs_err request_line(void *ctx, const char *l, size_t n)
{
    wsc__http_request *r = ctx;
    size_t i = 0, t0, t1;

    while (i < n && wsc__http_tchar((unsigned char)l[i]))
        i++;
    if (i == 0 || i == n || l[i] != ' ')
        return WSC__HS_E_SYNTAX;
    r->method = l;
    r->method_len = i;
    t0 = ++i;
    while (i < n && l[i] != ' ')
        i++;
    t1 = i;
    if (t1 == t0 || i == n)
        return WSC__HS_E_SYNTAX;
    i++;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
    if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 || l[i + 5] < '0' || l[i + 5] > '9' ||
        l[i + 6] != '.' || l[i + 7] < '0' || l[i + 7] > '9')
        return WSC__HS_E_SYNTAX;
    /* RFC 6455 4.2.1 item 1: the method is GET (methods are case-sensitive).
       We answer 400 rather than 405 since no other method exists here. A
       plain request may be a HEAD (RFC 9110 9.1: a server that has GET has
       HEAD); whether the request is an upgrade is known only once its
       headers are in, and finish refuses a HEAD that asks for one. */
    if (!method_is(r, "GET") && !(r->allow_plain && method_is(r, "HEAD")))
        return WSC__HS_E_METHOD;
    /* Item 1 again: HTTP/1.1 or higher; 1.0 has no Upgrade and 2+ never
       arrives as text, so 1.1 is the only version that can upgrade here. */
    if (memcmp(l + i + 5, "1.1", 3) != 0)
        return WSC__HS_E_HTTP_VERSION;
    return split_target(r, l + t0, t1 - t0);
}

static bool is_zero(const char *v, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] != '0')
            return false;
    return true;
}

static enum wsc__hs_result complete(wsc__http_request *r, const char *buf, size_t head_len)
{
    r->raw = buf;
    r->len = head_len;
    r->err = WSC__HS_OK;
    r->http_status = 0;
    return WSC__HS_COMPLETE;
}

/* The whole head buf[0..head_len) is in and every byte passed the scanner:
 * set the pointers into buf and apply section 4.2.1. */
static enum wsc__hs_result finish(wsc__http_request *r, char *buf, size_t head_len)
{
    size_t first = wsc__http_find_cr(buf, 0, head_len), i;
    unsigned host = 0, upgrade_ok = 0, connection_ok = 0, keys = 0, versions = 0, bad_version = 0;
    unsigned origins = 0;
    bool body = false;
    enum wsc__hs_err e;
    wsc__hs_header h;
    int more;

    r->header_count = r->header_total = 0;
    r->host = r->key = r->origin = r->protocol = r->extensions = NULL;
    r->host_len = r->key_len = r->origin_len = r->protocol_len = r->extensions_len = 0;
    r->protocol_count = r->extensions_count = 0;
    r->plain = false;

    if (first == 0) /* the head is only an empty line */
        return fail(r, WSC__HS_E_SYNTAX);
    e = request_line(r, buf, first);
    if (e != WSC__HS_OK)
        return fail(r, e);

    i = first + 2;
    while ((more = wsc__http_field_next(buf, head_len, &i, &h)) > 0) {
        r->header_total++;
        if (r->header_count < r->max_headers)
            r->headers[r->header_count++] = h;

#define IS(lit) WSC__HTTP_NAME_IS(&h, lit)
        if (IS("host")) {
            host++;
            r->host = h.value;
            r->host_len = h.value_len;
        } else if (IS("upgrade")) {
            /* 4.2.1 items 3-4: token lists, case-insensitive, possibly spread
               over several field lines (RFC 9110 5.3). */
            upgrade_ok |= wsc__hs_token_list_has(h.value, h.value_len, "websocket");
        } else if (IS("connection")) {
            connection_ok |= wsc__hs_token_list_has(h.value, h.value_len, "upgrade");
        } else if (IS("sec-websocket-key")) {
            keys++;
            r->key = h.value;
            r->key_len = h.value_len;
        } else if (IS("sec-websocket-version")) {
            versions++;
            bad_version |= !(h.value_len == 2 && memcmp(h.value, "13", 2) == 0);
        } else if (IS("origin")) {
            origins++;
            r->origin = h.value;
            r->origin_len = h.value_len;
        } else if (IS("sec-websocket-protocol")) {
            if (r->protocol_count++ == 0) {
                r->protocol = h.value;
                r->protocol_len = h.value_len;
            }
        } else if (IS("sec-websocket-extensions")) {
            if (r->extensions_count++ == 0) {
                r->extensions = h.value;
                r->extensions_len = h.value_len;
            }
        } else if (IS("content-length")) {
            body |= !is_zero(h.value, h.value_len);
        } else if (IS("transfer-encoding")) {
            body = true;
        }
#undef IS
    }
    if (more < 0)
        return fail(r, WSC__HS_E_SYNTAX);

    /* RFC 9112 3.2: exactly one Host, with a valid value, else 400. It is
       checked even when the target names the host, as 3.2 asks of every
       request. */
    if (host != 1 || !wsc__hs_host_valid(r->host, r->host_len))
        return fail(r, WSC__HS_E_HOST);
    /* RFC 9112 3.2.2: for an absolute-form target the server must ignore Host
       and use the target's authority, which is what a proxy in front of us
       routed on; two hosts per request would let a request pass a check on
       one and be served as the other. */
    if (r->authority) {
        r->host = r->authority;
        r->host_len = r->authority_len;
    }
    if (!upgrade_ok && r->allow_plain) {
        /* No upgrade to WebSocket asked for: an ordinary request, which the
           application answers (RFC 9110 7.8 lets a server ignore any other
           Upgrade). Nothing reads a body after the head, so none may be
           declared (RFC 9110 9.3.1: a GET's has no meaning anyway). */
        if (body)
            return fail(r, WSC__HS_E_BODY);
        r->plain = true;
        return complete(r, buf, head_len);
    }
    if (!upgrade_ok)
        return fail(r, WSC__HS_E_UPGRADE);
    /* The request line let a HEAD through for a plain request; an upgrade is a GET. */
    if (!method_is(r, "GET"))
        return fail(r, WSC__HS_E_METHOD);
    if (!connection_ok)
        return fail(r, WSC__HS_E_CONNECTION);
    /* 4.2.1 item 5: one key, base64 of 16 bytes; two keys would make the
       accept value ambiguous. */
    if (keys != 1 || !wsc__hs_key_valid(r->key, r->key_len))
        return fail(r, WSC__HS_E_KEY);
    if (origins > 1)
        return fail(r, WSC__HS_E_DUPLICATE);
    /* A GET with a body has no meaning (RFC 9110 9.3.1), and here whatever
       follows the head is read as WebSocket frames, so a declared body would
       be misread as frames: refuse it. */
    if (body)
        return fail(r, WSC__HS_E_BODY);
    /* 4.2.1 item 6 and 4.2.2: version 13 only; last, so a client of another
       version that is otherwise well-formed learns which version to retry. */
    if (versions == 0 || bad_version)
        return fail(r, WSC__HS_E_WS_VERSION);
    return complete(r, buf, head_len);
}

enum wsc__hs_result wsc__http_request_parse(wsc__http_request *r, char *buf, size_t len)
{
    size_t head_len;
    enum wsc__hs_err e;

    if (r->err != WSC__HS_OK)
        return WSC__HS_ERROR;
    if (r->len != 0)
        return len >= r->len ? finish(r, buf, r->len) : fail(r, WSC__HS_E_SYNTAX);
    e = wsc__http_head_scan(&r->scan, buf, len, r->max_size, request_line, r, &head_len);
    if (e != WSC__HS_OK)
        return fail(r, e);
    return head_len ? finish(r, buf, head_len) : WSC__HS_INCOMPLETE;
}

const char *wsc__http_request_header(const wsc__http_request *r, const char *name,
                                     size_t *value_len)
{
    for (size_t i = 0; i < r->header_count; i++) {
        const wsc__hs_header *h = &r->headers[i];
        if (wsc__http_ieq(h->name, h->name_len, name)) {
            if (value_len)
                *value_len = h->value_len;
            return h->value;
        }
    }
    if (value_len)
        *value_len = 0;
    return NULL;
}

const wsc__hs_header *wsc__http_request_header_at(const wsc__http_request *r, size_t i)
{
    return i < r->header_count ? &r->headers[i] : NULL;
}

/* Handshake objects and the public wsc_handshake_* accessors. */
#include "conn/hs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t align16(size_t n)
{
    return (n + 15) / 16 * 16;
}

wsc__hs_pool *wsc__hs_pool_new(size_t count, size_t max_size, size_t max_headers, size_t max_res)
{
    wsc__hs_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max_size = max_size;
    p->max_headers = max_headers;
    p->max_res = max_res;
    /* One allocation per object: the struct, both header arrays, then the request buffer. */
    p->obj_size = align16(sizeof(struct wsc_handshake)) +
                  align16(max_headers * sizeof(wsc__hs_header)) +
                  align16(max_res * sizeof(wsc__hs_header)) + max_size;
    p->pool = wsc__pool_new(count, p->obj_size);
    if (!p->pool) {
        free(p);
        return NULL;
    }
    return p;
}

void wsc__hs_pool_free(wsc__hs_pool *p)
{
    if (!p)
        return;
    wsc__pool_free(p->pool);
    free(p);
}

static wsc_handshake *setup(wsc__hs_pool *p, uint8_t *mem)
{
    wsc_handshake *hs = (wsc_handshake *)mem;
    memset(hs, 0, sizeof *hs);
    mem += align16(sizeof *hs);
    hs->headers = p->max_headers ? (wsc__hs_header *)mem : NULL;
    mem += align16(p->max_headers * sizeof(wsc__hs_header));
    hs->res = p->max_res ? (wsc__hs_header *)mem : NULL;
    mem += align16(p->max_res * sizeof(wsc__hs_header));
    hs->buf = (char *)mem;
    hs->cap = p->max_size;
    hs->max_res = p->max_res;
    hs->fd = -1;
    wsc__http_request_init(&hs->req, p->max_size, hs->headers, p->max_headers);
    return hs;
}

wsc_handshake *wsc__hs_acquire(wsc__hs_pool *p)
{
    uint8_t *mem = wsc__pool_get(p->pool);
    if (!mem && !(mem = malloc(p->obj_size)))
        return NULL;
    return setup(p, mem);
}

wsc_handshake *wsc__hs_scratch_new(wsc__hs_pool *p)
{
    uint8_t *mem = malloc(p->obj_size);
    return mem ? setup(p, mem) : NULL;
}

static void drop_response_headers(wsc_handshake *hs)
{
    for (size_t i = 0; i < hs->nres; i++) {
        free((char *)hs->res[i].name);
        free((char *)hs->res[i].value);
    }
    hs->nres = 0;
    free(hs->url);
    hs->url = NULL;
    free(hs->plain);
    hs->plain = NULL;
    hs->plain_status = 0;
}

void wsc__hs_reset(wsc__hs_pool *p, wsc_handshake *hs)
{
    drop_response_headers(hs);
    setup(p, (uint8_t *)hs);
}

void wsc__hs_scratch_free(wsc_handshake *hs)
{
    if (hs)
        drop_response_headers(hs);
    free(hs);
}

void wsc__hs_release(wsc__hs_pool *p, wsc_handshake *hs)
{
    if (!hs)
        return;
    drop_response_headers(hs);
    if (wsc__pool_owns(p->pool, hs))
        wsc__pool_put(p->pool, hs);
    else
        free(hs);
}

/* Builders report the size they need on ENOSPC: try a stack-sized guess, then exactly that.
 * status 0 builds the 101 with extra[0..n); else the error response. */
static char *build(const wsc_handshake *hs, int status, const wsc__hs_header *extra, size_t n,
                   size_t *len)
{
    size_t cap = 256, need = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        char *out = malloc(cap);
        if (!out)
            return NULL;
        int rc = status ? wsc__http_response_error(out, cap, &need, status, NULL, extra, n)
                        : wsc__http_response_101(out, cap, &need, hs->req.key, hs->req.key_len,
                                                 extra, n);
        if (rc == 0) {
            *len = need;
            return out;
        }
        free(out);
        if (rc != WSC__HS_ENOSPC || need <= cap)
            return NULL;
        cap = need;
    }
    return NULL;
}

char *wsc__hs_response_101(const wsc_handshake *hs, size_t *len)
{
    if (!hs->protocol && !hs->ext_len)
        return build(hs, 0, hs->res, hs->nres, len);
    wsc__hs_header *all = malloc((hs->nres + 2) * sizeof *all);
    if (!all)
        return NULL;
    size_t n = 0;
    if (hs->protocol)
        all[n++] = (wsc__hs_header){"Sec-WebSocket-Protocol", 22, hs->protocol, hs->protocol_len};
    if (hs->ext_len)
        all[n++] = (wsc__hs_header){"Sec-WebSocket-Extensions", 24, hs->ext, hs->ext_len};
    if (hs->nres)
        memcpy(all + n, hs->res, hs->nres * sizeof *all);
    char *out = build(hs, 0, all, hs->nres + n, len);
    free(all);
    return out;
}

char *wsc__hs_response_error(int status, size_t *len)
{
    return build(NULL, status, NULL, 0, len);
}

char *wsc__hs_response_error_with(const wsc_handshake *hs, int status, size_t *len)
{
    size_t n = 0;
    wsc__hs_header *keep = NULL;
    char *out;

    if (hs && hs->nres) {
        /* Every header passed the 101's rules when added; an error response sets a few more
           itself, and those of the application would contradict them: leave them out. */
        if (!(keep = malloc(hs->nres * sizeof *keep)))
            return NULL;
        for (size_t i = 0; i < hs->nres; i++)
            if (wsc__http_response_header_ok(&hs->res[i], status))
                keep[n++] = hs->res[i];
    }
    out = build(hs, status, keep, n, len);
    free(keep);
    return out;
}

/* Writes or (p NULL) counts: the plain response is sized in a first pass and written in a second. */
typedef struct {
    char *p;
    size_t n;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->p)
        memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void put_str(out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_plain(out *o, const wsc_handshake *hs, bool head_only)
{
    int status = hs->plain_status;
    char num[24];

    put_str(o, "HTTP/1.1 ");
    put(o, num, (size_t)snprintf(num, sizeof num, "%d ", status));
    put_str(o, wsc__http_reason(status));
    put_str(o, "\r\n");
    if (hs->type_len) {
        put_str(o, "Content-Type: ");
        put(o, hs->plain, hs->type_len);
        put_str(o, "\r\n");
    }
    /* RFC 9110 8.6: never in a 204; a 304's would describe the resource, which we do not know. */
    if (status != 204 && status != 304) {
        put_str(o, "Content-Length: ");
        put(o, num, (size_t)snprintf(num, sizeof num, "%zu", hs->body_len));
        put_str(o, "\r\n");
    }
    /* No keep-alive: one request per connection keeps the loop's part as it is for a refused
       upgrade (answer, then wait for the peer's FIN). */
    put_str(o, "Connection: close\r\n");
    for (size_t i = 0; i < hs->nres; i++) {
        /* The error response's rule: Content-Type and the framing headers are ours. */
        if (!wsc__http_response_header_ok(&hs->res[i], status))
            continue;
        put(o, hs->res[i].name, hs->res[i].name_len);
        put_str(o, ": ");
        put(o, hs->res[i].value, hs->res[i].value_len);
        put_str(o, "\r\n");
    }
    put_str(o, "\r\n");
    if (!head_only) /* RFC 9110 9.3.2: the answer to a HEAD is the GET's without its content */
        put(o, hs->plain + hs->type_len + 1, hs->body_len);
}

char *wsc__hs_response_plain(const wsc_handshake *hs, int status, size_t *len)
{
    const wsc__http_request *r = &hs->req;
    bool head_only = r->method_len == 4 && memcmp(r->method, "HEAD", 4) == 0;

    if (status) {
        char *resp = wsc__hs_response_error_with(hs, status, len);
        const char *end = resp ? memmem(resp, *len, "\r\n\r\n", 4) : NULL;
        if (end && head_only)
            *len = (size_t)(end + 4 - resp);
        return resp;
    }
    out o = {NULL, 0};
    put_plain(&o, hs, head_only);
    if (!(o.p = malloc(o.n)))
        return NULL;
    *len = o.n;
    o.n = 0;
    put_plain(&o, hs, head_only);
    return o.p;
}

/* ---- public accessors (valid during init and http only) ---- */

static wsc_str str(const char *p, size_t n)
{
    return (wsc_str){p, p ? n : 0};
}

wsc_str wsc_handshake_method(const wsc_handshake *hs)
{
    return str(hs->req.method, hs->req.method_len);
}

wsc_str wsc_handshake_url(const wsc_handshake *hs)
{
    const wsc__http_request *r = &hs->req;
    if (r->url_slash && r->url) {
        /* "GET ws://h?q": the origin form "/?q" is nowhere in the request. Rare enough to be
           built on demand; it lives as long as the object, like the accessors' other strings. */
        wsc_handshake *m = (wsc_handshake *)hs;
        if (!m->url && (m->url = malloc(r->url_len + 1)) != NULL) {
            m->url[0] = '/';
            memcpy(m->url + 1, r->url, r->url_len);
        }
        return m->url ? str(m->url, r->url_len + 1) : str(NULL, 0);
    }
    return str(r->url, r->url_len);
}

wsc_str wsc_handshake_path(const wsc_handshake *hs)
{
    return str(hs->req.path, hs->req.path_len);
}

wsc_str wsc_handshake_query(const wsc_handshake *hs)
{
    return str(hs->req.query, hs->req.query_len);
}

wsc_str wsc_handshake_raw(const wsc_handshake *hs)
{
    return str(hs->req.raw, hs->req.len);
}

int wsc_handshake_query_param(const wsc_handshake *hs, const char *name, char *buf, size_t cap)
{
    size_t n = 0;
    if (!hs || !name || (!buf && cap))
        return WSC_EINVAL;
    if (!hs->req.query)
        return WSC_EINVAL;
    int rc = wsc__query_get(hs->req.query, hs->req.query_len, name, buf, cap, &n);
    if (rc == 1)
        return n > INT32_MAX ? WSC_EFULL : (int)n;
    if (rc == WSC__HS_ENOSPC)
        return WSC_EFULL;
    return WSC_EINVAL;
}

wsc_str wsc_handshake_header(const wsc_handshake *hs, const char *name)
{
    const wsc__http_request *r = &hs->req;
    size_t n = 0;

    if (!name)
        return str(NULL, 0);
    /* These the parser always keeps, whatever max_headers says. */
    if (strcasecmp(name, "origin") == 0)
        return str(r->origin, r->origin_len);
    if (strcasecmp(name, "sec-websocket-protocol") == 0)
        return str(r->protocol, r->protocol_len);
    if (strcasecmp(name, "sec-websocket-extensions") == 0)
        return str(r->extensions, r->extensions_len);
    if (strcasecmp(name, "host") == 0)
        return str(r->host, r->host_len);
    const char *v = wsc__http_request_header(r, name, &n);
    return str(v, n);
}

bool wsc_handshake_header_next(const wsc_handshake *hs, size_t *iter, wsc_str *name,
                               wsc_str *value)
{
    const wsc__hs_header *h = wsc__http_request_header_at(&hs->req, *iter);
    if (!h)
        return false;
    (*iter)++;
    if (name)
        *name = str(h->name, h->name_len);
    if (value)
        *value = str(h->value, h->value_len);
    return true;
}

const struct sockaddr *wsc_handshake_address(const wsc_handshake *hs, socklen_t *len)
{
    /* Looked up on demand: most applications never ask, and accept then copies nothing. */
    wsc_handshake *m = (wsc_handshake *)hs;
    if (!m->addr_len && m->fd >= 0) {
        socklen_t n = sizeof m->addr;
        if (getpeername(m->fd, (struct sockaddr *)&m->addr, &n) == 0)
            m->addr_len = n;
    }
    if (len)
        *len = hs->addr_len;
    return (const struct sockaddr *)&hs->addr;
}

int wsc_handshake_respond(wsc_handshake *hs, int status, const char *content_type,
                          const void *body, size_t len)
{
    if (!hs || status < 200 || status > 599 || (!body && len))
        return WSC_EINVAL;
    if (!hs->req.plain)
        return WSC_ESTATE; /* an upgrade request is answered by init's return value */
    /* RFC 9110 15.3.5, 15.4.5: a 204 or a 304 has no content. */
    if ((status == 204 || status == 304) && len)
        return WSC_EINVAL;
    size_t tl = content_type ? strlen(content_type) : 0;
    /* The value rules of every header we send (no CR, LF or other control but HTAB). */
    wsc__hs_header h = {"Content-Type", 12, content_type, tl};
    if (content_type && !wsc__http_response_header_ok(&h, 101))
        return WSC_EINVAL;
    if (len > SIZE_MAX - tl - 1)
        return WSC_ENOMEM;
    char *p = malloc(tl + 1 + len);
    if (!p)
        return WSC_ENOMEM;
    if (tl)
        memcpy(p, content_type, tl);
    p[tl] = '\0';
    if (len)
        memcpy(p + tl + 1, body, len);
    free(hs->plain);
    hs->plain = p;
    hs->plain_status = status;
    hs->type_len = tl;
    hs->body_len = len;
    return 0;
}

static bool is_protocol_header(const char *name, size_t n)
{
    return n == 22 && strncasecmp(name, "sec-websocket-protocol", 22) == 0;
}

/* True once the 101 carries a subprotocol: selected, or added as a raw header. */
static bool protocol_answered(const wsc_handshake *hs)
{
    if (hs->protocol)
        return true;
    for (size_t i = 0; i < hs->nres; i++)
        if (is_protocol_header(hs->res[i].name, hs->res[i].name_len))
            return true;
    return false;
}

bool wsc_handshake_protocols(const wsc_handshake *hs, size_t *iter, wsc_str *name)
{
    const char *e;
    size_t n;

    if (!hs || !iter || !hs->req.protocol_count)
        return false;
    /* RFC 6455 4.1: each offered subprotocol is a token; anything else can never be answered
       (the 101's value must be one of them, byte for byte), so it is not offered. */
    while (wsc__hs_list_next(hs->req.raw, hs->req.len, "sec-websocket-protocol", iter, &e, &n))
        if (wsc__hs_token_valid(e, n)) {
            if (name)
                *name = str(e, n);
            return true;
        }
    return false;
}

int wsc_handshake_select_protocol(wsc_handshake *hs, const char *name)
{
    size_t it = 0;
    wsc_str p;

    if (!hs || !name)
        return WSC_EINVAL;
    /* A plain request has no 101, and RFC 6455 4.2.2 allows one subprotocol in it. */
    if (hs->req.plain || protocol_answered(hs))
        return WSC_ESTATE;
    size_t n = strlen(name);
    /* Subprotocol names compare byte for byte: a client checks the answer against its offer so. */
    while (wsc_handshake_protocols(hs, &it, &p))
        if (p.len == n && memcmp(p.ptr, name, n) == 0) {
            hs->protocol = p.ptr; /* in the request, which outlives the building of the 101 */
            hs->protocol_len = n;
            return 0;
        }
    return WSC_EINVAL;
}

int wsc_handshake_add_response_header(wsc_handshake *hs, const char *name, const char *value)
{
    if (!hs || !name || !value)
        return WSC_EINVAL;
    /* Kept for applications that answered this way before select existed (and for tests that
       play a misbehaving server), but never twice in one 101. */
    if (is_protocol_header(name, strlen(name)) && protocol_answered(hs))
        return WSC_ESTATE;
    /* Checked here, where init can see the error, rather than by the builder, which would turn
       a bad header into a 500 the application never hears of. */
    wsc__hs_header h = {name, strlen(name), value, strlen(value)};
    if (!wsc__http_response_header_ok(&h, 101))
        return WSC_EINVAL;
    if (hs->nres >= hs->max_res)
        return WSC_EFULL;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return WSC_ENOMEM;
    }
    hs->res[hs->nres++] = (wsc__hs_header){n, h.name_len, v, h.value_len};
    return 0;
}

/* Client side of the opening handshake: the server's answer, RFC 6455
 * section 4.1 (the client's checks of the 101 response). */
#include "proto/handshake.h"

#include <string.h>

#include "proto/http_lex.h"

bool wsc__http_response_init(wsc__http_response *r, size_t max_size, const char *key)
{
    memset(r, 0, sizeof *r);
    r->max_size = max_size ? max_size : WSC__HS_DEFAULT_RESPONSE_MAX;
    /* A key we could not have sent can match nothing: leave expect empty. */
    if (!key || !wsc__hs_key_valid(key, strlen(key)))
        return false;
    return wsc__accept_key(key, WSC__HS_KEY_LEN, r->expect);
}

static enum wsc__hs_result fail(wsc__http_response *r, enum wsc__hs_err e)
{
    r->err = e;
    r->len = 0;
    return WSC__HS_ERROR;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4);
 * a missing final SP is tolerated, as the RFC asks of clients. */
static enum wsc__hs_err status_line(void *ctx, const char *l, size_t n)
{
    wsc__http_response *r = ctx;
    if (n < 12 || memcmp(l, "HTTP/", 5) != 0 || l[5] < '0' || l[5] > '9' || l[6] != '.' ||
        l[7] < '0' || l[7] > '9' || l[8] != ' ')
        return WSC__HS_E_SYNTAX;
    for (int k = 9; k < 12; k++)
        if (l[k] < '0' || l[k] > '9')
            return WSC__HS_E_SYNTAX;
    if (n > 12 && l[12] != ' ')
        return WSC__HS_E_SYNTAX;
    r->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    /* 4.1: anything but 101 means the server did not upgrade: report its
       status (401, 403, 426...) without waiting for its headers. */
    if (r->status != 101)
        return WSC__HS_E_STATUS;
    if (memcmp(l + 5, "1.1", 3) != 0)
        return WSC__HS_E_HTTP_VERSION;
    return WSC__HS_OK;
}

static enum wsc__hs_result finish(wsc__http_response *r, char *buf, size_t head_len)
{
    size_t first = wsc__http_find_cr(buf, 0, head_len), i;
    bool upgrade_ok = false, connection_ok = false;
    unsigned accepts = 0, accept_ok = 0;
    enum wsc__hs_err e;
    wsc__hs_header h;
    int more;

    r->protocol = r->extensions = NULL;
    r->protocol_len = r->extensions_len = 0;
    r->protocol_count = r->extensions_count = 0;

    if (first == 0)
        return fail(r, WSC__HS_E_SYNTAX);
    e = status_line(r, buf, first);
    if (e != WSC__HS_OK)
        return fail(r, e);

    i = first + 2;
    while ((more = wsc__http_field_next(buf, head_len, &i, &h)) > 0) {
#define IS(lit) WSC__HTTP_NAME_IS(&h, lit)
        if (IS("upgrade")) {
            upgrade_ok |= wsc__hs_token_list_has(h.value, h.value_len, "websocket");
        } else if (IS("connection")) {
            connection_ok |= wsc__hs_token_list_has(h.value, h.value_len, "upgrade");
        } else if (IS("sec-websocket-accept")) {
            /* 4.1 item 4: the exact base64 string, compared byte for byte. */
            accepts++;
            accept_ok = h.value_len == WSC__HS_ACCEPT_LEN &&
                        memcmp(h.value, r->expect, WSC__HS_ACCEPT_LEN) == 0;
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
        }
#undef IS
    }
    if (more < 0)
        return fail(r, WSC__HS_E_SYNTAX);
    /* 4.1 items 2-4, in the RFC's order. */
    if (!upgrade_ok)
        return fail(r, WSC__HS_E_UPGRADE);
    if (!connection_ok)
        return fail(r, WSC__HS_E_CONNECTION);
    if (accepts != 1 || !accept_ok || r->expect[0] == '\0')
        return fail(r, WSC__HS_E_ACCEPT);
    r->len = head_len;
    r->err = WSC__HS_OK;
    return WSC__HS_COMPLETE;
}

enum wsc__hs_result wsc__http_response_parse(wsc__http_response *r, char *buf, size_t len)
{
    size_t head_len;
    enum wsc__hs_err e;

    if (r->err != WSC__HS_OK)
        return WSC__HS_ERROR;
    if (r->len != 0)
        return len >= r->len ? finish(r, buf, r->len) : fail(r, WSC__HS_E_SYNTAX);
    e = wsc__http_head_scan(&r->scan, buf, len, r->max_size, status_line, r, &head_len);
    if (e != WSC__HS_OK)
        return fail(r, e);
    return head_len ? finish(r, buf, head_len) : WSC__HS_INCOMPLETE;
}

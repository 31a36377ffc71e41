/* Server responses to the upgrade request: 101 (RFC 6455 4.2.2) and the HTTP
 * errors that refuse it. */
#include "proto/handshake.h"

#include "proto/http_lex.h"
#include "proto/http_out.h"

const char *wsc__http_reason(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

/* Extra headers come from the application: a CR or LF in them would let a
 * value smuggle a header or end the head early (response splitting), and a
 * header we already send would contradict ours. */
bool wsc__http_response_header_ok(const wsc__hs_header *h, int status)
{
    static const char *const ours_101[] = {"upgrade", "connection", "sec-websocket-accept",
                                           "content-length", "transfer-encoding", NULL};
    static const char *const ours_error[] = {"connection", "content-length", "content-type",
                                             "transfer-encoding", "sec-websocket-version", NULL};
    const char *const *ours = status == 101 ? ours_101 : ours_error;

    if (!h->name || h->name_len == 0 || (!h->value && h->value_len))
        return false;
    for (size_t k = 0; k < h->name_len; k++)
        if (!wsc__http_tchar((unsigned char)h->name[k]))
            return false;
    if (!wsc__http_value_ok(h->value, h->value_len))
        return false;
    for (size_t k = 0; ours[k]; k++)
        if (wsc__http_ieq(h->name, h->name_len, ours[k]))
            return false;
    return true;
}

static bool extras_ok(const wsc__hs_header *extra, size_t n, int status)
{
    for (size_t i = 0; i < n; i++)
        if (!wsc__http_response_header_ok(&extra[i], status))
            return false;
    return true;
}

static void put_extras(wsc__http_out *o, const wsc__hs_header *extra, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        wsc__out_mem(o, extra[i].name, extra[i].name_len);
        wsc__out_mem(o, ": ", 2);
        wsc__out_mem(o, extra[i].value, extra[i].value_len);
        wsc__out_mem(o, "\r\n", 2);
    }
}

int wsc__http_response_101(char *out, size_t cap, size_t *out_len, const char *key,
                           size_t key_len, const wsc__hs_header *extra, size_t n_extra)
{
    wsc__http_out o = {out, out ? cap : 0, 0};
    char accept[WSC__HS_ACCEPT_LEN + 1];

    *out_len = 0;
    if (!key || (n_extra && !extra) || !extras_ok(extra, n_extra, 101))
        return WSC__HS_EINVAL;
    if (!wsc__accept_key(key, key_len, accept))
        return WSC__HS_ECRYPTO;
    wsc__out_str(&o, "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: ");
    wsc__out_mem(&o, accept, WSC__HS_ACCEPT_LEN);
    wsc__out_mem(&o, "\r\n", 2);
    put_extras(&o, extra, n_extra);
    wsc__out_mem(&o, "\r\n", 2);
    return wsc__out_done(&o, out_len);
}

int wsc__http_response_error(char *out, size_t cap, size_t *out_len, int status,
                             const char *body, const wsc__hs_header *extra, size_t n_extra)
{
    wsc__http_out o = {out, out ? cap : 0, 0};
    const char *reason = wsc__http_reason(status);
    size_t body_len;

    *out_len = 0;
    if (status < 200 || status > 599 || (n_extra && !extra) || !extras_ok(extra, n_extra, status))
        return WSC__HS_EINVAL;
    if (!body)
        body = reason;
    body_len = strlen(body);
    wsc__out_str(&o, "HTTP/1.1 ");
    wsc__out_uint(&o, (size_t)status);
    wsc__out_mem(&o, " ", 1);
    wsc__out_str(&o, reason);
    wsc__out_str(&o, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    wsc__out_uint(&o, body_len);
    /* The connection cannot continue as HTTP: the bytes after a refused
       upgrade request may already be WebSocket frames. */
    wsc__out_str(&o, "\r\nConnection: close\r\n");
    /* RFC 6455 4.2.2: a 426 names the versions the server speaks. */
    if (status == 426)
        wsc__out_str(&o, "Sec-WebSocket-Version: 13\r\n");
    put_extras(&o, extra, n_extra);
    wsc__out_mem(&o, "\r\n", 2);
    wsc__out_mem(&o, body, body_len);
    return wsc__out_done(&o, out_len);
}

/* Client side: the upgrade request of RFC 6455 section 4.1. */
#include "proto/handshake.h"

#include "proto/http_lex.h"
#include "proto/http_out.h"

/* Visible ASCII only: a space would end the target, a CR or LF the line. */
static bool visible(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* Walks the caller's raw header lines (CRLF-separated, trailing CRLF optional).
 * Returns false on anything that would make the request invalid or smuggle a
 * line: a bare CR or LF, an empty line (it would end the head), a line that is
 * not "name: value", or a header that contradicts one we send. */
static bool extra_ok(const char *x, size_t n, bool *has_host)
{
    static const char *const ours[] = {"upgrade", "connection", "sec-websocket-key",
                                       "sec-websocket-version", "content-length",
                                       "transfer-encoding", NULL};
    size_t i = 0;

    *has_host = false;
    while (i < n) {
        size_t e = i;
        wsc__hs_header h;
        while (e < n && x[e] != '\r' && x[e] != '\n')
            e++;
        if (e < n && (x[e] == '\n' || e + 1 == n || x[e + 1] != '\n'))
            return false;
        if (e == i || !wsc__http_field_split(x + i, e - i, &h))
            return false;
        for (size_t k = 0; ours[k]; k++)
            if (wsc__http_ieq(h.name, h.name_len, ours[k]))
                return false;
        if (wsc__http_ieq(h.name, h.name_len, "host"))
            *has_host = true;
        i = e < n ? e + 2 : n;
    }
    return true;
}

int wsc__http_request_build(char *out, size_t cap, size_t *out_len, const char *host,
                            const char *path, const char *key, const char *extra,
                            size_t extra_len)
{
    wsc__http_out o = {out, out ? cap : 0, 0};
    bool has_host = false;
    size_t path_len = path ? strlen(path) : 0;

    *out_len = 0;
    if (!extra)
        extra_len = 0;
    if (!extra_ok(extra, extra_len, &has_host))
        return WSC__HS_EINVAL;
    /* RFC 9112 3.2: a request without Host is invalid. */
    if (!has_host && (!host || !*host || !visible(host, strlen(host))))
        return WSC__HS_EINVAL;
    /* Origin-form only, and RFC 6455 section 3: no fragment. */
    if (path_len && (path[0] != '/' || !visible(path, path_len) || memchr(path, '#', path_len)))
        return WSC__HS_EINVAL;
    if (!key || !wsc__hs_key_valid(key, strlen(key)))
        return WSC__HS_EINVAL;

    wsc__out_str(&o, "GET ");
    if (path_len)
        wsc__out_mem(&o, path, path_len);
    else
        wsc__out_mem(&o, "/", 1);
    wsc__out_str(&o, " HTTP/1.1\r\n");
    if (!has_host) {
        wsc__out_str(&o, "Host: ");
        wsc__out_str(&o, host);
        wsc__out_str(&o, "\r\n");
    }
    wsc__out_str(&o, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    wsc__out_mem(&o, key, WSC__HS_KEY_LEN);
    wsc__out_str(&o, "\r\nSec-WebSocket-Version: 13\r\n");
    if (extra_len) {
        wsc__out_mem(&o, extra, extra_len);
        if (extra_len < 2 || extra[extra_len - 2] != '\r' || extra[extra_len - 1] != '\n')
            wsc__out_mem(&o, "\r\n", 2);
    }
    wsc__out_mem(&o, "\r\n", 2);
    return wsc__out_done(&o, out_len);
}

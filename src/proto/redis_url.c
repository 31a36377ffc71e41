/* redis:// URLs (see redis_url.h). */
#include "proto/redis_url.h"

#include <stdbool.h>
#include <string.h>

/* Characters of a host name or an address literal: letters, digits, '-', '.', and for IPv6 ':'
   and '%' (a zone). Anything else (spaces, '@', '/', control bytes) is refused. */
static bool host_char(char ch, bool v6)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || (v6 && (ch == ':' || ch == '%'));
}

const char *wsc__redis_url_parse(const char *url, size_t len, char host[WSC__REDIS_HOST_MAX + 1],
                                 int *port)
{
    static const char scheme[] = "redis://";
    const size_t sl = sizeof scheme - 1;
    if (!url || len < sl || memcmp(url, scheme, sl) != 0)
        return "must start with redis://";
    const char *p = url + sl, *end = url + len;
    if (end > p && end[-1] == '/')
        end--;
    const char *h = p, *hend, *colon;
    bool v6 = p < end && *p == '[';
    if (v6) {
        h = p + 1;
        hend = memchr(h, ']', (size_t)(end - h));
        if (!hend)
            return "no ] after an IPv6 address";
        colon = hend + 1 < end ? hend + 1 : NULL;
        if (colon && *colon != ':')
            return "junk after the address";
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        hend = colon ? colon : end;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0)
        return "no host";
    if (hl > WSC__REDIS_HOST_MAX)
        return "host too long";
    for (size_t i = 0; i < hl; i++)
        if (!host_char(h[i], v6))
            return "bad character in the host (no credentials, paths or queries)";
    if (v6 && !memchr(h, ':', hl))
        return "not an IPv6 address in brackets";
    long v = WSC__REDIS_DEFAULT_PORT;
    if (colon) {
        const char *ps = colon + 1;
        if (ps == end || end - ps > 5)
            return "bad port";
        v = 0;
        for (const char *q = ps; q < end; q++) {
            if (*q < '0' || *q > '9')
                return "bad port";
            v = v * 10 + (*q - '0');
        }
        if (v < 1 || v > 65535)
            return "port out of range";
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    *port = (int)v;
    return NULL;
}

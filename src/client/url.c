/* ws:// and wss:// URLs. */
#include "client/url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool host_char(char ch)
{
    /* RFC 3986 reg-name: unreserved, sub-delims and percent escapes; enough for DNS names. */
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("-._~%!$&'()*+,;=", ch) != NULL;
}

bool wsc__url_parse(const char *url, wsc__url *u)
{
    const char *p;

    memset(u, 0, sizeof *u);
    if (!url)
        return false;
    if (strncasecmp(url, "ws://", 5) == 0) {
        p = url + 5;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        p = url + 6;
        u->tls = true;
    } else {
        return false;
    }
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '#')
            return false;

    const char *auth_end = p + strcspn(p, "/?");
    if (memchr(p, '@', (size_t)(auth_end - p)))
        return false; /* user information has no meaning for ws (section 3) */
    const char *host = p, *host_end;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(auth_end - p));
        if (!close)
            return false;
        host = p + 1;
        host_end = close;
        p = close + 1;
        u->ipv6 = true;
    } else {
        host_end = p + strcspn(p, ":/?");
        for (const char *q = host; q < host_end; q++)
            if (!host_char(*q))
                return false;
        p = host_end;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof u->host)
        return false;
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (u->ipv6) {
        struct in6_addr a;
        if (inet_pton(AF_INET6, u->host, &a) != 1)
            return false;
    }

    u->port = u->tls ? 443 : 80;
    if (*p == ':') {
        p++;
        /* An empty port means the default (RFC 3986 section 3.2.3). */
        if (p < auth_end) {
            long port = 0;
            for (; p < auth_end; p++) {
                if (*p < '0' || *p > '9')
                    return false;
                port = port * 10 + (*p - '0');
                if (port > 65535)
                    return false;
            }
            if (port == 0)
                return false;
            u->port = (int)port;
        }
    }
    if (p != auth_end)
        return false;

    /* The target is the path and query; "?q" alone gets the root path in front. */
    size_t tlen = strlen(p);
    bool slash = *p != '/';
    u->target = malloc(tlen + 2);
    if (!u->target)
        return false;
    if (slash)
        u->target[0] = '/';
    memcpy(u->target + slash, p, tlen + 1);
    return true;
}

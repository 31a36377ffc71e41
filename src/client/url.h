/* ws:// and wss:// URLs (RFC 6455 section 3). */
#ifndef WSC_CLIENT_URL_H
#define WSC_CLIENT_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wsc__url {
    bool tls;       /* wss */
    char host[256]; /* without the brackets of an IPv6 literal */
    bool ipv6;      /* host was an IPv6 literal in brackets */
    int port;       /* the URL's port, or 80 (ws) / 443 (wss) */
    char *target;   /* the request target: path and query, "/" when empty; heap, free it */
} wsc__url;

/* Parses ws://host[:port][/path][?query] or wss://... (scheme case-insensitive). Refused (returns
 * false, nothing to free): other schemes, an empty or over-long host, user information ("user@"),
 * a bad port, a fragment ("#": section 3 forbids it), spaces and control bytes, a bracketed host
 * that is not an IPv6 address. Thread-safety: pure. */
bool wsc__url_parse(const char *url, wsc__url *u);

#endif

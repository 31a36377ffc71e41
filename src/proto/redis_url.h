/* redis:// URLs (wsc_cluster_redis_attach). I/O-free. */
#ifndef WSC_PROTO_REDIS_URL_H
#define WSC_PROTO_REDIS_URL_H

#include <stddef.h>

enum { WSC__REDIS_HOST_MAX = 255, WSC__REDIS_DEFAULT_PORT = 6379 };

/* Parses url[0..len) of the form redis://HOST[:PORT][/], HOST a name, an IPv4 literal or a
   bracketed IPv6 literal (given to the resolver without its brackets). No credentials, database
   or query. On success stores the host (NUL-terminated) and the port (6379 when absent) and
   returns NULL; otherwise returns what is wrong. */
const char *wsc__redis_url_parse(const char *url, size_t len, char host[WSC__REDIS_HOST_MAX + 1],
                                 int *port);

#endif

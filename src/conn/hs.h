/* The server side of one upgrade request, or of a plain HTTP request: the public wsc_handshake
 * object (request bytes, parsed fields, peer address, extra response headers, a plain request's
 * answer). Objects are pooled (handshake.count of them, as in websocket.zig) and allocated beyond
 * that; a connection holds one only until init (or the http callback) returns. */
#ifndef WSC_CONN_HS_H
#define WSC_CONN_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "deflate/pmd_negotiate.h"
#include "mem/pool.h"
#include "proto/handshake.h"
#include "wsc.h"

struct wsc_handshake {
    wsc__http_request req;
    int fd;                /* the peer's address is asked for (getpeername) only when wanted */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    size_t len, cap;       /* request bytes received / buffer size (handshake.max_size) */
    char *buf;             /* the request as received */
    wsc__hs_header *headers; /* handshake.max_headers entries kept for lookup */
    wsc__hs_header *res;   /* extra response headers (copies) */
    size_t nres, max_res;
    const char *protocol;  /* the subprotocol init selected, in the request (NULL: none) */
    char ext[WSC__PMD_TEXT_MAX]; /* the Sec-WebSocket-Extensions answer (ext_len 0: none) */
    size_t ext_len;
    size_t protocol_len;
    char *url;             /* "/?q" for a target "ws://h?q" (req.url_slash), built when asked for */
    /* A plain request's answer (wsc_handshake_respond): status (0: none yet), then one
       allocation holding the Content-Type (type_len bytes and a NUL) and the body (body_len) */
    int plain_status;
    char *plain;
    size_t type_len, body_len;
};

typedef struct wsc__hs_pool {
    wsc__pool *pool;
    size_t obj_size, max_size, max_headers, max_res;
} wsc__hs_pool;

/* Returns NULL when out of memory. Thread-safety: any thread. */
wsc__hs_pool *wsc__hs_pool_new(size_t count, size_t max_size, size_t max_headers, size_t max_res);
void wsc__hs_pool_free(wsc__hs_pool *p);
/* A ready-to-parse handshake object, or NULL when out of memory. Thread-safety: any thread. */
wsc_handshake *wsc__hs_acquire(wsc__hs_pool *p);
void wsc__hs_release(wsc__hs_pool *p, wsc_handshake *hs);
/* A loop's own handshake object for requests that arrive whole in one read: they are parsed in the
 * loop's receive buffer, and no per-connection object is needed (none is held by connections that
 * wait for their first bytes either). reset prepares it for the next request. */
wsc_handshake *wsc__hs_scratch_new(wsc__hs_pool *p);
void wsc__hs_reset(wsc__hs_pool *p, wsc_handshake *hs);
void wsc__hs_scratch_free(wsc_handshake *hs);

/* Builds the answer to an accepted request: 101 with the subprotocol init selected, then the extra
 * headers init added. Returns a heap buffer (*len bytes) or NULL. */
char *wsc__hs_response_101(const wsc_handshake *hs, size_t *len);
/* Builds an error response for status (400..599). Returns a heap buffer or NULL. */
char *wsc__hs_response_error(int status, size_t *len);
/* The same, for a request init refused: it also carries the headers init added with
 * wsc_handshake_add_response_header (a WWW-Authenticate for a 401, a Retry-After for a 503), all
 * but those the error response sets itself (Content-Type, Sec-WebSocket-Version). hs NULL: none.
 * Returns a heap buffer (*len bytes) or NULL when out of memory or status is outside 200..599. */
char *wsc__hs_response_error_with(const wsc_handshake *hs, int status, size_t *len);
/* The answer to a plain request (hs->req.plain), which ends the connection (Connection: close):
 * with status 0 the response wsc_handshake_respond set (Content-Type, Content-Length, the headers
 * added with wsc_handshake_add_response_header, the body), else the error response for status
 * (400..599, as wsc__hs_response_error_with). No body follows the head of the answer to a HEAD.
 * Returns a heap buffer (*len bytes) or NULL when out of memory. */
char *wsc__hs_response_plain(const wsc_handshake *hs, int status, size_t *len);

#endif

/* The HTTP/1.1 upgrade handshake of RFC 6455 section 4, I/O-free.
 *
 * Server side: an incremental request parser (wsc__http_request_*) and the
 * 101 / error response builders. Client side: key generation, the request
 * builder and an incremental response parser (wsc__http_response_*).
 *
 * Parsers never allocate. The caller owns one buffer holding everything
 * received so far and passes it again, with new bytes appended, on every call
 * (the buffer may move between calls; its first bytes must not change). The
 * parser remembers how far it scanned, so a request trickled one byte at a time
 * costs O(n) in total, not O(n^2). Every pointer a parser reports points into
 * the buffer passed to the call that returned WSC__HS_COMPLETE and is valid as
 * long as that buffer is.
 *
 * Strictness (same rules for requests and responses): lines end in CRLF; a bare
 * CR or a bare LF is an error (never tolerated, so there is one framing rule
 * and no smuggling ambiguity); a line starting with SP or HTAB (obs-fold,
 * RFC 9112 section 5.2) is an error; NUL, other control bytes and DEL are
 * errors anywhere in the head; header names are RFC 9110 tokens followed
 * directly by ':'.
 *
 * Thread-safety: every function is reentrant; a parser object must not be used
 * by two threads at once.
 */
#ifndef WSC_PROTO_HANDSHAKE_H
#define WSC_PROTO_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WSC__HS_KEY_LEN = 24,    /* Sec-WebSocket-Key: base64 of 16 bytes */
    WSC__HS_ACCEPT_LEN = 28, /* Sec-WebSocket-Accept: base64 of a SHA-1 */
    WSC__HS_DEFAULT_REQUEST_MAX = 1024,  /* max_size 0 in wsc__http_request_init */
    WSC__HS_DEFAULT_RESPONSE_MAX = 4096, /* max_size 0 in wsc__http_response_init */
};

/* Return codes of the builders and wsc__query_get (0 or a positive count is success). */
enum {
    WSC__HS_EINVAL = -1, /* an argument would produce an invalid message (CR/LF, bad name, ...) */
    WSC__HS_ENOSPC = -2, /* out is too small; *out_len holds the size needed */
    WSC__HS_ECRYPTO = -3 /* OpenSSL failed (SHA-1 or the random generator) */
};

/* Result of a parse call. */
enum wsc__hs_result {
    WSC__HS_INCOMPLETE = 0, /* need more bytes: call again with more appended */
    WSC__HS_COMPLETE = 1,   /* done: fields are set; ->len bytes were used */
    WSC__HS_ERROR = 2       /* failed: ->err says why (and ->http_status for requests) */
};

/* Why a handshake failed. Server errors map to an HTTP status via
 * wsc__hs_err_http_status (431 for TOO_LARGE, 426 for WS_VERSION, else 400). */
enum wsc__hs_err {
    WSC__HS_OK = 0,
    WSC__HS_E_TOO_LARGE,    /* no end of head within max_size bytes (431) */
    WSC__HS_E_SYNTAX,       /* malformed HTTP: bad byte, bare CR/LF, obs-fold, bad line (400) */
    WSC__HS_E_METHOD,       /* method is not GET (400: RFC 6455 4.2.1 requires GET); with
                               allow_plain, HEAD is allowed for a request that is no upgrade */
    WSC__HS_E_HTTP_VERSION, /* not HTTP/1.1 (400; HTTP/1.0 cannot upgrade) */
    WSC__HS_E_TARGET,       /* request target neither origin-form nor absolute-form with
                               scheme ws, wss, http or https and a valid authority (400) */
    WSC__HS_E_HOST,         /* Host missing, repeated or not a valid host[:port] (400,
                               RFC 9112 3.2) */
    WSC__HS_E_UPGRADE,      /* no "websocket" token in Upgrade */
    WSC__HS_E_CONNECTION,   /* no "upgrade" token in Connection */
    WSC__HS_E_KEY,          /* Sec-WebSocket-Key missing, repeated, or not base64 of 16 bytes (400) */
    WSC__HS_E_WS_VERSION,   /* Sec-WebSocket-Version missing or not 13 (426 naming 13) */
    WSC__HS_E_DUPLICATE,    /* Origin repeated (400: which one would the application check?) */
    WSC__HS_E_BODY,         /* Transfer-Encoding, or Content-Length other than 0 (400: the
                               bytes after the head belong to the WebSocket stream) */
    WSC__HS_E_STATUS,       /* client: response status is not 101 (->status holds it) */
    WSC__HS_E_ACCEPT        /* client: Sec-WebSocket-Accept missing, repeated or wrong */
};

const char *wsc__hs_err_str(enum wsc__hs_err e); /* short English text, never NULL */
int wsc__hs_err_http_status(enum wsc__hs_err e); /* 400, 426 or 431 (0 for WSC__HS_OK) */

/* One header: name and value point into a buffer, value trimmed of SP/HTAB. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} wsc__hs_header;

/* Private resumable scan state shared by both parsers: a few words. */
typedef struct {
    size_t scanned;    /* bytes already checked */
    size_t line_start; /* offset of the line being scanned */
    size_t work;       /* bytes examined in total (diagnostic: lets tests prove O(n)) */
} wsc__http_scan;

/* ---------------------------------------------------------------- accept key */

/* Sec-WebSocket-Accept for key[0..key_len): base64(SHA-1(key + GUID)),
 * RFC 6455 section 4.2.2. out receives 28 characters and a NUL.
 * Returns false only if OpenSSL fails (out is then ""). */
bool wsc__accept_key(const char *key, size_t key_len, char out[29]);

/* True if key[0..len) is a valid Sec-WebSocket-Key: 24 base64 characters
 * decoding to exactly 16 bytes (22 alphabet characters then "=="; non-zero
 * padding bits are tolerated). */
bool wsc__hs_key_valid(const char *key, size_t len);

/* True if s[0..n) is a valid Host value or absolute-form authority: host
 * [":" port] with host a non-empty reg-name (which includes IPv4 addresses) or
 * an IPv6 address in brackets (RFC 3986 3.2.2; no IPvFuture, no zone, no
 * userinfo) and port digits (possibly none, RFC 3986 3.2.3) of at most 65535. */
bool wsc__hs_host_valid(const char *s, size_t n);

/* ------------------------------------------------------------- server side */

/* Server-side request parser. Fields marked "out" are set on COMPLETE; on
 * ERROR only err and http_status are meaningful. The rest is private. */
typedef struct {
    /* config (set by init) */
    wsc__hs_header *headers; /* caller's array of max_headers entries, or NULL */
    size_t max_headers;      /* how many headers to store for lookup; 0 stores none */
    size_t max_size;         /* total bytes of the head, final CRLF included */
    bool allow_plain;        /* set after init, before the first parse: a request that is not
                                a WebSocket upgrade (no "websocket" in Upgrade) completes as a
                                plain HTTP request (see plain) instead of failing with
                                WSC__HS_E_UPGRADE; HEAD is then allowed too */
    /* private */
    wsc__http_scan scan;
    /* out */
    enum wsc__hs_err err;
    int http_status;             /* ERROR: 400, 426 or 431 */
    size_t len;                  /* COMPLETE: head bytes (bytes after it are WebSocket frames) */
    bool plain;                  /* COMPLETE (allow_plain only): not an upgrade, a GET or HEAD of
                                    HTTP/1.1 with one valid Host and no body; the upgrade's own
                                    headers (key, version, ...) were not checked. A request with
                                    "websocket" in Upgrade is always checked as an upgrade */
    const char *raw;             /* COMPLETE: the request, raw[0..len) (== buf) */
    const char *method;          /* e.g. "GET" (or "HEAD" when plain) */
    size_t method_len;
    const char *url;             /* the target in origin form, e.g. "/chat?room=a%20b": for an
                                    absolute-form target ("ws://h/chat?room=a%20b") the part after
                                    the authority, the static "/" when nothing follows it, and
                                    "?query" when only a query does (see url_slash) */
    size_t url_len;
    bool url_slash;              /* url is "?query" of "ws://h?query": the origin form is "/"
                                    followed by url[0..url_len), which is not in the buffer */
    const char *path;            /* url up to '?' (the static "/" when empty) */
    size_t path_len;
    const char *query;           /* after '?' (without it); NULL when the url has no '?' */
    size_t query_len;
    const char *host;            /* the request's host: the authority of an absolute-form
                                    target ("h:port" of "ws://h:port/"), else the Host value;
                                    a valid host [":" port] (wsc__hs_host_valid) */
    size_t host_len;
    const char *authority;       /* the authority of an absolute-form target, NULL for origin-form */
    size_t authority_len;
    const char *key;             /* Sec-WebSocket-Key value (24 bytes) */
    size_t key_len;
    const char *origin;          /* Origin value, NULL if absent */
    size_t origin_len;
    const char *protocol;        /* first Sec-WebSocket-Protocol value, NULL if absent */
    size_t protocol_len;
    unsigned protocol_count;     /* Sec-WebSocket-Protocol lines (wsc__hs_list_next walks them) */
    const char *extensions;      /* first Sec-WebSocket-Extensions value, NULL if absent */
    size_t extensions_len;
    unsigned extensions_count;   /* how many Sec-WebSocket-Extensions headers */
    size_t header_count;         /* headers stored in headers[] (<= max_headers) */
    size_t header_total;         /* headers in the request (stored or not) */
} wsc__http_request;

/* Prepares r. headers may be NULL when max_headers is 0. max_size 0 means
 * WSC__HS_DEFAULT_REQUEST_MAX. Only the first max_headers headers are stored;
 * the rest are still checked (Host, Upgrade, ... are found whatever max_headers is). */
void wsc__http_request_init(wsc__http_request *r, size_t max_size, wsc__hs_header *headers,
                            size_t max_headers);

/* Parses buf[0..len), everything received so far. Resumes where the previous
 * call stopped. On COMPLETE, r->len bytes form the request (later bytes are the
 * WebSocket stream) and header names in buf are lowercased in place (the only
 * write into buf), so stored names and the iterator are lowercase as in websocket.zig.
 * Calling again after COMPLETE or ERROR returns the same result. */
enum wsc__hs_result wsc__http_request_parse(wsc__http_request *r, char *buf, size_t len);

/* Value of the stored header called name (case-insensitive), or NULL when not
 * stored (always NULL when max_headers was 0). *value_len gets its length. */
const char *wsc__http_request_header(const wsc__http_request *r, const char *name,
                                     size_t *value_len);

/* Iterator over stored headers: the i-th, or NULL when i >= header_count. */
const wsc__hs_header *wsc__http_request_header_at(const wsc__http_request *r, size_t i);

/* Every occurrence of header name (case-insensitive) in a complete, parsed
 * head raw[0..len) (a request's r->raw/r->len or a response's buffer/len),
 * whatever max_headers is. Start with *pos = 0; returns false when no more. */
bool wsc__hs_header_next(const char *raw, size_t len, const char *name, size_t *pos,
                         const char **value, size_t *value_len);

/* True if the comma-separated list[0..len) holds token (case-insensitive,
 * empty elements and SP/HTAB around elements ignored), e.g. Connection values. */
bool wsc__hs_token_list_has(const char *list, size_t len, const char *token);

/* Iterates the elements of every field line called name (case-insensitive) in
 * a complete, parsed head raw[0..len), in order, as one comma-separated list
 * (RFC 9110 5.6.1, 5.3: several lines of a list field are one list): empty
 * elements are skipped, SP/HTAB around each element trimmed. An element is
 * returned as sent (it may not be a token: see wsc__hs_token_valid). Start with
 * *pos = 0; *pos is then an offset into raw. Returns false when no more. */
bool wsc__hs_list_next(const char *raw, size_t len, const char *name, size_t *pos,
                       const char **elem, size_t *elem_len);

/* True if s[0..n) is a non-empty RFC 9110 token (what RFC 6455 4.1 asks of a
 * subprotocol name). */
bool wsc__hs_token_valid(const char *s, size_t n);

/* Looks up query parameter name (exact match after percent-decoding the key) in
 * query[0..query_len) ("a=1&b=x%20y"; '+' decodes to space; "flag" without '='
 * has an empty value). Decodes the first match into out and NUL-terminates it.
 * Returns 1 found (*out_len = decoded length), 0 absent, WSC__HS_EINVAL for a
 * bad percent escape in the value or one that decodes to NUL ("%00": out is a C
 * string, so no value with a NUL inside is handed out), WSC__HS_ENOSPC when
 * out_cap < length + 1 (*out_len = decoded length). */
int wsc__query_get(const char *query, size_t query_len, const char *name, char *out,
                   size_t out_cap, size_t *out_len);

/* 101 Switching Protocols with Sec-WebSocket-Accept computed from the client's
 * key[0..key_len) and the extra headers (e.g. Sec-WebSocket-Protocol,
 * Set-Cookie; names must be tokens, values free of CR, LF, NUL and other
 * controls; Upgrade, Connection, Sec-WebSocket-Accept, Content-Length and
 * Transfer-Encoding are refused since we send or forbid them). Writes into
 * out[0..cap), sets *out_len (on ENOSPC: the size needed; out may be NULL to
 * ask for it). Returns 0, WSC__HS_EINVAL, WSC__HS_ENOSPC or WSC__HS_ECRYPTO. */
int wsc__http_response_101(char *out, size_t cap, size_t *out_len, const char *key,
                           size_t key_len, const wsc__hs_header *extra, size_t n_extra);

/* An error response: status line, Content-Type: text/plain, Content-Length,
 * Connection: close, for 426 also Sec-WebSocket-Version: 13, the extra headers
 * (e.g. WWW-Authenticate; same rules as for the 101, and Content-Type and
 * Sec-WebSocket-Version are ours too), and a short body (body: a NUL-terminated
 * string, NULL = the reason phrase). status must be 200..599.
 * Returns 0, WSC__HS_EINVAL or WSC__HS_ENOSPC, as wsc__http_response_101. */
int wsc__http_response_error(char *out, size_t cap, size_t *out_len, int status,
                             const char *body, const wsc__hs_header *extra, size_t n_extra);

/* True if the application's header h may go into the response with status:
 * 101 for wsc__http_response_101, else wsc__http_response_error. The name must
 * be an RFC 9110 token, the value free of controls but HTAB and of DEL, and
 * the name none that response sets or forbids itself (listed above). The one
 * rule both builders apply to extra headers. */
bool wsc__http_response_header_ok(const wsc__hs_header *h, int status);

/* Reason phrase for status ("Bad Request"...), "Error" when unknown. */
const char *wsc__http_reason(int status);

/* ------------------------------------------------------------- client side */

/* A fresh Sec-WebSocket-Key: 16 bytes from OpenSSL's CSPRNG, base64, NUL.
 * Returns false if the generator fails. */
bool wsc__hs_key_new(char out[25]);

/* Builds the upgrade request:
 *   GET path HTTP/1.1, Host (unless extra already has one), Upgrade: websocket,
 *   Connection: Upgrade, Sec-WebSocket-Key, Sec-WebSocket-Version: 13, extra, CRLF.
 * host: the Host value ("example.com:8080", "[::1]:9224"); may be NULL only if
 * extra has a Host. path: origin-form target ("" means "/"), no SP/controls.
 * key: NUL-terminated 24 chars. extra[0..extra_len): raw header lines
 * separated by CRLF, trailing CRLF optional, may be NULL/0. Rejected with
 * WSC__HS_EINVAL: bare CR or LF, empty lines, lines that are not "name: value",
 * and Upgrade/Connection/Sec-WebSocket-Key/Sec-WebSocket-Version in extra (they
 * would contradict ours), Content-Length and Transfer-Encoding. out may be
 * NULL to ask for the size. Returns 0, WSC__HS_EINVAL or WSC__HS_ENOSPC (*out_len
 * = size needed). */
int wsc__http_request_build(char *out, size_t cap, size_t *out_len, const char *host,
                            const char *path, const char *key, const char *extra,
                            size_t extra_len);

/* Client-side response parser. */
typedef struct {
    size_t max_size;
    char expect[WSC__HS_ACCEPT_LEN + 1]; /* private: the accept value we want */
    wsc__http_scan scan;                 /* private */
    /* out */
    enum wsc__hs_err err;
    int status;                 /* status code, known once the status line is in (also on ERROR) */
    size_t len;                 /* COMPLETE: head bytes (bytes after it are WebSocket frames) */
    const char *protocol;       /* Sec-WebSocket-Protocol value, NULL if absent */
    size_t protocol_len;
    unsigned protocol_count;
    const char *extensions;     /* first Sec-WebSocket-Extensions value, NULL if absent */
    size_t extensions_len;
    unsigned extensions_count;
} wsc__http_response;

/* Prepares r for the answer to a request sent with key (NUL-terminated, 24
 * chars). max_size 0 means WSC__HS_DEFAULT_RESPONSE_MAX. Returns false if the
 * key is invalid or OpenSSL fails (every response then fails the accept check). */
bool wsc__http_response_init(wsc__http_response *r, size_t max_size, const char *key);

/* Parses buf[0..len) (everything received so far). A status other than 101 is
 * reported as ERROR/WSC__HS_E_STATUS as soon as the status line is in. On
 * COMPLETE: 101, Upgrade has "websocket", Connection has "upgrade", the accept
 * value matched; protocol/extensions are captured for the caller to check
 * against what it offered (RFC 6455 4.1); header names in buf are lowercased. */
enum wsc__hs_result wsc__http_response_parse(wsc__http_response *r, char *buf, size_t len);

#endif

/* Lexing shared by the handshake request and response parsers and builders
 * (RFC 9112 message syntax). Internal to src/proto/. */
#ifndef WSC_PROTO_HTTP_LEX_H
#define WSC_PROTO_HTTP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "proto/handshake.h"

/* Drives the scanner over buf[0..len) from where the last call stopped, to the
 * end of the head. The start line (request or status line) is handed to
 * check(ctx, line, n) as soon as it is in, so a wrong method, version or
 * status is refused before the peer sends (or trickles) the rest. Returns
 * WSC__HS_OK with *head_len the head's length (final CRLF included) once the
 * empty line is in, WSC__HS_OK with *head_len 0 while more bytes are needed,
 * else TOO_LARGE, SYNTAX or check's error. */
typedef enum wsc__hs_err (*wsc__http_start_line_fn)(void *ctx, const char *line, size_t n);
enum wsc__hs_err wsc__http_head_scan(wsc__http_scan *s, const char *buf, size_t len, size_t max,
                                     wsc__http_start_line_fn check, void *ctx, size_t *head_len);

/* Iterates over the field lines of a complete, scanned head buf[0..head_len):
 * start with *pos just past the start line's CRLF. Lowercases each name in
 * place (RFC 9110 5.1: names are case-insensitive; lowercase names let lookups
 * compare bytes and show users websocket.zig's names). Returns 1 with *h set, 0 at
 * the empty line, -1 if a line is not a valid field line. */
int wsc__http_field_next(char *buf, size_t head_len, size_t *pos, wsc__hs_header *h);

/* True if the (lowercased) field name of h is the literal lit. */
#define WSC__HTTP_NAME_IS(h, lit)                                                                  \
    ((h)->name_len == sizeof(lit) - 1 && memcmp((h)->name, lit, sizeof(lit) - 1) == 0)

/* RFC 9110 5.6.2 tchar. */
bool wsc__http_tchar(unsigned char c);

/* Splits a header line l[0..n) into a name (a token directly followed by ':')
 * and a value trimmed of SP/HTAB. Checks the value bytes (no controls but HTAB,
 * no DEL). Returns false if the line is not a valid field line. */
bool wsc__http_field_split(const char *l, size_t n, wsc__hs_header *h);

/* ASCII case-insensitive equality of s[0..n) with the C string lc. */
bool wsc__http_ieq(const char *s, size_t n, const char *lc);

/* True if every byte of v[0..n) may appear in a field value we send. */
bool wsc__http_value_ok(const char *v, size_t n);

/* Index of the first CR in s[from..len), or len. */
size_t wsc__http_find_cr(const char *s, size_t from, size_t len);

#endif

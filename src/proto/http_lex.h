/* Lexing shared by the handshake request and response parsers and builders
 * (RFC 9112 message syntax). Internal to src/proto/. */
#ifndef WSC_PROTO_HTTP_LEX_H
#define WSC_PROTO_HTTP_LEX_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/handshake.h"

enum wsc__scan_ev {
    WSC__SCAN_MORE,      /* every byte so far is fine; the head is not finished */
    WSC__SCAN_LINE,      /* a non-empty line buf[*lb .. *le) ended (CRLF excluded) */
    WSC__SCAN_END,       /* the empty line: the head is buf[0 .. *le) (final CRLF included) */
    WSC__SCAN_BAD,       /* a forbidden byte, bare CR/LF or a folded line */
    WSC__SCAN_TOO_LARGE  /* no end of head within max bytes */
};

/* Resumes scanning buf[0..len) at s->scanned and stops at the next event. */
enum wsc__scan_ev wsc__http_scan_next(wsc__http_scan *s, const char *buf, size_t len, size_t max,
                                      size_t *lb, size_t *le);

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

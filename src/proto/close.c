/* Close payloads and codes: RFC 6455 sections 5.5.1 and 7.4. */
#include "proto/close.h"

#include <string.h>

#include "proto/utf8.h"

bool wsc__close_code_valid_on_wire(unsigned code)
{
    /* 7.4.1/7.4.2: 1004 is reserved, 1005 and 1006 are only ever reported locally, 1015 (TLS
       failure) too. 1012 (service restart), 1013 (try again later) and 1014 (bad gateway) were
       registered with IANA after the RFC (its section 11.7 registry) and servers send them; the
       rest of 1016-2999 is reserved for future RFCs. 3000-3999 are IANA-registered and 4000-4999
       private. Anything else on the wire is a protocol error. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int wsc__close_payload_parse(const uint8_t *p, size_t n, unsigned *code, const uint8_t **reason,
                             size_t *reason_len)
{
    unsigned c;

    if (code)
        *code = WSC__CLOSE_NO_STATUS;
    if (reason)
        *reason = NULL;
    if (reason_len)
        *reason_len = 0;
    if (n == 0)
        return 0;
    /* 5.5.1: a body starts with a 2-byte code, so a 1-byte body is malformed; 5.5: control payloads
       never exceed 125 bytes. */
    if (n == 1 || n > 125)
        return WSC__CLOSE_PROTOCOL;
    c = (unsigned)p[0] << 8 | p[1];
    if (!wsc__close_code_valid_on_wire(c))
        return WSC__CLOSE_PROTOCOL;
    /* 5.5.1 + 8.1: the reason is UTF-8; invalid data is 1007 (7.4.1). */
    if (!wsc__utf8_valid(p + 2, n - 2))
        return WSC__CLOSE_INVALID_DATA;
    if (code)
        *code = c;
    if (n > 2) {
        if (reason)
            *reason = p + 2;
        if (reason_len)
            *reason_len = n - 2;
    }
    return 0;
}

/* Longest prefix of r[0..n) that is valid UTF-8 and does not split a code point; r itself is valid.
 */
static size_t utf8_cut(const uint8_t *r, size_t n, size_t max)
{
    if (n <= max)
        return n;
    n = max;
    /* Back off over continuation bytes so the cut lands on a lead byte (at most 3 steps). */
    while (n > 0 && (r[n] & 0xC0u) == 0x80u)
        n--;
    return n;
}

size_t wsc__close_payload_build(uint8_t out[125], unsigned code, const char *reason,
                                size_t reason_len)
{
    const uint8_t *r = (const uint8_t *)reason;
    size_t n;

    if (!wsc__close_code_valid_on_wire(code))
        return 0;
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (!r || reason_len == 0 || !wsc__utf8_valid(r, reason_len))
        return 2;
    n = utf8_cut(r, reason_len, WSC__CLOSE_REASON_MAX);
    memcpy(out + 2, r, n);
    return 2 + n;
}

/* HTTP/1.1 head lexing for the upgrade handshake: RFC 9112 sections 2 and 5. */
#include "proto/http_lex.h"

#include <string.h>

/* RFC 9110 5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
 * "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. */
bool wsc__http_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ctl(unsigned char c)
{
    /* RFC 9112 5.5: field values are VCHAR, obs-text, SP and HTAB; NUL, CR and
       LF in particular have let attackers split one header into two. */
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

bool wsc__http_value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_ctl((unsigned char)v[i]))
            return false;
    return true;
}

enum wsc__scan_ev {
    WSC__SCAN_MORE,      /* every byte so far is fine; the head is not finished */
    WSC__SCAN_LINE,      /* a non-empty line buf[*lb .. *le) ended (CRLF excluded) */
    WSC__SCAN_END,       /* the empty line: the head is buf[0 .. *le) (final CRLF included) */
    WSC__SCAN_BAD,       /* a forbidden byte, bare CR/LF or a folded line */
    WSC__SCAN_TOO_LARGE  /* no end of head within max bytes */
};

/* Resumes scanning buf[0..len) at s->scanned and stops at the next event. */
static enum wsc__scan_ev scan_next(wsc__http_scan *s, const char *buf, size_t len, size_t max,
                                   size_t *lb, size_t *le)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t limit = len < max ? len : max;
    size_t i = s->scanned;
    size_t start = i;

    while (i < limit) {
        unsigned char c = p[i];

        /* Fast path: any byte of a field value or request line other than the
           line terminator and the controls. */
        if (c > 0x20 && c != 0x7f) {
            i++;
            continue;
        }
        if (c == '\r') {
            /* The LF decides between a line end and a bare CR: wait for it
               rather than remember a half-seen terminator. */
            if (i + 1 >= limit)
                break;
            if (p[i + 1] != '\n') {
                s->work += i + 1 - start;
                return WSC__SCAN_BAD;
            }
            *lb = s->line_start;
            *le = i;
            i += 2;
            s->work += i - start;
            s->scanned = i;
            s->line_start = i;
            if (*lb == *le) {
                *le = i;
                return WSC__SCAN_END;
            }
            return WSC__SCAN_LINE;
        }
        /* RFC 9112 5.2: obs-fold (a line starting with whitespace) must be
           rejected or replaced; rejecting keeps one header per line. A bare
           LF (2.2 lets us refuse it) and every other control byte are
           errors too, so the head has exactly one framing rule. */
        if (is_ctl(c) || i == s->line_start) {
            s->work += i + 1 - start;
            return WSC__SCAN_BAD;
        }
        i++;
    }
    s->work += i - start;
    s->scanned = i;
    /* The head, final CRLF included, must fit in max bytes: past that point a
       client is only making us buffer (the 431 of RFC 6585 section 5). */
    if (len >= max)
        return WSC__SCAN_TOO_LARGE;
    return WSC__SCAN_MORE;
}

enum wsc__hs_err wsc__http_head_scan(wsc__http_scan *s, const char *buf, size_t len, size_t max,
                                     wsc__http_start_line_fn check, void *ctx, size_t *head_len)
{
    *head_len = 0;
    for (;;) {
        size_t lb = 0, le = 0;
        switch (scan_next(s, buf, len, max, &lb, &le)) {
        case WSC__SCAN_MORE:
            return WSC__HS_OK;
        case WSC__SCAN_TOO_LARGE:
            return WSC__HS_E_TOO_LARGE;
        case WSC__SCAN_BAD:
            return WSC__HS_E_SYNTAX;
        case WSC__SCAN_LINE:
            /* The pointers check() sets are recomputed when the head ends. */
            if (lb == 0) {
                enum wsc__hs_err e = check(ctx, buf, le);
                if (e != WSC__HS_OK)
                    return e;
            }
            break;
        case WSC__SCAN_END:
            *head_len = le;
            return WSC__HS_OK;
        }
    }
}

static void lowercase(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] + ('a' - 'A'));
}

int wsc__http_field_next(char *buf, size_t head_len, size_t *pos, wsc__hs_header *h)
{
    size_t i = *pos, end;

    if (i >= head_len - 2) /* the final empty line */
        return 0;
    end = wsc__http_find_cr(buf, i, head_len);
    if (!wsc__http_field_split(buf + i, end - i, h))
        return -1;
    lowercase(buf + i, h->name_len);
    *pos = end + 2;
    return 1;
}

bool wsc__http_field_split(const char *l, size_t n, wsc__hs_header *h)
{
    size_t i = 0;

    while (i < n && wsc__http_tchar((unsigned char)l[i]))
        i++;
    /* RFC 9112 5.1: no whitespace between the name and the colon (a server
       must reject it: proxies disagree on what such a name means). */
    if (i == 0 || i == n || l[i] != ':')
        return false;
    h->name = l;
    h->name_len = i;
    i++;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    while (n > i && (l[n - 1] == ' ' || l[n - 1] == '\t'))
        n--;
    if (!wsc__http_value_ok(l + i, n - i))
        return false;
    h->value = l + i;
    h->value_len = n - i;
    return true;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool wsc__http_ieq(const char *s, size_t n, const char *lc)
{
    size_t i = 0;
    for (; i < n; i++)
        if (lc[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)lc[i]))
            return false;
    return lc[i] == '\0';
}

size_t wsc__http_find_cr(const char *s, size_t from, size_t len)
{
    const char *cr;
    if (from >= len)
        return len;
    cr = memchr(s + from, '\r', len - from);
    return cr ? (size_t)(cr - s) : len;
}

bool wsc__hs_token_list_has(const char *list, size_t len, const char *token)
{
    size_t i = 0;

    if (!list)
        return false;
    while (i <= len) {
        size_t b = i, e;
        while (i < len && list[i] != ',')
            i++;
        e = i;
        while (b < e && (list[b] == ' ' || list[b] == '\t'))
            b++;
        while (e > b && (list[e - 1] == ' ' || list[e - 1] == '\t'))
            e--;
        if (e > b && wsc__http_ieq(list + b, e - b, token))
            return true;
        i++;
    }
    return false;
}

bool wsc__hs_header_next(const char *raw, size_t len, const char *name, size_t *pos,
                         const char **value, size_t *value_len)
{
    size_t i = *pos;

    if (!raw)
        return false;
    if (i == 0) /* skip the request or status line */
        i = wsc__http_find_cr(raw, 0, len) + 2;
    while (i < len) {
        size_t e = wsc__http_find_cr(raw, i, len);
        wsc__hs_header h;
        if (e == i || e >= len) /* the empty line ends the head */
            break;
        *pos = e + 2;
        if (wsc__http_field_split(raw + i, e - i, &h) && wsc__http_ieq(h.name, h.name_len, name)) {
            *value = h.value;
            *value_len = h.value_len;
            return true;
        }
        i = e + 2;
    }
    *pos = len;
    return false;
}

bool wsc__hs_token_valid(const char *s, size_t n)
{
    if (!s || n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!wsc__http_tchar((unsigned char)s[i]))
            return false;
    return true;
}

bool wsc__hs_list_next(const char *raw, size_t len, const char *name, size_t *pos,
                       const char **elem, size_t *elem_len)
{
    size_t i = *pos;

    if (!raw || i > len)
        return false;
    for (;;) {
        size_t e;
        /* *pos is either the start of a line (0 for the start line) or just past the element
           returned last, whose last byte is never the LF of a line end. */
        if (i == 0 || raw[i - 1] == '\n') {
            const char *v;
            size_t vlen, p = i;
            if (!wsc__hs_header_next(raw, len, name, &p, &v, &vlen)) {
                *pos = len;
                return false;
            }
            i = (size_t)(v - raw);
            e = i + vlen;
        } else {
            e = wsc__http_find_cr(raw, i, len);
        }
        /* RFC 9110 5.6.1: a recipient ignores empty elements and the whitespace around them. */
        while (i < e) {
            size_t b = i, t;
            while (i < e && raw[i] != ',')
                i++;
            t = i;
            if (i < e)
                i++;
            while (b < t && (raw[b] == ' ' || raw[b] == '\t'))
                b++;
            while (t > b && (raw[t - 1] == ' ' || raw[t - 1] == '\t'))
                t--;
            if (t > b) {
                *elem = raw + b;
                *elem_len = t - b;
                *pos = t;
                return true;
            }
        }
        i = wsc__http_find_cr(raw, e, len) + 2;
        if (i > len) {
            *pos = len;
            return false;
        }
    }
}

const char *wsc__hs_err_str(enum wsc__hs_err e)
{
    switch (e) {
    case WSC__HS_OK: return "ok";
    case WSC__HS_E_TOO_LARGE: return "handshake too large";
    case WSC__HS_E_SYNTAX: return "malformed HTTP";
    case WSC__HS_E_METHOD: return "method is not GET";
    case WSC__HS_E_HTTP_VERSION: return "not HTTP/1.1";
    case WSC__HS_E_TARGET: return "bad request target";
    case WSC__HS_E_HOST: return "Host missing, repeated or invalid";
    case WSC__HS_E_UPGRADE: return "Upgrade is not websocket";
    case WSC__HS_E_CONNECTION: return "Connection has no upgrade token";
    case WSC__HS_E_KEY: return "bad Sec-WebSocket-Key";
    case WSC__HS_E_WS_VERSION: return "Sec-WebSocket-Version is not 13";
    case WSC__HS_E_DUPLICATE: return "header repeated";
    case WSC__HS_E_BODY: return "request has a body";
    case WSC__HS_E_STATUS: return "status is not 101";
    case WSC__HS_E_ACCEPT: return "bad Sec-WebSocket-Accept";
    }
    return "unknown handshake error";
}

int wsc__hs_err_http_status(enum wsc__hs_err e)
{
    switch (e) {
    case WSC__HS_OK: return 0;
    case WSC__HS_E_TOO_LARGE: return 431;
    /* RFC 6455 4.2.2: an unsupported version gets 426 and the versions we speak. */
    case WSC__HS_E_WS_VERSION: return 426;
    default: return 400;
    }
}

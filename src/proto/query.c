/* Query-string parameters of the upgrade request (application/x-www-form-
 * urlencoded as browsers send it: '&'-separated, '+' for space, %XX escapes). */
#include "proto/handshake.h"

#include <string.h>

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the byte at s[*i] and advances *i; -1 on a bad escape. */
static int decode_at(const char *s, size_t n, size_t *i)
{
    unsigned char c = (unsigned char)s[*i];
    if (c == '+') {
        (*i)++;
        return ' ';
    }
    if (c != '%') {
        (*i)++;
        return c;
    }
    if (n - *i < 3 || hexval((unsigned char)s[*i + 1]) < 0 || hexval((unsigned char)s[*i + 2]) < 0)
        return -1;
    c = (unsigned char)(hexval((unsigned char)s[*i + 1]) * 16 + hexval((unsigned char)s[*i + 2]));
    *i += 3;
    return c;
}

/* Compares the decoded form of s[0..n) with name without a scratch buffer. */
static bool decoded_equals(const char *s, size_t n, const char *name)
{
    size_t i = 0, k = 0;
    while (i < n) {
        int c = decode_at(s, n, &i);
        if (c < 0 || name[k] == '\0' || (unsigned char)name[k] != c)
            return false;
        k++;
    }
    return name[k] == '\0';
}

int wsc__query_get(const char *query, size_t query_len, const char *name, char *out,
                   size_t out_cap, size_t *out_len)
{
    size_t i = 0;

    *out_len = 0;
    if (!query || !name)
        return 0;
    while (i < query_len) {
        size_t b = i, eq, e;
        while (i < query_len && query[i] != '&')
            i++;
        e = i++;
        eq = b;
        while (eq < e && query[eq] != '=')
            eq++;
        if (eq == b && e == b) /* "&&" */
            continue;
        if (!decoded_equals(query + b, eq - b, name))
            continue;
        /* First pass: validate and measure, so out is only written when the
           whole value fits. A "%00" is refused: the value is handed out as a
           C string, and one cut short at an embedded NUL could pass a check
           ("token=secret%00junk" compared with strcmp) the whole value fails. */
        size_t v = eq < e ? eq + 1 : e, len = 0;
        for (size_t k = v; k < e; len++)
            if (decode_at(query, e, &k) <= 0)
                return WSC__HS_EINVAL;
        *out_len = len;
        if (!out || out_cap < len + 1)
            return WSC__HS_ENOSPC;
        len = 0;
        for (size_t k = v; k < e;)
            out[len++] = (char)decode_at(query, e, &k);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

/* Host values and URI authorities: RFC 3986 section 3.2.2 (host) and 3.2.3
 * (port), as RFC 9110 7.2 and RFC 9112 3.2 use them. */
#include "proto/handshake.h"

#include <string.h>

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool hexdig(char c)
{
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet, where a
 * dec-octet is 0-255 written without leading zeros. */
static bool ipv4_valid(const char *s, size_t n)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        if (part > 0 && (i >= n || s[i++] != '.'))
            return false;
        size_t b = i;
        unsigned v = 0;
        while (i < n && digit(s[i]) && i - b < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == b || v > 255 || (i - b > 1 && s[b] == '0'))
            return false;
    }
    return i == n;
}

/* IPv6address of RFC 3986: eight h16 pieces (1-4 hex digits) separated by ':',
 * the last two possibly written as an IPv4 address, and at most one "::"
 * standing for one or more zero pieces. */
static bool ipv6_valid(const char *s, size_t n)
{
    size_t i = 0, pieces = 0;
    bool gap = false;

    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        gap = true;
        i = 2;
    }
    while (i < n) {
        size_t b = i;
        while (i < n && hexdig(s[i]))
            i++;
        if (i < n && s[i] == '.') {
            /* ls32 in dotted form: the last thing, worth two pieces. */
            if (!ipv4_valid(s + b, n - b))
                return false;
            pieces += 2;
            break;
        }
        if (i == b || i - b > 4)
            return false;
        pieces++;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
        } else if (i == n) {
            return false; /* a lone trailing ':' */
        }
    }
    return gap ? pieces <= 7 : pieces == 8;
}

/* reg-name = *( unreserved / pct-encoded / sub-delims ); returns how many bytes
 * of s[0..n) form one (stopping at ':' or anything else), or n + 1 on a bad
 * percent escape. */
static size_t reg_name_len(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3 || !hexdig(s[i + 1]) || !hexdig(s[i + 2]))
                return n + 1;
            i += 3;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) ||
                   strchr("-._~!$&'()*+,;=", c) != NULL) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

bool wsc__hs_host_valid(const char *s, size_t n)
{
    size_t i;

    if (!s || n == 0)
        return false;
    if (s[0] == '[') {
        /* IP-literal; IPvFuture and zone identifiers (RFC 6874) are not
           something a WebSocket client puts in a Host. */
        const char *close = memchr(s, ']', n);
        if (!close || !ipv6_valid(s + 1, (size_t)(close - s) - 1))
            return false;
        i = (size_t)(close - s) + 1;
    } else {
        i = reg_name_len(s, n);
        /* RFC 9110 4.2.1: an http(s) URI must not have an empty host, and a
           recipient must reject one. An IPv4 address is a reg-name too. */
        if (i == 0 || i > n)
            return false;
    }
    if (i == n)
        return true;
    if (s[i] != ':')
        return false;
    /* port = *DIGIT (RFC 3986 3.2.3: possibly empty), and a TCP port. */
    unsigned long port = 0;
    for (i++; i < n; i++) {
        if (!digit(s[i]))
            return false;
        port = port * 10 + (unsigned long)(s[i] - '0');
        if (port > 65535)
            return false;
    }
    return true;
}

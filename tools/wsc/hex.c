/* Hex, the form binary messages take on a line (`wsc connect --binary`). */
#include "tool.h"

void hex_print(FILE *f, const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char buf[512];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        buf[n++] = digits[data[i] >> 4];
        buf[n++] = digits[data[i] & 15];
        if (n == sizeof buf) {
            fwrite(buf, 1, n, f);
            n = 0;
        }
    }
    fwrite(buf, 1, n, f);
}

static int digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long hex_decode(uint8_t *out, const char *s, size_t len)
{
    size_t n = 0, i = 0;
    while (i < len) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        int hi = digit(s[i]);
        int lo = i + 1 < len ? digit(s[i + 1]) : -1;
        if (hi < 0 || lo < 0)
            return -1;
        /* out trails s by at least half: writing out[n] never overwrites an unread digit. */
        out[n++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return (long)n;
}

/* Numbers from the command line and the tool's messages. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "tool.h"

void tool_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wsc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool tool_number(const char *s, long long min, long long max, long long *out)
{
    char *end;
    if (!s || !*s)
        return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int tool_not_built(const char *option, const char *what)
{
    tool_error("%s: %s is not supported by this version of wsc", option, what);
    return STATUS_USAGE;
}

/* Error codes and messages: one table (WSC_ERRORS in wsc.h), two lookups. */
#include "util/err.h"

#include <stdio.h>
#include <string.h>

const char *wsc_strerror(int err)
{
    switch (err) {
#define WSC__ERR_MSG(name, value, msg)                                                             \
    case value:                                                                                    \
        return msg;
        WSC_ERRORS(WSC__ERR_MSG)
#undef WSC__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *wsc_err_name(int err)
{
    switch (err) {
#define WSC__ERR_NAME(name, value, msg)                                                            \
    case value:                                                                                    \
        return #name;
        WSC_ERRORS(WSC__ERR_NAME)
#undef WSC__ERR_NAME
    default:
        return "WSC_EUNKNOWN";
    }
}

static void fill(wsc_err *err, int code, const char *fmt, va_list ap) WSC_PRINTF(3, 0);

static void fill(wsc_err *err, int code, const char *fmt, va_list ap)
{
    err->code = code;
    err->sys_errno = 0;
    err->http_status = 0;
    err->close_code = 0;
    if (!fmt) {
        snprintf(err->message, sizeof err->message, "%s", wsc_strerror(code));
        return;
    }
    if (vsnprintf(err->message, sizeof err->message, fmt, ap) < 0)
        snprintf(err->message, sizeof err->message, "%s", wsc_strerror(code));
}

int wsc__err(wsc_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return code;
    va_start(ap, fmt);
    fill(err, code, fmt, ap);
    va_end(ap);
    return code;
}

/* strerror is not thread-safe; strerror_r comes in two flavours (GNU returns a pointer, XSI an int)
 * depending on the C library, and _Generic picks the right handling for whichever this one has. */
static const char *sys_from_int(int rc, const char *buf)
{
    return rc == 0 ? buf : "unknown system error";
}
static const char *sys_from_ptr(const char *p, const char *buf)
{
    (void)buf;
    return p ? p : "unknown system error";
}
#define SYS_MSG(r, buf) _Generic((r), int: sys_from_int, default: sys_from_ptr)((r), (buf))

int wsc__err_sys(wsc_err *err, int code, int sys_errno, const char *fmt, ...)
{
    va_list ap;
    char sysbuf[128];
    size_t n;

    if (!err)
        return code;
    va_start(ap, fmt);
    fill(err, code, fmt, ap);
    va_end(ap);
    err->sys_errno = sys_errno;
    sysbuf[0] = '\0';
    const char *msg = SYS_MSG(strerror_r(sys_errno, sysbuf, sizeof sysbuf), sysbuf);
    n = strlen(err->message);
    if (n < sizeof err->message - 1)
        snprintf(err->message + n, sizeof err->message - n, ": %s", msg);
    return code;
}

/* Error reporting inside wsc: fill a caller's wsc_err and return the code in one statement.
 * The public wsc_strerror/wsc_err_name (generated from WSC_ERRORS in wsc.h) live in err.c. */
#ifndef WSC_UTIL_ERR_H
#define WSC_UTIL_ERR_H

#include "wsc.h"

/* Fills *err (when err is non-NULL) with code and a printf-style message (truncated to fit
 * err->message), clearing sys_errno, http_status and close_code: set those after the call when they
 * apply. Returns code, so a failure path is `return wsc__err(err, WSC_ECONFIG, "max_conn must be ...");`.
 * fmt NULL means wsc_strerror(code). Thread-safety: any thread (err belongs to the caller). */
int wsc__err(wsc_err *err, int code, const char *fmt, ...) WSC_PRINTF(3, 4);

/* Like wsc__err, and also records sys_errno in err->sys_errno and appends ": <strerror(sys_errno)>"
 * to the message (thread-safe strerror_r). Returns code. Thread-safety: any thread. */
int wsc__err_sys(wsc_err *err, int code, int sys_errno, const char *fmt, ...) WSC_PRINTF(4, 5);

#endif

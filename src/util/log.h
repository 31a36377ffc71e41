/* Internal logging. The level lives in one atomic (quiet by default), so a disabled log statement
 * costs one relaxed load and a compare: cheap enough for hot paths. The public wsc_log_set_level and
 * wsc_log_set_handler are in log.c. */
#ifndef WSC_UTIL_LOG_H
#define WSC_UTIL_LOG_H

#include <stdbool.h>

#include "wsc.h"

/* True when messages of this level are currently delivered (never for WSC_LOG_NONE).
 * Thread-safety: any thread (one relaxed atomic load). */
bool wsc__log_enabled(wsc_log_level level);

/* Formats "wsc: <message>" (at most 511 bytes; longer messages are cut and end in "...") and hands it
 * to the handler set with wsc_log_set_handler, or writes it with a newline to standard error. Does
 * nothing (and does not format) when the level is disabled. Thread-safety: any thread; the handler may
 * run concurrently from several threads. */
void wsc__log(wsc_log_level level, const char *fmt, ...) WSC_PRINTF(2, 3);

/* Skips evaluating the arguments when the level is off. */
#define WSC__LOG(level, ...)                                                                       \
    do {                                                                                           \
        if (wsc__log_enabled(level))                                                               \
            wsc__log(level, __VA_ARGS__);                                                          \
    } while (0)

#endif

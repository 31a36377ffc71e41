/* Process-wide logging state. The only global mutable state of wsc besides thread-local PRNGs:
 * - the level: one atomic, read with a relaxed load on every log site (no ordering is needed: a
 *   level change becomes visible "soon", which is all logging promises);
 * - the handler and its user pointer: written together under a mutex and read together under it, so
 *   a handler is never called with another handler's user pointer. They are meant to be set once at
 *   start-up; the mutex only makes a late change safe, it is not held while the handler runs. */
#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static _Atomic int log_level = WSC_LOG_NONE;
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static wsc_log_fn handler_fn;
static void *handler_user;

enum { LOG_LINE_MAX = 512 };

void wsc_log_set_level(wsc_log_level level)
{
    int l = (int)level;

    if (l < WSC_LOG_NONE)
        l = WSC_LOG_NONE;
    if (l > WSC_LOG_DEBUG)
        l = WSC_LOG_DEBUG;
    atomic_store_explicit(&log_level, l, memory_order_relaxed);
}

void wsc_log_set_handler(wsc_log_fn fn, void *user)
{
    pthread_mutex_lock(&handler_lock);
    handler_fn = fn;
    handler_user = user;
    pthread_mutex_unlock(&handler_lock);
}

bool wsc__log_enabled(wsc_log_level level)
{
    return level != WSC_LOG_NONE &&
           (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static const char *level_name(wsc_log_level level)
{
    switch (level) {
    case WSC_LOG_ERROR:
        return "error";
    case WSC_LOG_WARN:
        return "warn";
    case WSC_LOG_INFO:
        return "info";
    case WSC_LOG_DEBUG:
        return "debug";
    default:
        return "?";
    }
}

void wsc__log(wsc_log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    static const char prefix[] = "wsc: ";
    const size_t plen = sizeof prefix - 1;
    va_list ap;
    wsc_log_fn fn;
    void *user;
    int n;

    if (!wsc__log_enabled(level) || !fmt)
        return;
    memcpy(line, prefix, plen);
    va_start(ap, fmt);
    n = vsnprintf(line + plen, sizeof line - plen, fmt, ap);
    va_end(ap);
    if (n < 0)
        line[plen] = '\0';
    else if ((size_t)n >= sizeof line - plen)
        memcpy(line + sizeof line - 4, "...", 4);

    pthread_mutex_lock(&handler_lock);
    fn = handler_fn;
    user = handler_user;
    pthread_mutex_unlock(&handler_lock);
    if (fn)
        fn(level, line, user);
    else
        fprintf(stderr, "%s [%s]\n", line, level_name(level)); /* one call: lines do not interleave */
}

/* Which thread owns a connection's parse state, checked in debug and sanitizer builds.
 *
 * The parse state (the fields marked [owner] in conn.h) has exactly one owner at a time, and moves
 * between threads only at two points, both of which publish through a lock or an atomic:
 *
 *   loop thread --wsc__owner_give, then submit--> handler-pool queue
 *   pool thread --wsc__owner_take ... wsc__owner_give, then the DONE request--> loop inbox
 *   loop thread --wsc__owner_take on DONE--> loop thread again
 *
 * In between nobody owns it (the connection is queued, or its DONE is in flight), and a thread that
 * touches it anyway is a bug: in checked builds wsc__owner_check aborts at once with both threads
 * named, instead of a rare duplicated or lost message in production. Release builds compile the
 * checks away and the field does not exist. */
#ifndef WSC_CONN_OWNER_H
#define WSC_CONN_OWNER_H

#if defined(WSC_DEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WSC__CHECK_OWNER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WSC__CHECK_OWNER 1
#endif
#endif
#ifndef WSC__CHECK_OWNER
#define WSC__CHECK_OWNER 0
#endif

#if WSC__CHECK_OWNER
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* 0: nobody (queued for the pool, or handed back and not taken yet). */
typedef _Atomic uintptr_t wsc__owner;

static inline uintptr_t wsc__owner_self(void)
{
    return (uintptr_t)pthread_self();
}

static inline void wsc__owner_fail(const char *what, uintptr_t found, const char *where)
{
    fprintf(stderr, "wsc: %s: connection parse state %s (owner %#lx, this thread %#lx)\n", where,
            what, (unsigned long)found, (unsigned long)wsc__owner_self());
    abort();
}

/* The calling thread must own the state. */
static inline void wsc__owner_check_at(wsc__owner *o, const char *where)
{
    uintptr_t found = atomic_load_explicit(o, memory_order_relaxed);
    if (found != wsc__owner_self())
        wsc__owner_fail("touched by a thread that does not own it", found, where);
}

/* The calling thread becomes the owner; nobody may own the state before. */
static inline void wsc__owner_take_at(wsc__owner *o, const char *where)
{
    uintptr_t found = atomic_load_explicit(o, memory_order_relaxed);
    if (found != 0)
        wsc__owner_fail("taken while another thread owns it", found, where);
    atomic_store_explicit(o, wsc__owner_self(), memory_order_relaxed);
}

/* The owner lets go, before it publishes the hand-off. */
static inline void wsc__owner_give_at(wsc__owner *o, const char *where)
{
    wsc__owner_check_at(o, where);
    atomic_store_explicit(o, 0, memory_order_relaxed);
}

#define WSC__OWNER_FIELD wsc__owner owner;
#define wsc__owner_check(c) wsc__owner_check_at(&(c)->owner, __func__)
#define wsc__owner_take(c) wsc__owner_take_at(&(c)->owner, __func__)
#define wsc__owner_give(c) wsc__owner_give_at(&(c)->owner, __func__)
#else
#define WSC__OWNER_FIELD
#define wsc__owner_check(c) ((void)(c))
#define wsc__owner_take(c) ((void)(c))
#define wsc__owner_give(c) ((void)(c))
#endif

#endif

/* A 4-byte mutex on a futex word, for per-connection write exclusion.
 *
 * Why not pthread_mutex_t: it is 40 bytes, and one lives in every connection; the target is a few
 * hundred bytes per idle connection in all. Uncontended lock and unlock are one atomic each, like a
 * pthread mutex; a contended waiter sleeps in the kernel (no spinning: two cores are shared). */
#ifndef WSC_IO_LOCK_H
#define WSC_IO_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    _Atomic uint32_t word; /* 0 free, 1 held, 2 held with (possible) waiters */
} wsc__lock;

#define WSC__LOCK_INIT {0}

void wsc__lock_slow(wsc__lock *l);
void wsc__unlock_wake(wsc__lock *l);

/* Thread-safety: any thread; not recursive. */
static inline void wsc__lock_acquire(wsc__lock *l)
{
    uint32_t expect = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->word, &expect, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        wsc__lock_slow(l);
}

static inline void wsc__lock_release(wsc__lock *l)
{
    if (atomic_fetch_sub_explicit(&l->word, 1, memory_order_release) != 1)
        wsc__unlock_wake(l);
}

#endif

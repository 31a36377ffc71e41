/* Futex mutex slow paths (the three-state algorithm of Drepper's "Futexes Are Tricky"). */
#include "io/lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex(_Atomic uint32_t *word, int op, uint32_t val)
{
    syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void wsc__lock_slow(wsc__lock *l)
{
    /* Mark the lock contended before sleeping, so the holder's release knows to wake someone. */
    uint32_t c = atomic_exchange_explicit(&l->word, 2, memory_order_acquire);
    while (c != 0) {
        futex(&l->word, FUTEX_WAIT, 2);
        c = atomic_exchange_explicit(&l->word, 2, memory_order_acquire);
    }
}

void wsc__unlock_wake(wsc__lock *l)
{
    atomic_store_explicit(&l->word, 0, memory_order_release);
    futex(&l->word, FUTEX_WAKE, 1);
}

/* Heap memory for buffers that socket data is read into and sent from.
 *
 * Buffers of WSC__IOBUF_PLACED_MIN bytes or more start half a page past a page boundary. Why: on
 * x86 CPUs with fast short `rep movsb` (measured on this project's AMD EPYC machines) the kernel's
 * copies between a socket's pages and ours run 3-7 times slower when the destination lies 1-15
 * bytes past the source, counted modulo 4 KiB (and a little slower up to 31). The kernel fills its
 * socket pages from their start and moves on by what is sent, and frame headers move our payloads
 * by a few bytes: with ours at page offset 0 or malloc's 16, a run of round-sized messages (64 KiB,
 * 16 KiB...) keeps landing in that window. Half a page keeps the common cases 2 KiB away from it
 * on both sides. (`bench/copy_phase` measures the effect on the machine at hand.)
 *
 * Which way a buffer was allocated is decided by its size alone, so every free and resize must be
 * given the size it was allocated with. */
#ifndef WSC_MEM_IOBUF_H
#define WSC_MEM_IOBUF_H

#include <stddef.h>

enum {
    WSC__IOBUF_PLACED_MIN = 16 * 1024,
    WSC__IOBUF_PAGE = 4096,
    WSC__IOBUF_PHASE = WSC__IOBUF_PAGE / 2,
};

/* cap bytes (at least 1), or NULL when out of memory. 16-byte aligned; at WSC__IOBUF_PHASE past a
 * page boundary when cap >= WSC__IOBUF_PLACED_MIN. Thread-safety: any thread. */
void *wsc__iobuf_alloc(size_t cap);

/* Frees p (NULL is fine), allocated with this cap. Thread-safety: any thread. */
void wsc__iobuf_free(void *p, size_t cap);

/* Moves p's first keep bytes (keep <= cap and keep <= new_cap) into a buffer of new_cap bytes and
 * returns it (p may be NULL with cap 0). On failure returns NULL and p is untouched. */
void *wsc__iobuf_resize(void *p, size_t cap, size_t keep, size_t new_cap);

#endif

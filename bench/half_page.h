/* Buffers for the benchmark programs, placed as the library places its own large I/O buffers:
 * half a page past a page boundary (src/mem/iobuf.h says why: on some x86 CPUs the kernel's copies
 * between socket pages and a buffer a few bytes past them, modulo 4 KiB, run several times slower).
 * The ceiling and the load generator get the same placement, so that no figure carries the
 * artifact for one server and not for another. */
#ifndef BENCH_HALF_PAGE_H
#define BENCH_HALF_PAGE_H

#include <stdlib.h>

enum { HALF_PAGE_PAGE = 4096, HALF_PAGE_OFFSET = HALF_PAGE_PAGE / 2 };

static inline void *half_page_alloc(size_t n)
{
    void *base = NULL;
    if (posix_memalign(&base, HALF_PAGE_PAGE, HALF_PAGE_OFFSET + n) != 0)
        return NULL;
    return (unsigned char *)base + HALF_PAGE_OFFSET;
}

static inline void half_page_free(void *p)
{
    if (p)
        free((unsigned char *)p - HALF_PAGE_OFFSET);
}

#endif

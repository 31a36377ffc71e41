/* Per-callback arena: bump allocation in the kept first block, then in heap blocks that double in
 * size, so a callback that allocates n bytes in total makes O(log n) heap allocations. */
#include "mem/arena.h"

#include <stdlib.h>
#include <string.h>

enum {
    ARENA_ALIGN = 16,        /* what malloc guarantees on 64-bit targets; enough for any scalar */
    ARENA_MIN_BLOCK = 4096,
};

struct wsc__arena_block {
    struct wsc__arena_block *prev;
    size_t cap;
};

/* The bytes of a block start after its header, rounded up to the alignment. */
#define BLOCK_HDR ((sizeof(struct wsc__arena_block) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)

void wsc__arena_init(wsc_arena *a, size_t first_block_size)
{
    memset(a, 0, sizeof *a);
    a->first_size = first_block_size;
    a->next_block = first_block_size > ARENA_MIN_BLOCK ? first_block_size : ARENA_MIN_BLOCK;
}

/* Aligns by address, not by offset, so the result does not depend on what the block allocator
 * guarantees. Returns NULL when size does not fit the current region. */
static void *bump(wsc_arena *a, size_t size)
{
    uintptr_t start, at;
    size_t off;

    if (!a->cur)
        return NULL;
    start = (uintptr_t)a->cur;
    at = (start + a->cur_used + (ARENA_ALIGN - 1)) & ~(uintptr_t)(ARENA_ALIGN - 1);
    off = (size_t)(at - start);
    if (off > a->cur_cap || size > a->cur_cap - off)
        return NULL;
    a->cur_used = off + size;
    return a->cur + off;
}

static void *new_block(wsc_arena *a, size_t size)
{
    struct wsc__arena_block *blk;
    size_t cap = a->next_block;

    /* Room for the request plus worst-case alignment padding. */
    if (size > SIZE_MAX - BLOCK_HDR - ARENA_ALIGN)
        return NULL;
    if (cap < size + ARENA_ALIGN)
        cap = size + ARENA_ALIGN;
    blk = malloc(BLOCK_HDR + cap);
    if (!blk)
        return NULL;
    blk->prev = a->heap;
    blk->cap = cap;
    a->heap = blk;
    a->cur = (uint8_t *)blk + BLOCK_HDR;
    a->cur_cap = cap;
    a->cur_used = 0;
    if (cap <= SIZE_MAX / 4)
        a->next_block = cap * 2;
    return bump(a, size);
}

void *wsc_arena_alloc(wsc_arena *a, size_t size)
{
    void *p;

    if (!a)
        return NULL;
    if ((p = bump(a, size)))
        return p;
    if (!a->first && !a->heap && a->first_size) {
        /* Lazily: a handler thread that never allocates never pays for its block. On failure the
         * heap blocks take over. */
        a->first = malloc(a->first_size);
        if (a->first) {
            a->cur = a->first;
            a->cur_cap = a->first_size;
            a->cur_used = 0;
            if ((p = bump(a, size)))
                return p;
        }
    }
    return new_block(a, size);
}

void wsc__arena_reset_used(wsc_arena *a)
{
    struct wsc__arena_block *blk = a->heap;

    while (blk) {
        struct wsc__arena_block *prev = blk->prev;
        free(blk);
        blk = prev;
    }
    a->heap = NULL;
    a->cur = a->first;
    a->cur_cap = a->first ? a->first_size : 0;
    a->cur_used = 0;
    a->next_block = a->first_size > ARENA_MIN_BLOCK ? a->first_size : ARENA_MIN_BLOCK;
}

void wsc__arena_destroy(wsc_arena *a)
{
    size_t first_size = a->first_size;

    wsc__arena_reset_used(a);
    free(a->first);
    wsc__arena_init(a, first_size);
}

size_t wsc__arena_heap_bytes(const wsc_arena *a)
{
    size_t n = 0;

    for (const struct wsc__arena_block *blk = a->heap; blk; blk = blk->prev)
        n += blk->cap;
    return n;
}

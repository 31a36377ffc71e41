/* The per-callback arena: alignment, first block kept across resets, geometric heap blocks. */
#include "mem/arena.h"
#include "../test.h"

TEST(arena_alignment_and_first_block)
{
    wsc_arena a;
    wsc__arena_init(&a, 1024);
    EXPECT(a.first == NULL); /* lazily allocated */
    uint8_t *prev = NULL;
    for (size_t sz = 1; sz < 40; sz += 3) {
        uint8_t *p = wsc_arena_alloc(&a, sz);
        CHECK(p != NULL);
        CHECK(((uintptr_t)p & 15) == 0);
        memset(p, 0xab, sz);
        if (prev)
            CHECK(p > prev);
        prev = p;
    }
    EXPECT(a.first != NULL);
    EXPECT_EQ_INT(wsc__arena_heap_bytes(&a), 0);
    uint8_t *first = a.first;
    wsc__arena_reset(&a);
    uint8_t *p = wsc_arena_alloc(&a, 8);
    EXPECT(p == first); /* the same block again: no allocation in the common case */
    wsc__arena_destroy(&a);
}

TEST(arena_heap_blocks_grow_and_reset_frees_them)
{
    wsc_arena a;
    wsc__arena_init(&a, 256);
    void *ptrs[200];
    for (int i = 0; i < 200; i++) {
        ptrs[i] = wsc_arena_alloc(&a, 1000);
        CHECK(ptrs[i] != NULL);
        CHECK(((uintptr_t)ptrs[i] & 15) == 0);
        memset(ptrs[i], i, 1000);
    }
    for (int i = 0; i < 200; i++)
        CHECK(((uint8_t *)ptrs[i])[999] == (uint8_t)i); /* no overlap */
    size_t heap = wsc__arena_heap_bytes(&a);
    EXPECT(heap >= 200 * 1000);
    EXPECT(heap < 4 * 200 * 1000); /* doubling wastes at most about half */
    wsc__arena_reset(&a);
    EXPECT_EQ_INT(wsc__arena_heap_bytes(&a), 0);
    EXPECT(a.heap == NULL);
    wsc__arena_destroy(&a);
}

TEST(arena_big_allocation_and_zero_and_overflow)
{
    wsc_arena a;
    wsc__arena_init(&a, 64);
    uint8_t *big = wsc_arena_alloc(&a, 1 << 20);
    CHECK(big != NULL);
    CHECK(((uintptr_t)big & 15) == 0);
    memset(big, 1, 1 << 20);
    void *z1 = wsc_arena_alloc(&a, 0);
    void *z2 = wsc_arena_alloc(&a, 0);
    EXPECT(z1 != NULL && z2 != NULL);
    EXPECT(wsc_arena_alloc(&a, SIZE_MAX) == NULL);
    EXPECT(wsc_arena_alloc(&a, SIZE_MAX - 8) == NULL);
    EXPECT(wsc_arena_alloc(NULL, 8) == NULL);
    uint8_t *after = wsc_arena_alloc(&a, 32);
    CHECK(after != NULL);
    memset(after, 2, 32);
    wsc__arena_destroy(&a);
    /* Destroyed arenas can be used again (re-initialised with the same first size). */
    void *again = wsc_arena_alloc(&a, 16);
    EXPECT(again != NULL);
    wsc__arena_destroy(&a);
}

TEST(arena_no_first_block)
{
    wsc_arena a;
    wsc__arena_init(&a, 0);
    for (int i = 0; i < 100; i++) {
        char *p = wsc_arena_alloc(&a, 100);
        CHECK(p != NULL);
        memset(p, 'x', 100);
    }
    EXPECT(a.first == NULL);
    EXPECT(wsc__arena_heap_bytes(&a) >= 100 * 100);
    wsc__arena_reset(&a);
    wsc__arena_destroy(&a);
}

TEST(arena_many_reset_cycles)
{
    wsc_arena a;
    wsc__arena_init(&a, 4096);
    for (int cycle = 0; cycle < 100; cycle++) {
        for (int i = 0; i < 20; i++) {
            size_t n = (size_t)(cycle * 37 + i * 101) % 3000 + 1;
            uint8_t *p = wsc_arena_alloc(&a, n);
            CHECK(p != NULL);
            memset(p, cycle, n);
        }
        wsc__arena_reset(&a);
    }
    wsc__arena_destroy(&a);
}

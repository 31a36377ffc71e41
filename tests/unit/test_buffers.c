/* The server's small/large buffer policy with heap fallback. */
#include "mem/buffers.h"
#include "mem/iobuf.h"
#include "mem/pool.h"
#include "../test.h"
#include "wsc.h"

static void fill_check(wsc__buf *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b->data[i] = (uint8_t)(seed + i * 7);
}

static bool same(const wsc__buf *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (b->data[i] != (uint8_t)(seed + i * 7))
            return false;
    return true;
}

TEST(buffers_small_pool_then_heap_when_drained)
{
    wsc__buffers *b = wsc__buffers_new(2, 1000, 1, 4000);
    wsc__buf x, y, z;
    CHECK(b != NULL);
    CHECK_EQ_INT(wsc__buffers_get(b, 10, &x), 0);
    CHECK_EQ_INT(wsc__buffers_get(b, 1000, &y), 0);
    EXPECT(wsc__buffers_pooled(b, &x) && wsc__buffers_pooled(b, &y));
    EXPECT_EQ_INT(x.cap, 1000);
    EXPECT_EQ_INT(y.cap, 1000);
    /* Drained: a dedicated heap buffer of small_size (rounded), never a large pooled one. */
    CHECK_EQ_INT(wsc__buffers_get(b, 5, &z), 0);
    EXPECT(!wsc__buffers_pooled(b, &z));
    EXPECT(z.cap >= 1000);
    fill_check(&z, z.cap, 3);
    wsc__buffers_put(b, &z);
    EXPECT(z.data == NULL && z.cap == 0);
    wsc__buffers_put(b, &x);
    CHECK_EQ_INT(wsc__buffers_get(b, 1, &z), 0);
    EXPECT(wsc__buffers_pooled(b, &z)); /* back in the pool */
    wsc__buffers_put(b, &z);
    wsc__buffers_put(b, &y);
    wsc__buffers_put(b, &y); /* NULL data: no-op */
    wsc__buffers_free(b);
}

TEST(buffers_no_small_pool_dedicated_heap)
{
    wsc__buffers *b = wsc__buffers_new(0, 2048, 8, 4096);
    wsc__buf x;
    CHECK(b != NULL);
    CHECK_EQ_INT(wsc__buffers_get(b, 100, &x), 0);
    EXPECT(!wsc__buffers_pooled(b, &x));
    EXPECT_EQ_INT(x.cap, 2048);
    fill_check(&x, x.cap, 1);
    wsc__buffers_put(b, &x);
    CHECK_EQ_INT(wsc__buffers_get(b, 0, &x), 0);
    EXPECT(x.data != NULL && x.cap >= 2048);
    wsc__buffers_put(b, &x);
    EXPECT_EQ_INT(wsc__buffers_small_size(b), 2048);
    EXPECT_EQ_INT(wsc__buffers_large_size(b), 4096);
    wsc__buffers_free(b);
}

TEST(buffers_large_pool_then_heap)
{
    wsc__buffers *b = wsc__buffers_new(0, 100, 1, 1000);
    wsc__buf l1, l2, h;
    CHECK(b != NULL);
    CHECK_EQ_INT(wsc__buffers_get(b, 101, &l1), 0);
    EXPECT(wsc__buffers_pooled(b, &l1));
    EXPECT_EQ_INT(l1.cap, 1000);
    CHECK_EQ_INT(wsc__buffers_get(b, 500, &l2), 0); /* large pool drained: heap, exact-ish size */
    EXPECT(!wsc__buffers_pooled(b, &l2));
    EXPECT(l2.cap >= 500 && l2.cap < 500 + 64);
    CHECK_EQ_INT(wsc__buffers_get(b, 100000, &h), 0); /* over large_size: heap */
    EXPECT(!wsc__buffers_pooled(b, &h));
    EXPECT(h.cap >= 100000 && h.cap < 100000 + 64);
    fill_check(&h, h.cap, 9);
    wsc__buffers_put(b, &l1);
    wsc__buffers_put(b, &l2);
    wsc__buffers_put(b, &h);
    wsc__buffers_free(b);
}

TEST(buffers_grow_keeps_bytes_small_to_large_to_heap)
{
    wsc__buffers *b = wsc__buffers_new(1, 128, 1, 1024);
    wsc__buf x;
    CHECK(b != NULL);
    CHECK_EQ_INT(wsc__buffers_get(b, 64, &x), 0);
    CHECK(wsc__buffers_pooled(b, &x));
    fill_check(&x, 100, 5);
    CHECK_EQ_INT(wsc__buffers_grow(b, &x, 100, 100), 0); /* fits: unchanged */
    EXPECT_EQ_INT(x.cap, 128);
    CHECK_EQ_INT(wsc__buffers_grow(b, &x, 600, 100), 0); /* small -> large */
    EXPECT(wsc__buffers_pooled(b, &x));
    EXPECT_EQ_INT(x.cap, 1024);
    EXPECT(same(&x, 100, 5));
    fill_check(&x, 1000, 6);
    CHECK_EQ_INT(wsc__buffers_grow(b, &x, 5000, 1000), 0); /* large -> heap */
    EXPECT(!wsc__buffers_pooled(b, &x));
    EXPECT(x.cap >= 5000);
    EXPECT(same(&x, 1000, 6));
    /* The small and large buffers went back to their pools. */
    wsc__buf s, l;
    CHECK_EQ_INT(wsc__buffers_get(b, 1, &s), 0);
    CHECK_EQ_INT(wsc__buffers_get(b, 1000, &l), 0);
    EXPECT(wsc__buffers_pooled(b, &s) && wsc__buffers_pooled(b, &l));
    wsc__buffers_put(b, &s);
    wsc__buffers_put(b, &l);
    wsc__buffers_put(b, &x);
    wsc__buffers_free(b);
}

TEST(buffers_heap_growth_is_geometric)
{
    wsc__buffers *b = wsc__buffers_new(0, 64, 0, 0);
    wsc__buf x = {0};
    int moves = 0;
    size_t last_cap = 0;
    CHECK(b != NULL);
    /* A message arriving 100 bytes at a time up to 1 MB: few reallocations, bytes kept. */
    for (size_t n = 100; n <= 1000000; n += 100) {
        CHECK_EQ_INT(wsc__buffers_grow(b, &x, n, n - 100), 0);
        if (x.cap != last_cap)
            moves++;
        last_cap = x.cap;
        fill_check(&x, 0, 0);
        x.data[n - 1] = (uint8_t)n;
        if (n >= 200)
            CHECK(x.data[n - 101] == (uint8_t)(n - 100));
    }
    EXPECT(moves < 40);
    EXPECT(x.cap < 1000000 + 1000000 / 2 + 64);
    wsc__buffers_put(b, &x);
    wsc__buffers_free(b);
}

TEST(buffers_grow_from_empty_and_overflow)
{
    wsc__buffers *b = wsc__buffers_new(1, 256, 1, 512);
    wsc__buf x = {0};
    CHECK(b != NULL);
    CHECK_EQ_INT(wsc__buffers_grow(b, &x, 10, 0), 0);
    EXPECT(wsc__buffers_pooled(b, &x));
    wsc__buf y = x;
    EXPECT_EQ_INT(wsc__buffers_grow(b, &y, SIZE_MAX, 10), WSC_ENOMEM);
    EXPECT(y.data == x.data && y.cap == x.cap); /* unchanged on failure */
    wsc__buf z;
    EXPECT_EQ_INT(wsc__buffers_get(b, SIZE_MAX - 10, &z), WSC_ENOMEM);
    EXPECT(z.data == NULL);
    wsc__buffers_put(b, &x);
    wsc__buffers_free(b);
    wsc__buffers_free(NULL);
}

/* ---- placement of large buffers (mem/iobuf.h) ---- */

static size_t page_offset(const void *p)
{
    return (uintptr_t)p % WSC__IOBUF_PAGE;
}

TEST(iobuf_places_large_buffers_half_a_page_in)
{
    uint8_t *small = wsc__iobuf_alloc(WSC__IOBUF_PLACED_MIN - 1);
    uint8_t *large = wsc__iobuf_alloc(WSC__IOBUF_PLACED_MIN);
    uint8_t *huge = wsc__iobuf_alloc(3u << 20);
    CHECK(small && large && huge);
    EXPECT(page_offset(small) % 16 == 0);
    EXPECT_EQ_INT(page_offset(large), WSC__IOBUF_PHASE);
    EXPECT_EQ_INT(page_offset(huge), WSC__IOBUF_PHASE);
    /* The whole capacity is usable (AddressSanitizer checks the ends). */
    memset(small, 1, WSC__IOBUF_PLACED_MIN - 1);
    memset(large, 2, WSC__IOBUF_PLACED_MIN);
    memset(huge, 3, 3u << 20);
    wsc__iobuf_free(small, WSC__IOBUF_PLACED_MIN - 1);
    wsc__iobuf_free(large, WSC__IOBUF_PLACED_MIN);
    wsc__iobuf_free(huge, 3u << 20);
    wsc__iobuf_free(NULL, 1 << 20);
    uint8_t *one = wsc__iobuf_alloc(0);
    CHECK(one != NULL);
    wsc__iobuf_free(one, 0);
}

TEST(iobuf_resize_keeps_bytes_across_the_threshold)
{
    static const size_t caps[] = {100, 16383, 16384, 70000, 1000, 200000, 64};
    size_t cap = 0, keep = 0;
    uint8_t *p = NULL;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0] && TEST_OK(); i++) {
        size_t next = caps[i];
        if (keep > next)
            keep = next;
        uint8_t *q = wsc__iobuf_resize(p, cap, keep, next);
        CHECK(q != NULL);
        for (size_t k = 0; k < keep; k++)
            if (q[k] != (uint8_t)(k * 13 + 1)) {
                fprintf(stderr, "  byte %zu lost growing %zu -> %zu\n", k, cap, next);
                EXPECT(0);
                break;
            }
        if (next >= WSC__IOBUF_PLACED_MIN)
            EXPECT_EQ_INT(page_offset(q), WSC__IOBUF_PHASE);
        for (size_t k = 0; k < next; k++)
            q[k] = (uint8_t)(k * 13 + 1);
        p = q;
        cap = keep = next;
    }
    wsc__iobuf_free(p, cap);
}

TEST(buffers_large_heap_and_pooled_buffers_are_placed)
{
    wsc__buffers *b = wsc__buffers_new(0, 2048, 2, 32768);
    wsc__buf x = {0}, y = {0}, z = {0}, h = {0};
    CHECK(b != NULL);
    CHECK_EQ_INT(wsc__buffers_get(b, 20000, &x), 0);
    CHECK_EQ_INT(wsc__buffers_get(b, 32768, &y), 0);
    EXPECT(wsc__buffers_pooled(b, &x) && wsc__buffers_pooled(b, &y));
    EXPECT_EQ_INT(page_offset(x.data), WSC__IOBUF_PHASE);
    EXPECT_EQ_INT(page_offset(y.data), WSC__IOBUF_PHASE);
    /* Pool drained: the heap, placed the same way; growing keeps the bytes and the placement. */
    CHECK_EQ_INT(wsc__buffers_get(b, 20000, &z), 0);
    EXPECT(!wsc__buffers_pooled(b, &z));
    EXPECT_EQ_INT(page_offset(z.data), WSC__IOBUF_PHASE);
    fill_check(&z, 20000, 9);
    CHECK_EQ_INT(wsc__buffers_grow(b, &z, 100000, 20000), 0);
    EXPECT(same(&z, 20000, 9));
    EXPECT_EQ_INT(page_offset(z.data), WSC__IOBUF_PHASE);
    /* A dedicated small buffer (heap, not placed) growing into a large one. */
    CHECK_EQ_INT(wsc__buffers_get(b, 100, &h), 0);
    fill_check(&h, 2048, 4);
    CHECK_EQ_INT(wsc__buffers_grow(b, &h, 50000, 2048), 0);
    EXPECT(same(&h, 2048, 4));
    EXPECT_EQ_INT(page_offset(h.data), WSC__IOBUF_PHASE);
    wsc__buffers_put(b, &x);
    wsc__buffers_put(b, &y);
    wsc__buffers_put(b, &z);
    wsc__buffers_put(b, &h);
    wsc__buffers_free(b);
}

TEST(pool_of_large_buffers_places_every_one)
{
    wsc__pool *p = wsc__pool_new(5, 20000);
    void *got[5];
    CHECK(p != NULL);
    for (int i = 0; i < 5; i++) {
        got[i] = wsc__pool_get(p);
        CHECK(got[i] != NULL);
        EXPECT_EQ_INT(page_offset(got[i]), WSC__IOBUF_PHASE);
        memset(got[i], i, 20000);
        EXPECT(wsc__pool_owns(p, got[i]));
    }
    EXPECT(wsc__pool_get(p) == NULL);
    for (int i = 0; i < 5; i++)
        wsc__pool_put(p, got[i]);
    EXPECT_EQ_INT(wsc__pool_available(p), 5);
    wsc__pool_free(p);
}

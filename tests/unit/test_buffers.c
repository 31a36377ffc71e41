/* The server's small/large buffer policy with heap fallback. */
#include "mem/buffers.h"
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

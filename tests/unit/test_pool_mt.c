/* The buffer pool: single-thread rules, then threads hammering get/put (also run under TSan). */
#include <pthread.h>
#include <stdatomic.h>

#include "mem/pool.h"
#include "../test.h"

TEST(pool_empty_count_zero)
{
    wsc__pool *p = wsc__pool_new(0, 128);
    CHECK(p != NULL);
    EXPECT(wsc__pool_get(p) == NULL);
    EXPECT(wsc__pool_available(p) == 0);
    EXPECT(!wsc__pool_owns(p, p));
    EXPECT_EQ_INT(wsc__pool_buf_size(p), 128);
    wsc__pool_free(p);
    wsc__pool_free(NULL);
}

TEST(pool_drain_refill_alignment_owns)
{
    enum { N = 7, SZ = 100 };
    void *got[N];
    wsc__pool *p = wsc__pool_new(N, SZ);
    CHECK(p != NULL);
    CHECK_EQ_INT(wsc__pool_available(p), N);
    for (int i = 0; i < N; i++) {
        got[i] = wsc__pool_get(p);
        CHECK(got[i] != NULL);
        CHECK(((uintptr_t)got[i] & 63) == 0);
        CHECK(wsc__pool_owns(p, got[i]));
        EXPECT(!wsc__pool_owns(p, (uint8_t *)got[i] + 1));
        memset(got[i], i, SZ); /* whole buffer writable (ASan) */
        for (int j = 0; j < i; j++)
            CHECK(got[i] != got[j]);
    }
    EXPECT(wsc__pool_get(p) == NULL);
    EXPECT_EQ_INT(wsc__pool_available(p), 0);
    for (int i = 0; i < N; i++) {
        const uint8_t *b = got[i];
        for (int k = 0; k < SZ; k++)
            CHECK(b[k] == (uint8_t)i); /* buffers do not overlap */
    }
    for (int i = N - 1; i >= 0; i--)
        wsc__pool_put(p, got[i]);
    CHECK_EQ_INT(wsc__pool_available(p), N);
    /* LIFO: the last put comes back first (warm in cache). */
    void *again = wsc__pool_get(p);
    EXPECT(again == got[0]);
    wsc__pool_put(p, again);
    int x;
    EXPECT(!wsc__pool_owns(p, &x));
    EXPECT(!wsc__pool_owns(p, NULL));
    EXPECT(!wsc__pool_owns(NULL, got[0]));
    wsc__pool_free(p);
}

TEST(pool_size_zero_and_overflow)
{
    wsc__pool *p = wsc__pool_new(2, 0);
    CHECK(p != NULL);
    void *a = wsc__pool_get(p);
    CHECK(a != NULL);
    wsc__pool_put(p, a);
    wsc__pool_free(p);
    EXPECT(wsc__pool_new(SIZE_MAX / 2, SIZE_MAX / 2) == NULL);
    EXPECT(wsc__pool_new((size_t)1 << 33, 64) == NULL);
}

enum { THREADS = 8, HOLD = 3, POOL_N = 16, BUF_SZ = 256, ITERS = 20000 };

struct hammer {
    wsc__pool *p;
    int id;
    long gets, misses;
    int bad;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    void *held[HOLD];
    unsigned seed = (unsigned)h->id * 2654435761u + 1;

    for (int it = 0; it < ITERS && !h->bad; it++) {
        int n = 0;
        seed = seed * 1103515245u + 12345u;
        int want = 1 + (int)((seed >> 16) % HOLD);
        for (int k = 0; k < want; k++) {
            uint8_t *b = wsc__pool_get(h->p);
            if (!b) {
                h->misses++;
                continue;
            }
            h->gets++;
            /* Stamp the whole buffer: a buffer handed to two threads at once shows up below. */
            memset(b, h->id + 1 + k * THREADS, BUF_SZ);
            held[n++] = b;
        }
        for (int k = 0; k < n; k++) {
            const uint8_t *b = held[k];
            uint8_t v = b[0];
            for (int i = 1; i < BUF_SZ; i++)
                if (b[i] != v)
                    h->bad = 1;
            if ((v - 1) % THREADS != h->id)
                h->bad = 1;
            wsc__pool_put(h->p, held[k]);
        }
    }
    return NULL;
}

TEST(pool_threads_hammer_get_put)
{
    pthread_t t[THREADS];
    struct hammer h[THREADS];
    wsc__pool *p = wsc__pool_new(POOL_N, BUF_SZ);
    long gets = 0;
    CHECK(p != NULL);
    for (int i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){.p = p, .id = i};
        CHECK(pthread_create(&t[i], NULL, hammer_run, &h[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        EXPECT(!h[i].bad);
        gets += h[i].gets;
    }
    EXPECT(gets > 0);
    /* Nothing lost or duplicated: exactly POOL_N distinct buffers come out again. */
    EXPECT_EQ_INT(wsc__pool_available(p), POOL_N);
    void *all[POOL_N];
    for (int i = 0; i < POOL_N; i++) {
        all[i] = wsc__pool_get(p);
        CHECK(all[i] != NULL);
        for (int j = 0; j < i; j++)
            CHECK(all[i] != all[j]);
    }
    EXPECT(wsc__pool_get(p) == NULL);
    for (int i = 0; i < POOL_N; i++)
        wsc__pool_put(p, all[i]);
    wsc__pool_free(p);
}

/* A pool smaller than the number of threads: gets fail and succeed in turn; counts must balance. */
TEST(pool_threads_contended_tiny_pool)
{
    pthread_t t[THREADS];
    struct hammer h[THREADS];
    wsc__pool *p = wsc__pool_new(2, 64 * 4);
    CHECK(p != NULL);
    for (int i = 0; i < THREADS; i++) {
        h[i] = (struct hammer){.p = p, .id = i};
        CHECK(pthread_create(&t[i], NULL, hammer_run, &h[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        EXPECT(!h[i].bad);
    }
    EXPECT_EQ_INT(wsc__pool_available(p), 2);
    wsc__pool_free(p);
}

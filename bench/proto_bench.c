/* Throughput of the proto layer's hot loops: masking next to memcpy on the same buffers, and UTF-8
 * validation on ASCII and mixed text. Each figure is the median of several repetitions, all from
 * one run. Usage: proto_bench [reps] (default 9). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/mask.h"
#include "proto/utf8.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[n / 2];
}

/* Keeps the compiler from dropping or merging the measured calls. */
static void *(*volatile memcpy_fn)(void *, const void *, size_t) = memcpy;
static volatile unsigned sink;

enum { MAX_REPS = 51 };

/* Bytes processed per repetition: enough work to time, small enough for a shared 2-core machine. */
static size_t iters_for(size_t n, size_t budget)
{
    size_t it = budget / n;
    return it ? it : 1;
}

static void bench_mask(int reps)
{
    static const size_t sizes[] = {64, 1024, 16 * 1024, 64 * 1024, 1024 * 1024};
    static const char *names[] = {"64 B", "1 KiB", "16 KiB", "64 KiB", "1 MiB"};
    const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

    printf("masking (GB/s of payload, median of %d)\n", reps);
    printf("  %-8s %10s %10s %10s %8s\n", "size", "memcpy", "mask", "mask_copy", "mask/cpy");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], it = iters_for(n, (size_t)64 << 20);
        /* +1: the payload after a 2-byte header is not aligned, as in a real receive buffer. */
        uint8_t *src = malloc(n + 64), *dst = malloc(n + 64);
        if (!src || !dst)
            return;
        for (size_t i = 0; i < n + 64; i++)
            src[i] = (uint8_t)(i * 31), dst[i] = (uint8_t)i;
        double t_cpy[MAX_REPS], t_mask[MAX_REPS], t_mcopy[MAX_REPS];
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            for (size_t i = 0; i < it; i++)
                memcpy_fn(dst + 2, src + 2, n);
            double t1 = now();
            for (size_t i = 0; i < it; i++)
                wsc__mask(dst + 2, n, key, i);
            double t2 = now();
            for (size_t i = 0; i < it; i++)
                wsc__mask_copy(dst + 2, src + 2, n, key, i);
            double t3 = now();
            t_cpy[r] = (double)(n * it) / (t1 - t0) * 1e-9;
            t_mask[r] = (double)(n * it) / (t2 - t1) * 1e-9;
            t_mcopy[r] = (double)(n * it) / (t3 - t2) * 1e-9;
            sink += dst[n / 2];
        }
        double c = median(t_cpy, reps), m = median(t_mask, reps), mc = median(t_mcopy, reps);
        printf("  %-8s %10.2f %10.2f %10.2f %7.0f%%\n", names[s], c, m, mc, 100.0 * m / c);
        free(src);
        free(dst);
    }
}

static uint64_t rng = 0x2545F4914F6CDD1Du;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Text with the given share (percent) of bytes in multi-byte sequences (2-, 3- and 4-byte mixed).
 */
static size_t make_text(uint8_t *p, size_t n, unsigned multibyte_pct)
{
    static const char *seqs[] = {"\xc3\xa9", "\xce\xbb", "\xe2\x82\xac", "\xe4\xb8\x96",
                                 "\xf0\x9f\x98\x80"};
    size_t i = 0, mb = 0;
    while (i + 4 <= n) {
        if (i && mb * 100 < (size_t)multibyte_pct * i) {
            const char *s = seqs[rnd() % 5];
            size_t l = strlen(s);
            memcpy(p + i, s, l);
            i += l;
            mb += l;
        } else {
            p[i++] = (uint8_t)(' ' + rnd() % 95);
        }
    }
    while (i < n)
        p[i++] = 'a';
    return mb;
}

static void bench_utf8(int reps)
{
    static const struct {
        const char *name;
        unsigned pct;
    } kinds[] = {{"ASCII", 0},
                 {"mixed 10% multi-byte", 10},
                 {"mixed 50% multi-byte", 50},
                 {"all multi-byte", 100}};
    static const size_t sizes[] = {16 * 1024, 1024 * 1024};

    printf("UTF-8 validation (GB/s, median of %d)\n", reps);
    printf("  %-22s %10s %10s\n", "text", "16 KiB", "1 MiB");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        printf("  %-22s", kinds[k].name);
        for (size_t s = 0; s < 2; s++) {
            size_t n = sizes[s], it = iters_for(n, (size_t)32 << 20);
            uint8_t *p = malloc(n);
            if (!p)
                return;
            make_text(p, n, kinds[k].pct);
            if (!wsc__utf8_valid(p, n)) {
                printf(" invalid test text\n");
                free(p);
                return;
            }
            double t[MAX_REPS];
            for (int r = 0; r < reps; r++) {
                unsigned ok = 0;
                double t0 = now();
                for (size_t i = 0; i < it; i++)
                    ok += wsc__utf8_valid(p, n);
                double t1 = now();
                sink += ok;
                t[r] = (double)(n * it) / (t1 - t0) * 1e-9;
            }
            printf(" %10.2f", median(t, reps));
            free(p);
        }
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    if (reps < 1)
        reps = 1;
    if (reps > MAX_REPS)
        reps = MAX_REPS;
    bench_mask(reps);
    bench_utf8(reps);
    return 0;
}

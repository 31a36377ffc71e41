/* What the libFuzzer targets share: the entry point's prototype, an invariant check that aborts
 * (so libFuzzer keeps the input), and exact-size copies for feeding parsers in pieces. */
#ifndef WSC_FUZZ_UTIL_H
#define WSC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Frees old and returns data[0..n) in a fresh allocation of exactly n bytes (1 when n is 0): ASan
 * then sees any read past the end, and the buffer moves between calls as a socket's would. */
static inline char *fuzz_copy(char *old, const uint8_t *data, size_t n)
{
    char *p;

    free(old);
    p = malloc(n ? n : 1);
    if (!p)
        abort();
    if (n)
        memcpy(p, data, n);
    return p;
}

/* The next input-derived split point after at, at most size; *x is the generator's state. */
static inline size_t fuzz_next_split(uint32_t *x, size_t at, size_t size)
{
    size_t step;

    *x = *x * 1103515245u + 12345u;
    step = 1 + (*x >> 16) % (size / 3 + 2);
    return at + step < size ? at + step : size;
}

#endif

/* Latency histogram with log-linear buckets: exact below 128 ns, then 64
 * sub-buckets per power of two (relative error under 1.6%), up to ~1100 s.
 * Fixed size, so recording never allocates. */
#ifndef WSC_LOAD_HIST_H
#define WSC_LOAD_HIST_H

#include <stdint.h>

#define HIST_SUB 64u
#define HIST_BUCKETS (2u * HIST_SUB + 34u * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t max;
    uint64_t b[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *into, const struct hist *from);
/* The value at quantile q (0..1): the upper bound of the bucket that holds it. 0 if empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif

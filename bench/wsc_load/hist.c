#include "hist.h"

static unsigned msb64(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

static unsigned bucket_of(uint64_t v)
{
    if (v < 2u * HIST_SUB)
        return (unsigned)v;
    unsigned shift = msb64(v) - 6u; /* v >> shift lies in [64, 128) */
    if (shift > 34u)
        return HIST_BUCKETS - 1u;
    return 2u * HIST_SUB + (shift - 1u) * HIST_SUB + (unsigned)((v >> shift) - HIST_SUB);
}

static uint64_t bucket_top(unsigned i)
{
    if (i < 2u * HIST_SUB)
        return i;
    unsigned shift = (i - 2u * HIST_SUB) / HIST_SUB + 1u;
    uint64_t sub = (i - 2u * HIST_SUB) % HIST_SUB + HIST_SUB;
    return ((sub + 1u) << shift) - 1u;
}

void hist_add(struct hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

void hist_merge(struct hist *into, const struct hist *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

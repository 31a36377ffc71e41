#include <stdio.h>
#include <string.h>

#include "wire.h"

/* A prime period, so a message's bytes do not line up with any power-of-two
 * boundary a buggy server might copy at. The table holds two periods, so any
 * window of up to one period is contiguous. */
#define PERIOD_BYTES 4093u
/* JSON-like payloads (--json-payload) repeat only after about a megabyte: a compressor with
   context takeover (a 32 KiB window) then finds earlier messages no more often than an
   application's messages would let it, rather than every message in the window. */
#define PERIOD_JSON 1048573u

/* Written once by payload_init before any load thread starts, read-only after. */
static uint8_t table[2 * PERIOD_JSON];
static uint32_t period = PERIOD_BYTES;
#define PERIOD period

void payload_init(bool text, bool json)
{
    period = json ? PERIOD_JSON : PERIOD_BYTES;
    uint32_t x = 0x9E3779B9u;
    for (unsigned i = 0; i < PERIOD; i++) {
        x = x * 1664525u + 1013904223u;
        uint8_t b = (uint8_t)(x >> 24);
        table[i] = text ? (uint8_t)(0x20u + b % 95u) : b;
    }
    if (json) {
        /* JSON-like records: the same keys over and over, values that vary (compressible as an
           application's messages are, not as a run of one byte is). */
        static const char *const names[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
        unsigned n = 0, k = 0;
        char rec[160];
        while (n < PERIOD) {
            x = x * 1664525u + 1013904223u;
            int l = snprintf(rec, sizeof rec,
                             "{\"id\":%u,\"user\":\"%s\",\"room\":\"lobby-%u\",\"ts\":%u,"
                             "\"text\":\"message %u\",\"seen\":%s},",
                             k, names[x % 6], (x >> 8) % 16, 1700000000u + k * 7, x >> 20,
                             (x & 1) ? "true" : "false");
            for (int j = 0; j < l && n < PERIOD; j++)
                table[n++] = (uint8_t)rec[j];
            k++;
        }
    }
    memcpy(table + PERIOD, table, PERIOD);
}

uint32_t payload_start(uint32_t id, uint64_t seq)
{
    return (uint32_t)(((uint64_t)id * 2654435761u + seq * 40503u) % PERIOD);
}

/* dst = src ^ k for n bytes, k being 8 key bytes lined up with dst[0]. The
 * load generator masks every byte it sends, as a browser does, so this runs
 * at memcpy speed: 32 bytes per step, with an AVX2 copy picked at load time
 * where the CPU has it (the plain copy does the same in two 16-byte halves). */
typedef uint8_t vec32 __attribute__((vector_size(32)));

/* dst[i..n) = src[i..n) ^ k, 8 bytes at a time, then the tail byte by byte. */
static inline void xor_words(uint8_t *dst, const uint8_t *src, size_t i, size_t n, uint64_t k)
{
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ (uint8_t)(k >> (8 * (i & 7u)));
}

__attribute__((target_clones("avx2", "default"))) static void xor_copy(uint8_t *dst,
                                                                        const uint8_t *src,
                                                                        size_t n, uint64_t k)
{
    vec32 kv;
    for (unsigned j = 0; j < 32; j += 8)
        memcpy((uint8_t *)&kv + j, &k, 8);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        vec32 v;
        memcpy(&v, src + i, 32);
        v ^= kv;
        memcpy(dst + i, &v, 32);
    }
    xor_words(dst, src, i, n, k);
}

/* Where byte off of a message starting at start lies in the table's first period. */
static inline size_t table_pos(uint32_t start, uint64_t off)
{
    return off == 0 ? start : (size_t)((start + off) % PERIOD); /* start < PERIOD */
}

void payload_copy(uint8_t *dst, size_t n, uint32_t start, uint64_t off, const uint8_t *key)
{
    while (n) {
        size_t pos = table_pos(start, off);
        size_t c = n < PERIOD ? n : PERIOD;
        const uint8_t *src = table + pos;
        if (!key) {
            memcpy(dst, src, c);
        } else {
            /* Section 5.3: payload byte i is XORed with key byte i % 4, counted from the
               frame's first payload byte, which is off here. */
            uint8_t kk[4] = {key[off & 3u], key[(off + 1) & 3u], key[(off + 2) & 3u],
                             key[(off + 3) & 3u]};
            uint32_t k32;
            memcpy(&k32, kk, 4);
            uint64_t k = (uint64_t)k32 << 32 | k32;
            if (c >= 32)
                xor_copy(dst, src, c, k);
            else
                xor_words(dst, src, 0, c, k); /* small messages, the common case: no call */
        }
        dst += c;
        off += c;
        n -= c;
    }
}

bool payload_check(const uint8_t *p, size_t n, uint32_t start, uint64_t off)
{
    while (n) {
        size_t pos = table_pos(start, off);
        size_t c = n < PERIOD ? n : PERIOD;
        if (memcmp(p, table + pos, c) != 0)
            return false;
        p += c;
        off += c;
        n -= c;
    }
    return true;
}

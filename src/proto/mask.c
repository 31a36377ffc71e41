/* RFC 6455 section 5.3 masking, and the mask key source. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getrandom */
#endif
#include "proto/mask.h"

#include "util/thread_local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__) && !defined(WSC_NO_SIMD)
#include <emmintrin.h>
#endif
/* AVX2 is not in the x86-64 baseline: compiled for it per function and chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(WSC_NO_SIMD)
#define HAVE_AVX2_PATH 1
#include <immintrin.h>
#endif

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The key pattern as it lies in memory from a byte whose payload offset is off: key[off & 3] first,
 * i.e. the key word rotated by whole bytes (a single rotate instruction). */
static inline uint32_t key_at(const uint8_t key[4], size_t off)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) &&                                 \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint32_t k = load32(key), r = (uint32_t)(off & 3) * 8;
    return (k >> r) | (k << ((32u - r) & 31u));
#elif defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) &&                                  \
    __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    uint32_t k = load32(key), r = (uint32_t)(off & 3) * 8;
    return (k << r) | (k >> ((32u - r) & 31u));
#else
    uint8_t k[4] = {key[off & 3], key[(off + 1) & 3], key[(off + 2) & 3], key[(off + 3) & 3]};
    return load32(k);
#endif
}

/* Fewer than 16 bytes: one 8-byte, one 4-byte word and single bytes, no loop over words. */
static inline void mask_small(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                              size_t off)
{
    size_t i = 0;
    if (n >= 8) {
        uint32_t k = key_at(key, off);
        uint64_t k64 = (uint64_t)k | (uint64_t)k << 32, w;
        memcpy(&w, src, 8);
        w ^= k64;
        memcpy(dst, &w, 8);
        i = 8;
    }
    if (n - i >= 4) {
        uint32_t w = load32(src + i) ^ key_at(key, off + i);
        memcpy(dst + i, &w, 4);
        i += 4;
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ key[(off + i) & 3];
}

#ifdef HAVE_AVX2_PATH
/* Masks whole 128-byte blocks from dst/src; returns how many bytes it did. */
__attribute__((target("avx2"))) static size_t mask_avx2(uint8_t *dst, const uint8_t *src, size_t n,
                                                        uint32_t k32)
{
    __m256i k = _mm256_set1_epi32((int)k32);
    size_t i = 0;
    for (; n - i >= 128; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 96));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 96), _mm256_xor_si256(d, k));
    }
    return i;
}
#endif

/* Works for dst == src (in place) as well as for disjoint buffers: each block is fully loaded
 * before it is stored. Large runs first align dst to 16 bytes (stores that split cache lines are
 * what cost most); short ones go straight to unaligned words, where an alignment prologue would
 * dominate. */
static void mask_run(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t off)
{
    size_t i = 0;

    if (n >= 128) {
        i = (size_t)(-(uintptr_t)dst & 15);
        mask_small(dst, src, i, key, off);
    }
    uint32_t k32 = key_at(key, off + i);
#ifdef HAVE_AVX2_PATH
    /* i - head is a multiple of 128 afterwards, so k32 still matches the next byte. */
    if (n - i >= 256 && __builtin_cpu_supports("avx2"))
        i += mask_avx2(dst + i, src + i, n - i, k32);
#endif
#if defined(__SSE2__) && !defined(WSC_NO_SIMD)
    __m128i k = _mm_set1_epi32((int)k32);
    for (; n - i >= 64; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_xor_si128(b, k));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 32), _mm_xor_si128(c, k));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 48), _mm_xor_si128(d, k));
    }
    for (; n - i >= 16; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k));
    }
#else
    uint64_t k64 = (uint64_t)k32 | (uint64_t)k32 << 32;
    for (; n - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, src + i, 32);
        w[0] ^= k64;
        w[1] ^= k64;
        w[2] ^= k64;
        w[3] ^= k64;
        memcpy(dst + i, w, 32);
    }
    for (; n - i >= 16; i += 16) {
        uint64_t w[2];
        memcpy(w, src + i, 16);
        w[0] ^= k64;
        w[1] ^= k64;
        memcpy(dst + i, w, 16);
    }
#endif
    mask_small(dst + i, src + i, n - i, key, off + i);
}

void wsc__mask(uint8_t *p, size_t n, const uint8_t key[4], size_t offset)
{
    mask_run(p, p, n, key, offset);
}

void wsc__mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t offset)
{
    mask_run(dst, src, n, key, offset);
}

/* ---- mask keys
 * ------------------------------------------------------------------------------------ Section 5.3
 * and 10.3: keys must come from a strong source of entropy and must not let an observer predict the
 * next key (otherwise a script could make the masked bytes look like chosen plaintext to a broken
 * proxy). A getrandom call per frame would cost a syscall per message, so each thread keeps a
 * ChaCha20 keystream (RFC 8439 block function) keyed from getrandom: 16 mask keys per block, and
 * knowing earlier keys does not reveal later ones. This is the proto layer's only mutable state; it
 * is thread-local, so threads never share it. */

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QR(a, b, c, d)                                                                             \
    do {                                                                                           \
        a += b;                                                                                    \
        d ^= a;                                                                                    \
        d = ROTL(d, 16);                                                                           \
        c += d;                                                                                    \
        b ^= c;                                                                                    \
        b = ROTL(b, 12);                                                                           \
        a += b;                                                                                    \
        d ^= a;                                                                                    \
        d = ROTL(d, 8);                                                                            \
        c += d;                                                                                    \
        b ^= c;                                                                                    \
        b = ROTL(b, 7);                                                                            \
    } while (0)

static void chacha20_block(const uint32_t key[8], uint64_t counter, uint32_t out[16])
{
    uint32_t in[16] = {0x61707865,
                       0x3320646e,
                       0x79622d32,
                       0x6b206574,
                       key[0],
                       key[1],
                       key[2],
                       key[3],
                       key[4],
                       key[5],
                       key[6],
                       key[7],
                       (uint32_t)counter,
                       (uint32_t)(counter >> 32),
                       0,
                       0};
    uint32_t x[16];
    memcpy(x, in, sizeof x);
    for (int r = 0; r < 10; r++) {
        QR(x[0], x[4], x[8], x[12]);
        QR(x[1], x[5], x[9], x[13]);
        QR(x[2], x[6], x[10], x[14]);
        QR(x[3], x[7], x[11], x[15]);
        QR(x[0], x[5], x[10], x[15]);
        QR(x[1], x[6], x[11], x[12]);
        QR(x[2], x[7], x[8], x[13]);
        QR(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        out[i] = x[i] + in[i];
}

enum { RESEED_BLOCKS = 1 << 16 }; /* 2^20 keys */

static WSC__THREAD_LOCAL struct {
    uint32_t key[8];
    uint32_t block[16];
    uint64_t counter;
    pid_t pid;
    unsigned pos; /* next unused 32-bit word of block; 16 = empty */
    bool seeded;
} rng;

static bool fill_entropy(uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    if (got == n)
        return true;
    /* getrandom missing (kernel < 3.17) or filtered by a sandbox: the same pool through the device.
     */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return got == n;
}

static void reseed(void)
{
    memset(rng.block, 0, sizeof rng.block);
    uint32_t k[8];
    if (!fill_entropy((uint8_t *)k, sizeof k)) {
        /* No entropy source at all: never fall back to a fixed key; stir in what varies (time, pid,
           addresses, the previous state) so keys at least differ between processes and runs. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t m = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        uintptr_t a = (uintptr_t)&k;
        uint32_t mix[8] = {(uint32_t)t,
                           (uint32_t)(t >> 32),
                           (uint32_t)m,
                           (uint32_t)(m >> 32),
                           (uint32_t)getpid(),
                           (uint32_t)a,
                           (uint32_t)((uint64_t)a >> 32),
                           (uint32_t)(uintptr_t)&rng};
        for (int i = 0; i < 8; i++)
            mix[i] ^= rng.key[i];
        chacha20_block(mix, rng.counter, rng.block);
        memcpy(k, rng.block, sizeof k);
    }
    memcpy(rng.key, k, sizeof k);
    rng.counter = 0;
    rng.pid = getpid();
    rng.seeded = true;
}

void wsc__mask_key_new(uint8_t key[4])
{
    /* A forked child inherits this thread's state, including unused keys of the current block: the
       pid check on every call (one cheap syscall, next to the write that sends the frame) re-keys
       the child so it never repeats the parent's keys. */
    pid_t pid = getpid();
    if (!rng.seeded || pid != rng.pid) {
        reseed();
        rng.pos = 16;
    }
    if (rng.pos >= 16) {
        if (rng.counter >= RESEED_BLOCKS)
            reseed();
        chacha20_block(rng.key, rng.counter++, rng.block);
        rng.pos = 0;
    }
    memcpy(key, &rng.block[rng.pos], 4);
    rng.block[rng.pos] = 0; /* a used key is not left in memory */
    rng.pos++;
}

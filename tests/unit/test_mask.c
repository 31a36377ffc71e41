/* Masking (RFC 6455 section 5.3) against a byte-at-a-time reference, and mask keys.
 * The portable (non-SIMD) code path is compiled into this program too, under other names, so both
 * paths are checked on every machine. */
#define WSC_NO_SIMD 1
#define wsc__mask wsc__mask_portable
#define wsc__mask_copy wsc__mask_copy_portable
#define wsc__mask_key_new wsc__mask_key_new_portable
#include "../../src/proto/mask.c"
#undef wsc__mask
#undef wsc__mask_copy
#undef wsc__mask_key_new
#undef WSC_PROTO_MASK_H
#include "proto/mask.h"
#include "proto/reader.h"

#include <sys/wait.h>

#include "../test.h"

typedef void (*mask_fn)(uint8_t *, size_t, const uint8_t[4], size_t);
typedef void (*copy_fn)(uint8_t *, const uint8_t *, size_t, const uint8_t[4], size_t);

static const struct {
    const char *name;
    mask_fn mask;
    copy_fn copy;
} impls[] = {{"default", wsc__mask, wsc__mask_copy},
             {"portable", wsc__mask_portable, wsc__mask_copy_portable}};

static void ref_mask(uint8_t *p, size_t n, const uint8_t key[4], size_t off)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= key[(off + i) & 3];
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
}

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

TEST(rfc_example)
{
    for (size_t k = 0; k < 2; k++) {
        uint8_t p[5] = {'H', 'e', 'l', 'l', 'o'};
        impls[k].mask(p, 5, key, 0);
        CHECK_EQ_MEM(p, "\x7f\x9f\x4d\x51\x58", 5);
        impls[k].mask(p, 5, key, 0);
        CHECK_EQ_MEM(p, "Hello", 5);
    }
}

/* Every dst alignment 0..31, every key offset (and big offsets), every length 0..300; guard bytes
 * around the range must stay untouched. */
TEST(every_alignment_offset_length)
{
    enum { MAXN = 300, PAD = 48 };
    static uint8_t buf[MAXN + 2 * PAD], want[MAXN + 2 * PAD], orig[MAXN + 2 * PAD];
    static const size_t offsets[] = {0, 1, 2, 3, 4, 5, 6, 7, 1001, (size_t)-1};
    fill(orig, sizeof orig);
    for (size_t k = 0; k < 2; k++)
        for (size_t a = 0; a < 32; a++)
            for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++)
                for (size_t n = 0; n <= MAXN; n++) {
                    memcpy(buf, orig, sizeof buf);
                    memcpy(want, orig, sizeof want);
                    impls[k].mask(buf + PAD - 16 + a, n, key, offsets[o]);
                    ref_mask(want + PAD - 16 + a, n, key, offsets[o]);
                    if (memcmp(buf, want, sizeof buf) != 0) {
                        fprintf(stderr, "  %s: align %zu offset %zu len %zu\n", impls[k].name, a,
                                offsets[o], n);
                        CHECK(0);
                    }
                }
}

/* The reader's short unmasking (8-byte words, then bytes): every length below 128 at every
 * alignment, guard bytes untouched, and its "some byte is not ASCII" answer right for a single high
 * byte at every position, in the words and in the byte tail. */
TEST(unmask_short_every_length_alignment_high_byte)
{
    enum { MAXN = 127, PAD = 32 };
    static uint8_t buf[MAXN + 2 * PAD], want[MAXN + 2 * PAD], orig[MAXN + 2 * PAD];
    for (size_t a = 0; a < 16; a++)
        for (size_t n = 0; n <= MAXN; n++)
            for (size_t high = 0; high <= n; high++) { /* high == n: every byte ASCII */
                uint8_t *p = orig + PAD - 8 + a;
                fill(orig, sizeof orig);
                for (size_t i = 0; i < n; i++) /* the unmasked bytes: ASCII but one */
                    p[i] = (uint8_t)(((orig[i] & 0x7Fu) | (i == high ? 0x80u : 0u)) ^ key[i & 3]);
                memcpy(buf, orig, sizeof buf);
                memcpy(want, orig, sizeof want);
                uint64_t hi = wsc__unmask_short(buf + PAD - 8 + a, n, key);
                ref_mask(want + PAD - 8 + a, n, key, 0);
                if (memcmp(buf, want, sizeof buf) != 0 || (hi != 0) != (high < n)) {
                    fprintf(stderr, "  align %zu len %zu high byte at %zu: %s\n", a, n, high,
                            memcmp(buf, want, sizeof buf) ? "bytes differ" : "wrong ASCII answer");
                    CHECK(0);
                    return;
                }
            }
}

TEST(copy_every_alignment)
{
    enum { MAXN = 300, PAD = 48 };
    static uint8_t src[MAXN + 2 * PAD], dst[MAXN + 2 * PAD], want[MAXN + 2 * PAD],
        guard[MAXN + 2 * PAD];
    fill(src, sizeof src);
    fill(guard, sizeof guard);
    for (size_t k = 0; k < 2; k++)
        for (size_t sa = 0; sa < 17; sa++)
            for (size_t da = 0; da < 17; da++)
                for (size_t off = 0; off < 4; off++)
                    for (size_t n = 0; n <= MAXN; n += (n < 80 ? 1 : 7)) {
                        memcpy(dst, guard, sizeof dst);
                        memcpy(want, guard, sizeof want);
                        memcpy(want + PAD + da, src + PAD + sa, n);
                        ref_mask(want + PAD + da, n, key, off);
                        impls[k].copy(dst + PAD + da, src + PAD + sa, n, key, off);
                        if (memcmp(dst, want, sizeof dst) != 0) {
                            fprintf(stderr, "  %s: src %zu dst %zu off %zu len %zu\n",
                                    impls[k].name, sa, da, off, n);
                            CHECK(0);
                        }
                    }
}

/* A payload arriving split across reads: masking piece by piece with the running offset equals
 * masking the whole. */
TEST(split_pieces_equal_whole)
{
    enum { N = 5000 };
    static uint8_t a[N], b[N];
    for (size_t k = 0; k < 2; k++)
        for (int iter = 0; iter < 200; iter++) {
            uint8_t kk[4];
            fill(kk, 4);
            fill(a, N);
            memcpy(b, a, N);
            size_t n = (size_t)(rnd() % N);
            ref_mask(a, n, kk, 0);
            size_t pos = 0;
            while (pos < n) {
                size_t piece = (size_t)(rnd() % 70);
                if (piece > n - pos)
                    piece = n - pos;
                impls[k].mask(b + pos, piece, kk, pos);
                pos += piece;
            }
            CHECK_EQ_MEM(a, b, N);
        }
}

TEST(big_buffers)
{
    static const size_t sizes[] = {1u << 16, (1u << 20) + 3, (3u << 20) - 5};
    for (size_t k = 0; k < 2; k++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (size_t align = 0; align < 3; align++) {
                size_t n = sizes[s];
                uint8_t *a = malloc(n + 16), *b = malloc(n + 16), *c = malloc(n + 16);
                CHECK(a && b && c);
                fill(a, n + 16);
                memcpy(b, a, n + 16);
                memcpy(c, a, n + 16);
                ref_mask(a + align * 5, n, key, align);
                impls[k].mask(b + align * 5, n, key, align);
                impls[k].copy(c + 16 - align, b + align * 5, n, key, align); /* unmask into c */
                EXPECT_EQ_MEM(a, b, n + 16);
                ref_mask(a + align * 5, n, key, align);
                EXPECT_EQ_MEM(c + 16 - align, a + align * 5, n);
                free(a);
                free(b);
                free(c);
                if (!TEST_OK())
                    return;
            }
}

TEST(mask_is_involution)
{
    uint8_t a[1000], b[1000];
    fill(a, sizeof a);
    memcpy(b, a, sizeof a);
    for (size_t k = 0; k < 2; k++) {
        impls[k].mask(b + 3, 997, key, 2);
        CHECK(memcmp(a, b, sizeof a) != 0);
        impls[k].mask(b + 3, 997, key, 2);
        CHECK_EQ_MEM(a, b, sizeof a);
    }
}

static uint32_t key32(void)
{
    uint8_t k[4];
    wsc__mask_key_new(k);
    return (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

TEST(keys_vary)
{
    enum { N = 4096 };
    static uint32_t k[N];
    unsigned bits[32] = {0};
    for (int i = 0; i < N; i++) {
        k[i] = key32();
        for (int b = 0; b < 32; b++)
            bits[b] += (k[i] >> b) & 1;
    }
    /* Crossing several 16-key blocks: random 32-bit values essentially never repeat among 4096. */
    qsort(k, N, sizeof k[0], cmp_u32);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += k[i] == k[i - 1];
    CHECK(dups <= 1);
    /* Each bit set about half of the time (4096 draws: 2048 +- 8 sigma). */
    for (int b = 0; b < 32; b++)
        CHECK(bits[b] > 1792 && bits[b] < 2304);
}

TEST(keys_differ_after_fork)
{
    int fds[2];
    uint32_t parent[8], child[8];
    key32(); /* make sure this thread's generator is seeded before forking */
    CHECK(pipe(fds) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 8; i++)
            child[i] = key32();
        ssize_t w = write(fds[1], child, sizeof child);
        _exit(w == (ssize_t)sizeof child ? 0 : 1);
    }
    for (int i = 0; i < 8; i++)
        parent[i] = key32();
    ssize_t got = 0;
    while (got < (ssize_t)sizeof child) {
        ssize_t r = read(fds[0], (char *)child + got, sizeof child - (size_t)got);
        if (r <= 0)
            break;
        got += r;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ_INT(got, sizeof child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(memcmp(parent, child, sizeof child) != 0);
}

TEST(chacha20_block_matches_rfc8439)
{
    /* RFC 8439 appendix A.1, test vector #1: all-zero key, counter and nonce (our 64-bit counter
       occupies words 12-13 with words 14-15 zero, which is the same block). */
    static const uint8_t want[16] = {0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90,
                                     0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28};
    uint32_t k[8] = {0}, out[16];
    chacha20_block(k, 0, out);
    uint8_t bytes[64];
    memcpy(bytes, out, 64); /* little-endian host assumed by this check */
    CHECK_EQ_MEM(bytes, want, 16);
}

/* libFuzzer target: the streaming UTF-8 validator against a slow reference written from RFC 3629's
 * definition, fed whole, split at points taken from the input, and one byte at a time. The first
 * invalid byte must be the same as the reference's; any disagreement aborts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "proto/utf8.h"

/* Can some code point of an L-byte encoding start with the k known bytes? The known bits fix the
 * code point's top bits; the unknown continuation bits range from all zeros to all ones, so the
 * prefix is completable iff [lo, hi] meets the range L bytes may encode (no overlongs, at most
 * U+10FFFF) outside the surrogates U+D800-DFFF. */
static bool completable(const uint8_t *p, size_t k, size_t L)
{
    static const uint32_t min_for[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t lead_bits[5] = {0, 7, 5, 4, 3};
    uint32_t v = p[0] & ((1u << lead_bits[L]) - 1);
    for (size_t j = 1; j < k; j++)
        v = v << 6 | (p[j] & 0x3F);
    size_t unknown = 6 * (L - k);
    uint32_t lo = v << unknown, hi = (v << unknown) | ((1u << unknown) - 1);
    uint32_t a = lo > min_for[L] ? lo : min_for[L];
    uint32_t b = hi < 0x10FFFF ? hi : 0x10FFFF;
    if (a > b)
        return false;
    return !(a >= 0xD800 && b <= 0xDFFF);
}

/* Returns the index of the first byte after which the input can no longer be a prefix of valid
 * UTF-8, or -1; *complete says whether the whole input is valid. */
static long ref_first_invalid(const uint8_t *p, size_t n, bool *complete)
{
    size_t i = 0;
    *complete = false;
    while (i < n) {
        uint8_t c = p[i];
        size_t L = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (L == 0 || !completable(p + i, 1, L))
            return (long)i;
        for (size_t j = 1; j < L; j++) {
            if (i + j == n)
                return -1; /* truncated: a valid prefix, not complete */
            if ((p[i + j] & 0xC0) != 0x80 || !completable(p + i, j + 1, L))
                return (long)(i + j);
        }
        i += L;
    }
    *complete = true;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool complete;
    long bad = ref_first_invalid(data, size, &complete);

    /* Whole buffer. */
    ASSERT(wsc__utf8_valid(data, size) == complete);
    wsc__utf8 v = WSC__UTF8_INIT;
    ASSERT(wsc__utf8_feed(&v, data, size) == (bad < 0));
    ASSERT(bad >= 0 || wsc__utf8_complete(&v) == complete);

    /* One byte at a time: fails exactly at the reference's first invalid byte. */
    v = (wsc__utf8)WSC__UTF8_INIT;
    long failed = -1;
    for (size_t i = 0; i < size; i++)
        if (!wsc__utf8_feed(&v, data + i, 1)) {
            failed = (long)i;
            break;
        }
    ASSERT(failed == bad);
    if (bad < 0)
        ASSERT(wsc__utf8_complete(&v) == complete);

    /* Split at points derived from the input bytes: the piece that holds the first invalid byte is
       the one that fails, and no earlier piece does. */
    v = (wsc__utf8)WSC__UTF8_INIT;
    size_t pos = 0;
    uint32_t s = 2166136261u;
    for (size_t i = 0; i < size; i++)
        s = (s ^ data[i]) * 16777619u;
    while (pos < size) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        size_t k = s % 70;
        if (k > size - pos)
            k = size - pos;
        bool ok = wsc__utf8_feed(&v, data + pos, k);
        bool holds_bad = bad >= 0 && (size_t)bad < pos + k;
        ASSERT(ok == !holds_bad);
        if (!ok)
            break;
        pos += k;
    }
    if (bad < 0)
        ASSERT(wsc__utf8_complete(&v) == complete);
    return 0;
}

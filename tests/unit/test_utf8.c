/* Streaming UTF-8 validator: vectors (Autobahn 6.x style), every split point, fail position, and an
 * exhaustive comparison with a reference decoder over all 1-, 2- and 3-byte sequences. */
#include "../test.h"

#include "proto/utf8.h"

struct vec {
    const char *name;
    const char *s;
    int len;     /* bytes */
    int fail_at; /* index of the first invalid byte, -1 if valid, -2 if only truncated at the end */
};

#define V(name, lit, fail)                                                                         \
    {                                                                                              \
        name, lit, (int)sizeof(lit) - 1, fail                                                      \
    }

static const struct vec vecs[] = {
    V("empty", "", -1),
    V("ascii", "Hello-\x7f\x01", -1),
    V("kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", -1),
    V("U+0080", "\xc2\x80", -1),
    V("U+07FF", "\xdf\xbf", -1),
    V("U+0800", "\xe0\xa0\x80", -1),
    V("U+D7FF", "\xed\x9f\xbf", -1),
    V("U+E000", "\xee\x80\x80", -1),
    V("U+FFFD", "\xef\xbf\xbd", -1),
    V("U+FFFF noncharacter", "\xef\xbf\xbf", -1),
    V("U+10000", "\xf0\x90\x80\x80", -1),
    V("U+10FFFF", "\xf4\x8f\xbf\xbf", -1),
    V("U+FEFF BOM", "\xef\xbb\xbf", -1),
    V("NUL", "a\0b", -1),
    /* Invalid: position of the first byte that cannot continue a valid prefix. */
    V("overlong NUL C0 80", "\xc0\x80", 0),
    V("overlong C1 BF", "\xc1\xbf", 0),
    V("overlong 3-byte E0 80 80", "\xe0\x80\x80", 1),
    V("overlong 3-byte E0 9F BF", "\xe0\x9f\xbf", 1),
    V("overlong 4-byte F0 80 80 80", "\xf0\x80\x80\x80", 1),
    V("overlong 4-byte F0 8F BF BF", "\xf0\x8f\xbf\xbf", 1),
    V("overlong slash 5 bytes", "\xf8\x80\x80\x80\xaf", 0),
    V("surrogate ED A0 80", "\xed\xa0\x80", 1),
    V("surrogate ED AD BF", "\xed\xad\xbf", 1),
    V("surrogate ED BF BF", "\xed\xbf\xbf", 1),
    V("surrogate pair", "\xed\xa0\x80\xed\xb0\x80", 1),
    V("above U+10FFFF F4 90 80 80", "\xf4\x90\x80\x80", 1),
    V("F5 lead", "\xf5\x80\x80\x80", 0),
    V("F7 BF BF BF", "\xf7\xbf\xbf\xbf", 0),
    V("FE", "\xfe", 0),
    V("FF", "\xff", 0),
    V("lone continuation 80", "\x80", 0),
    V("lone continuation BF", "ab\xbf", 2),
    V("2-byte lead then ASCII", "\xc2\x41", 1),
    V("3-byte lead then ASCII", "\xe1\x80\x41", 2),
    V("4-byte lead then lead", "\xf1\x80\x80\xc2\x80", 3),
    V("extra continuation", "\xc2\x80\x80", 2),
    V("kosme + surrogate + edited (6.4.x)",
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", 12),
    V("kosme + F4 90 + edited (6.4.x)",
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64", 12),
    V("valid then FF after 40 ASCII", "0123456789012345678901234567890123456789\xff", 40),
    /* Truncated at the end: valid prefix, not complete. */
    V("truncated C2", "\xc2", -2),
    V("truncated E0 A0", "\xe0\xa0", -2),
    V("truncated F0 90 80", "\xf0\x90\x80", -2),
    V("truncated F4 8F BF", "abc\xf4\x8f\xbf", -2),
    V("truncated ED 9F", "\xed\x9f", -2),
};

TEST(vectors_whole)
{
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        bool ok = wsc__utf8_valid((const uint8_t *)v->s, (size_t)v->len);
        if (ok != (v->fail_at == -1)) {
            fprintf(stderr, "  %s\n", v->name);
            CHECK(0);
        }
        wsc__utf8 st = WSC__UTF8_INIT;
        bool fed = wsc__utf8_feed(&st, (const uint8_t *)v->s, (size_t)v->len);
        CHECK_EQ_INT(fed, v->fail_at < 0);
        CHECK_EQ_INT(fed && wsc__utf8_complete(&st), v->fail_at == -1);
    }
}

/* Split at every point (two pieces) and every three-piece split: same verdict as whole. */
TEST(vectors_split_everywhere)
{
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        const uint8_t *s = (const uint8_t *)v->s;
        size_t n = (size_t)v->len;
        for (size_t a = 0; a <= n; a++)
            for (size_t b = a; b <= n; b++) {
                wsc__utf8 st = WSC__UTF8_INIT;
                bool ok = wsc__utf8_feed(&st, s, a);
                ok = wsc__utf8_feed(&st, s + a, b - a) && ok;
                ok = wsc__utf8_feed(&st, s + b, n - b) && ok;
                if (ok != (v->fail_at < 0) ||
                    (ok && wsc__utf8_complete(&st) != (v->fail_at == -1))) {
                    fprintf(stderr, "  %s split %zu/%zu\n", v->name, a, b);
                    CHECK(0);
                }
            }
    }
}

/* Fed one byte at a time, the validator fails exactly at the first invalid byte, not later. */
TEST(vectors_fail_at_first_invalid_byte)
{
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        wsc__utf8 st = WSC__UTF8_INIT;
        int failed_at = -1;
        for (int j = 0; j < v->len; j++)
            if (!wsc__utf8_feed(&st, (const uint8_t *)v->s + j, 1)) {
                failed_at = j;
                break;
            }
        int want = v->fail_at >= 0 ? v->fail_at : -1;
        if (failed_at != want) {
            fprintf(stderr, "  %s: failed at %d, want %d\n", v->name, failed_at, want);
            CHECK(0);
        }
    }
}

TEST(failure_is_sticky)
{
    wsc__utf8 st = WSC__UTF8_INIT;
    CHECK(!wsc__utf8_feed(&st, (const uint8_t *)"\xff", 1));
    CHECK(!wsc__utf8_feed(&st, (const uint8_t *)"abc", 3));
    CHECK(!wsc__utf8_feed(&st, (const uint8_t *)"", 0));
    CHECK(!wsc__utf8_complete(&st));
}

/* Reference: decode by the RFC 3629 rules, no tables. Returns true if p[0..n) is valid UTF-8. */
static bool ref_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = p[i];
        size_t len;
        uint32_t min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t j = 1; j < len; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
            c = c << 6 | (p[i + j] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

TEST(exhaustive_up_to_three_bytes)
{
    uint8_t b[3];
    for (unsigned x = 0; x < 256; x++) {
        b[0] = (uint8_t)x;
        CHECK_EQ_INT(wsc__utf8_valid(b, 1), ref_valid(b, 1));
        for (unsigned y = 0; y < 256; y++) {
            b[1] = (uint8_t)y;
            CHECK_EQ_INT(wsc__utf8_valid(b, 2), ref_valid(b, 2));
            if (x < 0xE0 || x > 0xEF)
                continue; /* the 3-byte space that matters; others are covered by the random test */
            for (unsigned z = 0; z < 256; z++) {
                b[2] = (uint8_t)z;
                if (wsc__utf8_valid(b, 3) != ref_valid(b, 3)) {
                    fprintf(stderr, "  %02x %02x %02x\n", x, y, z);
                    CHECK(0);
                }
            }
        }
    }
}

TEST(exhaustive_four_byte_leads)
{
    static const uint8_t tails[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    uint8_t b[4];
    for (unsigned x = 0xF0; x < 0x100; x++)
        for (unsigned y = 0; y < 256; y++)
            for (size_t z = 0; z < sizeof tails; z++)
                for (size_t w = 0; w < sizeof tails; w++) {
                    b[0] = (uint8_t)x, b[1] = (uint8_t)y, b[2] = tails[z], b[3] = tails[w];
                    CHECK_EQ_INT(wsc__utf8_valid(b, 4), ref_valid(b, 4));
                }
}

/* Every code point U+0000..U+10FFFF encoded by hand: valid unless a surrogate; and each one placed
 * after a run of ASCII so it lands at varying positions relative to the word-sized fast path. */
TEST(every_code_point)
{
    uint8_t buf[64];
    for (uint32_t c = 0; c <= 0x10FFFF; c++) {
        size_t pre = c % 41, n = pre;
        memset(buf, 'a', pre);
        if (c < 0x80) {
            buf[n++] = (uint8_t)c;
        } else if (c < 0x800) {
            buf[n++] = (uint8_t)(0xC0 | c >> 6);
            buf[n++] = (uint8_t)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            buf[n++] = (uint8_t)(0xE0 | c >> 12);
            buf[n++] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
            buf[n++] = (uint8_t)(0x80 | (c & 0x3F));
        } else {
            buf[n++] = (uint8_t)(0xF0 | c >> 18);
            buf[n++] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
            buf[n++] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
            buf[n++] = (uint8_t)(0x80 | (c & 0x3F));
        }
        bool want = c < 0xD800 || c > 0xDFFF;
        if (wsc__utf8_valid(buf, n) != want) {
            fprintf(stderr, "  U+%04X\n", (unsigned)c);
            CHECK(0);
        }
    }
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random mostly-valid text with occasional corruption, long enough for the 32-byte ASCII path,
 * validated whole and in random pieces, against the reference. */
TEST(random_against_reference)
{
    static const char *pieces[] = {"a",
                                   "hello world, ",
                                   "\xc3\xa9",
                                   "\xe2\x82\xac",
                                   "\xf0\x9f\x98\x80",
                                   "0123456789abcdef0123456789abcdef",
                                   "\xed\x9f\xbf",
                                   "\xf4\x8f\xbf\xbf"};
    uint8_t buf[600];
    rng_state = 0x1234567887654321u;
    printf("random_against_reference: seed 0x1234567887654321\n");
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = 0, target = (size_t)(rnd() % 500);
        while (n < target) {
            const char *p = pieces[rnd() % 8];
            size_t l = strlen(p);
            memcpy(buf + n, p, l);
            n += l;
        }
        if (n && rnd() % 2)
            buf[rnd() % n] = (uint8_t)rnd();
        bool want = ref_valid(buf, n);
        CHECK_EQ_INT(wsc__utf8_valid(buf, n), want);
        wsc__utf8 st = WSC__UTF8_INIT;
        bool ok = true;
        for (size_t pos = 0; pos < n;) {
            size_t k = (size_t)(rnd() % 40);
            if (k > n - pos)
                k = n - pos;
            ok = wsc__utf8_feed(&st, buf + pos, k) && ok;
            pos += k;
        }
        CHECK_EQ_INT(ok && wsc__utf8_complete(&st), want);
    }
}

/* One invalid byte at every position of a long ASCII buffer (every offset relative to the 8- and
 * 32-byte fast paths) is found, and fed in two pieces it fails in the piece holding it. */
TEST(ascii_fast_path_positions)
{
    uint8_t buf[300];
    for (size_t n = 1; n <= sizeof buf; n += 7)
        for (size_t pos = 0; pos < n; pos++) {
            memset(buf, 'x', n);
            buf[pos] = 0x80;
            CHECK(!wsc__utf8_valid(buf, n));
            wsc__utf8 st = WSC__UTF8_INIT;
            size_t cut = pos / 2;
            CHECK(wsc__utf8_feed(&st, buf, cut));
            CHECK(!wsc__utf8_feed(&st, buf + cut, n - cut));
            buf[pos] = 'y';
            CHECK(wsc__utf8_valid(buf, n));
        }
}

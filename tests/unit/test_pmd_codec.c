/* permessage-deflate codec: RFC 7692 section 7.2.3's examples, round trips for every window size
 * with and without context takeover, input split at every byte, the size cap and corrupt data. */
#include "../test.h"

#include "deflate/pmd_codec.h"

/* A growable heap sink that records the largest room it was asked for. */
typedef struct {
    uint8_t *data;
    size_t cap, most;
    bool fail; /* refuse every request (out of memory) */
} sink_buf;

static uint8_t *sink_room(void *ctx, size_t have, size_t need)
{
    sink_buf *b = ctx;
    if (need > b->most)
        b->most = need;
    if (b->fail)
        return NULL;
    if (need > b->cap) {
        uint8_t *p = realloc(b->data, need);
        if (!p)
            return NULL;
        b->data = p;
        b->cap = need;
    }
    (void)have;
    return b->data;
}

static void sink_free(sink_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* Inflates one message given as `parts` chunks of the given sizes (the rest in the last). */
static enum wsc__infl_result inflate_parts(wsc__inflater *f, const uint8_t *in, size_t n,
                                           const size_t *cuts, int ncuts, size_t max, sink_buf *out,
                                           size_t *len)
{
    wsc__pmd_sink sink = {sink_room, out};
    size_t at = 0;
    *len = 0;
    for (int i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        enum wsc__infl_result r =
            wsc__inflate_chunk(f, in + at, end - at, i == ncuts, max, &sink, len);
        if (r != WSC__INFL_OK)
            return r;
        at = end;
    }
    return WSC__INFL_OK;
}

static enum wsc__infl_result inflate_whole(wsc__inflater *f, const uint8_t *in, size_t n,
                                           size_t max, sink_buf *out, size_t *len)
{
    return inflate_parts(f, in, n, NULL, 0, max, out, len);
}

/* Compresses a message into a fresh heap buffer (freed by the caller). */
static uint8_t *deflate_copy(wsc__deflater *d, const void *in, size_t n, size_t *len)
{
    sink_buf b = {0};
    wsc__pmd_sink sink = {sink_room, &b};
    uint8_t *out;
    if (wsc__deflate_message(d, in, n, &sink, 0, &out, len) != 0) {
        sink_free(&b);
        return NULL;
    }
    return b.data;
}

static const uint8_t hello_c[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};

static bool inflates_to(wsc__inflater *f, const uint8_t *in, size_t n, const char *want)
{
    sink_buf out = {0};
    size_t len;
    bool ok = inflate_whole(f, in, n, 0, &out, &len) == WSC__INFL_OK && len == strlen(want) &&
              (len == 0 || memcmp(out.data, want, len) == 0);
    sink_free(&out);
    return ok;
}

/* 7.2.3.1: a message compressed in one frame. */
TEST(rfc_hello)
{
    wsc__inflater f;
    wsc__inflater_init(&f, 15, true);
    EXPECT(inflates_to(&f, hello_c, sizeof hello_c, "Hello"));
    EXPECT(f.z == NULL); /* no context takeover: no state between messages */
    wsc__inflater_end(&f);
}

/* 7.2.3.1 the other way: zlib compresses "Hello" to the RFC's bytes. */
TEST(rfc_hello_deflate)
{
    wsc__deflater d;
    size_t n;
    wsc__deflater_init(&d, 15, 6, true, false);
    uint8_t *c = deflate_copy(&d, "Hello", 5, &n);
    CHECK(c != NULL);
    EXPECT_EQ_INT(n, sizeof hello_c);
    EXPECT_EQ_MEM(c, hello_c, sizeof hello_c);
    EXPECT(d.z == NULL);
    free(c);
    wsc__deflater_end(&d);
}

/* 7.2.3.2: the same compressed message in two fragments, cut at every byte. */
TEST(rfc_hello_fragmented)
{
    for (size_t cut = 0; cut <= sizeof hello_c; cut++) {
        wsc__inflater f;
        sink_buf out = {0};
        size_t len;
        wsc__inflater_init(&f, 15, false);
        EXPECT_EQ_INT(inflate_parts(&f, hello_c, sizeof hello_c, &cut, 1, 0, &out, &len),
                      WSC__INFL_OK);
        EXPECT_EQ_INT(len, 5);
        EXPECT_EQ_MEM(out.data, "Hello", 5);
        sink_free(&out);
        wsc__inflater_end(&f);
    }
}

/* 7.2.3.3: a DEFLATE block with no compression (stored). */
TEST(rfc_stored_block)
{
    static const uint8_t v[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    wsc__inflater f;
    wsc__inflater_init(&f, 15, true);
    EXPECT(inflates_to(&f, v, sizeof v, "Hello"));
    wsc__inflater_end(&f);
}

/* 7.2.3.2 (sharing the LZ77 window): the second "Hello" refers back into the first, both ways. */
TEST(rfc_shared_window)
{
    static const uint8_t second[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    wsc__inflater f;
    wsc__inflater_init(&f, 15, false);
    EXPECT(inflates_to(&f, hello_c, sizeof hello_c, "Hello"));
    EXPECT(f.z != NULL); /* context takeover keeps the window */
    EXPECT(inflates_to(&f, second, sizeof second, "Hello"));
    wsc__inflater_end(&f);

    /* Without the first message's window the second one cannot be inflated. */
    wsc__inflater_init(&f, 15, true);
    EXPECT(inflates_to(&f, hello_c, sizeof hello_c, "Hello"));
    EXPECT(!inflates_to(&f, second, sizeof second, "Hello"));
    wsc__inflater_end(&f);

    wsc__deflater d;
    size_t n1, n2;
    wsc__deflater_init(&d, 15, 6, false, false);
    uint8_t *c1 = deflate_copy(&d, "Hello", 5, &n1);
    uint8_t *c2 = deflate_copy(&d, "Hello", 5, &n2);
    CHECK(c1 && c2);
    EXPECT_EQ_INT(n1, sizeof hello_c);
    EXPECT_EQ_MEM(c1, hello_c, sizeof hello_c);
    EXPECT_EQ_INT(n2, sizeof second);
    EXPECT_EQ_MEM(c2, second, sizeof second);
    free(c1);
    free(c2);
    wsc__deflater_end(&d);
}

/* 7.2.3.4: a block with BFINAL set; the byte after it is ignored. With context takeover the
   window still serves the next message. */
TEST(rfc_bfinal)
{
    static const uint8_t v[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
    static const uint8_t second[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    wsc__inflater f;
    wsc__inflater_init(&f, 15, false);
    EXPECT(inflates_to(&f, v, sizeof v, "Hello"));
    EXPECT(inflates_to(&f, second, sizeof second, "Hello"));
    EXPECT(inflates_to(&f, hello_c, sizeof hello_c, "Hello"));
    wsc__inflater_end(&f);
    for (size_t cut = 0; cut <= sizeof v; cut++) {
        sink_buf out = {0};
        size_t len;
        wsc__inflater_init(&f, 15, true);
        EXPECT_EQ_INT(inflate_parts(&f, v, sizeof v, &cut, 1, 0, &out, &len), WSC__INFL_OK);
        EXPECT_EQ_INT(len, 5);
        sink_free(&out);
        wsc__inflater_end(&f);
    }
}

/* 7.2.3.5: two DEFLATE blocks in one message. */
TEST(rfc_two_blocks)
{
    static const uint8_t v[] = {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff,
                                0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00};
    wsc__inflater f;
    wsc__inflater_init(&f, 15, true);
    EXPECT(inflates_to(&f, v, sizeof v, "Hello"));
    wsc__inflater_end(&f);
}

/* 7.2.3.6: an empty message is the single byte 00; an empty payload inflates to nothing too. */
TEST(rfc_empty)
{
    static const uint8_t z[] = {0x00};
    wsc__inflater f;
    wsc__inflater_init(&f, 15, false);
    EXPECT(inflates_to(&f, z, 1, ""));
    EXPECT(inflates_to(&f, z, 0, ""));
    EXPECT(inflates_to(&f, hello_c, sizeof hello_c, "Hello"));
    wsc__inflater_end(&f);

    wsc__deflater d;
    size_t n;
    wsc__deflater_init(&d, 15, 6, false, false);
    for (int i = 0; i < 2; i++) {
        uint8_t *c = deflate_copy(&d, "", 0, &n);
        CHECK(c != NULL);
        EXPECT_EQ_INT(n, 1);
        EXPECT_EQ_INT(c[0], 0);
        free(c);
    }
    wsc__deflater_end(&d);
}

/* Test data: compressible text, incompressible bytes, and runs, from a fixed seed. */
static void fill(uint8_t *p, size_t n, unsigned kind, uint32_t *seed)
{
    static const char words[] = "{\"id\":12,\"name\":\"wsc\",\"tags\":[\"a\",\"b\"],\"ok\":true} ";
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        switch (kind % 3) {
        case 0: /* records repeating with a shift now and then, and a random digit */
            if (i % 200 == 0)
                off = *seed >> 26;
            p[i] = (uint8_t)words[(i + off) % (sizeof words - 1)];
            if (p[i] == '2')
                p[i] = (uint8_t)('0' + (*seed >> 20) % 10);
            break;
        case 1:
            p[i] = (uint8_t)(*seed >> 16);
            break;
        default:
            p[i] = (uint8_t)('a' + (i / 300) % 3);
            break;
        }
    }
}

/* Messages of several sizes and kinds through one deflater and one inflater for a window size
   and takeover setting; the deflater limited to 8 bits compresses with 9 (zlib's least), which
   zlib keeps within 8 bits' distances, so the peer's 256-byte window inflates it. */
static void round_trip(unsigned bits, bool reset, bool keep)
{
    static const size_t sizes[] = {0, 1, 5, 200, 255, 256, 257, 1000, 4096, 40000, 70000};
    wsc__deflater d;
    wsc__inflater f;
    uint32_t seed = bits * 7u + reset;
    wsc__deflater_init(&d, bits, 6, reset, keep);
    wsc__inflater_init(&f, bits, reset);
    for (unsigned round = 0; round < 2 && TEST_OK(); round++) {
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && TEST_OK(); i++) {
            for (unsigned kind = 0; kind < 3 && TEST_OK(); kind++) {
                size_t n = sizes[i], cn, len;
                uint8_t *msg = malloc(n ? n : 1);
                CHECK(msg);
                fill(msg, n, kind, &seed);
                uint8_t *c = deflate_copy(&d, msg, n, &cn);
                if (!c)
                    free(msg);
                CHECK(c);
                EXPECT(n == 0 || (reset && !keep ? d.z == NULL : d.z != NULL));
                sink_buf out = {0};
                EXPECT_EQ_INT(inflate_whole(&f, c, cn, n, &out, &len), WSC__INFL_OK);
                EXPECT_EQ_INT(len, n);
                EXPECT_EQ_MEM(out.data, msg, n);
                EXPECT(reset ? f.z == NULL : f.z != NULL);
                if (kind == 0 && n >= 1000)
                    EXPECT(cn < n / 2); /* text compresses */
                sink_free(&out);
                free(c);
                free(msg);
            }
        }
    }
    if (!TEST_OK())
        fprintf(stderr, "  (bits %u, reset %d, keep %d)\n", bits, reset, keep);
    wsc__deflater_end(&d);
    wsc__inflater_end(&f);
}

TEST(round_trip_every_window)
{
    for (unsigned bits = 8; bits <= 15 && TEST_OK(); bits++) {
        round_trip(bits, false, false);
        round_trip(bits, true, false);
        round_trip(bits, true, true);
    }
}

/* Every level compresses to something that inflates back. */
TEST(round_trip_levels)
{
    uint8_t msg[3000];
    uint32_t seed = 1;
    fill(msg, sizeof msg, 0, &seed);
    for (int level = -1; level <= 10 && TEST_OK(); level++) {
        wsc__deflater d;
        wsc__inflater f;
        size_t cn, len;
        sink_buf out = {0};
        wsc__deflater_init(&d, 15, level, false, false);
        wsc__inflater_init(&f, 15, false);
        uint8_t *c = deflate_copy(&d, msg, sizeof msg, &cn);
        CHECK(c);
        EXPECT_EQ_INT(inflate_whole(&f, c, cn, 0, &out, &len), WSC__INFL_OK);
        EXPECT_EQ_INT(len, sizeof msg);
        EXPECT_EQ_MEM(out.data, msg, sizeof msg);
        sink_free(&out);
        free(c);
        wsc__deflater_end(&d);
        wsc__inflater_end(&f);
    }
}

/* Small messages, compressed data split into two chunks at every byte and three chunks at every
   pair of cuts, with and without context takeover (several messages in a row). */
TEST(split_every_byte)
{
    for (int reset = 0; reset < 2 && TEST_OK(); reset++) {
        wsc__deflater d;
        wsc__inflater f;
        uint32_t seed = 99;
        wsc__deflater_init(&d, 15, 6, reset, false);
        wsc__inflater_init(&f, 15, reset);
        for (unsigned m = 0; m < 6 && TEST_OK(); m++) {
            uint8_t msg[120];
            size_t n = 20 + m * 20, cn, len;
            fill(msg, n, m, &seed);
            uint8_t *c = deflate_copy(&d, msg, n, &cn);
            CHECK(c);
            /* Each split inflates the same message on a copy of the stream state: replay the
               earlier messages into a fresh inflater for every split (context takeover). */
            for (size_t a = 0; a <= cn && TEST_OK(); a++) {
                for (size_t b = a; b <= cn && TEST_OK(); b += (cn > 40 ? 7 : 1)) {
                    wsc__inflater g;
                    sink_buf out = {0};
                    size_t cuts[2] = {a, b};
                    if (!reset) {
                        /* g must hold the window of the messages before: re-run them. */
                        wsc__deflater d2;
                        wsc__deflater_init(&d2, 15, 6, false, false);
                        wsc__inflater_init(&g, 15, false);
                        uint32_t s2 = 99;
                        for (unsigned k = 0; k < m; k++) {
                            uint8_t prev[120];
                            size_t pn = 20 + k * 20, pc, pl;
                            fill(prev, pn, k, &s2);
                            uint8_t *pcb = deflate_copy(&d2, prev, pn, &pc);
                            sink_buf o2 = {0};
                            EXPECT(pcb && inflate_whole(&g, pcb, pc, 0, &o2, &pl) == WSC__INFL_OK);
                            sink_free(&o2);
                            free(pcb);
                        }
                        wsc__deflater_end(&d2);
                    } else {
                        wsc__inflater_init(&g, 15, true);
                    }
                    EXPECT_EQ_INT(inflate_parts(&g, c, cn, cuts, 2, 0, &out, &len), WSC__INFL_OK);
                    EXPECT_EQ_INT(len, n);
                    EXPECT_EQ_MEM(out.data, msg, n);
                    sink_free(&out);
                    wsc__inflater_end(&g);
                }
            }
            /* And the connection's own inflater, one byte at a time. */
            size_t cuts[128];
            int nc = 0;
            for (size_t k = 1; k < cn && nc < 128; k++)
                cuts[nc++] = k;
            sink_buf out = {0};
            EXPECT_EQ_INT(inflate_parts(&f, c, cn, cuts, nc, 0, &out, &len), WSC__INFL_OK);
            EXPECT_EQ_INT(len, n);
            EXPECT_EQ_MEM(out.data, msg, n);
            sink_free(&out);
            free(c);
        }
        wsc__deflater_end(&d);
        wsc__inflater_end(&f);
    }
}

/* A decompression bomb: 64 MiB of zeros compress to ~64 KiB; with a 1 MiB cap inflating stops at
   the cap, having asked for no more room than the cap. */
TEST(bomb_capped)
{
    size_t n = 64u << 20, cn, len;
    uint8_t *zeros = calloc(1, n);
    CHECK(zeros);
    wsc__deflater d;
    wsc__deflater_init(&d, 15, 9, true, false);
    uint8_t *c = deflate_copy(&d, zeros, n, &cn);
    free(zeros);
    CHECK(c);
    EXPECT(cn < n / 500);
    for (int split = 0; split < 2; split++) {
        wsc__inflater f;
        sink_buf out = {0};
        size_t cut = cn / 2;
        wsc__inflater_init(&f, 15, false);
        EXPECT_EQ_INT(inflate_parts(&f, c, cn, &cut, split, 1u << 20, &out, &len),
                      WSC__INFL_TOO_BIG);
        EXPECT(out.most <= 1u << 20);
        EXPECT(f.z == NULL); /* an error ends the state */
        sink_free(&out);
        wsc__inflater_end(&f);
    }
    free(c);
    wsc__deflater_end(&d);
}

/* The cap is exact: a message of max bytes passes, one of max + 1 does not. */
TEST(cap_exact)
{
    uint8_t msg[5001];
    uint32_t seed = 5;
    fill(msg, sizeof msg, 0, &seed);
    for (size_t n = 4999; n <= 5001; n++) {
        wsc__deflater d;
        wsc__inflater f;
        size_t cn, len;
        sink_buf out = {0};
        wsc__deflater_init(&d, 15, 6, true, false);
        wsc__inflater_init(&f, 15, true);
        uint8_t *c = deflate_copy(&d, msg, n, &cn);
        CHECK(c);
        EXPECT_EQ_INT(inflate_whole(&f, c, cn, 5000, &out, &len),
                      n <= 5000 ? WSC__INFL_OK : WSC__INFL_TOO_BIG);
        EXPECT(out.most <= 5000);
        sink_free(&out);
        free(c);
        wsc__deflater_end(&d);
        wsc__inflater_end(&f);
    }
}

TEST(corrupt)
{
    static const uint8_t bad_type[] = {0xff, 0xff, 0xff};             /* block type 3 */
    static const uint8_t bad_nlen[] = {0x00, 0x05, 0x00, 0x00, 0x00}; /* NLEN != ~LEN */
    /* 7.2.3.2's second message refers back to the first: alone, a distance before the start. */
    static const uint8_t far_back[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
    const struct {
        const uint8_t *p;
        size_t n;
    } cases[] = {
        {bad_type, sizeof bad_type}, {bad_nlen, sizeof bad_nlen}, {far_back, sizeof far_back}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsc__inflater f;
        sink_buf out = {0};
        size_t len;
        wsc__inflater_init(&f, 15, false);
        EXPECT_EQ_INT(inflate_whole(&f, cases[i].p, cases[i].n, 0, &out, &len), WSC__INFL_CORRUPT);
        EXPECT(f.z == NULL);
        sink_free(&out);
        wsc__inflater_end(&f);
    }
}

/* A sink out of memory fails cleanly, both ways. */
TEST(out_of_memory)
{
    wsc__deflater d;
    wsc__inflater f;
    sink_buf b = {.fail = true};
    wsc__pmd_sink sink = {sink_room, &b};
    uint8_t *out;
    size_t n = 0;
    wsc__deflater_init(&d, 15, 6, false, false);
    EXPECT_EQ_INT(wsc__deflate_message(&d, "Hello", 5, &sink, 0, &out, &n), -1);
    EXPECT(d.z == NULL);
    wsc__inflater_init(&f, 15, false);
    EXPECT_EQ_INT(wsc__inflate_chunk(&f, hello_c, sizeof hello_c, true, 0, &sink, &n),
                  WSC__INFL_NOMEM);
    EXPECT(f.z == NULL);
}

/* The head left for a frame header is kept in front of the compressed bytes. */
TEST(deflate_head)
{
    wsc__deflater d;
    sink_buf b = {0};
    wsc__pmd_sink sink = {sink_room, &b};
    uint8_t *out;
    size_t n;
    wsc__deflater_init(&d, 15, 6, true, false);
    CHECK(wsc__deflate_message(&d, "Hello", 5, &sink, 10, &out, &n) == 0);
    EXPECT(out == b.data);
    EXPECT_EQ_INT(n, sizeof hello_c);
    EXPECT_EQ_MEM(out + 10, hello_c, sizeof hello_c);
    sink_free(&b);
    wsc__deflater_end(&d);
}

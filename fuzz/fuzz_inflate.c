/* libFuzzer target: permessage-deflate inflation with a size cap, and compression round trips.
 *
 * Input: byte 0 holds flags: bits 0-2 the window bits (8 + value), bit 3 no context takeover,
 * bit 4 round-trip mode, bit 5 small cap. Byte 1 picks where the data is cut into chunks. The
 * rest is split into messages at each 0xFE 0xFE pair.
 * - inflate mode: each message is compressed data fed to one inflater in chunks. Invariants: the
 *   sink is never asked for more than the cap; a message that inflates OK is at most the cap; an
 *   error ends the stream (the connection would close), and nothing leaks.
 * - round-trip mode: each message is plain data, compressed and inflated back in chunks through
 *   one deflater and one inflater: the output equals the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deflate/pmd_codec.h"
#include "fuzz_util.h"

enum { CAP = 65536, SMALL_CAP = 300 };

typedef struct {
    uint8_t *data;
    size_t cap, most;
} heap_sink;

static uint8_t *room(void *ctx, size_t have, size_t need)
{
    heap_sink *b = ctx;
    (void)have;
    if (need > b->most)
        b->most = need;
    if (need > b->cap) {
        uint8_t *p = realloc(b->data, need);
        if (!p)
            return NULL;
        b->data = p;
        b->cap = need;
    }
    return b->data;
}

/* Inflates in[0..n) as one message in chunks of about `step` bytes. */
static enum wsc__infl_result inflate_msg(wsc__inflater *f, const uint8_t *in, size_t n, size_t step,
                                         size_t cap, heap_sink *out, size_t *len)
{
    wsc__pmd_sink sink = {room, out};
    size_t at = 0;
    *len = 0;
    do {
        size_t k = n - at < step ? n - at : step;
        /* Each chunk in an allocation of its own exact size: a read past it is caught. */
        uint8_t *chunk = (uint8_t *)fuzz_copy(NULL, in + at, k);
        enum wsc__infl_result r = wsc__inflate_chunk(f, chunk, k, at + k == n, cap, &sink, len);
        free(chunk);
        at += k;
        if (r != WSC__INFL_OK)
            return r;
    } while (at < n);
    return WSC__INFL_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned flags = data[0];
    unsigned bits = 8 + (flags & 7);
    bool reset = flags & 8, round_trip = flags & 16;
    size_t cap = (flags & 32) ? SMALL_CAP : CAP;
    size_t step = 1 + data[1] % 64;
    data += 2;
    size_t size_left = size - 2;

    wsc__inflater f;
    wsc__deflater d;
    wsc__inflater_init(&f, bits, reset);
    wsc__deflater_init(&d, bits, (int)(flags >> 6) * 3, reset, false);
    while (size_left) {
        size_t n = 0;
        while (n < size_left && !(n + 1 < size_left && data[n] == 0xFE && data[n + 1] == 0xFE))
            n++;
        heap_sink out = {0};
        size_t len;
        if (round_trip) {
            heap_sink comp = {0};
            wsc__pmd_sink sink = {room, &comp};
            uint8_t *c;
            size_t cn;
            ASSERT(wsc__deflate_message(&d, data, n, &sink, 0, &c, &cn) == 0);
            enum wsc__infl_result r = inflate_msg(&f, c, cn, step, 0, &out, &len);
            ASSERT(r == WSC__INFL_OK);
            ASSERT(len == n);
            ASSERT(n == 0 || memcmp(out.data, data, n) == 0);
            free(comp.data);
        } else {
            enum wsc__infl_result r = inflate_msg(&f, data, n, step, cap, &out, &len);
            ASSERT(out.most <= cap);
            if (r == WSC__INFL_OK)
                ASSERT(len <= cap);
            else
                ASSERT(f.z == NULL);
        }
        free(out.data);
        if (!round_trip && f.z == NULL && !reset)
            wsc__inflater_init(&f, bits, reset); /* after an error: a new connection */
        n += n < size_left ? 2 : 0;
        if (n > size_left)
            n = size_left;
        data += n;
        size_left -= n;
    }
    wsc__inflater_end(&f);
    wsc__deflater_end(&d);
    return 0;
}

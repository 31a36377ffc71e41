/* permessage-deflate compression and decompression on zlib (see pmd_codec.h). */
#include "deflate/pmd_codec.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct wsc__zstate {
    z_stream s;
};

/* RFC 7692 7.2.1: what a sync flush ends with, removed by the sender and put back by the
   receiver. */
static const uint8_t flush_tail[4] = {0x00, 0x00, 0xff, 0xff};

enum {
    ZLIB_BITS_MIN = 9,    /* raw deflate in zlib refuses 8 (pmd_codec.h) */
    OUT_SLACK = 64,       /* room beyond the estimate: zlib wants > 6 bytes to finish a flush */
    INFLATE_FIRST = 1024, /* the least room asked for a message's first inflated bytes */
};

static unsigned chunk_uint(size_t n)
{
    return n > UINT_MAX ? UINT_MAX : (unsigned)n;
}

void wsc__deflater_init(wsc__deflater *d, unsigned bits, int level, bool reset, bool keep)
{
    if (bits < ZLIB_BITS_MIN)
        bits = ZLIB_BITS_MIN;
    if (bits > 15)
        bits = 15;
    if (level < 0 || level > 9)
        level = 6;
    *d = (wsc__deflater){
        .bits = (uint8_t)bits, .level = (uint8_t)level, .reset = reset, .keep = reset && keep};
}

void wsc__deflater_end(wsc__deflater *d)
{
    if (!d->z)
        return;
    deflateEnd(&d->z->s);
    free(d->z);
    d->z = NULL;
}

/* Makes the zlib state for a message of n bytes. A stream made for one message only (no context
   takeover, not kept) needs no window larger than the message: a smaller window and hash table
   make its setup (zlib clears the hash table) and its memory proportionally cheaper, and the
   peer's larger window inflates it all the same. */
static int deflater_open(wsc__deflater *d, size_t n)
{
    unsigned bits = d->bits;
    if (d->reset && !d->keep) {
        unsigned fit = ZLIB_BITS_MIN;
        while (fit < bits && ((size_t)1 << fit) < n)
            fit++;
        bits = fit;
    }
    /* memLevel sizes the hash table (2^(memLevel + 7) entries) and the block buffer: half an
       entry per window byte. Measured on 1 KiB JSON messages, a larger table bought no
       compression and cost cache misses once many streams are alive. */
    int mem = (int)bits - 8;
    if (mem < 1)
        mem = 1;
    d->z = calloc(1, sizeof *d->z);
    if (!d->z)
        return -1;
    if (deflateInit2(&d->z->s, d->level, Z_DEFLATED, -(int)bits, mem, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(d->z);
        d->z = NULL;
        return -1;
    }
    return 0;
}

/* After a message without context takeover: the next one starts from an empty window. */
static void deflater_after(wsc__deflater *d)
{
    if (!d->reset)
        return;
    if (d->keep)
        deflateReset(&d->z->s);
    else
        wsc__deflater_end(d);
}

int wsc__deflate_message(wsc__deflater *d, const void *in, size_t n, const wsc__pmd_sink *sink,
                         size_t head, uint8_t **out, size_t *out_len)
{
    if (n == 0) {
        /* 7.2.3.6: an empty message is an empty stored block without its tail, the byte 00. The
           stream is left alone: zlib would refuse a second flush in a row with nothing new. */
        uint8_t *base = sink->room(sink->ctx, 0, head + 1);
        if (!base)
            return -1;
        base[head] = 0x00;
        *out = base;
        *out_len = 1;
        return 0;
    }
    if (!d->z && deflater_open(d, n) != 0)
        return -1;
    z_stream *s = &d->z->s;
    const uint8_t *src = in;
    size_t left = n;
    /* Compressible text needs much less; what does not compress grows a little. */
    size_t cap = head + n + n / 64 + OUT_SLACK;
    uint8_t *base = sink->room(sink->ctx, 0, cap);
    size_t have = head;
    if (!base)
        goto fail;
    s->next_in = NULL;
    s->avail_in = 0;
    for (;;) {
        if (s->avail_in == 0 && left) {
            s->next_in = (Bytef *)src;
            s->avail_in = chunk_uint(left);
            src += s->avail_in;
            left -= s->avail_in;
        }
        if (cap - have < OUT_SLACK) {
            size_t want = cap + cap / 2 + OUT_SLACK;
            if (want < cap || !(base = sink->room(sink->ctx, have, want)))
                goto fail;
            cap = want;
        }
        s->next_out = base + have;
        s->avail_out = chunk_uint(cap - have);
        int flush = left ? Z_NO_FLUSH : Z_SYNC_FLUSH;
        int rc = deflate(s, flush);
        have = (size_t)(s->next_out - base);
        if (rc == Z_STREAM_ERROR)
            goto fail;
        /* Done when the flush finished with room to spare (zlib's rule: a flush that filled the
           output exactly may have more to write). */
        if (!left && s->avail_in == 0 && flush == Z_SYNC_FLUSH && s->avail_out != 0)
            break;
    }
    /* The sync flush always ends with an empty stored block, byte-aligned: its LEN and NLEN. */
    if (have - head < 4 || memcmp(base + have - 4, flush_tail, 4) != 0)
        goto fail;
    *out = base;
    *out_len = have - head - 4;
    deflater_after(d);
    return 0;
fail:
    wsc__deflater_end(d);
    return -1;
}

void wsc__inflater_init(wsc__inflater *f, unsigned bits, bool reset)
{
    if (bits < 8 || bits > 15)
        bits = 15;
    *f = (wsc__inflater){.bits = (uint8_t)bits, .reset = reset};
}

void wsc__inflater_end(wsc__inflater *f)
{
    if (f->z) {
        inflateEnd(&f->z->s);
        free(f->z);
        f->z = NULL;
    }
    f->done = false;
    f->any = false;
}

static int inflater_open(wsc__inflater *f)
{
    f->z = calloc(1, sizeof *f->z);
    if (!f->z)
        return -1;
    if (inflateInit2(&f->z->s, -(int)f->bits) != Z_OK) {
        free(f->z);
        f->z = NULL;
        return -1;
    }
    return 0;
}

/* The message is complete. Without context takeover its state goes (none is kept between
   messages). With it, the window stays; deflate data that ended with a final block (7.2.3.4)
   ended zlib's stream, so a new one starts with the same window as its dictionary. */
static enum wsc__infl_result inflater_after(wsc__inflater *f)
{
    f->any = false;
    if (f->reset) {
        wsc__inflater_end(f);
        return WSC__INFL_OK;
    }
    if (!f->done)
        return WSC__INFL_OK;
    f->done = false;
    z_stream *s = &f->z->s;
    uInt dl = 1u << 15;
    uint8_t *dict = malloc(dl);
    bool ok = dict && inflateGetDictionary(s, dict, &dl) == Z_OK && inflateReset(s) == Z_OK &&
              (!dl || inflateSetDictionary(s, dict, dl) == Z_OK);
    free(dict);
    if (!ok) {
        wsc__inflater_end(f);
        return WSC__INFL_NOMEM;
    }
    return WSC__INFL_OK;
}

static enum wsc__infl_result inflate_fail(wsc__inflater *f, enum wsc__infl_result r)
{
    wsc__inflater_end(f);
    return r;
}

enum wsc__infl_result wsc__inflate_chunk(wsc__inflater *f, const uint8_t *in, size_t n, bool last,
                                         size_t max, const wsc__pmd_sink *sink, size_t *have)
{
    if (!f->z && inflater_open(f) != 0)
        return WSC__INFL_NOMEM;
    if (f->done) /* the deflate data ended: the rest of the message is ignored */
        return last ? inflater_after(f) : WSC__INFL_OK;
    z_stream *s = &f->z->s;
    size_t limit = max ? max : SIZE_MAX;
    size_t cap = *have; /* room known to be in base (none yet: the first output asks) */
    uint8_t *base = NULL, probe;
    /* A message with no payload at all is empty: the tail alone would start a stored block and
       leave the stream waiting for its bytes. */
    bool tail_fed = !last || (n == 0 && !f->any), full = false;
    if (n)
        f->any = true;
    s->avail_in = 0;
    for (;;) {
        /* zlib may hold output it had no room for even when all input was consumed. */
        if (s->avail_in == 0 && !full) {
            if (n) {
                s->next_in = (Bytef *)in;
                s->avail_in = chunk_uint(n);
                in += s->avail_in;
                n -= s->avail_in;
            } else if (!tail_fed) {
                s->next_in = (Bytef *)flush_tail;
                s->avail_in = sizeof flush_tail;
                tail_fed = true;
            } else {
                break;
            }
        }
        bool probing = *have == cap && cap >= limit;
        if (probing) {
            /* At the limit: one more byte of output means the message is too big. The peer
               cannot make us hold more than the limit, nor work for more than it. */
            s->next_out = &probe;
            s->avail_out = 1;
        } else {
            if (*have == cap) {
                size_t step = cap / 2;
                /* Text inflates to a few times its compressed size; more is found as it comes. */
                size_t guess = (size_t)s->avail_in * 4 + INFLATE_FIRST;
                if (guess < s->avail_in)
                    guess = SIZE_MAX;
                if (step < guess)
                    step = guess;
                size_t want = step > limit - cap ? limit : cap + step;
                if (!(base = sink->room(sink->ctx, *have, want)))
                    return inflate_fail(f, WSC__INFL_NOMEM);
                cap = want;
            } else if (!base && !(base = sink->room(sink->ctx, *have, cap))) {
                return inflate_fail(f, WSC__INFL_NOMEM);
            }
            s->next_out = base + *have;
            s->avail_out = chunk_uint(cap - *have);
        }
        int rc = inflate(s, Z_SYNC_FLUSH);
        full = s->avail_out == 0;
        if (probing) {
            if (full)
                return inflate_fail(f, WSC__INFL_TOO_BIG);
        } else {
            *have = (size_t)(s->next_out - base);
        }
        if (rc == Z_STREAM_END) {
            f->done = true;
            break;
        }
        if (rc == Z_MEM_ERROR)
            return inflate_fail(f, WSC__INFL_NOMEM);
        if (rc != Z_OK && rc != Z_BUF_ERROR) /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
            return inflate_fail(f, WSC__INFL_CORRUPT);
    }
    return last ? inflater_after(f) : WSC__INFL_OK;
}

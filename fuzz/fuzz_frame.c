/* libFuzzer target: the message reader over arbitrary bytes, both roles, all flag combinations.
 *
 * Input: byte 0 selects role, flags and size cap; bytes 1-4 seed the split points; the rest is the
 * stream. The stream is fed three ways (whole, split at pseudo-random points through a small caller
 * buffer, one byte at a time); besides never crashing, every call must keep the contract (consumed
 * <= len, payload pointers inside the consumed bytes, NEED_MORE and ERROR consume nothing, errors
 * stick) and the three ways must report exactly the same messages, control frames and error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/close.h"
#include "proto/frame.h"
#include "proto/reader.h"
#include "proto/utf8.h"

/* A digest of what the reader reported, compared between feeding modes. */
struct digest {
    uint64_t h;
    size_t messages, controls;
    unsigned error;
    size_t left;
};

static void mix(struct digest *d, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 0x100000001B3u;
}

static void mix_u64(struct digest *d, uint64_t v)
{
    mix(d, &v, sizeof v);
}

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

enum { WHOLE, SPLIT, BYTES };

static void run(const uint8_t *stream, size_t n, enum wsc__role role, uint64_t max, unsigned flags,
                int mode, uint32_t seed, struct digest *d)
{
    size_t cap = mode == WHOLE ? (n > WSC__CONTROL_FRAME_MAX ? n : WSC__CONTROL_FRAME_MAX)
                               : WSC__CONTROL_FRAME_MAX + (mode == SPLIT ? seed % 64 : 0);
    uint8_t *buf = malloc(cap);
    uint8_t *msg = malloc(n + 1); /* a message never holds more payload than the stream */
    size_t msg_len = 0, have = 0, spos = 0;
    int in_msg = 0;
    unsigned msg_op = 0;
    wsc__reader r;

    ASSERT(buf && msg);
    *d = (struct digest){.h = 0xCBF29CE484222325u};
    wsc__reader_init(&r, role, max, flags);
    for (;;) {
        size_t take = cap - have;
        if (take > n - spos)
            take = n - spos;
        if (mode == BYTES && take > 1)
            take = 1;
        if (mode == SPLIT && take > 1)
            take = 1 + next_rand(&seed) % take;
        memcpy(buf + have, stream + spos, take);
        have += take;
        spos += take;
        size_t pos = 0;
        for (;;) {
            wsc__event ev;
            size_t avail = have - pos;
            size_t c = wsc__reader_next(&r, buf + pos, avail, &ev);
            ASSERT(c <= avail);
            if (ev.kind == WSC__EV_NEED_MORE) {
                ASSERT(c == 0 && ev.need > avail && ev.need <= WSC__CONTROL_FRAME_MAX);
                break;
            }
            if (ev.kind == WSC__EV_ERROR) {
                ASSERT(c == 0);
                ASSERT(ev.close_code == 1002 || ev.close_code == 1007 || ev.close_code == 1009);
                ASSERT(wsc__reader_error(&r)[0] != '\0');
                wsc__event again;
                ASSERT(wsc__reader_next(&r, buf + pos, avail, &again) == 0);
                ASSERT(again.kind == WSC__EV_ERROR && again.close_code == ev.close_code);
                d->error = ev.close_code;
                goto out;
            }
            ASSERT(c > 0);
            ASSERT(ev.data >= buf + pos && ev.len <= c && ev.data + ev.len <= buf + pos + c);
            if (ev.kind == WSC__EV_DATA) {
                ASSERT(ev.opcode == WSC__OP_TEXT || ev.opcode == WSC__OP_BINARY);
                ASSERT(ev.first == !in_msg);
                ASSERT((flags & WSC__READER_RSV1) || !ev.rsv1);
                if (ev.first) {
                    in_msg = 1;
                    msg_op = ev.opcode | (ev.rsv1 ? 0x40u : 0u);
                    msg_len = 0;
                }
                ASSERT(msg_op == (ev.opcode | (ev.rsv1 ? 0x40u : 0u)));
                ASSERT(msg_len + ev.len <= n);
                if (ev.len)
                    memcpy(msg + msg_len, ev.data, ev.len);
                msg_len += ev.len;
                /* A compressed message may pass the cap by deflate's overhead on incompressible
                   data; the inflater holds its inflated size to the cap exactly. */
                ASSERT(max == 0 || msg_len <= (ev.rsv1 ? max + max / 64 + 64 : max));
                if (ev.last) {
                    in_msg = 0;
                    if ((flags & WSC__READER_UTF8) && msg_op == WSC__OP_TEXT)
                        ASSERT(wsc__utf8_valid(msg, msg_len));
                    mix(d, "M", 1);
                    mix_u64(d, msg_op);
                    mix_u64(d, msg_len);
                    mix(d, msg, msg_len);
                    d->messages++;
                }
                ASSERT(wsc__reader_in_message(&r) == in_msg);
            } else {
                ASSERT(ev.kind == WSC__EV_CONTROL);
                ASSERT(ev.opcode == WSC__OP_CLOSE || ev.opcode == WSC__OP_PING ||
                       ev.opcode == WSC__OP_PONG);
                ASSERT(ev.len <= WSC__CONTROL_MAX);
                mix(d, "C", 1);
                mix_u64(d, ev.opcode);
                mix_u64(d, ev.len);
                mix(d, ev.data, ev.len);
                if (ev.opcode == WSC__OP_CLOSE) {
                    ASSERT(ev.close_code == 1005 ? ev.len == 0
                                                 : wsc__close_code_valid_on_wire(ev.close_code));
                    ASSERT(ev.reason_len == (ev.len > 2 ? ev.len - 2 : 0));
                    ASSERT(ev.reason_len == 0 || ev.reason == ev.data + 2);
                    ASSERT(wsc__utf8_valid(ev.data + (ev.len ? 2 : 0), ev.reason_len));
                    mix_u64(d, ev.close_code);
                }
                d->controls++;
            }
            pos += c;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (spos == n)
            break;
    }
    d->left = have;
    ASSERT(have < WSC__CONTROL_FRAME_MAX);
out:
    free(buf);
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t caps[] = {0,         1,         125, 1000, 65536, UINT64_C(1) << 40,
                                    INT64_MAX, UINT64_MAX};
    if (size < 5)
        return 0;
    unsigned cfg = data[0];
    enum wsc__role role = (cfg & 1) ? WSC__ROLE_CLIENT : WSC__ROLE_SERVER;
    unsigned flags = (cfg >> 1) & 3;
    uint64_t max = caps[(cfg >> 3) & 7];
    uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
                    (uint32_t)data[4] << 24;
    if (!seed)
        seed = 1;
    const uint8_t *stream = data + 5;
    size_t n = size - 5;
    /* The reader unmasks in place, so each mode gets a fresh copy. */
    uint8_t *copy = malloc(n ? n : 1);
    ASSERT(copy);
    struct digest d[3];
    for (int mode = 0; mode < 3; mode++) {
        memcpy(copy, stream, n);
        run(copy, n, role, max, flags, mode, seed, &d[mode]);
    }
    free(copy);
    for (int mode = 1; mode < 3; mode++) {
        ASSERT(d[mode].h == d[0].h);
        ASSERT(d[mode].messages == d[0].messages && d[mode].controls == d[0].controls);
        ASSERT(d[mode].error == d[0].error);
        ASSERT(d[mode].left == d[0].left);
    }
    return 0;
}

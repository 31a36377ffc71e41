/* Frames as a test peer writes them onto the wire: a header (RFC 6455 section 5.2; the minimal
 * length encoding unless another is forced) and the payload, masked with a given key or not. The
 * server's tests (a client that may break the rules), the client's tests (a scripted server) and
 * the reader's tests all build frames with it. Header-only. */
#ifndef WSC_TESTS_TEST_FRAME_BUILD_H
#define WSC_TESTS_TEST_FRAME_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length encodings: the minimal one, or a longer one forced. Section 5.2 asks senders for the
   minimal one; a reader may accept the others, and tests check that ours does. */
enum { WT_LEN_MIN, WT_LEN_16, WT_LEN_64 };

/* Writes a frame header (section 5.2) with the given length encoding into out[14]; returns its
   length. */
static inline size_t wt_header_enc(uint8_t *out, bool fin, unsigned rsv, unsigned opcode,
                                   const uint8_t *mask, uint64_t len, int enc)
{
    size_t n;
    if (enc == WT_LEN_MIN)
        enc = len < 126 ? WT_LEN_MIN : len <= 0xffff ? WT_LEN_16 : WT_LEN_64;
    out[0] = (uint8_t)((fin ? 0x80u : 0u) | ((rsv & 7u) << 4) | (opcode & 0x0fu));
    if (enc == WT_LEN_MIN) {
        out[1] = (uint8_t)len;
        n = 2;
    } else if (enc == WT_LEN_16) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        out[1] |= 0x80u;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

/* The same with the minimal length encoding. */
static inline size_t wt_header(uint8_t *out, bool fin, unsigned rsv, unsigned opcode,
                               const uint8_t *mask, uint64_t len)
{
    return wt_header_enc(out, fin, rsv, opcode, mask, len, WT_LEN_MIN);
}

/* Writes a whole frame of payload[0..len) into out (room for 14 + len bytes), masked with key
   unless key is NULL; returns its length. */
static inline size_t wt_build_frame(uint8_t *out, bool fin, unsigned rsv, unsigned opcode,
                                    const uint8_t *key, const void *payload, size_t len)
{
    const uint8_t *p = payload;
    size_t hl = wt_header(out, fin, rsv, opcode, key, len);
    if (key)
        for (size_t k = 0; k < len; k++)
            out[hl + k] = p[k] ^ key[k & 3];
    else if (len)
        memcpy(out + hl, p, len);
    return hl + len;
}

#endif

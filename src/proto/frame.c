/* RFC 6455 section 5.2 frame header construction. */
#include "proto/frame.h"

size_t wsc__frame_header_build(uint8_t out[14], unsigned opcode, bool fin, bool rsv1,
                               uint64_t payload_len, const uint8_t *mask_key)
{
    size_t n;

    /* Section 5.2: the most significant bit of a 64-bit length MUST be 0; a peer rejects it. */
    if (payload_len > INT64_MAX)
        payload_len = INT64_MAX;
    out[0] = (uint8_t)((fin ? 0x80u : 0u) | (rsv1 ? 0x40u : 0u) | (opcode & 0x0Fu));
    if (payload_len < 126) {
        out[1] = (uint8_t)payload_len;
        n = 2;
    } else if (payload_len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        n = 4;
    } else {
        out[1] = 127;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
        n = 10;
    }
    if (mask_key) {
        out[1] |= 0x80u;
        out[n] = mask_key[0];
        out[n + 1] = mask_key[1];
        out[n + 2] = mask_key[2];
        out[n + 3] = mask_key[3];
        n += 4;
    }
    return n;
}

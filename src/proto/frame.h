/* RFC 6455 section 5.2 frame header: opcodes, limits, and the header builder.
 * I/O-free: used by both roles and by the fuzz targets. */
#ifndef WSC_PROTO_FRAME_H
#define WSC_PROTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes (section 5.2). 3-7 and 0xB-0xF are reserved and rejected by the reader. */
enum {
    WSC__OP_CONT = 0,
    WSC__OP_TEXT = 1,
    WSC__OP_BINARY = 2,
    WSC__OP_CLOSE = 8,
    WSC__OP_PING = 9,
    WSC__OP_PONG = 10
};

/* Whose side we are: a server expects masked frames and sends unmasked ones; a client the reverse.
 */
enum wsc__role { WSC__ROLE_SERVER, WSC__ROLE_CLIENT };

enum {
    WSC__FRAME_HEADER_MAX = 14, /* 2 + 8 (64-bit length) + 4 (mask key) */
    WSC__CONTROL_MAX = 125,     /* section 5.5: control payloads fit the 7-bit length */
    /* Largest complete control frame the reader may need at once: non-minimal length encodings are
       legal (section 5.2 does not require the minimal form), so a 125-byte ping can carry a 14-byte
       header. */
    WSC__CONTROL_FRAME_MAX = WSC__FRAME_HEADER_MAX + WSC__CONTROL_MAX
};

/* True for CLOSE/PING/PONG and the reserved control opcodes 0xB-0xF (opcode & 8). */
static inline bool wsc__op_is_control(unsigned opcode)
{
    return (opcode & 8u) != 0;
}

/* Length of the header wsc__frame_header_build writes for this payload length (minimal encoding).
 */
static inline size_t wsc__frame_header_len(uint64_t payload_len, bool masked)
{
    size_t n = payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10;
    return masked ? n + 4 : n;
}

/* Writes a frame header (2..14 bytes) into out with the minimal length encoding; mask_key NULL
 * means unmasked (server role), otherwise the 4 key bytes follow the length (client role). opcode
 * is taken modulo 16; payload_len must be < 2^63 (section 5.2; larger values are clamped to
 * 2^63-1). Returns the header length. The caller masks the payload itself (wsc__mask).
 * Thread-safety: pure. */
static inline size_t wsc__frame_header_build(uint8_t *out, unsigned opcode, bool fin, bool rsv1,
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

#endif

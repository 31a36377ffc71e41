/* The client side of RFC 6455 on the wire, written for the load generator
 * alone: the opening handshake (section 4.1), frame headers (section 5.2),
 * masking (section 5.3) and the deterministic payload every echo is checked
 * against. Nothing here does I/O. */
#ifndef WSC_LOAD_WIRE_H
#define WSC_LOAD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

/* Largest frame header (section 5.2: 2 + 8 length + 4 mask) and largest
 * control frame (section 5.5: payload <= 125), the most a reader must hold
 * back between reads. */
#define WIRE_MAX_HEADER 14u
#define WIRE_MAX_CONTROL (WIRE_MAX_HEADER + 125u)

/* xorshift64*: fast per-thread generator for mask keys and handshake keys.
 * Seeded from getrandom; unpredictable enough for a benchmark (a browser
 * uses a CSPRNG, a cost that falls on the client, not on the server). */
uint64_t wire_rand(uint64_t *state);

/* A fresh Sec-WebSocket-Key (24 base64 chars + NUL) and the accept value the
 * server must answer with (28 chars + NUL). */
void wire_key_new(uint64_t *rng, char key[25], char accept[29]);

/* The upgrade request; returns its length, 0 if it does not fit. */
size_t wire_request(char *out, size_t cap, const char *host, unsigned port, const char *path,
                    const char *key, const char *extensions);

/* Checks a response. Returns 0 when the header block is not complete yet,
 * the header block's length when it is a valid 101 for this key, and -1 when
 * it is not (why is written to err). */
long wire_response(const char *buf, size_t len, const char *accept, char *err, size_t err_cap);

/* What the server answered to a permessage-deflate offer (extensions offered): whether it
   accepted, and the no_context_takeover flags it set. */
struct wire_pmd {
    bool offered, on, server_nct, client_nct;
};
long wire_response_pmd(const char *buf, size_t len, const char *accept, struct wire_pmd *pmd,
                       char *err, size_t err_cap);

/* A masked client frame header with FIN set. Returns its length (6..14). */
size_t wire_frame_header(uint8_t out[WIRE_MAX_HEADER], unsigned opcode, uint64_t len,
                         const uint8_t key[4]);

struct wire_frame {
    bool fin;
    bool rsv1; /* permessage-deflate: a compressed message (first frame only) */
    unsigned opcode;
    uint64_t len;
    size_t header_len;
};

/* Parses a server frame header. Returns 1 and fills f, 0 when more bytes are
 * needed, -1 on a violation (why is written to err). */
int wire_frame_parse(const uint8_t *p, size_t n, struct wire_frame *f, char *err, size_t err_cap);
/* The same, with RSV1 allowed (permessage-deflate agreed). */
int wire_frame_parse_rsv1(const uint8_t *p, size_t n, struct wire_frame *f, char *err,
                          size_t err_cap);

/* Payload pattern: message seq of connection id is the table read from
 * payload_start(id, seq) onwards, wrapping. Printable ASCII in text mode (so
 * it is valid UTF-8), every byte value otherwise. */
void payload_init(bool text, bool json);
uint32_t payload_start(uint32_t id, uint64_t seq);
/* dst = pattern bytes [off, off + n) of the message, XORed with key (from
 * key byte off & 3, as section 5.3 requires) when key is not NULL. */
void payload_copy(uint8_t *dst, size_t n, uint32_t start, uint64_t off, const uint8_t *key);
/* True if p holds pattern bytes [off, off + n) of the message. */
bool payload_check(const uint8_t *p, size_t n, uint32_t start, uint64_t off);

#endif

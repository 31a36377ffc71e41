/* permessage-deflate for the load generator: zlib raw deflate, 15-bit windows. */
#ifndef WSC_LOAD_ZDEFLATE_H
#define WSC_LOAD_ZDEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compresses one whole message into out[0..cap) without the tail (*len bytes); reset: no context
   takeover. *state is made on first use. Returns 0 or -1. */
int zd_compress(void **state, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *len,
                bool reset);
/* Inflates one whole compressed message (tail appended here) into out[0..cap); -1 when corrupt
   or when it inflates to cap bytes or more. */
int zd_inflate(void **state, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *len,
               bool reset);
void zd_free(void **deflater, void **inflater);

#endif

/* permessage-deflate for the load generator (RFC 7692 7.2.1): whole messages compressed with a
 * sync flush and the 00 00 ff ff tail removed, inflated with the tail put back. zlib directly, not
 * the wsc library, so a bug in wsc's codec is not mirrored by the client that measures it. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "zdeflate.h"

static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};

int zd_compress(void **state, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *len,
                bool reset)
{
    z_stream *z = *state;
    if (!z) {
        z = calloc(1, sizeof *z);
        if (!z || deflateInit2(z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(z);
            return -1;
        }
        *state = z;
    }
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    int rc = deflate(z, Z_SYNC_FLUSH);
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || z->avail_in != 0 || z->avail_out == 0)
        return -1;
    size_t got = cap - z->avail_out;
    if (got < 4 || memcmp(out + got - 4, tail, 4) != 0)
        return -1;
    *len = got - 4;
    if (reset)
        deflateReset(z);
    return 0;
}

int zd_inflate(void **state, const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *len,
               bool reset)
{
    z_stream *z = *state;
    if (!z) {
        z = calloc(1, sizeof *z);
        if (!z || inflateInit2(z, -15) != Z_OK) {
            free(z);
            return -1;
        }
        *state = z;
    }
    z->next_out = out;
    z->avail_out = (uInt)cap;
    for (int part = 0; part < 2; part++) {
        z->next_in = (Bytef *)(part ? tail : in);
        z->avail_in = (uInt)(part ? sizeof tail : n);
        int rc = inflate(z, Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
            return -1;
        if (z->avail_out == 0)
            return -1; /* more than cap: longer than what was sent */
    }
    *len = cap - z->avail_out;
    if (reset)
        inflateReset(z);
    return 0;
}

void zd_free(void **deflater, void **inflater)
{
    if (*deflater) {
        deflateEnd(*deflater);
        free(*deflater);
        *deflater = NULL;
    }
    if (*inflater) {
        inflateEnd(*inflater);
        free(*inflater);
        *inflater = NULL;
    }
}

/* permessage-deflate compression and decompression (RFC 7692 section 7.2) on zlib's raw deflate.
 *
 * I/O-free: bytes in, bytes out. The only memory is zlib's state and the output buffers the caller
 * lends (deflate) or grows through a callback (inflate).
 *
 * Window sizes: RFC 7692 allows 2^8 to 2^15 bytes. zlib's raw deflate refuses a 256-byte window
 * (deflateInit2 with windowBits -8 fails since zlib 1.2.9; before, it silently used 9), so a
 * compressor never uses fewer than 9 bits: negotiation never lets our compressor be limited to 8
 * (pmd_negotiate.h). Inflating with 8 bits works, and is what a peer limited to 8 needs.
 *
 * Without context takeover the zlib state exists only while one message is being compressed or
 * inflated: it is made for the message and ended after it, so an idle connection holds none.
 * Thread-safety: a deflater or inflater is used by one thread at a time. */
#ifndef WSC_DEFLATE_PMD_CODEC_H
#define WSC_DEFLATE_PMD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* zlib's z_stream lives behind a pointer so that users of this header need not include zlib.h
   and a connection that never compresses holds only the pointer. */
struct wsc__zstate;

/* Where output goes (compressed or inflated bytes): room returns a buffer holding the `have` bytes
   written so far with space for at least `need` in all (it may move them), or NULL when out of
   memory. */
typedef struct wsc__pmd_sink {
    uint8_t *(*room)(void *ctx, size_t have, size_t need);
    void *ctx;
} wsc__pmd_sink;

/* The compressing side of one direction. Zeroed = no zlib state yet. */
typedef struct wsc__deflater {
    struct wsc__zstate *z; /* NULL until the first message; with reset, NULL between messages */
    uint8_t bits;          /* the largest window we may use (9..15) */
    uint8_t level;         /* zlib level 0..9 */
    bool reset;            /* no context takeover: each message starts from an empty window */
    bool keep;             /* with reset: keep the zlib state between messages (a shared
                              compressor, reset with deflateReset instead of freed) */
} wsc__deflater;

/* Sets up d (no allocation). bits: the agreed window for our compressor, raised to 9 (see above)
   and capped at 15; level: 0..9 (others count as 6); reset: no context takeover; keep: with reset,
   hold the zlib state between messages. */
void wsc__deflater_init(wsc__deflater *d, unsigned bits, int level, bool reset, bool keep);
/* Frees the zlib state, if any. d may be set up again with wsc__deflater_init. */
void wsc__deflater_end(wsc__deflater *d);

/* Compresses in[0..n) as one whole message (RFC 7692 7.2.1): raw deflate ended with a sync flush,
 * whose empty stored block's 00 00 ff ff tail is removed. The output goes to sink after `head`
 * bytes left for the caller (a frame header): *out is the sink's buffer (the head first) and
 * *out_len the compressed length after the head (an empty message becomes the single byte 00,
 * 7.2.3.6). With context takeover the window carries
 * over to the next message, so the messages must reach the peer in the order they were
 * compressed. Returns 0, or -1 when out of memory (with context takeover d's stream is then lost:
 * fail the connection). */
int wsc__deflate_message(wsc__deflater *d, const void *in, size_t n, const wsc__pmd_sink *sink,
                         size_t head, uint8_t **out, size_t *out_len);

enum wsc__infl_result {
    WSC__INFL_OK,      /* the chunk is consumed (the message is complete if it was the last) */
    WSC__INFL_TOO_BIG, /* the message inflates to more than max: close with 1009 */
    WSC__INFL_CORRUPT, /* not valid deflate data: close with 1007 */
    WSC__INFL_NOMEM    /* zlib or the sink is out of memory: close with 1011 */
};

/* The decompressing side of one direction. Zeroed = no zlib state yet. */
typedef struct wsc__inflater {
    struct wsc__zstate *z; /* NULL between messages without context takeover */
    uint8_t bits;          /* the peer's window (8..15) */
    bool reset;            /* no context takeover */
    bool done;             /* the message's deflate data ended (a final block): ignore the rest */
    bool any;              /* the message in progress had payload bytes */
} wsc__inflater;

/* Sets up f (no allocation) for a peer compressing with 2^bits windows (8..15; others count as
   15); reset: no context takeover. */
void wsc__inflater_init(wsc__inflater *f, unsigned bits, bool reset);
void wsc__inflater_end(wsc__inflater *f);

/* Inflates the next chunk in[0..n) of a compressed message into sink, after the *have bytes
 * produced so far; last: the chunk ends the message, and the 00 00 ff ff tail the sender removed
 * is put back (RFC 7692 7.2.2). The output is bounded while inflating: as soon as the message
 * would pass max bytes (0: no limit), TOO_BIG is returned, having asked the sink for at most max
 * bytes. So a decompression bomb costs at most max bytes of memory and the CPU to produce them.
 * Deflate data ended by a final block (BFINAL, 7.2.3.4) completes the message; bytes after it
 * are ignored. After an error the inflater is ended; the connection must close. Returns
 * WSC__INFL_*. */
enum wsc__infl_result wsc__inflate_chunk(wsc__inflater *f, const uint8_t *in, size_t n, bool last,
                                         size_t max, const wsc__pmd_sink *sink, size_t *have);

#endif

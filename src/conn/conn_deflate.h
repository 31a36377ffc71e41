/* permessage-deflate on a connection, server and client side alike: the settings resolved from
 * the public config, the per-connection state, and the compression of outgoing messages. The
 * codec is deflate/pmd_codec.h, the negotiation deflate/pmd_negotiate.h, inflating received
 * messages proto/assembler.h's.
 *
 * Threads. A connection's state is made during the handshake (by the parse state's owner, before
 * the 101 goes out and before anything can write) and freed with the connection; the inflater is
 * [owner] (the reading side). Compression takes `mu`: writes come from any thread, and with
 * context takeover each message's compressed bytes depend on the ones before, so a message is
 * compressed and handed to the write path under the same lock, which keeps the wire in the
 * order of compression. A shared compressor (one per server worker) has a lock of its own, taken
 * after a connection's. */
#ifndef WSC_CONN_CONN_DEFLATE_H
#define WSC_CONN_CONN_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deflate/pmd_codec.h"
#include "deflate/pmd_negotiate.h"
#include "io/lock.h"
#include "wsc.h"

/* Resolved settings (every default filled in). */
typedef struct wsc__pmd_settings {
    wsc__pmd_config neg; /* what to accept or offer */
    size_t threshold;    /* smallest message compressed */
    unsigned char compress_bits; /* the most window bits our compressor uses */
    int level;
    bool retain; /* keep the output buffer */
    bool shared; /* server: one compressor per worker */
} wsc__pmd_settings;

/* Checks and resolves cfg (for messages, side is "deflate" or similar). Returns 0 or WSC_ECONFIG
   with a message naming the field. */
int wsc__pmd_settings_resolve(const wsc_deflate_config *cfg, wsc__pmd_settings *out, wsc_err *err);

/* A compressor shared by the connections of one worker (shared_compressor): one zlib stream per
   window size in use, reset after every message. */
typedef struct wsc__pmd_shared {
    wsc__lock mu;
    wsc__deflater d[16]; /* by window bits (9..15 used) */
} wsc__pmd_shared;

/* Returns NULL when out of memory. */
wsc__pmd_shared *wsc__pmd_shared_new(int level);
void wsc__pmd_shared_free(wsc__pmd_shared *s);

/* One connection's compression state (only on connections that negotiated it). */
typedef struct wsc__pmd_conn {
    wsc__inflater in;        /* [owner] the peer's messages */
    wsc__lock mu;            /* compression and its hand-off to the write path */
    wsc__deflater out;       /* [mu] our messages (unused with a shared compressor) */
    uint8_t *wbuf;           /* [mu] retained output buffer (retain_write_buffer) */
    size_t wcap;             /* [mu] */
    wsc__pmd_shared *shared; /* set once: the worker's shared compressor, or NULL */
    size_t threshold;        /* set once */
    bool retain;             /* set once: keep wbuf between messages */
} wsc__pmd_conn;

/* Makes the state for what was agreed. our_window/peer_window: the window bits of our compressor
   and of the peer's; our_reset/peer_reset: no context takeover for each. Returns NULL when out of
   memory. */
wsc__pmd_conn *wsc__pmd_conn_new(const wsc__pmd_settings *st, unsigned our_window, bool our_reset,
                                 unsigned peer_window, bool peer_reset, wsc__pmd_shared *shared);
void wsc__pmd_conn_free(wsc__pmd_conn *p);

/* Sends one compressed frame: the header (RSV1 set) and payload, in order after this thread's
   earlier writes. Returns a WSC_* code. */
typedef int (*wsc__pmd_send_fn)(void *ctx, const uint8_t *hdr, size_t hl, const uint8_t *payload,
                                size_t len);

/* Server: compresses data[0..len) as one message of type (TEXT or BINARY) and sends it through
   send (an unmasked frame), all under p->mu. (A client compresses under its writer lock.) Returns
   what send returns, or WSC_ENOMEM (with context takeover the stream is then unusable: the caller
   fails the connection). */
int wsc__pmd_write(wsc__pmd_conn *p, unsigned type, const void *data, size_t len,
                   wsc__pmd_send_fn send, void *ctx);

#endif

/* Frames shared by several connections' outbound queues (a topic's publish): built once,
 * refcounted, immutable; a connection whose socket does not take one at once queues a reference to
 * it (a wsc__seg), never a copy.
 *
 * A connection's queue is its `out` buffer followed by its list of segments: once a segment is
 * queued, every later byte for that connection goes behind it (as a segment too, copied when it is
 * not shared), so the order of writes holds. The list is [lock], as `out` is. */
#ifndef WSC_CONN_SHARED_H
#define WSC_CONN_SHARED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "wsc.h"

typedef struct wsc__shared {
    _Atomic uint32_t refs;
    uint32_t len;
    uint8_t data[]; /* the frame (or frames) */
} wsc__shared;

/* A piece of a connection's queue behind `out`. */
struct wsc__seg {
    struct wsc__seg *next;
    wsc__shared *f;    /* the shared bytes; NULL: this segment's own bytes (data) */
    uint32_t off, len; /* bytes [off, len) of them are still to be sent */
    uint32_t cap;      /* own bytes: room in data */
    uint8_t data[];
};

/* A frame of `type` (a data opcode) carrying data[0..len): one reference, the caller's. NULL when
   out of memory or longer than 4 GiB. */
wsc__shared *wsc__shared_frame(wsc_msg_type type, const void *data, size_t len);
/* The bytes hdr[0..hl) then p[0..len), as wsc__shared_frame. */
wsc__shared *wsc__shared_new(const uint8_t *hdr, size_t hl, const void *p, size_t len);
void wsc__shared_ref(wsc__shared *f);
void wsc__shared_unref(wsc__shared *f);

/* The rest are [lock] of c. */

/* Queues p[0..len) behind everything: a reference to f when p lies in f, else a copy. Pieces
   smaller than a segment are copied too, into the last segment when it has room: a queue of tiny
   frames then costs about their bytes, not a node each. False when out of memory. */
bool wsc__segs_append(wsc_conn *c, wsc__shared *f, const uint8_t *p, size_t len);
/* Up to max iovecs for the front of the list; *bytes gets their total. */
int wsc__segs_iov(const wsc_conn *c, struct iovec *v, int max, size_t *bytes);
/* The socket took n bytes from the front of the list. */
void wsc__segs_consume(wsc_conn *c, size_t n);
/* Drops every segment (the connection ended). */
void wsc__segs_drop(wsc_conn *c);

#endif

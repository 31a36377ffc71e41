/* The read side's parts, shared by its files: where each read lands (recv.c), frame dispatch
 * (frames.c), reading the handshake (handshake_read.c), running callbacks and what the loop does
 * around them (jobs.c), and the pool thread's run-ahead (run_ahead.c). Every function here runs on
 * the parse state's owner (conn.h): the loop thread, or the pool thread while BUSY where noted. */
#ifndef WSC_CONN_READ_H
#define WSC_CONN_READ_H

#include "conn/conn.h"
#include "proto/assembler.h"
#include "proto/reader.h"

/* Where the bytes being parsed live: the loop's receive buffer, the connection's `in`, or the tail
   of its message buffer. */
enum { WSC__R_RBUF, WSC__R_IN, WSC__R_MSG };

/* The payload of an empty message or control frame: never NULL. */
extern uint8_t wsc__empty_payload[1];

/* ---- recv.c ---- */

/* Gives back buffers nothing needs any more (not while BUSY or STALLED). */
void wsc__conn_maybe_release(wsc_conn *c);
/* Keeps base[from..len) (unparsed bytes) in `in`, from in_off on. False when out of memory. */
bool wsc__conn_keep_rest(wsc_conn *c, uint8_t *base, size_t from, size_t len, int region);
/* Adds a message chunk to `msg` (proto/assembler.h); a complete message becomes the pending job.
   The loop, or the pool thread while BUSY. */
enum wsc__asm_result wsc__conn_add_chunk(wsc_conn *c, const wsc__event *ev);
/* The same for a chunk of a compressed message (ev->rsv1): inflated into `msg`, bounded by
   max_message_size. */
enum wsc__asm_result wsc__conn_add_compressed(wsc_conn *c, const wsc__event *ev);

/* ---- frames.c ---- */

/* Parses base[pos..len) until it needs more bytes or must stop; keeps the rest in `in`. */
void wsc__conn_parse(wsc_conn *c, uint8_t *base, size_t pos, size_t len, int region);
/* Fails the connection with code (section 7.1.7): close frame, then wait for the peer's FIN. */
void wsc__conn_fail(wsc_conn *c, unsigned code);
/* The peer's close frame (payload p[0..n), validated) found in base[..len) at *pos. Returns true
   when parsing may go on. */
bool wsc__conn_on_peer_close(wsc_conn *c, unsigned code, uint8_t *p, size_t n, uint8_t *base,
                             size_t *pos, size_t len, int region);

/* ---- handshake_read.c ---- */

/* Reads and parses the upgrade request; hands a complete one to init. Returns true to read again. */
bool wsc__conn_read_handshake(wsc_conn *c);

/* ---- jobs.c ---- */

/* Runs the pending job now (inline handlers) or hands it to the pool. Returns true when parsing
   may go on. */
bool wsc__conn_dispatch(wsc_conn *c);

/* ---- small parts of the hot path, inline ---- */

static inline bool wsc__conn_parsing(const wsc_conn *c)
{
    return (c->state == WSC__ST_OPEN || c->state == WSC__ST_CLOSING) &&
           !(c->flags & (WSC__F_BUSY | WSC__F_STALLED | WSC__F_PEER_CLOSED));
}

/* Payload length declared by the frame header at h (already validated by the reader). */
static inline uint64_t header_payload_len(const uint8_t *h)
{
    unsigned l7 = h[1] & 0x7fu;
    uint64_t n = 0;
    if (l7 < 126)
        return l7;
    for (int i = 0, k = l7 == 126 ? 2 : 8; i < k; i++)
        n = n << 8 | h[2 + i];
    return n;
}

/* Keeps frame_rest (the current frame's declared payload still to come) up to date. */
static inline void wsc__conn_track_frame(wsc_conn *c, const wsc__event *ev, size_t used)
{
    if (ev->last) /* the message, hence its frame, is complete: no header to decode again */
        c->frame_rest = 0;
    else if (used > ev->len) /* this chunk starts a frame: its header precedes the payload */
        c->frame_rest = (uint32_t)(header_payload_len(ev->data - (used - ev->len)) - ev->len);
    else
        c->frame_rest -= (uint32_t)ev->len;
}

static inline int wsc__conn_call_message(wsc_conn *c, const wsc__ctx *x, wsc_arena *arena, unsigned type,
                        uint8_t *data, size_t len)
{
    wsc_msg m = {.type = (wsc_msg_type)type, .data = data, .len = len, .arena = arena};
    return x->h.message(c, c->user, &m);
}

#endif

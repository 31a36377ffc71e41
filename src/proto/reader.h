/* I/O-free message reader: RFC 6455 section 5 frame parsing and message assembly rules.
 *
 * The reader never stores or copies payload bytes: it parses the caller's buffer, unmasks data in
 * place and hands out pointers into it. Its whole state is a small value struct, embedded in each
 * connection. */
#ifndef WSC_PROTO_READER_H
#define WSC_PROTO_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/mask.h"
#include "proto/utf8.h"

enum {
    WSC__READER_UTF8 =
        1, /* validate text messages (not compressed ones: inflate output is validated later) */
    WSC__READER_RSV1 = 2 /* an extension (permessage-deflate) negotiated RSV1 */
};

/* Private: read only through the functions below. sizeof <= 48 (checked at compile time). */
typedef struct wsc__reader {
    uint64_t max;       /* max message size (sum of the declared lengths of its frames) */
    uint64_t msg_size;  /* declared bytes of the message in progress so far */
    uint64_t remaining; /* payload bytes left in the current data frame (state PAYLOAD) */
    wsc__utf8 utf8;     /* text validation state of the message in progress */
    uint8_t key[4];     /* mask key of the current data frame */
    uint8_t state;      /* header / payload / error */
    uint8_t role;       /* enum wsc__role */
    uint8_t flags;      /* WSC__READER_* */
    uint8_t msg_op;     /* 0 = no message in progress, else TEXT/BINARY of the fragmented message */
    uint8_t frame;   /* current data frame: FIN, masked, message RSV1, first chunk pending bits */
    uint8_t key_off; /* mask offset (0..3) of the next payload byte of the current frame */
    uint8_t err;     /* internal error reason (see wsc__reader_error) */
    uint8_t pad_;
} wsc__reader;

/* Initialises r for one connection. role is our side (a server requires masked frames, a client
 * refuses them). max_message_size caps a message's total declared length (0 = no limit); it is
 * checked against frame headers before any payload is read, so a peer cannot make us wait for (or
 * buffer) more than the cap. With RSV1 (compression) it caps compressed bytes only: the inflater
 * enforces its own cap. Thread-safety: a reader is used by one thread at a time. */
void wsc__reader_init(wsc__reader *r, enum wsc__role role, uint64_t max_message_size,
                      unsigned flags);

enum wsc__ev_kind { WSC__EV_NEED_MORE, WSC__EV_DATA, WSC__EV_CONTROL, WSC__EV_ERROR };

typedef struct {
    enum wsc__ev_kind kind;
    unsigned opcode; /* DATA: TEXT/BINARY (the message's type, also for continuation frames);
                        CONTROL: CLOSE/PING/PONG */
    uint8_t *data;   /* DATA, CONTROL: unmasked payload bytes, pointing INTO the caller's buffer */
    size_t len;
    bool first, last;    /* DATA: first chunk of the message / message complete after this chunk */
    bool rsv1;           /* DATA: the message had RSV1 set (compressed) */
    unsigned close_code; /* CONTROL close: the peer's code (1005 if none); ERROR: the code to close
                            with (1002, 1007, 1009) */
    const uint8_t *reason;
    size_t reason_len; /* CONTROL close: reason inside data (NULL/0 if none) */
    size_t need;       /* NEED_MORE: total bytes (from the start of what was passed) needed before
                          progress is possible */
} wsc__event;

/* Consumes a prefix of buf[0..len) and reports one event. Returns the bytes consumed (<= len).
 * - NEED_MORE: consumes 0. A partial frame header, a partial CONTROL frame, or a data frame header
 * with no payload byte yet is not consumed: the caller keeps those bytes, appends more (at least up
 * to ev->need bytes in total) and calls again. A buffer of WSC__CONTROL_FRAME_MAX (139) bytes is
 * always enough to make progress.
 * - DATA: payload streamed as it arrives; a chunk never spans two frames and may be empty (a frame
 *   with no payload, e.g. an empty message). Bytes are unmasked in place. The consumed count
 * includes the frame header when the chunk starts a frame. first&&last on one chunk means the whole
 * message is contiguous in buf (zero-copy fast path).
 * - CONTROL: a whole control frame (header + payload <= 125), unmasked in place; may arrive between
 * the frames of a fragmented message. A close payload is validated (bad ones give ERROR instead).
 * - ERROR: consumes 0; close_code is 1002 (any section 5 violation or bad close payload), 1007
 * (invalid UTF-8 in text or a close reason; reported for the chunk holding the first invalid byte,
 * before the message ends) or 1009 (message over the cap, from declared lengths). The reader stays
 * in error: every later call returns the same ERROR. wsc__reader_error says what went wrong (for
 * logs). Thread-safety: one thread at a time per reader. */
static inline size_t wsc__reader_next(wsc__reader *r, uint8_t *buf, size_t len, wsc__event *ev);

/* ---- private: the parts of wsc__reader_next ---- */

/* State value of a reader between frames. */
enum { WSC__READER_ST_HEADER = 0 };

/* Everything but the fast path below. */
size_t wsc__reader_next_general(wsc__reader *r, uint8_t *buf, size_t len, wsc__event *ev);
/* Puts the reader in the invalid-UTF-8 error state and reports it. */
void wsc__reader_fail_utf8(wsc__reader *r, wsc__event *ev);

/* Unmasks a short payload (< 128 bytes) with 8-byte words; returns the OR of the unmasked bytes'
   high bits (non-zero when some byte is not ASCII), so text needs no second pass when it is ASCII. */
static inline uint64_t wsc__unmask_short(uint8_t *p, size_t n, const uint8_t *key)
{
    uint32_t k32;
    memcpy(&k32, key, 4);
    uint64_t k64 = (uint64_t)k32 << 32 | k32, hi = 0, w;
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        memcpy(&w, p + i, 8);
        w ^= k64;
        hi |= w;
        memcpy(p + i, &w, 8);
    }
    /* i is a multiple of 8 here, so the key starts again at its byte 0. */
    for (; i < n; i++) {
        p[i] ^= key[i & 3];
        hi |= p[i];
    }
    return hi & UINT64_C(0x8080808080808080);
}

/* The common case, decided in one go: a whole unfragmented TEXT/BINARY frame with a 7- or 16-bit
   length, no RSV bits, masked as the role requires, with its whole payload in buf, and no message
   in progress. Returns false (nothing touched) for anything else, which takes the general path. */
__attribute__((always_inline)) static inline bool
wsc__reader_whole_frame(wsc__reader *r, uint8_t *buf, size_t len, wsc__event *ev, size_t *used)
{
    if (len < 2 || r->msg_op)
        return false;
    unsigned b0 = buf[0], b1 = buf[1];
    unsigned op = b0 & 0x0Fu;
    /* FIN set, RSV1-3 clear, TEXT or BINARY. */
    if ((b0 & 0xF0u) != 0x80u || op - 1u > 1u)
        return false;
    bool masked = (b1 & 0x80u) != 0;
    if (masked != (r->role == WSC__ROLE_SERVER))
        return false;
    unsigned l7 = b1 & 0x7Fu;
    size_t hl = masked ? 6 : 2, plen = l7;
    if (l7 >= 126) {
        if (l7 == 127 || len < 4)
            return false;
        plen = (size_t)buf[2] << 8 | buf[3];
        hl += 2;
    }
    if (len < hl || len - hl < plen || plen > r->max)
        return false;
    uint8_t *p = buf + hl;
    uint64_t hi = 0;
    if (masked) {
        if (plen < 128)
            hi = wsc__unmask_short(p, plen, buf + hl - 4);
        else
            wsc__mask(p, plen, buf + hl - 4, 0);
    }
    if (op == WSC__OP_TEXT && (r->flags & WSC__READER_UTF8) && (hi || plen >= 128 || !masked) &&
        !wsc__utf8_valid(p, plen)) {
        wsc__reader_fail_utf8(r, ev);
        *used = 0;
        return true;
    }
    r->msg_size = plen;
    *ev = (wsc__event){.kind = WSC__EV_DATA,
                       .opcode = op,
                       .data = p,
                       .len = plen,
                       .first = true,
                       .last = true};
    *used = hl + plen;
    return true;
}

/* Inline, so that a whole small frame, the most common thing on the wire, costs no call. */
__attribute__((always_inline)) static inline size_t wsc__reader_next(wsc__reader *r, uint8_t *buf, size_t len, wsc__event *ev)
{
    size_t used;
    if (r->state == WSC__READER_ST_HEADER && wsc__reader_whole_frame(r, buf, len, ev, &used))
        return used;
    return wsc__reader_next_general(r, buf, len, ev);
}

/* True while a data message has started and its last chunk has not been returned yet (between the
 * frames of a fragmented message control frames may still arrive). */
bool wsc__reader_in_message(const wsc__reader *r);

/* Static English description of the error a reader is in ("" when not in error), for logs. */
const char *wsc__reader_error(const wsc__reader *r);

#endif

/* Message reader: RFC 6455 section 5 (framing) and 5.4 (fragmentation) rules, size cap, UTF-8.
 *
 * Nothing is buffered here: a header or control frame that is not complete is left in the caller's
 * buffer (NEED_MORE consumes nothing), data payload is unmasked in place and returned as it
 * arrives. The per-connection state is the 40-byte struct in reader.h. */
#include "proto/reader.h"

#include "proto/close.h"
#include "proto/mask.h"

#include <string.h>

_Static_assert(sizeof(wsc__reader) <= 48, "the reader is embedded in every connection");

enum { ST_HEADER = WSC__READER_ST_HEADER, ST_PAYLOAD, ST_ERROR };

/* r->frame bits. Message-level bits live until the message's last chunk, frame-level ones per
 * frame. */
enum {
    FR_FIN = 1,      /* frame: current data frame has FIN */
    FR_MASKED = 2,   /* frame: current data frame is masked */
    FR_FIRST = 4,    /* message: the next chunk is the message's first */
    FR_RSV1 = 8,     /* message: compressed (RFC 7692) */
    FR_VALIDATE = 16 /* message: UTF-8 validation applies */
};

enum {
    E_NONE,
    E_RSV,
    E_RSV1,
    E_RSV1_CONT,
    E_OPCODE,
    E_CTRL_FRAG,
    E_CTRL_LEN,
    E_UNMASKED,
    E_MASKED,
    E_LEN64,
    E_CONT,
    E_NEW_MSG,
    E_TOO_BIG,
    E_UTF8,
    E_CLOSE,
    E_CLOSE_UTF8
};

static const struct {
    unsigned short code;
    const char *text;
} errors[] = {
    [E_NONE] = {0, ""},
    [E_RSV] = {1002, "RSV2 or RSV3 set without an extension defining them"},
    [E_RSV1] = {1002, "RSV1 set without a negotiated extension"},
    [E_RSV1_CONT] = {1002, "RSV1 set on a control or continuation frame"},
    [E_OPCODE] = {1002, "reserved opcode"},
    [E_CTRL_FRAG] = {1002, "fragmented control frame"},
    [E_CTRL_LEN] = {1002, "control frame payload over 125 bytes"},
    [E_UNMASKED] = {1002, "client frame not masked"},
    [E_MASKED] = {1002, "server frame masked"},
    [E_LEN64] = {1002, "64-bit payload length with the most significant bit set"},
    [E_CONT] = {1002, "continuation frame without a message to continue"},
    [E_NEW_MSG] = {1002, "new data frame inside a fragmented message"},
    [E_TOO_BIG] = {1009, "message larger than the maximum message size"},
    [E_UTF8] = {1007, "text message is not valid UTF-8"},
    [E_CLOSE] = {1002, "malformed close payload or invalid close code"},
    [E_CLOSE_UTF8] = {1007, "close reason is not valid UTF-8"},
};

void wsc__reader_init(wsc__reader *r, enum wsc__role role, uint64_t max_message_size,
                      unsigned flags)
{
    *r = (wsc__reader){0};
    r->max = max_message_size ? max_message_size : UINT64_MAX;
    r->role = (uint8_t)role;
    r->flags = (uint8_t)flags;
    r->state = ST_HEADER;
}

bool wsc__reader_in_message(const wsc__reader *r)
{
    return r->msg_op != 0;
}

const char *wsc__reader_error(const wsc__reader *r)
{
    return r->state == ST_ERROR ? errors[r->err].text : "";
}

static size_t fail(wsc__reader *r, unsigned err, wsc__event *ev)
{
    r->state = ST_ERROR;
    r->err = (uint8_t)err;
    *ev = (wsc__event){.kind = WSC__EV_ERROR, .close_code = errors[err].code};
    return 0;
}

void wsc__reader_fail_utf8(wsc__reader *r, wsc__event *ev)
{
    fail(r, E_UTF8, ev);
}

static size_t need_more(size_t need, wsc__event *ev)
{
    *ev = (wsc__event){.kind = WSC__EV_NEED_MORE, .need = need};
    return 0;
}

/* Returns one DATA chunk of the current frame from p[0..avail); avail may be 0 only for an empty
 * frame. Returns the payload bytes consumed; on error ev is ERROR (the caller then reports 0
 * consumed). */
static size_t payload_chunk(wsc__reader *r, uint8_t *p, size_t avail, wsc__event *ev)
{
    size_t n = r->remaining < avail ? (size_t)r->remaining : avail;
    unsigned fr = r->frame;

    if (fr & FR_MASKED) {
        wsc__mask(p, n, r->key, r->key_off);
        r->key_off = (uint8_t)((r->key_off + n) & 3);
    }
    r->remaining -= n;
    bool last = r->remaining == 0 && (fr & FR_FIN);
    /* Section 8.1: fail as soon as text is not UTF-8, not when the message ends, so a peer cannot
       make us buffer a message that is already known to be bad. */
    if (fr & FR_VALIDATE) {
        if (!wsc__utf8_feed(&r->utf8, p, n) || (last && !wsc__utf8_complete(&r->utf8)))
            return fail(r, E_UTF8, ev);
    }
    *ev = (wsc__event){.kind = WSC__EV_DATA,
                       .opcode = r->msg_op,
                       .data = p,
                       .len = n,
                       .first = (fr & FR_FIRST) != 0,
                       .last = last,
                       .rsv1 = (fr & FR_RSV1) != 0};
    r->frame = (uint8_t)(fr & ~(unsigned)FR_FIRST);
    if (r->remaining == 0)
        r->state = ST_HEADER;
    if (last) {
        r->msg_op = 0;
        r->frame = 0;
    }
    return n;
}

size_t wsc__reader_next_general(wsc__reader *r, uint8_t *buf, size_t len, wsc__event *ev)
{
    if (r->state == ST_PAYLOAD) {
        if (len == 0)
            return need_more(1, ev);
        return payload_chunk(r, buf, len, ev);
    }
    if (r->state == ST_ERROR)
        return fail(r, r->err, ev);

    /* Rules decidable from the first byte are checked before waiting for the rest of the header, so
       a stream fed byte by byte fails at the first offending byte. */
    if (len == 0)
        return need_more(2, ev);
    unsigned b0 = buf[0];
    unsigned op = b0 & 0x0Fu;
    bool fin = (b0 & 0x80u) != 0;
    bool rsv1 = (b0 & 0x40u) != 0;
    bool control = (op & 8u) != 0;

    /* 5.2: RSV2/RSV3 must be 0 (no extension we support defines them). */
    if (b0 & 0x30u)
        return fail(r, E_RSV, ev);
    if (control) {
        if (op > WSC__OP_PONG)
            return fail(r, E_OPCODE, ev);
        /* 5.5: control frames must not be fragmented. */
        if (!fin)
            return fail(r, E_CTRL_FRAG, ev);
        /* RFC 7692 6.1: RSV1 marks the first frame of a compressed data message only. */
        if (rsv1)
            return fail(r, (r->flags & WSC__READER_RSV1) ? E_RSV1_CONT : E_RSV1, ev);
    } else if (op == WSC__OP_CONT) {
        /* 5.4: a continuation belongs to a message started by a non-final TEXT/BINARY frame. */
        if (!r->msg_op)
            return fail(r, E_CONT, ev);
        if (rsv1)
            return fail(r, (r->flags & WSC__READER_RSV1) ? E_RSV1_CONT : E_RSV1, ev);
    } else {
        if (op > WSC__OP_BINARY)
            return fail(r, E_OPCODE, ev);
        /* 5.4: fragments of one message are not interleaved with another data message. */
        if (r->msg_op)
            return fail(r, E_NEW_MSG, ev);
        if (rsv1 && !(r->flags & WSC__READER_RSV1))
            return fail(r, E_RSV1, ev);
    }

    if (len < 2)
        return need_more(2, ev);
    unsigned b1 = buf[1];
    bool masked = (b1 & 0x80u) != 0;
    unsigned l7 = b1 & 0x7Fu;
    /* 5.1: clients mask every frame, servers never do; either violation fails the connection. */
    if (masked != (r->role == WSC__ROLE_SERVER))
        return fail(r, masked ? E_MASKED : E_UNMASKED, ev);
    size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
    size_t hl = 2 + ext + (masked ? 4 : 0);
    if (l7 == 127 && len >= 3 && (buf[2] & 0x80u))
        return fail(r, E_LEN64, ev); /* 5.2: the 64-bit length's most significant bit must be 0 */
    if (len < 2 + ext)
        return need_more(hl, ev);
    uint64_t plen = l7;
    if (ext) {
        plen = 0;
        for (size_t i = 0; i < ext; i++)
            plen = plen << 8 | buf[2 + i];
    }
    /* Section 5.2 asks senders for the minimal length encoding but does not make a longer one an
       error, so a 16- or 64-bit length of a small payload is accepted (also for control frames). */
    if (control) {
        if (plen > WSC__CONTROL_MAX)
            return fail(r, E_CTRL_LEN, ev);
    } else {
        /* Enforced on the declared lengths, before any payload arrives: a peer cannot make us read,
           buffer or wait for more than the cap (10.4). The sum is kept in 64 bits without overflow.
         */
        uint64_t before = op == WSC__OP_CONT ? r->msg_size : 0;
        uint64_t max = r->max;
        /* A compressed message may be a little longer than what it inflates to (incompressible
           data costs deflate 5 bytes per stored block of up to 64 KiB); the inflater holds the
           inflated size to the exact cap (RFC 7692 8.1). */
        if ((op == WSC__OP_CONT ? (r->frame & FR_RSV1) != 0 : rsv1) && max < UINT64_MAX / 2)
            max += max / 64 + 64;
        if (plen > max - before)
            return fail(r, E_TOO_BIG, ev);
    }
    if (len < hl)
        return need_more(hl, ev);

    if (control) {
        size_t n = (size_t)plen;
        if (len - hl < n)
            return need_more(hl + n, ev);
        uint8_t *p = buf + hl;
        if (masked)
            wsc__mask(p, n, buf + hl - 4, 0);
        *ev = (wsc__event){.kind = WSC__EV_CONTROL, .opcode = op, .data = p, .len = n};
        if (op == WSC__OP_CLOSE) {
            int rc = wsc__close_payload_parse(p, n, &ev->close_code, &ev->reason, &ev->reason_len);
            if (rc)
                return fail(r, rc == WSC__CLOSE_INVALID_DATA ? E_CLOSE_UTF8 : E_CLOSE, ev);
        }
        return hl + n;
    }

    /* Data frame: commit its header only once a payload byte is here (or it has none), so NEED_MORE
       never consumes and the caller's buffer stays the single place bytes live. */
    if (plen > 0 && len == hl)
        return need_more(hl + 1, ev);
    unsigned fr;
    if (op != WSC__OP_CONT) {
        r->msg_op = (uint8_t)op;
        r->msg_size = 0;
        r->utf8 = (wsc__utf8)WSC__UTF8_INIT;
        fr = FR_FIRST | (rsv1 ? FR_RSV1 : 0u);
        /* Compressed text is validated after inflating, by the extension layer. */
        if (op == WSC__OP_TEXT && !rsv1 && (r->flags & WSC__READER_UTF8))
            fr |= FR_VALIDATE;
    } else {
        fr = r->frame & (FR_FIRST | FR_RSV1 | FR_VALIDATE);
    }
    r->frame = (uint8_t)(fr | (fin ? FR_FIN : 0u) | (masked ? FR_MASKED : 0u));
    r->msg_size += plen;
    r->remaining = plen;
    if (masked)
        for (int i = 0; i < 4; i++)
            r->key[i] = buf[hl - 4 + (size_t)i];
    r->key_off = 0;
    r->state = ST_PAYLOAD;
    size_t n = payload_chunk(r, buf + hl, len - hl, ev);
    if (ev->kind == WSC__EV_ERROR)
        return 0;
    return hl + n;
}

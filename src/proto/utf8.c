/* Streaming UTF-8 validation (RFC 3629 section 4 grammar) with a shift-based DFA.
 *
 * Each byte maps to a 64-bit row holding, for every state, the next state as a 6-bit field at the
 * state's own bit offset; a step is one table load (independent of the state, so it is issued
 * early) and one shift, so the only loop-carried dependency is a single-cycle shift. REJECT is
 * sticky, which lets the hot loop test for failure once per block instead of once per byte. Pure
 * ASCII runs, the common case for text messages, are skipped 32 bytes at a time while the state is
 * ACCEPT. */
#include "proto/utf8.h"

#include <string.h>

/* clang-format off */
/* States are bit offsets (multiples of 6 so each next-state field fits below bit 64). */
#define ACC 0  /* between code points */
#define REJ 6  /* invalid: sticky */
#define C1 12  /* one continuation byte 80-BF left */
#define C2 18  /* two left */
#define C3 24  /* three left */
#define E0 30  /* after E0: A0-BF (no overlong 3-byte form), then one more */
#define ED 36  /* after ED: 80-9F (no UTF-16 surrogates D800-DFFF), then one more */
#define F0 42  /* after F0: 90-BF (no overlong 4-byte form), then two more */
#define F4 48  /* after F4: 80-8F (nothing above U+10FFFF), then two more */

#define T(from, to) ((uint64_t)(to) << (from))
#define ROW(acc, c1, c2, c3, e0, ed, f0, f4)                                                          \
    (T(ACC, acc) | T(REJ, REJ) | T(C1, c1) | T(C2, c2) | T(C3, c3) | T(E0, e0) | T(ED, ed) | T(F0, f0) \
     | T(F4, f4))

/* Byte classes. */
#define ASCII ROW(ACC, REJ, REJ, REJ, REJ, REJ, REJ, REJ)
#define X80 ROW(REJ, ACC, C1, C2, REJ, C1, REJ, C2)  /* 80-8F */
#define X90 ROW(REJ, ACC, C1, C2, REJ, C1, C2, REJ)  /* 90-9F */
#define XA0 ROW(REJ, ACC, C1, C2, C1, REJ, C2, REJ)  /* A0-BF */
#define BAD ROW(REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ) /* C0, C1 (always overlong), F5-FF (> U+10FFFF) */
#define L2 ROW(C1, REJ, REJ, REJ, REJ, REJ, REJ, REJ)   /* C2-DF */
#define LE0 ROW(E0, REJ, REJ, REJ, REJ, REJ, REJ, REJ)
#define L3 ROW(C2, REJ, REJ, REJ, REJ, REJ, REJ, REJ)   /* E1-EC, EE-EF */
#define LED ROW(ED, REJ, REJ, REJ, REJ, REJ, REJ, REJ)
#define LF0 ROW(F0, REJ, REJ, REJ, REJ, REJ, REJ, REJ)
#define L4 ROW(C3, REJ, REJ, REJ, REJ, REJ, REJ, REJ)   /* F1-F3 */
#define LF4 ROW(F4, REJ, REJ, REJ, REJ, REJ, REJ, REJ)

#define R2(x) x, x
#define R4(x) R2(x), R2(x)
#define R8(x) R4(x), R4(x)
#define R16(x) R8(x), R8(x)

static const uint64_t dfa[] = {
    R16(ASCII), R16(ASCII), R16(ASCII), R16(ASCII), R16(ASCII), R16(ASCII), R16(ASCII), R16(ASCII), /* 00-7F */
    R16(X80), R16(X90), R16(XA0), R16(XA0),                                                          /* 80-BF */
    R2(BAD), R2(L2), R4(L2), R8(L2), R16(L2),                                                        /* C0-DF */
    LE0, R8(L3), R4(L3), LED, R2(L3),                                                                /* E0-EF */
    LF0, R2(L4), L4, LF4, R8(BAD), R2(BAD), BAD,                                                     /* F0-FF */
};
/* clang-format on */
_Static_assert(sizeof dfa / sizeof dfa[0] == 256, "one row per byte value");

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

#define HIGH_BITS UINT64_C(0x8080808080808080)

bool wsc__utf8_feed(wsc__utf8 *v, const uint8_t *p, size_t n)
{
    uint64_t s = v->state;
    size_t i = 0;

    if (s == REJ)
        return false;
    while (i < n) {
        if ((s & 63) == ACC) {
            while (n - i >= 32 &&
                   ((load64(p + i) | load64(p + i + 8) | load64(p + i + 16) | load64(p + i + 24)) &
                    HIGH_BITS) == 0)
                i += 32;
            while (n - i >= 8 && (load64(p + i) & HIGH_BITS) == 0)
                i += 8;
        }
        /* Run the DFA over a block; REJECT is sticky so one check per block finds any invalid byte
         * in it. */
        size_t end = n - i > 32 ? i + 32 : n;
        for (; i < end; i++)
            s = dfa[p[i]] >> (s & 63);
        if ((s & 63) == REJ) {
            v->state = REJ;
            return false;
        }
    }
    v->state = (uint32_t)(s & 63);
    return true;
}

bool wsc__utf8_complete(const wsc__utf8 *v)
{
    return v->state == ACC;
}

bool wsc__utf8_valid(const uint8_t *p, size_t n)
{
    wsc__utf8 v = WSC__UTF8_INIT;
    return wsc__utf8_feed(&v, p, n) && v.state == ACC;
}

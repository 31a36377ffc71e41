/* Streaming UTF-8 validator (RFC 3629 as RFC 6455 section 8.1 requires for text and close reasons).
 */
#ifndef WSC_PROTO_UTF8_H
#define WSC_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validator state; zero-initialised (state 0) means "accept, between code points".
 * The state carries across calls, so a message may be fed in arbitrary pieces (fragments, reads).
 */
typedef struct {
    uint32_t state;
} wsc__utf8;

#define WSC__UTF8_INIT                                                                             \
    {                                                                                              \
        0                                                                                          \
    }

/* Feeds n bytes. Returns false as soon as the input so far cannot be the prefix of valid UTF-8
 * (overlong forms, surrogates U+D800-DFFF, code points above U+10FFFF, stray continuation bytes,
 * a lead byte where a continuation was due). Once false, the validator stays failed.
 * A sequence cut at the end of p is not an error here: see wsc__utf8_complete. Thread-safety: pure.
 */
bool wsc__utf8_feed(wsc__utf8 *v, const uint8_t *p, size_t n);

/* True if everything fed so far is valid and does not end inside a multi-byte sequence: call at the
 * end of a message. */
bool wsc__utf8_complete(const wsc__utf8 *v);

/* Whole-buffer validation: feed + complete. */
bool wsc__utf8_valid(const uint8_t *p, size_t n);

#endif

/* permessage-deflate negotiation (RFC 7692 sections 5 and 7.1): parsing
 * Sec-WebSocket-Extensions values, the server's choice among the client's
 * offers and its response, the client's offer and its check of the response.
 * No I/O, no allocation: every function is pure and reads only the bytes it
 * is given. Thread-safety: all functions are pure; call them from any thread. */
#ifndef WSC_DEFLATE_PMD_NEGOTIATE_H
#define WSC_DEFLATE_PMD_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>

enum {
    /* RFC 7692 7.1.2: window sizes are 2^8 to 2^15 bytes. */
    WSC__PMD_BITS_MIN = 8,
    WSC__PMD_BITS_MAX = 15,
    /* zlib cannot compress a raw deflate stream with a 256-byte window (deflateInit2 refuses
       windowBits -8), so neither side ever agrees to compress with fewer bits than this. */
    WSC__PMD_DEFLATE_BITS_MIN = 9,
    /* The longest text wsc__pmd_format writes, with its NUL: the extension name, both
       no_context_takeover flags and both window sizes with two digits. */
    WSC__PMD_TEXT_MAX = sizeof "permessage-deflate; server_no_context_takeover; "
                               "client_no_context_takeover; server_max_window_bits=15; "
                               "client_max_window_bits=15"
};

/* The parameters of one permessage-deflate element (an offer or a response) as on the wire. */
typedef struct {
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    bool server_max_window_bits_present; /* then server_max_window_bits is 8..15 */
    bool client_max_window_bits_present; /* with a value (8..15) or, in an offer, without (0) */
    unsigned char server_max_window_bits;
    unsigned char client_max_window_bits;
} wsc__pmd_params;

/* What both sides use once the handshake is done. */
typedef struct {
    bool on;                         /* false: no compression on this connection */
    bool server_no_context_takeover; /* the server resets its compressor after each message */
    bool client_no_context_takeover; /* the client resets its compressor after each message */
    unsigned char server_window_bits; /* the server compresses with at most 2^bits (8..15) */
    unsigned char client_window_bits; /* the client compresses with at most 2^bits (8..15) */
} wsc__pmd_agreed;

/* One side's settings. A zeroed struct is "off".
 * server side: max_window_bits are the largest windows accepted for each direction (the server's
 *   compressor, the client's compressor, i.e. the server's inflate memory); asking for no context
 *   takeover puts the flag in every response.
 * client side: the largest windows offered for each direction, and whether the offer asks for
 *   no context takeover in each direction.
 * Window bits: 0 means 15; values below 9 count as 9 (zlib's smallest), above 15 as 15. */
typedef struct {
    bool enabled;
    bool server_no_context_takeover;
    bool client_no_context_takeover;
    unsigned char server_max_window_bits;
    unsigned char client_max_window_bits;
} wsc__pmd_config;

/* What one element of an extension list turned out to be. */
enum wsc__pmd_kind {
    WSC__PMD_OTHER,   /* a well-formed element naming another extension */
    WSC__PMD_SYNTAX,  /* a malformed element not naming permessage-deflate */
    WSC__PMD_VALID,   /* permessage-deflate with valid, distinct, known parameters */
    WSC__PMD_INVALID, /* permessage-deflate with a malformed, unknown, duplicate or invalid
                         parameter: the offer is declined (RFC 7692 7.1), the response fails */
};

typedef struct {
    enum wsc__pmd_kind kind;
    wsc__pmd_params params; /* VALID: the parameters; else zeroed */
    const char *why;        /* SYNTAX, INVALID: a static message saying what is wrong; else NULL */
    const char *text;       /* the element as sent, trimmed of SP/HTAB (points into the value) */
    size_t text_len;
} wsc__pmd_elem;

/* Iterates over the elements of one Sec-WebSocket-Extensions value v[0..n) (RFC 6455 9.1:
 * extension *( ";" extension-param ), param = token [ "=" ( token / quoted-string ) ], with
 * SP/HTAB allowed around ';', ',' and '='). Elements are split at commas outside quoted strings;
 * empty elements are skipped (RFC 9110 5.6.1). A quoted value is unescaped and must then be a
 * token. Names are compared exactly (case-sensitive). A malformed element is reported and the
 * iteration goes on with the next one; an unterminated quoted string runs to the end of v.
 * Start with *pos = 0. Returns true with *e set, false when no element is left. */
bool wsc__pmd_next(const char *v, size_t n, size_t *pos, wsc__pmd_elem *e);

/* Writes the element "permessage-deflate" with the parameters p (the flags first, then the
 * window sizes; client_max_window_bits without a value when its value is 0) into
 * out[0..WSC__PMD_TEXT_MAX), NUL-terminated. Returns its length. */
size_t wsc__pmd_format(const wsc__pmd_params *p, char out[WSC__PMD_TEXT_MAX]);

/* Server: decides on one valid offer under cfg (RFC 7692 7.1). On acceptance fills *response
 * (what to send: wsc__pmd_format) and *agreed and returns true; the response only ever holds what
 * the RFC lets a server answer to that offer. Returns false (offer declined, outputs zeroed) when
 * cfg is off, the offer asks for a server window below 9 bits, or cfg limits the client's window
 * and the offer lacks client_max_window_bits (the server could not make the client comply). */
bool wsc__pmd_server_accept(const wsc__pmd_config *cfg, const wsc__pmd_params *offer,
                            wsc__pmd_params *response, wsc__pmd_agreed *agreed);

/* Server: the first acceptable permessage-deflate offer of one header value v[0..n), as
 * wsc__pmd_server_accept. Invalid offers and other extensions are skipped. With several
 * Sec-WebSocket-Extensions lines, call it for each line in order and stop at the first true.
 * Returns false (outputs zeroed) if none is accepted. */
bool wsc__pmd_server_choose(const wsc__pmd_config *cfg, const char *v, size_t n,
                            wsc__pmd_params *response, wsc__pmd_agreed *agreed);

/* Client: the offer to send for cfg (wsc__pmd_format writes it). Returns false if cfg is off (no
 * offer). Always offers client_max_window_bits (with a value when it is below 15), so a server
 * may limit our window; server_max_window_bits only when below 15. */
bool wsc__pmd_client_offer(const wsc__pmd_config *cfg, wsc__pmd_params *offer);

/* Client: checks one Sec-WebSocket-Extensions value v[0..n) of the server's response against
 * what was offered (offer; NULL if nothing was). Start with *agreed zeroed and call it for each
 * line of the response in order: agreed->on set by an earlier line counts, so a second accepted
 * extension fails. Returns 0 (with *agreed set once a valid response is seen), or -1 with *why a
 * static message: an extension not offered, a second one, a malformed element, an unknown,
 * duplicate or invalid parameter, client_max_window_bits not offered, without a value, larger
 * than offered or too small to compress with, server_max_window_bits or
 * server_no_context_takeover missing though offered, or server_max_window_bits larger than
 * offered (RFC 7692 7.1). */
int wsc__pmd_client_check(const wsc__pmd_params *offer, const char *v, size_t n,
                          wsc__pmd_agreed *agreed, const char **why);

#endif

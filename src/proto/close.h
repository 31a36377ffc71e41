/* Close frame payloads and status codes (RFC 6455 sections 5.5.1 and 7.4). */
#ifndef WSC_PROTO_CLOSE_H
#define WSC_PROTO_CLOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    WSC__CLOSE_NORMAL = 1000,
    WSC__CLOSE_GOING_AWAY = 1001,
    WSC__CLOSE_PROTOCOL = 1002,
    WSC__CLOSE_UNSUPPORTED = 1003,
    WSC__CLOSE_NO_STATUS = 1005, /* never on the wire: "the close frame had no payload" */
    WSC__CLOSE_ABNORMAL = 1006,  /* never on the wire: "no close frame at all" */
    WSC__CLOSE_INVALID_DATA = 1007,
    WSC__CLOSE_POLICY = 1008,
    WSC__CLOSE_TOO_BIG = 1009,
    WSC__CLOSE_EXTENSION = 1010,
    WSC__CLOSE_INTERNAL = 1011,
    WSC__CLOSE_SERVICE_RESTART = 1012,
    WSC__CLOSE_TRY_AGAIN_LATER = 1013,
    WSC__CLOSE_BAD_GATEWAY = 1014,
    WSC__CLOSE_REASON_MAX = 123 /* 125-byte control payload minus the 2-byte code */
};

/* Section 7.4: a code an endpoint may send or accept in a close frame: 1000-1003, 1007-1011, the
 * later IANA registrations 1012-1014 (service restart, try again later, bad gateway) and 3000-4999
 * (registered + private use). Everything else is refused: below 1000, 1004-1006 (reserved,
 * 1005/1006 are local-only), 1015 (local-only: TLS failure), 1016-2999 (reserved for future RFCs),
 * 5000 and up. */
bool wsc__close_code_valid_on_wire(unsigned code);

/* Parses a received close payload p[0..n). Returns 0 if acceptable, else the close code to fail the
 * connection with: 1002 for n == 1, n > 125 or a code not valid on the wire, 1007 for a reason that
 * is not UTF-8. On success *code is the peer's code (1005 when n == 0) and *reason and *reason_len
 * point into p (NULL/0 when absent). Output pointers may be NULL. Thread-safety: pure. */
int wsc__close_payload_parse(const uint8_t *p, size_t n, unsigned *code, const uint8_t **reason,
                             size_t *reason_len);

/* Builds a close payload into out and returns its length (0..125). A code that is not valid on the
 * wire (e.g. 0 or 1005) gives the empty payload (section 5.5.1: no status code). The reason is cut
 * to at most 123 bytes at a code point boundary; a reason that is not valid UTF-8 is left out (the
 * code alone is sent), so the peer never receives an invalid close frame. reason may be NULL when
 * reason_len is 0. Thread-safety: pure. */
size_t wsc__close_payload_build(uint8_t out[125], unsigned code, const char *reason,
                                size_t reason_len);

#endif

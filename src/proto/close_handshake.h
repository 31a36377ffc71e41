/* The close handshake's one policy (RFC 6455 sections 5.5.1 and 7.1.2), followed by the server's
 * connections and by the client alike, so that the two can never disagree again.
 *
 * When the peer's close frame arrives and we have not sent ours, we must answer it. The application
 * may see the frame first (the server's client_close, the client's close_frame callback) and answer
 * it itself, with any code; when that callback returns without having closed, the library answers:
 * echoing the peer's code (no code when the peer sent none), or 1011 when the callback failed. After
 * the exchange the server closes the TCP connection (7.1.1) and the client waits for it to, within a
 * bound. I/O-free: the callers send the frame. */
#ifndef WSC_PROTO_CLOSE_HANDSHAKE_H
#define WSC_PROTO_CLOSE_HANDSHAKE_H

#include "proto/close.h"

/* The code of the close frame that answers a peer's close frame carrying peer_code (1005: it had
 * no payload, and the answer has none either), once the application's callback for it, if any,
 * returned callback_rc (0 when there is no callback). Unused when a close frame was already sent. */
static inline unsigned wsc__close_answer_code(unsigned peer_code, int callback_rc)
{
    return callback_rc != 0 ? (unsigned)WSC__CLOSE_INTERNAL : peer_code;
}

#endif

/* Message assembly: the reader's DATA chunks become whole messages. One implementation, used by
 * the server's connections, the client and the test helpers, and the one place where
 * permessage-deflate inflates (wsc__asm_add_compressed).
 *
 * I/O-free and storage-free: the caller owns the buffer the message is assembled in and lends it
 * through a wsc__asm_store; the assembler's own state is the byte count so far (the reader already
 * knows the message's type). A message whole in one chunk is handed out where it lies; a chunk
 * that was read right where it belongs in the buffer (after the bytes assembled so far) is not
 * copied. */
#ifndef WSC_PROTO_ASSEMBLER_H
#define WSC_PROTO_ASSEMBLER_H

#include <stddef.h>
#include <stdint.h>

#include "deflate/pmd_codec.h"
#include "proto/reader.h"

/* Where a message is assembled. room returns the buffer holding the `have` bytes assembled so far
 * with space for at least `need` bytes in all (it may move them), or NULL when it cannot (out of
 * memory, over the caller's limit). chunk is the chunk about to be appended (NULL when only the
 * buffer is asked for): a store may start the message in place, around the first chunk. */
typedef struct wsc__asm_store {
    uint8_t *(*room)(void *ctx, size_t have, size_t need, const uint8_t *chunk);
    void *ctx;
} wsc__asm_store;

enum wsc__asm_result {
    WSC__ASM_MORE,    /* the message goes on in later chunks */
    WSC__ASM_DONE,    /* the message is complete: *data, *len */
    WSC__ASM_NOMEM,   /* the store had no room: fail the connection (1011, or 1009 over a limit) */
    WSC__ASM_TOO_BIG, /* compressed: the message inflates to more than the limit: 1009 */
    WSC__ASM_INVALID  /* compressed: corrupt deflate data, or text that is not UTF-8: 1007 */
};

/* Adds the chunk of a DATA event to the message whose first *have bytes were assembled so far (0
 * between messages). On DONE, *data and *len are the whole message (data may be NULL for an empty
 * one) and *have is 0 again; data stays valid until the store's buffer is reused or, for a
 * message whole in one chunk, until the chunk's bytes are. Thread-safety: one thread per
 * message. */
enum wsc__asm_result wsc__asm_add(size_t *have, const wsc__event *ev, const wsc__asm_store *st,
                                  uint8_t **data, size_t *len);

/* Adds the chunk of a DATA event of a compressed message (ev->rsv1, RFC 7692 6.2) to the message
 * whose first *have inflated bytes were assembled so far: the chunk is inflated by f into the store
 * (room is called with the compressed chunk as `chunk`, which never lies in the store's buffer, so
 * the store grows its buffer and does not start the message in place). The message is bounded by
 * max (0: none) while inflating: over it, TOO_BIG with no more than max bytes asked of the store.
 * utf8: a text message is checked once inflated (the reader cannot see inflated bytes). On DONE,
 * *data and *len are the whole inflated message (data NULL when empty) and *have is 0 again. After
 * NOMEM, TOO_BIG or INVALID the connection must fail. Thread-safety: one thread per message. */
enum wsc__asm_result wsc__asm_add_compressed(size_t *have, const wsc__event *ev,
                                             const wsc__asm_store *st, wsc__inflater *f, size_t max,
                                             bool utf8, uint8_t **data, size_t *len);

#endif

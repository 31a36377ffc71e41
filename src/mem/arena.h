/* The per-callback arena behind wsc_arena_alloc (websocket.zig's thread-local buffer that falls back
 * to an arena): a first block of first_block_size bytes, kept across resets so a handler thread
 * allocates nothing in the common case, then heap blocks growing geometrically, freed by reset. */
#ifndef WSC_MEM_ARENA_H
#define WSC_MEM_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "wsc.h"

struct wsc__arena_block; /* a heap block: header followed by its bytes */

/* Private fields: use the functions below. Lives by value on a stack or in a thread's struct. */
struct wsc_arena {
    uint8_t *first;                 /* the kept block, allocated on first use (NULL before) */
    size_t first_size;
    uint8_t *cur;                   /* bump region in use: first or the newest heap block */
    size_t cur_used, cur_cap;
    struct wsc__arena_block *heap;  /* newest heap block first */
    size_t next_block;              /* size of the next heap block (doubles each time) */
};

/* Prepares an arena whose first block has first_block_size bytes (0: heap blocks only). Allocates
 * nothing yet. Thread-safety: the owning thread. */
void wsc__arena_init(wsc_arena *a, size_t first_block_size);

/* Frees every heap block and rewinds the first block: every pointer handed out is invalid afterwards.
 * Thread-safety: the owning thread. Inline: it runs after every callback, and most use no arena. */
void wsc__arena_reset_used(wsc_arena *a);
static inline void wsc__arena_reset(wsc_arena *a)
{
    if (a->heap || a->cur_used)
        wsc__arena_reset_used(a);
}

/* Frees everything, the first block too; the arena may be initialised again. Thread-safety: the
 * owning thread. */
void wsc__arena_destroy(wsc_arena *a);

/* Bytes held in heap blocks (0 when everything fit the first block): for tests and statistics.
 * Thread-safety: the owning thread. */
size_t wsc__arena_heap_bytes(const wsc_arena *a);

#endif

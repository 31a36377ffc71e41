/* RFC 6455 section 5.3 masking. */
#ifndef WSC_PROTO_MASK_H
#define WSC_PROTO_MASK_H

#include <stddef.h>
#include <stdint.h>

/* XOR p[0..n) in place with key, starting at key byte (offset & 3): offset is the payload position
 * of p[0] within its frame, so a payload that arrives split across reads is unmasked by calling
 * this once per piece with the running offset. Any alignment, any length (n == 0 is a no-op).
 * Masking is its own inverse. Thread-safety: pure. */
void wsc__mask(uint8_t *p, size_t n, const uint8_t key[4], size_t offset);

/* dst[i] = src[i] ^ key[(offset + i) & 3] for i < n: masks const data while copying it to the
 * output buffer (one pass instead of memcpy + wsc__mask). dst and src must not overlap unless
 * equal. Thread-safety: pure. */
void wsc__mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4],
                    size_t offset);

/* Writes a fresh, unpredictable 4-byte mask key (section 5.3 wants keys an attacker cannot predict
 * from earlier frames). Source: a per-thread ChaCha20 keystream keyed from getrandom(2) (falling
 * back to /dev/urandom), so one syscall seeds many keys and earlier keys reveal nothing about later
 * ones. The state is thread-local (the only mutable state of the proto layer) and is re-keyed after
 * fork (getpid is compared on every call) and after every 2^20 keys. Thread-safety: safe from any
 * thread. */
void wsc__mask_key_new(uint8_t key[4]);

#endif

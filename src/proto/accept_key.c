/* Sec-WebSocket-Key and Sec-WebSocket-Accept (RFC 6455 sections 4.1 and 4.2.2)
 * on OpenSSL's SHA-1, base64 and CSPRNG. */
#include "proto/handshake.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

/* RFC 6455 section 1.3: the GUID every server appends to the client's key. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool wsc__accept_key(const char *key, size_t key_len, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, key, key_len) == 1 &&
              EVP_DigestUpdate(ctx, ws_guid, sizeof ws_guid - 1) == 1 &&
              EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 20;

    EVP_MD_CTX_free(ctx);
    if (!ok) {
        /* OpenSSL's error queue is per thread: leaving entries there would be blamed on the
           next, unrelated TLS call made on this thread. */
        ERR_clear_error();
        out[0] = '\0';
        return false;
    }
    /* 20 bytes -> 28 base64 characters and a NUL. */
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return true;
}

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

bool wsc__hs_key_valid(const char *key, size_t len)
{
    /* Section 4.1: the key is a base64-encoded 16-byte nonce, so exactly 22
       alphabet characters and "==". Non-zero padding bits in the 22nd character
       are tolerated, as RFC 4648 section 3.5 allows a decoder. */
    if (!key || len != WSC__HS_KEY_LEN || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++)
        if (!b64_char((unsigned char)key[i]))
            return false;
    return true;
}

bool wsc__hs_key_new(char out[25])
{
    unsigned char nonce[16];

    /* Section 4.1: the nonce must be chosen randomly for each connection, so it
       comes from the CSPRNG, which is thread-safe and fork-safe in OpenSSL. */
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        ERR_clear_error();
        out[0] = '\0';
        return false;
    }
    EVP_EncodeBlock((unsigned char *)out, nonce, sizeof nonce);
    return true;
}

/* --tls: the load generator's side of wss, over OpenSSL. The calls keep the socket calls' contract
 * (bytes, 0 at the end, or -1 with errno, EAGAIN when the socket must become ready first), so the
 * loop reads and writes TLS and TCP connections the same way. The certificate is not verified:
 * the generator measures servers, it does not trust them. */
#include <errno.h>
#include <stdint.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "load.h"

void *load_tls_ctx_new(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

void load_tls_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

void *load_tls_new(void *ctx, int fd, const char *host)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, host);
    SSL_set_connect_state(ssl);
    return ssl;
}

void load_tls_free(void *ssl)
{
    SSL_free(ssl);
}

/* Maps a failed call to errno: EAGAIN to wait, EPIPE for the end or an error. */
static ssize_t fail(SSL *ssl, int ret)
{
    int e = SSL_get_error(ssl, ret);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = e == SSL_ERROR_SYSCALL && errno ? errno : EPIPE;
    return -1;
}

int load_tls_handshake(void *ssl)
{
    int ret = SSL_do_handshake(ssl);
    if (ret == 1)
        return 1;
    int e = SSL_get_error(ssl, ret);
    ERR_clear_error();
    return e == SSL_ERROR_WANT_READ ? 0 : e == SSL_ERROR_WANT_WRITE ? 2 : -1;
}

bool load_tls_pending(void *ssl)
{
    return SSL_pending(ssl) > 0;
}

/* Reads until buf is full or the socket has no more: one call returns one record at most. */
ssize_t load_tls_recv(void *ssl, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t k = 0;
        int ret = SSL_read_ex(ssl, (char *)buf + got, n - got, &k);
        if (ret != 1) {
            if (got)
                return (ssize_t)got; /* the end or the error comes with the next call */
            return fail(ssl, ret);
        }
        got += k;
    }
    return (ssize_t)got;
}

/* Writes until everything is taken or the socket is full (records go one at a time). */
ssize_t load_tls_send(void *ssl, const void *buf, size_t n)
{
    size_t sent = 0;
    while (sent < n) {
        size_t k = 0;
        int ret = SSL_write_ex(ssl, (const char *)buf + sent, n - sent, &k);
        if (ret != 1) {
            if (sent)
                return (ssize_t)sent;
            return fail(ssl, ret);
        }
        sent += k;
    }
    return (ssize_t)sent;
}

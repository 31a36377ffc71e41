/* Transports: plain TCP, and TLS over OpenSSL (client side), plus the shared CA store. */
#include "io/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "io/connect.h"
#include "util/err.h"
#include "util/log.h"

/* ---- plain TCP ----------------------------------------------------------- */

typedef struct {
    wsc__transport base;
    atomic_bool shut;
} tcp_transport;

static ptrdiff_t tcp_read(wsc__transport *t, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(t->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return WSC__IO_WANT_READ;
        t->sys_errno = errno;
        return WSC__IO_ERROR;
    }
}

static ptrdiff_t tcp_writev(wsc__transport *t, const struct iovec *iov, int iovcnt)
{
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

    for (;;) {
        /* MSG_NOSIGNAL: a peer that went away must give EPIPE, not kill the process with SIGPIPE.
         */
        ssize_t n = sendmsg(t->fd, &m, MSG_NOSIGNAL);
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return WSC__IO_WANT_WRITE;
        t->sys_errno = n < 0 ? errno : EPIPE;
        return WSC__IO_ERROR;
    }
}

static void tcp_shutdown(wsc__transport *t)
{
    tcp_transport *p = (tcp_transport *)t;
    if (!atomic_exchange(&p->shut, true))
        (void)shutdown(t->fd, SHUT_RDWR);
}

static void tcp_free(wsc__transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    free(t);
}

static const wsc__transport_ops tcp_ops = {"tcp", tcp_read, tcp_writev, tcp_shutdown, tcp_free};

wsc__transport *wsc__transport_tcp_new(int fd)
{
    tcp_transport *p = calloc(1, sizeof *p);
    if (!p) {
        close(fd);
        return NULL;
    }
    p->base.ops = &tcp_ops;
    p->base.fd = fd;
    atomic_init(&p->shut, false);
    return &p->base;
}

/* ---- TLS ------------------------------------------------------------------ */

/* Plaintext bytes of one TLS record: what a coalesced write (frame header + payload) is cut to. */
enum { TLS_RECORD = 16384 };

typedef struct {
    wsc__transport base;
    SSL *ssl;
    pthread_mutex_t lock; /* every SSL_* call on ssl; never held while waiting */
    bool eof;             /* the BIO saw the end of the stream (read under lock) */
    bool read_wants_write; /* the last read returned WANT_WRITE (the reading thread's) */
    bool drained;          /* the BIO's last receive took all the socket had (under lock) */
    atomic_bool shut;
} tls_transport;

/* Our own socket BIO instead of OpenSSL's: its writes must use send(MSG_NOSIGNAL) (OpenSSL's socket
   BIO calls write(2), and a peer that went away would raise SIGPIPE in the application), and the
   BIO records errno and EOF in the transport. The method table is created once per process
   (pthread_once) and never changes afterwards: the one piece of global state here, immutable once
   made. */
static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write(BIO *b, const char *data, int len)
{
    tls_transport *tt = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = send(tt->base.fd, data, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_write(b);
        else
            tt->base.sys_errno = errno;
        return -1;
    }
}

static int bio_read(BIO *b, char *buf, int len)
{
    tls_transport *tt = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t n = recv(tt->base.fd, buf, (size_t)len, 0);
        if (n > 0) {
            tt->drained = n < len;
            return (int)n;
        }
        tt->drained = true;
        if (n == 0) {
            tt->eof = true;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            BIO_set_retry_read(b);
        else
            tt->base.sys_errno = errno;
        return -1;
    }
}

static int bio_puts(BIO *b, const char *s)
{
    return bio_write(b, s, (int)strlen(s));
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    tls_transport *tt = BIO_get_data(b);
    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* nothing is buffered here */
    case BIO_CTRL_EOF:
        /* OpenSSL asks after a read of 0 whether the stream really ended. */
        return tt && tt->eof;
    case BIO_C_GET_FD:
        if (ptr)
            *(int *)ptr = tt ? tt->base.fd : -1;
        return tt ? tt->base.fd : -1;
    default:
        return 0;
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsc socket");
    if (!m)
        return;
    if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
        !BIO_meth_set_puts(m, bio_puts) || !BIO_meth_set_ctrl(m, bio_ctrl) ||
        !BIO_meth_set_create(m, bio_create)) {
        BIO_meth_free(m);
        return;
    }
    bio_method = m;
}

/* Describes the newest error on this thread's OpenSSL error queue ("" if none) into buf. */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r)
        snprintf(buf, cap, "%s", r);
    else if (e)
        ERR_error_string_n(e, buf, cap);
    else
        snprintf(buf, cap, "unknown error");
    return buf;
}

/* Maps the outcome of an SSL call (ret <= 0) to WSC__IO_*; 0 for a clean end of stream. Called with
   the lock held, right after the call (SSL_get_error reads the thread's error queue). */
static ptrdiff_t ssl_fail(tls_transport *tt, int ret)
{
    int e = SSL_get_error(tt->ssl, ret);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return WSC__IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return WSC__IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0; /* close_notify */
    case SSL_ERROR_SYSCALL:
        if (tt->eof && !tt->base.sys_errno)
            return 0;
        if (!tt->base.sys_errno)
            tt->base.sys_errno = errno ? errno : EPIPE;
        return WSC__IO_ERROR;
    default:
        if (wsc__log_enabled(WSC_LOG_INFO)) {
            char why[120];
            wsc__log(WSC_LOG_INFO, "TLS error: %s", ssl_reason(why, sizeof why));
        }
        return WSC__IO_ERROR;
    }
}

static ptrdiff_t tls_read(wsc__transport *t, void *buf, size_t len)
{
    tls_transport *tt = (tls_transport *)t;
    size_t got = 0;
    ptrdiff_t rc;

    pthread_mutex_lock(&tt->lock);
    ERR_clear_error();
    int ret = SSL_read_ex(tt->ssl, buf, len, &got);
    rc = ret == 1 ? (ptrdiff_t)got : ssl_fail(tt, ret);
    ERR_clear_error();
    pthread_mutex_unlock(&tt->lock);
    tt->read_wants_write = rc == WSC__IO_WANT_WRITE;
    return rc;
}

static ptrdiff_t tls_writev(wsc__transport *t, const struct iovec *iov, int iovcnt)
{
    tls_transport *tt = (tls_transport *)t;
    uint8_t scratch[TLS_RECORD]; /* coalesces small iovecs so a frame is one record, not two */
    const void *src;
    size_t len;

    while (iovcnt > 0 && iov->iov_len == 0) {
        iov++;
        iovcnt--;
    }
    if (iovcnt == 0)
        return WSC__IO_ERROR;
    pthread_mutex_lock(&tt->lock);
    if (iovcnt == 1 || iov[0].iov_len >= TLS_RECORD) {
        src = iov[0].iov_base;
        len = iov[0].iov_len;
    } else {
        /* A frame header alone would be a record of its own: fill one record from the iovecs
           instead. A retry after WANT_WRITE gets the same iovecs, hence the same bytes, which is
           what SSL_write requires of a retried call. */
        len = 0;
        for (int i = 0; i < iovcnt && len < TLS_RECORD; i++) {
            size_t n = iov[i].iov_len < TLS_RECORD - len ? iov[i].iov_len : TLS_RECORD - len;
            memcpy(scratch + len, iov[i].iov_base, n);
            len += n;
        }
        src = scratch;
    }
    size_t put = 0;
    ERR_clear_error();
    int ret = SSL_write_ex(tt->ssl, src, len, &put);
    ptrdiff_t rc = ret == 1 ? (ptrdiff_t)put : ssl_fail(tt, ret);
    if (rc == 0)
        rc = WSC__IO_ERROR; /* the peer's close_notify: nothing more can be written */
    ERR_clear_error();
    pthread_mutex_unlock(&tt->lock);
    return rc;
}

static void tls_shutdown(wsc__transport *t)
{
    tls_transport *tt = (tls_transport *)t;

    if (atomic_exchange(&tt->shut, true))
        return;
    /* Best effort: the close_notify goes out if the socket takes it now; a TLS connection that ends
       without it only loses the "no truncation" proof, which the WebSocket close handshake gives.
     */
    pthread_mutex_lock(&tt->lock);
    ERR_clear_error();
    if (SSL_is_init_finished(tt->ssl))
        (void)SSL_shutdown(tt->ssl);
    ERR_clear_error();
    pthread_mutex_unlock(&tt->lock);
    (void)shutdown(t->fd, SHUT_RDWR);
}

static void tls_free(wsc__transport *t)
{
    tls_transport *tt = (tls_transport *)t;

    SSL_free(tt->ssl);
    if (t->fd >= 0)
        close(t->fd);
    pthread_mutex_destroy(&tt->lock);
    free(tt);
}

static const wsc__transport_ops tls_ops = {"tls", tls_read, tls_writev, tls_shutdown, tls_free};

/* A TLS transport over fd with a new SSL of ctx, before its handshake (either side); NULL when out
   of memory. The fd is not closed on failure. */
static tls_transport *tls_new(int fd, SSL_CTX *ctx)
{
    pthread_once(&bio_once, bio_method_make);
    if (!bio_method)
        return NULL;
    tls_transport *tt = calloc(1, sizeof *tt);
    if (!tt)
        return NULL;
    tt->base.ops = &tls_ops;
    tt->base.fd = fd;
    atomic_init(&tt->shut, false);
    pthread_mutex_init(&tt->lock, NULL);
    tt->ssl = SSL_new(ctx);
    BIO *bio = tt->ssl ? BIO_new(bio_method) : NULL;
    if (!bio) {
        ERR_clear_error();
        tt->base.fd = -1;
        tls_free(&tt->base);
        return NULL;
    }
    BIO_set_data(bio, tt);
    SSL_set_bio(tt->ssl, bio, bio);
    return tt;
}

void wsc__transport_free_keep_fd(wsc__transport *t)
{
    t->fd = -1;
    t->ops->free(t);
}

bool wsc__tls_read_more(wsc__transport *t)
{
    tls_transport *tt = (tls_transport *)t;
    pthread_mutex_lock(&tt->lock);
    bool more = !tt->drained || SSL_has_pending(tt->ssl);
    pthread_mutex_unlock(&tt->lock);
    return more;
}

bool wsc__tls_read_wants_write(const wsc__transport *t)
{
    return t->ops == &tls_ops && ((const tls_transport *)t)->read_wants_write;
}

void wsc__tls_close_notify(wsc__transport *t)
{
    tls_transport *tt = (tls_transport *)t;
    if (t->ops != &tls_ops)
        return;
    pthread_mutex_lock(&tt->lock);
    ERR_clear_error();
    if (SSL_is_init_finished(tt->ssl) && !(SSL_get_shutdown(tt->ssl) & SSL_SENT_SHUTDOWN))
        (void)SSL_shutdown(tt->ssl);
    ERR_clear_error();
    pthread_mutex_unlock(&tt->lock);
}

/* ---- contexts and the CA store -------------------------------------------- */

struct wsc_ca_store {
    SSL_CTX *ctx; /* reference-counted by OpenSSL: each client holds its own reference */
};

static SSL_CTX *ctx_new(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    /* TLS 1.0 and 1.1 are deprecated (RFC 8996). Renegotiation is refused: nothing needs it and it
       is a known attack surface. An EOF without close_notify is reported as an ordinary end of
       stream: the WebSocket close handshake already tells a clean end from a cut one. */
    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

static int ctx_load(SSL_CTX *ctx, const char *ca_file, const char *ca_path, wsc_err *err)
{
    char why[120];

    ERR_clear_error();
    if (ca_file || ca_path) {
        if (SSL_CTX_load_verify_locations(ctx, ca_file, ca_path) != 1) {
            ssl_reason(why, sizeof why);
            ERR_clear_error();
            return wsc__err(err, WSC_ETLS, "cannot load CA certificates from %s: %s",
                            ca_file ? ca_file : ca_path, why);
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_reason(why, sizeof why);
        ERR_clear_error();
        return wsc__err(err, WSC_ETLS, "cannot load the system CA certificates: %s", why);
    }
    return 0;
}

/* OpenSSL works out a certificate's extension data (key identifiers, CA flag) on first use and
   caches it in the certificate; two threads verifying against one store can both do it at once,
   one rewriting the cache while the other reads it. A shared store has it done here, before any
   thread sees it. Certificates a CA directory supplies later, during verification, are not
   covered: those are loaded on demand. */
static void cache_extensions(SSL_CTX *ctx)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (x)
            X509_check_purpose(x, -1, 0); /* -1: only caches the extensions */
    }
}

WSC_API wsc_ca_store *wsc_ca_store_new(const char *ca_file, const char *ca_path, wsc_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    wsc_ca_store *s = calloc(1, sizeof *s);
    if (!s) {
        wsc__err(err, WSC_ENOMEM, NULL);
        return NULL;
    }
    s->ctx = ctx_new();
    if (!s->ctx) {
        free(s);
        ERR_clear_error();
        wsc__err(err, WSC_ETLS, "cannot create a TLS context");
        return NULL;
    }
    if (ctx_load(s->ctx, ca_file, ca_path, err) != 0) {
        SSL_CTX_free(s->ctx);
        free(s);
        return NULL;
    }
    cache_extensions(s->ctx);
    return s;
}

WSC_API void wsc_ca_store_free(wsc_ca_store *store)
{
    if (!store)
        return;
    SSL_CTX_free(store->ctx); /* clients still using it keep their own references */
    free(store);
}

/* ---- the client handshake ------------------------------------------------- */

static bool is_ip_literal(const char *host)
{
    unsigned char a[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

static int handshake_error(tls_transport *tt, int ret, const wsc__tls_opts *o, wsc_err *err)
{
    char why[120];
    int e = SSL_get_error(tt->ssl, ret);
    long v = SSL_get_verify_result(tt->ssl);

    if (e == SSL_ERROR_SSL && !o->no_verify && v != X509_V_OK) {
        ERR_clear_error();
        return wsc__err(err, WSC_ETLSVERIFY, "certificate of %s: %s", o->host,
                        X509_verify_cert_error_string(v));
    }
    if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        int sys = tt->base.sys_errno;
        ERR_clear_error();
        if (!sys)
            return wsc__err(err, WSC_ECLOSED,
                            "TLS handshake with %s: the server closed the connection", o->host);
        return wsc__err_sys(err, WSC_EIO, sys, "TLS handshake with %s", o->host);
    }
    ssl_reason(why, sizeof why);
    ERR_clear_error();
    return wsc__err(err, WSC_ETLS, "TLS handshake with %s: %s", o->host, why);
}

int wsc__tls_client_new(int fd, const wsc__tls_opts *o, int64_t deadline, wsc__transport **out,
                        wsc_err *err)
{
    SSL_CTX *ctx;
    int rc;

    *out = NULL;
    if (o->ca_store) {
        ctx = o->ca_store->ctx;
        if (!SSL_CTX_up_ref(ctx))
            return wsc__err(err, WSC_ETLS, "cannot reference the CA store");
    } else {
        ctx = ctx_new();
        if (!ctx) {
            ERR_clear_error();
            return wsc__err(err, WSC_ETLS, "cannot create a TLS context");
        }
        if (!o->no_verify && (rc = ctx_load(ctx, o->ca_file, o->ca_path, err)) != 0) {
            SSL_CTX_free(ctx);
            return rc;
        }
    }

    ERR_clear_error();
    tls_transport *tt = tls_new(fd, ctx);
    SSL_CTX_free(ctx); /* the SSL holds its own reference */
    if (!tt)
        return wsc__err(err, WSC_ENOMEM, "cannot create a TLS connection");
    SSL_set_connect_state(tt->ssl);

    if (o->no_verify) {
        SSL_set_verify(tt->ssl, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_set_verify(tt->ssl, SSL_VERIFY_PEER, NULL);
        SSL_set_hostflags(tt->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    if (is_ip_literal(o->host)) {
        /* RFC 6066 section 3: SNI carries host names only, never addresses. An address is checked
           against the certificate's iPAddress entries (RFC 6125). */
        if (!o->no_verify && !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(tt->ssl), o->host)) {
            rc = wsc__err(err, WSC_ETLS, "cannot verify against address %s", o->host);
            goto fail;
        }
    } else {
        if (!SSL_set_tlsext_host_name(tt->ssl, o->host) ||
            (!o->no_verify && !SSL_set1_host(tt->ssl, o->host))) {
            rc = wsc__err(err, WSC_ETLS, "bad TLS server name %s", o->host);
            goto fail;
        }
    }

    for (;;) {
        ERR_clear_error();
        int ret = SSL_connect(tt->ssl);
        if (ret == 1)
            break;
        int e = SSL_get_error(tt->ssl, ret);
        short ev;
        if (e == SSL_ERROR_WANT_READ)
            ev = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            ev = POLLOUT;
        else {
            rc = handshake_error(tt, ret, o, err);
            goto fail;
        }
        rc = wsc__fd_wait(fd, ev, deadline);
        if (rc) {
            rc = rc == WSC_ETIMEDOUT
                     ? wsc__err(err, rc, "TLS handshake with %s: timed out", o->host)
                     : wsc__err_sys(err, rc, errno, "TLS handshake with %s", o->host);
            goto fail;
        }
    }
    ERR_clear_error();
    WSC__LOG(WSC_LOG_DEBUG, "TLS with %s: %s, %s", o->host, SSL_get_version(tt->ssl),
             SSL_get_cipher_name(tt->ssl));
    *out = &tt->base;
    return 0;
fail:
    ERR_clear_error();
    tt->base.fd = -1; /* the caller's still */
    tls_free(&tt->base);
    return rc;
}

/* ---- the server side ------------------------------------------------------ */

struct wsc__tls_server {
    pthread_mutex_t mu; /* ctx: a reload swaps it while connections are accepted */
    SSL_CTX *ctx;       /* reference-counted: each connection's SSL holds its own */
    char *cert_file, *key_file, *ca_file, *ca_path;
    int min_version, max_version;
    bool client_cert_optional, no_tickets;
};

/* ALPN (RFC 7301): WebSocket runs over HTTP/1.1 (RFC 6455 section 4.1). A client that offers ALPN
   without http/1.1 gets the no_application_protocol alert the RFC asks for; one that offers none
   is served as usual. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

/* ctx_err: fills err with what OpenSSL says went wrong in what. */
static int ctx_err(wsc_err *err, const char *what, const char *file)
{
    char why[120];
    ssl_reason(why, sizeof why);
    ERR_clear_error();
    return wsc__err(err, WSC_ETLS, "%s %s: %s", what, file, why);
}

/* Builds a server context from the files, as they are now. old: the context it replaces, whose
   session ticket keys carry over so that clients resume across a certificate reload. */
static SSL_CTX *server_ctx_build(const wsc__tls_server *s, SSL_CTX *old, wsc_err *err)
{
    static const unsigned char sid_ctx[] = "wsc";
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        ctx_err(err, "cannot create a TLS context", "");
        return NULL;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, s->min_version) ||
        !SSL_CTX_set_max_proto_version(ctx, s->max_version)) {
        ctx_err(err, "TLS versions", "");
        goto fail;
    }
    /* As for the client (ctx_new); the server's cipher order wins. No stateful session cache: a
       session lives in its ticket, encrypted with the context's key, so resumption costs the
       server no memory per session. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 (s->no_tickets ? SSL_OP_NO_TICKET : 0));
    if (s->no_tickets)
        SSL_CTX_set_num_tickets(ctx, 0);
    /* RELEASE_BUFFERS: an idle connection gives its record buffers back (34 KiB). */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    /* Read ahead: a receive takes whatever the socket has, several records at once, instead of
       a record header and then its body; and a short one shows that the socket is drained, which
       saves the read that would only say EAGAIN (wsc__tls_read_more). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_file) != 1) {
        ctx_err(err, "cannot load the certificate chain", s->cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, s->key_file, SSL_FILETYPE_PEM) != 1) {
        ctx_err(err, "cannot load the private key", s->key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ctx_err(err, "the private key does not match the certificate in", s->cert_file);
        goto fail;
    }
    if (s->ca_file || s->ca_path) {
        if (SSL_CTX_load_verify_locations(ctx, s->ca_file, s->ca_path) != 1) {
            ctx_err(err, "cannot load client CA certificates from",
                    s->ca_file ? s->ca_file : s->ca_path);
            goto fail;
        }
        if (s->ca_file) {
            /* Tells clients which CAs to choose a certificate for. */
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->ca_file);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
        }
        SSL_CTX_set_verify(
            ctx, SSL_VERIFY_PEER | (s->client_cert_optional ? 0 : SSL_VERIFY_FAIL_IF_NO_PEER_CERT),
            NULL);
        cache_extensions(ctx);
    }
    if (old && !s->no_tickets) {
        unsigned char keys[80]; /* name, HMAC and AES keys */
        if (SSL_CTX_get_tlsext_ticket_keys(old, keys, sizeof keys) == 1)
            SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof keys);
        OPENSSL_cleanse(keys, sizeof keys);
    }
    ERR_clear_error();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static char *dup_opt(const char *s, bool *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = true;
    return d;
}

void wsc__tls_server_free(wsc__tls_server *s)
{
    if (!s)
        return;
    SSL_CTX_free(s->ctx);
    free(s->cert_file);
    free(s->key_file);
    free(s->ca_file);
    free(s->ca_path);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int wsc__tls_server_new(const wsc__tls_server_opts *o, wsc__tls_server **out, wsc_err *err)
{
    bool oom = false;
    *out = NULL;
    wsc__tls_server *s = calloc(1, sizeof *s);
    if (!s)
        return wsc__err(err, WSC_ENOMEM, NULL);
    pthread_mutex_init(&s->mu, NULL);
    s->cert_file = dup_opt(o->cert_file, &oom);
    s->key_file = dup_opt(o->key_file, &oom);
    s->ca_file = dup_opt(o->ca_file, &oom);
    s->ca_path = dup_opt(o->ca_path, &oom);
    s->min_version = o->min_version;
    s->max_version = o->max_version;
    s->client_cert_optional = o->client_cert_optional;
    s->no_tickets = o->no_tickets;
    if (oom) {
        wsc__tls_server_free(s);
        return wsc__err(err, WSC_ENOMEM, NULL);
    }
    if (!(s->ctx = server_ctx_build(s, NULL, err))) {
        wsc__tls_server_free(s);
        return err ? err->code : WSC_ETLS;
    }
    *out = s;
    return 0;
}

int wsc__tls_server_reload(wsc__tls_server *s, wsc_err *err)
{
    pthread_mutex_lock(&s->mu);
    SSL_CTX *old = s->ctx;
    SSL_CTX_up_ref(old);
    pthread_mutex_unlock(&s->mu);
    /* Built outside the lock: reading files and keys takes long, and accepts go on meanwhile. */
    SSL_CTX *ctx = server_ctx_build(s, old, err);
    SSL_CTX_free(old);
    if (!ctx)
        return err ? err->code : WSC_ETLS;
    pthread_mutex_lock(&s->mu);
    old = s->ctx;
    s->ctx = ctx;
    pthread_mutex_unlock(&s->mu);
    /* Connections made with the old context hold references of their own: they go on with it. */
    SSL_CTX_free(old);
    return 0;
}

wsc__transport *wsc__tls_server_accept(wsc__tls_server *s, int fd)
{
    pthread_mutex_lock(&s->mu);
    ERR_clear_error();
    tls_transport *tt = tls_new(fd, s->ctx);
    pthread_mutex_unlock(&s->mu);
    if (!tt)
        return NULL;
    SSL_set_accept_state(tt->ssl);
    return &tt->base;
}

/* Helpers for the server's TLS tests: certificates made at test time with the openssl command, a
 * raw WebSocket client over OpenSSL (any TLS version, a client certificate, ALPN offers, session
 * resumption, the served certificate's subject), and a TCP relay that forwards one byte at a time.
 *
 * Everything is bounded: sockets carry 15 s send and receive timeouts, the relay polls, and the
 * including test arms a watchdog. Only 127.0.0.1. Header-only (static functions, used or not). */
#ifndef WSC_TESTS_TLS_TEST_UTIL_H
#define WSC_TESTS_TLS_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* ---- certificates ---------------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    char cert1[128], key1[128];         /* CN wsc-server-1, SAN localhost and 127.0.0.1 */
    char cert2[128], key2[128];         /* CN wsc-server-2, the same names: what a renewal brings */
    char ccert[128], ckey[128];         /* CN wsc-client: a client certificate, its own CA */
    char live_cert[128], live_key[128]; /* the files the server is configured with */
    char garbage[128];                  /* not PEM at all */
} tt_certs;

static inline int tt_make_cert(const char *cert, const char *key, const char *cn)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=%s -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout %s -out %s "
             ">/dev/null 2>&1",
             cn, key, cert);
    return system(cmd) == 0 ? 0 : -1;
}

static inline int tt_copy_file(const char *from, const char *to)
{
    char buf[8192];
    FILE *in = fopen(from, "rb");
    if (!in)
        return -1;
    /* Written to a new file, then renamed over the old one: a reader sees one or the other. */
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.new", to);
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = -1;
    fclose(in);
    if (fclose(out) != 0)
        rc = -1;
    return rc == 0 ? rename(tmp, to) : -1;
}

static inline int tt_certs_make(tt_certs *c)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/wsc-tls-test-XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
#define TT_PATH(f, name) snprintf(c->f, sizeof c->f, "%s/" name, c->dir)
    TT_PATH(cert1, "cert1.pem");
    TT_PATH(key1, "key1.pem");
    TT_PATH(cert2, "cert2.pem");
    TT_PATH(key2, "key2.pem");
    TT_PATH(ccert, "client.pem");
    TT_PATH(ckey, "client-key.pem");
    TT_PATH(live_cert, "live.pem");
    TT_PATH(live_key, "live-key.pem");
    TT_PATH(garbage, "garbage.pem");
#undef TT_PATH
    if (tt_make_cert(c->cert1, c->key1, "wsc-server-1") != 0 ||
        tt_make_cert(c->cert2, c->key2, "wsc-server-2") != 0 ||
        tt_make_cert(c->ccert, c->ckey, "wsc-client") != 0) {
        fprintf(stderr, "  openssl could not make a certificate\n");
        return -1;
    }
    FILE *g = fopen(c->garbage, "w");
    if (!g)
        return -1;
    fputs("this is not a certificate\n", g);
    fclose(g);
    if (tt_copy_file(c->cert1, c->live_cert) != 0 || tt_copy_file(c->key1, c->live_key) != 0)
        return -1;
    return 0;
}

static inline void tt_certs_remove(tt_certs *c)
{
    const char *files[] = {c->cert1, c->key1,      c->cert2,    c->key2,   c->ccert,
                           c->ckey,  c->live_cert, c->live_key, c->garbage};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(c->dir);
}

/* ---- TCP --------------------------------------------------------------------------------------
 */

/* A blocking TCP connection to 127.0.0.1:port with 15 s send and receive timeouts; -1 on failure.
 */
static inline int tt_tcp_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {15, 0};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Waits up to timeout_ms for the server to end the connection: true when it did (EOF or reset),
   after reading away whatever came first (a TLS alert, an HTTP answer). */
static inline bool tt_wait_closed(int fd, int timeout_ms)
{
    char buf[4096];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left =
            timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
}

/* ---- a raw WebSocket client over OpenSSL ---------------------------------------------------- */

typedef struct {
    int min_version, max_version; /* 0: OpenSSL's range */
    const char *cert, *key;       /* a client certificate, or NULL */
    const char *ca;               /* verify the server against it (NULL: no verification) */
    const unsigned char *alpn;    /* wire-format ALPN offer, or NULL */
    unsigned alpn_len;
    SSL_SESSION *session; /* resume it, or NULL */
    int port_override;    /* connect here instead (a relay) */
} tt_opts;

typedef struct {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    uint32_t mask;
} tt_conn;

static inline void tt_close(tt_conn *t)
{
    if (t->ssl) {
        /* A session freed without close_notify is marked not resumable. */
        if (SSL_is_init_finished(t->ssl))
            SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
    }
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    if (t->fd >= 0)
        close(t->fd);
    t->ssl = NULL;
    t->ctx = NULL;
    t->fd = -1;
}

static inline int tt_write_all(tt_conn *t, const void *p, size_t n)
{
    size_t w = 0;
    while (w < n) {
        size_t k = 0;
        if (SSL_write_ex(t->ssl, (const char *)p + w, n - w, &k) != 1)
            return -1;
        w += k;
    }
    return 0;
}

static inline int tt_read_all(tt_conn *t, void *p, size_t n)
{
    size_t r = 0;
    while (r < n) {
        size_t k = 0;
        if (SSL_read_ex(t->ssl, (char *)p + r, n - r, &k) != 1)
            return -1;
        r += k;
    }
    return 0;
}

/* TLS handshake only. Returns 0, or -1 (t->ssl may still be set: look at its errors). */
static inline int tt_tls_connect(tt_conn *t, int port, const tt_opts *o)
{
    static const tt_opts none;
    if (!o)
        o = &none;
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->mask = 0x12345678u;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        return -1;
    if (o->min_version)
        SSL_CTX_set_min_proto_version(t->ctx, o->min_version);
    if (o->max_version)
        SSL_CTX_set_max_proto_version(t->ctx, o->max_version);
    if (o->cert && (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(t->ctx, o->key, SSL_FILETYPE_PEM) != 1))
        return -1;
    if (o->ca) {
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca, NULL) != 1)
            return -1;
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    }
    if (o->alpn && SSL_CTX_set_alpn_protos(t->ctx, o->alpn, o->alpn_len) != 0)
        return -1;
    t->fd = tt_tcp_connect(o->port_override ? o->port_override : port);
    if (t->fd < 0)
        return -1;
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl)
        return -1;
    SSL_set_fd(t->ssl, t->fd);
    SSL_set_tlsext_host_name(t->ssl, "localhost");
    if (o->ca)
        SSL_set1_host(t->ssl, "localhost");
    if (o->session)
        SSL_set_session(t->ssl, o->session);
    return SSL_connect(t->ssl) == 1 ? 0 : -1;
}

/* TLS, then the WebSocket upgrade. Returns 0 or -1. */
static inline int tt_open(tt_conn *t, int port, const tt_opts *o)
{
    if (tt_tls_connect(t, port, o) != 0)
        return -1;
    static const char req[] =
        "GET /tls HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n";
    if (tt_write_all(t, req, sizeof req - 1) != 0)
        return -1;
    char head[1024];
    size_t n = 0;
    while (n < sizeof head - 1) {
        if (tt_read_all(t, head + n, 1) != 0)
            return -1;
        n++;
        head[n] = '\0';
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    return strncmp(head, "HTTP/1.1 101", 12) == 0 ? 0 : -1;
}

/* One masked frame, FIN set. */
static inline int tt_send(tt_conn *t, unsigned opcode, const void *data, size_t len)
{
    uint8_t *f = malloc(len + 14);
    if (!f)
        return -1;
    size_t h = 0;
    f[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        f[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        f[h++] = 0x80 | 126;
        f[h++] = (uint8_t)(len >> 8);
        f[h++] = (uint8_t)len;
    } else {
        f[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            f[h++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t key[4];
    for (int i = 0; i < 4; i++) {
        t->mask ^= t->mask << 13;
        t->mask ^= t->mask >> 17;
        t->mask ^= t->mask << 5;
        key[i] = (uint8_t)t->mask;
    }
    memcpy(f + h, key, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        f[h + i] = ((const uint8_t *)data)[i] ^ key[i & 3];
    int rc = tt_write_all(t, f, h + len);
    free(f);
    return rc;
}

/* Reads one (unfragmented, unmasked) frame from the server: its opcode and payload (malloc'd, the
   caller frees). Returns 0 or -1. */
static inline int tt_recv(tt_conn *t, unsigned *opcode, uint8_t **data, size_t *len)
{
    uint8_t h[8];
    if (tt_read_all(t, h, 2) != 0)
        return -1;
    *opcode = h[0] & 0x0f;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        if (tt_read_all(t, h, 2) != 0)
            return -1;
        n = (uint64_t)h[0] << 8 | h[1];
    } else if (n == 127) {
        if (tt_read_all(t, h, 8) != 0)
            return -1;
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | h[i];
    }
    if (n > (64u << 20))
        return -1;
    *data = malloc(n ? n : 1);
    if (!*data || tt_read_all(t, *data, n) != 0) {
        free(*data);
        *data = NULL;
        return -1;
    }
    *len = n;
    return 0;
}

/* Sends data as a binary message and expects it back. True when it came back intact. */
static inline bool tt_echo(tt_conn *t, const void *data, size_t len)
{
    unsigned op;
    uint8_t *back;
    size_t n;
    if (tt_send(t, 2, data, len) != 0 || tt_recv(t, &op, &back, &n) != 0)
        return false;
    bool ok = op == 2 && n == len && memcmp(back, data, len) == 0;
    free(back);
    return ok;
}

/* The served certificate's subject contains cn. */
static inline bool tt_peer_cn_is(tt_conn *t, const char *cn)
{
    X509 *x = SSL_get1_peer_certificate(t->ssl);
    if (!x)
        return false;
    char name[256];
    X509_NAME_oneline(X509_get_subject_name(x), name, sizeof name);
    X509_free(x);
    return strstr(name, cn) != NULL;
}

/* ---- a relay that forwards one byte at a time --------------------------------------------------
 */

typedef struct {
    int listen_fd, port, target;
    pthread_t th;
    atomic_bool stop;
    atomic_long forwarded; /* bytes, both ways */
} tt_relay;

static inline void *tt_relay_main(void *arg)
{
    tt_relay *r = arg;
    struct pollfd lp = {r->listen_fd, POLLIN, 0};
    while (!atomic_load(&r->stop) && poll(&lp, 1, 100) <= 0) {
    }
    if (atomic_load(&r->stop))
        return NULL;
    int a = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    int b = a >= 0 ? tt_tcp_connect(r->target) : -1;
    /* The forwarding side reads and writes single bytes, so the other ends see every partial read
       and write there is. */
    while (a >= 0 && b >= 0 && !atomic_load(&r->stop)) {
        struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
        if (poll(p, 2, 100) <= 0)
            continue;
        bool end = false;
        for (int i = 0; i < 2 && !end; i++) {
            if (!p[i].revents)
                continue;
            unsigned char c;
            ssize_t n = recv(p[i].fd, &c, 1, 0);
            if (n <= 0 || send(p[1 - i].fd, &c, 1, MSG_NOSIGNAL) != 1)
                end = true;
            else
                atomic_fetch_add(&r->forwarded, 1);
        }
        if (end)
            break;
    }
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
    return NULL;
}

/* Listens on a free port and forwards its first connection to target, byte by byte. */
static inline int tt_relay_start(tt_relay *r, int target)
{
    memset(r, 0, sizeof *r);
    r->target = target;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    r->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->listen_fd < 0 || bind(r->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        listen(r->listen_fd, 4) != 0 || getsockname(r->listen_fd, (struct sockaddr *)&sa, &sl) != 0)
        return -1;
    r->port = ntohs(sa.sin_port);
    return pthread_create(&r->th, NULL, tt_relay_main, r) == 0 ? 0 : -1;
}

static inline void tt_relay_stop(tt_relay *r)
{
    atomic_store(&r->stop, true);
    pthread_join(r->th, NULL);
    close(r->listen_fd);
}

#endif

/* Client life cycle: configuration, connecting (TCP, then TLS), the upgrade handshake, URLs, free.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client/client.h"
#include "client/url.h"
#include "io/connect.h"
#include "mem/iobuf.h"
#include "proto/handshake.h"
#include "util/err.h"
#include "util/log.h"

static void client_destroy(wsc_client *c)
{
    if (c->t)
        c->t->ops->free(c->t);
    wsc__client_release(c);
    if (c->mmode == WSC__MB_POOL)
        wsc__pool_put(c->provider->pool, c->mbuf);
    else if (c->mmode == WSC__MB_HEAP)
        wsc__iobuf_free(c->mbuf, c->mcap);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->wmu);
    wsc__iobuf_free(c->rbuf, c->rcap);
    wsc__iobuf_free(c->wbuf, c->wcap);
    free(c->host);
    free(c->protocol);
    wsc__pmd_conn_free(c->pmd);
    free(c);
}

WSC_API wsc_client *wsc_client_new(const wsc_client_config *cfg, wsc_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!cfg || !cfg->host || !*cfg->host) {
        wsc__err(err, WSC_ECONFIG, "client: host is required");
        return NULL;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        wsc__err(err, WSC_ECONFIG, "client: port %d is out of range", cfg->port);
        return NULL;
    }
    if (cfg->idle_timeout < WSC_TIMEOUT_OFF) {
        wsc__err(err, WSC_ECONFIG,
                 "client: idle_timeout must be a number of seconds or WSC_TIMEOUT_OFF (got %d)",
                 cfg->idle_timeout);
        return NULL;
    }
    /* The read buffer adds slack for headers and control frames to buffer_size; bound it so that
       sum cannot wrap and a typo cannot ask for a terabyte. */
    if (cfg->buffer_size > WSC__CLIENT_BUFFER_SIZE_MAX) {
        wsc__err(err, WSC_ECONFIG, "client: buffer_size %zu is over the limit of %zu bytes",
                 cfg->buffer_size, (size_t)WSC__CLIENT_BUFFER_SIZE_MAX);
        return NULL;
    }

    wsc_client *c = calloc(1, sizeof *c);
    if (!c) {
        wsc__err(err, WSC_ENOMEM, NULL);
        return NULL;
    }
    /* An IPv6 literal may come bracketed as in a URL; resolution and verification want it bare. */
    size_t hlen = strlen(cfg->host);
    const char *h = cfg->host;
    if (hlen > 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    c->host = strndup(h, hlen);
    c->tls = cfg->tls;
    c->port = cfg->port ? cfg->port : cfg->tls ? 443 : 80;
    c->max_size = cfg->max_size ? cfg->max_size : WSC__CLIENT_MAX_SIZE;
    c->buffer_size = cfg->buffer_size ? cfg->buffer_size : WSC__CLIENT_BUFFER_SIZE;
    c->provider = cfg->buffer_provider;
    c->idle_ms = cfg->idle_timeout > 0 ? (int64_t)cfg->idle_timeout * 1000 : 0;
    c->idle_ping = !cfg->no_idle_ping;
    c->rcap = c->buffer_size + WSC__CLIENT_SLACK;
    if (c->rcap < WSC__CLIENT_MIN_RBUF)
        c->rcap = WSC__CLIENT_MIN_RBUF;
    c->rbuf = wsc__iobuf_alloc(c->rcap);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->wmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&c->state, WSC__CS_NEW);
    atomic_init(&c->close_deadline, 0);
    atomic_init(&c->pend_any, false);
    if (!c->host || !c->rbuf) {
        client_destroy(c);
        wsc__err(err, WSC_ENOMEM, NULL);
        return NULL;
    }
    if (wsc__pmd_settings_resolve(&cfg->deflate, &c->pmd_cfg, err) != 0) {
        client_destroy(c);
        return NULL;
    }
    /* Text is validated as it arrives (section 8.1) unless no_utf8_check; the size cap is enforced
       on declared lengths before the payload is read (section 10.4). */
    c->reader_flags = cfg->no_utf8_check ? 0u : WSC__READER_UTF8;
    wsc__reader_init(&c->reader, WSC__ROLE_CLIENT, c->max_size, c->reader_flags);

    unsigned tmo =
        cfg->connect_timeout_ms ? cfg->connect_timeout_ms : WSC__CLIENT_CONNECT_TIMEOUT_MS;
    int64_t deadline = wsc__clock_ms() + tmo;
    int fd;
    if (wsc__tcp_connect(c->host, c->port, deadline, &fd, err) != 0) {
        client_destroy(c);
        return NULL;
    }
    if (c->tls) {
        wsc__tls_opts o = {.host = c->host,
                           .no_verify = cfg->tls_no_verify,
                           .ca_file = cfg->ca_file,
                           .ca_path = cfg->ca_path,
                           .ca_store = cfg->ca_store};
        if (wsc__tls_client_new(fd, &o, deadline, &c->t, err) != 0) {
            close(fd);
            client_destroy(c);
            return NULL;
        }
    } else {
        c->t = wsc__transport_tcp_new(fd);
        if (!c->t) {
            client_destroy(c);
            wsc__err(err, WSC_ENOMEM, NULL);
            return NULL;
        }
    }
    return c;
}

WSC_API void wsc_client_free(wsc_client *c)
{
    if (c)
        client_destroy(c);
}

/* ---- handshake ------------------------------------------------------------ */

/* The Host header: host, bracketed when it is an IPv6 literal, with the port unless it is the
   scheme's default (RFC 7230 section 5.4). */
static bool host_header(const wsc_client *c, char *out, size_t cap)
{
    bool v6 = strchr(c->host, ':') != NULL;
    bool dflt = c->port == (c->tls ? 443 : 80);
    int n;
    if (dflt)
        n = snprintf(out, cap, v6 ? "[%s]" : "%s", c->host);
    else
        n = snprintf(out, cap, v6 ? "[%s]:%d" : "%s:%d", c->host, c->port);
    return n > 0 && (size_t)n < cap;
}

/* Shortened for error messages: the value comes from the server. */
#define SHOWN(n) (int)((n) > 60 ? 60 : (n))

/* RFC 7692 5 and 7.1: the answer to our permessage-deflate offer, over every
   Sec-WebSocket-Extensions line of the response head raw[0..raw_len). Sets up c->pmd when agreed.
 */
static int check_extensions(wsc_client *c, const wsc__pmd_params *offer, const char *raw,
                            size_t raw_len, wsc_err *err)
{
    wsc__pmd_agreed ag = {0};
    const char *v, *why;
    size_t n, pos = 0;
    while (wsc__hs_header_next(raw, raw_len, "sec-websocket-extensions", &pos, &v, &n))
        if (wsc__pmd_client_check(offer, v, n, &ag, &why) != 0)
            return wsc__err(err, WSC_EHANDSHAKE, "handshake: %s (the server answered \"%.*s\")",
                            why, SHOWN(n), v);
    if (!ag.on)
        return 0;
    c->pmd = wsc__pmd_conn_new(&c->pmd_cfg, ag.client_window_bits, ag.client_no_context_takeover,
                               ag.server_window_bits, ag.server_no_context_takeover, NULL);
    if (!c->pmd)
        return wsc__err(err, WSC_ENOMEM, NULL);
    /* RFC 7692 6: RSV1 now marks compressed messages. */
    wsc__reader_init(&c->reader, WSC__ROLE_CLIENT, c->max_size, c->reader_flags | WSC__READER_RSV1);
    return 0;
}

/* Section 4.1: a subprotocol in the answer must be one we offered (in opts->protocols, or in the
   caller's own Sec-WebSocket-Protocol header), and an extension must be the permessage-deflate we
   offered, if any. On success c->protocol holds the chosen one (NULL: none). */
static int check_negotiation(wsc_client *c, const char *req, size_t req_len,
                             const wsc__http_response *r, wsc_err *err)
{
    if (r->extensions && c->pmd_cfg.neg.enabled) {
        wsc__pmd_params offer;
        wsc__pmd_client_offer(&c->pmd_cfg.neg, &offer);
        int rc = check_extensions(c, &offer, (const char *)c->rbuf, r->len, err);
        if (rc)
            return rc;
    } else if (r->extensions)
        return wsc__err(err, WSC_EHANDSHAKE,
                        "handshake: the server accepted extension \"%.*s\" that "
                        "was not offered",
                        SHOWN(r->extensions_len), r->extensions);
    if (!r->protocol)
        return 0;
    if (r->protocol_count > 1)
        return wsc__err(err, WSC_EHANDSHAKE,
                        "handshake: the server answered with %u Sec-WebSocket-Protocol lines",
                        r->protocol_count);
    size_t pos = 0, n, offered = 0;
    const char *e;
    /* Byte for byte, as the server is to copy the name it picks (a server that changed the case
       would answer a name we never offered). */
    while (wsc__hs_list_next(req, req_len, "sec-websocket-protocol", &pos, &e, &n)) {
        offered++;
        if (n == r->protocol_len && memcmp(e, r->protocol, n) == 0) {
            if (!(c->protocol = strndup(e, n)))
                return wsc__err(err, WSC_ENOMEM, NULL);
            return 0;
        }
    }
    if (!offered)
        return wsc__err(err, WSC_EHANDSHAKE,
                        "handshake: the server chose subprotocol \"%.*s\" but none was offered",
                        SHOWN(r->protocol_len), r->protocol);
    return wsc__err(err, WSC_EHANDSHAKE,
                    "handshake: the server chose subprotocol \"%.*s\" that was not offered",
                    SHOWN(r->protocol_len), r->protocol);
}

/* The Sec-WebSocket-Protocol line for opts->protocols (section 4.1: non-empty tokens, each once),
   appended to the caller's extra headers into *out (NULL when there are no protocols: extra is
   used as it is). Returns 0, WSC_EINVAL or WSC_ENOMEM. */
static int offer_protocols(const char *const *protocols, const char *extra, size_t extra_len,
                           char **out, wsc_err *err)
{
    size_t total = extra_len + 40, pos = 0;
    const char *v;
    size_t vlen;

    *out = NULL;
    if (!protocols || !protocols[0])
        return 0;
    /* One source of offers: two would make it unclear which list the answer is checked against. */
    if (extra) {
        /* wsc__hs_header_next walks a head: give it an empty start line and a final line end. */
        char *tmp = malloc(extra_len + 4);
        if (!tmp)
            return wsc__err(err, WSC_ENOMEM, NULL);
        memcpy(tmp, "\r\n", 2);
        memcpy(tmp + 2, extra, extra_len);
        memcpy(tmp + 2 + extra_len, "\r\n", 2);
        bool both =
            wsc__hs_header_next(tmp, extra_len + 4, "sec-websocket-protocol", &pos, &v, &vlen);
        free(tmp);
        if (both)
            return wsc__err(err, WSC_EINVAL,
                            "handshake: subprotocols offered both in protocols and in headers");
    }
    for (size_t i = 0; protocols[i]; i++) {
        size_t n = strlen(protocols[i]);
        if (!wsc__hs_token_valid(protocols[i], n))
            return wsc__err(err, WSC_EINVAL,
                            "handshake: subprotocol \"%.*s\" is not a token (RFC 6455 4.1)",
                            SHOWN(n), protocols[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(protocols[i], protocols[j]) == 0)
                return wsc__err(err, WSC_EINVAL, "handshake: subprotocol \"%.*s\" offered twice",
                                SHOWN(n), protocols[i]);
        total += n + 2;
    }
    char *s = malloc(total);
    if (!s)
        return wsc__err(err, WSC_ENOMEM, NULL);
    size_t len = 0;
    if (extra_len) {
        memcpy(s, extra, extra_len);
        len = extra_len;
        if (len < 2 || memcmp(s + len - 2, "\r\n", 2) != 0) {
            memcpy(s + len, "\r\n", 2);
            len += 2;
        }
    }
    memcpy(s + len, "Sec-WebSocket-Protocol: ", 24);
    len += 24;
    for (size_t i = 0; protocols[i]; i++) {
        size_t n = strlen(protocols[i]);
        if (i) {
            memcpy(s + len, ", ", 2);
            len += 2;
        }
        memcpy(s + len, protocols[i], n);
        len += n;
    }
    s[len] = '\0';
    *out = s;
    return 0;
}

static int handshake(wsc_client *c, const char *path, const wsc_handshake_opts *opts, wsc_err *err)
{
    char key[25], host[300];
    const char *extra = opts && opts->headers ? opts->headers : NULL;
    size_t extra_len = extra ? strlen(extra) : 0;
    unsigned tmo = opts && opts->timeout_ms ? opts->timeout_ms : WSC__CLIENT_HANDSHAKE_TIMEOUT_MS;
    int64_t deadline = wsc__clock_ms() + tmo;

    if (!path)
        path = "/";
    if (!wsc__hs_key_new(key))
        return wsc__err(err, WSC_EHANDSHAKE, "handshake: no random key");
    if (!host_header(c, host, sizeof host))
        return wsc__err(err, WSC_EINVAL, "handshake: host name too long for a Host header");
    char *offer;
    int rc = offer_protocols(opts ? opts->protocols : NULL, extra, extra_len, &offer, err);
    if (rc)
        return rc;
    if (offer) {
        extra = offer;
        extra_len = strlen(offer);
    }
    /* RFC 7692 5: our permessage-deflate offer, after the caller's headers. */
    char *with_ext = NULL;
    wsc__pmd_params pmd_offer;
    if (wsc__pmd_client_offer(&c->pmd_cfg.neg, &pmd_offer)) {
        char text[WSC__PMD_TEXT_MAX];
        size_t tl = wsc__pmd_format(&pmd_offer, text);
        with_ext = malloc(extra_len + tl + 32);
        if (!with_ext) {
            free(offer);
            return wsc__err(err, WSC_ENOMEM, NULL);
        }
        size_t k = 0;
        if (extra_len) {
            memcpy(with_ext, extra, extra_len);
            k = extra_len;
            if (k < 2 || memcmp(with_ext + k - 2, "\r\n", 2) != 0) {
                memcpy(with_ext + k, "\r\n", 2);
                k += 2;
            }
        }
        k += (size_t)sprintf(with_ext + k, "Sec-WebSocket-Extensions: %s", text);
        extra = with_ext;
        extra_len = k;
    }
    size_t cap = 256 + strlen(host) + strlen(path) + extra_len, len = 0;
    char *req = malloc(cap);
    if (!req) {
        free(offer);
        free(with_ext);
        return wsc__err(err, WSC_ENOMEM, NULL);
    }
    int b = wsc__http_request_build(req, cap, &len, host, path, key, extra, extra_len);
    free(offer);
    free(with_ext);
    if (b != 0) {
        free(req);
        return wsc__err(err, b == WSC__HS_EINVAL ? WSC_EINVAL : WSC_ENOMEM,
                        "handshake: bad path or extra headers");
    }

    pthread_mutex_lock(&c->wmu);
    struct iovec iov = {req, len};
    rc = wsc__client_write_all(c, &iov, 1, deadline);
    pthread_mutex_unlock(&c->wmu);
    if (rc) {
        free(req);
        if (rc == WSC_ETIMEDOUT)
            return wsc__err(err, rc, "handshake: request not sent within %u ms", tmo);
        return wsc__err_sys(err, rc, c->t->sys_errno, "handshake: sending the request");
    }

    wsc__http_response r;
    if (!wsc__http_response_init(&r, c->rcap, key)) {
        free(req);
        return wsc__err(err, WSC_EHANDSHAKE, "handshake: cannot compute the accept key");
    }
    c->rstart = c->rend = 0;
    for (;;) {
        enum wsc__hs_result res = wsc__http_response_parse(&r, (char *)c->rbuf, c->rend);
        if (res == WSC__HS_COMPLETE)
            break;
        if (res == WSC__HS_ERROR) {
            free(req);
            rc = wsc__err(err, WSC_EHANDSHAKE, "handshake: %s", wsc__hs_err_str(r.err));
            if (r.err == WSC__HS_E_STATUS) {
                if (err) {
                    snprintf(err->message, sizeof err->message,
                             "handshake: the server answered with status %d, not 101", r.status);
                    err->http_status = r.status;
                }
            }
            return rc;
        }
        if (c->rend == c->rcap) {
            free(req);
            return wsc__err(err, WSC_EHANDSHAKE, "handshake: response headers over %zu bytes",
                            c->rcap);
        }
        rc = wsc__client_fill(c, deadline);
        if (rc) {
            free(req);
            if (rc == WSC_ETIMEDOUT)
                return wsc__err(err, rc, "handshake: no answer within %u ms", tmo);
            if (rc == WSC_ECLOSED)
                return wsc__err(err, WSC_EHANDSHAKE, "handshake: the server closed the connection");
            return wsc__err_sys(err, rc, c->t->sys_errno, "handshake: reading the answer");
        }
    }
    rc = check_negotiation(c, req, len, &r, err);
    free(req);
    if (rc)
        return rc;
    /* Frames the server sent right after its answer are already in the buffer. */
    c->rstart = r.len;
    return 0;
}

WSC_API int wsc_client_handshake(wsc_client *c, const char *path, const wsc_handshake_opts *opts,
                                 wsc_err *err)
{
    if (err)
        memset(err, 0, sizeof *err);
    if (!c)
        return wsc__err(err, WSC_EINVAL, NULL);
    if (atomic_load(&c->state) != WSC__CS_NEW)
        return wsc__err(err, WSC_ESTATE, "handshake: already done or connection closed");
    int rc = handshake(c, path, opts, err);
    c->heard_ms = wsc__clock_ms(); /* the idle timer starts with the upgrade */
    pthread_mutex_lock(&c->mu);
    if (rc == 0)
        atomic_store(&c->state, WSC__CS_OPEN);
    else
        wsc__client_mark_closed_locked(c, rc); /* a failed upgrade leaves nothing usable */
    pthread_mutex_unlock(&c->mu);
    if (rc == 0)
        WSC__LOG(WSC_LOG_DEBUG, "client: connected to %s port %d%s", c->host, c->port,
                 c->tls ? " (TLS)" : "");
    return rc;
}

WSC_API const char *wsc_client_protocol(const wsc_client *c)
{
    /* Written by the handshake before it returns; read only after that. */
    return c && atomic_load(&c->state) != WSC__CS_NEW ? c->protocol : NULL;
}

WSC_API wsc_client *wsc_client_connect_url(const char *url, const wsc_client_config *cfg,
                                           const wsc_handshake_opts *opts, wsc_err *err)
{
    wsc__url u;
    if (err)
        memset(err, 0, sizeof *err);
    if (!wsc__url_parse(url, &u)) {
        wsc__err(err, WSC_EINVAL, "bad WebSocket URL (want ws://host[:port]/path or wss://...)");
        return NULL;
    }
    wsc_client_config c2 = {0};
    if (cfg)
        c2 = *cfg;
    c2.host = u.host;
    c2.port = u.port;
    c2.tls = u.tls;
    wsc_client *c = wsc_client_new(&c2, err);
    if (c && wsc_client_handshake(c, u.target, opts, err) != 0) {
        wsc_client_free(c);
        c = NULL;
    }
    free(u.target);
    return c;
}

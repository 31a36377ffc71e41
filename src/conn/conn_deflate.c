/* permessage-deflate on a connection (see conn_deflate.h). */
#include "conn/conn_deflate.h"

#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "util/err.h"

enum { DEFAULT_LEVEL = 6 };

static int bits_field(unsigned v, const char *name, unsigned char *out, wsc_err *err)
{
    if (v == 0)
        v = WSC__PMD_BITS_MAX;
    if (v < WSC__PMD_BITS_MIN || v > WSC__PMD_BITS_MAX)
        return wsc__err(err, WSC_ECONFIG, "deflate.%s must be 8..15 (got %u)", name, v);
    *out = (unsigned char)v;
    return 0;
}

int wsc__pmd_settings_resolve(const wsc_deflate_config *cfg, wsc__pmd_settings *out, wsc_err *err)
{
    memset(out, 0, sizeof *out);
    if (!cfg->enabled)
        return 0;
    if (cfg->level < 0 || cfg->level > 9)
        return wsc__err(err, WSC_ECONFIG, "deflate.level must be 1..9 (got %d)", cfg->level);
    int rc = bits_field(cfg->server_max_window_bits, "server_max_window_bits",
                        &out->neg.server_max_window_bits, err);
    if (rc == 0)
        rc = bits_field(cfg->client_max_window_bits, "client_max_window_bits",
                        &out->neg.client_max_window_bits, err);
    if (rc)
        return rc;
    out->neg.enabled = true;
    out->neg.server_no_context_takeover = cfg->server_no_context_takeover || cfg->shared_compressor;
    out->neg.client_no_context_takeover = cfg->client_no_context_takeover;
    out->compress_bits = 13;
    if (cfg->compress_window_bits) {
        if (cfg->compress_window_bits < WSC__PMD_DEFLATE_BITS_MIN ||
            cfg->compress_window_bits > WSC__PMD_BITS_MAX)
            return wsc__err(err, WSC_ECONFIG, "deflate.compress_window_bits must be 9..15 (got %u)",
                            cfg->compress_window_bits);
        out->compress_bits = (unsigned char)cfg->compress_window_bits;
    }
    out->threshold = cfg->write_threshold;
    out->level = cfg->level ? cfg->level : DEFAULT_LEVEL;
    out->retain = cfg->retain_write_buffer;
    out->shared = cfg->shared_compressor;
    return 0;
}

wsc__pmd_shared *wsc__pmd_shared_new(int level)
{
    wsc__pmd_shared *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (unsigned b = 0; b < 16; b++)
        wsc__deflater_init(&s->d[b], b, level, true, true);
    return s;
}

void wsc__pmd_shared_free(wsc__pmd_shared *s)
{
    if (!s)
        return;
    for (unsigned b = 0; b < 16; b++)
        wsc__deflater_end(&s->d[b]);
    free(s);
}

wsc__pmd_conn *wsc__pmd_conn_new(const wsc__pmd_settings *st, unsigned our_window, bool our_reset,
                                 unsigned peer_window, bool peer_reset, wsc__pmd_shared *shared)
{
    wsc__pmd_conn *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    wsc__inflater_init(&p->in, peer_window, peer_reset);
    /* RFC 7692 7.1.2: the agreed size bounds our window; a smaller one is always valid. */
    if (our_window > st->compress_bits)
        our_window = st->compress_bits;
    wsc__deflater_init(&p->out, our_window, st->level, our_reset, false);
    /* The shared stream resets after each message: only for a connection without takeover. */
    p->shared = our_reset ? shared : NULL;
    p->threshold = st->threshold;
    p->retain = st->retain;
    return p;
}

void wsc__pmd_conn_free(wsc__pmd_conn *p)
{
    if (!p)
        return;
    wsc__inflater_end(&p->in);
    wsc__deflater_end(&p->out);
    free(p->wbuf);
    free(p);
}

/* The output buffer: the connection's retained one, or one for this message. */
typedef struct {
    wsc__pmd_conn *p;
    uint8_t *data;
    size_t cap;
} out_buf;

static uint8_t *out_room(void *ctx, size_t have, size_t need)
{
    out_buf *b = ctx;
    (void)have;
    if (need <= b->cap)
        return b->data;
    uint8_t *d = realloc(b->data, need);
    if (!d)
        return NULL;
    b->data = d;
    b->cap = need;
    return d;
}

int wsc__pmd_write(wsc__pmd_conn *p, unsigned type, const void *data, size_t len,
                   wsc__pmd_send_fn send, void *ctx)
{
    uint8_t *out, hdr[WSC__FRAME_HEADER_MAX];
    size_t clen;
    wsc__lock_acquire(&p->mu);
    out_buf b = {p, p->retain ? p->wbuf : NULL, p->retain ? p->wcap : 0};
    const wsc__pmd_sink sink = {out_room, &b};
    int rc;
    if (p->shared) {
        /* The worker's stream for this window size, reset after the message. */
        wsc__deflater *d = &p->shared->d[p->out.bits];
        wsc__lock_acquire(&p->shared->mu);
        rc = wsc__deflate_message(d, data, len, &sink, 0, &out, &clen);
        wsc__lock_release(&p->shared->mu);
    } else {
        rc = wsc__deflate_message(&p->out, data, len, &sink, 0, &out, &clen);
    }
    if (rc != 0) {
        rc = WSC_ENOMEM;
    } else {
        size_t hl = wsc__frame_header_build(hdr, type, true, true, clen, NULL);
        rc = send(ctx, hdr, hl, out, clen);
    }
    if (p->retain) {
        p->wbuf = b.data;
        p->wcap = b.cap;
    } else {
        free(b.data);
    }
    wsc__lock_release(&p->mu);
    return rc;
}

/* permessage-deflate on a server connection: the answer to the client's offers, compressed
 * writes, and the public calls about it (the state itself: conn_deflate.h). */
#include "conn/conn.h"
#include "conn/hs.h"
#include "proto/handshake.h"

/* RFC 7692 5.1: the first acceptable offer, over every Sec-WebSocket-Extensions line in order.
   The answer goes in the 101 and the connection's state is made before anything can be written
   or read compressed. Returns 0 (accepted or not) or WSC_ENOMEM. */
int wsc__conn_pmd_accept(wsc_conn *c, wsc_handshake *hs)
{
    const wsc__ctx *x = c->w->ctx;
    const wsc__http_request *r = &hs->req;
    wsc__pmd_params resp;
    wsc__pmd_agreed ag;
    const char *v;
    size_t n, pos = 0;
    bool found = false;

    if (!r->extensions_count)
        return 0;
    while (!found && wsc__hs_header_next(r->raw, r->len, "sec-websocket-extensions", &pos, &v, &n))
        found = wsc__pmd_server_choose(&x->pmd.neg, v, n, &resp, &ag);
    if (!found)
        return 0;
    c->pmd =
        wsc__pmd_conn_new(&x->pmd, ag.server_window_bits, ag.server_no_context_takeover,
                          ag.client_window_bits, ag.client_no_context_takeover, c->w->pmd_shared);
    if (!c->pmd)
        return WSC_ENOMEM;
    hs->ext_len = wsc__pmd_format(&resp, hs->ext);
    /* RFC 7692 6: RSV1 now marks compressed messages. No message is in progress. */
    wsc__reader_init(&c->rd, WSC__ROLE_SERVER, x->max_message, x->reader_flags | WSC__READER_RSV1);
    return 0;
}

static int send_frame(void *ctx, const uint8_t *hdr, size_t hl, const uint8_t *payload, size_t len)
{
    return wsc__conn_write_frame(ctx, hdr, hl, payload, len);
}

/* wsc_conn_write on a connection that negotiated compression. */
int wsc__conn_pmd_write(wsc_conn *c, wsc_msg_type type, const void *data, size_t len)
{
    if ((type != WSC_TEXT && type != WSC_BINARY) || len < c->pmd->threshold || (!data && len))
        return wsc__conn_write_plain(c, type, data, len);
    /* Not worth compressing for a connection that is closing. */
    if (atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN)
        return WSC_ECLOSED;
    int rc = wsc__pmd_write(c->pmd, (unsigned)type, data, len, send_frame, c);
    if (rc == WSC_ENOMEM && !c->pmd->out.reset)
        wsc_conn_close(c, WSC_CLOSE_INTERNAL, NULL); /* the peer's window no longer matches ours */
    return rc;
}

int wsc_conn_write_uncompressed(wsc_conn *c, wsc_msg_type type, const void *data, size_t len)
{
    return wsc__conn_write_plain(c, type, data, len);
}

bool wsc_conn_compressed(const wsc_conn *c)
{
    return c && c->pmd;
}

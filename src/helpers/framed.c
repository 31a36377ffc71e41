/* Frames built once at run time (websocket.zig's framed writes): an unmasked server frame in one heap
 * block, sent to many connections with wsc_conn_write_framed. */
#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "wsc.h"

int wsc_frame_new(wsc_framed *out, wsc_msg_type type, const void *data, size_t len)
{
    uint8_t hdr[WSC__FRAME_HEADER_MAX];
    uint8_t *p;
    size_t hl;

    if (!out)
        return WSC_EINVAL;
    out->data = NULL;
    out->len = 0;
    if (!data && len)
        return WSC_EINVAL;
    switch (type) {
    case WSC_TEXT:
    case WSC_BINARY:
        break;
    case WSC_PING:
    case WSC_PONG:
        if (len > WSC__CONTROL_MAX) /* section 5.5 */
            return WSC_EINVAL;
        break;
    default: /* a close frame goes through wsc_conn_close, which runs the close handshake */
        return WSC_EINVAL;
    }
    hl = wsc__frame_header_build(hdr, (unsigned)type, true, false, len, NULL);
    if (len > SIZE_MAX - hl)
        return WSC_ENOMEM;
    p = malloc(hl + len);
    if (!p)
        return WSC_ENOMEM;
    memcpy(p, hdr, hl);
    if (len)
        memcpy(p + hl, data, len);
    out->data = p;
    out->len = hl + len;
    return 0;
}

void wsc_frame_free(wsc_framed *frame)
{
    if (!frame)
        return;
    free((void *)(uintptr_t)frame->data);
    frame->data = NULL;
    frame->len = 0;
}

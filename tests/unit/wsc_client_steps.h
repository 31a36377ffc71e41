/* Steps with wsc's own client for tests that drive a server (or a raw peer) through it: connect and
 * upgrade in one call, and read the next message and compare it. Each prints what went wrong on
 * standard error. Header-only (static inline). */
#ifndef WSC_TESTS_WSC_CLIENT_STEPS_H
#define WSC_TESTS_WSC_CLIENT_STEPS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "wsc.h"

/* wsc_client_new (base may be NULL; host defaults to 127.0.0.1) and the upgrade of "/". */
static inline wsc_client *cs_open(int port, const wsc_client_config *base)
{
    wsc_client_config cfg = {0};
    if (base)
        cfg = *base;
    if (!cfg.host)
        cfg.host = "127.0.0.1";
    cfg.port = port;
    wsc_err err;
    wsc_client *c = wsc_client_new(&cfg, &err);
    if (c && wsc_client_handshake(c, "/", NULL, &err) != 0) {
        wsc_client_free(c);
        c = NULL;
    }
    if (!c)
        fprintf(stderr, "  client: %s\n", err.message);
    return c;
}

/* Reads the next message; true when it has this type and payload. */
static inline bool cs_expect(wsc_client *c, wsc_msg_type type, const void *data, size_t len)
{
    wsc_msg m;
    int rc = wsc_client_read(c, &m);
    bool ok = rc == 0 && m.type == type && m.len == len && (!len || memcmp(m.data, data, len) == 0);
    if (!ok)
        fprintf(stderr, "  read: rc %d, type %d, %zu bytes; want type %d, %zu bytes\n", rc,
                rc ? 0 : (int)m.type, rc ? 0 : m.len, (int)type, len);
    if (rc == 0)
        wsc_client_done(c, &m);
    return ok;
}

static inline bool cs_expect_text(wsc_client *c, const char *text)
{
    return cs_expect(c, WSC_TEXT, text, strlen(text));
}

#endif

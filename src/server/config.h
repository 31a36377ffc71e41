/* Server configuration: websocket.zig's defaults for zeroed fields, and validation. */
#ifndef WSC_SERVER_CONFIG_H
#define WSC_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "conn/conn_deflate.h"
#include "wsc.h"

/* Every field resolved (no zero-means-default left). Strings are owned copies. */
typedef struct {
    int port; /* 0: any free port */
    char *address;
    char *unix_path;
    unsigned workers;
    size_t max_conn;
    size_t max_message;
    size_t max_buffered;
    bool blocking;
    bool utf8;
    unsigned hs_timeout;
    unsigned idle_timeout; /* seconds, 0: off */
    bool idle_ping;
    size_t hs_max_size, hs_max_headers, hs_max_res, hs_count;
    unsigned threads; /* 0: inline callbacks */
    size_t backlog;
    size_t arena_size;
    size_t small_pool, small_size, large_pool, large_size;
    int tls_min_version, tls_max_version; /* when cfg->tls.cert_file is set */
    wsc__pmd_settings pmd;
} wsc__srv_config;

/* Fills out from cfg (NULL: all defaults). Returns 0, or WSC_ECONFIG with a message naming the field,
 * or WSC_ENOMEM. Thread-safety: any thread. */
int wsc__config_resolve(const wsc_handler *h, const wsc_server_config *cfg, wsc__srv_config *out,
                        wsc_err *err);
void wsc__config_free(wsc__srv_config *c);

#endif

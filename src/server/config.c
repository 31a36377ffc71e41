/* Defaults are websocket.zig's (see the Config section of its README); limits keep every size
 * inside what the connection's 32-bit offsets and the kernel accept. */
#include "server/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

enum {
    DEF_PORT = 9882,
    DEF_MAX_CONN = 16384,
    DEF_MAX_MESSAGE = 65536,
    DEF_MIN_BUFFERED = 1 << 20,
    DEF_HS_TIMEOUT = 10,
    DEF_IDLE_TIMEOUT = 120, /* uWebSockets' default */
    DEF_HS_MAX_SIZE = 1024,
    DEF_HS_MAX_RES = 2,
    DEF_HS_COUNT = 32,
    DEF_THREADS = 4,
    DEF_BACKLOG = 500,
    DEF_ARENA = 32768,
    DEF_SMALL_SIZE = 2048,
    DEF_LARGE_POOL = 8,
    MAX_WORKERS = 256,
    MAX_THREADS = 1024,
    MIN_SMALL_SIZE = 256, /* a whole control frame (139 bytes) must fit a connection's leftovers */
    MIN_HS_SIZE = 64,
    MAX_HS_SIZE = 65536,
};

#define MAX_MESSAGE ((size_t)1 << 30)          /* 1 GiB */
#define MAX_BUFFERED ((size_t)3 << 30)         /* the queue's offsets are 32-bit */

static size_t dflt(size_t v, size_t d)
{
    return v ? v : d;
}

static bool tls_version_ok(int v)
{
    return v == WSC_TLS_1_2 || v == WSC_TLS_1_3;
}

static int resolve_tls(const wsc_server_config *c, wsc__srv_config *out, wsc_err *err)
{
    out->tls_min_version = c->tls.min_version ? c->tls.min_version : WSC_TLS_1_2;
    out->tls_max_version = c->tls.max_version ? c->tls.max_version : WSC_TLS_1_3;
    if (!c->tls.cert_file) {
        if (c->tls.key_file || c->tls.client_ca_file || c->tls.client_ca_path)
            return wsc__err(err, WSC_ECONFIG,
                            "tls.cert_file is required with the other tls fields");
        return 0;
    }
    if (!*c->tls.cert_file || !c->tls.key_file || !*c->tls.key_file)
        return wsc__err(err, WSC_ECONFIG, "tls.cert_file and tls.key_file are both required");
    if (!tls_version_ok(out->tls_min_version) || !tls_version_ok(out->tls_max_version))
        return wsc__err(err, WSC_ECONFIG,
                        "tls.min_version and max_version must be WSC_TLS_1_2 or WSC_TLS_1_3");
    if (out->tls_min_version > out->tls_max_version)
        return wsc__err(err, WSC_ECONFIG, "tls.min_version is above tls.max_version");
    if (c->tls.client_cert_optional && !c->tls.client_ca_file && !c->tls.client_ca_path)
        return wsc__err(err, WSC_ECONFIG,
                        "tls.client_cert_optional needs tls.client_ca_file or client_ca_path");
    return 0;
}

int wsc__config_resolve(const wsc_handler *h, const wsc_server_config *cfg, wsc__srv_config *out,
                        wsc_err *err)
{
    static const wsc_server_config zero;
    const wsc_server_config *c = cfg ? cfg : &zero;

    memset(out, 0, sizeof *out);
    if (!h || !h->message)
        return wsc__err(err, WSC_ECONFIG, "handler.message is required");

    if (c->port == WSC_PORT_EPHEMERAL)
        out->port = 0;
    else if (c->port == 0)
        out->port = DEF_PORT;
    else if (c->port < 0 || c->port > 65535)
        return wsc__err(err, WSC_ECONFIG, "port must be 1..65535 or WSC_PORT_EPHEMERAL (got %d)",
                        c->port);
    else
        out->port = c->port;

    out->workers = c->worker_count ? c->worker_count : 1;
    if (out->workers > MAX_WORKERS)
        return wsc__err(err, WSC_ECONFIG, "worker_count must be at most %d (got %u)", MAX_WORKERS,
                        c->worker_count);
    out->max_conn = dflt(c->max_conn, DEF_MAX_CONN);
    if (out->max_conn > UINT32_MAX)
        return wsc__err(err, WSC_ECONFIG, "max_conn must be below 2^32");
    out->max_message = dflt(c->max_message_size, DEF_MAX_MESSAGE);
    if (out->max_message > MAX_MESSAGE)
        return wsc__err(err, WSC_ECONFIG, "max_message_size must be at most 1 GiB (got %zu)",
                        c->max_message_size);
    out->max_buffered = c->max_buffered;
    if (!out->max_buffered)
        out->max_buffered =
            2 * out->max_message > DEF_MIN_BUFFERED ? 2 * out->max_message : DEF_MIN_BUFFERED;
    if (out->max_buffered > MAX_BUFFERED)
        return wsc__err(err, WSC_ECONFIG, "max_buffered must be at most 3 GiB (got %zu)",
                        c->max_buffered);
    out->blocking = c->blocking;
    out->utf8 = !c->no_utf8_check;

    out->hs_timeout = c->handshake.timeout ? c->handshake.timeout : DEF_HS_TIMEOUT;
    if (out->hs_timeout > 86400)
        return wsc__err(err, WSC_ECONFIG, "handshake.timeout must be at most 86400 s (got %u)",
                        c->handshake.timeout);
    if (c->idle_timeout == WSC_TIMEOUT_OFF)
        out->idle_timeout = 0;
    else if (c->idle_timeout == 0)
        out->idle_timeout = DEF_IDLE_TIMEOUT;
    else if (c->idle_timeout < 0)
        return wsc__err(err, WSC_ECONFIG,
                        "idle_timeout must be a number of seconds or WSC_TIMEOUT_OFF (got %d)",
                        c->idle_timeout);
    else
        out->idle_timeout = (unsigned)c->idle_timeout;
    out->idle_ping = !c->no_idle_ping;
    out->hs_max_size = dflt(c->handshake.max_size, DEF_HS_MAX_SIZE);
    if (out->hs_max_size < MIN_HS_SIZE || out->hs_max_size > MAX_HS_SIZE)
        return wsc__err(err, WSC_ECONFIG, "handshake.max_size must be %d..%d bytes (got %zu)",
                        MIN_HS_SIZE, MAX_HS_SIZE, c->handshake.max_size);
    out->hs_max_headers = c->handshake.max_headers;
    if (out->hs_max_headers > 1024)
        return wsc__err(err, WSC_ECONFIG, "handshake.max_headers must be at most 1024 (got %u)",
                        c->handshake.max_headers);
    out->hs_max_res = dflt(c->handshake.max_res_headers, DEF_HS_MAX_RES);
    if (out->hs_max_res > 64)
        return wsc__err(err, WSC_ECONFIG,
                        "handshake.max_res_headers must be at most 64 (got %u)",
                        c->handshake.max_res_headers);
    out->hs_count = dflt(c->handshake.count, DEF_HS_COUNT);
    if (out->hs_count > 65536)
        return wsc__err(err, WSC_ECONFIG, "handshake.count must be at most 65536 (got %u)",
                        c->handshake.count);

    if (c->thread_pool.count == WSC_THREAD_POOL_INLINE)
        out->threads = 0;
    else if (c->thread_pool.count == 0)
        out->threads = DEF_THREADS;
    else if (c->thread_pool.count < 0 || c->thread_pool.count > MAX_THREADS)
        return wsc__err(err, WSC_ECONFIG,
                        "thread_pool.count must be 1..%d or WSC_THREAD_POOL_INLINE (got %d)",
                        MAX_THREADS, c->thread_pool.count);
    else
        out->threads = (unsigned)c->thread_pool.count;
    out->backlog = c->thread_pool.backlog ? c->thread_pool.backlog : DEF_BACKLOG;
    out->arena_size = dflt(c->thread_pool.buffer_size, DEF_ARENA);
    if (out->arena_size > MAX_MESSAGE)
        return wsc__err(err, WSC_ECONFIG, "thread_pool.buffer_size must be at most 1 GiB");

    out->small_pool = c->buffers.small_pool;
    out->small_size = dflt(c->buffers.small_size, DEF_SMALL_SIZE);
    if (out->small_size < MIN_SMALL_SIZE || out->small_size > MAX_MESSAGE)
        return wsc__err(err, WSC_ECONFIG, "buffers.small_size must be %d bytes to 1 GiB (got %zu)",
                        MIN_SMALL_SIZE, c->buffers.small_size);
    out->large_pool = dflt(c->buffers.large_pool, DEF_LARGE_POOL);
    out->large_size = c->buffers.large_size;
    if (!out->large_size)
        out->large_size =
            2 * out->small_size < out->max_message ? 2 * out->small_size : out->max_message;
    if (out->large_size > MAX_MESSAGE)
        return wsc__err(err, WSC_ECONFIG, "buffers.large_size must be at most 1 GiB (got %zu)",
                        c->buffers.large_size);
    if (out->small_pool > UINT32_MAX - 2 || out->large_pool > UINT32_MAX - 2)
        return wsc__err(err, WSC_ECONFIG, "buffers.small_pool and large_pool must be below 2^32");
    if ((double)out->small_pool * (double)out->small_size > (double)((size_t)1 << 40) ||
        (double)out->large_pool * (double)out->large_size > (double)((size_t)1 << 40))
        return wsc__err(err, WSC_ECONFIG, "buffer pools larger than 1 TiB");

    if (resolve_tls(c, out, err) != 0)
        return err ? err->code : WSC_ECONFIG;
    int rc = wsc__pmd_settings_resolve(&c->deflate, &out->pmd, err);
    if (rc)
        return rc;

    if (c->unix_path) {
        if (!*c->unix_path)
            return wsc__err(err, WSC_ECONFIG, "unix_path is empty");
        if (!(out->unix_path = strdup(c->unix_path)))
            return wsc__err(err, WSC_ENOMEM, NULL);
    }
    const char *addr = c->address ? c->address : "127.0.0.1";
    if (!*addr) {
        wsc__config_free(out);
        return wsc__err(err, WSC_ECONFIG, "address is empty");
    }
    if (!(out->address = strdup(addr))) {
        wsc__config_free(out);
        return wsc__err(err, WSC_ENOMEM, NULL);
    }
    return 0;
}

void wsc__config_free(wsc__srv_config *c)
{
    free(c->address);
    free(c->unix_path);
    c->address = c->unix_path = NULL;
}

/* A build without hiredis: the cluster API exists and says why it cannot attach. */
#include <stddef.h>
#include <string.h>

#include "proto/redis_url.h"
#include "util/err.h"

wsc_cluster *wsc_cluster_redis_attach(wsc_server *srv, const char *url,
                                      const wsc_cluster_opts *opts, wsc_err *err)
{
    (void)srv;
    (void)opts;
    char host[WSC__REDIS_HOST_MAX + 1];
    int port;
    const char *bad = wsc__redis_url_parse(url, url ? strlen(url) : 0, host, &port);
    if (bad)
        wsc__err(err, WSC_ECONFIG, "cluster url: %s", bad);
    else
        wsc__err(err, WSC_ECONFIG, "this build of wsc has no Redis support (hiredis was not found)");
    return NULL;
}

void wsc_cluster_get_stats(wsc_cluster *cl, wsc_cluster_stats *st)
{
    (void)cl;
    if (st)
        memset(st, 0, sizeof *st);
}

void wsc_cluster_detach(wsc_cluster *cl)
{
    (void)cl;
}

/* libFuzzer target: redis:// URL parsing (any bytes). An accepted URL yields a non-empty host of
 * host characters and a port in range, and the URL rebuilt from them parses to the same. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "proto/redis_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *url = fuzz_copy(NULL, data, size);
    char host[WSC__REDIS_HOST_MAX + 1];
    int port = -1;
    const char *bad = wsc__redis_url_parse(url, size, host, &port);
    if (!bad) {
        size_t hl = strlen(host);
        ASSERT(hl > 0 && hl <= WSC__REDIS_HOST_MAX);
        ASSERT(port >= 1 && port <= 65535);
        bool v6 = strchr(host, ':') != NULL;
        char again[WSC__REDIS_HOST_MAX + 32], host2[WSC__REDIS_HOST_MAX + 1];
        int n = snprintf(again, sizeof again, v6 ? "redis://[%s]:%d" : "redis://%s:%d", host, port);
        int port2 = -1;
        ASSERT(wsc__redis_url_parse(again, (size_t)n, host2, &port2) == NULL);
        ASSERT(strcmp(host, host2) == 0 && port == port2);
    }
    free(url);
    return 0;
}

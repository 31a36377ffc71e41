/* redis:// URLs for wsc_cluster_redis_attach: what is accepted, the default port, and what is
 * refused (credentials, databases, bad ports, junk), with exact lengths (no NUL needed). */
#include "../test.h"
#include "proto/redis_url.h"

static bool parses(const char *url, const char *want_host, int want_port)
{
    char host[WSC__REDIS_HOST_MAX + 1];
    int port = 0;
    const char *bad = wsc__redis_url_parse(url, strlen(url), host, &port);
    if (bad) {
        fprintf(stderr, "  %s: %s\n", url, bad);
        return false;
    }
    if (strcmp(host, want_host) != 0 || port != want_port) {
        fprintf(stderr, "  %s: host %s port %d\n", url, host, port);
        return false;
    }
    return true;
}

static bool refused(const char *url)
{
    char host[WSC__REDIS_HOST_MAX + 1];
    int port = 0;
    return wsc__redis_url_parse(url, strlen(url), host, &port) != NULL;
}

TEST(accepted)
{
    EXPECT(parses("redis://127.0.0.1:6379", "127.0.0.1", 6379));
    EXPECT(parses("redis://127.0.0.1:7001/", "127.0.0.1", 7001));
    EXPECT(parses("redis://cache.example", "cache.example", 6379));
    EXPECT(parses("redis://[::1]:7000", "::1", 7000));
    EXPECT(parses("redis://[::1]", "::1", 6379));
    EXPECT(parses("redis://h:1", "h", 1));
    EXPECT(parses("redis://h:65535", "h", 65535));
}

TEST(refused)
{
    EXPECT(refused(""));
    EXPECT(refused("http://127.0.0.1:6379"));
    EXPECT(refused("redis://"));
    EXPECT(refused("redis:///"));
    EXPECT(refused("redis://:6379"));
    EXPECT(refused("redis://h:"));
    EXPECT(refused("redis://h:0"));
    EXPECT(refused("redis://h:65536"));
    EXPECT(refused("redis://h:123456"));
    EXPECT(refused("redis://h:12a"));
    EXPECT(refused("redis://user:pw@h:1"));
    EXPECT(refused("redis://h:1/0"));
    EXPECT(refused("redis://h/0"));
    EXPECT(refused("redis://h?x=1"));
    EXPECT(refused("redis://[::1"));
    EXPECT(refused("redis://[::1]x"));
    EXPECT(refused("redis://[%%]"));
    EXPECT(refused("redis://[h]:1"));
    EXPECT(refused("redis://h h:1"));
    EXPECT(refused("redis://h:1:2"));
    char longhost[300] = "redis://";
    memset(longhost + 8, 'a', 256);
    longhost[264] = 0;
    EXPECT(refused(longhost));
}

TEST(exact_length_and_nul)
{
    char host[WSC__REDIS_HOST_MAX + 1];
    int port = 0;
    /* Only the given bytes count: the rest of the string is not read. */
    EXPECT(wsc__redis_url_parse("redis://a:12XYZ", 12, host, &port) == NULL && port == 12);
    EXPECT(wsc__redis_url_parse("redis://a\0b:1", 13, host, &port) != NULL);
    EXPECT(wsc__redis_url_parse(NULL, 0, host, &port) != NULL);
}

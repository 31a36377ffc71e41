/* ws:// and wss:// URL parsing and client config checks (no network). */
#include "../test.h"

#include "client/url.h"
#include "wsc.h"

static void ok(const char *url, bool tls, const char *host, bool v6, int port, const char *target)
{
    wsc__url u;
    if (!wsc__url_parse(url, &u)) {
        fprintf(stderr, "  refused: %s\n", url);
        test_current_failed_ = 1;
        return;
    }
    EXPECT_EQ_INT(u.tls, tls);
    EXPECT_EQ_STR(u.host, host);
    EXPECT_EQ_INT(u.ipv6, v6);
    EXPECT_EQ_INT(u.port, port);
    EXPECT_EQ_STR(u.target, target);
    free(u.target);
}

static void bad(const char *url)
{
    wsc__url u;
    if (wsc__url_parse(url, &u)) {
        fprintf(stderr, "  accepted: %s\n", url);
        test_current_failed_ = 1;
        free(u.target);
    }
}

TEST(good_urls)
{
    ok("ws://example.com", false, "example.com", false, 80, "/");
    ok("wss://example.com", true, "example.com", false, 443, "/");
    ok("ws://example.com/", false, "example.com", false, 80, "/");
    ok("WS://Example.COM:8080/chat", false, "Example.COM", false, 8080, "/chat");
    ok("wSs://h:1/a/b?c=d&e", true, "h", false, 1, "/a/b?c=d&e");
    ok("ws://h?x=1", false, "h", false, 80, "/?x=1");
    ok("ws://h:65535", false, "h", false, 65535, "/");
    ok("ws://h:/p", false, "h", false, 80, "/p"); /* empty port: the default */
    ok("ws://127.0.0.1:9224/", false, "127.0.0.1", false, 9224, "/");
    ok("ws://[::1]:9224/ws", false, "::1", true, 9224, "/ws");
    ok("wss://[2001:db8::1]/", true, "2001:db8::1", true, 443, "/");
    ok("ws://[::ffff:127.0.0.1]", false, "::ffff:127.0.0.1", true, 80, "/");
    ok("ws://a-b_c.d~e/%20x", false, "a-b_c.d~e", false, 80, "/%20x");
}

TEST(bad_urls)
{
    bad(NULL);
    bad("");
    bad("http://example.com/");
    bad("ws:/example.com");
    bad("ws://");
    bad("ws:///path");
    bad("ws://:80/");
    bad("ws://h:0/");
    bad("ws://h:65536/");
    bad("ws://h:99999999999999999999/");
    bad("ws://h:8a/");
    bad("ws://h:80:81/");
    bad("ws://user@h/");
    bad("ws://user:pw@h/");
    bad("ws://h/#frag");
    bad("ws://h/pa th");
    bad("ws://h/\x01");
    bad("ws://[::1/");
    bad("ws://[not-v6]/");
    bad("ws://[127.0.0.1]/");
    bad("ws://[::1]x/");
    bad("ws://h^st/");
    char longhost[400] = "ws://";
    memset(longhost + 5, 'a', 300);
    bad(longhost);
}

/* Bad configurations are refused before any connection is attempted. */
TEST(bad_client_configs)
{
    wsc_err err;
    wsc_client_config no_host = {0};
    EXPECT(wsc_client_new(&no_host, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);

    wsc_client_config bad_port = {.host = "127.0.0.1", .port = 70000};
    EXPECT(wsc_client_new(&bad_port, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);

    wsc_client_config huge = {.host = "127.0.0.1", .port = 1, .buffer_size = SIZE_MAX - 10};
    EXPECT(wsc_client_new(&huge, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ECONFIG);
    EXPECT(strstr(err.message, "buffer_size") != NULL);
}

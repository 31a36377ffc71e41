/* The client over TLS against python3-websockets with a self-signed certificate made at test time:
 * verification refuses it by default, accepts it as a CA file or from a shared CA store, checks the
 * host name and IP address, can be turned off for tests; TLS 1.2 and 1.3; large messages. */
#include "../test.h"

#include "client_test_util.h"

static ct_certs certs;
static ct_peer peer, other, peer12;
static int setup_state; /* 0 not yet, 1 ok, -1 failed */

static void teardown(void)
{
    ct_peer_stop(&peer);
    ct_peer_stop(&other);
    ct_peer_stop(&peer12);
    ct_certs_remove(&certs);
}

static bool setup(void)
{
    if (setup_state == 0) {
        ct_watchdog(240);
        setup_state = -1;
        atexit(teardown);
        if (ct_certs_make(&certs) == 0 && ct_peer_start(&peer, certs.cert, certs.key) == 0 &&
            ct_peer_start(&other, certs.other_cert, certs.other_key) == 0 &&
            ct_peer_start_ex(&peer12, certs.cert, certs.key, true) == 0)
            setup_state = 1;
    }
    return setup_state == 1;
}

static wsc_client *open_tls(const char *host, int port, wsc_client_config *cfg, wsc_err *err)
{
    char url[128];
    snprintf(url, sizeof url, "wss://%s:%d/", host, port);
    return wsc_client_connect_url(url, cfg, NULL, err);
}

static void echo_once(wsc_client *c, const char *text)
{
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, text, strlen(text)), 0);
    EXPECT_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.len, strlen(text));
    EXPECT(m.len == strlen(text) && memcmp(m.data, text, m.len) == 0);
    wsc_client_done(c, &m);
}

TEST(self_signed_is_refused_by_default)
{
    CHECK(setup());
    wsc_err err;
    wsc_client *c = open_tls("localhost", peer.port, NULL, &err);
    CHECK(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_ETLSVERIFY);
    EXPECT(strstr(err.message, "self-signed") != NULL ||
           strstr(err.message, "self signed") != NULL);
    if (err.code != WSC_ETLSVERIFY)
        fprintf(stderr, "  %s\n", err.message);
}

TEST(ca_file_trusts_it)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.ca_file = certs.cert};
    wsc_client *c = open_tls("localhost", peer.port, &cfg, &err);
    if (!c)
        fprintf(stderr, "  %s\n", err.message);
    CHECK(c);
    echo_once(c, "over TLS");
    EXPECT_EQ_INT(wsc_client_close(c, 4000, "bye"), 0);
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
}

TEST(ip_address_is_verified_against_the_certificate)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.ca_file = certs.cert};
    wsc_client *c = open_tls("127.0.0.1", peer.port, &cfg, &err);
    if (!c)
        fprintf(stderr, "  %s\n", err.message);
    CHECK(c);
    echo_once(c, "by address");
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(host_name_mismatch_is_refused)
{
    CHECK(setup());
    wsc_err err;
    /* The chain is trusted, but the certificate names other.invalid, not localhost. */
    wsc_client_config cfg = {.ca_file = certs.other_cert};
    wsc_client *c = open_tls("localhost", other.port, &cfg, &err);
    CHECK(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_ETLSVERIFY);
    EXPECT(strstr(err.message, "mismatch") != NULL);
    if (err.code != WSC_ETLSVERIFY)
        fprintf(stderr, "  %s\n", err.message);
    c = open_tls("127.0.0.1", other.port, &cfg, &err);
    CHECK(c == NULL);
    EXPECT_EQ_INT(err.code, WSC_ETLSVERIFY);
}

TEST(no_verify_accepts_anything)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.tls_no_verify = true};
    wsc_client *c = open_tls("localhost", other.port, &cfg, &err);
    CHECK(c);
    echo_once(c, "unverified");
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(shared_ca_store)
{
    CHECK(setup());
    wsc_err err;
    wsc_ca_store *store = wsc_ca_store_new(certs.cert, NULL, &err);
    CHECK(store);
    wsc_client_config cfg = {.ca_store = store};
    wsc_client *a = open_tls("localhost", peer.port, &cfg, &err);
    wsc_client *b = open_tls("127.0.0.1", peer.port, &cfg, &err);
    CHECK(a && b);
    /* The store is reference-counted: freeing it before its clients is safe too. */
    wsc_ca_store_free(store);
    echo_once(a, "a");
    echo_once(b, "b");
    wsc_client_close(a, 0, NULL);
    wsc_client_close(b, 0, NULL);
    wsc_client_free(a);
    wsc_client_free(b);

    /* A store with the wrong CA refuses the server. */
    store = wsc_ca_store_new(certs.other_cert, NULL, &err);
    CHECK(store);
    cfg.ca_store = store;
    EXPECT(open_tls("localhost", peer.port, &cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ETLSVERIFY);
    wsc_ca_store_free(store);

    /* The system store loads. */
    store = wsc_ca_store_new(NULL, NULL, &err);
    CHECK(store);
    wsc_ca_store_free(store);
}

TEST(bad_ca_file_is_a_clear_error)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.ca_file = "/nonexistent/ca.pem"};
    EXPECT(open_tls("localhost", peer.port, &cfg, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ETLS);
    EXPECT(strstr(err.message, "/nonexistent/ca.pem") != NULL);
    EXPECT(wsc_ca_store_new("/nonexistent/ca.pem", NULL, &err) == NULL);
    EXPECT_EQ_INT(err.code, WSC_ETLS);
}

TEST(tls_to_a_plain_server_fails_cleanly)
{
    /* A TLS client talking to something that is not TLS: a listener that answers with HTTP. */
    int port;
    int ls = ct_listen(&port);
    CHECK(ls >= 0);
    wsc_client_config cfg = {
        .host = "127.0.0.1", .port = port, .tls = true, .connect_timeout_ms = 3000};
    pid_t pid = fork();
    if (pid == 0) {
        int fd = ct_accept(ls, 5000);
        char buf[512];
        if (fd >= 0) {
            ct_read_n(fd, buf, 5, 2000);
            ct_write_all(fd, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
            ct_sleep_ms(200);
            close(fd);
        }
        _exit(0);
    }
    wsc_err err;
    wsc_client *c = wsc_client_new(&cfg, &err);
    EXPECT(c == NULL);
    EXPECT(err.code == WSC_ETLS || err.code == WSC_ECLOSED || err.code == WSC_EIO);
    waitpid(pid, NULL, 0);
    close(ls);
}

TEST(tls12_and_tls13)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.ca_file = certs.cert, .max_size = 4u << 20};
    wsc_client *c12 = open_tls("localhost", peer12.port, &cfg, &err);
    wsc_client *c13 = open_tls("localhost", peer.port, &cfg, &err);
    CHECK(c12 && c13);
    echo_once(c12, "TLS 1.2");
    echo_once(c13, "TLS 1.3");
    /* Large messages cross many TLS records both ways. */
    size_t n = 3u << 20;
    uint8_t *buf = malloc(n), *src = malloc(n);
    CHECK(buf && src);
    for (size_t i = 0; i < n; i++)
        src[i] = (uint8_t)(i ^ (i >> 9));
    wsc_client *cs[2] = {c12, c13};
    for (int k = 0; k < 2; k++) {
        memcpy(buf, src, n);
        EXPECT_EQ_INT(wsc_client_write_in_place(cs[k], WSC_BINARY, buf, n), 0);
        wsc_msg m;
        EXPECT_EQ_INT(wsc_client_read(cs[k], &m), 0);
        EXPECT_EQ_INT(m.len, n);
        if (m.len == n)
            EXPECT_EQ_MEM(m.data, src, n);
        wsc_client_done(cs[k], &m);
        EXPECT_EQ_INT(wsc_client_write_binary(cs[k], src, n), 0);
        EXPECT_EQ_INT(wsc_client_read(cs[k], &m), 0);
        EXPECT_EQ_INT(m.len, n);
        if (m.len == n)
            EXPECT_EQ_MEM(m.data, src, n);
        wsc_client_done(cs[k], &m);
    }
    free(buf);
    free(src);
    wsc_client_close(c12, 0, NULL);
    wsc_client_close(c13, 0, NULL);
    wsc_client_free(c12);
    wsc_client_free(c13);
}

TEST(server_close_over_tls)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.ca_file = certs.cert};
    wsc_client *c = open_tls("localhost", peer.port, &cfg, &err);
    CHECK(c);
    wsc_msg m;
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!close 1001 restarting", 22), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.type, WSC_CLOSE);
    EXPECT_EQ_INT(m.close_code, 1001);
    EXPECT_EQ_INT(m.len, 10);
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
}

TEST(sni_carries_host_names_not_addresses)
{
    CHECK(setup());
    wsc_err err;
    wsc_client_config cfg = {.ca_file = certs.cert};
    wsc_msg m;
    wsc_client *c = open_tls("localhost", peer.port, &cfg, &err);
    CHECK(c);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!sni", 4), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT(m.len == 9 && memcmp(m.data, "localhost", 9) == 0);
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
    c = open_tls("127.0.0.1", peer.port, &cfg, &err);
    CHECK(c);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "!sni", 4), 0);
    CHECK_EQ_INT(wsc_client_read(c, &m), 0);
    EXPECT_EQ_INT(m.len, 0); /* RFC 6066 section 3: no IP literals in SNI */
    wsc_client_close(c, 0, NULL);
    wsc_client_free(c);
}

TEST(ca_path_directory)
{
    CHECK(setup());
    char dir[100], cmd[1000];
    snprintf(dir, sizeof dir, "%s/cadir", certs.dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/ca.pem && openssl rehash %s >/dev/null 2>&1",
             dir, certs.cert, dir, dir);
    CHECK_EQ_INT(system(cmd), 0);
    wsc_err err;
    wsc_client_config cfg = {.ca_path = dir};
    wsc_client *c = open_tls("localhost", peer.port, &cfg, &err);
    if (!c)
        fprintf(stderr, "  %s\n", err.message);
    EXPECT(c != NULL);
    if (c) {
        echo_once(c, "via a CA directory");
        wsc_client_close(c, 0, NULL);
        wsc_client_free(c);
    }
    wsc_ca_store *store = wsc_ca_store_new(NULL, dir, &err);
    EXPECT(store != NULL);
    if (store) {
        wsc_client_config c2 = {.ca_store = store};
        c = open_tls("localhost", peer.port, &c2, &err);
        EXPECT(c != NULL);
        if (c) {
            echo_once(c, "via a CA directory store");
            wsc_client_close(c, 0, NULL);
            wsc_client_free(c);
        }
        wsc_ca_store_free(store);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    EXPECT_EQ_INT(system(cmd), 0);
}

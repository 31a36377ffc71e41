/* 200 TLS clients, each in its own thread, sharing one buffer provider and one CA store, exchanging
 * messages concurrently with python3-websockets: small messages (in the read buffer), messages that
 * take a pooled buffer, messages larger than the pooled buffers (heap), fragmented ones, server
 * pings. Run under ThreadSanitizer too (the _mt suffix). */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"

enum { CLIENTS = 200, ROUNDS = 3 };

static ct_certs certs;
static ct_peer peer;

static void teardown(void)
{
    ct_peer_stop(&peer);
    ct_certs_remove(&certs);
}

struct job {
    wsc_ca_store *store;
    wsc_buffer_provider *bp;
    int port;
    int id;
    pthread_barrier_t *barrier;
    atomic_int *ok;
    char error[200];
};

static bool pattern_ok(const wsc_msg *m, size_t want, uint8_t seed)
{
    if (m->len != want)
        return false;
    for (size_t i = 0; i < want; i++)
        if (m->data[i] != (uint8_t)(seed + i * 13))
            return false;
    return true;
}

static bool letters_ok(const wsc_msg *m, size_t want)
{
    if (m->len != want)
        return false;
    for (size_t i = 0; i < want; i++)
        if (m->data[i] != (uint8_t)('a' + i % 26))
            return false;
    return true;
}

#define FAIL_JOB(...)                                                                              \
    do {                                                                                           \
        snprintf(j->error, sizeof j->error, __VA_ARGS__);                                          \
        goto out;                                                                                  \
    } while (0)

static void *run(void *arg)
{
    struct job *j = arg;
    wsc_client *c = NULL;
    uint8_t *big = malloc(40000);
    wsc_err err;
    char url[64];
    snprintf(url, sizeof url, "wss://localhost:%d/", j->port);
    wsc_client_config cfg = {.ca_store = j->store,
                             .buffer_provider = j->bp,
                             .buffer_size = 1024,
                             .max_size = 1 << 20,
                             .connect_timeout_ms = 60000};
    wsc_handshake_opts opts = {.timeout_ms = 60000};
    /* Start together, so that connections, handshakes and exchanges overlap. */
    pthread_barrier_wait(j->barrier);
    if (!big)
        FAIL_JOB("out of memory");
    c = wsc_client_connect_url(url, &cfg, &opts, &err);
    if (!c)
        FAIL_JOB("connect: %s", err.message);
    wsc_client_read_timeout(c, 60000);
    for (int r = 0; r < ROUNDS; r++) {
        wsc_msg m;
        char text[64];
        int n = snprintf(text, sizeof text, "client %d round %d", j->id, r);
        if (wsc_client_write_text(c, text, (size_t)n) != 0 || wsc_client_read(c, &m) != 0 ||
            m.type != WSC_TEXT || m.len != (size_t)n)
            FAIL_JOB("small echo");
        n = snprintf(text, sizeof text, "client %d round %d", j->id, r);
        if (memcmp(m.data, text, (size_t)n) != 0)
            FAIL_JOB("small echo content");
        wsc_client_done(c, &m);

        /* 8000 bytes: over the 1 KiB read buffer, within the 16 KiB pooled buffers. 40000: larger
           than a pooled buffer, so the heap. */
        size_t sizes[2] = {8000, 40000};
        for (int k = 0; k < 2; k++) {
            uint8_t seed = (uint8_t)(j->id + r + k);
            for (size_t i = 0; i < sizes[k]; i++)
                big[i] = (uint8_t)(seed + i * 13);
            if (wsc_client_write_copy(c, WSC_BINARY, big, sizes[k]) != 0 ||
                wsc_client_read(c, &m) != 0 || !pattern_ok(&m, sizes[k], seed))
                FAIL_JOB("binary echo of %zu", sizes[k]);
            wsc_client_done(c, &m);
        }

        if (wsc_client_write_copy(c, WSC_TEXT, "!frag 5 12000", 13) != 0 ||
            wsc_client_read(c, &m) != 0 || !letters_ok(&m, 12000))
            FAIL_JOB("fragmented message");
        wsc_client_done(c, &m);

        if (wsc_client_write_copy(c, WSC_TEXT, "!ping hello", 11) != 0 ||
            wsc_client_read(c, &m) != 0 || m.type != WSC_PING)
            FAIL_JOB("server ping");
        if (wsc_client_write_pong(c, m.data, m.len) != 0 || wsc_client_read(c, &m) != 0 ||
            m.type != WSC_TEXT || m.len != 10 || memcmp(m.data, "pong hello", 10) != 0)
            FAIL_JOB("pong confirmation");
        wsc_client_done(c, &m);
    }
    if (wsc_client_close(c, 1000, NULL) != 0)
        FAIL_JOB("close");
    atomic_fetch_add(j->ok, 1);
out:
    if (c)
        wsc_client_free(c);
    free(big);
    return NULL;
}

TEST(two_hundred_tls_clients_share_a_pool_and_a_ca_store)
{
    ct_watchdog(400);
    atexit(teardown);
    CHECK_EQ_INT(ct_certs_make(&certs), 0);
    CHECK_EQ_INT(ct_peer_start(&peer, certs.cert, certs.key), 0);
    wsc_err err;
    wsc_ca_store *store = wsc_ca_store_new(certs.cert, NULL, &err);
    CHECK(store);
    wsc_buffer_provider *bp = wsc_buffer_provider_new(32, 16384);
    CHECK(bp);

    static struct job jobs[CLIENTS];
    static pthread_t tids[CLIENTS];
    pthread_barrier_t barrier;
    atomic_int ok;
    atomic_init(&ok, 0);
    pthread_barrier_init(&barrier, NULL, CLIENTS);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    int started = 0;
    for (int i = 0; i < CLIENTS; i++) {
        jobs[i] = (struct job){
            .store = store, .bp = bp, .port = peer.port, .id = i, .barrier = &barrier, .ok = &ok};
        if (pthread_create(&tids[i], &attr, run, &jobs[i]) != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    CHECK_EQ_INT(started, CLIENTS); /* else the barrier never opens: the watchdog ends us */
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(tids[i], NULL);
    pthread_barrier_destroy(&barrier);
    int shown = 0;
    for (int i = 0; i < CLIENTS && shown < 5; i++)
        if (jobs[i].error[0]) {
            fprintf(stderr, "  client %d: %s\n", i, jobs[i].error);
            shown++;
        }
    EXPECT_EQ_INT(atomic_load(&ok), CLIENTS);
    wsc_buffer_provider_free(bp);
    wsc_ca_store_free(store);
}

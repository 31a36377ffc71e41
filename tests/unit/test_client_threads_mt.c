/* The client's thread-safety against python3-websockets: many threads writing to one client while a
 * read loop runs in another (frames never interleave, each thread's messages stay in order), close
 * from another thread while a read blocks or a loop waits (or is just starting), close from inside
 * a loop callback, racing closes. */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>

#include "client_test_util.h"

static ct_peer peer;
static bool peer_ok;

static void stop_peer(void)
{
    ct_peer_stop(&peer);
}

static wsc_client *open_client(void)
{
    if (!peer_ok && peer.pid == 0) {
        ct_watchdog(240);
        peer_ok = ct_peer_start(&peer, NULL, NULL) == 0;
        atexit(stop_peer);
    }
    if (!peer_ok)
        return NULL;
    char url[64];
    wsc_err err;
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", peer.port);
    wsc_client_config cfg = {.max_size = 1 << 20};
    wsc_client *c = wsc_client_connect_url(url, &cfg, NULL, &err);
    if (!c)
        fprintf(stderr, "  %s\n", err.message);
    return c;
}

enum { WRITERS = 8, PER_WRITER = 150 };

struct shared {
    wsc_client *c;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int received;
    int next[WRITERS]; /* next sequence number expected from each writer */
    int out_of_order, malformed;
    atomic_int closes;
    atomic_int write_errors;
    bool close_from_callback;
};

static int on_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    struct shared *s = user;
    int t = -1, seq = -1;
    /* "T<t>:<seq>:" then filler */
    if (msg->len >= 5 && sscanf((const char *)msg->data, "T%d:%d:", &t, &seq) == 2 && t >= 0 &&
        t < WRITERS) {
        pthread_mutex_lock(&s->mu);
        if (seq != s->next[t])
            s->out_of_order++;
        s->next[t] = seq + 1;
        s->received++;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mu);
    } else {
        pthread_mutex_lock(&s->mu);
        s->malformed++;
        s->received++;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->mu);
    }
    if (s->close_from_callback)
        return wsc_client_close(c, 4005, "from the loop");
    return 0;
}

static void on_close(wsc_client *c, void *user)
{
    (void)c;
    atomic_fetch_add(&((struct shared *)user)->closes, 1);
}

struct writer_arg {
    struct shared *s;
    int id;
};

static void *writer(void *arg)
{
    struct writer_arg *w = arg;
    char *buf = malloc(30000);
    if (!buf)
        return NULL;
    for (int seq = 0; seq < PER_WRITER; seq++) {
        /* Mostly small, sometimes large enough to need several socket writes. */
        size_t fill = seq % 25 == 0 ? 20000 + (size_t)w->id * 100 : (size_t)(seq % 40);
        int n = snprintf(buf, 64, "T%d:%d:", w->id, seq);
        memset(buf + n, 'a' + w->id, fill);
        int rc = seq % 2 ? wsc_client_write_in_place(w->s->c, WSC_TEXT, buf, (size_t)n + fill)
                         : wsc_client_write_text(w->s->c, buf, (size_t)n + fill);
        if (rc)
            atomic_fetch_add(&w->s->write_errors, 1);
    }
    free(buf);
    return NULL;
}

static bool wait_received(struct shared *s, int want, int timeout_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s;
    pthread_mutex_lock(&s->mu);
    while (s->received < want)
        if (pthread_cond_timedwait(&s->cond, &s->mu, &until) != 0)
            break;
    bool ok = s->received >= want;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static void shared_init(struct shared *s, wsc_client *c)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    atomic_init(&s->closes, 0);
    atomic_init(&s->write_errors, 0);
}

static void shared_destroy(struct shared *s)
{
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
}

TEST(many_writers_one_read_loop)
{
    wsc_client *c = open_client();
    CHECK(c);
    struct shared s;
    shared_init(&s, c);
    wsc_client_handler h = {.message = on_message, .close = on_close};
    pthread_t loop;
    CHECK_EQ_INT(wsc_client_read_loop_thread(c, &h, &s, &loop), 0);
    pthread_t tids[WRITERS];
    struct writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (struct writer_arg){&s, i};
        pthread_create(&tids[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < WRITERS; i++)
        pthread_join(tids[i], NULL);
    EXPECT(wait_received(&s, WRITERS * PER_WRITER, 60));
    EXPECT_EQ_INT(atomic_load(&s.write_errors), 0);
    /* Close from this thread while the loop thread reads: the loop receives the answer and ends. */
    EXPECT_EQ_INT(wsc_client_close(c, 1000, "done"), 0);
    pthread_join(loop, NULL);
    EXPECT_EQ_INT(s.received, WRITERS * PER_WRITER);
    EXPECT_EQ_INT(s.out_of_order, 0);
    EXPECT_EQ_INT(s.malformed, 0);
    EXPECT_EQ_INT(atomic_load(&s.closes), 1);
    wsc_client_free(c);
    shared_destroy(&s);
}

struct blocked_read {
    wsc_client *c;
    int rc;
    wsc_msg m;
    atomic_int started;
};

static void *block_in_read(void *arg)
{
    struct blocked_read *b = arg;
    atomic_store(&b->started, 1);
    b->rc = wsc_client_read(b->c, &b->m);
    return NULL;
}

TEST(close_while_another_thread_reads)
{
    wsc_client *c = open_client();
    CHECK(c);
    struct blocked_read b = {.c = c};
    atomic_init(&b.started, 0);
    pthread_t t;
    pthread_create(&t, NULL, block_in_read, &b);
    while (!atomic_load(&b.started))
        ct_sleep_ms(1);
    ct_sleep_ms(50); /* most likely inside poll by now; either way the outcome is the same */
    EXPECT_EQ_INT(wsc_client_close(c, 4010, NULL), 0);
    pthread_join(t, NULL);
    /* The reader got the server's answering close frame, or (if close read it first) ECLOSED. */
    EXPECT(b.rc == WSC_ECLOSED || (b.rc == 0 && b.m.type == WSC_CLOSE && b.m.close_code == 4010));
    wsc_msg m;
    EXPECT_EQ_INT(wsc_client_read(c, &m), WSC_ECLOSED);
    wsc_client_free(c);
}

TEST(close_while_the_loop_waits)
{
    wsc_client *c = open_client();
    CHECK(c);
    struct shared s;
    shared_init(&s, c);
    wsc_client_handler h = {.message = on_message, .close = on_close};
    pthread_t loop;
    CHECK_EQ_INT(wsc_client_read_loop_thread(c, &h, &s, &loop), 0);
    ct_sleep_ms(20);
    EXPECT_EQ_INT(wsc_client_close(c, 0, NULL), 0);
    pthread_join(loop, NULL);
    EXPECT_EQ_INT(atomic_load(&s.closes), 1);
    wsc_client_free(c);
    shared_destroy(&s);
}

TEST(close_from_the_loop_callback)
{
    wsc_client *c = open_client();
    CHECK(c);
    struct shared s;
    shared_init(&s, c);
    s.close_from_callback = true;
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "T0:0:", 5), 0);
    CHECK_EQ_INT(wsc_client_write_copy(c, WSC_TEXT, "T0:1:", 5), 0);
    wsc_client_handler h = {.message = on_message, .close = on_close};
    /* In the calling thread: close from the callback must not wait for itself. */
    EXPECT_EQ_INT(wsc_client_read_loop(c, &h, &s), 0);
    EXPECT_EQ_INT(s.received, 1);
    EXPECT_EQ_INT(atomic_load(&s.closes), 1);
    wsc_client_free(c);
    shared_destroy(&s);
}

static void *close_now(void *arg)
{
    wsc_client_close(arg, 0, NULL);
    return NULL;
}

/* Keeps a CPU busy until told to stop, so that the threads of the test get preempted at any point
   (a race's window then opens far more often than on idle CPUs). */
static void *spin(void *arg)
{
    atomic_int *stop = arg;
    while (!atomic_load_explicit(stop, memory_order_relaxed))
        ;
    return NULL;
}

/* A read loop that starts while another thread closes: whichever thread reads the server's answer,
   the handshake completed and the loop says so. When close() had just read it, the loop used to
   find the reader role still held and return WSC_ECLOSED. The window is narrow, so many rounds. */
TEST(read_loop_racing_close_reports_the_clean_close)
{
    enum { SPINNERS = 2 };
    atomic_int stop;
    atomic_init(&stop, 0);
    pthread_t spinner[SPINNERS];
    for (int i = 0; i < SPINNERS; i++)
        CHECK_EQ_INT(pthread_create(&spinner[i], NULL, spin, &stop), 0);
    int unclean = 0, rounds = 0;
    for (; rounds < 300 && TEST_OK(); rounds++) {
        wsc_client *c = open_client();
        EXPECT(c);
        if (!c)
            break; /* the spinners must still be stopped */
        struct shared s;
        shared_init(&s, c);
        wsc_client_handler h = {.message = on_message, .close = on_close};
        pthread_t t;
        if (pthread_create(&t, NULL, close_now, c) != 0) {
            EXPECT(!"pthread_create");
            wsc_client_free(c);
            shared_destroy(&s);
            break;
        }
        /* Mostly after close() has sent its frame and waits for the answer as the reader: the loop
           then waits for the reader role, and gets it as close() lets go. */
        nanosleep(&(struct timespec){0, (rounds % 4) * 150000L}, NULL);
        int rc = wsc_client_read_loop(c, &h, &s);
        pthread_join(t, NULL);
        if (rc != 0) {
            unclean++;
            fprintf(stderr, "  round %d: the loop returned %s\n", rounds, wsc_err_name(rc));
        }
        EXPECT_EQ_INT(atomic_load(&s.closes), 1);
        wsc_client_free(c);
        shared_destroy(&s);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < SPINNERS; i++)
        pthread_join(spinner[i], NULL);
    EXPECT_EQ_INT(unclean, 0);
}

struct racer {
    wsc_client *c;
    int id;
    int close_rc;
    int write_rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    if (r->id % 2)
        r->close_rc = wsc_client_close(r->c, 4000 + (unsigned)r->id, NULL);
    else
        r->write_rc = wsc_client_write_copy(r->c, WSC_TEXT, "racing", 6);
    return NULL;
}

TEST(racing_closes_and_writes)
{
    for (int round = 0; round < 5 && TEST_OK(); round++) {
        wsc_client *c = open_client();
        CHECK(c);
        struct racer r[6];
        pthread_t t[6];
        for (int i = 0; i < 6; i++) {
            r[i] = (struct racer){.c = c, .id = i};
            pthread_create(&t[i], NULL, race, &r[i]);
        }
        for (int i = 0; i < 6; i++) {
            pthread_join(t[i], NULL);
            EXPECT_EQ_INT(r[i].close_rc, 0);
            EXPECT(r[i].write_rc == 0 || r[i].write_rc == WSC_ECLOSED);
        }
        wsc_msg m;
        int rc;
        while ((rc = wsc_client_read(c, &m)) == 0) {
        }
        EXPECT_EQ_INT(rc, WSC_ECLOSED);
        wsc_client_free(c);
    }
}

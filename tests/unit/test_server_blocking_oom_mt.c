/* Blocking mode out of memory: when the list of connection threads cannot grow, the server refuses
 * that one connection and keeps serving the others, and stop still waits for every thread before
 * listen returns (so the server is never freed under a running connection).
 *
 * The failure is injected by this program's own realloc, which takes precedence over the C
 * library's (and the sanitizer's) for the whole program, the statically linked library included:
 * while armed, it fails every realloc made on the server's listen thread (in blocking mode that
 * thread only accepts and grows the list) and passes everything else to the next realloc. */
#include <dlfcn.h>

#include "../test.h"
#include "ws_test_client.h"

static void *(*next_realloc)(void *, size_t);
static pthread_t fail_thread;
static atomic_bool armed;
static atomic_int failures;

/* Not instrumented for ThreadSanitizer: its runtime calls realloc while it sets a new thread up,
   before an instrumented function could run there. */
#define NO_TSAN __attribute__((no_sanitize_thread))

NO_TSAN static void find_next_realloc(void)
{
    union {
        void *obj;
        void *(*fn)(void *, size_t);
    } sym = {.obj = dlsym(RTLD_NEXT, "realloc")};
    next_realloc = sym.fn;
}

__attribute__((constructor)) static void resolve_realloc(void)
{
    if (!next_realloc)
        find_next_realloc();
}

NO_TSAN void *realloc(void *p, size_t n);
NO_TSAN void *realloc(void *p, size_t n)
{
    if (!next_realloc) /* a constructor that ran before ours */
        find_next_realloc();
    if (atomic_load(&armed) && pthread_equal(pthread_self(), fail_thread)) {
        atomic_fetch_add(&failures, 1);
        return NULL;
    }
    return next_realloc(p, n);
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static atomic_int closes;

static void on_close(wsc_conn *conn, void *user)
{
    (void)conn, (void)user;
    atomic_fetch_add(&closes, 1);
}

static const wsc_handler handler = {.message = on_message, .close = on_close};

static bool echo(wt_client *c, const char *text)
{
    return wt_send_text(c, text) == 0 && wt_expect_message(c, WT_OP_TEXT, text, strlen(text), 5000);
}

enum { FIRST_CAP = 64 }; /* the list's first capacity: the next connection grows it */

TEST(connection_list_cannot_grow)
{
    static wt_client c[FIRST_CAP + 1];
    wsc_server_config cfg;
    wt_server s;
    wt_config(&cfg, WT_BLOCKING);
    CHECK(wt_server_start(&s, &handler, &cfg, NULL));
    int open = 0;
    for (; open < FIRST_CAP; open++)
        if (wt_open(&c[open], s.port) != 0)
            break;
    EXPECT_EQ_INT(open, FIRST_CAP);

    fail_thread = s.th;
    atomic_store(&armed, true);
    wt_client refused;
    EXPECT(wt_connect(&refused, s.port) == 0);
    int status = wt_handshake(&refused, "/");
    atomic_store(&armed, false);
    EXPECT(status != 101); /* accepted and closed at once */
    EXPECT(atomic_load(&failures) >= 1);
    wt_close(&refused);

    /* Everyone else is still served, and a new connection grows the list this time. */
    for (int i = 0; i < open; i++)
        EXPECT(echo(&c[i], "after the failure"));
    EXPECT(wt_open(&c[open], s.port) == 0);
    if (c[open].fd >= 0)
        EXPECT(echo(&c[open++], "a new one"));

    /* Stop reaches every connection thread, and listen returns only after the last one ended. */
    wsc_server_stop(s.srv);
    int64_t until = wt_now_ms() + 10000;
    int got_1001 = 0;
    for (int i = 0; i < open; i++) {
        int64_t left = until - wt_now_ms();
        if (wt_expect_close(&c[i], left > 0 ? (int)left : 0) == 0 && c[i].close_code == 1001)
            got_1001++;
        wt_send_close(&c[i], 1001, NULL);
    }
    EXPECT_EQ_INT(got_1001, open);
    for (int i = 0; i < open; i++)
        wt_close(&c[i]);
    EXPECT(wt_server_stop(&s, 15000));
    EXPECT_EQ_INT(atomic_load(&closes), open);
}

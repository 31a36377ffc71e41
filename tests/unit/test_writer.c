/* The message writer (wsc_writer_*) on the heap and on an arena, through the public test helpers'
 * connection: growth far past the first buffer, printf formatting that needs a second pass, flush
 * sending one message and emptying the writer, and argument errors. */
#include "../test.h"

#include "mem/arena.h"
#include "wsc.h"

TEST(writer_heap_printf_write_flush)
{
    wsc_test *t = wsc_test_init();
    CHECK(t != NULL);
    wsc_writer *w = wsc_writer_new(wsc_test_conn(t), WSC_TEXT, NULL);
    CHECK(w != NULL);
    EXPECT_EQ_INT(wsc_writer_len(w), 0);
    EXPECT_EQ_INT(wsc_writer_printf(w, "it's over %d!!!", 9000), 0);
    EXPECT_EQ_INT(wsc_writer_len(w), 17);
    EXPECT_EQ_INT(wsc_writer_flush(w), 0);
    EXPECT_EQ_INT(wsc_writer_len(w), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "it's over 9000!!!", 17), 0);
    /* Reused after a flush; write and printf mix. */
    EXPECT_EQ_INT(wsc_writer_write(w, "ab", 2), 0);
    EXPECT_EQ_INT(wsc_writer_write(w, NULL, 0), 0);
    EXPECT_EQ_INT(wsc_writer_printf(w, "%s", ""), 0);
    EXPECT_EQ_INT(wsc_writer_printf(w, "%c%c", 'c', 'd'), 0);
    EXPECT_EQ_INT(wsc_writer_flush(w), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "abcd", 4), 0);
    wsc_writer_free(w);
    wsc_writer_free(NULL);
    wsc_test_free(t);
}

TEST(writer_grows_geometrically_and_formats_twice)
{
    wsc_test *t = wsc_test_init();
    CHECK(t != NULL);
    wsc_writer *w = wsc_writer_new(wsc_test_conn(t), WSC_BINARY, NULL);
    CHECK(w != NULL);
    /* One printf longer than anything buffered so far: the first vsnprintf cannot fit, the second
     * (after growing to the exact size) must produce the same bytes. */
    char *big = malloc(50001);
    CHECK(big != NULL);
    for (int i = 0; i < 50000; i++)
        big[i] = (char)('a' + i % 26);
    big[50000] = '\0';
    EXPECT_EQ_INT(wsc_writer_printf(w, "[%s]", big), 0);
    EXPECT_EQ_INT(wsc_writer_len(w), 50002);
    char *want = malloc(50002);
    CHECK(want != NULL);
    want[0] = '[';
    memcpy(want + 1, big, 50000);
    want[50001] = ']';
    EXPECT_EQ_INT(wsc_writer_flush(w), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_BINARY, want, 50002), 0);
    /* Many small writes. */
    for (int i = 0; i < 20000; i++)
        CHECK(wsc_writer_write(w, big + (i % 26), 1) == 0);
    EXPECT_EQ_INT(wsc_writer_len(w), 20000);
    EXPECT_EQ_INT(wsc_writer_flush(w), 0);
    for (int i = 0; i < 20000; i++)
        want[i] = big[i % 26];
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_BINARY, want, 20000), 0);
    free(big);
    free(want);
    wsc_writer_free(w);
    wsc_test_free(t);
}

TEST(writer_on_arena_needs_no_free)
{
    wsc_test *t = wsc_test_init();
    wsc_arena a;
    CHECK(t != NULL);
    wsc__arena_init(&a, 512);
    wsc_writer *w = wsc_writer_new(wsc_test_conn(t), WSC_TEXT, &a);
    CHECK(w != NULL);
    char want[8000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(wsc_writer_printf(w, "%d,", i) == 0);
        n += (size_t)snprintf(want + n, sizeof want - n, "%d,", i);
    }
    EXPECT_EQ_INT(wsc_writer_len(w), n);
    EXPECT_EQ_INT(wsc_writer_flush(w), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, want, n), 0);
    wsc_writer_free(w); /* a no-op for an arena writer */
    EXPECT(wsc__arena_heap_bytes(&a) > 0);
    wsc__arena_reset(&a); /* everything the writer used goes with the arena */
    wsc__arena_destroy(&a);
    wsc_test_free(t);
}

TEST(writer_argument_errors)
{
    wsc_test *t = wsc_test_init();
    CHECK(t != NULL);
    EXPECT(wsc_writer_new(NULL, WSC_TEXT, NULL) == NULL);
    EXPECT(wsc_writer_new(wsc_test_conn(t), WSC_PING, NULL) == NULL);
    EXPECT(wsc_writer_new(wsc_test_conn(t), WSC_CLOSE, NULL) == NULL);
    wsc_writer *w = wsc_writer_new(wsc_test_conn(t), WSC_TEXT, NULL);
    CHECK(w != NULL);
    EXPECT_EQ_INT(wsc_writer_write(w, NULL, 3), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_writer_write(NULL, "x", 1), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_writer_flush(NULL), WSC_EINVAL);
    EXPECT_EQ_INT(wsc_writer_len(NULL), 0);
    /* An empty flush sends an empty message. */
    EXPECT_EQ_INT(wsc_writer_flush(w), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "", 0), 0);
    wsc_writer_free(w);
    wsc_test_free(t);
}

/* The public test helpers: messages and close frames a handler writes are seen by the client end;
 * mismatches and silence are reported, not crashed on. */
#include "../test.h"

#include "wsc.h"

TEST(helpers_see_what_the_handler_writes)
{
    wsc_test *t = wsc_test_init();
    CHECK(t);
    wsc_conn *c = wsc_test_conn(t);
    CHECK(c);
    EXPECT_EQ_INT(wsc_conn_write_text(c, "hello world", 11), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "hello world", 11), 0);
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    EXPECT_EQ_INT(wsc_conn_write_binary(c, big, sizeof big), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_BINARY, big, sizeof big), 0);
    EXPECT_EQ_INT(wsc_conn_ping(c, "p", 1), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_PING, "p", 1), 0);
    /* a wrong expectation is a mismatch (described on standard error) */
    EXPECT_EQ_INT(wsc_conn_write_text(c, "abc", 3), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "abd", 3), WSC_EMISMATCH);
    EXPECT_EQ_INT(wsc_conn_write_binary(c, "abc", 3), 0);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "abc", 3), WSC_EMISMATCH);
    EXPECT_EQ_INT(wsc_conn_write_text(c, "x", 1), 0);
    EXPECT_EQ_INT(wsc_test_expect_close(t), WSC_EMISMATCH);
    EXPECT_EQ_INT(wsc_conn_close(c, 4000, "done"), 0);
    EXPECT_EQ_INT(wsc_test_expect_close(t), 0);
    EXPECT_EQ_INT(wsc_conn_write_text(c, "late", 4), WSC_ECLOSED);
    wsc_test_free(t);
}

TEST(helpers_time_out_on_silence)
{
    wsc_test *t = wsc_test_init();
    CHECK(t);
    EXPECT_EQ_INT(wsc_test_expect_message(t, WSC_TEXT, "x", 1), WSC_ETIMEDOUT);
    EXPECT_EQ_INT(wsc_test_expect_message(NULL, WSC_TEXT, "x", 1), WSC_EINVAL);
    EXPECT(wsc_test_conn(NULL) == NULL);
    wsc_test_free(t);
    wsc_test_free(NULL);
}

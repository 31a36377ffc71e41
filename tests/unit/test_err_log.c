/* Error codes, wsc_err filling, and logging (level, handler, prefix, truncation). */
#include <errno.h>
#include <unistd.h>

#include "../test.h"
#include "util/err.h"
#include "util/log.h"
#include "wsc.h"

TEST(err_strerror_and_names_cover_the_table)
{
#define CHECK_ONE(name, value, msg)                                                                \
    EXPECT_EQ_STR(wsc_strerror(value), msg);                                                       \
    EXPECT_EQ_STR(wsc_err_name(value), #name);
    WSC_ERRORS(CHECK_ONE)
#undef CHECK_ONE
    EXPECT_EQ_STR(wsc_strerror(12345), "unknown error");
    EXPECT_EQ_STR(wsc_strerror(-999), "unknown error");
    EXPECT_EQ_STR(wsc_err_name(1), "WSC_EUNKNOWN");
    EXPECT_EQ_STR(wsc_err_name(WSC_ETIMEDOUT), "WSC_ETIMEDOUT");
}

TEST(err_fill_returns_code_and_formats)
{
    wsc_err e;
    memset(&e, 0x55, sizeof e);
    EXPECT_EQ_INT(wsc__err(&e, WSC_ECONFIG, "max_conn must be > 0 (got %d)", -3), WSC_ECONFIG);
    EXPECT_EQ_INT(e.code, WSC_ECONFIG);
    EXPECT_EQ_INT(e.sys_errno, 0);
    EXPECT_EQ_INT(e.http_status, 0);
    EXPECT_EQ_INT(e.close_code, 0);
    EXPECT_EQ_STR(e.message, "max_conn must be > 0 (got -3)");
    EXPECT_EQ_INT(wsc__err(NULL, WSC_ENOMEM, "x"), WSC_ENOMEM);
    EXPECT_EQ_INT(wsc__err(&e, WSC_ENOMEM, NULL), WSC_ENOMEM);
    EXPECT_EQ_STR(e.message, "out of memory");
}

TEST(err_fill_truncates_long_messages)
{
    wsc_err e;
    char longs[400];
    memset(longs, 'z', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    wsc__err(&e, WSC_EINVAL, "%s", longs);
    EXPECT_EQ_INT(strlen(e.message), sizeof e.message - 1);
    wsc__err_sys(&e, WSC_EIO, ENOENT, "%s", longs);
    EXPECT_EQ_INT(strlen(e.message), sizeof e.message - 1);
    EXPECT_EQ_INT(e.sys_errno, ENOENT);
}

TEST(err_sys_appends_strerror)
{
    wsc_err e;
    EXPECT_EQ_INT(wsc__err_sys(&e, WSC_EADDR, ENOENT, "bind %s", "/nope"), WSC_EADDR);
    EXPECT_EQ_INT(e.code, WSC_EADDR);
    EXPECT_EQ_INT(e.sys_errno, ENOENT);
    EXPECT(strncmp(e.message, "bind /nope: ", 12) == 0);
    EXPECT(strlen(e.message) > 12);
    EXPECT_EQ_INT(wsc__err_sys(NULL, WSC_EIO, EPIPE, "x"), WSC_EIO);
}

struct captured {
    int calls;
    wsc_log_level level;
    char text[1024];
};

static void capture(wsc_log_level level, const char *message, void *user)
{
    struct captured *c = user;
    c->calls++;
    c->level = level;
    snprintf(c->text, sizeof c->text, "%s", message);
}

static int evaluated;
static int side_effect(void)
{
    return ++evaluated;
}

TEST(log_quiet_by_default_and_levels_filter)
{
    struct captured c = {0};
    /* Nothing was set yet in this program: the default is quiet. */
    EXPECT(!wsc__log_enabled(WSC_LOG_ERROR));
    EXPECT(!wsc__log_enabled(WSC_LOG_DEBUG));
    wsc_log_set_handler(capture, &c);
    wsc__log(WSC_LOG_ERROR, "dropped %d", 1);
    EXPECT_EQ_INT(c.calls, 0);
    WSC__LOG(WSC_LOG_ERROR, "dropped %d", side_effect());
    EXPECT_EQ_INT(evaluated, 0); /* arguments are not even evaluated */

    wsc_log_set_level(WSC_LOG_WARN);
    EXPECT(wsc__log_enabled(WSC_LOG_ERROR));
    EXPECT(wsc__log_enabled(WSC_LOG_WARN));
    EXPECT(!wsc__log_enabled(WSC_LOG_INFO));
    EXPECT(!wsc__log_enabled(WSC_LOG_NONE));
    WSC__LOG(WSC_LOG_INFO, "dropped %d", side_effect());
    EXPECT_EQ_INT(c.calls, 0);
    EXPECT_EQ_INT(evaluated, 0);
    WSC__LOG(WSC_LOG_WARN, "port %d busy (%d)", 9224, side_effect());
    EXPECT_EQ_INT(c.calls, 1);
    EXPECT_EQ_INT(c.level, WSC_LOG_WARN);
    EXPECT_EQ_STR(c.text, "wsc: port 9224 busy (1)");
    wsc__log(WSC_LOG_NONE, "never");
    EXPECT_EQ_INT(c.calls, 1);

    wsc_log_set_level(WSC_LOG_DEBUG);
    wsc__log(WSC_LOG_DEBUG, "debug");
    EXPECT_EQ_INT(c.calls, 2);
    wsc_log_set_level((wsc_log_level)99); /* clamped */
    EXPECT(wsc__log_enabled(WSC_LOG_DEBUG));
    wsc_log_set_level(WSC_LOG_NONE);
    wsc__log(WSC_LOG_ERROR, "quiet again");
    EXPECT_EQ_INT(c.calls, 2);
    wsc_log_set_handler(NULL, NULL);
}

TEST(log_long_message_is_cut)
{
    struct captured c = {0};
    char longs[2000];
    memset(longs, 'q', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    wsc_log_set_handler(capture, &c);
    wsc_log_set_level(WSC_LOG_ERROR);
    wsc__log(WSC_LOG_ERROR, "%s", longs);
    wsc_log_set_level(WSC_LOG_NONE);
    wsc_log_set_handler(NULL, NULL);
    CHECK_EQ_INT(c.calls, 1);
    EXPECT_EQ_INT(strlen(c.text), 511);
    EXPECT(strncmp(c.text, "wsc: qqq", 8) == 0);
    EXPECT_EQ_STR(c.text + 508, "...");
}

/* Runs fn with standard error redirected into a pipe; returns what was written (at most cap - 1
   bytes, NUL-terminated). */
static size_t capture_stderr(void (*fn)(void), char *out, size_t cap)
{
    int p[2], saved = dup(STDERR_FILENO);
    size_t got = 0;
    out[0] = '\0';
    if (saved < 0 || pipe(p) != 0)
        return 0;
    fflush(stderr);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO); /* the pipe's last writer is gone: reading ends at EOF */
    close(saved);
    ssize_t n;
    while (got < cap - 1 && (n = read(p[0], out + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(p[0]);
    return got;
}

static void log_info_and_debug(void)
{
    wsc_log_set_level(WSC_LOG_INFO);
    wsc__log(WSC_LOG_INFO, "a test line, %d", 42);
    wsc__log(WSC_LOG_DEBUG, "below the level: not written");
    wsc_log_set_level(WSC_LOG_NONE);
    wsc__log(WSC_LOG_ERROR, "logging off: not written");
}

TEST(log_default_handler_writes_stderr)
{
    char out[256];
    capture_stderr(log_info_and_debug, out, sizeof out);
    /* One line, with the prefix and the level, and nothing else. */
    EXPECT_EQ_STR(out, "wsc: a test line, 42 [info]\n");
}

/* Minimal test framework for wsc's own tests: one test program per file.
 *
 * TEST(name) { ... } defines a test, registered before main runs. CHECK*
 * record a failure and return from the (void) test function; EXPECT*
 * record a failure and carry on. The program prints one line per failure,
 * then `N passed, N failed` alone on the last line (the runner reads it),
 * and exits non-zero if anything failed. Arguments, if any, select tests
 * whose names contain one of them. */
#ifndef WSC_TEST_H
#define WSC_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);

struct test_case {
    const char *name;
    test_fn fn;
};

enum { TEST_MAX = 1024 };
static struct test_case test_cases_[TEST_MAX];
static int test_count_;
static int test_current_failed_;

static inline void test_register_(const char *name, test_fn fn)
{
    if (test_count_ < TEST_MAX) {
        test_cases_[test_count_].name = name;
        test_cases_[test_count_].fn = fn;
        test_count_++;
    }
}

static inline void test_fail_(const char *file, int line, const char *what)
{
    fprintf(stderr, "  %s:%d: check failed: %s\n", file, line, what);
    test_current_failed_ = 1;
}

/* True while the current test has not failed: lets loops stop early. */
#define TEST_OK() (!test_current_failed_)

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void test_register_##name(void)        \
    {                                                                           \
        test_register_(#name, test_##name);                                     \
    }                                                                           \
    static void test_##name(void)

#define EXPECT(cond)                                                            \
    do {                                                                        \
        if (!(cond))                                                            \
            test_fail_(__FILE__, __LINE__, #cond);                              \
    } while (0)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            test_fail_(__FILE__, __LINE__, #cond);                              \
            return;                                                             \
        }                                                                       \
    } while (0)

#define EXPECT_EQ_INT(a, b)                                                     \
    do {                                                                        \
        long long va_ = (long long)(a), vb_ = (long long)(b);                   \
        if (va_ != vb_) {                                                       \
            fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", __FILE__,      \
                    __LINE__, #a, #b, va_, vb_);                                \
            test_current_failed_ = 1;                                           \
        }                                                                       \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        EXPECT_EQ_INT(a, b);                                                    \
        if (test_current_failed_)                                               \
            return;                                                             \
    } while (0)

#define EXPECT_EQ_MEM(a, b, n)                                                  \
    do {                                                                        \
        size_t n_ = (size_t)(n);                                                \
        if (n_ && memcmp((a), (b), n_) != 0) {                                  \
            fprintf(stderr, "  %s:%d: %s == %s (%zu bytes): differ\n",          \
                    __FILE__, __LINE__, #a, #b, n_);                            \
            test_current_failed_ = 1;                                           \
        }                                                                       \
    } while (0)

#define CHECK_EQ_MEM(a, b, n)                                                   \
    do {                                                                        \
        EXPECT_EQ_MEM(a, b, n);                                                 \
        if (test_current_failed_)                                               \
            return;                                                             \
    } while (0)

#define EXPECT_EQ_STR(a, b)                                                     \
    do {                                                                        \
        const char *sa_ = (a), *sb_ = (b);                                      \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                            \
            fprintf(stderr, "  %s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__,  \
                    __LINE__, #a, #b, sa_ ? sa_ : "(null)",                     \
                    sb_ ? sb_ : "(null)");                                      \
            test_current_failed_ = 1;                                           \
        }                                                                       \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                      \
    do {                                                                        \
        EXPECT_EQ_STR(a, b);                                                    \
        if (test_current_failed_)                                               \
            return;                                                             \
    } while (0)

#ifndef TEST_NO_MAIN
static bool test_selected_(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < test_count_; i++) {
        if (!test_selected_(test_cases_[i].name, argc, argv))
            continue;
        test_current_failed_ = 0;
        test_cases_[i].fn();
        if (test_current_failed_) {
            failed++;
            printf("FAIL %s\n", test_cases_[i].name);
        } else {
            passed++;
            printf("ok   %s\n", test_cases_[i].name);
        }
        fflush(stderr);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
#endif

#endif

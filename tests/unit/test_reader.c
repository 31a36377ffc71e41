/* Message reader: every RFC 6455 section 5 rule, the section 5.7 examples, NEED_MORE accounting,
 * the size cap, incremental UTF-8, and a randomized round trip fed whole, split at random points
 * and one byte at a time through a caller loop that keeps unconsumed bytes (as a connection does).
 */
#include "../test.h"

#include "proto/close.h"
#include "proto/frame.h"
#include "proto/mask.h"
#include "proto/reader.h"
#include "test_frame_build.h"

/* ---- small helpers ----------------------------------------------------------------------------
 */

struct bytes {
    uint8_t *p;
    size_t n, cap;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_u64(struct bytes *b, uint64_t v)
{
    put(b, &v, sizeof v);
}

static void bytes_free(struct bytes *b)
{
    free(b->p);
    *b = (struct bytes){0};
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Appends one frame with full control over the header: b0 is the first byte as sent, enc a
   WT_LEN_* length encoding. */
static void raw_frame(struct bytes *s, unsigned b0, const void *payload, size_t n,
                      const uint8_t *key, int enc)
{
    uint8_t h[14];
    size_t hl = wt_header_enc(h, b0 & 0x80u, (b0 >> 4) & 7u, b0 & 0x0fu, key, n, enc);
    put(s, h, hl);
    size_t at = s->n;
    put(s, payload, n);
    if (key)
        wsc__mask(s->p + at, n, key, 0);
}

/* A frame as our builder makes it; masked (with a fresh key) when the reader is a server. */
static void frame(struct bytes *s, enum wsc__role reader_role, unsigned op, bool fin,
                  const void *payload, size_t n)
{
    uint8_t key[4];
    wsc__mask_key_new(key);
    raw_frame(s, (fin ? 0x80u : 0u) | op, payload, n, reader_role == WSC__ROLE_SERVER ? key : NULL,
              WT_LEN_MIN);
}

/* ---- the caller loop ---------------------------------------------------------------------------
 * Feeds stream through a buffer of capacity cap, chunk sizes chosen by mode, and records what the
 * reader reports in a log: 'M' op rsv1 len data for each complete message, 'C' op len data code for
 * each control frame, 'E' code on error, and finally 'U' with the count of bytes left unconsumed.
 */

enum { FEED_WHOLE, FEED_RANDOM, FEED_BYTES };

static void log_msg(struct bytes *log, unsigned op, bool rsv1, const uint8_t *p, size_t n)
{
    put(log, "M", 1);
    put_u64(log, op);
    put_u64(log, rsv1);
    put_u64(log, n);
    put(log, p, n);
}

static void log_ctl(struct bytes *log, unsigned op, const uint8_t *p, size_t n, unsigned code)
{
    put(log, "C", 1);
    put_u64(log, op);
    put_u64(log, n);
    put(log, p, n);
    put_u64(log, code);
}

static void log_err(struct bytes *log, unsigned code)
{
    put(log, "E", 1);
    put_u64(log, code);
}

static void log_end(struct bytes *log, size_t left)
{
    put(log, "U", 1);
    put_u64(log, left);
}

static int feed_failures;
#define FEED_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: feed invariant failed: %s\n", __FILE__, __LINE__, #cond);    \
            feed_failures++;                                                                       \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static void feed(wsc__reader *r, const uint8_t *stream, size_t n, int mode, size_t cap,
                 struct bytes *log)
{
    uint8_t *buf =
        malloc(cap); /* exact size: ASan catches any read past what the reader was given */
    struct bytes msg = {0};
    bool in_msg = false;
    unsigned msg_op = 0;
    bool msg_rsv1 = false;
    size_t have = 0, spos = 0;

    if (!buf)
        abort();
    for (;;) {
        size_t take = cap - have;
        if (take > n - spos)
            take = n - spos;
        if (mode == FEED_BYTES && take > 1)
            take = 1;
        else if (mode == FEED_RANDOM && take > 0) {
            size_t lim = rnd() % 4 == 0 ? 1 + (size_t)(rnd() % 30000) : 1 + (size_t)(rnd() % 200);
            if (take > lim)
                take = lim;
        }
        memcpy(buf + have, stream + spos, take);
        have += take;
        spos += take;

        size_t pos = 0;
        for (;;) {
            wsc__event ev;
            memset(&ev, 0xA5, sizeof ev);
            size_t c = wsc__reader_next(r, buf + pos, have - pos, &ev);
            FEED_CHECK(c <= have - pos);
            if (ev.kind == WSC__EV_NEED_MORE) {
                FEED_CHECK(c == 0);
                FEED_CHECK(ev.need > have - pos);
                FEED_CHECK(ev.need <= WSC__CONTROL_FRAME_MAX);
                break;
            }
            if (ev.kind == WSC__EV_ERROR) {
                FEED_CHECK(c == 0);
                log_err(log, ev.close_code);
                /* The reader stays in error. */
                wsc__event ev2;
                FEED_CHECK(wsc__reader_next(r, buf + pos, have - pos, &ev2) == 0);
                FEED_CHECK(ev2.kind == WSC__EV_ERROR && ev2.close_code == ev.close_code);
                FEED_CHECK(wsc__reader_error(r)[0] != '\0');
                goto out;
            }
            FEED_CHECK(c > 0);
            FEED_CHECK(ev.data >= buf + pos && ev.data + ev.len <= buf + pos + c);
            if (ev.kind == WSC__EV_DATA) {
                FEED_CHECK(ev.first == !in_msg);
                FEED_CHECK(ev.opcode == WSC__OP_TEXT || ev.opcode == WSC__OP_BINARY);
                if (ev.first) {
                    in_msg = true;
                    msg_op = ev.opcode;
                    msg_rsv1 = ev.rsv1;
                    msg.n = 0;
                }
                FEED_CHECK(ev.opcode == msg_op && ev.rsv1 == msg_rsv1);
                put(&msg, ev.data, ev.len);
                if (ev.last) {
                    log_msg(log, msg_op, msg_rsv1, msg.p, msg.n);
                    in_msg = false;
                }
                FEED_CHECK(wsc__reader_in_message(r) == in_msg);
            } else {
                FEED_CHECK(ev.kind == WSC__EV_CONTROL);
                FEED_CHECK(ev.opcode == WSC__OP_CLOSE || ev.opcode == WSC__OP_PING ||
                           ev.opcode == WSC__OP_PONG);
                FEED_CHECK(ev.len <= 125);
                unsigned code = 0;
                if (ev.opcode == WSC__OP_CLOSE) {
                    code = ev.close_code;
                    if (ev.len == 0)
                        FEED_CHECK(code == 1005 && ev.reason == NULL && ev.reason_len == 0);
                    else
                        FEED_CHECK(ev.reason_len == ev.len - 2 &&
                                   (ev.reason_len == 0 || ev.reason == ev.data + 2));
                }
                log_ctl(log, ev.opcode, ev.data, ev.len, code);
            }
            pos += c;
        }
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (spos == n)
            break;
    }
    log_end(log, have);
out:
    free(buf);
    bytes_free(&msg);
}

static bool logs_equal(const struct bytes *a, const struct bytes *b, const char *what)
{
    if (a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0))
        return true;
    size_t i = 0;
    while (i < a->n && i < b->n && a->p[i] == b->p[i])
        i++;
    fprintf(stderr, "  %s: logs differ at byte %zu (lengths %zu, %zu)\n", what, i, a->n, b->n);
    for (size_t j = i > 40 ? i - 40 : 0; j < i + 40 && j < a->n && j < b->n; j++)
        fprintf(stderr, "%s%02x/%02x", j == i ? " [" : " ", a->p[j], b->p[j]);
    fprintf(stderr, "\n");
    return false;
}

/* Runs stream in all three modes (several random splits) and checks each log against want. */
static bool check_all_modes(enum wsc__role role, uint64_t max, unsigned flags,
                            const struct bytes *s, const struct bytes *want)
{
    static const char *names[] = {"whole", "random", "bytes"};
    for (int mode = 0; mode < 3; mode++)
        for (int rep = 0; rep < (mode == FEED_RANDOM ? 4 : 1); rep++) {
            wsc__reader r;
            struct bytes log = {0};
            wsc__reader_init(&r, role, max, flags);
            size_t cap = mode == FEED_WHOLE   ? (s->n > 139 ? s->n : 139)
                         : mode == FEED_BYTES ? WSC__CONTROL_FRAME_MAX
                                              : WSC__CONTROL_FRAME_MAX + (size_t)(rnd() % 100000);
            feed(&r, s->p, s->n, mode, cap, &log);
            bool ok = feed_failures == 0 && logs_equal(&log, want, names[mode]);
            bytes_free(&log);
            if (!ok)
                return false;
        }
    return true;
}

/* Each error case: stream must yield the logged events in want, then ERROR code, in every mode. */
static bool expect_events_then_error(enum wsc__role role, uint64_t max, unsigned flags,
                                     struct bytes *s, struct bytes *want, unsigned code)
{
    log_err(want, code);
    return check_all_modes(role, max, flags, s, want);
}

/* ---- RFC 6455 section 5.7 examples --------------------------------------------------------------
 */

static void one(wsc__reader *r, const uint8_t *p, size_t n, wsc__event *ev, size_t want_consumed)
{
    uint8_t tmp[200];
    memcpy(tmp, p, n);
    size_t c = wsc__reader_next(r, tmp, n, ev);
    EXPECT_EQ_INT(c, want_consumed);
}

TEST(rfc_single_frame_unmasked)
{
    static const uint8_t f[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    uint8_t b[sizeof f];
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    memcpy(b, f, sizeof f);
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof b, &ev), 7);
    CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
    CHECK_EQ_INT(ev.opcode, WSC__OP_TEXT);
    CHECK(ev.first && ev.last && !ev.rsv1);
    CHECK(ev.data == b + 2);
    CHECK_EQ_INT(ev.len, 5);
    CHECK_EQ_MEM(ev.data, "Hello", 5);
    CHECK(!wsc__reader_in_message(&r));
    /* The same frame is a protocol error for a server: client frames must be masked (5.1). */
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, WSC__READER_UTF8);
    one(&r, f, sizeof f, &ev, 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1002);
}

TEST(rfc_single_frame_masked)
{
    static const uint8_t f[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t b[sizeof f];
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, WSC__READER_UTF8);
    memcpy(b, f, sizeof f);
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof b, &ev), 11);
    CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
    CHECK(ev.first && ev.last);
    CHECK(ev.data == b + 6);
    CHECK_EQ_MEM(ev.data, "Hello", 5);
    /* A client must refuse masked frames from the server. */
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    one(&r, f, sizeof f, &ev, 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1002);
}

TEST(rfc_fragmented_unmasked)
{
    static const uint8_t f[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    uint8_t b[sizeof f];
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    memcpy(b, f, sizeof f);
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof b, &ev), 5);
    CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
    CHECK_EQ_INT(ev.opcode, WSC__OP_TEXT);
    CHECK(ev.first && !ev.last);
    CHECK_EQ_MEM(ev.data, "Hel", 3);
    CHECK(wsc__reader_in_message(&r));
    CHECK_EQ_INT(wsc__reader_next(&r, b + 5, sizeof b - 5, &ev), 4);
    CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
    CHECK_EQ_INT(ev.opcode, WSC__OP_TEXT); /* the message's type, on a continuation frame */
    CHECK(!ev.first && ev.last);
    CHECK_EQ_MEM(ev.data, "lo", 2);
    CHECK(!wsc__reader_in_message(&r));
}

TEST(rfc_ping_unmasked_pong_masked)
{
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    wsc__reader r;
    wsc__event ev;
    uint8_t b[16];
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, 0);
    memcpy(b, ping, sizeof ping);
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof ping, &ev), 7);
    CHECK_EQ_INT(ev.kind, WSC__EV_CONTROL);
    CHECK_EQ_INT(ev.opcode, WSC__OP_PING);
    CHECK_EQ_INT(ev.len, 5);
    CHECK_EQ_MEM(ev.data, "Hello", 5);
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, 0);
    memcpy(b, pong, sizeof pong);
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof pong, &ev), 11);
    CHECK_EQ_INT(ev.kind, WSC__EV_CONTROL);
    CHECK_EQ_INT(ev.opcode, WSC__OP_PONG);
    CHECK_EQ_MEM(ev.data, "Hello", 5);
}

TEST(rfc_binary_256_and_64k)
{
    static const size_t sizes[] = {256, 65536};
    for (size_t i = 0; i < 2; i++) {
        size_t n = sizes[i];
        uint8_t *b = malloc(n + 14);
        CHECK(b);
        size_t hl = wsc__frame_header_build(b, WSC__OP_BINARY, true, false, n, NULL);
        CHECK_EQ_INT(hl, i == 0 ? 4 : 10);
        for (size_t j = 0; j < n; j++)
            b[hl + j] = (uint8_t)(j * 7);
        wsc__reader r;
        wsc__event ev;
        wsc__reader_init(&r, WSC__ROLE_CLIENT, 65536, WSC__READER_UTF8);
        /* Only the header: NEED_MORE for one payload byte. */
        CHECK_EQ_INT(wsc__reader_next(&r, b, hl, &ev), 0);
        CHECK_EQ_INT(ev.kind, WSC__EV_NEED_MORE);
        CHECK_EQ_INT(ev.need, hl + 1);
        size_t c = wsc__reader_next(&r, b, hl + n, &ev);
        CHECK_EQ_INT(c, hl + n);
        CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
        CHECK_EQ_INT(ev.opcode, WSC__OP_BINARY);
        CHECK(ev.first && ev.last && ev.len == n && ev.data == b + hl);
        CHECK_EQ_INT(ev.data[255], (uint8_t)(255 * 7));
        free(b);
    }
}

/* ---- NEED_MORE accounting -----------------------------------------------------------------------
 */

TEST(need_more_counts)
{
    wsc__reader r;
    wsc__event ev;
    uint8_t b[200];
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, 0);
    CHECK_EQ_INT(wsc__reader_next(&r, b, 0, &ev), 0);
    CHECK(ev.kind == WSC__EV_NEED_MORE && ev.need == 2);
    b[0] = 0x82;
    CHECK_EQ_INT(wsc__reader_next(&r, b, 1, &ev), 0);
    CHECK(ev.kind == WSC__EV_NEED_MORE && ev.need == 2);
    b[1] = 0x80 | 126; /* masked, 16-bit length: header 8 bytes */
    CHECK_EQ_INT(wsc__reader_next(&r, b, 2, &ev), 0);
    CHECK(ev.kind == WSC__EV_NEED_MORE && ev.need == 8);
    b[2] = 0x01;
    b[3] = 0x00;
    CHECK_EQ_INT(wsc__reader_next(&r, b, 4, &ev), 0);
    CHECK(ev.kind == WSC__EV_NEED_MORE && ev.need == 8);
    memset(b + 4, 0, 4); /* zero key */
    CHECK_EQ_INT(wsc__reader_next(&r, b, 8, &ev), 0);
    CHECK(ev.kind == WSC__EV_NEED_MORE && ev.need == 9);
    CHECK(!wsc__reader_in_message(&r)); /* nothing committed yet */
    memset(b + 8, 'x', 100);
    CHECK_EQ_INT(wsc__reader_next(&r, b, 9, &ev), 9);
    CHECK(ev.kind == WSC__EV_DATA && ev.first && !ev.last && ev.len == 1);
    CHECK(wsc__reader_in_message(&r));
    CHECK_EQ_INT(wsc__reader_next(&r, b + 9, 0, &ev), 0);
    CHECK(ev.kind == WSC__EV_NEED_MORE && ev.need == 1);
    CHECK_EQ_INT(wsc__reader_next(&r, b + 9, 99, &ev), 99);
    CHECK(ev.kind == WSC__EV_DATA && !ev.first && !ev.last && ev.len == 99);
    /* A following control frame is not consumed until whole: 64-bit length 5 (non-minimal). */
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, 0);
    static const uint8_t ping[] = {0x89, 0xFF, 0, 0, 0,   0,   0,   0,   0,  5,
                                   0,    0,    0, 0, 'h', 'e', 'l', 'l', 'o'};
    memcpy(b, ping, sizeof ping);
    for (size_t n = 0; n < sizeof ping; n++) {
        CHECK_EQ_INT(wsc__reader_next(&r, b, n, &ev), 0);
        CHECK_EQ_INT(ev.kind, WSC__EV_NEED_MORE);
        CHECK_EQ_INT(ev.need, n < 2 ? 2 : n < 14 ? 14 : 19);
    }
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof ping, &ev), sizeof ping);
    CHECK(ev.kind == WSC__EV_CONTROL && ev.opcode == WSC__OP_PING && ev.len == 5);
    CHECK_EQ_MEM(ev.data, "hello", 5);
}

/* A payload streamed in pieces is unmasked with the key offset carried between pieces. */
TEST(streamed_payload_mask_offset)
{
    uint8_t payload[1000], key[4] = {0xde, 0xad, 0xbe, 0xef};
    struct bytes s = {0};
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13 + 1);
    raw_frame(&s, 0x82, payload, sizeof payload, key, WT_LEN_MIN);
    size_t cuts[] = {4, 9, 10, 11, 13, 500, 501, 999, s.n};
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, 0);
    size_t pos = 0, got = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t c = wsc__reader_next(&r, s.p + pos, cuts[i] - pos, &ev);
        if (ev.kind == WSC__EV_NEED_MORE)
            continue;
        CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
        CHECK_EQ_INT(ev.first, got == 0);
        CHECK_EQ_INT(ev.last, cuts[i] == s.n);
        CHECK_EQ_MEM(ev.data, payload + got, ev.len);
        got += ev.len;
        pos += c;
        CHECK_EQ_INT(pos, cuts[i]);
    }
    CHECK_EQ_INT(got, sizeof payload);
    bytes_free(&s);
}

/* ---- section 5 rules, each in every feeding mode ------------------------------------------------
 */

#define ROLE_KEY(role) ((role) == WSC__ROLE_SERVER ? mkey : NULL)
static const uint8_t mkey[4] = {0x11, 0x22, 0x33, 0x44};

static bool rule(enum wsc__role role, unsigned flags, unsigned b0, const char *payload, size_t n,
                 int enc, unsigned code)
{
    struct bytes s = {0}, want = {0};
    raw_frame(&s, b0, payload, n, ROLE_KEY(role), enc);
    bool ok = expect_events_then_error(role, 0, flags, &s, &want, code);
    bytes_free(&s);
    bytes_free(&want);
    return ok;
}

TEST(rsv_bits)
{
    for (int role = 0; role < 2; role++) {
        CHECK(rule(role, 0, 0x80 | 0x20 | WSC__OP_TEXT, "a", 1, WT_LEN_MIN, 1002));   /* RSV2 */
        CHECK(rule(role, 0, 0x80 | 0x10 | WSC__OP_BINARY, "a", 1, WT_LEN_MIN, 1002)); /* RSV3 */
        CHECK(rule(role, WSC__READER_RSV1, 0x80 | 0x30 | 2, "a", 1, WT_LEN_MIN,
                   1002)); /* even with RSV1 */
        CHECK(rule(role, 0, 0x80 | 0x40 | WSC__OP_TEXT, "a", 1, WT_LEN_MIN,
                   1002)); /* RSV1 not negotiated */
        CHECK(rule(role, WSC__READER_RSV1, 0x80 | 0x40 | WSC__OP_PING, "", 0, WT_LEN_MIN,
                   1002)); /* control */
        CHECK(rule(role, 0x7F & ~WSC__READER_RSV1, 0x80 | 0x40 | WSC__OP_BINARY, "", 0, WT_LEN_MIN,
                   1002));
    }
}

TEST(rsv1_when_negotiated)
{
    for (int role = 0; role < 2; role++) {
        struct bytes s = {0}, want = {0};
        /* Compressed text is not validated here (the payload is deflate data). */
        raw_frame(&s, 0x40 | WSC__OP_TEXT, "\xff\xfe", 2, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x80 | WSC__OP_CONT, "\xc0", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, true, (const uint8_t *)"\xff\xfe\xc0", 3);
        raw_frame(&s, 0x80 | WSC__OP_BINARY, "plain", 5, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_BINARY, false, (const uint8_t *)"plain", 5);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 0, WSC__READER_UTF8 | WSC__READER_RSV1, &s, &want));
        /* RFC 7692 6.1: RSV1 on a continuation frame is an error. */
        want.n = 0;
        s.n = 0;
        raw_frame(&s, 0x40 | WSC__OP_BINARY, "ab", 2, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0xC0 | WSC__OP_CONT, "c", 1, ROLE_KEY(role), WT_LEN_MIN);
        CHECK(expect_events_then_error(role, 0, WSC__READER_RSV1, &s, &want, 1002));
        bytes_free(&s);
        bytes_free(&want);
    }
}

TEST(reserved_opcodes)
{
    for (int role = 0; role < 2; role++)
        for (unsigned op = 3; op < 16; op++) {
            if (op >= 8 && op <= 10)
                continue;
            CHECK(rule(role, 0, 0x80 | op, "", 0, WT_LEN_MIN, 1002));
            CHECK(rule(role, 0, op, "x", 1, WT_LEN_MIN, 1002)); /* also without FIN */
        }
}

TEST(masking_by_role)
{
    struct bytes s = {0}, want = {0};
    raw_frame(&s, 0x82, "abc", 3, NULL, WT_LEN_MIN); /* unmasked to a server */
    CHECK(expect_events_then_error(WSC__ROLE_SERVER, 0, 0, &s, &want, 1002));
    s.n = want.n = 0;
    raw_frame(&s, 0x82, "abc", 3, mkey, WT_LEN_MIN); /* masked to a client */
    CHECK(expect_events_then_error(WSC__ROLE_CLIENT, 0, 0, &s, &want, 1002));
    s.n = want.n = 0;
    raw_frame(&s, 0x89, "", 0, NULL, WT_LEN_MIN); /* control frames too */
    CHECK(expect_events_then_error(WSC__ROLE_SERVER, 0, 0, &s, &want, 1002));
    bytes_free(&s);
    bytes_free(&want);
}

TEST(non_minimal_lengths_accepted)
{
    for (int role = 0; role < 2; role++)
        for (int enc = WT_LEN_16; enc <= WT_LEN_64; enc++) {
            struct bytes s = {0}, want = {0};
            raw_frame(&s, 0x81, "hi", 2, ROLE_KEY(role), enc);
            log_msg(&want, WSC__OP_TEXT, false, (const uint8_t *)"hi", 2);
            raw_frame(&s, 0x89, "ping", 4, ROLE_KEY(role), enc);
            log_ctl(&want, WSC__OP_PING, (const uint8_t *)"ping", 4, 0);
            raw_frame(&s, 0x82, "", 0, ROLE_KEY(role), enc);
            log_msg(&want, WSC__OP_BINARY, false, NULL, 0);
            char big[125];
            memset(big, 'p', sizeof big);
            raw_frame(&s, 0x8A, big, 125, ROLE_KEY(role), enc);
            log_ctl(&want, WSC__OP_PONG, (const uint8_t *)big, 125, 0);
            log_end(&want, 0);
            CHECK(check_all_modes(role, 0, WSC__READER_UTF8, &s, &want));
            bytes_free(&s);
            bytes_free(&want);
        }
}

TEST(length_64_top_bit)
{
    for (int role = 0; role < 2; role++) {
        /* Header only: the reader must fail on the length alone, without waiting for payload. */
        uint8_t h[14] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
        if (role == WSC__ROLE_SERVER)
            h[1] |= 0x80;
        struct bytes s = {0}, want = {0};
        put(&s, h, role == WSC__ROLE_SERVER ? 14 : 10);
        CHECK(expect_events_then_error(role, 0, 0, &s, &want, 1002));
        /* 2^63 - 1 is a legal length (refused only by the size cap): no error without a cap, 1009
         * with. */
        s.p[2] = 0x7F;
        want.n = 0;
        log_end(&want, s.n);
        CHECK(check_all_modes(role, 0, 0, &s, &want));
        want.n = 0;
        CHECK(expect_events_then_error(role, UINT64_C(1) << 40, 0, &s, &want, 1009));
        bytes_free(&s);
        bytes_free(&want);
    }
}

TEST(control_frame_rules)
{
    char p[126];
    memset(p, 'c', sizeof p);
    for (int role = 0; role < 2; role++) {
        for (unsigned op = 8; op <= 10; op++) {
            CHECK(rule(role, 0, op, "", 0, WT_LEN_MIN, 1002));         /* not FIN */
            CHECK(rule(role, 0, 0x80 | op, p, 126, WT_LEN_MIN, 1002)); /* 126 bytes */
            CHECK(rule(role, 0, 0x80 | op, p, 126, WT_LEN_64, 1002));
        }
        /* 125 is fine; and the error for 126 comes from the header, before the payload arrives. */
        struct bytes s = {0}, want = {0};
        raw_frame(&s, 0x89, p, 125, ROLE_KEY(role), WT_LEN_MIN);
        log_ctl(&want, WSC__OP_PING, (const uint8_t *)p, 125, 0);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 0, 0, &s, &want));
        s.n = want.n = 0;
        raw_frame(&s, 0x8A, p, 126, ROLE_KEY(role), WT_LEN_16);
        s.n = role == WSC__ROLE_SERVER ? 8 : 4;
        CHECK(expect_events_then_error(role, 0, 0, &s, &want, 1002));
        bytes_free(&s);
        bytes_free(&want);
    }
}

TEST(continuation_rules)
{
    for (int role = 0; role < 2; role++) {
        struct bytes s = {0}, want = {0};
        /* A continuation with nothing to continue, with and without FIN. */
        CHECK(rule(role, 0, 0x80, "x", 1, WT_LEN_MIN, 1002));
        CHECK(rule(role, 0, 0x00, "x", 1, WT_LEN_MIN, 1002));
        /* After a complete message, a continuation is again an error. */
        raw_frame(&s, 0x81, "a", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, false, (const uint8_t *)"a", 1);
        raw_frame(&s, 0x80, "b", 1, ROLE_KEY(role), WT_LEN_MIN);
        CHECK(expect_events_then_error(role, 0, 0, &s, &want, 1002));
        /* A new data frame inside a fragmented message: TEXT or BINARY, with or without FIN. */
        for (unsigned b0 = 0; b0 < 4; b0++) {
            s.n = want.n = 0;
            raw_frame(&s, 0x01, "a", 1, ROLE_KEY(role), WT_LEN_MIN);
            raw_frame(&s, (b0 & 1 ? 0x80u : 0u) | (b0 & 2 ? 1u : 2u), "b", 1, ROLE_KEY(role),
                      WT_LEN_MIN);
            CHECK(expect_events_then_error(role, 0, 0, &s, &want, 1002));
        }
        /* Control frames between fragments are fine, and an empty fragment too. */
        s.n = want.n = 0;
        raw_frame(&s, 0x02, "ab", 2, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x89, "p1", 2, ROLE_KEY(role), WT_LEN_MIN);
        log_ctl(&want, WSC__OP_PING, (const uint8_t *)"p1", 2, 0);
        raw_frame(&s, 0x00, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x8A, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        log_ctl(&want, WSC__OP_PONG, NULL, 0, 0);
        raw_frame(&s, 0x00, "cd", 2, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x88, "\x03\xe8ok", 4, ROLE_KEY(role), WT_LEN_MIN);
        log_ctl(&want, WSC__OP_CLOSE, (const uint8_t *)"\x03\xe8ok", 4, 1000);
        raw_frame(&s, 0x80, "e", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_BINARY, false, (const uint8_t *)"abcde", 5);
        raw_frame(&s, 0x01, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x80, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, false, NULL, 0);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 0, WSC__READER_UTF8, &s, &want));
        bytes_free(&s);
        bytes_free(&want);
    }
}

TEST(close_payloads)
{
    static const struct {
        const char *p;
        size_t n;
        unsigned code; /* 0 = accepted */
        unsigned peer;
    } cases[] = {
        {"", 0, 0, 1005},
        {"\x03", 1, 1002, 0},
        {"\x03\xe8", 2, 0, 1000},
        {"\x0f\xa0"
         "bye",
         5, 0, 4000},
        {"\x03\xed", 2, 1002, 0}, /* 1005 on the wire */
        {"\x03\xee", 2, 1002, 0}, /* 1006 */
        {"\x03\xe7", 2, 1002, 0}, /* 999 */
        {"\x03\xf4", 2, 0, 1012},    /* service restart (IANA registry) */
        {"\x03\xf5" "later", 7, 0, 1013}, /* try again later */
        {"\x03\xf6", 2, 0, 1014},    /* bad gateway */
        {"\x03\xf7", 2, 1002, 0}, /* 1015 */
        {"\x03\xf8", 2, 1002, 0}, /* 1016 */
        {"\x0b\xb8", 2, 0, 3000},
        {"\x13\x88", 2, 1002, 0},             /* 5000 */
        {"\x03\xe8\xed\xa0\x80", 5, 1007, 0}, /* surrogate in the reason */
        {"\x03\xe8\xce", 3, 1007, 0},         /* truncated reason */
    };
    for (int role = 0; role < 2; role++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct bytes s = {0}, want = {0};
            raw_frame(&s, 0x88, cases[i].p, cases[i].n, ROLE_KEY(role), WT_LEN_MIN);
            if (cases[i].code) {
                CHECK(expect_events_then_error(role, 0, 0, &s, &want, cases[i].code));
            } else {
                log_ctl(&want, WSC__OP_CLOSE, (const uint8_t *)cases[i].p, cases[i].n,
                        cases[i].peer);
                log_end(&want, 0);
                CHECK(check_all_modes(role, 0, 0, &s, &want));
            }
            bytes_free(&s);
            bytes_free(&want);
        }
}

TEST(close_reason_fields)
{
    uint8_t b[] = {0x88, 0x07, 0x03, 0xe9, 'a', 'w', 'a', 'y', '!'};
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, 0);
    CHECK_EQ_INT(wsc__reader_next(&r, b, sizeof b, &ev), 9);
    CHECK_EQ_INT(ev.kind, WSC__EV_CONTROL);
    CHECK_EQ_INT(ev.close_code, 1001);
    CHECK(ev.reason == b + 4);
    CHECK_EQ_INT(ev.reason_len, 5);
}

/* ---- UTF-8 in text messages ---------------------------------------------------------------------
 */

TEST(text_utf8)
{
    for (int role = 0; role < 2; role++) {
        struct bytes s = {0}, want = {0};
        /* Invalid in a single frame. */
        CHECK(rule(role, WSC__READER_UTF8, 0x81, "ab\xc0\x80", 4, WT_LEN_MIN, 1007));
        /* Truncated at the end of the message. */
        CHECK(rule(role, WSC__READER_UTF8, 0x81, "ab\xe2\x82", 4, WT_LEN_MIN, 1007));
        /* A code point split across fragments (and a ping between) is valid. */
        raw_frame(&s, 0x01, "\xe2", 1, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x89, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        log_ctl(&want, WSC__OP_PING, NULL, 0, 0);
        raw_frame(&s, 0x00, "\x82", 1, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x80, "\xac!", 2, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, false, (const uint8_t *)"\xe2\x82\xac!", 4);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 0, WSC__READER_UTF8, &s, &want));
        /* Invalid bytes in the first fragment fail before the last fragment arrives: the stream
           holds only the first fragment (and the start of a second one). */
        s.n = want.n = 0;
        raw_frame(&s, 0x01, "ok\xed\xa0\x80more", 9, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x00, "tail", 4, ROLE_KEY(role), WT_LEN_MIN);
        s.n -= 3;
        CHECK(expect_events_then_error(role, 0, WSC__READER_UTF8, &s, &want, 1007));
        /* Without the flag, or in binary messages, bytes are not checked. */
        s.n = want.n = 0;
        raw_frame(&s, 0x81, "\xff", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, false, (const uint8_t *)"\xff", 1);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 0, 0, &s, &want));
        s.n = want.n = 0;
        raw_frame(&s, 0x82, "\xff", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_BINARY, false, (const uint8_t *)"\xff", 1);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 0, WSC__READER_UTF8, &s, &want));
        /* Validation restarts with each message. */
        s.n = want.n = 0;
        raw_frame(&s, 0x01, "\xc3", 1, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x80, "\xa9", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, false, (const uint8_t *)"\xc3\xa9", 2);
        raw_frame(&s, 0x81, "\xa9", 1, ROLE_KEY(role), WT_LEN_MIN);
        CHECK(expect_events_then_error(role, 0, WSC__READER_UTF8, &s, &want, 1007));
        bytes_free(&s);
        bytes_free(&want);
    }
}

/* The 1007 comes with the chunk holding the first invalid byte, not at the end of the frame. */
TEST(text_utf8_fails_mid_frame)
{
    uint8_t b[300];
    size_t hl = wsc__frame_header_build(b, WSC__OP_TEXT, true, false, 200, NULL);
    memset(b + hl, 'a', 200);
    b[hl + 50] = 0xFF;
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, WSC__READER_UTF8);
    CHECK_EQ_INT(wsc__reader_next(&r, b, hl + 40, &ev), hl + 40);
    CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
    CHECK_EQ_INT(wsc__reader_next(&r, b + hl + 40, 20, &ev), 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1007);
    CHECK_EQ_STR(wsc__reader_error(&r), "text message is not valid UTF-8");
}

/* ---- message size cap --------------------------------------------------------------------------
 */

TEST(max_message_size)
{
    char p[1100];
    memset(p, 'm', sizeof p);
    for (int role = 0; role < 2; role++) {
        struct bytes s = {0}, want = {0};
        /* Exactly the cap passes, single frame and fragmented; control frames do not count. */
        raw_frame(&s, 0x82, p, 1000, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_BINARY, false, (const uint8_t *)p, 1000);
        raw_frame(&s, 0x01, p, 600, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x89, p, 125, ROLE_KEY(role), WT_LEN_MIN);
        log_ctl(&want, WSC__OP_PING, (const uint8_t *)p, 125, 0);
        raw_frame(&s, 0x80, p, 400, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, false, (const uint8_t *)p, 1000);
        raw_frame(&s, 0x82, p, 1000, ROLE_KEY(role), WT_LEN_MIN); /* the count restarts per message */
        log_msg(&want, WSC__OP_BINARY, false, (const uint8_t *)p, 1000);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 1000, WSC__READER_UTF8, &s, &want));
        /* One byte over, declared by a single header with no payload present yet. */
        s.n = want.n = 0;
        raw_frame(&s, 0x82, p, 1001, ROLE_KEY(role), WT_LEN_MIN);
        s.n = role == WSC__ROLE_SERVER ? 8 : 4;
        CHECK(expect_events_then_error(role, 1000, 0, &s, &want, 1009));
        /* Over by the sum of fragments: fails at the second header, before its payload. */
        s.n = want.n = 0;
        raw_frame(&s, 0x01, p, 600, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x80, p, 401, ROLE_KEY(role), WT_LEN_MIN);
        s.n -= 401;
        CHECK(expect_events_then_error(role, 1000, 0, &s, &want, 1009));
        /* Many empty fragments never overflow anything. */
        s.n = want.n = 0;
        raw_frame(&s, 0x02, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        for (int i = 0; i < 100; i++)
            raw_frame(&s, 0x00, "", 0, ROLE_KEY(role), WT_LEN_MIN);
        raw_frame(&s, 0x80, "z", 1, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_BINARY, false, (const uint8_t *)"z", 1);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 1, 0, &s, &want));
        bytes_free(&s);
        bytes_free(&want);
    }
}

/* RFC 7692: a compressed message may be longer than the cap by deflate's overhead on data that
   does not compress (max / 64 + 64 bytes); the inflater then holds the inflated size to the cap.
   An uncompressed message on the same connection still gets the exact cap. */
TEST(max_message_size_compressed)
{
    char p[1200];
    memset(p, 'c', sizeof p);
    for (int role = 0; role < 2; role++) {
        struct bytes s = {0}, want = {0};
        raw_frame(&s, 0xC2, p, 1079, ROLE_KEY(role), WT_LEN_MIN); /* 1000 + 15 + 64 */
        log_msg(&want, WSC__OP_BINARY, true, (const uint8_t *)p, 1079);
        raw_frame(&s, 0x41, p, 1000, ROLE_KEY(role), WT_LEN_MIN); /* fragmented, RSV1 first only */
        raw_frame(&s, 0x80, p, 79, ROLE_KEY(role), WT_LEN_MIN);
        log_msg(&want, WSC__OP_TEXT, true, (const uint8_t *)p, 1079);
        log_end(&want, 0);
        CHECK(check_all_modes(role, 1000, WSC__READER_RSV1, &s, &want));
        s.n = want.n = 0;
        raw_frame(&s, 0xC2, p, 1080, ROLE_KEY(role), WT_LEN_MIN);
        s.n = role == WSC__ROLE_SERVER ? 8 : 4;
        CHECK(expect_events_then_error(role, 1000, WSC__READER_RSV1, &s, &want, 1009));
        s.n = want.n = 0;
        raw_frame(&s, 0x82, p, 1001, ROLE_KEY(role), WT_LEN_MIN);
        s.n = role == WSC__ROLE_SERVER ? 8 : 4;
        CHECK(expect_events_then_error(role, 1000, WSC__READER_RSV1, &s, &want, 1009));
        bytes_free(&s);
        bytes_free(&want);
    }
}

TEST(huge_declared_lengths_do_not_overflow)
{
    /* Cap 2^63 - 1: 2^62 then 2^62 - 1 reach it exactly; a bigger second fragment must fail without
       the sum wrapping. */
    uint8_t h[] = {0x02, 127, 0x40, 0, 0, 0, 0, 0, 0, 0, 'x'};
    uint8_t h2[] = {0x00, 127,  0x3F, 0xFF, 0xFF,
                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF}; /* 2^62 - 1: exactly the cap */
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, INT64_MAX, 0);
    CHECK_EQ_INT(wsc__reader_next(&r, h, sizeof h, &ev), sizeof h);
    CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
    CHECK(r.remaining == (UINT64_C(1) << 62) - 1);
    r.remaining = 0; /* pretend the payload was read */
    r.state = 0;
    CHECK_EQ_INT(wsc__reader_next(&r, h2, sizeof h2, &ev), 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_NEED_MORE);
    h2[2] = 0x40;
    h2[9] = 0;
    wsc__reader_init(&r, WSC__ROLE_CLIENT, INT64_MAX, 0);
    CHECK_EQ_INT(wsc__reader_next(&r, h, sizeof h, &ev), sizeof h);
    r.remaining = 0;
    r.state = 0;
    CHECK_EQ_INT(wsc__reader_next(&r, h2, sizeof h2, &ev), 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1009);
}

/* ---- misc --------------------------------------------------------------------------------------
 */

TEST(reader_is_small)
{
    CHECK(sizeof(wsc__reader) <= 48);
}

TEST(error_is_sticky_and_early)
{
    wsc__reader r;
    wsc__event ev;
    uint8_t b[] = {0x83}; /* reserved opcode: known from the first byte */
    wsc__reader_init(&r, WSC__ROLE_CLIENT, 0, 0);
    CHECK_EQ_STR(wsc__reader_error(&r), "");
    CHECK_EQ_INT(wsc__reader_next(&r, b, 1, &ev), 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1002);
    CHECK_EQ_STR(wsc__reader_error(&r), "reserved opcode");
    uint8_t good[] = {0x81, 0x01, 'a'};
    CHECK_EQ_INT(wsc__reader_next(&r, good, 3, &ev), 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_ERROR);
    CHECK_EQ_INT(ev.close_code, 1002);
}

TEST(zero_copy_fast_path)
{
    /* Several whole messages in one buffer: each comes back as one first&&last chunk pointing into
     * it. */
    struct bytes s = {0};
    for (int i = 0; i < 10; i++)
        frame(&s, WSC__ROLE_SERVER, WSC__OP_BINARY, true, "0123456789", (size_t)i);
    wsc__reader r;
    wsc__event ev;
    wsc__reader_init(&r, WSC__ROLE_SERVER, 0, 0);
    size_t pos = 0;
    for (int i = 0; i < 10; i++) {
        size_t c = wsc__reader_next(&r, s.p + pos, s.n - pos, &ev);
        CHECK_EQ_INT(ev.kind, WSC__EV_DATA);
        CHECK(ev.first && ev.last);
        CHECK_EQ_INT(ev.len, i);
        CHECK_EQ_MEM(ev.data, "0123456789", ev.len);
        pos += c;
    }
    CHECK_EQ_INT(pos, s.n);
    CHECK_EQ_INT(wsc__reader_next(&r, s.p + pos, 0, &ev), 0);
    CHECK_EQ_INT(ev.kind, WSC__EV_NEED_MORE);
    bytes_free(&s);
}

/* ---- randomized round trip ----------------------------------------------------------------------
 */

/* Random valid UTF-8 of exactly n bytes (mix of 1- to 4-byte code points). */
static void rand_text(uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t left = n - i, k = 1 + (size_t)(rnd() % 4);
        if (rnd() % 2 || k > left)
            k = 1;
        uint32_t c;
        switch (k) {
        case 1:
            c = (uint32_t)(rnd() % 0x80);
            break;
        case 2:
            c = 0x80 + (uint32_t)(rnd() % (0x800 - 0x80));
            break;
        case 3:
            do
                c = 0x800 + (uint32_t)(rnd() % (0x10000 - 0x800));
            while (c >= 0xD800 && c <= 0xDFFF);
            break;
        default:
            c = 0x10000 + (uint32_t)(rnd() % (0x110000 - 0x10000));
            break;
        }
        if (k == 1)
            p[i] = (uint8_t)c;
        else if (k == 2)
            p[i] = (uint8_t)(0xC0 | c >> 6), p[i + 1] = (uint8_t)(0x80 | (c & 0x3F));
        else if (k == 3)
            p[i] = (uint8_t)(0xE0 | c >> 12), p[i + 1] = (uint8_t)(0x80 | (c >> 6 & 0x3F)),
            p[i + 2] = (uint8_t)(0x80 | (c & 0x3F));
        else
            p[i] = (uint8_t)(0xF0 | c >> 18), p[i + 1] = (uint8_t)(0x80 | (c >> 12 & 0x3F)),
            p[i + 2] = (uint8_t)(0x80 | (c >> 6 & 0x3F)), p[i + 3] = (uint8_t)(0x80 | (c & 0x3F));
        i += k;
    }
}

static size_t rand_size(void)
{
    static const size_t edges[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
    switch (rnd() % 20) {
    case 0:
        return edges[rnd() % 8];
    case 1:
    case 2:
    case 3:
        return (size_t)(rnd() % 70001);
    case 4:
    case 5:
    case 6:
    case 7:
    case 8:
    case 9:
        return 126 + (size_t)(rnd() % 4000);
    default:
        return (size_t)(rnd() % 126);
    }
}

static void rand_control(struct bytes *s, struct bytes *want, const uint8_t *key)
{
    uint8_t p[125];
    unsigned r = (unsigned)(rnd() % 5), op = r < 2   ? WSC__OP_PING
                                             : r < 4 ? WSC__OP_PONG
                                                     : WSC__OP_CLOSE;
    size_t n = (size_t)(rnd() % 126);
    unsigned code = 0;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
    if (op == WSC__OP_CLOSE) {
        static const unsigned codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009,
                                         1010, 1011, 1012, 1013, 1014, 3000, 4999};
        code = codes[rnd() % (sizeof codes / sizeof codes[0])];
        char reason[123];
        size_t rl = (size_t)(rnd() % 124);
        rand_text((uint8_t *)reason, rl);
        n = wsc__close_payload_build(p, code, reason, rl);
        if (rnd() % 4 == 0) {
            n = 0;
            code = 1005;
        }
    }
    raw_frame(s, 0x80 | op, p, n, key, rnd() % 8 ? WT_LEN_MIN : WT_LEN_16);
    log_ctl(want, op, p, n, code);
}

/* Builds a stream of nmsgs random messages (random fragmentation, control frames in between). */
static void rand_stream(struct bytes *s, struct bytes *want, bool masked, bool rsv1_ok, int nmsgs)
{
    static uint8_t payload[70001];
    for (int m = 0; m < nmsgs; m++) {
        unsigned op = rnd() % 2 ? WSC__OP_TEXT : WSC__OP_BINARY;
        bool rsv1 = rsv1_ok && rnd() % 4 == 0;
        size_t n = rand_size();
        if (op == WSC__OP_TEXT && !rsv1)
            rand_text(payload, n);
        else
            for (size_t i = 0; i < n; i++)
                payload[i] = (uint8_t)rnd();
        int frags = rnd() % 2 ? 1 : 2 + (int)(rnd() % 5);
        size_t pos = 0;
        for (int f = 0; f < frags; f++) {
            bool last = f == frags - 1;
            size_t len =
                last ? n - pos
                     : (size_t)(rnd() % (n - pos + 1)); /* may be 0, may split a code point */
            uint8_t key[4];
            wsc__mask_key_new(key);
            unsigned b0 =
                (last ? 0x80u : 0u) | (f == 0 ? op : WSC__OP_CONT) | (f == 0 && rsv1 ? 0x40u : 0u);
            int enc = rnd() % 10 ? WT_LEN_MIN : rnd() % 2 ? WT_LEN_16 : WT_LEN_64;
            if (enc == WT_LEN_16 && len > 0xFFFF)
                enc = WT_LEN_64;
            raw_frame(s, b0, payload + pos, len, masked ? key : NULL, enc);
            pos += len;
            if (last)
                log_msg(want, op, rsv1, payload, n);
            while (rnd() % 4 == 0)
                rand_control(s, want, masked ? key : NULL);
        }
    }
    log_end(want, 0);
}

TEST(random_round_trip)
{
    uint64_t seed = 0x5EED2024CAFEull;
    const char *env = getenv("WSC_TEST_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    printf("random_round_trip: seed 0x%" PRIx64 " (set WSC_TEST_SEED to replay)\n", seed);
    for (int iter = 0; iter < 6; iter++) {
        rng_state = seed + (uint64_t)iter * 0x9E3779B97F4A7C15u;
        if (!rng_state)
            rng_state = 1;
        enum wsc__role role = iter % 2 ? WSC__ROLE_CLIENT : WSC__ROLE_SERVER;
        bool rsv1 = iter % 3 == 2;
        struct bytes s = {0}, want = {0};
        rand_stream(&s, &want, role == WSC__ROLE_SERVER, rsv1, 40);
        unsigned flags = WSC__READER_UTF8 | (rsv1 ? WSC__READER_RSV1 : 0u);
        bool ok = check_all_modes(role, 70000, flags, &s, &want);
        if (!ok)
            fprintf(stderr, "  iteration %d (role %s, %zu bytes)\n", iter,
                    role ? "client" : "server", s.n);
        bytes_free(&s);
        bytes_free(&want);
        CHECK(ok);
    }
}

/* Subprotocol lists (RFC 6455 4.1, 4.2.2; RFC 9110 5.6.1): the elements of every
 * Sec-WebSocket-Protocol line of a parsed head, in order, empty elements and the whitespace around
 * them skipped, with and without other headers between the lines; and the token check that
 * decides which elements a server may answer with. Each head is parsed first (one byte at a time
 * and whole), as the server and the client do before they walk it. */
#include "../test.h"
#include "proto/handshake.h"

#define REQ_START                                                                                  \
    "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"                     \
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                       \
    "Sec-WebSocket-Version: 13\r\n"

/* Parses the request REQ_START + lines + CRLF and writes its list elements, each followed by '|',
   into out. Returns the number of elements, -1 when the request does not parse. */
static int elements(const char *lines, char *out, size_t cap)
{
    static char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s%s\r\n", REQ_START, lines);
    wsc__http_request r;
    enum wsc__hs_result res = WSC__HS_INCOMPLETE;

    /* One byte at a time first: the parser must agree with the whole parse below. */
    wsc__http_request_init(&r, sizeof buf, NULL, 0);
    for (size_t i = 1; i <= n && res == WSC__HS_INCOMPLETE; i++)
        res = wsc__http_request_parse(&r, buf, i);
    if (res != WSC__HS_COMPLETE)
        return -1;
    wsc__http_request_init(&r, sizeof buf, NULL, 0);
    if (wsc__http_request_parse(&r, buf, n) != WSC__HS_COMPLETE || r.len != n)
        return -1;

    size_t pos = 0, len, used = 0;
    const char *e;
    int count = 0;
    out[0] = '\0';
    while (wsc__hs_list_next(r.raw, r.len, "Sec-WebSocket-Protocol", &pos, &e, &len)) {
        if (pos > r.len || e < r.raw || e + len > r.raw + r.len || len == 0)
            return -1;
        used += (size_t)snprintf(out + used, cap - used, "%.*s|", (int)len, e);
        if (used >= cap)
            return -1;
        count++;
    }
    /* Once done, it stays done. */
    if (wsc__hs_list_next(r.raw, r.len, "sec-websocket-protocol", &pos, &e, &len))
        return -1;
    return count;
}

#define EXPECT_LIST(lines, want_count, want)                                                       \
    do {                                                                                           \
        char got_[512];                                                                            \
        EXPECT_EQ_INT(elements(lines, got_, sizeof got_), want_count);                             \
        if (strcmp(got_, want) != 0) {                                                             \
            fprintf(stderr, "  for %s: got \"%s\", want \"%s\"\n", #lines, got_, want);            \
            EXPECT(strcmp(got_, want) == 0);                                                       \
        }                                                                                          \
    } while (0)

TEST(rfc6455_examples)
{
    /* Section 1.3 and 4.1's example. */
    EXPECT_LIST("Sec-WebSocket-Protocol: chat, superchat\r\n", 2, "chat|superchat|");
    /* Section 11.3.4: several lines are one list. */
    EXPECT_LIST("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n", 2,
                "chat|superchat|");
    EXPECT_LIST("", 0, "");
    EXPECT_LIST("Origin: http://example.com\r\n", 0, "");
}

TEST(rfc9110_empty_elements_and_whitespace)
{
    /* RFC 9110 5.6.1.2's examples of lists a recipient must accept. */
    EXPECT_LIST("Sec-WebSocket-Protocol: foo,bar\r\n", 2, "foo|bar|");
    EXPECT_LIST("Sec-WebSocket-Protocol: foo ,bar,\r\n", 2, "foo|bar|");
    EXPECT_LIST("Sec-WebSocket-Protocol: foo , ,bar,charlie\r\n", 3, "foo|bar|charlie|");
    /* ... and the ones that hold no element at all. */
    EXPECT_LIST("Sec-WebSocket-Protocol: \r\n", 0, "");
    EXPECT_LIST("Sec-WebSocket-Protocol: ,\r\n", 0, "");
    EXPECT_LIST("Sec-WebSocket-Protocol: ,   ,\r\n", 0, "");
    EXPECT_LIST("Sec-WebSocket-Protocol:\r\n", 0, "");
    /* Tabs count as whitespace, inside and around the value. */
    EXPECT_LIST("Sec-WebSocket-Protocol:\t\ta\t,\tb \t\r\n", 2, "a|b|");
    EXPECT_LIST("Sec-WebSocket-Protocol: ,,,x,,,\r\n", 1, "x|");
}

TEST(several_lines_between_other_headers)
{
    EXPECT_LIST("Sec-WebSocket-Protocol: a, b\r\n"
                "X-Other: c, d\r\n"
                "sec-websocket-protocol: ,\r\n"
                "Origin: http://e\r\n"
                "SEC-WEBSOCKET-PROTOCOL: e ,f\r\n",
                4, "a|b|e|f|");
    /* An empty line between two full ones, and a last element at the very end of the head. */
    EXPECT_LIST("Sec-WebSocket-Protocol: a\r\nSec-WebSocket-Protocol:\r\n"
                "Sec-WebSocket-Protocol: z\r\n",
                2, "a|z|");
    /* A one-byte element, a name that only starts like ours. */
    EXPECT_LIST("Sec-WebSocket-Protocol-X: no\r\nSec-WebSocket-Protocol: q\r\n", 1, "q|");
    /* Many elements. */
    EXPECT_LIST("Sec-WebSocket-Protocol: 1,2,3,4,5,6,7,8,9,10,11,12\r\n", 12,
                "1|2|3|4|5|6|7|8|9|10|11|12|");
}

TEST(elements_that_are_not_tokens)
{
    /* The list splits on commas only; what a server may answer with is decided per element. */
    EXPECT_LIST("Sec-WebSocket-Protocol: a b, \"q\", c/d, ok\r\n", 4, "a b|\"q\"|c/d|ok|");
    EXPECT(!wsc__hs_token_valid("a b", 3));
    EXPECT(!wsc__hs_token_valid("\"q\"", 3));
    EXPECT(!wsc__hs_token_valid("c/d", 3));
    EXPECT(!wsc__hs_token_valid("a;b", 3));
    EXPECT(!wsc__hs_token_valid("", 0));
    EXPECT(!wsc__hs_token_valid(NULL, 0));
    EXPECT(!wsc__hs_token_valid("\xc3\xa9", 2)); /* non-ASCII */
    EXPECT(!wsc__hs_token_valid("a\x7f", 2));
    EXPECT(wsc__hs_token_valid("ok", 2));
    EXPECT(wsc__hs_token_valid("v2.chat", 7));
    EXPECT(wsc__hs_token_valid("soap+xml", 8));
    EXPECT(wsc__hs_token_valid("!#$%&'*+-.^_`|~09AZaz", 21));
}

TEST(response_heads)
{
    /* The client walks its own request; the list function works on any parsed head. */
    static char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Sec-WebSocket-Protocol: one ,two\r\n\r\n";
    size_t pos = 0, len;
    const char *e;
    CHECK(wsc__hs_list_next(resp, sizeof resp - 1, "sec-websocket-protocol", &pos, &e, &len));
    EXPECT(len == 3 && memcmp(e, "one", 3) == 0);
    CHECK(wsc__hs_list_next(resp, sizeof resp - 1, "sec-websocket-protocol", &pos, &e, &len));
    EXPECT(len == 3 && memcmp(e, "two", 3) == 0);
    EXPECT(!wsc__hs_list_next(resp, sizeof resp - 1, "sec-websocket-protocol", &pos, &e, &len));
    EXPECT(!wsc__hs_list_next(NULL, 0, "sec-websocket-protocol", &pos, &e, &len));
    pos = sizeof resp + 10; /* an iterator past the end stays done */
    EXPECT(!wsc__hs_list_next(resp, sizeof resp - 1, "sec-websocket-protocol", &pos, &e, &len));
}

/* Random lists over an alphabet of the bytes that matter (commas, SP, HTAB, token and non-token
   characters), in up to four lines with other headers between them, against a plain split of
   what was generated. */
TEST(random_lists_against_a_plain_split)
{
    static const char alphabet[] = "ab,, \t/\"";
    uint32_t seed = 12345;
    for (int round = 0; round < 3000 && TEST_OK(); round++) {
        char lines[512], want[512];
        size_t ln = 0, wn = 0;
        int count = 0, n_lines;
        seed = seed * 1103515245u + 12345u;
        n_lines = (int)(seed >> 16) % 5;
        lines[0] = want[0] = '\0';
        for (int l = 0; l < n_lines; l++) {
            char v[16];
            seed = seed * 1103515245u + 12345u;
            size_t vn = (seed >> 16) % sizeof v;
            for (size_t i = 0; i < vn; i++) {
                seed = seed * 1103515245u + 12345u;
                v[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
            }
            ln +=
                (size_t)snprintf(lines + ln, sizeof lines - ln, "%sSec-WebSocket-Protocol:%.*s\r\n",
                                 l % 2 ? "X-Other: a, b\r\n" : "", (int)vn, v);
            /* The plain split: elements between commas, SP/HTAB trimmed, empty ones dropped. */
            for (size_t b = 0; b <= vn;) {
                size_t e = b;
                while (e < vn && v[e] != ',')
                    e++;
                size_t tb = b, te = e;
                while (tb < te && (v[tb] == ' ' || v[tb] == '\t'))
                    tb++;
                while (te > tb && (v[te - 1] == ' ' || v[te - 1] == '\t'))
                    te--;
                if (te > tb) {
                    wn += (size_t)snprintf(want + wn, sizeof want - wn, "%.*s|", (int)(te - tb),
                                           v + tb);
                    count++;
                }
                b = e + 1;
            }
        }
        char got[512];
        EXPECT_EQ_INT(elements(lines, got, sizeof got), count);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "  for \"%s\": got \"%s\", want \"%s\"\n", lines, got, want);
            EXPECT(strcmp(got, want) == 0);
        }
    }
}

/* permessage-deflate negotiation: RFC 7692 sections 5 and 7.1. */
#include "../test.h"

#include "deflate/pmd_negotiate.h"

/* Parses s, which must hold exactly one element; the copy is exactly strlen(s) bytes long, so
 * ASan sees a read past the end. */
static wsc__pmd_elem one(const char *s)
{
    wsc__pmd_elem e, extra;
    size_t n = strlen(s), pos = 0;
    char *copy = malloc(n ? n : 1);

    memset(&e, 0, sizeof e);
    if (!copy)
        abort();
    memcpy(copy, s, n);
    if (!wsc__pmd_next(copy, n, &pos, &e)) {
        e.kind = (enum wsc__pmd_kind)-1;
    } else if (wsc__pmd_next(copy, n, &pos, &extra)) {
        e.kind = (enum wsc__pmd_kind)-2;
    }
    e.text = NULL; /* points into copy */
    free(copy);
    return e;
}

static unsigned count_elems(const char *s)
{
    size_t pos = 0;
    unsigned k = 0;
    wsc__pmd_elem e;
    while (wsc__pmd_next(s, strlen(s), &pos, &e))
        k++;
    return k;
}

static bool valid_is(const char *s, bool snct, bool cnct, int smwb, int cmwb)
{
    /* smwb, cmwb: -1 absent; cmwb 0 present without a value */
    wsc__pmd_elem e = one(s);
    if (e.kind != WSC__PMD_VALID || e.why)
        return false;
    return e.params.server_no_context_takeover == snct &&
           e.params.client_no_context_takeover == cnct &&
           e.params.server_max_window_bits_present == (smwb >= 0) &&
           e.params.server_max_window_bits == (smwb >= 0 ? smwb : 0) &&
           e.params.client_max_window_bits_present == (cmwb >= 0) &&
           e.params.client_max_window_bits == (cmwb >= 0 ? cmwb : 0);
}

static bool invalid(const char *s)
{
    wsc__pmd_elem e = one(s);
    return e.kind == WSC__PMD_INVALID && e.why != NULL;
}

TEST(parse_each_parameter)
{
    CHECK(valid_is("permessage-deflate", false, false, -1, -1));
    CHECK(valid_is("permessage-deflate; server_no_context_takeover", true, false, -1, -1));
    CHECK(valid_is("permessage-deflate; client_no_context_takeover", false, true, -1, -1));
    CHECK(valid_is("permessage-deflate; server_max_window_bits=10", false, false, 10, -1));
    CHECK(valid_is("permessage-deflate; client_max_window_bits=12", false, false, -1, 12));
    CHECK(valid_is("permessage-deflate; client_max_window_bits", false, false, -1, 0));
    CHECK(valid_is("permessage-deflate; client_max_window_bits; server_no_context_takeover; "
                   "client_no_context_takeover; server_max_window_bits=9",
                   true, true, 9, 0));
}

TEST(parse_every_window_size)
{
    char buf[96];
    for (int b = 0; b <= 20; b++) {
        snprintf(buf, sizeof buf, "permessage-deflate; server_max_window_bits=%d", b);
        if (b >= 8 && b <= 15)
            CHECK(valid_is(buf, false, false, b, -1));
        else
            CHECK(invalid(buf));
        snprintf(buf, sizeof buf, "permessage-deflate; client_max_window_bits=%d", b);
        if (b >= 8 && b <= 15)
            CHECK(valid_is(buf, false, false, -1, b));
        else
            CHECK(invalid(buf));
        snprintf(buf, sizeof buf, "permessage-deflate; client_max_window_bits=\"%d\"", b);
        if (b >= 8 && b <= 15)
            CHECK(valid_is(buf, false, false, -1, b));
        else
            CHECK(invalid(buf));
    }
}

TEST(parse_bad_values)
{
    static const char *const bad[] = {
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=+9",
        "permessage-deflate; server_max_window_bits=-9",
        "permessage-deflate; server_max_window_bits=9a",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=1 0",
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; server_max_window_bits=\"1 0\"",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage-deflate; server_max_window_bits=\"10\"x",
        "permessage-deflate; server_max_window_bits=100000000000000000010",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=\"\"",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover=\"\"",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; unknown",
        "permessage-deflate; x=1",
        "permessage-deflate; Server_No_Context_Takeover",
        "permessage-deflate; server_no_context_takeover;",
        "permessage-deflate;",
        "permessage-deflate; ; server_no_context_takeover",
        "permessage-deflate server_no_context_takeover",
        "permessage-deflate; =10",
        "permessage-deflate; server_max_window_bits==10",
        "permessage-deflate; server_max_window_bits=10=10",
        "permessage-deflate; \"server_no_context_takeover\"",
        "permessage-deflate; server_max_window_bits=\x01",
        "permessage-deflate\x7f",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!invalid(bad[i]))
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        CHECK(invalid(bad[i]));
    }
}

TEST(parse_duplicates)
{
    CHECK(invalid("permessage-deflate; server_no_context_takeover; server_no_context_takeover"));
    CHECK(invalid("permessage-deflate; client_no_context_takeover; client_no_context_takeover"));
    CHECK(invalid("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"));
    CHECK(invalid("permessage-deflate; client_max_window_bits; client_max_window_bits"));
    CHECK(invalid("permessage-deflate; client_max_window_bits=9; client_max_window_bits"));
    wsc__pmd_elem e =
        one("permessage-deflate; server_max_window_bits=9; server_max_window_bits=10");
    CHECK_EQ_STR(e.why, "permessage-deflate: duplicate server_max_window_bits");
}

TEST(parse_quoted_values)
{
    CHECK(valid_is("permessage-deflate; server_max_window_bits=\"10\"", false, false, 10, -1));
    CHECK(valid_is("permessage-deflate; server_max_window_bits=\"1\\0\"", false, false, 10, -1));
    CHECK(valid_is("permessage-deflate; server_max_window_bits=\"\\9\"", false, false, 9, -1));
    CHECK(valid_is("permessage-deflate; client_max_window_bits=\"15\"", false, false, -1, 15));
    /* a comma inside a quoted string does not end the element */
    CHECK(invalid("permessage-deflate; server_max_window_bits=\"1,0\""));
    CHECK_EQ_INT(count_elems("permessage-deflate; server_max_window_bits=\"1,0\", x"), 2);
    CHECK_EQ_INT(count_elems("permessage-deflate; a=\"\\\",\", x"), 2);
    /* an unterminated quote runs to the end */
    CHECK_EQ_INT(count_elems("permessage-deflate; a=\"x, permessage-deflate"), 1);
    /* quoted values of other extensions are checked for syntax too */
    CHECK_EQ_INT(one("foo; bar=\"baz\"").kind, WSC__PMD_OTHER);
    CHECK_EQ_INT(one("foo; bar=\"b z\"").kind, WSC__PMD_SYNTAX);
    CHECK_EQ_INT(one("foo; bar=\"\"").kind, WSC__PMD_SYNTAX);
}

TEST(parse_whitespace)
{
    CHECK(valid_is("  permessage-deflate  ", false, false, -1, -1));
    CHECK(valid_is("\tpermessage-deflate\t;\tserver_no_context_takeover\t", true, false, -1, -1));
    CHECK(valid_is("permessage-deflate ; server_max_window_bits = 10 ; client_max_window_bits",
                   false, false, 10, 0));
    CHECK(valid_is("permessage-deflate;server_max_window_bits=10;client_max_window_bits=9",
                   false, false, 10, 9));
    CHECK(valid_is("permessage-deflate; client_max_window_bits =\t\"11\" ", false, false, -1, 11));
    CHECK(invalid("permessage-deflate; server_max_window_bits=1 0"));
    CHECK(invalid("permessage-deflate; server_no_context_takeover client_no_context_takeover"));
    /* a space inside the name makes it another (malformed) element */
    CHECK_EQ_INT(one("permessage -deflate").kind, WSC__PMD_SYNTAX);
    CHECK_EQ_INT(one("permessage-deflat").kind, WSC__PMD_OTHER);
    CHECK_EQ_INT(one("Permessage-Deflate").kind, WSC__PMD_OTHER);
}

TEST(parse_lists)
{
    const char *v = " , x-webkit-deflate-frame; no_context_takeover,,permessage-deflate; bogus, "
                    "permessage-deflate; client_max_window_bits ,  , foo bar, ;x, "
                    "permessage-deflate ,";
    static const enum wsc__pmd_kind kinds[] = {WSC__PMD_OTHER, WSC__PMD_INVALID, WSC__PMD_VALID,
                                               WSC__PMD_SYNTAX, WSC__PMD_SYNTAX, WSC__PMD_VALID};
    static const char *const texts[] = {"x-webkit-deflate-frame; no_context_takeover",
                                        "permessage-deflate; bogus",
                                        "permessage-deflate; client_max_window_bits",
                                        "foo bar", ";x", "permessage-deflate"};
    size_t pos = 0, n = strlen(v);
    unsigned k = 0;
    wsc__pmd_elem e;
    while (wsc__pmd_next(v, n, &pos, &e)) {
        CHECK(k < 6);
        CHECK_EQ_INT(e.kind, kinds[k]);
        CHECK(e.text_len == strlen(texts[k]) && memcmp(e.text, texts[k], e.text_len) == 0);
        CHECK((e.why != NULL) == (e.kind == WSC__PMD_INVALID || e.kind == WSC__PMD_SYNTAX));
        k++;
    }
    CHECK_EQ_INT(k, 6);
    CHECK_EQ_INT(pos, n);
    CHECK(!wsc__pmd_next(v, n, &pos, &e));
    CHECK_EQ_INT(count_elems(""), 0);
    CHECK_EQ_INT(count_elems(" ,\t, "), 0);
    pos = 0;
    CHECK(!wsc__pmd_next(NULL, 0, &pos, &e));
}

static size_t fmt(const wsc__pmd_params *p, char *out)
{
    size_t n = wsc__pmd_format(p, out);
    EXPECT_EQ_INT(n, strlen(out));
    return n;
}

TEST(format_and_reparse)
{
    char out[WSC__PMD_TEXT_MAX];
    wsc__pmd_params p;
    memset(&p, 0, sizeof p);
    fmt(&p, out);
    CHECK_EQ_STR(out, "permessage-deflate");
    p.server_no_context_takeover = p.client_no_context_takeover = true;
    p.server_max_window_bits_present = p.client_max_window_bits_present = true;
    p.server_max_window_bits = p.client_max_window_bits = 15;
    CHECK_EQ_INT(fmt(&p, out), WSC__PMD_TEXT_MAX - 1);
    CHECK_EQ_STR(out, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                      "server_max_window_bits=15; client_max_window_bits=15");
    p.client_max_window_bits = 0;
    p.server_max_window_bits = 8;
    fmt(&p, out);
    CHECK_EQ_STR(out, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                      "server_max_window_bits=8; client_max_window_bits");
    /* every combination survives a round trip */
    for (unsigned m = 0; m < 16 * 9 * 10; m++) {
        wsc__pmd_params q;
        memset(&q, 0, sizeof q);
        q.server_no_context_takeover = m & 1;
        q.client_no_context_takeover = (m >> 1) & 1;
        unsigned s = (m >> 2) % 9, c = (m >> 2) / 9 % 10;
        q.server_max_window_bits_present = s > 0;
        q.server_max_window_bits = (unsigned char)(s ? 7 + s : 0);
        q.client_max_window_bits_present = c > 0;
        q.client_max_window_bits = (unsigned char)(c > 1 ? 6 + c : 0);
        fmt(&q, out);
        wsc__pmd_elem e = one(out);
        CHECK_EQ_INT(e.kind, WSC__PMD_VALID);
        CHECK(memcmp(&e.params, &q, sizeof q) == 0);
    }
}

static wsc__pmd_config cfg_of(bool snct, bool cnct, int sb, int cb)
{
    wsc__pmd_config c;
    memset(&c, 0, sizeof c);
    c.enabled = true;
    c.server_no_context_takeover = snct;
    c.client_no_context_takeover = cnct;
    c.server_max_window_bits = (unsigned char)sb;
    c.client_max_window_bits = (unsigned char)cb;
    return c;
}

/* The server's answer to offer header v under c: its text, or "" if declined. */
static const char *answer(const wsc__pmd_config *c, const char *v, wsc__pmd_agreed *ag)
{
    static char out[WSC__PMD_TEXT_MAX];
    wsc__pmd_params r;
    wsc__pmd_agreed a;
    if (!wsc__pmd_server_choose(c, v, strlen(v), &r, &a)) {
        EXPECT(!a.on);
        out[0] = '\0';
    } else {
        EXPECT(a.on);
        wsc__pmd_format(&r, out);
    }
    if (ag)
        *ag = a;
    return out;
}

TEST(server_rfc_examples)
{
    wsc__pmd_config c = cfg_of(false, false, 0, 0);
    wsc__pmd_agreed a;
    /* RFC 7692 5.1/7.1: the plain offer, accepted as is */
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a), "permessage-deflate");
    CHECK(a.on && a.server_window_bits == 15 && a.client_window_bits == 15);
    CHECK(!a.server_no_context_takeover && !a.client_no_context_takeover);
    /* RFC 7692 5.2: a first offer with a server window, a fallback without */
    CHECK_EQ_STR(answer(&c,
                        "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
                        "permessage-deflate; client_max_window_bits",
                        &a),
                 "permessage-deflate; server_max_window_bits=10");
    CHECK(a.server_window_bits == 10 && a.client_window_bits == 15);
    /* a server that cannot honour the first offer takes the second */
    c = cfg_of(false, false, 0, 10);
    CHECK_EQ_STR(answer(&c,
                        "permessage-deflate; server_max_window_bits=8, "
                        "permessage-deflate; client_max_window_bits",
                        &a),
                 "permessage-deflate; client_max_window_bits=10");
    CHECK(a.server_window_bits == 15 && a.client_window_bits == 10);
    /* RFC 7692 7.1.1.1: server_no_context_takeover offered, echoed */
    c = cfg_of(false, false, 0, 0);
    CHECK_EQ_STR(answer(&c, "permessage-deflate; server_no_context_takeover", &a),
                 "permessage-deflate; server_no_context_takeover");
    CHECK(a.server_no_context_takeover && !a.client_no_context_takeover);
    /* 7.1.1.2: the client's hint echoed, so it binds */
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_no_context_takeover", &a),
                 "permessage-deflate; client_no_context_takeover");
    CHECK(a.client_no_context_takeover);
}

TEST(server_window_rules)
{
    wsc__pmd_config c = cfg_of(false, false, 0, 0);
    wsc__pmd_agreed a;
    /* 7.1.2.1: the same or a smaller server window than offered */
    CHECK_EQ_STR(answer(&c, "permessage-deflate; server_max_window_bits=12", &a),
                 "permessage-deflate; server_max_window_bits=12");
    c = cfg_of(false, false, 11, 0);
    CHECK_EQ_STR(answer(&c, "permessage-deflate; server_max_window_bits=12", &a),
                 "permessage-deflate; server_max_window_bits=11");
    CHECK_EQ_STR(answer(&c, "permessage-deflate; server_max_window_bits=9", &a),
                 "permessage-deflate; server_max_window_bits=9");
    CHECK_EQ_INT(a.server_window_bits, 9);
    /* not offered: the server may still announce its own smaller window */
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a), "permessage-deflate; server_max_window_bits=11");
    CHECK_EQ_INT(a.server_window_bits, 11);
    /* 8 bits: zlib cannot compress with it, declined */
    CHECK_EQ_STR(answer(&c, "permessage-deflate; server_max_window_bits=8", &a), "");
    /* configured below 9 counts as 9; above 15 as 15 */
    c = cfg_of(false, false, 8, 0);
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a), "permessage-deflate; server_max_window_bits=9");
    c = cfg_of(false, false, 200, 200);
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a), "permessage-deflate");
    /* 7.1.2.2: client_max_window_bits only if offered, no larger than an offered value */
    c = cfg_of(false, false, 0, 0);
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_max_window_bits", &a), "permessage-deflate");
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_max_window_bits=10", &a),
                 "permessage-deflate; client_max_window_bits=10");
    CHECK_EQ_INT(a.client_window_bits, 10);
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_max_window_bits=8", &a),
                 "permessage-deflate; client_max_window_bits=8");
    c = cfg_of(false, false, 0, 12);
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_max_window_bits", &a),
                 "permessage-deflate; client_max_window_bits=12");
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_max_window_bits=10", &a),
                 "permessage-deflate; client_max_window_bits=10");
    CHECK_EQ_STR(answer(&c, "permessage-deflate; client_max_window_bits=14", &a),
                 "permessage-deflate; client_max_window_bits=12");
    /* a limit on the client's window needs client_max_window_bits in the offer */
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a), "");
    CHECK(!a.on);
}

TEST(server_config_flags_and_declines)
{
    wsc__pmd_config c = cfg_of(true, true, 0, 0);
    wsc__pmd_agreed a;
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a),
                 "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
    CHECK(a.server_no_context_takeover && a.client_no_context_takeover);
    /* off: nothing accepted */
    c.enabled = false;
    CHECK_EQ_STR(answer(&c, "permessage-deflate", &a), "");
    CHECK_EQ_STR(answer(NULL, "permessage-deflate", &a), "");
    /* invalid offers and other extensions are skipped, not the whole header */
    c = cfg_of(false, false, 0, 0);
    CHECK_EQ_STR(answer(&c,
                        "foo, permessage-deflate; x, permessage-deflate; server_max_window_bits=7, "
                        "permessage-deflate; client_no_context_takeover=1, bar baz, "
                        "permessage-deflate; server_max_window_bits=13",
                        &a),
                 "permessage-deflate; server_max_window_bits=13");
    CHECK_EQ_STR(answer(&c, "foo, permessage-deflate; x", &a), "");
    CHECK_EQ_STR(answer(&c, "", &a), "");
}

TEST(server_several_lines)
{
    wsc__pmd_config c = cfg_of(false, false, 0, 0);
    const char *lines[] = {"x-custom", "permessage-deflate; bogus",
                           "permessage-deflate; server_no_context_takeover",
                           "permessage-deflate"};
    wsc__pmd_params r;
    wsc__pmd_agreed a;
    size_t i;
    for (i = 0; i < 4; i++)
        if (wsc__pmd_server_choose(&c, lines[i], strlen(lines[i]), &r, &a))
            break;
    CHECK_EQ_INT(i, 2);
    CHECK(r.server_no_context_takeover && a.server_no_context_takeover);
}

/* The client's check of response v against offer o: NULL if accepted, else why. */
static const char *check(const wsc__pmd_params *o, const char *v, wsc__pmd_agreed *a)
{
    const char *why = NULL;
    memset(a, 0, sizeof *a);
    if (wsc__pmd_client_check(o, v, strlen(v), a, &why) == 0) {
        EXPECT(why == NULL);
        return NULL;
    }
    EXPECT(why != NULL);
    return why ? why : "?";
}

static wsc__pmd_params offer_of(const char *v)
{
    wsc__pmd_elem e = one(v);
    EXPECT_EQ_INT(e.kind, WSC__PMD_VALID);
    return e.params;
}

TEST(client_offers)
{
    char out[WSC__PMD_TEXT_MAX];
    wsc__pmd_params o;
    wsc__pmd_config c = cfg_of(false, false, 0, 0);
    CHECK(wsc__pmd_client_offer(&c, &o));
    wsc__pmd_format(&o, out);
    CHECK_EQ_STR(out, "permessage-deflate; client_max_window_bits");
    c = cfg_of(true, true, 10, 11);
    CHECK(wsc__pmd_client_offer(&c, &o));
    wsc__pmd_format(&o, out);
    CHECK_EQ_STR(out, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                      "server_max_window_bits=10; client_max_window_bits=11");
    c = cfg_of(false, false, 3, 8);
    CHECK(wsc__pmd_client_offer(&c, &o));
    wsc__pmd_format(&o, out);
    CHECK_EQ_STR(out, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9");
    c.enabled = false;
    CHECK(!wsc__pmd_client_offer(&c, &o));
    CHECK(!wsc__pmd_client_offer(NULL, &o));
}

TEST(client_accepts)
{
    wsc__pmd_agreed a;
    wsc__pmd_params o = offer_of("permessage-deflate; client_max_window_bits");
    CHECK(check(&o, "permessage-deflate", &a) == NULL);
    CHECK(a.on && a.server_window_bits == 15 && a.client_window_bits == 15);
    CHECK(!a.server_no_context_takeover && !a.client_no_context_takeover);
    CHECK(check(&o, " permessage-deflate ; client_max_window_bits=\"10\" ", &a) == NULL);
    CHECK_EQ_INT(a.client_window_bits, 10);
    /* 7.1.1.1, 7.1.2.1: the server may add its own flags and window */
    CHECK(check(&o, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                    "server_max_window_bits=8",
                &a) == NULL);
    CHECK(a.server_no_context_takeover && a.client_no_context_takeover);
    CHECK_EQ_INT(a.server_window_bits, 8);
    /* an offered window: the same or smaller back */
    o = offer_of("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12; "
                 "client_no_context_takeover");
    CHECK(check(&o, "permessage-deflate; server_max_window_bits=10", &a) == NULL);
    CHECK(a.server_window_bits == 10 && a.client_window_bits == 12);
    CHECK(a.client_no_context_takeover); /* the client keeps its own promise */
    CHECK(check(&o, "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9", &a) ==
          NULL);
    CHECK(a.server_window_bits == 9 && a.client_window_bits == 9);
    /* an offer of 8 for the client's window accepts 8 back */
    o = offer_of("permessage-deflate; client_max_window_bits=8");
    CHECK(check(&o, "permessage-deflate; client_max_window_bits=8", &a) == NULL);
    CHECK_EQ_INT(a.client_window_bits, 8);
    /* no extension in the response: no compression */
    CHECK(check(&o, "", &a) == NULL);
    CHECK(!a.on);
    CHECK(check(NULL, " , ", &a) == NULL);
}

TEST(client_rejects)
{
    static const struct {
        const char *offer, *response, *why;
    } cases[] = {
        {"permessage-deflate", "x-webkit-deflate-frame",
         "the server accepted an extension the client did not offer"},
        {"permessage-deflate", "permessage-deflate, permessage-deflate",
         "the server accepted permessage-deflate more than once"},
        {"permessage-deflate", "permessage-deflate, foo",
         "the server accepted an extension the client did not offer"},
        {"permessage-deflate", "permessage-deflate; foo", "permessage-deflate: unknown parameter"},
        {"permessage-deflate", "permessage-deflate; server_no_context_takeover; "
                               "server_no_context_takeover",
         "permessage-deflate: duplicate server_no_context_takeover"},
        {"permessage-deflate", "permessage-deflate; server_max_window_bits=16",
         "permessage-deflate: server_max_window_bits needs a value from 8 to 15"},
        {"permessage-deflate", "permessage-deflate; server_max_window_bits",
         "permessage-deflate: server_max_window_bits needs a value from 8 to 15"},
        {"permessage-deflate", "permessage-deflate; client_no_context_takeover=x",
         "permessage-deflate: client_no_context_takeover takes no value"},
        {"permessage-deflate", "permessage-deflate; client_max_window_bits=10",
         "permessage-deflate: client_max_window_bits in the response was not offered"},
        {"permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits",
         "permessage-deflate: client_max_window_bits without a value in the response"},
        {"permessage-deflate; client_max_window_bits=10",
         "permessage-deflate; client_max_window_bits=11",
         "permessage-deflate: client_max_window_bits larger than offered"},
        {"permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=8",
         "permessage-deflate: client_max_window_bits=8 is too small to compress with"},
        {"permessage-deflate; server_max_window_bits=10", "permessage-deflate",
         "permessage-deflate: server_max_window_bits offered but not in the response"},
        {"permessage-deflate; server_max_window_bits=10",
         "permessage-deflate; server_max_window_bits=11",
         "permessage-deflate: server_max_window_bits larger than offered"},
        {"permessage-deflate; server_no_context_takeover", "permessage-deflate",
         "permessage-deflate: server_no_context_takeover offered but not in the response"},
        {"permessage-deflate", "permessage-deflate; server_max_window_bits=\"10",
         "malformed Sec-WebSocket-Extensions: a parameter value is not a token"},
        {"permessage-deflate", "permessage-deflate x",
         "malformed Sec-WebSocket-Extensions: expected ';' or ','"},
        {"permessage-deflate", "\"permessage-deflate\"",
         "malformed Sec-WebSocket-Extensions: an element does not start with a token"},
    };
    wsc__pmd_agreed a;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wsc__pmd_params o = offer_of(cases[i].offer);
        const char *why = check(&o, cases[i].response, &a);
        if (!why || strcmp(why, cases[i].why) != 0)
            fprintf(stderr, "  case %zu: %s -> %s\n", i, cases[i].response, why ? why : "accepted");
        CHECK_EQ_STR(why, cases[i].why);
    }
    /* nothing offered: any extension fails */
    CHECK_EQ_STR(check(NULL, "permessage-deflate", &a),
                 "the server accepted an extension the client did not offer");
}

TEST(client_several_lines)
{
    wsc__pmd_params o = offer_of("permessage-deflate; client_max_window_bits");
    wsc__pmd_agreed a;
    const char *why = NULL;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(wsc__pmd_client_check(&o, "", 0, &a, &why), 0);
    CHECK_EQ_INT(wsc__pmd_client_check(&o, "permessage-deflate", 18, &a, &why), 0);
    CHECK(a.on);
    CHECK_EQ_INT(wsc__pmd_client_check(&o, "permessage-deflate", 18, &a, &why), -1);
    CHECK_EQ_STR(why, "the server accepted permessage-deflate more than once");
}

/* Every client configuration against every server configuration: whatever the server answers,
 * the client accepts, and both agree on the same parameters. */
TEST(round_trip_all_configs)
{
    static const int bits[] = {0, 8, 9, 10, 12, 14, 15};
    enum { NB = sizeof bits / sizeof bits[0] };
    unsigned accepted = 0, declined = 0;
    for (unsigned m = 0; m < 16u * NB * NB * NB * NB; m++) {
        unsigned x = m >> 4;
        wsc__pmd_config cc = cfg_of(m & 1, (m >> 1) & 1, bits[x % NB], bits[x / NB % NB]);
        wsc__pmd_config sc = cfg_of((m >> 2) & 1, (m >> 3) & 1, bits[x / NB / NB % NB],
                                    bits[x / NB / NB / NB % NB]);
        wsc__pmd_params o, r;
        wsc__pmd_agreed sa, ca;
        char otext[WSC__PMD_TEXT_MAX], rtext[WSC__PMD_TEXT_MAX];
        const char *why = NULL;
        CHECK(wsc__pmd_client_offer(&cc, &o));
        wsc__pmd_format(&o, otext);
        if (!wsc__pmd_server_choose(&sc, otext, strlen(otext), &r, &sa)) {
            declined++;
            continue;
        }
        accepted++;
        wsc__pmd_format(&r, rtext);
        memset(&ca, 0, sizeof ca);
        if (wsc__pmd_client_check(&o, rtext, strlen(rtext), &ca, &why) != 0)
            fprintf(stderr, "  %s -> %s: %s\n", otext, rtext, why);
        CHECK(why == NULL);
        CHECK(memcmp(&ca, &sa, sizeof ca) == 0);
        CHECK(ca.server_window_bits >= 9 && ca.client_window_bits >= 9);
        /* the server keeps within its own limits */
        CHECK(sa.server_window_bits <= (sc.server_max_window_bits ? sc.server_max_window_bits : 15) ||
              sc.server_max_window_bits < 9);
        CHECK(sa.client_window_bits <= (sc.client_max_window_bits ? sc.client_max_window_bits : 15) ||
              sc.client_max_window_bits < 9);
        CHECK(!sc.server_no_context_takeover || sa.server_no_context_takeover);
        CHECK(!cc.server_no_context_takeover || sa.server_no_context_takeover);
    }
    CHECK(accepted > 0 && declined == 0);
}

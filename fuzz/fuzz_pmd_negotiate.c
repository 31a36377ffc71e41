/* libFuzzer target: permessage-deflate negotiation (Sec-WebSocket-Extensions parsing, the
 * server's choice and response, the client's check).
 *
 * Input: byte 0 holds flags (bits 0-1 the server's no_context_takeover settings, bits 2-3 the
 * client's), bytes 1-4 the window bits of the server config (server, client direction) and of
 * the client config. The rest is an offer header value, then optionally a 0 byte and a response
 * header value.
 *
 * Invariants: parsing is deterministic and stays inside the value; every element is trimmed and
 * non-empty; a valid element formats and parses back to the same parameters; whatever the server
 * answers to an offer, the client that sent that offer accepts, and both agree on the same
 * parameters; the response holds only what the RFC lets a server answer to that offer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deflate/pmd_negotiate.h"
#include "fuzz_util.h"

enum { MAX_ELEMS = 64 };

/* data[0..n) in an allocation of exactly n bytes (1 when n is 0), so ASan sees any read past the
 * end; the first byte is set even when n is 0, which keeps gcc's uninitialized-use analysis quiet. */
static char *exact_copy(const void *data, size_t n)
{
    char *p = malloc(n ? n : 1);

    if (!p)
        abort();
    p[0] = '\0';
    if (n)
        memcpy(p, data, n);
    return p;
}

static bool bits_ok(unsigned b)
{
    return b >= WSC__PMD_BITS_MIN && b <= WSC__PMD_BITS_MAX;
}

static void check_params(const wsc__pmd_params *p, bool client_bits_may_lack_value)
{
    ASSERT(p->server_max_window_bits_present ? bits_ok(p->server_max_window_bits)
                                             : p->server_max_window_bits == 0);
    if (p->client_max_window_bits_present)
        ASSERT(bits_ok(p->client_max_window_bits) ||
               (client_bits_may_lack_value && p->client_max_window_bits == 0));
    else
        ASSERT(p->client_max_window_bits == 0);
}

static void check_agreed(const wsc__pmd_agreed *a)
{
    if (a->on)
        ASSERT(bits_ok(a->server_window_bits) && bits_ok(a->client_window_bits));
}

/* Parses v[0..n) and checks each element; returns the element count (capped at MAX_ELEMS). */
static size_t parse_all(const char *v, size_t n, wsc__pmd_elem *out)
{
    size_t pos = 0, k = 0, last_end = 0;
    wsc__pmd_elem e;

    while (wsc__pmd_next(v, n, &pos, &e)) {
        ASSERT(pos <= n && pos > last_end);
        ASSERT(e.text >= v + last_end && e.text_len > 0 && e.text + e.text_len <= v + pos);
        ASSERT(e.text[0] != ' ' && e.text[0] != '\t' && e.text[0] != ',');
        ASSERT(e.text[e.text_len - 1] != ' ' && e.text[e.text_len - 1] != '\t');
        ASSERT((e.why == NULL) == (e.kind == WSC__PMD_OTHER || e.kind == WSC__PMD_VALID));
        if (e.kind == WSC__PMD_VALID) {
            check_params(&e.params, true);
            char text[WSC__PMD_TEXT_MAX];
            size_t tn = wsc__pmd_format(&e.params, text), p2 = 0;
            wsc__pmd_elem back, none;
            ASSERT(tn == strlen(text) && tn < WSC__PMD_TEXT_MAX);
            ASSERT(wsc__pmd_next(text, tn, &p2, &back) && back.kind == WSC__PMD_VALID);
            ASSERT(memcmp(&back.params, &e.params, sizeof e.params) == 0);
            ASSERT(!wsc__pmd_next(text, tn, &p2, &none));
        }
        last_end = pos;
        if (k < MAX_ELEMS)
            out[k] = e;
        k++;
    }
    ASSERT(pos == n);
    return k < MAX_ELEMS ? k : MAX_ELEMS;
}

static void check_server(const wsc__pmd_config *sc, const char *v, size_t n,
                         const wsc__pmd_elem *elems, size_t count)
{
    wsc__pmd_params r, r2;
    wsc__pmd_agreed sa, sa2, ca;
    bool ok = wsc__pmd_server_choose(sc, v, n, &r, &sa);
    const wsc__pmd_elem *chosen = NULL;

    ASSERT(ok == sa.on);
    ASSERT(wsc__pmd_server_choose(sc, v, n, &r2, &sa2) == ok);
    ASSERT(memcmp(&r, &r2, sizeof r) == 0 && memcmp(&sa, &sa2, sizeof sa) == 0);
    for (size_t i = 0; i < count && !chosen; i++)
        if (elems[i].kind == WSC__PMD_VALID &&
            wsc__pmd_server_accept(sc, &elems[i].params, &r2, &sa2))
            chosen = &elems[i];
    if (!ok) {
        ASSERT(!chosen);
        return;
    }
    if (!chosen) /* the accepted offer lies past the elements kept */
        return;
    ASSERT(memcmp(&r, &r2, sizeof r) == 0 && memcmp(&sa, &sa2, sizeof sa) == 0);
    check_params(&r, false);
    check_agreed(&sa);
    const wsc__pmd_params *o = &chosen->params;
    /* RFC 7692 7.1: what a response may hold for this offer */
    ASSERT(!r.client_max_window_bits_present || o->client_max_window_bits_present);
    ASSERT(!o->client_max_window_bits || !r.client_max_window_bits_present ||
           r.client_max_window_bits <= o->client_max_window_bits);
    ASSERT(!o->server_max_window_bits_present ||
           (r.server_max_window_bits_present &&
            r.server_max_window_bits <= o->server_max_window_bits));
    ASSERT(!o->server_no_context_takeover || r.server_no_context_takeover);
    ASSERT(sa.server_window_bits >= WSC__PMD_DEFLATE_BITS_MIN);

    char text[WSC__PMD_TEXT_MAX];
    size_t tn = wsc__pmd_format(&r, text);
    char *exact = exact_copy(text, tn);
    const char *why = NULL;
    memset(&ca, 0, sizeof ca);
    ASSERT(wsc__pmd_client_check(o, exact, tn, &ca, &why) == 0 && why == NULL);
    ASSERT(memcmp(&ca, &sa, sizeof ca) == 0);
    /* a second line with the same answer is a second acceptance */
    ASSERT(wsc__pmd_client_check(o, exact, tn, &ca, &why) == -1 && why != NULL);
    free(exact);
}

static void check_client(const wsc__pmd_params *o, const char *v, size_t n)
{
    wsc__pmd_agreed a, b;
    const char *why = NULL, *why2 = NULL;
    int rc, rc2;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    rc = wsc__pmd_client_check(o, v, n, &a, &why);
    rc2 = wsc__pmd_client_check(o, v, n, &b, &why2);
    ASSERT(rc == rc2 && why == why2);
    ASSERT(rc == 0 ? why == NULL : (rc == -1 && why != NULL));
    if (rc == 0) {
        ASSERT(memcmp(&a, &b, sizeof a) == 0);
        check_agreed(&a);
        ASSERT(!a.on || o);
        if (a.on && o && o->client_max_window_bits)
            ASSERT(a.client_window_bits <= o->client_max_window_bits);
        if (a.on && o && o->server_max_window_bits_present)
            ASSERT(a.server_window_bits <= o->server_max_window_bits);
        if (a.on && o && o->client_no_context_takeover)
            ASSERT(a.client_no_context_takeover);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wsc__pmd_elem e1[MAX_ELEMS], e2[MAX_ELEMS];
    wsc__pmd_config sc, cc;
    wsc__pmd_params offer;

    if (size < 5)
        return 0;
    memset(&sc, 0, sizeof sc);
    memset(&cc, 0, sizeof cc);
    sc.enabled = cc.enabled = true;
    sc.server_no_context_takeover = data[0] & 1;
    sc.client_no_context_takeover = (data[0] >> 1) & 1;
    cc.server_no_context_takeover = (data[0] >> 2) & 1;
    cc.client_no_context_takeover = (data[0] >> 3) & 1;
    sc.server_max_window_bits = (unsigned char)(data[1] % 17);
    sc.client_max_window_bits = (unsigned char)(data[2] % 17);
    cc.server_max_window_bits = (unsigned char)(data[3] % 17);
    cc.client_max_window_bits = (unsigned char)(data[4] % 17);
    data += 5;
    size -= 5;

    const uint8_t *zero = memchr(data, 0, size);
    size_t on = zero ? (size_t)(zero - data) : size;
    char *v = exact_copy(data, on);

    /* parse twice, once from a second copy: the same elements at the same offsets */
    size_t c1 = parse_all(v, on, e1);
    char *v2 = exact_copy(data, on);
    size_t c2 = parse_all(v2, on, e2);
    ASSERT(c1 == c2);
    for (size_t i = 0; i < c1; i++) {
        ASSERT(e1[i].kind == e2[i].kind && e1[i].why == e2[i].why);
        ASSERT(e1[i].text - v == e2[i].text - v2 && e1[i].text_len == e2[i].text_len);
        ASSERT(memcmp(&e1[i].params, &e2[i].params, sizeof e1[i].params) == 0);
    }
    free(v2);

    check_server(&sc, v, on, e1, c1);

    /* the client's own offer, parsed back, answered by the server, checked by the client */
    ASSERT(wsc__pmd_client_offer(&cc, &offer));
    {
        char text[WSC__PMD_TEXT_MAX];
        size_t tn = wsc__pmd_format(&offer, text);
        wsc__pmd_elem oe[MAX_ELEMS];
        ASSERT(parse_all(text, tn, oe) == 1 && oe[0].kind == WSC__PMD_VALID);
        check_server(&sc, text, tn, oe, 1);
    }

    if (zero) {
        size_t rn = size - on - 1;
        char *r = exact_copy(zero + 1, rn);
        check_client(&offer, r, rn);
        check_client(NULL, r, rn);
        for (size_t i = 0; i < c1 && i < 4; i++)
            if (e1[i].kind == WSC__PMD_VALID)
                check_client(&e1[i].params, r, rn);
        free(r);
    }
    free(v);
    return 0;
}

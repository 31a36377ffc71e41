/* permessage-deflate negotiation: RFC 7692 sections 5 and 7.1, over the extension header grammar
 * of RFC 6455 section 9.1. */
#include "deflate/pmd_negotiate.h"

#include <string.h>

static const char pmd_name[] = "permessage-deflate";

enum { P_SNCT, P_CNCT, P_SMWB, P_CMWB, P_COUNT };

static const char *const param_names[P_COUNT] = {
    "server_no_context_takeover",
    "client_no_context_takeover",
    "server_max_window_bits",
    "client_max_window_bits",
};

/* RFC 7692 7.1: a duplicate parameter declines the offer (or fails the response). */
static const char *const dup_why[P_COUNT] = {
    "permessage-deflate: duplicate server_no_context_takeover",
    "permessage-deflate: duplicate client_no_context_takeover",
    "permessage-deflate: duplicate server_max_window_bits",
    "permessage-deflate: duplicate client_max_window_bits",
};

static const char *const value_why[P_COUNT] = {
    "permessage-deflate: server_no_context_takeover takes no value",
    "permessage-deflate: client_no_context_takeover takes no value",
    "permessage-deflate: server_max_window_bits needs a value from 8 to 15",
    "permessage-deflate: client_max_window_bits must be 8 to 15",
};

/* RFC 9110 5.6.2: a token character is any VCHAR but the delimiters. */
static bool is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static size_t skip_ows(const char *s, size_t i, size_t e)
{
    while (i < e && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static size_t token_end(const char *s, size_t i, size_t e)
{
    while (i < e && is_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* The end of the element starting at i: the first comma outside a quoted string, or n. */
static size_t elem_end(const char *v, size_t n, size_t i)
{
    bool quoted = false;

    for (; i < n; i++) {
        if (quoted) {
            if (v[i] == '\\' && i + 1 < n)
                i++;
            else if (v[i] == '"')
                quoted = false;
        } else if (v[i] == '"') {
            quoted = true;
        } else if (v[i] == ',') {
            return i;
        }
    }
    return n;
}

/* Reads a parameter value (token or quoted-string) at s[*i..e). RFC 6455 9.1: a quoted value, once
 * unescaped, must be a token too. Keeps the first bytes of the unescaped value in val (enough to
 * recognize a window size) and its full length in *len. False if malformed. */
static bool read_value(const char *s, size_t e, size_t *i, char val[3], size_t *len)
{
    size_t k = *i, n = 0;

    if (k < e && s[k] == '"') {
        for (k++;; n++) {
            unsigned char c;
            if (k >= e)
                return false;
            c = (unsigned char)s[k++];
            if (c == '"')
                break;
            if (c == '\\') {
                if (k >= e)
                    return false;
                c = (unsigned char)s[k++];
            }
            if (!is_tchar(c))
                return false;
            if (n < 3)
                val[n] = (char)c;
        }
    } else {
        for (; k < e && is_tchar((unsigned char)s[k]); k++, n++)
            if (n < 3)
                val[n] = s[k];
    }
    if (n == 0)
        return false;
    *i = k;
    *len = n;
    return true;
}

/* RFC 7692 7.1.2: a window size is a decimal 8 to 15 without leading zeros. 0 if not. */
static unsigned char window_bits(const char *val, size_t len)
{
    if (len == 1 && (val[0] == '8' || val[0] == '9'))
        return (unsigned char)(val[0] - '0');
    if (len == 2 && val[0] == '1' && val[1] >= '0' && val[1] <= '5')
        return (unsigned char)(10 + val[1] - '0');
    return 0;
}

/* Records one permessage-deflate parameter; returns why it declines the element, or NULL. */
static const char *apply_param(wsc__pmd_params *p, unsigned *seen, const char *name, size_t nlen,
                               bool has_value, const char *val, size_t vlen)
{
    unsigned k;
    unsigned char bits = has_value ? window_bits(val, vlen) : 0;

    for (k = 0; k < P_COUNT; k++)
        if (strlen(param_names[k]) == nlen && memcmp(param_names[k], name, nlen) == 0)
            break;
    if (k == P_COUNT)
        return "permessage-deflate: unknown parameter";
    if (*seen & (1u << k))
        return dup_why[k];
    *seen |= 1u << k;
    switch (k) {
    case P_SNCT:
    case P_CNCT:
        if (has_value)
            return value_why[k];
        if (k == P_SNCT)
            p->server_no_context_takeover = true;
        else
            p->client_no_context_takeover = true;
        return NULL;
    case P_SMWB:
        if (!bits)
            return value_why[k];
        p->server_max_window_bits_present = true;
        p->server_max_window_bits = bits;
        return NULL;
    default:
        /* RFC 7692 7.1.2.2: in an offer, client_max_window_bits may come without a value. */
        if (has_value && !bits)
            return value_why[k];
        p->client_max_window_bits_present = true;
        p->client_max_window_bits = bits;
        return NULL;
    }
}

static void parse_elem(const char *s, size_t b, size_t e, wsc__pmd_elem *out)
{
    wsc__pmd_params p;
    unsigned seen = 0;
    const char *why = NULL;
    size_t i = token_end(s, b, e);
    bool pmd = i - b == sizeof pmd_name - 1 && memcmp(s + b, pmd_name, i - b) == 0;

    memset(&p, 0, sizeof p);
    if (i == b)
        why = "malformed Sec-WebSocket-Extensions: an element does not start with a token";
    while (!why) {
        size_t nb, ne;
        char val[3] = {0, 0, 0};
        size_t vlen = 0;
        bool has_value = false;

        i = skip_ows(s, i, e);
        if (i == e)
            break;
        if (s[i] != ';') {
            why = "malformed Sec-WebSocket-Extensions: expected ';' or ','";
            break;
        }
        nb = skip_ows(s, i + 1, e);
        ne = token_end(s, nb, e);
        if (ne == nb) {
            why = "malformed Sec-WebSocket-Extensions: a parameter name is not a token";
            break;
        }
        i = skip_ows(s, ne, e);
        if (i < e && s[i] == '=') {
            i = skip_ows(s, i + 1, e);
            if (!read_value(s, e, &i, val, &vlen)) {
                why = "malformed Sec-WebSocket-Extensions: a parameter value is not a token";
                break;
            }
            has_value = true;
        }
        if (pmd)
            why = apply_param(&p, &seen, s + nb, ne - nb, has_value, val, vlen);
    }
    memset(out, 0, sizeof *out);
    out->text = s + b;
    out->text_len = e - b;
    out->why = why;
    if (why)
        out->kind = pmd ? WSC__PMD_INVALID : WSC__PMD_SYNTAX;
    else if (pmd) {
        out->kind = WSC__PMD_VALID;
        out->params = p;
    } else
        out->kind = WSC__PMD_OTHER;
}

bool wsc__pmd_next(const char *v, size_t n, size_t *pos, wsc__pmd_elem *e)
{
    size_t i = *pos;

    if (!v)
        return false;
    while (i < n) {
        size_t end = elem_end(v, n, i), b = skip_ows(v, i, end), t = end;
        while (t > b && (v[t - 1] == ' ' || v[t - 1] == '\t'))
            t--;
        i = end < n ? end + 1 : n;
        /* RFC 9110 5.6.1: empty list elements are ignored. */
        if (t > b) {
            *pos = i;
            parse_elem(v, b, t, e);
            return true;
        }
    }
    *pos = n;
    return false;
}

static size_t put(char *out, size_t n, const char *s)
{
    size_t l = strlen(s);
    memcpy(out + n, s, l);
    return n + l;
}

static size_t put_bits(char *out, size_t n, unsigned bits)
{
    if (bits < WSC__PMD_BITS_MIN)
        bits = WSC__PMD_BITS_MIN;
    if (bits > WSC__PMD_BITS_MAX)
        bits = WSC__PMD_BITS_MAX;
    out[n++] = '=';
    if (bits >= 10)
        out[n++] = '1';
    out[n++] = (char)('0' + bits % 10);
    return n;
}

size_t wsc__pmd_format(const wsc__pmd_params *p, char out[WSC__PMD_TEXT_MAX])
{
    size_t n = put(out, 0, pmd_name);

    if (p->server_no_context_takeover)
        n = put(out, n, "; server_no_context_takeover");
    if (p->client_no_context_takeover)
        n = put(out, n, "; client_no_context_takeover");
    if (p->server_max_window_bits_present)
        n = put_bits(out, put(out, n, "; server_max_window_bits"), p->server_max_window_bits);
    if (p->client_max_window_bits_present) {
        n = put(out, n, "; client_max_window_bits");
        if (p->client_max_window_bits)
            n = put_bits(out, n, p->client_max_window_bits);
    }
    out[n] = '\0';
    return n;
}

static unsigned char cfg_bits(unsigned char b)
{
    if (b == 0 || b > WSC__PMD_BITS_MAX)
        return WSC__PMD_BITS_MAX;
    return b < WSC__PMD_DEFLATE_BITS_MIN ? WSC__PMD_DEFLATE_BITS_MIN : b;
}

static unsigned char min_bits(unsigned char a, unsigned char b)
{
    return a < b ? a : b;
}

bool wsc__pmd_server_accept(const wsc__pmd_config *cfg, const wsc__pmd_params *offer,
                            wsc__pmd_params *response, wsc__pmd_agreed *agreed)
{
    wsc__pmd_params r;
    unsigned char sb, cb;

    memset(response, 0, sizeof *response);
    memset(agreed, 0, sizeof *agreed);
    if (!cfg || !cfg->enabled || !offer)
        return false;
    memset(&r, 0, sizeof r);
    sb = cfg_bits(cfg->server_max_window_bits);
    cb = cfg_bits(cfg->client_max_window_bits);
    /* 7.1.2.1: an offered server_max_window_bits is accepted by answering it with the same or a
       smaller value; 8 is below what zlib compresses with, so such an offer is declined. Without
       it in the offer, the server may still announce a smaller window of its own. */
    if (offer->server_max_window_bits_present) {
        if (offer->server_max_window_bits < WSC__PMD_DEFLATE_BITS_MIN)
            return false;
        r.server_max_window_bits_present = true;
        r.server_max_window_bits = min_bits(offer->server_max_window_bits, sb);
    } else if (sb < WSC__PMD_BITS_MAX) {
        r.server_max_window_bits_present = true;
        r.server_max_window_bits = sb;
    }
    /* 7.1.2.2: client_max_window_bits may be answered only if offered, with a value no larger
       than an offered one. A server that needs a smaller client window than 15 bits must decline
       an offer that does not let it say so. */
    if (offer->client_max_window_bits_present) {
        unsigned char v = offer->client_max_window_bits;
        if (v || cb < WSC__PMD_BITS_MAX) {
            r.client_max_window_bits_present = true;
            r.client_max_window_bits = v ? min_bits(v, cb) : cb;
        }
    } else if (cb < WSC__PMD_BITS_MAX) {
        return false;
    }
    /* 7.1.1.1: an offered server_no_context_takeover must be echoed; the server may add it on its
       own. 7.1.1.2: client_no_context_takeover may always be sent; echoing the client's hint makes
       it binding, so the server may drop its inflate state between messages. */
    r.server_no_context_takeover = offer->server_no_context_takeover || cfg->server_no_context_takeover;
    r.client_no_context_takeover = offer->client_no_context_takeover || cfg->client_no_context_takeover;
    *response = r;
    agreed->on = true;
    agreed->server_no_context_takeover = r.server_no_context_takeover;
    agreed->client_no_context_takeover = r.client_no_context_takeover;
    agreed->server_window_bits = r.server_max_window_bits_present ? r.server_max_window_bits
                                                                   : (unsigned char)WSC__PMD_BITS_MAX;
    agreed->client_window_bits = r.client_max_window_bits_present ? r.client_max_window_bits
                                                                   : (unsigned char)WSC__PMD_BITS_MAX;
    return true;
}

bool wsc__pmd_server_choose(const wsc__pmd_config *cfg, const char *v, size_t n,
                            wsc__pmd_params *response, wsc__pmd_agreed *agreed)
{
    size_t pos = 0;
    wsc__pmd_elem e;

    memset(response, 0, sizeof *response);
    memset(agreed, 0, sizeof *agreed);
    while (wsc__pmd_next(v, n, &pos, &e))
        if (e.kind == WSC__PMD_VALID && wsc__pmd_server_accept(cfg, &e.params, response, agreed))
            return true;
    return false;
}

bool wsc__pmd_client_offer(const wsc__pmd_config *cfg, wsc__pmd_params *offer)
{
    unsigned char sb, cb;

    memset(offer, 0, sizeof *offer);
    if (!cfg || !cfg->enabled)
        return false;
    sb = cfg_bits(cfg->server_max_window_bits);
    cb = cfg_bits(cfg->client_max_window_bits);
    offer->server_no_context_takeover = cfg->server_no_context_takeover;
    offer->client_no_context_takeover = cfg->client_no_context_takeover;
    if (sb < WSC__PMD_BITS_MAX) {
        offer->server_max_window_bits_present = true;
        offer->server_max_window_bits = sb;
    }
    offer->client_max_window_bits_present = true;
    offer->client_max_window_bits = cb < WSC__PMD_BITS_MAX ? cb : 0;
    return true;
}

/* RFC 7692 7.1: the client fails the connection on a response it cannot accept. */
static const char *check_response(const wsc__pmd_params *o, const wsc__pmd_params *r,
                                  wsc__pmd_agreed *agreed)
{
    unsigned char cbits = WSC__PMD_BITS_MAX;

    if (r->client_max_window_bits_present) {
        unsigned char v = r->client_max_window_bits;
        if (!o->client_max_window_bits_present)
            return "permessage-deflate: client_max_window_bits in the response was not offered";
        if (!v)
            return "permessage-deflate: client_max_window_bits without a value in the response";
        if (o->client_max_window_bits && v > o->client_max_window_bits)
            return "permessage-deflate: client_max_window_bits larger than offered";
        if (v < WSC__PMD_DEFLATE_BITS_MIN && v != o->client_max_window_bits)
            return "permessage-deflate: client_max_window_bits=8 is too small to compress with";
        cbits = v;
    }
    if (o->client_max_window_bits)
        cbits = min_bits(cbits, o->client_max_window_bits);
    if (o->server_max_window_bits_present) {
        if (!r->server_max_window_bits_present)
            return "permessage-deflate: server_max_window_bits offered but not in the response";
        if (r->server_max_window_bits > o->server_max_window_bits)
            return "permessage-deflate: server_max_window_bits larger than offered";
    }
    if (o->server_no_context_takeover && !r->server_no_context_takeover)
        return "permessage-deflate: server_no_context_takeover offered but not in the response";
    agreed->on = true;
    agreed->server_no_context_takeover = r->server_no_context_takeover;
    agreed->client_no_context_takeover = r->client_no_context_takeover || o->client_no_context_takeover;
    agreed->server_window_bits = r->server_max_window_bits_present
                                     ? r->server_max_window_bits
                                     : (unsigned char)WSC__PMD_BITS_MAX;
    agreed->client_window_bits = cbits;
    return NULL;
}

int wsc__pmd_client_check(const wsc__pmd_params *offer, const char *v, size_t n,
                          wsc__pmd_agreed *agreed, const char **why)
{
    size_t pos = 0;
    wsc__pmd_elem e;

    while (wsc__pmd_next(v, n, &pos, &e)) {
        const char *w;
        if (e.kind == WSC__PMD_SYNTAX)
            w = e.why;
        else if (e.kind == WSC__PMD_OTHER || !offer)
            w = "the server accepted an extension the client did not offer";
        else if (agreed->on)
            w = "the server accepted permessage-deflate more than once";
        else if (e.kind == WSC__PMD_INVALID)
            w = e.why;
        else
            w = check_response(offer, &e.params, agreed);
        if (w) {
            *why = w;
            return -1;
        }
    }
    return 0;
}

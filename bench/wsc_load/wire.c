#include "wire.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

uint64_t wire_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void wire_key_new(uint64_t *rng, char key[25], char accept[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* section 1.3 */
    uint8_t raw[16];
    uint64_t a = wire_rand(rng), b = wire_rand(rng);
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &b, 8);
    EVP_EncodeBlock((unsigned char *)key, raw, 16);

    char cat[24 + sizeof guid];
    memcpy(cat, key, 24);
    memcpy(cat + 24, guid, sizeof guid);
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned shalen = 0;
    EVP_Digest(cat, 24 + sizeof guid - 1, sha, &shalen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)accept, sha, (int)shalen);
}

size_t wire_request(char *out, size_t cap, const char *host, unsigned port, const char *path,
                    const char *key, const char *extensions)
{
    /* An IPv6 literal in Host needs brackets (RFC 3986 section 3.2.2). */
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s%s%s:%u\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "\r\n",
                     path, v6 ? "[" : "", host, v6 ? "]" : "", port, key,
                     extensions ? "Sec-WebSocket-Extensions: " : "", extensions ? extensions : "",
                     extensions ? "\r\n" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return p + i + 1;
    return NULL;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* True if the comma-separated list v holds the token tok (case-insensitive). */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (ieq(v + s, e - s, tok))
            return true;
    }
    return false;
}

long wire_response(const char *buf, size_t len, const char *accept, char *err, size_t err_cap)
{
    struct wire_pmd none = {0};
    return wire_response_pmd(buf, len, accept, &none, err, err_cap);
}

static bool contains(const char *v, size_t n, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(v + i, word, k) == 0)
            return true;
    return false;
}

long wire_response_pmd(const char *buf, size_t len, const char *accept, struct wire_pmd *pmd,
                       char *err, size_t err_cap)
{
    const char *end = find_crlfcrlf(buf, len);
    if (!end)
        return 0;
    size_t total = (size_t)(end - buf);

    /* Section 4.1: the status line must be 101; anything else fails the connection. */
    if (total < 13 || memcmp(buf, "HTTP/1.1 101", 12) != 0 || (buf[12] != ' ' && buf[12] != '\r')) {
        size_t l = 0;
        while (l < total && buf[l] != '\r' && l < 60)
            l++;
        snprintf(err, err_cap, "handshake: status line '%.*s'", (int)l, buf);
        return -1;
    }
    bool upgrade = false, connection = false, acc = false;
    const char *line = (const char *)memchr(buf, '\n', total) + 1;
    while (line < end - 2) {
        const char *eol = (const char *)memchr(line, '\n', (size_t)(end - line));
        size_t ll = (size_t)(eol - line);
        if (ll == 0 || line[ll - 1] != '\r') {
            snprintf(err, err_cap, "handshake: header line not ended by CRLF");
            return -1;
        }
        ll--;
        const char *colon = (const char *)memchr(line, ':', ll);
        if (!colon || colon == line) {
            snprintf(err, err_cap, "handshake: malformed header line");
            return -1;
        }
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vl = ll - nl - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        if (ieq(line, nl, "upgrade"))
            upgrade = ieq(v, vl, "websocket");
        else if (ieq(line, nl, "connection"))
            connection = has_token(v, vl, "upgrade");
        else if (ieq(line, nl, "sec-websocket-accept")) {
            if (vl != 28 || memcmp(v, accept, 28) != 0) {
                snprintf(err, err_cap, "handshake: Sec-WebSocket-Accept '%.*s', expected '%s'",
                         (int)(vl > 40 ? 40 : vl), v, accept);
                return -1;
            }
            acc = true;
        } else if (pmd->offered && ieq(line, nl, "sec-websocket-extensions") &&
                   contains(v, vl, "permessage-deflate") && !pmd->on) {
            pmd->on = true;
            pmd->server_nct = contains(v, vl, "server_no_context_takeover");
            pmd->client_nct = contains(v, vl, "client_no_context_takeover");
            /* It inflates with a 15-bit window, which reads any smaller server window; it offers
               no client_max_window_bits, so the server may not limit ours (RFC 7692 7.1.2.2). */
            if (contains(v, vl, "client_max_window_bits")) {
                snprintf(err, err_cap,
                         "handshake: client_max_window_bits answered, not offered: '%.*s'", (int)vl,
                         v);
                return -1;
            }
        } else if (ieq(line, nl, "sec-websocket-extensions") ||
                   ieq(line, nl, "sec-websocket-protocol")) {
            /* Section 4.1: neither was offered, so the server must not select one. */
            snprintf(err, err_cap, "handshake: server selected '%.*s' that was not offered",
                     (int)nl, line);
            return -1;
        }
        line = eol + 1;
    }
    if (!upgrade || !connection || !acc) {
        snprintf(err, err_cap, "handshake: missing or wrong %s header",
                 !upgrade      ? "Upgrade"
                 : !connection ? "Connection"
                               : "Sec-WebSocket-Accept");
        return -1;
    }
    return (long)total;
}

size_t wire_frame_header(uint8_t out[WIRE_MAX_HEADER], unsigned opcode, uint64_t len,
                         const uint8_t key[4])
{
    size_t n;
    out[0] = (uint8_t)(0x80u | opcode); /* opcode | 0x40: RSV1, a compressed message */
    if (len < 126) {
        out[1] = (uint8_t)(0x80u | len);
        n = 2;
    } else if (len <= 0xFFFF) {
        out[1] = 0x80u | 126u;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 0x80u | 127u;
        for (int i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    memcpy(out + n, key, 4);
    return n + 4;
}

static int frame_parse(const uint8_t *p, size_t n, struct wire_frame *f, char *err, size_t err_cap,
                       bool rsv1_ok);

int wire_frame_parse(const uint8_t *p, size_t n, struct wire_frame *f, char *err, size_t err_cap)
{
    return frame_parse(p, n, f, err, err_cap, false);
}

int wire_frame_parse_rsv1(const uint8_t *p, size_t n, struct wire_frame *f, char *err,
                          size_t err_cap)
{
    return frame_parse(p, n, f, err, err_cap, true);
}

static int frame_parse(const uint8_t *p, size_t n, struct wire_frame *f, char *err, size_t err_cap,
                       bool rsv1_ok)
{
    if (n < 2)
        return 0;
    f->rsv1 = (p[0] & 0x40u) != 0;
    if (p[0] & (rsv1_ok ? 0x30u : 0x70u)) {
        snprintf(err, err_cap, "frame: RSV bits set without an extension (0x%02x)", p[0]);
        return -1;
    }
    /* Section 5.1: a client closes on a masked frame from the server. */
    if (p[1] & 0x80u) {
        snprintf(err, err_cap, "frame: server frame is masked");
        return -1;
    }
    f->fin = (p[0] & 0x80u) != 0;
    f->opcode = p[0] & 0x0Fu;
    unsigned l7 = p[1] & 0x7Fu;
    if (f->opcode > OP_BINARY && (f->opcode < OP_CLOSE || f->opcode > OP_PONG)) {
        snprintf(err, err_cap, "frame: reserved opcode %u", f->opcode);
        return -1;
    }
    if (f->opcode >= OP_CLOSE && (!f->fin || l7 > 125)) {
        snprintf(err, err_cap, "frame: control frame fragmented or longer than 125");
        return -1;
    }
    if (l7 < 126) {
        f->len = l7;
        f->header_len = 2;
    } else if (l7 == 126) {
        if (n < 4)
            return 0;
        f->len = (uint64_t)p[2] << 8 | p[3];
        f->header_len = 4;
        if (f->len < 126) {
            snprintf(err, err_cap, "frame: length %llu not in its minimal encoding",
                     (unsigned long long)f->len);
            return -1;
        }
    } else {
        if (n < 10)
            return 0;
        f->len = 0;
        for (int i = 0; i < 8; i++)
            f->len = f->len << 8 | p[2 + i];
        f->header_len = 10;
        if (f->len >> 63) {
            snprintf(err, err_cap, "frame: 64-bit length with the top bit set");
            return -1;
        }
        if (f->len <= 0xFFFF) {
            snprintf(err, err_cap, "frame: length %llu not in its minimal encoding",
                     (unsigned long long)f->len);
            return -1;
        }
    }
    return 1;
}

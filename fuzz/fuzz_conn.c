/* libFuzzer target: live server connections, from the upgrade request to the close callback.
 *
 * Servers: eight in this process, each started the first time an input picks it and stopped and
 * freed at exit, so that LeakSanitizer sees all they allocated. Handlers on a pool of two threads,
 * inline on the worker, or on a thread per connection (blocking mode); with every callback set
 * ("full": client_close, client_ping and client_pong too) or only the required ones ("min"); small
 * buffers under a 4 KiB cap or the defaults under larger caps; on 127.0.0.1 (ephemeral port) or on
 * a unix socket, whose small buffers make the server's writes queue when the client stops reading.
 * Real sockets, not an in-memory transport: the event loop, partial reads and writes, half-closes
 * and resets are the ones users get.
 *
 * Input: byte 0 picks the server and how many connections (1-3) send the stream at once; bytes 1-3
 * are the script: how the handler behaves (echo each message; at message N close with a code or
 * fail; in client_close answer, close with its own code or fail; in init accept, reject with 403 or
 * silently, or accept and write from after_init), how the upgrade request looks (valid, with a
 * header line from the input, invalid in three ways, or cut short), whether the frames follow the
 * request in the same send or after its 101, whether the client reads only when it waits (with a
 * small receive window), and how it ends: a FIN once it has read all it is owed, a FIN at once, or
 * a reset. The rest is a list of operations that build what the client sends: data frames (opcode,
 * FIN, RSV bits, masking, length encoding, payload from the input or generated up to 512 KiB),
 * control frames (ping, pong, close with a code from a table or raw bytes, reserved opcodes,
 * over-long or fragmented), raw bytes, split points (a send of their own), barriers (a ping, then a
 * wait for everything the server owes so far, so that what follows arrives in a read of its own)
 * and a cut (the stream ends inside the next frame). The first four payload bytes of every message
 * the builder starts carry a unique tag, so no two messages look alike and a duplicate cannot pass
 * for the next message.
 *
 * Checks: before connecting, a reference model of RFC 6455 section 5 (framing, fragmentation,
 * masking, control frames, close payloads, UTF-8 of text, the size cap on declared lengths; written
 * apart from the library's reader, failing at the first byte that decides) runs over the frame
 * stream and the script, and says what the server must do: which messages reach the handler, which
 * pongs and close frames reach client_pong and client_close, and every frame the server sends back
 * (echoes, pongs, after_init's message, the close frame with its code and reason). Each callback
 * compares itself with the model as it runs: never a message twice, out of order, altered or beyond
 * the model's; never two callbacks of one connection at once; nothing after close, nothing before
 * accept. The client compares every frame it reads. After the end: the server closed the connection
 * once our FIN arrived; every expected message, pong and client_close came (a prefix after a
 * reset); every expected frame came when the client waited for them before its FIN (a prefix
 * otherwise: the server may drop what it queued for a peer that left); and the close callback ran
 * exactly once for an accepted connection and never for a rejected one. Every wait is bounded: a
 * server that owes something and sends nothing for 10 s is a failure, not a hung run.
 * FUZZ_CONN_TRACE=1 in the environment prints one line per connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../tests/unit/test_frame_build.h"
#include "fuzz_util.h"
#include "wsc.h"

enum {
    WAIT_MS = 10000,          /* the longest the server may take to do what it owes */
    /* Bytes a client sends in one input: the server never sends more than it got, so echoes stay
       under the smallest max_buffered (1 MiB) even when the client reads nothing until the end. */
    STREAM_MAX = (1 << 20) - 256,
    OPS_MAX = 256,            /* operations read from one input */
    RING = 64,                /* connection records; a record is reused RING inputs later */
    HDR_EXTRA_MAX = 64,       /* bytes of the input-made request header */
    ID_DIGITS = 10,           /* a connection's id in the request path, zero-padded */
};
#define ID_LIMIT 10000000000UL

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("fuzz_conn: invariant failed: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c))                                                                                  \
            fail(__VA_ARGS__);                                                                     \
    } while (0)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- growable arrays ---------------------------------------------------------------------- */

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

/* Appends n bytes (copied from d, or left for the caller when d is NULL); returns their offset. */
static size_t bytes_put(struct bytes *b, const void *d, size_t n)
{
    if (!b->p || b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        CHECK(p, "out of memory");
        b->p = p;
        b->cap = cap;
    }
    size_t off = b->len;
    if (d && n)
        memcpy(b->p + off, d, n);
    b->len += n;
    return off;
}

/* Something the server must do, in order: a message or a frame of type op with payload
   data[off..off+len) of the model, due once the server has the first `at` bytes of the frame
   stream. For client_close calls op is the code. */
struct item {
    unsigned op;
    size_t off, len, at;
};

struct items {
    struct item *v;
    size_t n, cap;
};

static void items_push(struct items *l, struct item it)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct item *v = realloc(l->v, cap * sizeof *v);
        CHECK(v, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = it;
}

/* ---- the script: how the handler and the client behave -------------------------------------- */

enum { INIT_ACCEPT, INIT_WELCOME, INIT_REJECT, INIT_SILENT };
enum { MSG_NONE, MSG_CLOSE, MSG_FAIL };
enum { CC_ANSWER, CC_OWN, CC_FAIL };
enum { REQ_VALID, REQ_EXTRA, REQ_NO_KEY, REQ_VERSION, REQ_CUT, REQ_POST };
/* How a client ends: it reads all the server owes, then sends its FIN; or it sends the FIN at
   once; or it resets the connection. After a FIN the server may drop output it had queued (the
   peer is expected to wait for the server to close first, RFC 6455 7.1.1), so only the first
   way proves that every frame came. */
enum { END_GRACEFUL, END_FIN, END_RESET };

struct script {
    bool echo, close_reason;
    unsigned init_action, msg_action, cc_action, req, end;
    unsigned close_at, close_code; /* the message (1-based; 0: none) after which msg_action acts */
};

static const char WELCOME[] = "welcome";
static const char CC_REASON[] = "cc";
static const char BYE[] = "bye";
enum { CC_CODE = 4321 };

/* ---- the reference model ------------------------------------------------------------------ */

struct model {
    struct bytes data; /* payloads of the items */
    struct items msgs; /* messages the handler gets */
    struct items pongs; /* pongs client_pong gets (full handlers) */
    struct items ccs;   /* close frames client_close gets (full handlers): op is the code */
    struct items out;   /* frames the server sends */
};

static void model_free(struct model *m)
{
    free(m->data.p);
    free(m->msgs.v);
    free(m->pongs.v);
    free(m->ccs.v);
    free(m->out.v);
    memset(m, 0, sizeof *m);
}

/* UTF-8 (RFC 3629) checked a byte at a time: the state says how many continuation bytes are due
   and the range the next one must be in, which rules out overlong forms, surrogates and code
   points past U+10FFFF at the first byte that shows them. */
struct u8 {
    unsigned need;
    uint8_t lo, hi;
};

/* The well-formed sequences (Unicode 15, table 3-7): for lead bytes first..last, the continuation
   bytes that follow and the range of the first of them (the others are 80..BF). */
static const struct {
    uint8_t first, last, need, lo, hi;
} u8_leads[] = {
    {0xC2, 0xDF, 1, 0x80, 0xBF}, {0xE0, 0xE0, 2, 0xA0, 0xBF}, {0xE1, 0xEC, 2, 0x80, 0xBF},
    {0xED, 0xED, 2, 0x80, 0x9F}, {0xEE, 0xEF, 2, 0x80, 0xBF}, {0xF0, 0xF0, 3, 0x90, 0xBF},
    {0xF1, 0xF3, 3, 0x80, 0xBF}, {0xF4, 0xF4, 3, 0x80, 0x8F},
};

static bool u8_feed(struct u8 *s, const uint8_t *p, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (s->need) {
            if (b < s->lo || b > s->hi) {
                *bad = i;
                return false;
            }
            s->need--;
            s->lo = 0x80;
            s->hi = 0xBF;
            continue;
        }
        if (b < 0x80)
            continue;
        size_t k = 0;
        while (k < sizeof u8_leads / sizeof u8_leads[0] && b > u8_leads[k].last)
            k++;
        if (k == sizeof u8_leads / sizeof u8_leads[0] || b < u8_leads[k].first) {
            *bad = i;
            return false;
        }
        s->need = u8_leads[k].need;
        s->lo = u8_leads[k].lo;
        s->hi = u8_leads[k].hi;
    }
    return true;
}

static bool utf8_ok(const uint8_t *p, size_t n)
{
    struct u8 s = {0, 0x80, 0xBF};
    size_t bad;
    return u8_feed(&s, p, n, &bad) && s.need == 0;
}

/* Codes a close frame may carry (RFC 6455 7.4, plus 1012-1014 registered with IANA since). */
static bool close_code_ok(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

enum { PH_OPEN, PH_CLOSING, PH_DONE };

struct mstate {
    struct model *m;
    const struct script *sc;
    bool full;
    int phase;
    unsigned nmsg;
};

/* The server's close frame: code 0 means an empty payload (the answer to an empty close). */
static void out_close(struct mstate *st, unsigned code, const char *reason, size_t at)
{
    size_t rl = reason ? strlen(reason) : 0;
    size_t off = st->m->data.len;
    if (code) {
        uint8_t c2[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        bytes_put(&st->m->data, c2, 2);
        bytes_put(&st->m->data, reason, rl);
    }
    items_push(&st->m->out, (struct item){8, off, st->m->data.len - off, at});
}

static void on_message_ev(struct mstate *st, unsigned op, size_t off, size_t len, size_t at)
{
    if (st->phase != PH_OPEN)
        return; /* after our close frame nothing is delivered (RFC 6455 1.4) */
    items_push(&st->m->msgs, (struct item){op, off, len, at});
    st->nmsg++;
    if (st->sc->echo)
        items_push(&st->m->out, (struct item){op, off, len, at});
    if (st->nmsg == st->sc->close_at && st->sc->msg_action != MSG_NONE) {
        if (st->sc->msg_action == MSG_CLOSE)
            out_close(st, st->sc->close_code, st->sc->close_reason ? BYE : NULL, at);
        else
            out_close(st, 1011, NULL, at);
        st->phase = PH_CLOSING;
    }
}

static void on_control_ev(struct mstate *st, unsigned op, const uint8_t *p, size_t n, size_t at)
{
    struct model *m = st->m;
    if (st->phase != PH_OPEN) {
        if (op == 8)
            st->phase = PH_DONE;
        return;
    }
    size_t off = bytes_put(&m->data, p, n);
    if (op == 9) {
        items_push(&m->out, (struct item){10, off, n, at});
    } else if (op == 10) {
        if (st->full)
            items_push(&m->pongs, (struct item){10, off, n, at});
    } else {
        unsigned code = n ? (unsigned)p[0] << 8 | p[1] : 1005;
        unsigned action = CC_ANSWER;
        if (st->full) {
            items_push(&m->ccs, (struct item){code, off + (n ? 2 : 0), n ? n - 2 : 0, at});
            action = st->sc->cc_action;
        }
        if (action == CC_OWN)
            out_close(st, CC_CODE, CC_REASON, at);
        else if (action == CC_FAIL)
            out_close(st, 1011, NULL, at);
        else
            out_close(st, code == 1005 ? 0 : code, NULL, at);
        st->phase = PH_DONE;
    }
}

static void on_error_ev(struct mstate *st, unsigned code, size_t at)
{
    if (st->phase == PH_OPEN)
        out_close(st, code, NULL, at);
    st->phase = PH_DONE;
}

/* Runs the frame stream s[0..n) (as sent: masked) through the model. max: the server's cap. */
static void model_run(struct model *m, const uint8_t *s, size_t n, uint64_t max,
                      const struct script *sc, bool full)
{
    struct mstate st = {m, sc, full, PH_OPEN, 0};
    unsigned msg_op = 0;
    uint64_t msg_decl = 0;
    struct bytes cur = {0}; /* the message being assembled */
    struct u8 u = {0, 0x80, 0xBF};
    size_t pos = 0;

    if (sc->init_action == INIT_WELCOME)
        items_push(&m->out,
                   (struct item){1, bytes_put(&m->data, WELCOME, strlen(WELCOME)), strlen(WELCOME), 0});
    while (pos < n && st.phase != PH_DONE) {
        const uint8_t *h = s + pos;
        size_t avail = n - pos;
        unsigned b0 = h[0], op = b0 & 15u;
        bool fin = b0 & 0x80u, control = op & 8u;
        bool bad = (b0 & 0x70u) != 0; /* RSV1-3: no extension was negotiated */
        if (control)
            bad = bad || op > 10 || !fin; /* 5.5: control frames are never fragmented */
        else if (op == 0)
            bad = bad || !msg_op; /* 5.4: a continuation needs a message to continue */
        else
            bad = bad || op > 2 || msg_op; /* 5.4: no new message inside a fragmented one */
        if (bad) {
            on_error_ev(&st, 1002, pos + 1);
            break;
        }
        if (avail < 2)
            break;
        if (!(h[1] & 0x80u)) { /* 5.1: a client masks every frame */
            on_error_ev(&st, 1002, pos + 2);
            break;
        }
        unsigned l7 = h[1] & 0x7fu;
        size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0, hl = 2 + ext + 4;
        if (l7 == 127 && avail >= 3 && (h[2] & 0x80u)) { /* 5.2: the top bit of a 64-bit length */
            on_error_ev(&st, 1002, pos + 3);
            break;
        }
        if (avail < 2 + ext)
            break;
        uint64_t plen = l7;
        if (ext) {
            plen = 0;
            for (size_t i = 0; i < ext; i++)
                plen = plen << 8 | h[2 + i];
        }
        if (control && plen > 125) {
            on_error_ev(&st, 1002, pos + 2 + ext);
            break;
        }
        if (!control && plen > max - (op == 0 ? msg_decl : 0)) { /* the cap, on declared lengths */
            on_error_ev(&st, 1009, pos + 2 + ext);
            break;
        }
        if (avail < hl)
            break;
        const uint8_t *key = h + hl - 4;
        if (control) {
            uint8_t p[125];
            if (avail - hl < plen)
                break;
            for (size_t i = 0; i < plen; i++)
                p[i] = h[hl + i] ^ key[i & 3];
            size_t end = pos + hl + (size_t)plen;
            if (op == 8 && plen) {
                if (plen == 1 || !close_code_ok((unsigned)p[0] << 8 | p[1])) {
                    on_error_ev(&st, 1002, end);
                    break;
                }
                if (!utf8_ok(p + 2, plen - 2)) {
                    on_error_ev(&st, 1007, end);
                    break;
                }
            }
            on_control_ev(&st, op, p, (size_t)plen, end);
            pos = end;
            continue;
        }
        size_t take = avail - hl < plen ? avail - hl : (size_t)plen;
        if (plen && !take)
            break;
        if (op != 0) {
            msg_op = op;
            msg_decl = 0;
            cur.len = 0;
            u = (struct u8){0, 0x80, 0xBF};
        }
        msg_decl += plen;
        size_t at = bytes_put(&cur, NULL, take);
        for (size_t i = 0; i < take; i++)
            cur.p[at + i] = h[hl + i] ^ key[i & 3];
        size_t badi;
        if (msg_op == 1 && !u8_feed(&u, cur.p + at, take, &badi)) {
            on_error_ev(&st, 1007, pos + hl + badi + 1);
            break;
        }
        if (take < plen)
            break;
        size_t end = pos + hl + take;
        if (fin) {
            if (msg_op == 1 && u.need) {
                on_error_ev(&st, 1007, end);
                break;
            }
            on_message_ev(&st, msg_op, bytes_put(&m->data, cur.p, cur.len), cur.len, end);
            msg_op = 0;
        }
        pos = end;
    }
    free(cur.p);
}

/* ---- building the client's stream from the input -------------------------------------------- */

struct in {
    const uint8_t *p;
    size_t n, i;
};

static unsigned get8(struct in *in)
{
    return in->i < in->n ? in->p[in->i++] : 0;
}

struct cut {
    size_t end;
    bool barrier;
};

struct build {
    struct bytes s; /* request, then frames */
    size_t req_len;
    size_t id_at; /* where the connection's id goes in the request path */
    struct cut cuts[OPS_MAX + 4];
    size_t ncuts;
    unsigned msg;   /* the builder's idea of the message in progress (0: none) */
    size_t msg_bytes;
    unsigned tags, syncs;
    bool cut_next, done;
};

static void add_cut(struct build *b, bool barrier)
{
    if (b->ncuts && b->cuts[b->ncuts - 1].end == b->s.len) {
        b->cuts[b->ncuts - 1].barrier |= barrier;
        return;
    }
    if (b->ncuts < sizeof b->cuts / sizeof b->cuts[0])
        b->cuts[b->ncuts++] = (struct cut){b->s.len, barrier};
}

/* Appends a frame; with cut_next only the first cut bytes of it, and the stream ends there. */
static void put_frame(struct build *b, struct in *in, bool fin, unsigned rsv, unsigned op,
                      unsigned keymode, int enc, const uint8_t *payload, size_t len)
{
    uint8_t hdr[14], key[4] = {0, 0, 0, 0};
    if (keymode == 1 || keymode == 2)
        for (int i = 0; i < 4; i++)
            key[i] = (uint8_t)get8(in);
    size_t hl = wt_header_enc(hdr, fin, rsv, op, keymode == 3 ? NULL : key, len, enc);
    size_t start = bytes_put(&b->s, hdr, hl);
    size_t at = bytes_put(&b->s, payload, len);
    if (keymode != 3 && (key[0] | key[1] | key[2] | key[3]))
        for (size_t i = 0; i < len; i++)
            b->s.p[at + i] ^= key[i & 3];
    if (b->cut_next) {
        b->s.len = start + get8(in) % (hl + len);
        b->done = true;
    }
}

static size_t clip_len(const struct build *b, size_t len)
{
    size_t room = STREAM_MAX - b->s.len;
    return len < room ? len : room;
}

static void op_data(struct build *b, struct in *in)
{
    unsigned f = get8(in), g = (f & 0x80) ? get8(in) : 0, l = get8(in);
    static const unsigned kinds[8] = {1, 1, 2, 2, 0, 0, 0, 3};
    unsigned op = kinds[f & 7];
    if (op == 3)
        op = 3 + (f >> 3) % 5; /* reserved data opcodes 3-7 */
    bool fin = !(f & 0x40);
    unsigned rsv = (g >> 4) & 7;
    int enc = (int)(g & 3) == 3 ? WT_LEN_64 : (int)(g & 3) == 2 ? WT_LEN_16 : WT_LEN_MIN;
    unsigned keymode = (g >> 2) & 3;
    size_t len;
    bool explicit_bytes = l < 0xF0;
    if (explicit_bytes)
        len = l;
    else
        len = (size_t)(get8(in) << 8 | get8(in)) * (1 + (l & 7));
    len = clip_len(b, len);
    uint8_t *p = malloc(len ? len : 1);
    CHECK(p, "out of memory");
    for (size_t i = 0; i < len; i++) {
        if (explicit_bytes)
            p[i] = in->i < in->n ? in->p[in->i++] : (uint8_t)'x';
        else
            p[i] = op == 2 || (op == 0 && b->msg == 2) ? (uint8_t)(i * 131 + 7)
                                                       : (uint8_t)('a' + i % 26);
    }
    /* Tags: a message the builder starts gets a number in its first four bytes (ASCII, so a text
       message stays valid UTF-8). */
    if (op == 1 || op == 2) {
        b->msg = op;
        b->msg_bytes = 0;
        b->tags++;
    }
    if ((op >= 1 && op <= 2) || (op == 0 && b->msg)) {
        for (size_t i = 0; i < len && b->msg_bytes + i < 4; i++) {
            unsigned v = b->tags;
            for (size_t k = 0; k < b->msg_bytes + i; k++)
                v /= 26;
            p[i] = (uint8_t)('A' + v % 26);
        }
        b->msg_bytes += len;
        if (fin)
            b->msg = 0;
    }
    put_frame(b, in, fin, rsv, op, keymode, enc, p, len);
    free(p);
}

static void op_control(struct build *b, struct in *in)
{
    static const unsigned codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 4000, 4999, 999,
                                     1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
    unsigned f = get8(in), g = (f & 0x80) ? get8(in) : 0, l = get8(in) % 131;
    static const unsigned kinds[4] = {9, 10, 8, 11};
    unsigned op = kinds[f & 3];
    if (op == 11)
        op = 11 + (f >> 2) % 5; /* reserved control opcodes 11-15 */
    uint8_t p[140];
    size_t n = 0;
    if (op == 8 && (f & 0x40)) {
        unsigned c = codes[get8(in) % (sizeof codes / sizeof codes[0])];
        p[n++] = (uint8_t)(c >> 8);
        p[n++] = (uint8_t)c;
        l %= 124;
    }
    while (l--)
        p[n++] = in->i < in->n ? in->p[in->i++] : (uint8_t)'x';
    int enc = (int)(g & 3) == 3 ? WT_LEN_64 : (int)(g & 3) == 2 ? WT_LEN_16 : WT_LEN_MIN;
    put_frame(b, in, !(g & 0x40), (g >> 4) & 3, op, (g >> 2) & 3, enc, p, n);
}

/* A ping the client waits for the answer to: what follows arrives in a read of its own. */
static void op_barrier(struct build *b, struct in *in)
{
    char p[16];
    int n = snprintf(p, sizeof p, "sync%u", b->syncs++);
    put_frame(b, in, true, 0, 9, 0, WT_LEN_MIN, (const uint8_t *)p, (size_t)n);
    add_cut(b, true);
}

static void build_frames(struct build *b, struct in *in)
{
    for (int k = 0; k < OPS_MAX && in->i < in->n && !b->done && b->s.len < STREAM_MAX; k++) {
        unsigned op = get8(in);
        switch (op % 16) {
        case 6:
        case 7:
        case 8:
            op_control(b, in);
            break;
        case 9: {
            unsigned n = get8(in) % 64;
            while (n--)
                bytes_put(&b->s, &(uint8_t){(uint8_t)get8(in)}, 1);
            break;
        }
        case 10:
        case 11:
            add_cut(b, false);
            break;
        case 12:
        case 13:
            op_barrier(b, in);
            break;
        case 14:
            b->cut_next = true;
            break;
        default:
            op_data(b, in);
            break;
        }
    }
    add_cut(b, false);
}

/* The upgrade request; its path (/c/ and the id) names the record the handler uses. */
static void build_request(struct build *b, struct in *in, const struct script *sc, int port)
{
    char head[512];
    const char *method = sc->req == REQ_POST ? "POST" : "GET";
    int n = snprintf(head, sizeof head,
                     "%s /c/%0*d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n%sSec-WebSocket-Version: %s\r\n",
                     method, ID_DIGITS, 0, port,
                     sc->req == REQ_NO_KEY ? "" : "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                     sc->req == REQ_VERSION ? "8" : "13");
    bytes_put(&b->s, head, (size_t)n);
    b->id_at = strlen(method) + 4;
    if (sc->req == REQ_EXTRA) {
        /* One header line of the input's bytes; no CR or LF, so where the request ends is
           known. */
        unsigned k = get8(in) % HDR_EXTRA_MAX;
        bytes_put(&b->s, "X-F", 3);
        while (k--) {
            uint8_t c = (uint8_t)get8(in);
            if (c == '\r' || c == '\n')
                c = ' ';
            bytes_put(&b->s, &c, 1);
        }
        bytes_put(&b->s, "\r\n", 2);
    }
    bytes_put(&b->s, "\r\n", 2);
    b->req_len = b->s.len;
    if (sc->req == REQ_CUT) {
        b->s.len = b->req_len = get8(in) % b->s.len;
        b->done = true;
    }
}

/* ---- servers ---------------------------------------------------------------------------------- */

struct srv_def {
    int threads;
    bool blocking, full, unix_socket;
    size_t max_message, small_size, large_size, large_pool, small_pool;
    unsigned backlog;
};

/* TCP, "full": small buffers (pooled ones too, and few large ones) under a 4 KiB cap, and on the
   pool a backlog of one, so that three connections fill it. TCP, "min": the default buffers under
   a cap of 64 KiB or more, up to what a generated payload reaches. Unix sockets: their buffers
   are small (a loopback TCP socket's grow to megabytes), so a client that stops reading soon
   makes the server's writes wait in the connection's queue. */
static const struct srv_def defs[] = {
    {2, false, true, false, 4096, 256, 1024, 2, 4, 1},
    {2, false, false, false, 256 << 10, 0, 0, 0, 0, 0},
    {WSC_THREAD_POOL_INLINE, false, true, false, 4096, 256, 1024, 2, 4, 0},
    {WSC_THREAD_POOL_INLINE, false, false, false, 0, 0, 0, 0, 0, 0},
    {0, true, true, false, 4096, 256, 1024, 2, 0, 0},
    {0, true, false, false, 1 << 20, 0, 0, 0, 0, 0},
    {2, false, true, true, 256 << 10, 0, 0, 0, 0, 0},
    {WSC_THREAD_POOL_INLINE, false, false, true, 0, 256, 1024, 2, 4, 0},
};
enum { NSERVERS = sizeof defs / sizeof defs[0] };

struct srv {
    wsc_server *s;
    pthread_t thread;
    int port;
    char path[64]; /* unix socket, or "" */
};

static struct srv srvs[NSERVERS];

/* One record per connection: what the handler saw, checked against the model as it goes. */
struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int busy;     /* a callback of the connection runs */
    unsigned long id;
    bool live;           /* from before the connect until the input is done with it */
    const struct script *sc;
    const struct model *m;
    wsc_conn *conn;
    unsigned inits, accepted, closes, msgs, pongs, ccs;
};

static struct rec recs[RING];
static unsigned long next_id;

static struct rec *enter(void *user, wsc_conn *conn, const char *what)
{
    struct rec *r = user;
    CHECK(r >= recs && r < recs + RING, "%s: a user pointer init did not set", what);
    CHECK(atomic_exchange(&r->busy, 1) == 0,
          "%s: runs while another callback of the same connection runs", what);
    pthread_mutex_lock(&r->mu);
    CHECK(r->live && r->conn == conn, "%s: for a connection that ended", what);
    CHECK(r->accepted && !r->closes, "%s: %s", what,
          r->closes ? "after the close callback" : "before init accepted");
    return r;
}

static void leave(struct rec *r)
{
    pthread_mutex_unlock(&r->mu);
    atomic_store(&r->busy, 0);
}

static bool same(const struct model *m, const struct item *e, unsigned op, const void *p, size_t n)
{
    return e->op == op && e->len == n && (!n || memcmp(m->data.p + e->off, p, n) == 0);
}

static int on_init(wsc_handshake *hs, wsc_conn *conn, void *app, void **user)
{
    (void)app;
    wsc_str path = wsc_handshake_path(hs);
    unsigned long id = 0;
    CHECK(path.len == 3 + ID_DIGITS && memcmp(path.ptr, "/c/", 3) == 0,
          "init: a request this target did not send (%.*s)", (int)path.len, path.ptr);
    for (size_t i = 3; i < path.len; i++) {
        CHECK(path.ptr[i] >= '0' && path.ptr[i] <= '9', "init: bad path");
        id = id * 10 + (unsigned long)(path.ptr[i] - '0');
    }
    struct rec *r = &recs[id % RING];
    CHECK(atomic_exchange(&r->busy, 1) == 0, "init: runs while another callback runs");
    pthread_mutex_lock(&r->mu);
    CHECK(r->live && r->id % ID_LIMIT == id, "init: for connection %lu, which ended", id);
    CHECK(r->inits == 0, "init: called twice for connection %lu", id);
    r->inits++;
    r->conn = conn;
    unsigned a = r->sc->init_action;
    if (a == INIT_ACCEPT || a == INIT_WELCOME) {
        r->accepted = 1;
        *user = r;
    }
    leave(r);
    return a == INIT_REJECT ? 403 : a == INIT_SILENT ? WSC_REJECT_SILENT : 0;
}

static int on_after_init(wsc_conn *conn, void *user, void *app)
{
    (void)app;
    struct rec *r = enter(user, conn, "after_init");
    CHECK(r->msgs == 0 && r->pongs == 0 && r->ccs == 0, "after_init: after another callback");
    if (r->sc->init_action == INIT_WELCOME) {
        int rc = wsc_conn_write_text(conn, WELCOME, strlen(WELCOME));
        CHECK(rc == 0 || r->sc->end == END_RESET, "after_init: write failed: %s", wsc_err_name(rc));
    }
    leave(r);
    return 0;
}

static int on_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    struct rec *r = enter(user, conn, "message");
    const struct model *m = r->m;
    int rc = 0;
    CHECK(r->msgs < m->msgs.n, "message %u (type %d, %zu bytes): the model expects %zu messages",
          r->msgs + 1, (int)msg->type, msg->len, m->msgs.n);
    const struct item *e = &m->msgs.v[r->msgs];
    CHECK(same(m, e, (unsigned)msg->type, msg->data, msg->len),
          "message %u: got type %d with %zu bytes (%.*s), the model says type %u with %zu (%.*s)",
          r->msgs + 1, (int)msg->type, msg->len, (int)(msg->len < 24 ? msg->len : 24),
          (const char *)msg->data, e->op, e->len, (int)(e->len < 24 ? e->len : 24),
          (const char *)m->data.p + e->off);
    CHECK(msg->arena, "message: no arena");
    r->msgs++;
    if (r->sc->echo) {
        int w = wsc_conn_write(conn, msg->type, msg->data, msg->len);
        CHECK(w == 0 || r->sc->end == END_RESET, "message: echo failed: %s", wsc_err_name(w));
    }
    if (r->msgs == r->sc->close_at && r->sc->msg_action == MSG_CLOSE) {
        int c = wsc_conn_close(conn, r->sc->close_code, r->sc->close_reason ? BYE : NULL);
        CHECK(c == 0, "message: wsc_conn_close failed: %s", wsc_err_name(c));
        c = wsc_conn_write_text(conn, "late", 4);
        CHECK(c == WSC_ECLOSED, "message: a write after close returned %s", wsc_err_name(c));
    } else if (r->msgs == r->sc->close_at && r->sc->msg_action == MSG_FAIL) {
        rc = -1;
    }
    leave(r);
    return rc;
}

static void on_close(wsc_conn *conn, void *user)
{
    struct rec *r = user;
    CHECK(r >= recs && r < recs + RING, "close: a user pointer init did not set");
    CHECK(atomic_exchange(&r->busy, 1) == 0, "close: runs while another callback runs");
    pthread_mutex_lock(&r->mu);
    CHECK(r->live && r->conn == conn && r->accepted, "close: for a connection not accepted");
    CHECK(r->closes == 0, "close: called twice");
    r->closes++;
    pthread_cond_broadcast(&r->cv);
    leave(r);
}

static int on_client_close(wsc_conn *conn, void *user, unsigned code, const uint8_t *reason,
                           size_t reason_len)
{
    struct rec *r = enter(user, conn, "client_close");
    const struct model *m = r->m;
    int rc = 0;
    CHECK(r->ccs < m->ccs.n, "client_close: not expected (code %u)", code);
    CHECK(same(m, &m->ccs.v[r->ccs], code, reason, reason_len),
          "client_close: got code %u with a %zu-byte reason, expected %u with %zu", code,
          reason_len, m->ccs.v[r->ccs].op, m->ccs.v[r->ccs].len);
    r->ccs++;
    if (r->sc->cc_action == CC_OWN) {
        int c = wsc_conn_close(conn, CC_CODE, CC_REASON);
        CHECK(c == 0, "client_close: wsc_conn_close failed: %s", wsc_err_name(c));
    } else if (r->sc->cc_action == CC_FAIL) {
        rc = -1;
    }
    leave(r);
    return rc;
}

static int on_client_ping(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    struct rec *r = enter(user, conn, "client_ping");
    int rc = wsc_conn_pong(conn, data, len);
    CHECK(rc == 0 || r->sc->end == END_RESET, "client_ping: pong failed: %s", wsc_err_name(rc));
    leave(r);
    return 0;
}

static int on_client_pong(wsc_conn *conn, void *user, const uint8_t *data, size_t len)
{
    struct rec *r = enter(user, conn, "client_pong");
    const struct model *m = r->m;
    CHECK(r->pongs < m->pongs.n && same(m, &m->pongs.v[r->pongs], 10, data, len),
          "client_pong %u (%zu bytes): not the model's next (it expects %zu)", r->pongs + 1, len,
          m->pongs.n);
    r->pongs++;
    leave(r);
    return 0;
}

static void stop_servers(void)
{
    for (int i = 0; i < NSERVERS; i++) {
        if (!srvs[i].s)
            continue;
        wsc_server_stop(srvs[i].s);
        pthread_join(srvs[i].thread, NULL);
        wsc_server_free(srvs[i].s);
        srvs[i].s = NULL;
    }
}

static void setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (int i = 0; i < RING; i++) {
        pthread_mutex_init(&recs[i].mu, NULL);
        pthread_cond_init(&recs[i].cv, &ca);
    }
    pthread_condattr_destroy(&ca);
    atexit(stop_servers);
}

static struct srv *server(unsigned k)
{
    struct srv *s = &srvs[k];
    if (s->s)
        return s;
    const struct srv_def *d = &defs[k];
    wsc_handler h = {.init = on_init,
                     .after_init = on_after_init,
                     .message = on_message,
                     .close = on_close};
    if (d->full) {
        h.client_close = on_client_close;
        h.client_ping = on_client_ping;
        h.client_pong = on_client_pong;
    }
    if (d->unix_socket)
        snprintf(s->path, sizeof s->path, "/tmp/fuzz_conn.%ld.%u.sock", (long)getpid(), k);
    wsc_server_config cfg = {.port = WSC_PORT_EPHEMERAL,
                             .unix_path = d->unix_socket ? s->path : NULL,
                             .blocking = d->blocking,
                             .max_message_size = d->max_message,
                             .thread_pool = {.count = d->threads, .backlog = d->backlog},
                             .buffers = {.small_size = d->small_size,
                                         .large_size = d->large_size,
                                         .large_pool = d->large_pool,
                                         .small_pool = d->small_pool}};
#ifdef WSC_TIMEOUT_OFF
    cfg.idle_timeout = WSC_TIMEOUT_OFF; /* no ping of the server's own in the stream */
#endif
    wsc_err err;
    s->s = wsc_server_new(&h, &cfg, &err);
    CHECK(s->s, "wsc_server_new: %s", err.message);
    int rc = wsc_server_listen_thread(s->s, NULL, &s->thread);
    CHECK(rc == 0, "wsc_server_listen_thread: %s", wsc_err_name(rc));
    s->port = d->unix_socket ? 80 : wsc_server_port(s->s);
    return s;
}

/* ---- the clients ---------------------------------------------------------------------------- */

/* One connection of an input. All of an input's connections send the same stream but for the id
   in the request path, which has a fixed width so that every offset is the same. */
struct run {
    const struct script *sc;
    const struct model *m;
    const struct build *b;
    struct rec *r;
    uint8_t *s;       /* this connection's copy of the stream */
    int fd;
    unsigned server;
    size_t sent;
    bool dead;        /* the server closed: nothing more is sent */
    struct bytes rx;  /* everything received */
    size_t head;      /* end of the HTTP response (0: not complete) */
    int status;
    size_t pos;       /* first byte of rx not parsed as a frame */
    size_t nframes;
    bool eof, closed;
};

static void parse_rx(struct run *x)
{
    if (!x->head) {
        uint8_t *e = x->rx.len >= 4 ? memmem(x->rx.p, x->rx.len, "\r\n\r\n", 4) : NULL;
        if (!e)
            return;
        x->head = (size_t)(e - x->rx.p) + 4;
        CHECK(x->head >= 12 && memcmp(x->rx.p, "HTTP/1.1 ", 9) == 0,
              "a response that is not HTTP/1.1");
        x->status = (x->rx.p[9] - '0') * 100 + (x->rx.p[10] - '0') * 10 + (x->rx.p[11] - '0');
        if (x->status == 101) {
            static const char acc[] = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";
            CHECK(memmem(x->rx.p, x->head, acc, sizeof acc - 1), "101 without the right accept key");
        }
        x->pos = x->head;
    }
    if (x->status != 101)
        return;
    const struct model *m = x->m;
    for (;;) {
        const uint8_t *h = x->rx.p + x->pos;
        size_t avail = x->rx.len - x->pos;
        if (avail < 2)
            return;
        size_t l7 = h[1] & 0x7fu, hl = l7 == 126 ? 4 : l7 == 127 ? 10 : 2;
        if (avail < hl)
            return;
        uint64_t n = l7;
        if (hl > 2) {
            n = 0;
            for (size_t i = 2; i < hl; i++)
                n = n << 8 | h[i];
        }
        if (avail - hl < n)
            return;
        unsigned op = h[0] & 15u;
        CHECK((h[0] & 0xF0u) == 0x80 && !(h[1] & 0x80u), "server frame %zu: bad header %02x %02x",
              x->nframes + 1, h[0], h[1]);
        CHECK(!x->closed, "server frame %zu (opcode %u) after its close frame", x->nframes + 1, op);
        CHECK(x->nframes < m->out.n,
              "server frame %zu (opcode %u, %zu bytes): the model expects %zu frames",
              x->nframes + 1, op, (size_t)n, m->out.n);
        const struct item *e = &m->out.v[x->nframes];
        CHECK(same(m, e, op, h + hl, (size_t)n),
              "server frame %zu: opcode %u with %zu bytes (%.*s), the model says %u with %zu (%.*s)",
              x->nframes + 1, op, (size_t)n, (int)(n < 24 ? n : 24), (const char *)h + hl, e->op,
              e->len, (int)(e->len < 24 ? e->len : 24), (const char *)m->data.p + e->off);
        x->closed = op == 8;
        x->nframes++;
        x->pos += hl + (size_t)n;
    }
}

/* Reads what is there without waiting. */
static void read_now(struct run *x)
{
    while (!x->eof) {
        bytes_put(&x->rx, NULL, 65536);
        x->rx.len -= 65536;
        ssize_t n = recv(x->fd, x->rx.p + x->rx.len, 65536, 0);
        if (n > 0) {
            x->rx.len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        x->eof = true; /* a FIN, or the reset after the server closed with our bytes unread */
    }
    x->dead = x->dead || x->eof;
    parse_rx(x);
}

/* Frames the server must have sent once it has the first `sent` bytes of the stream. */
static size_t owed(const struct run *x)
{
    size_t p = x->sent - x->b->req_len, k = 0;
    while (k < x->m->out.n && x->m->out.v[k].at <= p)
        k++;
    return k;
}

static bool settled(const struct run *x, bool response_only)
{
    if (x->eof || x->sc->req == REQ_CUT || x->sent < x->b->req_len)
        return true;
    if (!x->head)
        return false;
    return response_only || x->status != 101 || x->nframes >= owed(x);
}

/* Waits until the server sent all it owes for what it got (response_only: its response). */
static void await(struct run *x, bool response_only)
{
    int64_t end = now_ms() + WAIT_MS;
    for (;;) {
        read_now(x);
        if (settled(x, response_only))
            return;
        int64_t left = end - now_ms();
        CHECK(left > 0,
              "the server owes %s after %zu bytes and sent nothing for %d ms (got %zu of %zu frames)",
              x->head ? "frames" : "its response", x->sent, WAIT_MS, x->nframes,
              x->head ? owed(x) : 0);
        struct pollfd p = {x->fd, POLLIN, 0};
        poll(&p, 1, (int)left);
    }
}

static void client_connect(struct run *x, const struct srv *srv, bool small_window)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    memcpy(su.sun_path, srv->path, strlen(srv->path));
    x->fd = socket(srv->path[0] ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(x->fd >= 0, "socket: %s", strerror(errno));
    if (small_window) {
        /* Set before connecting, so the window the server sees is small from the start: its
           writes soon find the socket full and go through the connection's queue. */
        int sz = 4096;
        setsockopt(x->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    int rc;
    while ((rc = srv->path[0] ? connect(x->fd, (struct sockaddr *)&su, sizeof su)
                              : connect(x->fd, (struct sockaddr *)&sa, sizeof sa)) != 0 &&
           errno == EINTR) {
    }
    CHECK(rc == 0, "connect to the server: %s", strerror(errno));
    int one = 1;
    if (!srv->path[0])
        setsockopt(x->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(x->fd, F_SETFL, fcntl(x->fd, F_GETFL) | O_NONBLOCK);
}

/* Sends as much of s[sent..end) as the socket takes. */
static void send_some(struct run *x, size_t end)
{
    while (!x->dead && x->sent < end) {
        ssize_t n = send(x->fd, x->s + x->sent, end - x->sent, MSG_NOSIGNAL);
        if (n > 0) {
            x->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        x->dead = true; /* the server closed and reset */
    }
}

/* Sends the stream on every connection, chunk by chunk (a barrier waits for every connection),
   reading as it goes unless the script says the client is a slow reader, then ends each as the
   script says (after a FIN, reads until the server closes). */
static void clients_run(struct run *xs, int n, bool slow_reader)
{
    const struct build *b = xs[0].b;

    for (size_t c = 0; c < b->ncuts; c++) {
        size_t end = b->cuts[c].end;
        int64_t until = now_ms() + WAIT_MS;
        for (;;) {
            struct pollfd p[3];
            int np = 0;
            bool progress = false;
            for (int i = 0; i < n; i++) {
                size_t before = xs[i].sent;
                send_some(&xs[i], end);
                progress = progress || xs[i].sent != before;
                if (!xs[i].dead && xs[i].sent < end)
                    p[np++] = (struct pollfd){xs[i].fd, (short)(POLLOUT | (slow_reader ? 0 : POLLIN)), 0};
            }
            if (!np)
                break;
            if (progress)
                until = now_ms() + WAIT_MS;
            int64_t left = until - now_ms();
            CHECK(left > 0, "the server stopped reading (%zu of %zu bytes sent)", xs[0].sent, end);
            poll(p, (nfds_t)np, (int)left);
            for (int i = 0; i < n && !slow_reader; i++)
                read_now(&xs[i]);
        }
        for (int i = 0; i < n; i++) {
            if (!slow_reader)
                read_now(&xs[i]);
            if (b->cuts[c].barrier && !xs[i].dead)
                await(&xs[i], false);
        }
    }
    for (int i = 0; i < n; i++) {
        struct run *x = &xs[i];
        if (x->sc->end == END_RESET) {
            /* Whether init accepted must be known before the reset: the server may still read a
               request that arrived before it. */
            if (!x->dead)
                await(x, true);
            struct linger lg = {1, 0};
            setsockopt(x->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(x->fd);
            x->fd = -1;
        } else {
            if (x->sc->end == END_GRACEFUL && !x->dead)
                await(x, false);
            shutdown(x->fd, SHUT_WR);
        }
    }
    for (int i = 0; i < n; i++) {
        struct run *x = &xs[i];
        if (x->fd < 0)
            continue;
        int64_t end = now_ms() + WAIT_MS;
        for (read_now(x); !x->eof; read_now(x)) {
            int64_t left = end - now_ms();
            CHECK(left > 0, "the server did not close the connection %d ms after our FIN", WAIT_MS);
            struct pollfd p = {x->fd, POLLIN, 0};
            poll(&p, 1, (int)left);
        }
        close(x->fd);
        x->fd = -1;
    }
}

/* ---- one input ------------------------------------------------------------------------------ */

static void verdict(struct run *x)
{
    struct rec *r = x->r;
    const struct model *m = x->m;
    const struct script *sc = x->sc;
    bool known = x->head || sc->end != END_RESET; /* a reset may come before the response */

    pthread_mutex_lock(&r->mu);
    if (known) {
        if (sc->req == REQ_CUT) {
            CHECK(!x->head && r->inits == 0, "a cut request got a response or reached init");
        } else if (sc->req == REQ_NO_KEY || sc->req == REQ_VERSION || sc->req == REQ_POST) {
            CHECK(x->head && x->status >= 400 && x->status < 500 && r->inits == 0,
                  "an invalid request got status %d (init called %u times)", x->status, r->inits);
        } else if (sc->req == REQ_VALID) {
            static const int want[] = {[INIT_ACCEPT] = 101,
                                       [INIT_WELCOME] = 101,
                                       [INIT_REJECT] = 403,
                                       [INIT_SILENT] = 0};
            CHECK(r->inits == 1, "init ran %u times for a valid request", r->inits);
            CHECK(x->status == want[sc->init_action], "status %d, expected %d", x->status,
                  want[sc->init_action]);
            CHECK(sc->init_action != INIT_SILENT || x->rx.len == 0,
                  "a silent reject sent %zu bytes", x->rx.len);
        }
        CHECK((x->status == 101) == (r->accepted == 1), "status %d but init %s", x->status,
              r->accepted ? "accepted" : "did not accept");
    }
    if (r->accepted) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += WAIT_MS / 1000;
        while (!r->closes) {
            if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) != 0 && !r->closes)
                fail("the close callback did not run within %d ms of the end", WAIT_MS);
        }
    } else {
        CHECK(r->closes == 0 && r->msgs == 0, "callbacks for a connection init did not accept");
    }
    if (r->accepted && sc->end != END_RESET) {
        CHECK(r->msgs == m->msgs.n, "the handler got %u messages, the model expects %zu", r->msgs,
              m->msgs.n);
        CHECK(r->pongs == m->pongs.n, "client_pong ran %u times, the model expects %zu", r->pongs,
              m->pongs.n);
        CHECK(r->ccs == m->ccs.n, "client_close ran %u times, the model expects %zu", r->ccs,
              m->ccs.n);
    }
    if (r->accepted && sc->end == END_GRACEFUL) {
        CHECK(x->nframes == m->out.n, "the server sent %zu frames, the model expects %zu",
              x->nframes, m->out.n);
        CHECK(x->pos == x->rx.len, "%zu bytes after the server's last frame",
              x->rx.len - x->pos);
    }
    if (getenv("FUZZ_CONN_TRACE"))
        fprintf(stderr,
                "conn %lu: server %u, request %u, %zu bytes sent, status %d, init %u, "
                "messages %u/%zu, frames back %zu/%zu, pongs %u, client_close %u, close %u%s\n",
                r->id, x->server, sc->req, x->sent, x->status, r->inits, r->msgs, m->msgs.n,
                x->nframes, m->out.n, r->pongs, r->ccs, r->closes,
                sc->end == END_RESET ? ", reset" : sc->end == END_FIN ? ", FIN at once" : "");
    r->live = false;
    pthread_mutex_unlock(&r->mu);
}

static struct rec *rec_open(unsigned long id, const struct script *sc, const struct model *m)
{
    struct rec *r = &recs[id % RING];
    pthread_mutex_lock(&r->mu);
    CHECK(!r->live, "record %lu still in use", id % RING);
    r->id = id;
    r->sc = sc;
    r->m = m;
    r->conn = NULL;
    r->inits = r->accepted = r->closes = r->msgs = r->pongs = r->ccs = 0;
    atomic_store(&r->busy, 0);
    r->live = true;
    pthread_mutex_unlock(&r->mu);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned close_codes[4] = {1000, 1001, 3000, 4999};
    if (size < 4)
        return 0;
    setup();
    struct in in = {data, size, 4};
    unsigned b1 = data[1], b2 = data[2], b3 = data[3];
    unsigned k = data[0] % NSERVERS;
    int nconn = 1 + (int)(data[0] / NSERVERS) % 3;
    bool slow_reader = b3 & 0x80;
    struct script sc = {
        .echo = b1 & 1,
        .msg_action = (b1 >> 1) & 3,
        .cc_action = (b1 >> 3) & 3,
        .init_action = (b1 >> 5) < 5    ? INIT_ACCEPT
                       : (b1 >> 5) == 5 ? INIT_WELCOME
                       : (b1 >> 5) == 6 ? INIT_REJECT
                                        : INIT_SILENT,
        .close_at = b2 & 31,
        .close_code = close_codes[b2 >> 6],
        .req = (b3 & 7) < 3 ? REQ_VALID : (b3 & 7) - 2,
        .end = (b3 & 0x20) ? END_RESET : (b2 & 0x20) ? END_FIN : END_GRACEFUL,
        .close_reason = (b3 >> 6) & 1,
    };
    if (sc.msg_action == 3)
        sc.msg_action = MSG_NONE;
    if (sc.cc_action == 3)
        sc.cc_action = CC_ANSWER;

    struct srv *s = server(k);
    struct build b = {0};
    build_request(&b, &in, &sc, s->port);
    if (!b.done) {
        if (b3 & 0x08)
            add_cut(&b, (b3 & 0x10) != 0);
        build_frames(&b, &in);
    } else {
        add_cut(&b, false);
    }

    struct model m = {0};
    if (sc.req != REQ_CUT)
        model_run(&m, b.s.p + b.req_len, b.s.len - b.req_len,
                  defs[k].max_message ? defs[k].max_message : 65536, &sc, defs[k].full);

    struct run xs[3];
    for (int i = 0; i < nconn; i++) {
        unsigned long id = ++next_id;
        struct run *x = &xs[i];
        *x = (struct run){.sc = &sc, .m = &m, .b = &b, .server = k, .fd = -1};
        x->r = rec_open(id, &sc, &m);
        x->s = malloc(b.s.len ? b.s.len : 1);
        CHECK(x->s, "out of memory");
        memcpy(x->s, b.s.p, b.s.len);
        char digits[ID_DIGITS + 1];
        snprintf(digits, sizeof digits, "%0*lu", ID_DIGITS, id % ID_LIMIT);
        for (size_t d = 0; d < ID_DIGITS && b.id_at + d < b.s.len; d++)
            x->s[b.id_at + d] = (uint8_t)digits[d];
        client_connect(x, s, slow_reader);
    }
    clients_run(xs, nconn, slow_reader);
    for (int i = 0; i < nconn; i++) {
        verdict(&xs[i]);
        free(xs[i].rx.p);
        free(xs[i].s);
    }
    free(b.s.p);
    model_free(&m);
    return 0;
}

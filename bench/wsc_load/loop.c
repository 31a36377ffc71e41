/* One load thread: an epoll loop over its share of the connections.
 *
 * Per connection and wake-up it does one read (more only when the read buffer
 * came back full) and one send holding every frame it may start, so the load
 * generator's own system calls per message stay as few as the server's. The
 * echo is verified as it streams in: payload bytes are compared where they
 * land in the thread's read buffer and never copied, so only a partial frame
 * header or control frame is carried between reads. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../half_page.h"
#include "load.h"
#include "wire.h"
#include "zdeflate.h"

#define RBUF_SIZE (256u * 1024u)
#define RBUF_HEAD 160u /* room to put a carried partial frame in front of new bytes */
#define OUT_MIN 512u   /* also holds the upgrade request */
#define OUT_MAX (256u * 1024u)
#define HS_MAX 4096u     /* a 101 response larger than this is treated as a handshake failure */
#define READS_PER_WAKE 4 /* fairness: one busy socket does not starve the others */
#define SENDS_PER_WAKE 8
#define CLOSE_WAIT_NS 500000000 /* how long the closing handshake may take at the end */

/* CS_CLOSING: our close frame is sent; waiting for the server's (section 7.1.1). */
enum conn_state { CS_IDLE, CS_CONNECTING, CS_TLS, CS_HANDSHAKE, CS_OPEN, CS_CLOSING, CS_DEAD };

struct conn {
    int fd;
    void *tls;   /* --tls: the OpenSSL connection over fd */
    uint32_t id; /* global number: selects the payload pattern */
    uint8_t state;
    bool want_out;   /* EPOLLOUT is registered */
    bool gen_active; /* a message is partly in the out buffer */
    bool pong_pending;
    bool rx_in_msg; /* between the first and the final frame of an echo */
    bool rx_fin;    /* the current data frame is the message's last */
    uint8_t pong_len;
    uint8_t carry_len;
    uint8_t *out;
    uint32_t out_cap, out_head, out_tail;
    uint64_t sent, done; /* messages started, echoes completed */
    int64_t *ts;         /* start times, indexed by seq % depth */
    uint64_t gen_off;    /* payload bytes of the current message generated */
    uint8_t gen_key[4];
    uint64_t rx_left; /* payload bytes left in the current data frame */
    uint64_t rx_off;  /* payload bytes of the current echo received */
    char *hs;         /* the handshake response so far (CS_HANDSHAKE only) */
    uint32_t hs_len;
    char accept[29];
    uint8_t carry[WIRE_MAX_CONTROL];
    uint8_t pong[125];
    /* permessage-deflate (--deflate) */
    struct wire_pmd pmd; /* what the server agreed to */
    bool rx_rsv1;        /* the echo in progress is compressed */
    void *zd, *zi;       /* zlib streams, made on first use */
    uint8_t *zin;        /* the echo's payload, gathered to be inflated and checked whole */
    size_t zin_len, zin_cap;
    uint64_t rx_wire; /* bytes of the server's frames for the echo in progress */
};

struct thr {
    struct load_thread *lt;
    const struct load_opts *o;
    int ep;
    struct conn *conns;
    int64_t *ts;
    uint8_t *rbuf;
    uint64_t rng;
    unsigned next_connect, connecting;
    unsigned closing; /* connections in CS_CLOSING */
    bool ready_reported;
    bool sending;     /* phase allows new messages */
    bool counting;    /* phase RUN: completions are measured */
    int64_t deadline; /* end of the measured window (when counting) */
    void *tls_ctx;    /* --tls */
    uint8_t *plain;   /* --deflate: one message's payload (size + 1 bytes) */
    uint8_t *comp;    /* --deflate: one compressed message (comp_cap bytes) */
    size_t comp_cap;
};

/* The socket calls, through TLS with --tls. */
static ssize_t io_recv(struct conn *c, void *buf, size_t n)
{
    return c->tls ? load_tls_recv(c->tls, buf, n) : recv(c->fd, buf, n, 0);
}

static ssize_t io_send(struct conn *c, const void *buf, size_t n)
{
    return c->tls ? load_tls_send(c->tls, buf, n) : send(c->fd, buf, n, MSG_NOSIGNAL);
}

static void close_conn_fd(struct conn *c)
{
    if (c->tls)
        load_tls_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void fail(struct thr *t, struct conn *c, enum err_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct thr *t, struct conn *c, enum err_kind kind, const char *fmt, ...)
{
    struct thread_result *r = &t->lt->res;
    if (r->first_error[0] == '\0') {
        int n = snprintf(r->first_error, sizeof r->first_error, "conn %u: ", c->id);
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof r->first_error)
            vsnprintf(r->first_error + n, sizeof r->first_error - (size_t)n, fmt, ap);
        va_end(ap);
    }
    r->errors[kind]++;
    if (c->state == CS_CONNECTING || c->state == CS_TLS || c->state == CS_HANDSHAKE)
        t->connecting--;
    if (c->state == CS_CLOSING)
        t->closing--;
    close_conn_fd(c);
    c->state = CS_DEAD;
    free(c->hs);
    c->hs = NULL;
}

/* The most a compressed message of n bytes takes (stored blocks for incompressible data). */
static size_t comp_bound(uint64_t n)
{
    return (size_t)(n + n / 64 + 64);
}

/* --deflate: the whole message compressed into the out buffer, with its header (RSV1). Returns
   false when the out buffer has no room yet. */
static bool fill_compressed(struct thr *t, struct conn *c, int64_t now)
{
    const struct load_opts *o = t->o;
    if (c->out_cap - c->out_tail < WIRE_MAX_HEADER + comp_bound(o->size))
        return false;
    payload_copy(t->plain, (size_t)o->size, payload_start(c->id, c->sent), 0, NULL);
    size_t clen;
    if (zd_compress(&c->zd, t->plain, (size_t)o->size, t->comp, t->comp_cap, &clen,
                    c->pmd.client_nct) != 0) {
        fail(t, c, ERR_PROTOCOL, "deflate failed");
        return false;
    }
    uint64_t k = wire_rand(&t->rng);
    uint8_t key[4];
    memcpy(key, &k, 4);
    unsigned op = (o->text ? OP_TEXT : OP_BINARY) | 0x40u;
    size_t h = wire_frame_header(c->out + c->out_tail, op, clen, key);
    uint8_t *dst = c->out + c->out_tail + h;
    for (size_t i = 0; i < clen; i++)
        dst[i] = t->comp[i] ^ key[i & 3u];
    c->out_tail += (uint32_t)(h + clen);
    c->ts[c->sent % o->depth] = now;
    c->sent++;
    return true;
}

static void set_out(struct thr *t, struct conn *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0u),
                             .data.u64 = (uint64_t)(c - t->conns)};
    if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = on;
}

/* Appends frames to the out buffer: a pending pong first (at a frame
 * boundary, as section 5.4 allows), then the rest of the current message,
 * then new messages while fewer than depth are in flight. */
static void fill(struct thr *t, struct conn *c, int64_t now)
{
    const struct load_opts *o = t->o;
    for (;;) {
        uint32_t space = c->out_cap - c->out_tail;
        if (space < WIRE_MAX_CONTROL && c->out_head > 0) {
            memmove(c->out, c->out + c->out_head, c->out_tail - c->out_head);
            c->out_tail -= c->out_head;
            c->out_head = 0;
            space = c->out_cap - c->out_tail;
        }
        if (!c->gen_active) {
            if (c->pong_pending) {
                if (space < 6u + c->pong_len)
                    return;
                uint64_t k = wire_rand(&t->rng);
                uint8_t key[4];
                memcpy(key, &k, 4);
                size_t h = wire_frame_header(c->out + c->out_tail, OP_PONG, c->pong_len, key);
                memcpy(c->out + c->out_tail + h, c->pong, c->pong_len);
                for (unsigned i = 0; i < c->pong_len; i++)
                    c->out[c->out_tail + h + i] ^= key[i & 3u];
                c->out_tail += (uint32_t)(h + c->pong_len);
                c->pong_pending = false;
                continue;
            }
            if (!t->sending || c->sent - c->done >= o->depth || (o->idle >= 0 && c->sent))
                return;
            if (c->pmd.on) {
                if (!fill_compressed(t, c, now))
                    return;
                continue;
            }
            if (!o->raw) {
                if (space < WIRE_MAX_HEADER)
                    return;
                uint64_t k = wire_rand(&t->rng);
                memcpy(c->gen_key, &k, 4);
                c->out_tail += (uint32_t)wire_frame_header(
                    c->out + c->out_tail, o->text ? OP_TEXT : OP_BINARY, o->size, c->gen_key);
                space = c->out_cap - c->out_tail;
            }
            c->ts[c->sent % o->depth] = now;
            c->sent++;
            c->gen_off = 0;
            c->gen_active = true;
        }
        uint64_t left = o->size - c->gen_off;
        size_t n = left < space ? (size_t)left : space;
        payload_copy(c->out + c->out_tail, n, payload_start(c->id, c->sent - 1), c->gen_off,
                     o->raw ? NULL : c->gen_key);
        c->out_tail += (uint32_t)n;
        c->gen_off += n;
        if (c->gen_off < o->size)
            return; /* out buffer full */
        c->gen_active = false;
    }
}

/* Generates and sends until the socket or the credit runs out. */
static void pump(struct thr *t, struct conn *c, int64_t now)
{
    for (int round = 0; round < SENDS_PER_WAKE; round++) {
        if (c->state == CS_OPEN)
            fill(t, c, now);
        uint32_t n = c->out_tail - c->out_head;
        if (n == 0) {
            set_out(t, c, false);
            return;
        }
        ssize_t w = io_send(c, c->out + c->out_head, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fail(t, c, ERR_CLOSED, "send: %s", strerror(errno));
            return;
        }
        c->out_head += (uint32_t)w;
        if (c->out_head == c->out_tail)
            c->out_head = c->out_tail = 0;
        else
            break; /* the socket took less: wait for EPOLLOUT */
    }
    set_out(t, c, true);
}

static void complete(struct thr *t, struct conn *c, int64_t now)
{
    uint64_t seq = c->done++;
    if (t->o->idle >= 0)
        atomic_fetch_add_explicit(&t->lt->ctl->echoed, 1, memory_order_relaxed);
    if (t->counting && now < t->deadline) {
        struct thread_result *r = &t->lt->res;
        r->messages++;
        r->bytes += t->o->size;
        r->wire += c->rx_wire;
        int64_t d = now - c->ts[seq % t->o->depth];
        hist_add(&r->lat, d > 0 ? (uint64_t)d : 0);
    }
}

/* Checks n echoed payload bytes at p against the current message. */
static bool rx_payload(struct thr *t, struct conn *c, const uint8_t *p, size_t n)
{
    if (!payload_check(p, n, payload_start(c->id, c->done), c->rx_off)) {
        size_t i = 0;
        uint8_t want = 0;
        while (i < n) {
            payload_copy(&want, 1, payload_start(c->id, c->done), c->rx_off + i, NULL);
            if (p[i] != want)
                break;
            i++;
        }
        fail(t, c, ERR_VERIFY, "echo %llu differs at byte %llu: got 0x%02x, sent 0x%02x",
             (unsigned long long)c->done, (unsigned long long)(c->rx_off + i), i < n ? p[i] : 0,
             want);
        return false;
    }
    c->rx_off += n;
    return true;
}

static size_t rx_raw(struct thr *t, struct conn *c, const uint8_t *p, size_t n, int64_t now)
{
    size_t used = 0;
    while (used < n) {
        if (c->done == c->sent) {
            fail(t, c, ERR_VERIFY, "%zu bytes echoed that were never sent", n - used);
            return 0;
        }
        uint64_t want = t->o->size - c->rx_off;
        size_t take = n - used < want ? n - used : (size_t)want;
        if (!rx_payload(t, c, p + used, take))
            return 0;
        used += take;
        if (c->rx_off == t->o->size) {
            c->rx_off = 0;
            complete(t, c, now);
        }
    }
    return used;
}

static bool rx_control(struct thr *t, struct conn *c, const struct wire_frame *f, const uint8_t *pl)
{
    if (f->opcode == OP_PING) {
        /* Section 5.5.2: answer with the same payload; only the latest ping needs an answer. */
        memcpy(c->pong, pl, f->len);
        c->pong_len = (uint8_t)f->len;
        c->pong_pending = true;
        return true;
    }
    if (f->opcode == OP_PONG)
        return true;
    if (c->state == CS_CLOSING) {
        close_conn_fd(c);
        c->state = CS_DEAD;
        t->closing--;
        return false;
    }
    unsigned code = f->len >= 2 ? (unsigned)pl[0] << 8 | pl[1] : 1005u;
    fail(t, c, ERR_CLOSED, "server closed the connection (code %u, reason '%.*s')", code,
         f->len > 2 ? (int)f->len - 2 : 0, (const char *)pl + 2);
    return false;
}

/* --deflate: the echo is whole; inflated (when compressed) and checked against what was sent. */
static bool rx_compressed_done(struct thr *t, struct conn *c)
{
    const struct load_opts *o = t->o;
    const uint8_t *msg = c->zin;
    size_t len = c->zin_len;
    if (c->rx_rsv1) {
        if (zd_inflate(&c->zi, c->zin, c->zin_len, t->plain, (size_t)o->size + 1, &len,
                       c->pmd.server_nct) != 0) {
            fail(t, c, ERR_VERIFY, "echo %llu does not inflate to at most %llu bytes",
                 (unsigned long long)c->done, (unsigned long long)o->size);
            return false;
        }
        msg = t->plain;
    }
    if (len != o->size || !payload_check(msg, len, payload_start(c->id, c->done), 0)) {
        fail(t, c, ERR_VERIFY, "echo %llu differs from what was sent (%zu bytes, sent %llu)",
             (unsigned long long)c->done, len, (unsigned long long)o->size);
        return false;
    }
    return true;
}

/* Consumes frames from p[0..n). Returns the bytes consumed (the rest is a
 * partial header or control frame to carry), or SIZE_MAX after a failure. */
static size_t rx_ws(struct thr *t, struct conn *c, uint8_t *p, size_t n, int64_t now)
{
    const struct load_opts *o = t->o;
    size_t i = 0;
    while (i < n) {
        if (c->rx_left > 0) {
            size_t take = n - i < c->rx_left ? n - i : (size_t)c->rx_left;
            if (c->pmd.on) {
                memcpy(c->zin + c->zin_len, p + i, take);
                c->zin_len += take;
                c->rx_off += take;
            } else if (!rx_payload(t, c, p + i, take))
                return SIZE_MAX;
            i += take;
            c->rx_left -= take;
            if (c->rx_left > 0)
                break;
        } else {
            struct wire_frame f;
            char err[120];
            int r = c->pmd.on ? wire_frame_parse_rsv1(p + i, n - i, &f, err, sizeof err)
                              : wire_frame_parse(p + i, n - i, &f, err, sizeof err);
            if (r < 0) {
                fail(t, c, ERR_PROTOCOL, "%s", err);
                return SIZE_MAX;
            }
            if (r == 0 || (f.opcode >= OP_CLOSE && n - i < f.header_len + f.len))
                break; /* carried to the next read */
            i += f.header_len;
            if (f.opcode >= OP_CLOSE) {
                if (!rx_control(t, c, &f, p + i))
                    return SIZE_MAX;
                i += (size_t)f.len;
                continue;
            }
            if (f.opcode == OP_CONT ? !c->rx_in_msg : c->rx_in_msg) {
                fail(t, c, ERR_PROTOCOL, "%s",
                     c->rx_in_msg ? "new message inside a fragmented one"
                                  : "continuation frame outside a message");
                return SIZE_MAX;
            }
            if (f.opcode != OP_CONT) {
                if (c->done == c->sent) {
                    fail(t, c, ERR_VERIFY, "a message arrived that echoes nothing sent");
                    return SIZE_MAX;
                }
                if (f.opcode != (o->text ? OP_TEXT : OP_BINARY)) {
                    fail(t, c, ERR_VERIFY, "echo has opcode %u, sent %u", f.opcode,
                         o->text ? OP_TEXT : OP_BINARY);
                    return SIZE_MAX;
                }
                c->rx_in_msg = true;
                c->rx_rsv1 = f.rsv1;
                c->rx_wire = 0;
            } else if (f.rsv1) {
                fail(t, c, ERR_PROTOCOL, "RSV1 on a continuation frame");
                return SIZE_MAX;
            }
            c->rx_wire += f.header_len + f.len;
            /* Compressed bytes may outnumber the plain ones a little (comp_bound). */
            if (c->pmd.on ? f.len > c->zin_cap - c->zin_len : f.len > o->size - c->rx_off) {
                fail(t, c, ERR_VERIFY, "echo %llu longer than the %llu bytes sent",
                     (unsigned long long)c->done, (unsigned long long)o->size);
                return SIZE_MAX;
            }
            c->rx_left = f.len;
            c->rx_fin = f.fin;
        }
        if (c->rx_left == 0 && c->rx_fin && c->rx_in_msg && c->pmd.on) {
            if (!rx_compressed_done(t, c))
                return SIZE_MAX;
            c->rx_in_msg = false;
            c->rx_off = 0;
            c->zin_len = 0;
            complete(t, c, now);
            continue;
        }
        if (c->rx_left == 0 && c->rx_fin && c->rx_in_msg) {
            if (c->rx_off != o->size) {
                fail(t, c, ERR_VERIFY, "echo %llu has %llu bytes, sent %llu",
                     (unsigned long long)c->done, (unsigned long long)c->rx_off,
                     (unsigned long long)o->size);
                return SIZE_MAX;
            }
            c->rx_in_msg = false;
            c->rx_off = 0;
            complete(t, c, now);
        }
    }
    return i;
}

static void open_done(struct thr *t, struct conn *c)
{
    c->state = CS_OPEN;
    t->connecting--;
    t->lt->res.opened++;
    atomic_fetch_add_explicit(&t->lt->ctl->opened, 1, memory_order_relaxed);
}

/* The bytes of the 101 response, then any frames that followed it. */
static bool on_handshake_bytes(struct thr *t, struct conn *c, uint8_t *p, size_t n, size_t *used)
{
    size_t room = HS_MAX - c->hs_len;
    size_t take = n < room ? n : room;
    memcpy(c->hs + c->hs_len, p, take);
    c->hs_len += (uint32_t)take;
    char err[160];
    c->pmd = (struct wire_pmd){.offered = t->o->deflate};
    long hl = wire_response_pmd(c->hs, c->hs_len, c->accept, &c->pmd, err, sizeof err);
    if (hl < 0) {
        fail(t, c, ERR_HANDSHAKE, "%s", err);
        return false;
    }
    if (hl == 0) {
        if (c->hs_len == HS_MAX) {
            fail(t, c, ERR_HANDSHAKE, "handshake: no complete response in %u bytes", HS_MAX);
            return false;
        }
        *used = n;
        return true;
    }
    if (t->o->deflate && !c->pmd.on) {
        fail(t, c, ERR_HANDSHAKE, "handshake: the server did not accept permessage-deflate");
        return false;
    }
    /* Bytes after the header block belong to the frame stream. */
    *used = take - (c->hs_len - (size_t)hl);
    free(c->hs);
    c->hs = NULL;
    open_done(t, c);
    return true;
}

static void on_read(struct thr *t, struct conn *c, int64_t now)
{
    /* TLS: bytes decrypted but not yet taken have no event of their own: read them now. */
    for (int round = 0; round < READS_PER_WAKE || (c->tls && load_tls_pending(c->tls)); round++) {
        ssize_t r = io_recv(c, t->rbuf + RBUF_HEAD, RBUF_SIZE);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return;
            if (c->state == CS_CLOSING) {
                /* A server that drops the TCP connection instead of answering
                 * our close frame is rude, not broken: nothing is left to measure. */
                close_conn_fd(c);
                c->state = CS_DEAD;
                t->closing--;
                return;
            }
            fail(t, c, ERR_CLOSED, "%s",
                 r == 0 ? "server closed the TCP connection" : strerror(errno));
            return;
        }
        int64_t ts = round == 0 ? now : now_ns();
        uint8_t *p = t->rbuf + RBUF_HEAD;
        size_t n = (size_t)r;
        if (c->state == CS_HANDSHAKE) {
            size_t used;
            if (!on_handshake_bytes(t, c, p, n, &used))
                return;
            p += used;
            n -= used;
        }
        if ((c->state == CS_OPEN || c->state == CS_CLOSING) && n > 0) {
            if (c->carry_len) {
                p -= c->carry_len;
                memcpy(p, c->carry, c->carry_len);
                n += c->carry_len;
                c->carry_len = 0;
            }
            size_t used = t->o->raw ? rx_raw(t, c, p, n, ts) : rx_ws(t, c, p, n, ts);
            if (c->state != CS_OPEN && c->state != CS_CLOSING)
                return;
            /* What is left is shorter than a header plus a control payload (rx_ws stops only
             * there). */
            c->carry_len = (uint8_t)(n - used);
            memcpy(c->carry, p + used, n - used);
        }
        if ((size_t)r < RBUF_SIZE)
            return; /* the socket is drained: skip the read that would say EAGAIN */
    }
}

static void start_connect(struct thr *t, struct conn *c)
{
    const struct load_opts *o = t->o;
    t->connecting++;
    c->state = CS_CONNECTING;
    c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail(t, c, ERR_CONNECT, "socket: %s", strerror(errno));
        return;
    }
    int one = 1;
    /* Small frames must leave at once, as a browser's do. */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addr_len) < 0 &&
        errno != EINPROGRESS) {
        fail(t, c, ERR_CONNECT, "connect: %s", strerror(errno));
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(c - t->conns)};
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        fail(t, c, ERR_CONNECT, "epoll_ctl: %s", strerror(errno));
        return;
    }
    c->want_out = true;
}

static void on_tls(struct thr *t, struct conn *c, int64_t now);
static void send_request(struct thr *t, struct conn *c, int64_t now);

static void on_connected(struct thr *t, struct conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        fail(t, c, ERR_CONNECT, "connect: %s", strerror(err));
        return;
    }
    if (t->o->raw) {
        open_done(t, c);
        set_out(t, c, false);
        return;
    }
    if (t->o->tls) {
        if (!(c->tls = load_tls_new(t->tls_ctx, c->fd, t->o->host))) {
            fail(t, c, ERR_CONNECT, "TLS: out of memory");
            return;
        }
        c->state = CS_TLS;
        on_tls(t, c, now);
        return;
    }
    send_request(t, c, now);
}

/* Runs the TLS handshake as the socket allows; then the upgrade request. */
static void on_tls(struct thr *t, struct conn *c, int64_t now)
{
    int r = load_tls_handshake(c->tls);
    if (r < 0) {
        fail(t, c, ERR_HANDSHAKE, "TLS handshake failed");
        return;
    }
    if (r == 1)
        send_request(t, c, now);
    else
        set_out(t, c, r == 2); /* level-triggered: watch for room only when it is wanted */
}

static void send_request(struct thr *t, struct conn *c, int64_t now)
{
    char key[25];
    wire_key_new(&t->rng, key, c->accept);
    const char *ext = !t->o->deflate     ? NULL
                      : t->o->deflate_nt ? "permessage-deflate; server_no_context_takeover; "
                                           "client_no_context_takeover"
                                         : "permessage-deflate";
    size_t n =
        wire_request((char *)c->out, c->out_cap, t->o->host, t->o->port, t->o->path, key, ext);
    c->hs = malloc(HS_MAX);
    if (n == 0 || !c->hs) {
        fail(t, c, ERR_HANDSHAKE, "request does not fit (path too long?) or out of memory");
        return;
    }
    c->hs_len = 0;
    c->out_head = 0;
    c->out_tail = (uint32_t)n;
    c->state = CS_HANDSHAKE;
    pump(t, c, now);
}

static void start_connects(struct thr *t)
{
    while (t->connecting < t->o->max_connecting && t->next_connect < t->lt->nconns)
        start_connect(t, &t->conns[t->next_connect++]);
}

/* Called once when the main thread ends the connect phase: what is not open by then has failed. */
static void end_connect_phase(struct thr *t)
{
    for (unsigned i = 0; i < t->lt->nconns; i++) {
        struct conn *c = &t->conns[i];
        if (c->state == CS_IDLE || c->state == CS_CONNECTING || c->state == CS_TLS ||
            c->state == CS_HANDSHAKE)
            fail(t, c, ERR_CONNECT, "not connected within the connect timeout");
    }
}

/* At the end, every connection that is between frames gets a close frame
 * (1000) and a short while to answer it, so the servers see a clean end, as
 * from a browser tab that is closed; the others are cut. */
static void begin_close(struct thr *t)
{
    static const uint8_t code[2] = {0x03, 0xE8};
    for (unsigned i = 0; i < t->lt->nconns; i++) {
        struct conn *c = &t->conns[i];
        if (c->state != CS_OPEN)
            continue;
        bool clean = !t->o->raw && !c->gen_active && c->out_head == c->out_tail;
        if (clean) {
            uint8_t f[WIRE_MAX_HEADER + 2], key[4];
            uint64_t k = wire_rand(&t->rng);
            memcpy(key, &k, 4);
            size_t h = wire_frame_header(f, OP_CLOSE, 2, key);
            f[h] = code[0] ^ key[0];
            f[h + 1] = code[1] ^ key[1];
            clean = io_send(c, f, h + 2) == (ssize_t)(h + 2);
        }
        if (clean) {
            c->state = CS_CLOSING;
            t->closing++;
        } else {
            close_conn_fd(c);
            c->state = CS_DEAD;
        }
    }
}

static int setup(struct thr *t, struct load_thread *lt)
{
    const struct load_opts *o = lt->opts;
    t->lt = lt;
    t->o = o;
    t->rng = lt->seed | 1u;
    t->ep = epoll_create1(EPOLL_CLOEXEC);
    uint64_t frame = (o->deflate ? comp_bound(o->size) : o->size) + WIRE_MAX_HEADER;
    uint64_t cap = frame * o->depth;
    if (cap < OUT_MIN)
        cap = OUT_MIN;
    if (cap > OUT_MAX)
        cap = OUT_MAX;
    t->conns = calloc(lt->nconns ? lt->nconns : 1, sizeof *t->conns);
    t->ts = calloc((size_t)lt->nconns * o->depth + 1, sizeof *t->ts);
    t->rbuf = half_page_alloc(RBUF_HEAD + RBUF_SIZE);
    if (t->ep < 0 || !t->conns || !t->ts || !t->rbuf)
        return -1;
    if (o->tls && !(t->tls_ctx = load_tls_ctx_new()))
        return -1;
    if (o->deflate) {
        t->comp_cap = comp_bound(o->size);
        t->plain = malloc((size_t)o->size + 1);
        t->comp = malloc(t->comp_cap);
        if (!t->plain || !t->comp)
            return -1;
    }
    for (unsigned i = 0; i < lt->nconns; i++) {
        struct conn *c = &t->conns[i];
        c->fd = -1;
        c->id = lt->first_conn + i;
        c->ts = t->ts + (size_t)i * o->depth;
        c->out_cap = (uint32_t)cap;
        c->out = half_page_alloc(cap);
        if (!c->out)
            return -1;
        if (o->deflate) {
            c->zin_cap = comp_bound(o->size);
            if (!(c->zin = malloc(c->zin_cap)))
                return -1;
        }
    }
    return 0;
}

static void teardown(struct thr *t)
{
    for (unsigned i = 0; t->conns && i < t->lt->nconns; i++) {
        struct conn *c = &t->conns[i];
        close_conn_fd(c);
        half_page_free(c->out);
        free(c->hs);
        free(c->zin);
        zd_free(&c->zd, &c->zi);
    }
    free(t->conns);
    free(t->ts);
    free(t->plain);
    free(t->comp);
    half_page_free(t->rbuf);
    if (t->tls_ctx)
        load_tls_ctx_free(t->tls_ctx);
    if (t->ep >= 0)
        close(t->ep);
}

void *load_thread_main(void *arg)
{
    struct load_thread *lt = arg;
    struct run_ctl *ctl = lt->ctl;
    struct thr t;
    memset(&t, 0, sizeof t);
    t.ep = -1;
    if (setup(&t, lt) < 0) {
        snprintf(lt->res.first_error, sizeof lt->res.first_error, "out of memory or epoll failure");
        lt->res.errors[ERR_CONNECT] += lt->nconns;
        atomic_fetch_add(&ctl->ready, 1);
        teardown(&t);
        return NULL;
    }
    int seen = PHASE_CONNECT;
    int64_t close_deadline = 0;
    start_connects(&t);
    struct epoll_event evs[512];
    for (;;) {
        int phase = atomic_load_explicit(&ctl->phase, memory_order_acquire);
        int64_t now = now_ns();
        if (phase != seen) {
            if (seen == PHASE_CONNECT)
                end_connect_phase(&t);
            seen = phase;
            if (phase == PHASE_STOP) {
                t.sending = t.counting = false;
                begin_close(&t);
                close_deadline = now + CLOSE_WAIT_NS;
                continue;
            }
            /* Idle with compression: one echo each first, so that the memory a compressed
               connection keeps after a message (its context takeover state) is counted. */
            t.sending = lt->opts->idle < 0 || lt->opts->deflate;
            if (phase == PHASE_RUN && lt->opts->idle < 0) {
                t.counting = true;
                t.deadline = ctl->run_start_ns + (int64_t)(lt->opts->seconds * 1e9);
            }
            for (unsigned i = 0; i < lt->nconns; i++)
                if (t.conns[i].state == CS_OPEN)
                    pump(&t, &t.conns[i], now);
        }
        if (phase == PHASE_STOP && (t.closing == 0 || now >= close_deadline))
            break;
        if (phase == PHASE_CONNECT && !t.ready_reported && t.connecting == 0 &&
            t.next_connect == lt->nconns) {
            t.ready_reported = true;
            atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_release);
        }
        /* The main thread moves the phase on; a short wait notices it promptly. */
        int timeout = 20;
        if (t.counting) {
            int64_t left = (t.deadline - now) / 1000000 + 1;
            timeout = left < 1 ? 1 : left < 20 ? (int)left : 20;
        }
        int n = epoll_wait(t.ep, evs, 512, timeout);
        if (n < 0 && errno != EINTR)
            break;
        now = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = &t.conns[evs[i].data.u64];
            uint32_t e = evs[i].events;
            if (c->state == CS_CONNECTING) {
                on_connected(&t, c, now);
                continue;
            }
            if (c->state == CS_TLS) {
                on_tls(&t, c, now);
                continue;
            }
            if (c->state == CS_DEAD || c->state == CS_IDLE)
                continue;
            if (c->state == CS_CLOSING) {
                on_read(&t, c, now);
                continue;
            }
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_read(&t, c, now);
            if (c->state == CS_OPEN || c->state == CS_HANDSHAKE)
                pump(&t, c, now);
        }
        if (phase == PHASE_CONNECT)
            start_connects(&t);
    }
    teardown(&t);
    return NULL;
}

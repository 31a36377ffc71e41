/* A raw WebSocket client for the server's integration tests, with its own minimal framing so that it
 * can send what a correct client never would (unmasked frames, reserved opcodes, RSV bits, oversized
 * control frames, invalid UTF-8, bad close codes), plus starting and stopping a server in a thread.
 *
 * Everything is bounded: every wait takes a timeout (poll on a non-blocking socket against a
 * monotonic deadline), and a watchdog alarm ends a test program that hangs anyway, so a hung server
 * is a failed test, never a stuck run. Header-only: every function is static inline so a test file
 * that does not use one gets no warning. Real sockets on 127.0.0.1 only. */
#ifndef WSC_TESTS_WS_TEST_CLIENT_H
#define WSC_TESTS_WS_TEST_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test_frame_build.h"
#include "wsc.h"

/* ---- time ---------------------------------------------------------------------------------- */

static inline int64_t wt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void wt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits until *v == want, up to timeout_ms. */
static inline bool wt_wait_int(atomic_int *v, int want, int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    while (atomic_load(v) != want) {
        if (wt_now_ms() >= end)
            return false;
        wt_sleep_ms(2);
    }
    return true;
}

/* Waits until *v >= want, up to timeout_ms. */
static inline bool wt_wait_at_least(atomic_int *v, int want, int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    while (atomic_load(v) < want) {
        if (wt_now_ms() >= end)
            return false;
        wt_sleep_ms(2);
    }
    return true;
}

#ifndef WT_WATCHDOG_SECONDS
#define WT_WATCHDOG_SECONDS 300
#endif

static void wt_watchdog_fired(int sig)
{
    static const char msg[] = "watchdog: the test program hung; giving up\n0 passed, 1 failed\n";
    (void)sig;
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {
    }
    _exit(3);
}

__attribute__((constructor)) static void wt_watchdog_arm(void)
{
    signal(SIGALRM, wt_watchdog_fired);
    alarm(WT_WATCHDOG_SECONDS);
}

/* ---- the client --------------------------------------------------------------------------- */

enum {
    WT_TIMEOUT = -1, /* nothing (more) arrived in time */
    WT_EOF = -2,     /* the peer closed the TCP connection (or reset it) */
    WT_EBAD = -3,    /* the peer sent something this client cannot accept */
    WT_CLOSE = -4    /* a close frame arrived where a message was expected */
};

typedef struct wt_client {
    int fd;
    uint8_t *buf; /* received bytes not consumed yet */
    size_t len, cap;
    uint32_t mask_state;
    unsigned close_code; /* the last close frame read (1005 when empty) */
    char close_reason[128];
    int pings_seen, pongs_seen;
} wt_client;

static inline void wt_init(wt_client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->mask_state = 0x9e3779b9u;
}

/* Connects to 127.0.0.1:port (blocking connect, then non-blocking with TCP_NODELAY). rcvbuf > 0
 * fixes the receive buffer (no autotuning): a peer that does not read then holds at most that much
 * of what the server sends. 0 or -1. */
static inline int wt_connect_rcvbuf(wt_client *c, int port, int rcvbuf)
{
    struct sockaddr_in sa;
    int one = 1;

    wt_init(c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

static inline int wt_connect(wt_client *c, int port)
{
    return wt_connect_rcvbuf(c, port, 0);
}

static inline void wt_close(wt_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}

/* Closes with an RST instead of a FIN (SO_LINGER 0): an abrupt peer. */
static inline void wt_reset(wt_client *c)
{
    struct linger lg = {1, 0};
    if (c->fd >= 0)
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    wt_close(c);
}

static inline int wt_reserve(wt_client *c, size_t more)
{
    if (c->cap - c->len >= more)
        return 0;
    size_t cap = c->cap ? c->cap : 65536;
    while (cap - c->len < more)
        cap *= 2;
    uint8_t *p = realloc(c->buf, cap);
    if (!p)
        return -1;
    c->buf = p;
    c->cap = cap;
    return 0;
}

/* Reads what is available into buf without waiting. >0 bytes, 0 nothing, WT_EOF. */
static inline int wt_read_now(wt_client *c)
{
    if (wt_reserve(c, 65536) != 0)
        return WT_EBAD;
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    if (n > 0) {
        c->len += (size_t)n;
        return (int)n;
    }
    if (n == 0)
        return WT_EOF;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    return WT_EOF; /* ECONNRESET and friends: the connection is gone */
}

/* Waits for more bytes until the deadline. >0 bytes read, WT_TIMEOUT, WT_EOF. */
static inline int wt_fill(wt_client *c, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - wt_now_ms();
        if (left < 0)
            return WT_TIMEOUT;
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, (int)(left > 1000 ? 1000 : left));
        if (r < 0 && errno != EINTR)
            return WT_EOF;
        if (r <= 0)
            continue;
        r = wt_read_now(c);
        if (r != 0)
            return r;
    }
}

static inline void wt_consume(wt_client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Sends n bytes. With read_while_blocked, while the socket is full it keeps reading whatever the
 * server sends, so a server that echoes while a large message is still going out can never deadlock
 * the test; without, the server's answers pile up unread. 0, WT_TIMEOUT, WT_EOF (the server closed
 * or reset the connection). */
static inline int wt_send_raw_reading(wt_client *c, const void *data, size_t n, int timeout_ms,
                                      bool read_while_blocked)
{
    const uint8_t *p = data;
    int64_t end = wt_now_ms() + timeout_ms;

    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return WT_EOF;
        int64_t left = end - wt_now_ms();
        if (left < 0)
            return WT_TIMEOUT;
        struct pollfd pf = {c->fd, POLLOUT | (read_while_blocked ? POLLIN : 0), 0};
        if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) > 0 && (pf.revents & POLLIN)) {
            int r = wt_read_now(c);
            if (r == WT_EOF && n > 0) {
                /* Keep trying to write: the error (EPIPE/ECONNRESET) tells us at once. */
            }
        }
    }
    return 0;
}

static inline int wt_send_raw(wt_client *c, const void *data, size_t n, int timeout_ms)
{
    return wt_send_raw_reading(c, data, n, timeout_ms, true);
}

static inline int wt_send_str(wt_client *c, const char *s, int timeout_ms)
{
    return wt_send_raw(c, s, strlen(s), timeout_ms);
}

/* ---- HTTP handshake ------------------------------------------------------------------------ */

/* The RFC 6455 section 1.3 example key and its accept value. */
#define WT_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WT_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* Reads an HTTP response head. Returns the status code (the head, NUL-terminated, is copied into
 * head when non-NULL, and consumed from the buffer), WT_TIMEOUT or WT_EOF (nothing or a partial
 * head before the connection ended), WT_EBAD for a response that is not HTTP. */
static inline int wt_read_head(wt_client *c, int timeout_ms, char *head, size_t head_cap)
{
    int64_t end = wt_now_ms() + timeout_ms;
    for (;;) {
        for (size_t i = 0; i + 4 <= c->len; i++) {
            if (memcmp(c->buf + i, "\r\n\r\n", 4) != 0)
                continue;
            size_t hl = i + 4;
            int status = -1;
            if (hl >= 12 && memcmp(c->buf, "HTTP/1.1 ", 9) == 0)
                status = (c->buf[9] - '0') * 100 + (c->buf[10] - '0') * 10 + (c->buf[11] - '0');
            if (head && head_cap) {
                size_t n = hl < head_cap - 1 ? hl : head_cap - 1;
                memcpy(head, c->buf, n);
                head[n] = '\0';
            }
            wt_consume(c, hl);
            return status >= 100 && status <= 599 ? status : WT_EBAD;
        }
        if (c->len > 65536)
            return WT_EBAD;
        int r = wt_fill(c, end);
        if (r < 0)
            return r;
    }
}

/* Case-insensitive search for "Name: value" in a response head (value compared exactly). */
static inline bool wt_head_has(const char *head, const char *name, const char *value)
{
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = strlen(value);
            if (strncmp(v, value, vl) == 0 && (v[vl] == '\r' || v[vl] == ' '))
                return true;
        }
    }
    return false;
}

/* Sends an upgrade request for path (plus extra header lines, each ending in \r\n) and reads the
 * answer. Returns the status (101 only when Upgrade, Connection and Sec-WebSocket-Accept are right,
 * else WT_EBAD), WT_TIMEOUT or WT_EOF. */
static inline int wt_handshake_ex(wt_client *c, const char *path, const char *extra, int timeout_ms,
                                  char *head, size_t head_cap)
{
    char req[4096], local[4096];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " WT_KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, extra ? extra : "");
    if (n < 0 || (size_t)n >= sizeof req)
        return WT_EBAD;
    int r = wt_send_raw(c, req, (size_t)n, timeout_ms);
    if (r < 0)
        return r;
    if (!head) {
        head = local;
        head_cap = sizeof local;
    }
    int status = wt_read_head(c, timeout_ms, head, head_cap);
    if (status == 101 &&
        (!wt_head_has(head, "Sec-WebSocket-Accept", WT_ACCEPT) ||
         !strcasestr(head, "\r\nUpgrade: websocket") || !strcasestr(head, "\r\nConnection: Upgrade")))
        return WT_EBAD;
    return status;
}

static inline int wt_handshake(wt_client *c, const char *path)
{
    return wt_handshake_ex(c, path, NULL, 5000, NULL, 0);
}

/* Connect + handshake in one go: 0 or -1. */
static inline int wt_open(wt_client *c, int port)
{
    if (wt_connect(c, port) != 0)
        return -1;
    if (wt_handshake(c, "/") != 101) {
        wt_close(c);
        return -1;
    }
    return 0;
}

/* ---- frames ------------------------------------------------------------------------------- */

enum { WT_OP_CONT = 0, WT_OP_TEXT = 1, WT_OP_BIN = 2, WT_OP_CLOSE = 8, WT_OP_PING = 9, WT_OP_PONG = 10 };
enum { WT_RSV1 = 4, WT_RSV2 = 2, WT_RSV3 = 1 };

/* A whole masked data or control frame (FIN set, no RSV bit), as a correct client sends it. */
static inline size_t wt_masked_frame(uint8_t *out, unsigned opcode, const uint8_t key[4],
                                     const void *payload, size_t len)
{
    return wt_build_frame(out, true, 0, opcode, key, payload, len);
}

/* Sends one frame: masked (a correct client) or not (a violation), any opcode and RSV bits. */
static inline int wt_send_frame_ex(wt_client *c, bool fin, unsigned rsv, unsigned opcode, bool masked,
                                   const void *payload, size_t len, int timeout_ms)
{
    uint8_t key[4];
    uint8_t *f = malloc(14 + len);
    if (!f)
        return WT_EBAD;
    for (int i = 0; i < 4; i++) {
        c->mask_state ^= c->mask_state << 13;
        c->mask_state ^= c->mask_state >> 17;
        c->mask_state ^= c->mask_state << 5;
        key[i] = (uint8_t)c->mask_state;
    }
    size_t fl = wt_build_frame(f, fin, rsv, opcode, masked ? key : NULL, payload, len);
    int r = wt_send_raw(c, f, fl, timeout_ms);
    free(f);
    return r;
}

static inline int wt_send_frame(wt_client *c, bool fin, unsigned opcode, const void *payload, size_t len)
{
    return wt_send_frame_ex(c, fin, 0, opcode, true, payload, len, 30000);
}

static inline int wt_send_text(wt_client *c, const char *s)
{
    return wt_send_frame(c, true, WT_OP_TEXT, s, strlen(s));
}

/* A close frame with code (0: no payload) and reason. */
static inline int wt_send_close(wt_client *c, unsigned code, const char *reason)
{
    uint8_t p[125];
    size_t n = 0;
    if (code) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        n = 2;
        if (reason) {
            size_t rl = strlen(reason);
            if (rl > 123)
                rl = 123;
            memcpy(p + 2, reason, rl);
            n += rl;
        }
    }
    return wt_send_frame(c, true, WT_OP_CLOSE, p, n);
}

typedef struct wt_frame {
    bool fin, masked;
    unsigned rsv, opcode;
    uint8_t *data; /* malloc'd, NUL-terminated for convenience; free with wt_frame_free */
    size_t len;
} wt_frame;

static inline void wt_frame_free(wt_frame *f)
{
    free(f->data);
    f->data = NULL;
    f->len = 0;
}

/* Reads one frame as sent by the server. 0, WT_TIMEOUT, WT_EOF, WT_EBAD (a frame no server may
 * send: masked, or a length with the top bit set). */
static inline int wt_read_frame(wt_client *c, wt_frame *f, int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    memset(f, 0, sizeof *f);
    for (;;) {
        if (c->len >= 2) {
            size_t hl = 2;
            uint64_t len = c->buf[1] & 0x7fu;
            bool masked = (c->buf[1] & 0x80u) != 0;
            if (len == 126)
                hl = 4;
            else if (len == 127)
                hl = 10;
            if (masked)
                hl += 4;
            if (c->len >= hl) {
                if (len == 126) {
                    len = ((uint64_t)c->buf[2] << 8) | c->buf[3];
                } else if (len == 127) {
                    len = 0;
                    for (int i = 0; i < 8; i++)
                        len = (len << 8) | c->buf[2 + i];
                    if (len >> 62)
                        return WT_EBAD;
                }
                if (c->len - hl >= len) {
                    f->fin = (c->buf[0] & 0x80u) != 0;
                    f->rsv = (c->buf[0] >> 4) & 7u;
                    f->opcode = c->buf[0] & 0x0fu;
                    f->masked = masked;
                    f->len = (size_t)len;
                    f->data = malloc((size_t)len + 1);
                    if (!f->data)
                        return WT_EBAD;
                    memcpy(f->data, c->buf + hl, (size_t)len);
                    if (masked)
                        for (size_t i = 0; i < len; i++)
                            f->data[i] ^= c->buf[hl - 4 + (i & 3)];
                    f->data[len] = 0;
                    wt_consume(c, hl + (size_t)len);
                    return masked ? WT_EBAD : 0;
                }
                if (wt_reserve(c, hl + (size_t)len - c->len) != 0)
                    return WT_EBAD;
            }
        }
        int r = wt_fill(c, end);
        if (r < 0)
            return r;
    }
}

static inline void wt_note_close(wt_client *c, const wt_frame *f)
{
    c->close_code = f->len >= 2 ? (unsigned)((f->data[0] << 8) | f->data[1]) : 1005u;
    size_t rl = f->len > 2 ? f->len - 2 : 0;
    if (rl >= sizeof c->close_reason)
        rl = sizeof c->close_reason - 1;
    memcpy(c->close_reason, f->len > 2 ? f->data + 2 : (const uint8_t *)"", rl);
    c->close_reason[rl] = '\0';
}

/* Reads one complete data message (fragments assembled), skipping pings and pongs (counted).
 * Returns 0 with *type (WT_OP_TEXT/BIN), *data (malloc'd, NUL-terminated) and *len; WT_CLOSE when a
 * close frame came instead (c->close_code); WT_TIMEOUT, WT_EOF, WT_EBAD. */
static inline int wt_read_message(wt_client *c, unsigned *type, uint8_t **data, size_t *len,
                                  int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    uint8_t *msg = NULL;
    size_t mlen = 0;
    bool started = false;
    *data = NULL;
    *len = 0;
    for (;;) {
        wt_frame f;
        int64_t left = end - wt_now_ms();
        int r = wt_read_frame(c, &f, (int)(left < 0 ? 0 : left));
        if (r != 0) {
            wt_frame_free(&f);
            free(msg);
            return r;
        }
        if (f.rsv) {
            wt_frame_free(&f);
            free(msg);
            return WT_EBAD;
        }
        if (f.opcode == WT_OP_PING || f.opcode == WT_OP_PONG) {
            if (f.opcode == WT_OP_PING)
                c->pings_seen++;
            else
                c->pongs_seen++;
            wt_frame_free(&f);
            continue;
        }
        if (f.opcode == WT_OP_CLOSE) {
            wt_note_close(c, &f);
            wt_frame_free(&f);
            free(msg);
            return WT_CLOSE;
        }
        if ((f.opcode == WT_OP_CONT) != started || (f.opcode != WT_OP_CONT && f.opcode != WT_OP_TEXT &&
                                                    f.opcode != WT_OP_BIN)) {
            wt_frame_free(&f);
            free(msg);
            return WT_EBAD;
        }
        if (!started) {
            *type = f.opcode;
            started = true;
        }
        if (!msg) {
            msg = f.data;
            mlen = f.len;
            f.data = NULL;
        } else {
            uint8_t *p = realloc(msg, mlen + f.len + 1);
            if (!p) {
                wt_frame_free(&f);
                free(msg);
                return WT_EBAD;
            }
            msg = p;
            memcpy(msg + mlen, f.data, f.len);
            mlen += f.len;
            msg[mlen] = 0;
        }
        bool fin = f.fin;
        wt_frame_free(&f);
        if (fin) {
            *data = msg;
            *len = mlen;
            return 0;
        }
    }
}

/* Reads a message and checks it is exactly (type, data, len). Prints what differs. */
static inline bool wt_expect_message(wt_client *c, unsigned type, const void *data, size_t len,
                                     int timeout_ms)
{
    unsigned t = 0;
    uint8_t *d;
    size_t n;
    int r = wt_read_message(c, &t, &d, &n, timeout_ms);
    if (r != 0) {
        fprintf(stderr, "  expected a message of %zu bytes, got %s (close code %u)\n", len,
                r == WT_TIMEOUT ? "a timeout" : r == WT_EOF ? "EOF" : r == WT_CLOSE ? "a close frame"
                                                                                 : "a bad frame",
                c->close_code);
        return false;
    }
    bool ok = t == type && n == len && (len == 0 || memcmp(d, data, len) == 0);
    if (!ok) {
        size_t at = 0;
        while (at < n && at < len && d[at] == ((const uint8_t *)data)[at])
            at++;
        fprintf(stderr, "  expected type %u, %zu bytes; got type %u, %zu bytes (first difference at %zu)\n",
                type, len, t, n, at);
    }
    free(d);
    return ok;
}

/* Reads frames until a close frame, skipping anything else. 0 (code in c->close_code, 1005 when the
 * payload was empty; reason in c->close_reason), WT_EOF (the TCP connection ended with no close
 * frame), WT_TIMEOUT, WT_EBAD. */
static inline int wt_expect_close(wt_client *c, int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    for (;;) {
        wt_frame f;
        int64_t left = end - wt_now_ms();
        int r = wt_read_frame(c, &f, (int)(left < 0 ? 0 : left));
        if (r != 0) {
            wt_frame_free(&f);
            return r;
        }
        if (f.opcode == WT_OP_CLOSE) {
            wt_note_close(c, &f);
            wt_frame_free(&f);
            return 0;
        }
        wt_frame_free(&f);
    }
}

/* Discards input until the server closes the TCP connection. 0 at EOF, WT_TIMEOUT. */
static inline int wt_wait_eof(wt_client *c, int timeout_ms)
{
    int64_t end = wt_now_ms() + timeout_ms;
    for (;;) {
        c->len = 0;
        int r = wt_fill(c, end);
        if (r == WT_EOF)
            return 0;
        if (r == WT_TIMEOUT)
            return WT_TIMEOUT;
    }
}

/* The whole failure path of a violation: the server must send a close frame with `code` and then
 * end the TCP connection. Returns true when it did; prints what happened otherwise. */
static inline bool wt_expect_fail_close(wt_client *c, unsigned code, int timeout_ms)
{
    int r = wt_expect_close(c, timeout_ms);
    if (r != 0) {
        fprintf(stderr, "  expected close %u, got %s\n", code,
                r == WT_EOF ? "EOF without a close frame" : r == WT_TIMEOUT ? "nothing (timeout)"
                                                                            : "a bad frame");
        return false;
    }
    if (c->close_code != code) {
        fprintf(stderr, "  expected close %u, got close %u \"%s\"\n", code, c->close_code,
                c->close_reason);
        return false;
    }
    /* Section 7.1.1: after a failing close, the server closes the TCP connection. Answering the
     * close first is allowed (it may already be gone). */
    wt_send_close(c, code, NULL);
    if (wt_wait_eof(c, timeout_ms) != 0) {
        fprintf(stderr, "  close %u arrived but the server never closed the TCP connection\n", code);
        return false;
    }
    return true;
}

/* ---- payloads ------------------------------------------------------------------------------- */

/* Valid UTF-8 of exactly n bytes mixing ASCII, 2-, 3- and 4-byte sequences; seed varies it. */
static inline void wt_fill_utf8(uint8_t *p, size_t n, unsigned seed)
{
    static const char *pieces[] = {"a", "Z", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", " ", "7"};
    size_t i = 0;
    unsigned k = seed;
    while (i < n) {
        const char *s = pieces[k++ % 7];
        size_t l = strlen(s);
        if (l > n - i)
            s = "x", l = 1;
        memcpy(p + i, s, l);
        i += l;
    }
}

static inline void wt_fill_bytes(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* ---- a server in a thread ------------------------------------------------------------------ */

typedef struct wt_server {
    wsc_server *srv;
    pthread_t th;
    int port;
    bool running;
} wt_server;

/* The configurations the integration tests run in. */
typedef enum wt_mode {
    WT_EPOLL_POOL,   /* non-blocking workers, handler thread pool */
    WT_EPOLL_INLINE, /* non-blocking workers, handlers inline (WSC_THREAD_POOL_INLINE) */
    WT_BLOCKING,     /* thread per connection (cfg.blocking) */
    WT_MODES
} wt_mode;

static inline const char *wt_mode_name(wt_mode m)
{
    return m == WT_EPOLL_POOL ? "epoll+pool" : m == WT_EPOLL_INLINE ? "epoll+inline" : "blocking";
}

static inline void wt_config(wsc_server_config *cfg, wt_mode mode)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = WSC_PORT_EPHEMERAL;
    cfg->address = "127.0.0.1";
    cfg->blocking = mode == WT_BLOCKING;
    cfg->thread_pool.count = mode == WT_EPOLL_INLINE ? WSC_THREAD_POOL_INLINE : 2;
}

/* Creates the server and runs it in a thread. Prints the error and returns false on failure. */
static inline bool wt_server_start(wt_server *s, const wsc_handler *h, const wsc_server_config *cfg,
                                   void *app)
{
    wsc_err err;
    memset(s, 0, sizeof *s);
    memset(&err, 0, sizeof err);
    s->srv = wsc_server_new(h, cfg, &err);
    if (!s->srv) {
        fprintf(stderr, "  wsc_server_new: %s (%s)\n", err.message, wsc_err_name(err.code));
        return false;
    }
    int rc = wsc_server_listen_thread(s->srv, app, &s->th);
    if (rc != 0) {
        fprintf(stderr, "  wsc_server_listen_thread: %s\n", wsc_strerror(rc));
        wsc_server_free(s->srv);
        s->srv = NULL;
        return false;
    }
    s->running = true;
    s->port = wsc_server_port(s->srv);
    return cfg->unix_path || s->port > 0;
}

/* Stops the server and joins its thread within timeout_ms, then frees it. Returns false when the
 * listen thread did not return in time (the server is then leaked, not freed under a live
 * thread). */
static inline bool wt_server_stop(wt_server *s, int timeout_ms)
{
    if (!s->srv)
        return true;
    if (s->running) {
        struct timespec ts;
        wsc_server_stop(s->srv);
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_timedjoin_np(s->th, NULL, &ts) != 0) {
            fprintf(stderr, "  the listen thread did not return within %d ms of wsc_server_stop\n",
                    timeout_ms);
            s->srv = NULL;
            return false;
        }
        s->running = false;
    }
    wsc_server_free(s->srv);
    s->srv = NULL;
    return true;
}

#endif

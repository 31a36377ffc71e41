/* Helpers for the client's tests: the independent Python server (Debian's python3-websockets) as a
 * child process, self-signed certificates made with the openssl command, a watchdog, and a tiny raw
 * TCP server for scripted misbehaviour.
 *
 * Everything is bounded: the child prints its port within a deadline or the test fails, it exits
 * when our end of its standard input closes (so it never outlives us, even if we crash), and a
 * watchdog alarm ends a test program that hangs. Only 127.0.0.1. Header-only (static functions,
 * used or not). */
#ifndef WSC_TESTS_CLIENT_TEST_UTIL_H
#define WSC_TESTS_CLIENT_TEST_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/handshake.h"
#include "wsc.h"

#define CT_PYTHON "/usr/bin/python3"
#define CT_PEER_SCRIPT "tests/interop/peers/ws_server.py"

static inline int64_t ct_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void ct_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Ends the whole program after seconds: a hang is a failure, never a stuck run. */
static inline void ct_watchdog(unsigned seconds)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(seconds);
}

/* The repository root: the current directory when it has the script (tests/run.sh runs there), else
   found from the test binary's own path (build/<variant>/test/<name>). */
static inline const char *ct_root(void)
{
    static char root[1024];
    if (access(CT_PEER_SCRIPT, R_OK) == 0)
        return ".";
    ssize_t n = readlink("/proc/self/exe", root, sizeof root - 1);
    if (n <= 0)
        return ".";
    root[n] = '\0';
    for (int up = 0; up < 4; up++) {
        char *slash = strrchr(root, '/');
        if (!slash)
            return ".";
        *slash = '\0';
    }
    return root;
}

/* ---- the Python server ----------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int port;
    int stdin_fd; /* closing it makes the child exit */
} ct_peer;

/* Starts ws_server.py (TLS when cert and key are given; at most TLS 1.2 with tls12) and reads its
 * port. Returns 0 or -1. */
static inline int ct_peer_start_ex(ct_peer *p, const char *cert, const char *key, bool tls12)
{
    int in[2], out[2];
    char script[1200];

    memset(p, 0, sizeof *p);
    p->pid = -1;
    p->stdin_fd = -1;
    snprintf(script, sizeof script, "%s/%s", ct_root(), CT_PEER_SCRIPT);
    if (pipe2(in, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        if (cert)
            execl(CT_PYTHON, CT_PYTHON, script, "--tls", cert, key, tls12 ? "tls12" : (char *)NULL,
                  (char *)NULL);
        else
            execl(CT_PYTHON, CT_PYTHON, script, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->pid = pid;
    p->stdin_fd = in[1];

    char line[32];
    size_t got = 0;
    int64_t deadline = ct_now_ms() + 30000;
    while (got < sizeof line - 1 && !memchr(line, '\n', got)) {
        struct pollfd pfd = {out[0], POLLIN, 0};
        int64_t left = deadline - ct_now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = read(out[0], line + got, sizeof line - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(out[0]);
    line[got] = '\0';
    p->port = atoi(line);
    if (p->port <= 0) {
        fprintf(stderr, "  the Python server did not start (is python3-websockets installed?)\n");
        return -1;
    }
    return 0;
}

static inline int ct_peer_start(ct_peer *p, const char *cert, const char *key)
{
    return ct_peer_start_ex(p, cert, key, false);
}

static inline void ct_peer_stop(ct_peer *p)
{
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    int64_t deadline = ct_now_ms() + 5000;
    for (;;) {
        pid_t r = waitpid(p->pid, NULL, WNOHANG);
        if (r == p->pid || (r < 0 && errno != EINTR))
            break;
        if (ct_now_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            break;
        }
        ct_sleep_ms(10);
    }
    p->pid = -1;
}

/* ---- certificates ---------------------------------------------------------------------------- */

typedef struct {
    char dir[64];
    char cert[128], key[128];             /* CN localhost, SAN DNS:localhost and IP:127.0.0.1 */
    char other_cert[128], other_key[128]; /* SAN DNS:other.invalid only: a name mismatch */
} ct_certs;

static inline int ct_run_openssl(const char *cert, const char *key, const char *san)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=wsc-test -addext subjectAltName=%s -keyout %s -out %s >/dev/null 2>&1",
             san, key, cert);
    return system(cmd) == 0 ? 0 : -1;
}

static inline int ct_certs_make(ct_certs *c)
{
    snprintf(c->dir, sizeof c->dir, "/tmp/wsc-client-test-XXXXXX");
    if (!mkdtemp(c->dir))
        return -1;
    snprintf(c->cert, sizeof c->cert, "%s/cert.pem", c->dir);
    snprintf(c->key, sizeof c->key, "%s/key.pem", c->dir);
    snprintf(c->other_cert, sizeof c->other_cert, "%s/other.pem", c->dir);
    snprintf(c->other_key, sizeof c->other_key, "%s/other-key.pem", c->dir);
    if (ct_run_openssl(c->cert, c->key, "DNS:localhost,IP:127.0.0.1") != 0 ||
        ct_run_openssl(c->other_cert, c->other_key, "DNS:other.invalid") != 0) {
        fprintf(stderr, "  openssl could not make a certificate\n");
        return -1;
    }
    return 0;
}

static inline void ct_certs_remove(ct_certs *c)
{
    unlink(c->cert);
    unlink(c->key);
    unlink(c->other_cert);
    unlink(c->other_key);
    rmdir(c->dir);
}

/* ---- a raw TCP listener ------------------------------------------------------------------------
 */

/* A listening socket on 127.0.0.1 with a kernel-chosen port. Returns the fd, *port set. */
static inline int ct_listen(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return s;
}

/* Accepts one connection within timeout_ms (-1 on timeout). */
static inline int ct_accept(int ls, int timeout_ms)
{
    struct pollfd p = {ls, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    return accept4(ls, NULL, NULL, SOCK_CLOEXEC);
}

/* Reads into buf until it holds "\r\n\r\n" (or cap-1 bytes) within timeout_ms. Returns bytes read.
 */
static inline size_t ct_read_head(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t got = 0;
    int64_t deadline = ct_now_ms() + timeout_ms;
    buf[0] = '\0';
    while (got < cap - 1 && !strstr(buf, "\r\n\r\n")) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - ct_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
    }
    return got;
}

/* Builds the 101 answer to the upgrade request in head (its key's accept value, then extra
   header lines, each ending in \r\n). Returns the length written into out. */
static inline size_t ct_build_101(const char *head, const char *extra, char *out, size_t cap)
{
    char accept[29] = "";
    const char *k = strcasestr(head, "Sec-WebSocket-Key:");
    if (k) {
        k += 18;
        while (*k == ' ')
            k++;
        wsc__accept_key(k, 24, accept);
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, extra ? extra : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Reads exactly n bytes within timeout_ms; returns the count read. */
static inline size_t ct_read_n(int fd, void *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    int64_t deadline = ct_now_ms() + timeout_ms;
    while (got < n) {
        struct pollfd p = {fd, POLLIN, 0};
        int64_t left = deadline - ct_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            break;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static inline bool ct_write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one client frame (masked), unmasks it. Returns the opcode, or -1 (timeout, EOF, too big).
 * payload receives at most cap bytes; *len the payload length. */
static inline int ct_read_frame(int fd, uint8_t *payload, size_t cap, size_t *len, bool *masked,
                                int timeout_ms)
{
    uint8_t h[14];
    if (ct_read_n(fd, h, 2, timeout_ms) != 2)
        return -1;
    uint64_t n = h[1] & 0x7f;
    size_t ext = n == 126 ? 2 : n == 127 ? 8 : 0;
    if (ext && ct_read_n(fd, h + 2, ext, timeout_ms) != ext)
        return -1;
    if (ext) {
        n = 0;
        for (size_t i = 0; i < ext; i++)
            n = n << 8 | h[2 + i];
    }
    uint8_t key[4] = {0, 0, 0, 0};
    *masked = (h[1] & 0x80) != 0;
    if (*masked && ct_read_n(fd, key, 4, timeout_ms) != 4)
        return -1;
    if (n > cap)
        return -1;
    if (ct_read_n(fd, payload, (size_t)n, timeout_ms) != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        payload[i] ^= key[i & 3];
    *len = (size_t)n;
    return h[0] & 0x0f;
}

#endif

/* wsc_load: a WebSocket load generator for echo servers.
 *
 * It is deliberately independent of the wsc library: its handshake and framing
 * code lives here (wire.c), so a bug in the server's parser is not mirrored by
 * the client that measures it.
 *
 * Threads: each load thread owns an epoll instance and a disjoint share of the
 * connections; threads share only the read-only options and the run control
 * (atomics). Results are per-thread and merged by the main thread after join. */
#ifndef WSC_LOAD_H
#define WSC_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "hist.h"

struct load_opts {
    const char *prog;        /* name in messages: argv[0] without its directory */
    const char *host;        /* default 127.0.0.1 */
    unsigned port;           /* default 9224 (the echo example's port) */
    const char *path;        /* request target, default "/" */
    unsigned conns;          /* -c, default 100 */
    uint64_t size;           /* -s, payload bytes per message, default 16 */
    unsigned depth;          /* -d, messages in flight per connection, default 1 */
    double seconds;          /* -t, measured duration, default 5 */
    double warmup;           /* --warmup, echoed but not counted, default 0 */
    double connect_timeout;  /* bound on the connect + handshake phase, default 10 */
    double idle;             /* --idle: hold connections this long instead of sending; < 0 = off */
    unsigned threads;        /* --threads, default 1; 0 = one per online CPU */
    unsigned max_connecting; /* connects + handshakes in progress per thread (listen backlogs are
                                finite) */
    bool text;               /* --text: text frames (payload is printable ASCII) */
    bool json_payload;       /* --json-payload: text of JSON-like records (compressible) */
    bool deflate;            /* --deflate: offer permessage-deflate, compress every message */
    bool deflate_nt;         /* --deflate-no-takeover: ask for no context takeover both ways */
    bool raw;                /* --raw: plain TCP, no handshake, no framing */
    bool tls;                /* --tls: wss (TLS 1.2 or 1.3, the certificate not verified) */
    bool json;               /* --json: one JSON line instead of the report */
    pid_t server_pid;        /* --server-pid: sample its CPU time over the measured window */
    struct sockaddr_storage addr;
    socklen_t addr_len;
};

enum run_phase { PHASE_CONNECT, PHASE_WARMUP, PHASE_RUN, PHASE_STOP };

/* Shared between the main thread and the load threads. */
struct run_ctl {
    _Atomic int phase;       /* enum run_phase, written by the main thread only */
    _Atomic unsigned ready;  /* load threads whose connect phase is over */
    _Atomic unsigned opened; /* connections open (handshake done), all threads */
    _Atomic unsigned echoed; /* --idle with --deflate: connections whose one echo came back */
    int64_t run_start_ns;    /* set before phase becomes PHASE_RUN (release/acquire on phase) */
};

enum err_kind { ERR_CONNECT, ERR_HANDSHAKE, ERR_VERIFY, ERR_PROTOCOL, ERR_CLOSED, ERR_KINDS };

struct thread_result {
    uint64_t messages; /* echoes completed in the measured window */
    uint64_t bytes;    /* payload bytes of those echoes */
    uint64_t wire;     /* bytes of the server's frames for those echoes (headers included) */
    uint64_t errors[ERR_KINDS];
    unsigned opened;       /* connections that completed their handshake */
    int64_t end_ns;        /* when this thread stopped counting */
    struct hist lat;       /* round-trip latency, nanoseconds */
    char first_error[160]; /* the first error's description, for diagnosis */
};

struct load_thread {
    const struct load_opts *opts;
    struct run_ctl *ctl;
    unsigned first_conn, nconns; /* global ids [first_conn, first_conn + nconns) */
    uint64_t seed;
    struct thread_result res;
};

/* opts.c */
int load_opts_parse(struct load_opts *o, int argc, char **argv); /* 0 ok, 1 help shown, -1 error */

/* tls.c: OpenSSL behind void pointers (the loop needs no OpenSSL header). recv and send return
   what recv(2) and send(2) would, errno included. */
void *load_tls_ctx_new(void);
void load_tls_ctx_free(void *ctx);
void *load_tls_new(void *ctx, int fd, const char *host);
void load_tls_free(void *ssl);
int load_tls_handshake(void *ssl); /* 1 done, 0 wants to read, 2 wants to write, -1 failed */
bool load_tls_pending(void *ssl);  /* decrypted bytes wait inside OpenSSL, not in the socket */
ssize_t load_tls_recv(void *ssl, void *buf, size_t n);
ssize_t load_tls_send(void *ssl, const void *buf, size_t n);

/* loop.c: runs one load thread to completion. */
void *load_thread_main(void *arg);

/* clock */
int64_t now_ns(void);

/* proc.c: utime + stime of a process in microseconds, -1 if unreadable. */
int64_t proc_cpu_us(pid_t pid);

#endif

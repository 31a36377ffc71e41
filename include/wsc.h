/* wsc: a WebSocket server and client library (RFC 6455).
 *
 * This header is the whole public API. Everything named wsc_ / WSC_ here
 * is stable; nothing else is exported.
 *
 * Conventions
 * - Functions returning int return 0 on success and a negative WSC_E* code
 *   on failure (wsc_strerror() names it). Constructors return NULL on
 *   failure and fill the optional wsc_err with the code and a message.
 * - Strings handed to wsc are copied unless a comment says otherwise.
 * - Configuration structs: a zeroed field means the documented default, so
 *   `wsc_server_config cfg = {0};` is a valid configuration.
 * - Threads: each function's comment has a "Thread-safety:" line. The
 *   general rule (as in websocket.zig): one message per connection is
 *   processed at a time, so a connection's callbacks never run
 *   concurrently; writes and close on a connection are safe from any
 *   thread at any time while the connection lives. */
#ifndef WSC_H
#define WSC_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WSC_API __attribute__((visibility("default")))
#define WSC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define WSC_API
#define WSC_PRINTF(fmt, args)
#endif

/* ---- errors ------------------------------------------------------------ */

/* X(name, value, message): every error code and its message, from one table. */
#define WSC_ERRORS(X)                                                          \
    X(WSC_OK, 0, "success")                                                    \
    X(WSC_EINVAL, -1, "invalid argument")                                      \
    X(WSC_ENOMEM, -2, "out of memory")                                         \
    X(WSC_ECONFIG, -3, "invalid configuration")                                \
    X(WSC_ECLOSED, -4, "connection closed")                                    \
    X(WSC_ETIMEDOUT, -5, "timed out")                                          \
    X(WSC_EIO, -6, "socket error")                                             \
    X(WSC_EPROTO, -7, "WebSocket protocol violation")                          \
    X(WSC_EUTF8, -8, "invalid UTF-8 in a text message")                        \
    X(WSC_ETOOBIG, -9, "message too big")                                      \
    X(WSC_EHANDSHAKE, -10, "handshake failed")                                 \
    X(WSC_ETLS, -11, "TLS error")                                              \
    X(WSC_ETLSVERIFY, -12, "TLS certificate verification failed")             \
    X(WSC_EADDR, -13, "cannot resolve or use address")                        \
    X(WSC_ECONNREFUSED, -14, "connection refused")                             \
    X(WSC_EFULL, -15, "limit reached")                                         \
    X(WSC_ESTATE, -16, "not allowed in the current state")                     \
    X(WSC_EMISMATCH, -17, "unexpected message")                               \
    X(WSC_EIDLE, -18, "closed: the peer was silent for the idle timeout")        \
    X(WSC_ENORELAY, -19, "delivered on this server only: not relayed to the cluster")

enum {
#define WSC__ERR_ENUM(name, value, msg) name = value,
    WSC_ERRORS(WSC__ERR_ENUM)
#undef WSC__ERR_ENUM
};

/* Message of an error code ("unknown error" for values not in the table).
 * Thread-safety: any thread. */
WSC_API const char *wsc_strerror(int err);
/* Name of an error code, e.g. "WSC_ETIMEDOUT". Thread-safety: any thread. */
WSC_API const char *wsc_err_name(int err);

/* Details of a failure, filled by constructors and handshakes. */
typedef struct wsc_err {
    int code;            /* WSC_E* */
    int sys_errno;       /* errno behind WSC_EIO/WSC_EADDR, else 0 */
    int http_status;     /* WSC_EHANDSHAKE: the server's status code, 0 if none */
    unsigned close_code; /* WSC_EPROTO/WSC_EUTF8/WSC_ETOOBIG: the close code sent */
    char message[160];   /* human-readable, NUL-terminated */
} wsc_err;

/* ---- protocol constants ------------------------------------------------- */

typedef enum wsc_msg_type {
    WSC_TEXT = 1,
    WSC_BINARY = 2,
    WSC_CLOSE = 8,
    WSC_PING = 9,
    WSC_PONG = 10
} wsc_msg_type;

/* Close codes (RFC 6455 section 7.4.1, and 1012-1014 from the IANA registry).
 * 1005 and 1006 are never sent. */
enum {
    WSC_CLOSE_NORMAL = 1000,
    WSC_CLOSE_GOING_AWAY = 1001,
    WSC_CLOSE_PROTOCOL_ERROR = 1002,
    WSC_CLOSE_UNSUPPORTED = 1003,
    WSC_CLOSE_NO_STATUS = 1005,
    WSC_CLOSE_ABNORMAL = 1006,
    WSC_CLOSE_INVALID_DATA = 1007,
    WSC_CLOSE_POLICY = 1008,
    WSC_CLOSE_TOO_BIG = 1009,
    WSC_CLOSE_EXTENSION = 1010,
    WSC_CLOSE_INTERNAL = 1011,
    WSC_CLOSE_SERVICE_RESTART = 1012,
    WSC_CLOSE_TRY_AGAIN_LATER = 1013,
    WSC_CLOSE_BAD_GATEWAY = 1014
};

/* Largest close reason: a control frame carries at most 125 bytes, two of
 * which are the code. */
#define WSC_CLOSE_REASON_MAX 123

/* A string that is not NUL-terminated; ptr is NULL when absent. */
typedef struct wsc_str {
    const char *ptr;
    size_t len;
} wsc_str;

/* ---- logging ------------------------------------------------------------ */

typedef enum wsc_log_level {
    WSC_LOG_NONE = 0, /* default: quiet */
    WSC_LOG_ERROR,
    WSC_LOG_WARN,
    WSC_LOG_INFO,
    WSC_LOG_DEBUG
} wsc_log_level;

typedef void (*wsc_log_fn)(wsc_log_level level, const char *message, void *user);

/* Process-wide log level (atomic). Thread-safety: any thread. */
WSC_API void wsc_log_set_level(wsc_log_level level);
/* Routes log messages to fn (NULL: standard error). Set it before starting
 * servers or clients; fn may be called from any wsc thread concurrently.
 * Thread-safety: any thread, but set it once at start-up. */
WSC_API void wsc_log_set_handler(wsc_log_fn fn, void *user);

/* ---- messages and the per-callback arena -------------------------------- */

typedef struct wsc_arena wsc_arena;

/* Allocates from the arena of the current callback: a thread-local buffer
 * (thread_pool.buffer_size bytes), then the heap. Everything is freed when
 * the callback returns. Returns NULL when out of memory.
 * Thread-safety: only the thread running the callback. */
WSC_API void *wsc_arena_alloc(wsc_arena *arena, size_t size);

typedef struct wsc_msg {
    wsc_msg_type type;
    uint8_t *data;       /* valid until the callback returns (server) or
                            wsc_client_done (client); may be modified */
    size_t len;
    unsigned close_code; /* type == WSC_CLOSE: the peer's code, 1005 if none;
                            data/len is then the reason */
    wsc_arena *arena;    /* server callbacks: freed after the callback;
                            client: NULL */
} wsc_msg;

/* ---- pre-framed messages ----------------------------------------------- */

/* Bytes of a complete frame, ready for wsc_conn_write_framed(). */
typedef struct wsc_framed {
    const uint8_t *data;
    size_t len;
} wsc_framed;

/* WSC_FRAME_TEXT("literal") / WSC_FRAME_BIN("literal"): the initializer of
 * a wsc_framed built at compile time (header computed by constant
 * expressions; at file scope the bytes are static constants):
 *     static const wsc_framed UNKNOWN = WSC_FRAME_TEXT("unknown command");
 *     wsc_conn_write_framed(conn, UNKNOWN.data, UNKNOWN.len); */
#define WSC_FRAME_TEXT(lit) WSC__FRAME(0x81u, lit)
#define WSC_FRAME_BIN(lit) WSC__FRAME(0x82u, lit)

/* Implementation: the header is right-aligned in a 10-byte area that
 * precedes the payload; the frame starts at the header's first byte. */
#define WSC__FLEN(lit) ((unsigned long long)(sizeof(lit) - 1))
#define WSC__FHL(lit) (WSC__FLEN(lit) < 126 ? 2 : WSC__FLEN(lit) < 65536 ? 4 : 10)
#define WSC__FB(b0, lit, i)                                                     \
    ((uint8_t)((int)(i) < 10 - WSC__FHL(lit)             ? 0                    \
               : (int)(i) == 10 - WSC__FHL(lit)          ? (b0)                 \
               : (int)(i) == 11 - WSC__FHL(lit)                                 \
                   ? (WSC__FLEN(lit) < 126     ? WSC__FLEN(lit)                 \
                      : WSC__FLEN(lit) < 65536 ? 126u                           \
                                               : 127u)                          \
                   : (WSC__FLEN(lit) >> ((8 * (9 - (i))) % 64)) & 0xffu))
#define WSC__FRAME(b0, lit)                                                     \
    {                                                                           \
        &(const struct {                                                        \
            uint8_t h[10];                                                      \
            char b[sizeof(lit)]; /* the NUL is not sent */                      \
        }){{WSC__FB(b0, lit, 0), WSC__FB(b0, lit, 1), WSC__FB(b0, lit, 2),       \
            WSC__FB(b0, lit, 3), WSC__FB(b0, lit, 4), WSC__FB(b0, lit, 5),       \
            WSC__FB(b0, lit, 6), WSC__FB(b0, lit, 7), WSC__FB(b0, lit, 8),       \
            WSC__FB(b0, lit, 9)},                                               \
           lit}                                                                 \
             .h[10 - WSC__FHL(lit)],                                            \
        WSC__FHL(lit) + sizeof(lit) - 1                                         \
    }

/* Frames data once (unmasked, as a server sends) so that it can be written
 * to many connections with wsc_conn_write_framed(). out->data is owned by
 * the caller: release it with wsc_frame_free(). type is WSC_TEXT,
 * WSC_BINARY, WSC_PING or WSC_PONG. Returns 0, WSC_EINVAL, WSC_ENOMEM.
 * Thread-safety: any thread. */
WSC_API int wsc_frame_new(wsc_framed *out, wsc_msg_type type, const void *data, size_t len);
WSC_API void wsc_frame_free(wsc_framed *frame);

/* ---- server ------------------------------------------------------------- */

typedef struct wsc_server wsc_server;
typedef struct wsc_conn wsc_conn;
typedef struct wsc_handshake wsc_handshake;

/* Returned by init to close the connection without any HTTP response: a
 * value that no status, error code or small number is, so that init
 * returning -1 or a WSC_E* code still answers 400. */
#define WSC_REJECT_SILENT (-0x51E47)

/* Callbacks of a server. Only `message` is required. For one connection
 * callbacks never run concurrently (one message at a time). Callbacks that
 * return int close the connection when they return non-zero (as an error
 * returned by a websocket.zig handler does): with 1011 for message and
 * after_init, as the return value's meaning for init. */
typedef struct wsc_handler {
    /* The upgrade request arrived; no response was sent yet, so conn must
     * not be written to here (use after_init). Return 0 to accept (and set
     * *user to per-connection data, passed to every later callback); a
     * value from 400 to 599 to reject with that HTTP status;
     * WSC_REJECT_SILENT to close with no response; any other non-zero
     * value (-1 and the WSC_E* codes too) rejects with 400. hs is valid
     * only during this call. NULL: accept every request. */
    int (*init)(wsc_handshake *hs, wsc_conn *conn, void *app, void **user);
    /* The 101 response was sent: the first moment writes are allowed. */
    int (*after_init)(wsc_conn *conn, void *user, void *app);
    /* A complete text or binary message. msg->data is valid until return. */
    int (*message)(wsc_conn *conn, void *user, const wsc_msg *msg);
    /* The connection is ending, whatever the reason (peer close, server
     * close, protocol error, reset, timeout, stop). Called exactly once for
     * every connection whose init accepted it; the socket may be gone. conn
     * stays valid until this returns (longer with wsc_conn_retain). */
    void (*close)(wsc_conn *conn, void *user);
    /* A close frame arrived. NULL: reply with a close frame echoing the
     * code (RFC 6455 section 5.5.1), then close. Non-NULL: called first; it
     * may still write, and may answer with wsc_conn_close (its own code and
     * reason); if it did not, the library answers when it returns, echoing
     * the code (1011 when it returned non-zero), exactly as the client's
     * read loop does. The connection closes either way. */
    int (*client_close)(wsc_conn *conn, void *user, unsigned code, const uint8_t *reason,
                        size_t reason_len);
    /* A ping arrived. NULL: reply with a pong carrying the same payload. */
    int (*client_ping)(wsc_conn *conn, void *user, const uint8_t *data, size_t len);
    /* A pong arrived. NULL: ignore it. */
    int (*client_pong)(wsc_conn *conn, void *user, const uint8_t *data, size_t len);
    /* The outbound queue, which had passed max_buffered, fell below half of
     * it: a producer that paused (wsc_conn_buffered > max_buffered after a
     * write) may write again. Called once per such passage, never while
     * another callback of the connection runs, and not once it is closing.
     * NULL: nothing is called (uWebSockets' drain). */
    int (*drain)(wsc_conn *conn, void *user);
    /* A plain HTTP request, one that asks for no upgrade to WebSocket (no
     * "websocket" in Upgrade): a GET or HEAD of HTTP/1.1 with a valid Host
     * and no body, read within handshake.timeout and handshake.max_size (a
     * larger one: 431). It runs where init would (a handler thread, the
     * worker with inline handlers, the connection's thread in blocking
     * mode) and may block as init may. Answer with wsc_handshake_respond and
     * return 0; 0 with no answer sends 404; a value from 400 to 599 sends
     * that error status (text/plain, the reason phrase); WSC_REJECT_SILENT
     * closes with no response; any other non-zero value sends 400. The
     * answer to a HEAD carries no body. The connection closes after the
     * response (Connection: close; no keep-alive, and a request pipelined
     * behind it is not read): it never becomes a WebSocket connection, so
     * no other callback follows for it, close included. hs is valid only
     * during this call; its accessors and
     * wsc_handshake_add_response_header work as in init. NULL: such a
     * request is refused with 400 before any callback (a request with
     * "websocket" in Upgrade is always an upgrade request, checked in full,
     * and goes to init). */
    int (*http)(wsc_handshake *hs, void *app);
} wsc_handler;

/* Use this for thread_pool.count to run callbacks inline on the worker
 * thread, with no hand-off (websocket.zig's `thread_pool.count = 0`): fastest,
 * for handlers that never block. A zero count means the default pool. */
#define WSC_THREAD_POOL_INLINE (-1)
/* Use this for port to let the kernel pick a free port (wsc_server_port
 * tells which). A zero port means the default 9882. */
#define WSC_PORT_EPHEMERAL (-1)
/* Use this for idle_timeout (server or client) to turn the idle timeout
 * off. A zero idle_timeout means the default: 120 s on a server, off on a
 * client. */
#define WSC_TIMEOUT_OFF (-1)
/* TLS protocol versions for wsc_server_config.tls (the wire values). */
#define WSC_TLS_1_2 0x0303
#define WSC_TLS_1_3 0x0304

/* On the internet (docs/limits.md, docs/tls.md): set tls (wss:// without a
 * proxy), keep handshake.timeout short (it bounds the TLS handshake too)
 * and idle_timeout on (silent peers are pinged, then closed), and bound
 * what one peer can hold: max_message_size, max_buffered, max_conn (under
 * the descriptor limit), handshake.max_size. */
/* permessage-deflate (RFC 7692), in wsc_server_config.deflate and
 * wsc_client_config.deflate. Off by default; a zeroed field means its
 * default. Compressed messages are inflated as they arrive and bounded by the
 * receiving side's message limit while inflating: a message that would pass
 * it closes with 1009 without being held whole, corrupt data closes with
 * 1007. Without context takeover a connection holds zlib state only while a
 * message is compressed or inflated; with it, a compressor (about 60 KiB with
 * the default 13 window bits) and an inflater (about 40 KiB at 15 bits) per
 * direction in use. */
typedef struct wsc_deflate_config {
    bool enabled;
    size_t write_threshold;          /* smallest message that is compressed (text or
                                        binary); 0: every message. Smaller ones, pings,
                                        pongs, close and pre-framed frames go as they
                                        are */
    int level;                       /* zlib level 1..9: 6 (0 means the default) */
    unsigned server_max_window_bits; /* 8..15: 15. Server: the largest window
                                 it accepts for its own compressor; client: the
                                 largest it offers the server (asked for below
                                 15). wsc never compresses with fewer than 9 bits
                                 (zlib's raw deflate cannot): a server asked for
                                 8 declines the offer */
    unsigned client_max_window_bits; /* 8..15: 15. Server: the largest window it
                                 accepts for the client's compressor (asked for
                                 below 15); client: the largest it offers for its
                                 own */
    bool server_no_context_takeover; /* server: always answer with it; client:
                                 ask for it in the offer */
    bool client_no_context_takeover; /* server: always answer with it; client:
                                 offer it */
    bool retain_write_buffer;        /* keep the compressed-output buffer between
                                        messages (fewer allocations, more memory per
                                        connection) */
    unsigned compress_window_bits;   /* 9..15: 13 (8 KiB). The window our own
                                        compressor uses, at most what was
                                        agreed (a smaller one than the peer
                                        allows is always valid). With context
                                        takeover its state is about 2^bits * 8
                                        bytes; 13 bits compressed 1 KiB JSON
                                        messages within 1% of 15 bits at half
                                        the CPU with 100 connections (cache
                                        misses; docs/compression.md) */
    bool shared_compressor;          /* server, epoll workers: answer every offer with
                                        server_no_context_takeover, and compress with one
                                        zlib stream per worker shared by its
                                        connections (under a lock), so a connection
                                        holds no compressor at all */
} wsc_deflate_config;

typedef struct wsc_server_config {
    int port;                /* 9882; WSC_PORT_EPHEMERAL: any free port */
    const char *address;     /* "127.0.0.1"; IPv4 or IPv6 literal ("::1") or
                                host name; ignored when unix_path is set */
    const char *unix_path;   /* listen on a unix socket instead */
    unsigned worker_count;   /* event loops sharing the listener: 1 */
    size_t max_conn;         /* per worker: 16384; beyond it new
                                connections are accepted and closed at once */
    size_t max_message_size; /* 65536; larger messages close with 1009 */
    size_t max_buffered;     /* outbound bytes queued per connection: a
                                write made while more than this is queued
                                is refused (WSC_EFULL) and the connection
                                closes with 1008 (a peer that stopped
                                reading); one message larger than this is
                                still accepted on a short queue.
                                max(1 MiB, 2 * max_message_size) */
    bool blocking;           /* thread-per-connection mode instead of epoll:
                                callbacks run on the connection's thread;
                                worker_count and thread_pool are ignored,
                                max_conn counts all connections */
    bool no_utf8_check;      /* skip UTF-8 validation of text messages
                                (default: validate; invalid closes 1007) */
    int idle_timeout;        /* seconds: 120; WSC_TIMEOUT_OFF: never. A peer
                                silent for half of it gets a ping, once per
                                silence (unless no_idle_ping); silent for all
                                of it, a close frame with 1001, and the TCP
                                connection is dropped when the close is not
                                answered within 3 s; the close callback runs.
                                Every frame from the peer (a pong too), and
                                every piece of a frame's payload, ends a
                                silence. Time in which the server reads
                                nothing from it is not silence: a callback of
                                it running on the thread pool (counted from
                                its return), inline or blocking-mode
                                callbacks that held their thread 2 s or more
                                (counted from their return), a full handler
                                backlog. Whole seconds: the ping and the
                                close come up to 2 s late, never early */
    bool no_idle_ping;       /* only the close at idle_timeout, no ping */
    struct {
        unsigned timeout;        /* seconds to complete the upgrade request: 10 */
        size_t max_size;         /* bytes of the upgrade request: 1024 (over: 431) */
        unsigned max_headers;    /* headers kept for wsc_handshake_header: 0 */
        unsigned max_res_headers; /* extra response headers init may add: 2 */
        unsigned count;          /* handshake objects kept pooled: 32 */
    } handshake;
    struct {
        int count;          /* handler threads: 4; WSC_THREAD_POOL_INLINE: none.
                               When the thread that calls wsc_server_listen
                               may run on one CPU only (its affinity mask),
                               the threads take turns: a worker yields the
                               CPU to the thread it wakes, and wakes another
                               only while that one is blocked in a handler */
        unsigned backlog;   /* queued callbacks before workers stop reading: 500 */
        size_t buffer_size; /* each thread's arena buffer: 32768 */
    } thread_pool;
    struct {
        size_t small_pool; /* pooled small buffers; 0: each connection owns one */
        size_t small_size; /* 2048 */
        size_t large_pool; /* pooled large buffers: 8 */
        size_t large_size; /* min(2 * small_size, max_message_size) */
        /* Buffers of 16 KiB and more (these, the workers' receive buffers, and
           heap buffers for large messages) start half a page past a page
           boundary, which keeps the kernel's socket copies off a slow path of
           some CPUs; each such buffer takes up to a page more memory. */
    } buffers;
    /* TLS (wss://) through OpenSSL, on when cert_file is set: then every
       connection must speak TLS 1.2 or 1.3 (a plain-HTTP request or other
       bytes get the connection closed). The TLS handshake runs on the
       worker loop, non-blocking, and counts against handshake.timeout with
       the upgrade request. ALPN: http/1.1 (a client that offers only other
       protocols is refused). Sessions resume with tickets (stateless: no
       memory per session on the server). wsc_server_reload_tls reads the
       files again. See docs/tls.md. */
    struct {
        const char *cert_file;      /* PEM: the certificate, then the chain
                                       (intermediates) behind it */
        const char *key_file;       /* PEM: its private key (unencrypted) */
        const char *client_ca_file; /* PEM CA certificates: set (or
                                       client_ca_path), clients must show a
                                       certificate issued by one of them */
        const char *client_ca_path; /* directory of CA certificates named by
                                       hash (openssl rehash) */
        bool client_cert_optional;  /* with a client CA: a client without a
                                       certificate is admitted too (one with
                                       a bad certificate never is) */
        int min_version;            /* WSC_TLS_1_2 (default) or WSC_TLS_1_3 */
        int max_version;            /* WSC_TLS_1_3 (default) or WSC_TLS_1_2 */
        bool no_session_tickets;    /* every connection makes a full handshake */
    } tls;
    wsc_deflate_config deflate; /* permessage-deflate: off */
} wsc_server_config;

/* Creates a server: validates cfg (WSC_ECONFIG with a message naming the
 * field), binds and listens. handler is copied; cfg strings are copied.
 * Returns NULL on failure, with err filled when non-NULL.
 * Thread-safety: any thread. */
WSC_API wsc_server *wsc_server_new(const wsc_handler *handler, const wsc_server_config *cfg,
                                   wsc_err *err);
/* Runs the server in the calling thread until wsc_server_stop (or
 * wsc_server_shutdown). app is passed to init and after_init. Returns 0
 * after a stop, or an error;
 * WSC_ESTATE when this server listens or listened already (here or in
 * wsc_server_listen_thread), which leaves the running server alone.
 * Thread-safety: any thread; one listen per server. */
WSC_API int wsc_server_listen(wsc_server *srv, void *app);
/* Like wsc_server_listen in a new thread; returns once the server accepts
 * connections. Join *thread after wsc_server_stop. Errors: WSC_ESTATE
 * when the server listens or listened already (no thread is started and
 * *thread is left alone), WSC_ENOMEM, WSC_EIO.
 * Thread-safety: any thread; one listen per server. */
WSC_API int wsc_server_listen_thread(wsc_server *srv, void *app, pthread_t *thread);
/* Stops the server: stops accepting, sends close 1001 to every open
 * connection, runs every close callback, and makes listen return; peers
 * that do not answer the close within 3 s are cut off. During a
 * wsc_server_shutdown, drops the connections left at once instead.
 * Leaves errno as it found it.
 * Thread-safety: any thread, and async-signal-safe (a signal handler). */
WSC_API void wsc_server_stop(wsc_server *srv);
/* Shuts the server down gracefully and waits until it is done: stops
 * accepting, sends close 1001 to every open connection (after what a
 * callback running at that moment writes), and keeps serving: queued
 * output goes out, then the close frame, and each close handshake ends
 * when the peer answers or its TCP connection ends. Nothing accepted for
 * writing before the call is lost for a peer that keeps reading. Writes
 * after the close frame fail with WSC_ECLOSED. Connections still open
 * timeout_ms after the call are dropped. Every close callback runs, once
 * per connection, and listen returns before this does. Returns 0 when
 * every connection ended within timeout_ms; WSC_ETIMEDOUT when some were
 * dropped, at the bound or by a wsc_server_stop (this returns soon after
 * timeout_ms, once the callbacks running then have returned);
 * WSC_EINVAL for a NULL srv; WSC_ESTATE when the server never listened, or
 * when called from a callback (which the server would wait for: call
 * wsc_server_stop there, or hand the shutdown to another thread).
 * A wsc_server_stop during the wait (a second SIGTERM's handler) drops
 * the rest at once. Shutting down a server whose listen returned already
 * returns 0 at once.
 * Thread-safety: any thread but the server's own (its callbacks); not
 * async-signal-safe (it waits on a mutex): a signal handler calls
 * wsc_server_stop, or wakes a thread that calls this. */
WSC_API int wsc_server_shutdown(wsc_server *srv, unsigned timeout_ms);
/* Reads the TLS certificate, key and client CA files again (certificate
 * renewal): connections accepted from now on use them, open connections go
 * on with what they have. On failure (WSC_ETLS, err names the file and the
 * reason; WSC_ENOMEM) the previous files stay in use. WSC_ESTATE when the
 * server has no TLS. Session tickets issued before stay valid.
 * Thread-safety: any thread, while the server runs or not; not
 * async-signal-safe (a SIGHUP handler wakes a thread that calls this). */
WSC_API int wsc_server_reload_tls(wsc_server *srv, wsc_err *err);
/* Frees a server that is not running (after listen returned, or never
 * started). Thread-safety: one thread, after the listen thread ended. */
WSC_API void wsc_server_free(wsc_server *srv);
/* The TCP port the server listens on (useful with WSC_PORT_EPHEMERAL).
 * Thread-safety: any thread. */
WSC_API int wsc_server_port(const wsc_server *srv);
/* True when srv runs in thread-per-connection (blocking) mode.
 * Thread-safety: any thread. */
WSC_API bool wsc_server_blocking(const wsc_server *srv);
/* True when this build has no event loop for the platform and always
 * runs in blocking mode (false on Linux). Thread-safety: any thread. */
WSC_API bool wsc_blocking_mode(void);

/* ---- handshake (valid only during init or http) ------------------------- */

WSC_API wsc_str wsc_handshake_method(const wsc_handshake *hs);
/* url, path and query are those of the origin form ("/chat?room=1"), also for
 * a request line with an absolute URI ("GET ws://host/chat?room=1"). */
WSC_API wsc_str wsc_handshake_url(const wsc_handshake *hs);   /* path and query */
WSC_API wsc_str wsc_handshake_path(const wsc_handshake *hs);
WSC_API wsc_str wsc_handshake_query(const wsc_handshake *hs); /* after '?', raw */
WSC_API wsc_str wsc_handshake_raw(const wsc_handshake *hs);   /* the request (names lowercased) */
/* Value of query parameter `name`, percent-decoded into buf (NUL-terminated).
 * Returns its length, WSC_EFULL when buf is small, WSC_EINVAL when absent or
 * unusable: a bad %XX escape, or a value that decodes to a NUL byte ("%00"),
 * which as a C string would read as a shorter value than was sent. */
WSC_API int wsc_handshake_query_param(const wsc_handshake *hs, const char *name, char *buf,
                                      size_t cap);
/* Header value by case-insensitive name. Only the first
 * handshake.max_headers headers are kept (websocket.zig's rule); Origin,
 * Sec-WebSocket-Protocol and Sec-WebSocket-Extensions are always kept, and so
 * is Host: a valid host[:port], replaced by the URI's authority when the
 * request line has an absolute URI (RFC 9112 3.2.2). */
WSC_API wsc_str wsc_handshake_header(const wsc_handshake *hs, const char *name);
/* Iterates the kept headers: start with *iter = 0; returns false at the end.
 * Names are lowercase (as in websocket.zig), values as sent. */
WSC_API bool wsc_handshake_header_next(const wsc_handshake *hs, size_t *iter, wsc_str *name,
                                       wsc_str *value);
/* Subprotocols (RFC 6455 1.9, 4.2.2). wsc_handshake_protocols iterates the
 * names the client offered, in order: the elements of every
 * Sec-WebSocket-Protocol line as one comma-separated list, empty elements and
 * the whitespace around each skipped (RFC 9110 5.6.1), elements that are not
 * tokens left out (no answer could name them). Start with *iter = 0; returns
 * false at the end (and at once when none were offered). name points into the
 * request: valid during init.
 * wsc_handshake_select_protocol answers with name in the 101
 * (Sec-WebSocket-Protocol: name). Returns 0, WSC_EINVAL when name is NULL or
 * not one of the offered names (compared byte for byte, as the client compares
 * the answer), WSC_ESTATE for a second selection, after a
 * Sec-WebSocket-Protocol added with wsc_handshake_add_response_header, or in
 * the http callback (no 101). Selecting none answers without the header; the
 * client decides whether to go on. The selection is not sent when init
 * refuses the request. wsc_handshake_add_response_header still takes a
 * Sec-WebSocket-Protocol (sent as given, unchecked: prefer select), but
 * returns WSC_ESTATE for one after a selection or another one.
 * Thread-safety: the thread running init. */
WSC_API bool wsc_handshake_protocols(const wsc_handshake *hs, size_t *iter, wsc_str *name);
WSC_API int wsc_handshake_select_protocol(wsc_handshake *hs, const char *name);
/* The peer's address (for a unix socket: family AF_UNIX). */
WSC_API const struct sockaddr *wsc_handshake_address(const wsc_handshake *hs, socklen_t *len);
/* Adds a header to the response (a cookie; WWW-Authenticate
 * when init then rejects with 401): the 101, or the error response when init
 * returns a status (which leaves out Content-Type and Sec-WebSocket-Version,
 * its own), or the answer of http (the same; wsc_handshake_respond sets
 * Content-Type). name and value are copied. Returns WSC_EFULL beyond
 * handshake.max_res_headers, WSC_EINVAL for a name that is not an HTTP token
 * (RFC 9110 5.6.2), a value with a control byte other than HTAB (CR, LF, ...)
 * or DEL, or a header the server sets itself: Upgrade, Connection,
 * Sec-WebSocket-Accept, Content-Length, Transfer-Encoding; WSC_ESTATE for a
 * second subprotocol (see wsc_handshake_select_protocol). */
WSC_API int wsc_handshake_add_response_header(wsc_handshake *hs, const char *name,
                                              const char *value);
/* Sets the answer to a plain HTTP request (in the handler's http callback):
 * status (200..599), Content-Type content_type (NULL or "": none),
 * Content-Length len, Connection: close, the headers added with
 * wsc_handshake_add_response_header (before or after this call), and
 * body[0..len), copied here. It is sent when http returns 0; a second call
 * replaces the first. A 204 or 304 takes no body and is sent without
 * Content-Length. Returns 0, WSC_EINVAL (status out of range, body NULL with
 * len > 0, a body for 204 or 304, a control byte other than HTAB in
 * content_type), WSC_ENOMEM, or WSC_ESTATE for an upgrade request (init
 * answers with its return value). Thread-safety: the thread running http. */
WSC_API int wsc_handshake_respond(wsc_handshake *hs, int status, const char *content_type,
                                  const void *body, size_t len);

/* ---- connections -------------------------------------------------------- */
/* All of these: Thread-safety: any thread, while the connection lives (until
 * its close callback returns, or longer with wsc_conn_retain); writes from
 * one thread are sent in order; they never block a worker loop: what the
 * socket does not take is queued. A write is accepted whole (sent or
 * queued; 0) or refused whole, with nothing of it sent: WSC_ECLOSED once
 * the connection is closing, WSC_EFULL when more than max_buffered bytes
 * were queued already when it was made (the connection then closes with
 * 1008, after what was accepted before). The same in every mode: inline
 * handlers, the handler pool, blocking mode, other threads. To pace a
 * producer, watch wsc_conn_buffered and the drain callback. */

/* Sends one message. data is copied (or written) before return. With
 * permessage-deflate negotiated, a text or binary message of at least
 * deflate.write_threshold bytes is compressed first; compressed messages
 * from every thread reach the peer in the order they were compressed. */
WSC_API int wsc_conn_write(wsc_conn *conn, wsc_msg_type type, const void *data, size_t len);
WSC_API int wsc_conn_write_text(wsc_conn *conn, const char *data, size_t len);
WSC_API int wsc_conn_write_binary(wsc_conn *conn, const void *data, size_t len);
WSC_API int wsc_conn_ping(wsc_conn *conn, const void *data, size_t len); /* len <= 125 */
WSC_API int wsc_conn_pong(wsc_conn *conn, const void *data, size_t len); /* len <= 125 */
/* Sends bytes that are already one or more complete frames (WSC_FRAME_TEXT,
 * wsc_frame_new). On a compressed connection they go as they are (frames
 * without RSV1 are uncompressed messages). */
WSC_API int wsc_conn_write_framed(wsc_conn *conn, const void *frame, size_t len);
/* wsc_conn_write without compression, whatever permessage-deflate
 * negotiated (already compressed data, say). */
WSC_API int wsc_conn_write_uncompressed(wsc_conn *conn, wsc_msg_type type, const void *data,
                                        size_t len);
/* Whether permessage-deflate was negotiated on conn. */
WSC_API bool wsc_conn_compressed(const wsc_conn *conn);
/* Starts the close handshake with code (0: 1000) and reason (NULL or at
 * most 123 bytes of UTF-8). Returns WSC_EINVAL for a code that may not be
 * sent (section 7.4) or a bad reason. The close callback follows. A second
 * call does nothing. */
WSC_API int wsc_conn_close(wsc_conn *conn, unsigned code, const char *reason);
/* Outbound bytes queued and not yet taken by the socket. */
WSC_API size_t wsc_conn_buffered(const wsc_conn *conn);
/* The user pointer init set. */
WSC_API void *wsc_conn_user(const wsc_conn *conn);
/* Keeps conn's memory valid after its close callback; writes then return
 * WSC_ECLOSED. Each retain needs one release. */
WSC_API void wsc_conn_retain(wsc_conn *conn);
WSC_API void wsc_conn_release(wsc_conn *conn);

/* ---- topics (publish/subscribe) ----------------------------------------- */
/* A server keeps named topics: connections subscribe, and a publish sends
 * one message to every subscriber. The message is framed once, into one
 * reference-counted buffer: each subscriber is sent those bytes, and what
 * its socket does not take at once is queued by reference, not copied.
 * Subscribers with permessage-deflate and no context takeover on the
 * server's side get it compressed, once per window size for all of them;
 * the others get it uncompressed (as RFC 7692 allows for any message).
 * Each subscriber is under max_buffered: one that does not read is closed
 * with 1008 and never costs unbounded memory, while the others keep
 * receiving. Subscriptions end with the connection. Messages of one
 * publishing thread reach each subscriber in the order they were published.
 * Topic lookup is a hash table (O(1)); a subscription takes a few dozen
 * bytes. With a cluster attached (wsc_cluster_redis_attach) a publish also
 * reaches the subscribers on the other servers, at most once.
 * Thread-safety: all of these, any thread (callbacks included). */

/* Longest topic name, in bytes (any bytes but NUL). */
#define WSC_TOPIC_MAX 1024

/* Subscribes conn to topic (a second subscription to the same topic does
 * nothing: one delivery per publish). Returns 0, WSC_EINVAL (NULL, empty or
 * longer than WSC_TOPIC_MAX), WSC_ECLOSED when the connection has ended,
 * WSC_ENOMEM. Subscribe in after_init or later: a publish may write at once. */
WSC_API int wsc_conn_subscribe(wsc_conn *conn, const char *topic);
/* Returns 0, WSC_EINVAL, or WSC_ESTATE when conn is not subscribed to it. */
WSC_API int wsc_conn_unsubscribe(wsc_conn *conn, const char *topic);
/* Largest message a publish takes, in bytes (4 GiB less room for its header). */
#define WSC_PUBLISH_MAX (0xFFFFFFFFu - 14u)

/* Sends a text or binary message to every subscriber of topic. Returns the
 * number of local subscribers that accepted it (a refusal closes that one
 * as any refused write does), WSC_EINVAL (bad topic or type, or len above
 * WSC_PUBLISH_MAX), WSC_ENOMEM,
 * or WSC_ENORELAY: with a cluster attached, it was delivered here but could
 * not be handed to the cluster (not connected, or its queue is full), so
 * other servers will not get it. */
WSC_API int wsc_server_publish(wsc_server *srv, const char *topic, wsc_msg_type type,
                               const void *data, size_t len);
/* As wsc_server_publish on conn's server, to every subscriber but conn. */
WSC_API int wsc_conn_publish(wsc_conn *conn, const char *topic, wsc_msg_type type,
                             const void *data, size_t len);

/* ---- cluster: one topic space across servers, through Redis -------------- */
/* wsc_cluster_redis_attach relays a server's publishes through Redis
 * pub/sub (channel = prefix + topic) so that servers attached to the same
 * Redis, behind a load balancer, share their topics: a publish on any of
 * them reaches the subscribers of all. A server subscribes to a channel in
 * Redis only while it has local subscribers to its topic; a local publish
 * reaches the local subscribers directly, once (its echo from Redis is
 * recognised and dropped). Redis I/O runs on a thread of the cluster's own,
 * never on a worker loop or in a handler.
 *
 * Delivery between servers is at most once, as Redis pub/sub is: while the
 * link is down (Redis restarting, a network fault) publishes are delivered
 * locally and wsc_server_publish returns WSC_ENORELAY, and messages
 * published on other servers meanwhile never arrive here. The module
 * reconnects with exponential backoff, subscribes again to every topic that
 * has local subscribers, logs the gap (WSC_LOG_WARN) and reports it to the
 * gap callback. Publishes accepted just before a loss may be lost too; the
 * gap counts them. Available when the library was built with hiredis;
 * otherwise attach fails with WSC_ECONFIG. */
typedef struct wsc_cluster wsc_cluster;

typedef struct wsc_cluster_gap {
    uint64_t duration_ms; /* from the loss of the link to the resubscription */
    uint64_t not_relayed; /* local publishes that did not reach Redis meanwhile */
    unsigned attempts;    /* connection attempts it took */
} wsc_cluster_gap;

typedef struct wsc_cluster_opts {
    const char *prefix;        /* of every channel: "wsc:" (at most 64 bytes) */
    unsigned reconnect_min_ms; /* first retry after a loss: 100 */
    unsigned reconnect_max_ms; /* the backoff doubles up to this: 5000 */
    size_t max_pending;        /* bytes of publishes waiting for Redis: 8 MiB;
                                  beyond, publishes are not relayed */
    /* The link came back after a loss (not called for the first
     * connection). Runs on the cluster's thread: keep it short. */
    void (*gap)(const wsc_cluster_gap *gap, void *user);
    void *user;
} wsc_cluster_opts;

typedef struct wsc_cluster_stats {
    bool connected;       /* the link is up: publishes are relayed */
    uint64_t relayed;     /* local publishes handed to Redis */
    uint64_t not_relayed; /* local publishes that were not (WSC_ENORELAY, or
                             lost with the link) */
    uint64_t received;    /* messages from other servers delivered here */
    uint64_t gaps;        /* losses of the link that were repaired */
} wsc_cluster_stats;

/* Attaches srv to the Redis at url ("redis://HOST:PORT", port 6379 when
 * absent) and starts the cluster's thread, which connects (and keeps
 * reconnecting) in the background: returns at once. opts may be NULL.
 * Returns NULL with err filled: WSC_ECONFIG (a bad url or option, no
 * hiredis in this build), WSC_ESTATE (srv has a cluster already),
 * WSC_ENOMEM, WSC_EIO. Thread-safety: any thread. */
WSC_API wsc_cluster *wsc_cluster_redis_attach(wsc_server *srv, const char *url,
                                              const wsc_cluster_opts *opts, wsc_err *err);
/* Counters so far. Thread-safety: any thread. */
WSC_API void wsc_cluster_get_stats(wsc_cluster *cl, wsc_cluster_stats *st);
/* Detaches from the server (later publishes stay local), stops the thread
 * and frees the cluster. Call before wsc_server_free. NULL: no-op.
 * Thread-safety: any thread but the gap callback's. */
WSC_API void wsc_cluster_detach(wsc_cluster *cl);

/* ---- message writer ----------------------------------------------------- */

typedef struct wsc_writer wsc_writer;

/* A buffer that builds one message and sends it on flush. With an arena
 * (msg->arena in a callback) it lives on the arena and needs no free; with
 * NULL it is on the heap and needs wsc_writer_free. Returns NULL when out of
 * memory. Thread-safety: one thread uses a writer at a time. */
WSC_API wsc_writer *wsc_writer_new(wsc_conn *conn, wsc_msg_type type, wsc_arena *arena);
WSC_API int wsc_writer_write(wsc_writer *w, const void *data, size_t len);
WSC_API int wsc_writer_printf(wsc_writer *w, const char *fmt, ...) WSC_PRINTF(2, 3);
WSC_API int wsc_writer_vprintf(wsc_writer *w, const char *fmt, va_list ap) WSC_PRINTF(2, 0);
/* Bytes buffered so far. */
WSC_API size_t wsc_writer_len(const wsc_writer *w);
/* Sends the buffered bytes as one message and empties the writer. */
WSC_API int wsc_writer_flush(wsc_writer *w);
WSC_API void wsc_writer_free(wsc_writer *w);

/* ---- testing helpers for handlers --------------------------------------- */

typedef struct wsc_test wsc_test;

/* A connected pair of real sockets on 127.0.0.1: wsc_test_conn() is the
 * server side, for handler code under test; the expect functions read what
 * a client would receive. Returns NULL on failure. Thread-safety: one
 * thread. */
WSC_API wsc_test *wsc_test_init(void);
WSC_API wsc_conn *wsc_test_conn(wsc_test *t);
/* Reads the next frame the client side received (waiting up to 2 s) and
 * checks its type and payload. Returns 0, or WSC_EMISMATCH / WSC_ETIMEDOUT
 * with a description on standard error. */
WSC_API int wsc_test_expect_message(wsc_test *t, wsc_msg_type type, const void *data,
                                    size_t len);
/* Checks that the next frame is a close frame. */
WSC_API int wsc_test_expect_close(wsc_test *t);
WSC_API void wsc_test_free(wsc_test *t);

/* ---- client ------------------------------------------------------------- */

typedef struct wsc_client wsc_client;
typedef struct wsc_buffer_provider wsc_buffer_provider;
typedef struct wsc_ca_store wsc_ca_store;

/* A pool of count buffers of size bytes shared by many clients: a message
 * that fits takes a pooled buffer; a larger one, or one arriving while the
 * pool is drained, gets a heap buffer. Free it after its clients.
 * Thread-safety: any thread. */
WSC_API wsc_buffer_provider *wsc_buffer_provider_new(size_t count, size_t size);
WSC_API void wsc_buffer_provider_free(wsc_buffer_provider *p);

/* Trusted CA certificates loaded once and shared by many TLS clients (the
 * CA bundle of websocket.zig). ca_file and ca_path NULL: the system's store. Free it
 * after its clients. Thread-safety: any thread. */
WSC_API wsc_ca_store *wsc_ca_store_new(const char *ca_file, const char *ca_path, wsc_err *err);
WSC_API void wsc_ca_store_free(wsc_ca_store *store);

typedef struct wsc_client_config {
    const char *host;           /* required: name or IP literal */
    int port;                   /* 80 (ws) or 443 (tls) */
    bool tls;                   /* wss: TLS 1.2 or 1.3, SNI, verification */
    bool tls_no_verify;         /* tests only: accept any certificate */
    const char *ca_file;        /* trust these instead of the system store */
    const char *ca_path;
    wsc_ca_store *ca_store;     /* shared store (wins over ca_file/ca_path) */
    size_t max_size;            /* largest message: 65536 (larger: closed with 1009) */
    size_t buffer_size;         /* the client's own read buffer: 4096; messages up
                                   to this size (fragmented or not) are assembled
                                   in it, so max_size == buffer_size means no
                                   allocation after connect */
    wsc_buffer_provider *buffer_provider; /* optional shared pool for messages
                                   over buffer_size (then the heap) */
    unsigned connect_timeout_ms; /* TCP connect plus TLS handshake: 10000 */
    int idle_timeout;           /* seconds; 0 or WSC_TIMEOUT_OFF: off. Runs while
                                   a read waits (wsc_client_read, a read loop),
                                   counted from the upgrade or the last bytes
                                   received. Silent for half of it, the server
                                   gets a ping (unless no_idle_ping), once per
                                   silence; its pong is a message like any pong
                                   (wsc_client_read returns it). Silent for all
                                   of it: the read sends close 1001, waits up to
                                   2 s for the answer, closes the connection
                                   and returns WSC_EIDLE (a read loop ends with
                                   it, after its close callback). To send the
                                   ping or the close the read waits up to 2 s
                                   for a write in progress in another thread */
    bool no_idle_ping;          /* only the close at idle_timeout, no ping */
    bool no_utf8_check;         /* skip UTF-8 validation of text messages from the
                                   server (default: validate; invalid closes 1007) */
    wsc_deflate_config deflate; /* permessage-deflate: off (shared_compressor is
                                   ignored). When enabled, the handshake offers it
                                   and checks the answer: one the client did not
                                   offer or cannot accept fails with
                                   WSC_EHANDSHAKE and a message saying why */
} wsc_client_config;

/* Connects (TCP, then TLS when cfg->tls). The handshake follows with
 * wsc_client_handshake. Returns NULL on failure with err filled:
 * WSC_ECONFIG, WSC_EADDR (name not resolved), WSC_ECONNREFUSED,
 * WSC_ETIMEDOUT, WSC_EIO, WSC_ETLS or WSC_ETLSVERIFY (err->message has
 * OpenSSL's reason, e.g. "self-signed certificate"). Name resolution
 * (getaddrinfo) is not bounded by connect_timeout_ms.
 * Thread-safety: any thread. */
WSC_API wsc_client *wsc_client_new(const wsc_client_config *cfg, wsc_err *err);

typedef struct wsc_handshake_opts {
    unsigned timeout_ms; /* 10000 */
    const char *headers; /* extra raw headers, "Name: value" separated by
                            "\r\n"; Host is added unless present */
    const char *const *protocols; /* subprotocols to offer, in order of
                            preference, NULL-terminated ({"v2.chat", "chat",
                            NULL}); NULL: none. Sent as one
                            Sec-WebSocket-Protocol line */
} wsc_handshake_opts;

/* Sends the upgrade request for path and checks the answer (status 101,
 * Upgrade, Connection, Sec-WebSocket-Accept). opts may be NULL. A non-101
 * answer returns WSC_EHANDSHAKE with err->http_status set.
 * Subprotocols (RFC 6455 4.1): the names in opts->protocols (or, as before,
 * in a Sec-WebSocket-Protocol line of opts->headers; not both: WSC_EINVAL)
 * are offered; each must be a token (RFC 9110 5.6.2) and appear once, else
 * WSC_EINVAL. An answer naming one that was not offered, several, or any when
 * none was offered fails with WSC_EHANDSHAKE and a message saying so; the
 * chosen one is then wsc_client_protocol's.
 * Thread-safety: once, before reads and writes. */
WSC_API int wsc_client_handshake(wsc_client *c, const char *path, const wsc_handshake_opts *opts,
                                 wsc_err *err);
/* wsc_client_new + wsc_client_handshake from a URL: ws://host[:port]/path
 * or wss://..., IPv6 literals in brackets. cfg may be NULL (defaults); its
 * host, port and tls are taken from the URL. */
WSC_API wsc_client *wsc_client_connect_url(const char *url, const wsc_client_config *cfg,
                                           const wsc_handshake_opts *opts, wsc_err *err);

/* The subprotocol the server chose in its 101 (NUL-terminated), or NULL when
 * it chose none or before a successful handshake. Owned by c: valid until
 * wsc_client_free. Thread-safety: any thread after the handshake returned. */
WSC_API const char *wsc_client_protocol(const wsc_client *c);
/* Makes wsc_client_read return WSC_ETIMEDOUT after ms without a complete
 * message (0: block). Thread-safety: the reading thread. */
WSC_API int wsc_client_read_timeout(wsc_client *c, unsigned ms);
/* Reads one complete message: text, binary, ping, pong or close. Returns 0,
 * WSC_ETIMEDOUT, WSC_ECLOSED after the connection ended, WSC_EIDLE when the
 * idle timeout closed it (see wsc_client_config.idle_timeout), or the protocol
 * error that ended it (the matching close frame was sent), or WSC_ESTATE
 * before the handshake and while another thread reads (a read loop, or a
 * wsc_client_read in another thread). Release the message with
 * wsc_client_done. Thread-safety: one reading thread at a time.
 * msg->data is valid (and may be modified, e.g. masked in place by
 * wsc_client_write_in_place) until wsc_client_done or the next read. A ping is
 * returned, not answered: answer it with wsc_client_write_pong, as
 * websocket.zig's read() loop does. A close frame from the server is answered at once
 * (echoing its code) before it is returned; later reads return WSC_ECLOSED.
 * After WSC_ETIMEDOUT a partly received message is kept for the next read. */
WSC_API int wsc_client_read(wsc_client *c, wsc_msg *msg);
WSC_API void wsc_client_done(wsc_client *c, wsc_msg *msg);

/* Writes one frame of type (text, binary, ping, pong, close). data is only
 * read: it is masked while it is copied into the client's write buffer,
 * which grows to fit the frames written up to 64 KiB and is kept (a longer
 * frame goes out through it in pieces). Blocks until the socket took the
 * whole frame. Returns 0, WSC_EINVAL (bad type, a control payload over 125
 * bytes, a close payload the server would refuse), WSC_ESTATE (before the
 * handshake), WSC_ECLOSED (a close frame was sent or the connection ended),
 * WSC_ENOMEM (no write buffer; nothing was sent) or WSC_EIO (the connection
 * broke and is closed). Thread-safety: any thread; frames are never
 * interleaved. */
WSC_API int wsc_client_write(wsc_client *c, wsc_msg_type type, const void *data, size_t len);
WSC_API int wsc_client_write_text(wsc_client *c, const char *data, size_t len);
WSC_API int wsc_client_write_binary(wsc_client *c, const void *data, size_t len);
/* wsc_client_write without permessage-deflate, whatever was negotiated. With
 * it negotiated, the other writes compress text and binary messages of at
 * least deflate.write_threshold bytes (an in-place write sends the
 * compressed copy: data is then left unmasked). */
WSC_API int wsc_client_write_uncompressed(wsc_client *c, wsc_msg_type type, const void *data,
                                          size_t len);
/* Whether permessage-deflate was negotiated. Thread-safety: any thread after
 * the handshake returned. */
WSC_API bool wsc_client_compressed(const wsc_client *c);
WSC_API int wsc_client_write_ping(wsc_client *c, const void *data, size_t len);
WSC_API int wsc_client_write_pong(wsc_client *c, const void *data, size_t len);
/* Like wsc_client_write with no copy: masks data IN PLACE (the caller's
 * buffer holds the masked bytes afterwards, as websocket.zig's writes leave
 * it) and sends it from there. For large frames whose copy would cost.
 * Same errors, but never WSC_ENOMEM. */
WSC_API int wsc_client_write_in_place(wsc_client *c, wsc_msg_type type, void *data, size_t len);
/* The earlier name of wsc_client_write, kept so that code using it builds. */
WSC_API int wsc_client_write_copy(wsc_client *c, wsc_msg_type type, const void *data, size_t len);
/* Sends a close frame (code 0: 1000; reason NULL or <= 123 bytes) and
 * closes the connection once the server answers (or after a short wait, 2 s).
 * The answer is read by the thread that is reading (a read loop or a blocked
 * wsc_client_read), else by this call, which then returns when the close
 * handshake is over. Returns 0 (also when already closed: a no-op), or
 * WSC_EINVAL for a code that may not be sent (section 7.4) or a reason that
 * is too long or not UTF-8. Thread-safety: any thread, also from a read loop
 * callback (the loop then ends once the answer arrives). */
WSC_API int wsc_client_close(wsc_client *c, unsigned code, const char *reason);
/* The code of the close frame that began the end of the connection: the
 * first one sent or received (1005 when it had no code), with *from_server
 * (may be NULL) telling whose it was. 0 while no close frame was sent or
 * received: the connection is open, or it broke (a read or a loop returned
 * WSC_ECLOSED or WSC_EIO) without any. So after a read or a loop ended:
 * 1002, 1007 or 1009 and !*from_server when this client failed the
 * connection (the result was WSC_EPROTO, WSC_EUTF8 or WSC_ETOOBIG); 1011
 * when a read loop callback failed; the server's code when it closed first.
 * A close frame counts as sent from the moment it began to be written.
 * Thread-safety: any thread. */
WSC_API unsigned wsc_client_close_code(const wsc_client *c, bool *from_server);

/* Callbacks of a read loop; only message is required. Returning non-zero
 * from a callback ends the loop (closing with 1011). */
typedef struct wsc_client_handler {
    int (*message)(wsc_client *c, void *user, const wsc_msg *msg);
    /* NULL: answer with a pong. */
    int (*ping)(wsc_client *c, void *user, const uint8_t *data, size_t len);
    /* NULL: ignore. */
    int (*pong)(wsc_client *c, void *user, const uint8_t *data, size_t len);
    /* NULL: answer the close handshake (echoing the code) and end the loop.
     * Non-NULL: called first; it may answer with wsc_client_close (its own
     * code and reason); if it did not, the loop answers as for NULL (with
     * 1011 when it returned non-zero). The loop ends either way. */
    int (*close_frame)(wsc_client *c, void *user, unsigned code, const uint8_t *reason,
                       size_t reason_len);
    /* Called exactly once per wsc_client_read_loop or
     * wsc_client_read_loop_thread that was given this handler (with c, h
     * and h->message set, so not when it returned WSC_EINVAL): when the loop
     * ends, and also when it could not start (see their errors), in the
     * thread that learnt it, before that function returns. */
    void (*close)(wsc_client *c, void *user);
} wsc_client_handler;

/* Reads messages and dispatches them until the connection ends. Returns 0
 * after a clean close (a completed close handshake, whoever started it), the
 * non-zero value a callback returned, or the error that ended the connection
 * (WSC_ECLOSED when it dropped without a close handshake, WSC_EIDLE when the
 * idle timeout closed it; WSC_EPROTO, WSC_EUTF8, WSC_ETOOBIG when this client
 * failed it: wsc_client_close_code tells the code sent). It does not start,
 * returning WSC_ESTATE, before the handshake or while another thread reads
 * (a read loop, wsc_client_read), or WSC_ECLOSED (or 0 after a completed
 * close handshake) when the connection has ended; h->close runs in every
 * case but WSC_EINVAL. Messages are not dispatched after our close frame was
 * sent. Thread-safety: one thread; writes and close from others are fine. */
WSC_API int wsc_client_read_loop(wsc_client *c, const wsc_client_handler *h, void *user);
/* Runs the read loop in a new thread (join or detach *thread). Returns 0
 * once the thread started (the loop's own result is not reported: keep it
 * from the callbacks), WSC_EINVAL, or WSC_ENOMEM / WSC_EIO when no thread
 * could be started: h->close then runs in the calling thread before this
 * returns. */
WSC_API int wsc_client_read_loop_thread(wsc_client *c, const wsc_client_handler *h, void *user,
                                        pthread_t *thread);
/* Closes the socket if open and frees the client. Thread-safety: after
 * every other use, including a read loop thread, has ended. */
WSC_API void wsc_client_free(wsc_client *c);

#ifdef __cplusplus
}
#endif
#endif

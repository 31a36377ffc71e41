/* Transports: a byte stream over a connected, non-blocking socket, plain TCP or OpenSSL TLS, behind
 * one small table of functions so the code above (the client, and the server's TLS connections)
 * reads and writes them the same way. All operations are non-blocking: a caller that gets
 * WSC__IO_WANT_READ/WRITE waits with wsc__fd_wait(t->fd, POLLIN/POLLOUT, deadline) and tries again.
 *
 * Threads: one thread may read while others write (the writers serialised by the caller): the TLS
 * transport takes an internal lock around every OpenSSL call, because an SSL object must never be
 * used by two threads at once, and never holds it while waiting. shutdown may be called from any
 * thread at any time, to end the stream and wake a thread blocked in poll on the socket. */
#ifndef WSC_IO_TLS_H
#define WSC_IO_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "wsc.h"

/* Results of read and write besides a byte count (> 0) or 0 (read: the peer ended the stream). */
enum {
    WSC__IO_WANT_READ = -1,  /* wait for POLLIN, then call again */
    WSC__IO_WANT_WRITE = -2, /* wait for POLLOUT, then call again (TLS may need to write to read) */
    WSC__IO_ERROR = -3 /* the stream is broken: t->sys_errno tells why (0: a TLS error, logged) */
};

typedef struct wsc__transport wsc__transport;

typedef struct wsc__transport_ops {
    const char *name; /* "tcp" or "tls", for logs */
    /* Reads up to len bytes into buf. Returns > 0, 0 at the end of the stream, or WSC__IO_*. */
    ptrdiff_t (*read)(wsc__transport *t, void *buf, size_t len);
    /* Writes a prefix of the iovecs (TLS may coalesce them into one record). Returns the bytes
       taken
       (> 0) or WSC__IO_*; never 0 for a non-empty request. */
    ptrdiff_t (*writev)(wsc__transport *t, const struct iovec *iov, int iovcnt);
    /* Ends the stream (TLS: a best-effort close_notify first) and shuts the socket down in both
       directions, which wakes any thread polling it. Idempotent. The fd stays open until free. */
    void (*shutdown)(wsc__transport *t);
    /* Closes the socket and frees the transport. After every other use has ended. */
    void (*free)(wsc__transport *t);
} wsc__transport_ops;

struct wsc__transport {
    const wsc__transport_ops *ops;
    int fd;               /* the socket: poll it for readiness */
    atomic_int sys_errno; /* errno of the last failed socket call, 0 if none (atomic: the reading
                             and a writing thread may both fail at once when the stream breaks) */
};

/* Plain TCP over fd (which the transport now owns). NULL when out of memory (fd is then closed).
 * Thread-safety: any thread. */
wsc__transport *wsc__transport_tcp_new(int fd);

/* What a TLS client connection needs. */
typedef struct wsc__tls_opts {
    const char *host;    /* server name for SNI and verification (a DNS name or an IP literal) */
    bool no_verify;      /* accept any certificate (tests only) */
    const char *ca_file; /* trust these CAs instead of the system's (ignored with ca_store) */
    const char *ca_path;
    wsc_ca_store *ca_store; /* shared CA store and TLS context, or NULL */
} wsc__tls_opts;

/* Runs a TLS 1.2/1.3 client handshake on connected socket fd before deadline: SNI with host (not
 * for IP literals, RFC 6066 section 3), and unless no_verify the certificate chain against the
 * trusted CAs and the host name (or IP address) against the certificate. On success *out owns fd.
 * On failure fd is left open (the caller closes it) and the result is WSC_ETLSVERIFY (err->message
 * has OpenSSL's verification reason), WSC_ETLS (OpenSSL's reason), WSC_ETIMEDOUT, WSC_ECLOSED (the
 * peer hung up), WSC_EIO or WSC_ENOMEM. Thread-safety: any thread. */
int wsc__tls_client_new(int fd, const wsc__tls_opts *opts, int64_t deadline, wsc__transport **out,
                        wsc_err *err);

/* Frees t but leaves its socket open: for a server connection, whose socket the connection closes
 * itself. */
void wsc__transport_free_keep_fd(wsc__transport *t);
/* The last read of a TLS transport returned WANT_WRITE (its handshake's answer did not fit the
 * socket): the reader retries once the socket is writable. False for TCP. The reading thread's. */
bool wsc__tls_read_wants_write(const wsc__transport *t);
/* After a read that returned bytes: false when another read would find nothing (the socket was
 * drained and OpenSSL holds no further record), so the reader may wait for the next event. The
 * reading thread's. */
bool wsc__tls_read_more(wsc__transport *t);
/* Sends TLS's close_notify once the handshake is done (best effort, no wait); nothing may be
 * written after it. Does not touch the socket otherwise. No-op for TCP. Any thread. */
void wsc__tls_close_notify(wsc__transport *t);

/* ---- the server side ---- */

/* The server's certificate and settings. The files are read again by each reload. */
typedef struct wsc__tls_server_opts {
    const char *cert_file, *key_file; /* PEM: chain (leaf first), private key */
    const char *ca_file, *ca_path;    /* either set: client certificates are verified */
    bool client_cert_optional;        /* then a client without one is admitted too */
    int min_version, max_version;     /* TLS1_2_VERSION or TLS1_3_VERSION */
    bool no_tickets;                  /* no session resumption */
} wsc__tls_server_opts;

/* A server's TLS context: shared by its connections, swapped by reload. */
typedef struct wsc__tls_server wsc__tls_server;

/* Loads the files. Returns 0, WSC_ETLS (err->message names the file and OpenSSL's reason) or
 * WSC_ENOMEM. Thread-safety: any thread. */
int wsc__tls_server_new(const wsc__tls_server_opts *o, wsc__tls_server **out, wsc_err *err);
/* Reads the files again: connections accepted from now on use them, open ones keep what they
 * have. On failure the old context stays in use. Thread-safety: any thread, also while
 * connections are accepted. */
int wsc__tls_server_reload(wsc__tls_server *s, wsc_err *err);
/* After every connection it made is freed. */
void wsc__tls_server_free(wsc__tls_server *s);
/* A transport for the accepted socket fd (not owned: free it with wsc__transport_free_keep_fd),
 * its server handshake pending: reads and writes run it, non-blocking, as they go. NULL when out
 * of memory. Thread-safety: any thread. */
wsc__transport *wsc__tls_server_accept(wsc__tls_server *s, int fd);

#endif

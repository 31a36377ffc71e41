/* The client's internal state, shared by the files of src/client/.
 *
 * Threads. One thread at a time reads (wsc_client_read, a read loop, or wsc_client_close draining
 * the close handshake): it alone touches the reader, the read buffer and the message being
 * assembled; the "reader role" is claimed under mu. Any thread may write: wmu serialises whole
 * frames, so frames from different threads never interleave. mu guards the connection state and is
 * only held for short moments, never across I/O. Lock order: wmu before mu; the TLS transport's own
 * lock is innermost.
 *
 * The reader never waits for wmu. A writer blocked on a full socket holds wmu; if the reader then
 * waited for it to send an automatic pong or close reply, nobody would read, and a peer that is
 * itself blocked writing to us (and so not reading) would never drain: both sides would stall for
 * good. So automatic replies go through a pending slot under mu (the latest ping's payload, as
 * section 5.5.3 allows, and a close code): whoever holds wmu sends them before and after its own
 * frame (never inside it: a control frame may only come between frames) and checks once more after
 * letting go of wmu. The blocked writer polls for POLLOUT only: the reader keeps reading on its own,
 * and a writer that also woke on POLLIN would spin on bytes it must not consume. */
#ifndef WSC_CLIENT_CLIENT_H
#define WSC_CLIENT_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn/conn_deflate.h"
#include "io/tls.h"
#include "mem/pool.h"
#include "proto/reader.h"
#include "wsc.h"

enum {
    WSC__CLIENT_BUFFER_SIZE = 4096,
    WSC__CLIENT_BUFFER_SIZE_MAX = 1 << 30,
    WSC__CLIENT_MAX_SIZE = 65536,
    WSC__CLIENT_CONNECT_TIMEOUT_MS = 10000,
    WSC__CLIENT_HANDSHAKE_TIMEOUT_MS = 10000,
    /* How long a close waits for the server's answering close frame before dropping the TCP
       connection (RFC 6455 section 7.1.1 leaves the wait to the endpoint). */
    WSC__CLIENT_CLOSE_WAIT_MS = 2000,
    /* After answering the server's close frame, how long to wait for the server to close the TCP
       connection first (section 7.1.1: so that TIME_WAIT stays on the server) before closing it. */
    WSC__CLIENT_LINGER_MS = 1000,
    /* The read buffer is buffer_size plus this much: a message of up to buffer_size bytes is
       assembled inside it and still leaves room for a frame header or a whole control frame
       (at most WSC__CONTROL_FRAME_MAX = 139 bytes) arriving between its fragments, so
       max_size == buffer_size never needs another buffer. */
    WSC__CLIENT_SLACK = 256,
    /* The handshake response is read into the read buffer: never smaller than this. */
    WSC__CLIENT_MIN_RBUF = 2048,
    /* The write buffer, where a frame is masked while it is copied (the caller's data stays as it
       was): allocated at the first write and grown to fit the frames written, from WBUF_MIN up to
       WBUF_MAX bytes (powers of two); a longer frame goes out through it in WBUF_MAX pieces. */
    WSC__CLIENT_WBUF_MIN = 256,
    WSC__CLIENT_WBUF_MAX = 64 * 1024
};

/* Connection state (c->state). */
enum {
    WSC__CS_NEW,     /* connected, upgrade not done yet */
    WSC__CS_OPEN,    /* upgraded; we have not sent a close frame */
    WSC__CS_CLOSING, /* we sent a close frame and wait for the server's */
    WSC__CS_CLOSED   /* over; the transport is shut down */
};

/* Where the message being assembled (or the one last returned) lives. */
enum {
    WSC__MB_NONE,
    WSC__MB_RBUF, /* inside the read buffer: rbuf[mstart .. mstart + mlen) */
    WSC__MB_POOL, /* a buffer of the buffer provider's pool */
    WSC__MB_HEAP  /* a heap buffer, grown as bytes arrive, at most max_size */
};

struct wsc_buffer_provider {
    wsc__pool *pool;
    size_t size;
};

struct wsc_client {
    wsc__transport *t;
    char *host; /* without brackets */
    char *protocol; /* the subprotocol the server chose, NULL: none (set by the handshake) */
    wsc__pmd_settings pmd_cfg; /* permessage-deflate to offer (pmd_cfg.neg.enabled false: none) */
    wsc__pmd_conn *pmd;        /* negotiated compression, set by the handshake (NULL: none); its
                                  inflater is the reader's, its deflater wmu's */
    bool inflating;        /* reader: the message in progress is compressed (assembled off rbuf) */
    unsigned reader_flags; /* WSC__READER_* before negotiation */
    int port;
    bool tls;
    size_t max_size;
    size_t buffer_size;
    wsc_buffer_provider *provider;
    int64_t idle_ms; /* idle_timeout in milliseconds, 0: off */
    bool idle_ping;  /* ping at half idle_ms */

    /* reader role only */
    wsc__reader reader;
    uint8_t *rbuf;
    size_t rcap, rstart, rend; /* raw bytes not parsed yet: rbuf[rstart .. rend) */
    int mmode;                 /* WSC__MB_*: the message in progress */
    size_t mstart, mlen; /* WSC__MB_RBUF: offset in rbuf; length in any mode */
    uint8_t *mbuf;       /* WSC__MB_POOL / WSC__MB_HEAP */
    size_t mcap;
    int held_mode; /* buffer of the message last returned, until wsc_client_done */
    uint8_t *held;
    size_t held_cap;
    unsigned read_timeout_ms;
    int64_t heard_ms; /* idle timer: when bytes last arrived from the server (or the upgrade) */
    bool idle_pinged; /* idle timer: the server was pinged since heard_ms */

    /* writers */
    pthread_mutex_t wmu;
    uint8_t *wbuf; /* wmu: the write buffer (WSC__CLIENT_WBUF_*), NULL before the first copy */
    size_t wcap;

    /* automatic replies waiting for wmu: guarded by mu; pend_any is a hint readable without it */
    atomic_bool pend_any;
    bool pend_pong, pend_close;
    uint8_t pend_pong_data[125];
    size_t pend_pong_len;
    unsigned pend_close_code; /* 1005: an empty close payload */

    /* shared: mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;         /* state changes, the end of a reader role (CLOCK_MONOTONIC) */
    atomic_int state;            /* WSC__CS_*: written under mu, read anywhere */
    atomic_llong close_deadline; /* WSC__CS_CLOSING: when to give up waiting for the answer */
    bool peer_closed;            /* a close frame arrived */
    bool reader_active;
    bool reader_known; /* reader_tid is set */
    pthread_t reader_tid;
    int end_rc; /* what ended the connection: 0 for a completed close handshake */
    unsigned close_code;  /* the first close frame sent or received (1005: no code), 0: none yet */
    bool close_by_server; /* ... and it was the server's */
};

/* ---- client_io.c: waiting reads and writes on the transport ---- */

/* Writes every byte of iov before deadline (waiting while the socket is full). Returns 0,
 * WSC_ETIMEDOUT or WSC_EIO. Caller holds wmu. */
int wsc__client_write_all(wsc_client *c, struct iovec *iov, int iovcnt, int64_t deadline);

/* Reads what is available (at least one byte) into rbuf[rend .. rcap), waiting until deadline (and,
 * once closing, not beyond the close deadline). Returns 0, WSC_ETIMEDOUT, WSC_ECLOSED (end of
 * stream) or WSC_EIO. Reader role. */
int wsc__client_fill(wsc_client *c, int64_t deadline);

/* Reads and discards until the server ends the stream or deadline passes, without touching the
 * read buffer (a close reason handed out may point into it). Reader role. */
void wsc__client_linger(wsc_client *c, int64_t deadline);

/* Marks the connection over with rc (first caller wins) and shuts the transport down, which wakes
 * every thread waiting on the socket. mark_closed takes mu; the _locked variant expects it held. */
void wsc__client_mark_closed(wsc_client *c, int rc);
void wsc__client_mark_closed_locked(wsc_client *c, int rc);

/* ---- client_write.c ---- */

/* Sends one frame, masking data in place (copy false) or while copying it into the write buffer
 * (copy true: data is only read). A close frame moves the state to CLOSING. deadline bounds the
 * wait for wmu and the socket. Returns 0, WSC_ESTATE (before the handshake), WSC_ECLOSED (close
 * already sent or connection over), WSC_ENOMEM (copy: no write buffer; nothing was sent),
 * WSC_ETIMEDOUT, WSC_EIO. */
int wsc__client_send(wsc_client *c, unsigned opcode, void *data, size_t len, bool copy,
                     int64_t deadline);
/* Or'ed into wsc__client_send's opcode: never compress this message. */
enum { WSC__CLIENT_PLAIN = 0x100 };

/* Records the first close frame of the connection (sent, or received when by_server), for
 * wsc_client_close_code. Caller holds mu. */
void wsc__client_note_close_locked(wsc_client *c, unsigned code, bool by_server);

/* Sends a close frame with code (1005 or 0: empty payload) and reason, unless one was sent already
 * (then WSC_ECLOSED). Bounded by deadline. */
int wsc__client_send_close(wsc_client *c, unsigned code, const char *reason, size_t reason_len,
                           int64_t deadline);

/* Sends an automatic pong (the payload of the latest ping) or close reply (opcode WSC__OP_CLOSE,
 * with code) without waiting for wmu: when another thread holds it, the reply is left pending for
 * that thread, which sends it right after its current frame. A pong already pending is replaced.
 * Reader role; never blocks on a full socket for a pong (it stays pending until the socket takes
 * it). */
void wsc__client_send_auto(wsc_client *c, unsigned opcode, const uint8_t *data, size_t len,
                           unsigned code);

/* Sends pending automatic replies if wmu is free and the socket can take them (reader role). */
void wsc__client_flush_pending(wsc_client *c);

/* Answers a close frame from the server with code (section 5.5.1) through the pending slot, waits
 * (bounded) until the answer is out, waits (bounded) for the server to close the TCP connection,
 * then ends the connection. Reader role. */
void wsc__client_answer_close(wsc_client *c, unsigned code);

/* ---- client_read.c ---- */

/* Reads the next message or control frame into msg (reader role held). answer_close: a close frame
 * from the server is answered at once (echoing its code). Returns 0 or an error; protocol errors
 * send their close code and end the connection. */
int wsc__client_read_msg(wsc_client *c, wsc_msg *msg, int64_t deadline, bool answer_close);

/* Releases the buffer of the message last returned (reader role). */
void wsc__client_release(wsc_client *c);

/* Claims the reader role for the calling thread, waiting while wsc_client_close drains. Returns 0,
 * WSC_ESTATE (another thread reads, or no handshake yet) or WSC_ECLOSED. */
int wsc__client_reader_claim(wsc_client *c);
void wsc__client_reader_release(wsc_client *c);

/* Reads and discards until the close handshake completes or the close deadline passes (reader
 * role). */
void wsc__client_drain(wsc_client *c);

#endif

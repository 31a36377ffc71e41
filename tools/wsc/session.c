/* A connected `wsc connect`: the main thread sends lines of standard input, a reader thread prints
 * what arrives.
 *
 * The main thread waits in poll() on standard input and on a pipe that wakes it: the reader thread
 * writes 'e' to it when the connection has ended, the signal handler 's' for SIGINT and SIGTERM.
 * Our close frame is written by the main thread like any frame; the reader thread reads the
 * answer. (wsc_client_close would read it itself if it came before the reader thread's first read,
 * and the messages before the answer would be lost.) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

/* How long to wait, after our close frame, for the reader thread to end. The library gives up on
   the server's answer after 2 s; this only guards against waiting for ever if that ever failed. */
#define CLOSE_BOUND_MS 10000
/* Standard input is read in pieces of at least this much. */
#define READ_CHUNK 65536

struct session {
    wsc_client *c;
    const struct session_opts *o;
    int wake[2];
    /* Written by the reader thread, read by the main thread after joining it. */
    bool got_close;      /* the server's close frame arrived (started by it, or its answer) */
    unsigned close_code; /* its code, 1005 when it had none */
    int read_rc;         /* 0 after the close frame, else the error that ended the reads */
};

static int signal_fd = -1;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char b = 's';
    ssize_t r = write(signal_fd, &b, 1); /* non-blocking: a full pipe has woken the loop already */
    (void)r;
    errno = saved;
}

static void wake(struct session *s, char why)
{
    ssize_t r = write(s->wake[1], &why, 1);
    (void)r;
}

/* ---- the reader thread ---- */

/* A control frame's payload on standard error: as text when it is printable ASCII, else hex. */
static void print_payload(const uint8_t *data, size_t len)
{
    bool text = true;
    for (size_t i = 0; i < len && text; i++)
        text = data[i] >= 0x20 && data[i] < 0x7f;
    if (text) {
        fprintf(stderr, " \"%.*s\"", (int)len, (const char *)data);
    } else {
        fputs(" 0x", stderr);
        hex_print(stderr, data, len);
    }
}

static void report(const char *what, const uint8_t *data, size_t len)
{
    flockfile(stderr);
    fputs(what, stderr);
    print_payload(data, len);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* A text or binary message: on standard output, one a line (binary as hex, so that its bytes
   cannot break the lines); with --echo, back to the server. */
static void on_message(struct session *s, const wsc_msg *m)
{
    if (m->type == WSC_BINARY)
        hex_print(stdout, m->data, m->len);
    else
        fwrite(m->data, 1, m->len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    /* A failed write ends the connection, which the next read tells. */
    if (s->o->echo)
        (void)wsc_client_write(s->c, m->type, m->data, m->len);
}

static void on_close_frame(struct session *s, const wsc_msg *m)
{
    s->got_close = true;
    s->close_code = m->close_code;
    flockfile(stderr);
    fprintf(stderr, "close %u", m->close_code);
    if (m->len)
        fprintf(stderr, " \"%.*s\"", (int)m->len, (const char *)m->data);
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* Reads until the close frame (which the library has answered when the server sent it first) or
   the end of the connection. Not the library's read loop: that one drops the messages that arrive
   after our close frame, and here they are the answers to the last lines sent. The read timeout
   only brings the thread back to the library now and then, which ends the wait for the server's
   close frame 2 s after ours. */
static void *reader(void *arg)
{
    struct session *s = arg;
    int rc;
    wsc_client_read_timeout(s->c, 1000);
    for (;;) {
        wsc_msg m;
        rc = wsc_client_read(s->c, &m);
        if (rc == WSC_ETIMEDOUT)
            continue;
        if (rc)
            break;
        switch (m.type) {
        case WSC_TEXT:
        case WSC_BINARY:
            on_message(s, &m);
            break;
        case WSC_PING:
            report("ping", m.data, m.len);
            (void)wsc_client_write_pong(s->c, m.data, m.len); /* returned, not answered */
            break;
        case WSC_PONG:
            report("pong", m.data, m.len);
            break;
        case WSC_CLOSE:
            on_close_frame(s, &m);
            break;
        }
        wsc_client_done(s->c, &m);
        if (s->got_close)
            break;
    }
    s->read_rc = s->got_close ? 0 : rc;
    wake(s, 'e');
    return NULL;
}

/* ---- standard input ---- */

struct input {
    char *buf;
    size_t len, cap, max; /* max: the longest line taken */
    size_t scanned;       /* buf[0..scanned) holds no newline */
    bool open;
};

static int send_line(struct session *s, char *line, size_t len)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (!s->o->binary)
        return wsc_client_write_text(s->c, line, len);
    long n = hex_decode((uint8_t *)line, line, len);
    if (n < 0) {
        tool_error("not sent: the line is not hex (two digits a byte)");
        return 0;
    }
    return wsc_client_write_binary(s->c, line, (size_t)n);
}

/* Reads what standard input has and sends every complete line (and, at its end, the rest).
   Returns 0 while the input lasts, 1 at its end, or a negative error (a failed write, a line over
   the limit, a read error). */
static int pump_input(struct session *s, struct input *in)
{
    if (in->cap - in->len < READ_CHUNK && in->cap < in->max + 1) {
        size_t cap = in->cap ? in->cap * 2 : 2 * READ_CHUNK;
        if (cap > in->max + 1)
            cap = in->max + 1;
        char *b = realloc(in->buf, cap);
        if (!b)
            return WSC_ENOMEM;
        in->buf = b;
        in->cap = cap;
    }
    ssize_t n = read(STDIN_FILENO, in->buf + in->len, in->cap - in->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n < 0) {
        tool_error("standard input: %s; closing", strerror(errno));
        n = 0; /* as its end */
    }
    in->len += (size_t)n;

    size_t start = 0;
    char *nl;
    while ((nl = memchr(in->buf + in->scanned, '\n', in->len - in->scanned)) != NULL) {
        size_t end = (size_t)(nl - in->buf);
        int rc = send_line(s, in->buf + start, end - start);
        if (rc)
            return rc;
        start = in->scanned = end + 1;
    }
    in->scanned = in->len;
    memmove(in->buf, in->buf + start, in->len - start);
    in->len -= start;
    in->scanned -= start;
    if (n == 0) {
        int rc = in->len ? send_line(s, in->buf, in->len) : 0;
        in->len = in->scanned = 0;
        return rc ? rc : 1;
    }
    if (in->len == in->max + 1) {
        tool_error("a line of input is longer than %zu bytes", in->max);
        return WSC_ETOOBIG;
    }
    return 0;
}

/* Our close frame, 1000. A failure means the connection is ending already. */
static void send_close(struct session *s)
{
    uint8_t normal[2] = {WSC_CLOSE_NORMAL >> 8, WSC_CLOSE_NORMAL & 0xff};
    (void)wsc_client_write(s->c, WSC_CLOSE, normal, sizeof normal);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the main loop ---- */

/* Sends input until it ends (then closes, unless --echo) or the connection does. Returns false
   when the reader thread did not end in time after our close frame. Sets *input_rc to the failure
   that ended the input (0 if none). */
static bool pump(struct session *s, int *input_rc)
{
    struct input in = {.max = s->o->max_line, .open = true};
    int64_t close_by = -1; /* set once our close frame is out */
    bool ended = false;

    *input_rc = 0;
    while (!ended) {
        struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN},
                              {.fd = in.open ? STDIN_FILENO : -1, .events = POLLIN}};
        int timeout = -1;
        if (close_by >= 0) {
            int64_t left = close_by - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        int n = poll(p, 2, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the bound after our close passed (or poll failed) */
        bool close_now = false;
        if (p[0].revents & POLLIN) {
            char why[16];
            ssize_t k = read(s->wake[0], why, sizeof why);
            for (ssize_t i = 0; i < k; i++) {
                ended |= why[i] == 'e';
                close_now |= why[i] == 's';
            }
        }
        if (!ended && in.open && p[1].revents) {
            int rc = p[1].revents & POLLNVAL ? 1 : pump_input(s, &in);
            if (rc) {
                in.open = false;
                if (rc < 0)
                    *input_rc = rc;
                /* End of input closes, except for an echo client, which the server drives. A
                   failed write needs no close of ours: the connection is ending already. */
                close_now |= (rc == 1 && !s->o->echo) || rc == WSC_ETOOBIG || rc == WSC_ENOMEM;
            }
        }
        if (close_now && close_by < 0 && !ended) {
            close_by = now_ms() + CLOSE_BOUND_MS;
            send_close(s);
        }
    }
    free(in.buf);
    return ended;
}

/* What the exit status says about how the connection ended. */
static int end_status(const struct session *s, int input_rc)
{
    int rc = s->read_rc;
    if (rc == 0) {
        unsigned code = s->close_code;
        if (s->got_close && code != WSC_CLOSE_NORMAL && code != WSC_CLOSE_GOING_AWAY &&
            code != WSC_CLOSE_NO_STATUS) {
            tool_error("closed by the server with code %u", code);
            return STATUS_SERVER_CLOSE;
        }
        if (input_rc == WSC_ETOOBIG || input_rc == WSC_ENOMEM)
            return STATUS_FAILED;
        return STATUS_OK;
    }
    switch (rc) {
    case WSC_EPROTO:
    case WSC_EUTF8:
    case WSC_ETOOBIG:
        tool_error("the server broke the protocol: %s; closed with %u", wsc_strerror(rc),
                   rc == WSC_EUTF8     ? 1007u
                   : rc == WSC_ETOOBIG ? 1009u
                                       : 1002u);
        return STATUS_PROTOCOL;
    case WSC_ECLOSED:
        tool_error("the connection ended without a close handshake");
        return STATUS_IO;
    case WSC_EIO:
    case WSC_ETIMEDOUT:
    case WSC_EIDLE:
        tool_error("connection lost: %s", wsc_strerror(rc));
        return STATUS_IO;
    default:
        tool_error("connection ended: %s", wsc_strerror(rc));
        return STATUS_FAILED;
    }
}

int session_run(wsc_client *c, const struct session_opts *o)
{
    struct session s = {.c = c, .o = o};
    if (pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        tool_error("pipe: %s", strerror(errno));
        return STATUS_FAILED;
    }
    signal_fd = s.wake[1];
    /* A second signal kills: a write blocked on a server that stopped reading has no end. */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The reader thread takes no signal: they all go to the main thread's poll. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pthread_t tid;
    int err = pthread_create(&tid, NULL, reader, &s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        tool_error("cannot start the reader thread: %s", strerror(err));
        return STATUS_FAILED;
    }

    int input_rc;
    if (!pump(&s, &input_rc)) {
        /* The library bounds its close wait; this is the guard should that ever fail. */
        tool_error("the connection did not end after the close; exiting");
        fflush(stdout);
        _exit(STATUS_IO);
    }
    pthread_join(tid, NULL);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal_fd = -1;
    close(s.wake[0]);
    close(s.wake[1]);
    return end_status(&s, input_rc);
}

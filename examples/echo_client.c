/* echo_client: sends each line of standard input as a text message to a WebSocket server and prints
 * every message it receives on its own line.
 *
 *     echo_client [--no-verify] [--ca FILE] [--deflate] ws://host[:port]/path
 *     echo_client wss://example.com/chat < lines.txt
 *     echo_client --echo [--deflate] ws://host[:port]/path
 *
 * When standard input ends it waits for as many messages as it sent (the echoes), then runs the
 * close handshake and exits 0 if the handshake completed. The read loop runs in the main thread
 * while a second thread sends the lines: wsc client writes and close are thread-safe.
 *
 * --deflate offers permessage-deflate (every message compressed when it is agreed). --echo turns
 * it around: every text and binary message from the server goes back unchanged (same type), pings
 * are answered and so is the close handshake; it exits 0 when the server closes cleanly. That is
 * how conformance suites drive a client. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsc.h"

/* How long to wait for the echoes of what was sent once standard input has ended. */
#define ECHO_WAIT_SECONDS 10

struct state {
    wsc_client *c;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned long sent, received;
    bool input_done; /* standard input ended (or a send failed): the sender is about to finish */
    bool ended;      /* the read loop is over */
    int send_error;
};

static int on_message(wsc_client *c, void *user, const wsc_msg *msg)
{
    struct state *s = user;
    (void)c;
    fwrite(msg->data, 1, msg->len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_lock(&s->mu);
    s->received++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static void on_close(wsc_client *c, void *user)
{
    struct state *s = user;
    (void)c;
    pthread_mutex_lock(&s->mu);
    s->ended = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* --echo: the message goes back as it came. */
static int on_echo(wsc_client *c, void *user, const wsc_msg *msg)
{
    (void)user;
    int rc = wsc_client_write(c, msg->type, msg->data, msg->len);
    /* The server may close right after its last message: a closed connection is no failure. */
    return rc == WSC_ECLOSED ? 0 : rc;
}

static void *sender(void *arg)
{
    struct state *s = arg;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        /* The line buffer is ours to change: the client masks it in place, no copy. */
        int rc = wsc_client_write_in_place(s->c, WSC_TEXT, line, len);
        pthread_mutex_lock(&s->mu);
        if (rc == 0)
            s->sent++;
        else
            s->send_error = rc;
        pthread_mutex_unlock(&s->mu);
        if (rc)
            break;
    }
    free(line);
    pthread_mutex_lock(&s->mu);
    s->input_done = true;
    pthread_mutex_unlock(&s->mu);

    /* Wait for the echoes before closing, or our close frame would overtake them. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ECHO_WAIT_SECONDS;
    pthread_mutex_lock(&s->mu);
    while (s->received < s->sent && !s->ended)
        if (pthread_cond_timedwait(&s->cond, &s->mu, &until) != 0)
            break;
    pthread_mutex_unlock(&s->mu);
    /* Waits for the server's answer, which the read loop receives. */
    wsc_client_close(s->c, WSC_CLOSE_NORMAL, NULL);
    return NULL;
}

static int usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "echo_client: %s\n", msg);
    fprintf(stderr, "usage: echo_client [--no-verify] [--ca FILE] [--deflate] [--echo]\n"
                    "                   ws://host[:port]/path | wss://...\n");
    return 2;
}

int main(int argc, char **argv)
{
    /* Messages up to 16 MiB (the library's default cap is 64 KiB). */
    wsc_client_config cfg = {.max_size = 16u << 20};
    const char *url = NULL;
    bool echo = false;

    for (int i = 1; i < argc; i++) {
        if (i == argc - 1 && argv[i][0] != '-') {
            url = argv[i];
        } else if (strcmp(argv[i], "--no-verify") == 0) {
            cfg.tls_no_verify = true;
        } else if (strcmp(argv[i], "--ca") == 0 && i + 1 < argc - 1) {
            cfg.ca_file = argv[++i];
        } else if (strcmp(argv[i], "--deflate") == 0) {
            cfg.deflate.enabled = true;
        } else if (strcmp(argv[i], "--echo") == 0) {
            echo = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(NULL);
            return 0;
        } else {
            fprintf(stderr, "echo_client: unknown option or misplaced argument: %s\n", argv[i]);
            return usage(NULL);
        }
    }
    if (!url)
        return usage("the URL must be the last argument");

    wsc_err err;
    wsc_client *c = wsc_client_connect_url(url, &cfg, NULL, &err);
    if (!c) {
        fprintf(stderr, "echo_client: %s: %s (%s)\n", url, err.message, wsc_err_name(err.code));
        return 1;
    }

    if (echo) {
        wsc_client_handler eh = {.message = on_echo};
        int erc = wsc_client_read_loop(c, &eh, NULL);
        if (erc)
            fprintf(stderr, "echo_client: %s\n", wsc_strerror(erc));
        wsc_client_free(c);
        return erc ? 1 : 0;
    }

    struct state s = {.c = c};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cond, NULL);
    pthread_t tid;
    if (pthread_create(&tid, NULL, sender, &s) != 0) {
        fprintf(stderr, "echo_client: cannot start the sender thread\n");
        wsc_client_free(c);
        return 1;
    }
    wsc_client_handler h = {.message = on_message, .close = on_close};
    int rc = wsc_client_read_loop(c, &h, &s);

    pthread_mutex_lock(&s.mu);
    bool done = s.input_done;
    pthread_mutex_unlock(&s.mu);
    if (!done) {
        /* The server ended the connection while input was still coming: the sender may be blocked
           reading standard input, so do not wait for it. */
        fprintf(stderr, "echo_client: the connection ended before the input did (%s)\n",
                rc ? wsc_strerror(rc) : "closed by the server");
        fflush(stdout);
        _exit(1);
    }
    pthread_join(tid, NULL);
    int status = 0;
    if (s.send_error) {
        fprintf(stderr, "echo_client: send: %s\n", wsc_strerror(s.send_error));
        status = 1;
    }
    if (s.received < s.sent) {
        fprintf(stderr, "echo_client: %lu of %lu echoes received\n", s.received, s.sent);
        status = 1;
    }
    if (rc) {
        fprintf(stderr, "echo_client: the close handshake did not complete: %s\n",
                wsc_strerror(rc));
        status = 1;
    }
    wsc_client_free(c);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.mu);
    return status;
}

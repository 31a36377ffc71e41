/* The read loop: reads messages and dispatches them to a handler, with websocket.zig's defaults
 * (answer pings, ignore pongs, answer the close handshake), in the calling thread or a new one. */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "io/connect.h"
#include "proto/close.h"
#include "proto/close_handshake.h"
#include "proto/frame.h"

/* ECLOSED from a read means "ended"; after a completed close handshake (end_rc 0) that is the
   clean end the loop reports as 0. */
static int end_result(wsc_client *c, int rc)
{
    if (rc != WSC_ECLOSED)
        return rc;
    pthread_mutex_lock(&c->mu);
    rc = c->end_rc == 0 ? 0 : WSC_ECLOSED;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Runs the loop once the reader role is held; returns what the loop returns. */
static int loop(wsc_client *c, const wsc_client_handler *h, void *user)
{
    int result = 0;
    bool failed = false; /* a callback failed: we sent 1011 and only wait for the answer */

    for (;;) {
        wsc_msg m;
        int rc = wsc__client_read_msg(c, &m, WSC__NO_DEADLINE, h->close_frame == NULL);
        if (rc)
            return failed ? result : end_result(c, rc);
        int r = 0;
        bool open = atomic_load(&c->state) == WSC__CS_OPEN && !failed;
        switch (m.type) {
        case WSC_TEXT:
        case WSC_BINARY:
            /* Section 1.4: after our close frame the server may still send data; nobody wants it.
             */
            if (open)
                r = h->message(c, user, &m);
            break;
        case WSC_PING:
            if (h->ping)
                r = open ? h->ping(c, user, m.data, m.len) : 0;
            else if (open)
                wsc__client_send_auto(c, WSC__OP_PONG, m.data, m.len, 0);
            break;
        case WSC_PONG:
            if (h->pong && open)
                r = h->pong(c, user, m.data, m.len);
            break;
        case WSC_CLOSE:
            if (h->close_frame) {
                r = h->close_frame(c, user, m.close_code, m.data, m.len);
                /* Whatever the handler did, the handshake must be answered (close_handshake.h). */
                wsc__client_answer_close(c, wsc__close_answer_code(m.close_code, r));
            }
            if (failed)
                return result;
            return r ? r : 0;
        default:
            break;
        }
        wsc__client_release(c);
        if (r && !failed) {
            /* The handler gave up: close with 1011 and keep reading until the server answers. */
            failed = true;
            result = r;
            if (wsc__client_send_close(c, WSC__CLOSE_INTERNAL, NULL, 0,
                                       wsc__clock_ms() + WSC__CLIENT_CLOSE_WAIT_MS) != 0)
                wsc__client_mark_closed(c, r);
        }
    }
}

WSC_API int wsc_client_read_loop(wsc_client *c, const wsc_client_handler *h, void *user)
{
    if (!c || !h || !h->message)
        return WSC_EINVAL;
    int rc = wsc__client_reader_claim(c);
    if (rc == 0) {
        rc = loop(c, h, user);
        wsc__client_release(c);
        wsc__client_reader_release(c);
    } else {
        /* The role can still be held by a wsc_client_close in another thread that has just read
           the server's answer: the connection has ended, maybe cleanly. */
        rc = end_result(c, rc);
    }
    /* Also when the loop could not start (WSC_ESTATE: another thread reads, or no handshake yet):
       whoever passed a handler gets its close exactly once, and may free its state there. */
    if (h->close)
        h->close(c, user);
    return rc;
}

struct loop_start {
    wsc_client *c;
    wsc_client_handler h;
    void *user;
};

static void *loop_thread(void *arg)
{
    struct loop_start s = *(struct loop_start *)arg;
    free(arg);
    (void)wsc_client_read_loop(s.c, &s.h, s.user);
    return NULL;
}

WSC_API int wsc_client_read_loop_thread(wsc_client *c, const wsc_client_handler *h, void *user,
                                        pthread_t *thread)
{
    if (!c || !h || !h->message || !thread)
        return WSC_EINVAL;
    struct loop_start *s = malloc(sizeof *s);
    int rc = s ? 0 : WSC_ENOMEM;
    if (s) {
        s->c = c;
        s->h = *h;
        s->user = user;
        if (pthread_create(thread, NULL, loop_thread, s) == 0)
            return 0;
        free(s);
        rc = WSC_EIO;
    }
    /* No thread, no loop: its close is still owed, as when wsc_client_read_loop cannot start. */
    if (h->close)
        h->close(c, user);
    return rc;
}

/* The handler pool's side: a pool thread runs the job it was handed, then, while it owns the
 * parse state (conn.h), the callbacks of further complete messages that were already read, up to
 * RUN_AHEAD_MAX, instead of handing each back to the loop and waiting to be given the next. Its
 * writes to the connection are gathered and sent once at the end. What needs the loop (bytes still
 * to read, an error, the peer's close) is left for it. Without this, 16-byte messages pipelined 16
 * deep through the pool ran at a tenth of the raw-TCP echo's rate (bench/RESULTS.md). */
#include "conn/read.h"

enum { RUN_AHEAD_MAX = 64 }; /* messages a pool thread handles per hand-off */

/* Pool thread, connection BUSY: the parse state belongs to this thread until DONE. Handles what
   needs no loop (complete messages, pings, pongs) and leaves the rest: bytes still to read, an
   error (the reader repeats it to the loop), the peer's close (recorded as a job). */
static void run_ahead(wsc_conn *c, wsc_arena *arena)
{
    const wsc_handler *h = &c->w->ctx->h;
    for (int budget = RUN_AHEAD_MAX; budget > 0;) {
        c->job = WSC__JOB_NONE;
        if (atomic_load_explicit(&c->wstate, memory_order_acquire) != WSC__W_OPEN ||
            c->in_off == c->in_len)
            return;
        wsc__event ev;
        size_t used =
            wsc__reader_next(&c->rd, c->in.data + c->in_off, c->in_len - c->in_off, &ev);
        if (ev.kind == WSC__EV_NEED_MORE || ev.kind == WSC__EV_ERROR)
            return;
        c->in_off += (uint32_t)used;
        if (ev.kind == WSC__EV_DATA) {
            wsc__conn_track_frame(c, &ev, used);
            if (ev.first && ev.last && !ev.rsv1) {
                c->job = WSC__JOB_MSG;
                c->job_code = (uint16_t)ev.opcode;
                c->job_data = ev.len ? ev.data : wsc__empty_payload;
                c->job_len = ev.len;
            } else {
                enum wsc__asm_result r =
                    ev.rsv1 ? wsc__conn_add_compressed(c, &ev) : wsc__conn_add_chunk(c, &ev);
                if (r >= WSC__ASM_NOMEM) {
                    c->job = WSC__JOB_FAIL;
                    c->job_code = r == WSC__ASM_TOO_BIG   ? WSC_CLOSE_TOO_BIG
                                  : r == WSC__ASM_INVALID ? WSC_CLOSE_INVALID_DATA
                                                          : WSC_CLOSE_INTERNAL;
                    return;
                }
                if (r == WSC__ASM_MORE)
                    continue;
            }
        } else if (ev.opcode == WSC__OP_PING) {
            if (!h->client_ping) {
                wsc_conn_pong(c, ev.data, ev.len);
                continue;
            }
            c->job = WSC__JOB_PING;
        } else if (ev.opcode == WSC__OP_PONG) {
            if (!h->client_pong)
                continue;
            c->job = WSC__JOB_PONG;
        } else {
            c->job = WSC__JOB_PEER_CLOSE;
            c->job_code = (uint16_t)ev.close_code;
        }
        if (ev.kind == WSC__EV_CONTROL) {
            c->job_data = ev.len ? ev.data : wsc__empty_payload;
            c->job_len = ev.len;
            if (c->job == WSC__JOB_PEER_CLOSE)
                return;
        }
        wsc__conn_run_job(c, arena);
        budget--;
    }
}

void wsc__conn_run_pool_job(wsc_conn *c, wsc_arena *arena)
{
    wsc__owner_take(c);
    bool ahead = c->job == WSC__JOB_MSG || c->job == WSC__JOB_PING || c->job == WSC__JOB_PONG;
    if (!ahead) {
        wsc__conn_run_job(c, arena);
    } else {
        wsc__batch_begin(c);
        wsc__conn_run_job(c, arena);
        run_ahead(c, arena);
        wsc__batch_end(c);
    }
    /* Before the caller posts DONE: from then on the loop owns the parse state again. */
    wsc__owner_give(c);
}

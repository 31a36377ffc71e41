/* wsc, the command-line tool: what its files share.
 *
 *   main.c     picks the subcommand
 *   serve.c    `wsc serve`: options, the server's life, the echo handler
 *   rooms.c    the broadcast handler: connections grouped by request path
 *   connect.c  `wsc connect`: options, connecting, the exit status
 *   session.c  a connected client: standard input out, messages in
 *   bench.c    `wsc bench`: the load generator of bench/wsc_load
 *   args.c     numbers and messages
 *   hex.c      hex for binary messages
 * The manual is wsc.1 next to these files. */
#ifndef WSC_TOOL_H
#define WSC_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wsc.h"

/* Exit statuses, as wsc.1 documents them. */
enum {
    STATUS_OK = 0,           /* serve: stopped by a signal; connect: clean close */
    STATUS_FAILED = 1,       /* anything not listed below (out of memory, cannot listen, ...) */
    STATUS_USAGE = 2,        /* bad usage, or a feature this build does not have */
    STATUS_CONNECT = 3,      /* connect: refused, unreachable, unresolved, timed out */
    STATUS_HANDSHAKE = 4,    /* connect: the upgrade failed (an answer other than 101, ...) */
    STATUS_TLS = 5,          /* connect: TLS handshake or certificate verification failed */
    STATUS_PROTOCOL = 6,     /* connect: the server broke the protocol (we closed 1002/1007/1009) */
    STATUS_SERVER_CLOSE = 7, /* connect: the server closed with an error code */
    STATUS_IO = 8            /* connect: the connection broke (no close handshake, socket error) */
};

/* Messages larger than this are refused (1009) unless --max-message says otherwise. */
#define TOOL_MAX_MESSAGE ((size_t)16 << 20)

/* Subcommands: argv[0] is the subcommand's name; each returns the exit status. */
int cmd_serve(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* session.c: runs a connected client until the connection ends; returns the exit status. */
struct session_opts {
    bool binary;     /* lines are hex, sent as binary */
    bool echo;       /* send every message back; the end of input does not close */
    size_t max_line; /* longest line of input taken */
};
int session_run(wsc_client *c, const struct session_opts *o);

/* args.c */
/* Prints "wsc: " and the message, and a newline, on standard error. */
void tool_error(const char *fmt, ...) WSC_PRINTF(1, 2);
/* A decimal number from min to max, the whole string. */
bool tool_number(const char *s, long long min, long long max, long long *out);
/* The one line printed for --deflate and TLS on the server; returns STATUS_USAGE. */
int tool_not_built(const char *option, const char *what);

/* hex.c */
/* Writes len bytes as lowercase hex pairs (no separator). */
void hex_print(FILE *f, const uint8_t *data, size_t len);
/* Decodes hex pairs from s[0..len) into out (which may be s itself), skipping spaces and tabs
 * between pairs. Returns the number of bytes, or -1 on anything else or an odd digit count. */
long hex_decode(uint8_t *out, const char *s, size_t len);

#endif

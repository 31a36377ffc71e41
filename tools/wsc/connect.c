/* `wsc connect URL`: options, the connection and the upgrade, and the exit status of a connection
 * that could not be made. What follows the upgrade is session.c's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

static void usage(FILE *f)
{
    fputs("usage: wsc connect URL [options]\n"
          "Connects to URL (ws://host[:port]/path or wss://...), sends each line of standard\n"
          "input as a text message and prints every message received, one a line (binary\n"
          "ones as hex). Pings, pongs and the server's close frame are reported on standard\n"
          "error. At the end of input it closes with 1000 and waits for the server's answer.\n"
          "  -H, --header 'Name: value'  an extra header in the upgrade request (repeatable)\n"
          "      --protocol P       offer subprotocol P (Sec-WebSocket-Protocol; repeatable)\n"
          "  -b, --binary           lines are hex (two digits a byte, spaces between bytes\n"
          "                         allowed), sent as binary\n"
          "  -e, --echo             send every message received back unchanged (same type);\n"
          "                         the end of input does not close: the server does\n"
          "  -k, --insecure         wss: accept any certificate (no verification)\n"
          "      --ca FILE          wss: trust the CA certificates in FILE (PEM)\n"
          "      --max-message N    largest message received in bytes (default 16777216)\n"
          "      --deflate          permessage-deflate (not supported yet: exits 2)\n"
          "  -h, --help             this text\n"
          "Exit status: 0 clean close; 1 other failure; 2 bad usage; 3 could not connect;\n"
          "4 handshake failed (e.g. an HTTP status other than 101); 5 TLS failed; 6 the\n"
          "server broke the protocol (closed by us with 1002, 1007 or 1009); 7 the server\n"
          "closed with an error code (not 1000, 1001 or none); 8 the connection broke.\n",
          f);
}

struct connect_opts {
    const char *url;
    char *headers; /* "Name: value" lines joined by CRLF; heap */
    char *protocols;
    bool binary, echo, insecure, deflate;
    const char *ca_file;
    size_t max_message;
};

/* Appends item to the heap string *list, after sep when it is not empty. */
static bool append(char **list, const char *sep, const char *item)
{
    size_t have = *list ? strlen(*list) : 0;
    size_t seplen = have ? strlen(sep) : 0, len = strlen(item);
    char *s = realloc(*list, have + seplen + len + 1);
    if (!s)
        return false;
    memcpy(s + have, sep, seplen);
    memcpy(s + have + seplen, item, len + 1);
    *list = s;
    return true;
}

/* Returns -1 to go on, else the exit status. */
static int parse(struct connect_opts *o, int argc, char **argv)
{
    enum { O_PROTOCOL = 256, O_CA, O_MAX, O_DEFLATE };
    static const struct option longs[] = {
        {"header", required_argument, NULL, 'H'},
        {"protocol", required_argument, NULL, O_PROTOCOL},
        {"binary", no_argument, NULL, 'b'},
        {"echo", no_argument, NULL, 'e'},
        {"insecure", no_argument, NULL, 'k'},
        {"ca", required_argument, NULL, O_CA},
        {"max-message", required_argument, NULL, O_MAX},
        {"deflate", no_argument, NULL, O_DEFLATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "H:bekh", longs, NULL)) != -1) {
        long long n = 0;
        switch (ch) {
        case 'H':
            if (!strchr(optarg, ':')) {
                tool_error("connect: a header is 'Name: value', not '%s'", optarg);
                return STATUS_USAGE;
            }
            if (!append(&o->headers, "\r\n", optarg))
                return STATUS_FAILED;
            break;
        case O_PROTOCOL:
            if (!append(&o->protocols, ", ", optarg))
                return STATUS_FAILED;
            break;
        case 'b':
            o->binary = true;
            break;
        case 'e':
            o->echo = true;
            break;
        case 'k':
            o->insecure = true;
            break;
        case O_CA:
            o->ca_file = optarg;
            break;
        case O_MAX:
            if (!tool_number(optarg, 1, 1LL << 31, &n)) {
                tool_error("connect: bad value '%s' for --max-message", optarg);
                return STATUS_USAGE;
            }
            o->max_message = (size_t)n;
            break;
        case O_DEFLATE:
            o->deflate = true;
            break;
        case 'h':
            usage(stdout);
            return STATUS_OK;
        default:
            usage(stderr);
            return STATUS_USAGE;
        }
    }
    if (optind == argc) {
        tool_error("connect: the URL is missing");
        usage(stderr);
        return STATUS_USAGE;
    }
    if (optind + 1 != argc) {
        tool_error("connect: one URL only (found '%s' too)", argv[optind + 1]);
        return STATUS_USAGE;
    }
    o->url = argv[optind];
    if (o->deflate)
        return tool_not_built("--deflate", "permessage-deflate");
    if (o->protocols && (!append(&o->headers, "\r\n", "Sec-WebSocket-Protocol: ") ||
                         !append(&o->headers, "", o->protocols)))
        return STATUS_FAILED;
    return -1;
}

/* The exit status for a connection or upgrade that failed. */
static int connect_status(const wsc_err *err)
{
    switch (err->code) {
    case WSC_EINVAL:
    case WSC_ECONFIG:
        return STATUS_USAGE; /* the URL, a header */
    case WSC_ECONNREFUSED:
    case WSC_EADDR:
        return STATUS_CONNECT;
    case WSC_ETLS:
    case WSC_ETLSVERIFY:
        return STATUS_TLS;
    case WSC_EHANDSHAKE:
        return STATUS_HANDSHAKE;
    case WSC_ETIMEDOUT:
    case WSC_EIO:
        /* Both steps can time out or break; the library's message names the upgrade's. */
        return strncmp(err->message, "handshake", 9) == 0 ? STATUS_HANDSHAKE : STATUS_CONNECT;
    default:
        return STATUS_FAILED;
    }
}

int cmd_connect(int argc, char **argv)
{
    struct connect_opts o = {.max_message = TOOL_MAX_MESSAGE};
    argv[0] = "wsc connect";
    int st = parse(&o, argc, argv);
    if (st < 0) {
        wsc_client_config cfg = {
            .max_size = o.max_message, .tls_no_verify = o.insecure, .ca_file = o.ca_file};
        wsc_handshake_opts hs = {.headers = o.headers};
        wsc_err err;
        wsc_client *c = wsc_client_connect_url(o.url, &cfg, &hs, &err);
        if (!c) {
            tool_error("%s: %s", o.url, err.message);
            st = connect_status(&err);
        } else {
            if (o.protocols) /* what the server chose of those offered, as pings are reported */
                fprintf(stderr, "subprotocol: %s\n",
                        wsc_client_protocol(c) ? wsc_client_protocol(c) : "(none)");
            /* A line is a message: in hex two digits a byte (and a space between bytes), and a
               CR may end it. */
            struct session_opts so = {.binary = o.binary,
                                      .echo = o.echo,
                                      .max_line =
                                          o.binary ? 3 * o.max_message + 1 : o.max_message + 1};
            st = session_run(c, &so);
            wsc_client_free(c);
        }
    }
    free(o.headers);
    free(o.protocols);
    return st;
}

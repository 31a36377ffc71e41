/* `wsc serve`: an echo server, or a broadcast server (rooms.c), until SIGINT or SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <string.h>

#include "rooms.h"
#include "tool.h"

static wsc_server *server;

static void on_signal(int sig)
{
    (void)sig;
    wsc_server_stop(server); /* async-signal-safe */
}

static int echo_message(wsc_conn *conn, void *user, const wsc_msg *msg)
{
    (void)user;
    return wsc_conn_write(conn, msg->type, msg->data, msg->len);
}

static void usage(FILE *f)
{
    fputs("usage: wsc serve [options]\n"
          "A WebSocket server on 127.0.0.1:9224 that echoes every message back (--echo,\n"
          "the default) or sends it to every client connected on the same path\n"
          "(--broadcast, the sender included). SIGINT or SIGTERM stops it.\n"
          "  -p, --port N          TCP port (default 9224); 0: a free port, printed\n"
          "  -a, --address A       address to listen on (default 127.0.0.1; IPv6 too)\n"
          "      --unix PATH       listen on a unix socket instead\n"
          "      --echo            echo each message to its sender (default)\n"
          "      --broadcast       send each message to every client on its path\n"
          "      --max-message N   largest message in bytes (default 16777216); over: 1009\n"
          "      --idle-timeout S  ping a client silent for S/2 seconds, close one silent\n"
          "                        for S (default 120; 0: never)\n"
          "      --deflate         permessage-deflate (not supported yet: exits 2)\n"
          "      --tls-cert FILE   TLS certificate (with --tls-key; not supported yet: exits 2)\n"
          "      --tls-key FILE    TLS private key\n"
          "  -h, --help            this text\n"
          "Prints one line, \"wsc serve: listening on ws://ADDRESS:PORT/ (MODE)\", when ready.\n"
          "Exit status: 0 stopped by a signal, 1 cannot listen, 2 bad usage.\n",
          f);
}

struct serve_opts {
    wsc_server_config cfg;
    bool broadcast;
    bool deflate;
    const char *tls_cert, *tls_key;
};

/* Returns -1 to go on, else the exit status. */
static int parse(struct serve_opts *o, int argc, char **argv)
{
    enum { O_UNIX = 256, O_ECHO, O_BROADCAST, O_MAX, O_IDLE, O_DEFLATE, O_CERT, O_KEY };
    static const struct option longs[] = {
        {"port", required_argument, NULL, 'p'},
        {"address", required_argument, NULL, 'a'},
        {"unix", required_argument, NULL, O_UNIX},
        {"echo", no_argument, NULL, O_ECHO},
        {"broadcast", no_argument, NULL, O_BROADCAST},
        {"max-message", required_argument, NULL, O_MAX},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"deflate", no_argument, NULL, O_DEFLATE},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int mode = 0; /* O_ECHO or O_BROADCAST once one was given */
    int ch;
    while ((ch = getopt_long(argc, argv, "p:a:h", longs, NULL)) != -1) {
        long long n = 0;
        bool ok = true;
        switch (ch) {
        case 'p':
            ok = tool_number(optarg, 0, 65535, &n);
            o->cfg.port = n == 0 ? WSC_PORT_EPHEMERAL : (int)n;
            break;
        case 'a':
            o->cfg.address = optarg;
            break;
        case O_UNIX:
            o->cfg.unix_path = optarg;
            break;
        case O_ECHO:
        case O_BROADCAST:
            if (mode && mode != ch) {
                tool_error("serve: --echo and --broadcast exclude each other");
                return STATUS_USAGE;
            }
            mode = ch;
            o->broadcast = ch == O_BROADCAST;
            break;
        case O_MAX:
            ok = tool_number(optarg, 1, 1LL << 31, &n);
            o->cfg.max_message_size = (size_t)n;
            break;
        case O_IDLE:
            ok = tool_number(optarg, 0, 1 << 30, &n);
            o->cfg.idle_timeout = n == 0 ? WSC_TIMEOUT_OFF : (int)n;
            break;
        case O_DEFLATE:
            o->deflate = true;
            break;
        case O_CERT:
            o->tls_cert = optarg;
            break;
        case O_KEY:
            o->tls_key = optarg;
            break;
        case 'h':
            usage(stdout);
            return STATUS_OK;
        default:
            usage(stderr);
            return STATUS_USAGE;
        }
        if (!ok) {
            const char *name = ch == 'p'     ? "--port"
                               : ch == O_MAX ? "--max-message"
                                             : "--idle-timeout";
            tool_error("serve: bad value '%s' for %s", optarg, name);
            return STATUS_USAGE;
        }
    }
    if (optind != argc) {
        tool_error("serve: unexpected argument '%s'", argv[optind]);
        return STATUS_USAGE;
    }
    if (o->deflate)
        return tool_not_built("--deflate", "permessage-deflate");
    if (o->tls_cert || o->tls_key)
        return tool_not_built(o->tls_cert ? "--tls-cert" : "--tls-key", "TLS on the server");
    return -1;
}

static void print_listening(const struct serve_opts *o)
{
    const char *mode = o->broadcast ? "broadcast" : "echo";
    const char *addr = o->cfg.address;
    if (o->cfg.unix_path)
        printf("wsc serve: listening on unix:%s (%s)\n", o->cfg.unix_path, mode);
    else if (strchr(addr, ':'))
        printf("wsc serve: listening on ws://[%s]:%d/ (%s)\n", addr, wsc_server_port(server), mode);
    else
        printf("wsc serve: listening on ws://%s:%d/ (%s)\n", addr, wsc_server_port(server), mode);
    fflush(stdout);
}

int cmd_serve(int argc, char **argv)
{
    struct serve_opts o = {
        .cfg = {.port = 9224,
                .address = "127.0.0.1",
                .max_message_size = TOOL_MAX_MESSAGE,
                /* Browsers' upgrade requests with cookies outgrow the 1 KiB default. */
                .handshake = {.max_size = 8192}},
    };
    argv[0] = "wsc serve";
    int st = parse(&o, argc, argv);
    if (st >= 0)
        return st;

    wsc_handler handler = {.message = echo_message};
    rooms *r = NULL;
    if (o.broadcast) {
        r = rooms_new();
        if (!r) {
            tool_error("serve: out of memory");
            return STATUS_FAILED;
        }
        rooms_handler(&handler);
    }
    wsc_err err;
    server = wsc_server_new(&handler, &o.cfg, &err);
    if (!server) {
        tool_error("serve: %s", err.message);
        rooms_free(r);
        return STATUS_FAILED;
    }
    if (r)
        rooms_bind(r, server);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    print_listening(&o);

    int rc = wsc_server_listen(server, r);
    wsc_server_free(server);
    rooms_free(r);
    if (rc != 0) {
        tool_error("serve: %s", wsc_strerror(rc));
        return STATUS_FAILED;
    }
    return STATUS_OK;
}

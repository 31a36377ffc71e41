#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

static void usage(FILE *f, const char *prog)
{
    fprintf(f, "usage: %s [options]\n", prog);
    fputs("WebSocket echo load generator: opens connections, handshakes, sends masked\n"
          "messages and checks every echoed byte, then prints throughput and latency.\n"
          "  -c, --conns N          connections (default 100)\n"
          "  -s, --size S           payload bytes per message; k/m suffix = KiB/MiB (default 16)\n"
          "  -d, --depth D          messages in flight per connection (default 1)\n"
          "  -t, --seconds T        measured duration, fractions allowed (default 5)\n"
          "      --warmup T         seconds of unmeasured load before it (default 0)\n"
          "      --threads N        load threads, 0 = one per CPU (default 1)\n"
          "      --host A           server address (default 127.0.0.1)\n"
          "  -p, --port N           server port (default 9224)\n"
          "      --path P           request target (default /)\n"
          "      --text             send text messages (default binary)\n"
          "      --json-payload     text messages of JSON-like records (compressible)\n"
          "      --deflate          offer permessage-deflate and compress every message\n"
          "      --deflate-no-takeover  the same, asking for no context takeover both ways\n"
          "      --raw              plain TCP: no handshake, no framing; S echoed bytes = one "
          "message\n"
          "      --tls              wss: TLS 1.2 or 1.3 (the certificate is not verified)\n"
          "      --idle T           open the connections, hold them idle T seconds, close\n"
          "                         (with --deflate: after one echo each)\n"
          "      --connect-timeout T  bound on connecting and handshaking (default 10)\n"
          "      --max-connecting N   connects in progress per thread (default 256)\n"
          "      --server-pid PID   report the server's CPU time per message over the window\n"
          "      --json             print one JSON line instead of the report\n"
          "Exit status: 0 ok, 1 errors (or no message echoed), 2 bad usage.\n",
          f);
}

static int parse_u64(const char *s, uint64_t *out, bool suffix)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    if (suffix && (*end == 'k' || *end == 'K'))
        v <<= 10, end++;
    else if (suffix && (*end == 'm' || *end == 'M'))
        v <<= 20, end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

static int parse_secs(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= 0) || v > 1e6)
        return -1;
    *out = v;
    return 0;
}

static int resolve(struct load_opts *o)
{
    char port[16];
    snprintf(port, sizeof port, "%u", o->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(o->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        fprintf(stderr, "%s: cannot resolve %s: %s\n", o->prog, o->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&o->addr, ai->ai_addr, ai->ai_addrlen);
    o->addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int load_opts_parse(struct load_opts *o, int argc, char **argv)
{
    enum {
        O_WARMUP = 256,
        O_THREADS,
        O_HOST,
        O_PATH,
        O_TEXT,
        O_RAW,
        O_TLS,
        O_IDLE,
        O_CTO,
        O_MAXC,
        O_PID,
        O_JSON,
        O_JSONP,
        O_DEFLATE,
        O_DEFLATE_NT
    };
    static const struct option longs[] = {
        {"conns", required_argument, NULL, 'c'},
        {"size", required_argument, NULL, 's'},
        {"depth", required_argument, NULL, 'd'},
        {"seconds", required_argument, NULL, 't'},
        {"warmup", required_argument, NULL, O_WARMUP},
        {"threads", required_argument, NULL, O_THREADS},
        {"host", required_argument, NULL, O_HOST},
        {"address", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, 'p'},
        {"path", required_argument, NULL, O_PATH},
        {"text", no_argument, NULL, O_TEXT},
        {"raw", no_argument, NULL, O_RAW},
        {"tls", no_argument, NULL, O_TLS},
        {"idle", required_argument, NULL, O_IDLE},
        {"connect-timeout", required_argument, NULL, O_CTO},
        {"max-connecting", required_argument, NULL, O_MAXC},
        {"server-pid", required_argument, NULL, O_PID},
        {"json", no_argument, NULL, O_JSON},
        {"json-payload", no_argument, NULL, O_JSONP},
        {"deflate", no_argument, NULL, O_DEFLATE},
        {"deflate-no-takeover", no_argument, NULL, O_DEFLATE_NT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
    o->prog = slash ? slash + 1 : argc > 0 ? argv[0] : "wsc_load";
    o->host = "127.0.0.1";
    o->port = 9224;
    o->path = "/";
    o->conns = 100;
    o->size = 16;
    o->depth = 1;
    o->seconds = 5;
    o->connect_timeout = 10;
    o->idle = -1;
    o->threads = 1;
    o->max_connecting = 256;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:s:d:t:p:h", longs, NULL)) != -1) {
        uint64_t v = 0;
        int bad = 0;
        switch (ch) {
        case 'c':
            bad = parse_u64(optarg, &v, false) || v == 0 || v > 1000000;
            o->conns = (unsigned)v;
            break;
        case 's':
            bad = parse_u64(optarg, &v, true) || v > (1ull << 32);
            o->size = v;
            break;
        case 'd':
            bad = parse_u64(optarg, &v, false) || v == 0 || v > 4096;
            o->depth = (unsigned)v;
            break;
        case 't':
            bad = parse_secs(optarg, &o->seconds);
            break;
        case 'p':
            bad = parse_u64(optarg, &v, false) || v == 0 || v > 65535;
            o->port = (unsigned)v;
            break;
        case O_WARMUP:
            bad = parse_secs(optarg, &o->warmup);
            break;
        case O_THREADS:
            bad = parse_u64(optarg, &v, false) || v > 1024;
            o->threads = (unsigned)v;
            break;
        case O_HOST:
            o->host = optarg;
            break;
        case O_PATH:
            o->path = optarg;
            bad = optarg[0] != '/' || strlen(optarg) > 256;
            break;
        case O_TEXT:
            o->text = true;
            break;
        case O_TLS:
            o->tls = true;
            break;
        case O_RAW:
            o->raw = true;
            break;
        case O_IDLE:
            bad = parse_secs(optarg, &o->idle);
            break;
        case O_CTO:
            bad = parse_secs(optarg, &o->connect_timeout);
            break;
        case O_MAXC:
            bad = parse_u64(optarg, &v, false) || v == 0 || v > 100000;
            o->max_connecting = (unsigned)v;
            break;
        case O_PID:
            bad = parse_u64(optarg, &v, false) || v == 0 || v > 0x7fffffff;
            o->server_pid = (pid_t)v;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_JSONP:
            o->json_payload = o->text = true;
            break;
        case O_DEFLATE_NT:
            o->deflate_nt = o->deflate = true;
            break;
        case O_DEFLATE:
            o->deflate = true;
            break;
        case 'h':
            usage(stdout, o->prog);
            return 1;
        default:
            usage(stderr, o->prog);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for option %s\n", o->prog, optarg ? optarg : "",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", o->prog, argv[optind]);
        return -1;
    }
    if (o->raw && o->deflate) {
        fprintf(stderr, "%s: --deflate needs WebSocket framing (not --raw)\n", o->prog);
        return -1;
    }
    if (o->raw && o->size == 0) {
        fprintf(stderr, "%s: --raw needs a size of at least 1 byte\n", o->prog);
        return -1;
    }
    return resolve(o);
}

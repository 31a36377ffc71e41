/* fanout: one message to many subscribers, measured. Opens --subs N WebSocket connections to
 * path /fanout on one server (--port) or spread over two (--port and --port2, e.g. two
 * broadcast_servers sharing a Redis), then has the first connection publish --messages M messages
 * of --size S bytes (each one to everyone, the sender included: broadcast_server), at most
 * --window W messages ahead of the slowest subscriber. Reports deliveries per second (N x M over
 * the time from the first publish to the last delivery) and, with --server-pid (repeatable), the
 * servers' CPU time (user + system from /proc) per delivery.
 *
 * Its framing is its own (a fixed upgrade request, unmasked server frames parsed by length): a
 * load generator, not a client library. Before measuring, a warm-up message must reach every
 * subscriber (their subscriptions, and through Redis the servers', are then in place). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_PIDS = 4, RBUF = 65536 };

struct sub {
    int fd;
    uint64_t frames;      /* data frames received */
    uint64_t rest;        /* payload bytes of the current frame still to skip */
    uint8_t hdr[14];      /* a frame header split across reads */
    unsigned hdr_len;
};

static struct sub *subs;
static int nsubs;
static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* fields counted from the end of the command name */
    if (!p)
        return -1;
    for (int field = 3; field < 14 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -1;
    char *end;
    unsigned long long ut = strtoull(p, &end, 10), st = strtoull(end, &end, 10);
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));
}

static int connect_one(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static const char req[] = "GET /fanout HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return -1;
    }
    /* The response, byte by byte up to its blank line (nothing else can follow before the
       first publish, which waits for every connection). */
    char head[512];
    size_t n = 0;
    while (n < sizeof head - 1) {
        if (read(fd, head + n, 1) != 1)
            break;
        n++;
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[n] = 0;
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Counts the data frames in what arrived. */
static void consume(struct sub *s, const uint8_t *p, size_t n)
{
    while (n) {
        if (s->rest) {
            size_t k = n < s->rest ? n : (size_t)s->rest;
            s->rest -= k;
            p += k;
            n -= k;
            continue;
        }
        s->hdr[s->hdr_len++] = *p++;
        n--;
        if (s->hdr_len < 2)
            continue;
        unsigned l7 = s->hdr[1] & 0x7f;
        unsigned need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
        if (s->hdr_len < need)
            continue;
        uint64_t len = l7;
        if (l7 == 126)
            len = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
        else if (l7 == 127)
            for (int i = 0; i < 8; i++)
                len = len << 8 | s->hdr[2 + i];
        unsigned op = s->hdr[0] & 0x0f;
        if (op == 1 || op == 2)
            s->frames++;
        s->rest = len;
        s->hdr_len = 0;
    }
}

static uint64_t min_frames(void)
{
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < nsubs; i++)
        if (subs[i].frames < m)
            m = subs[i].frames;
    return m;
}

/* A masked frame from the client (key 0: the payload as it is). */
static bool publish(int fd, const uint8_t *payload, size_t len)
{
    uint8_t hdr[14];
    size_t hl = 2;
    hdr[0] = 0x82;
    if (len < 126) {
        hdr[1] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        hdr[1] = 0x80 | 126;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        hl = 4;
    } else {
        hdr[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    memset(hdr + hl, 0, 4);
    hl += 4;
    size_t off = 0;
    while (off < hl + len) {
        const uint8_t *src = off < hl ? hdr + off : payload + (off - hl);
        size_t k = off < hl ? hl - off : len - (off - hl);
        ssize_t w = write(fd, src, k);
        if (w < 0 && errno == EAGAIN)
            continue; /* the server reads its publisher at once; this never lasts */
        if (w <= 0)
            return false;
        off += (size_t)w;
    }
    return true;
}

/* Reads whatever arrived, waiting up to ms. False on a closed or failed connection. */
static bool pump(int ep, int ms)
{
    struct epoll_event ev[256];
    static uint8_t buf[RBUF];
    int n = epoll_wait(ep, ev, 256, ms);
    for (int i = 0; i < n; i++) {
        struct sub *s = &subs[ev[i].data.u32];
        for (;;) {
            ssize_t r = read(s->fd, buf, sizeof buf);
            if (r > 0) {
                consume(s, buf, (size_t)r);
                continue;
            }
            if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                fprintf(stderr, "fanout: subscriber %u lost its connection\n", ev[i].data.u32);
                return false;
            }
            break;
        }
    }
    return true;
}

static bool wait_all(int ep, uint64_t want, int64_t deadline_us)
{
    while (min_frames() < want) {
        if (now_us() > deadline_us || !pump(ep, 100)) {
            fprintf(stderr, "fanout: deliveries stalled (slowest has %llu of %llu)\n",
                    (unsigned long long)min_frames(), (unsigned long long)want);
            return false;
        }
    }
    return true;
}

static void usage(void)
{
    fprintf(stderr, "usage: fanout --port P [--port2 P2] --subs N [--size S] [--messages M]\n"
                    "              [--window W] [--server-pid PID]... [--label L] [--json]\n");
}

int main(int argc, char **argv)
{
    int port = 0, port2 = 0, window = 4, npids = 0, pids[MAX_PIDS];
    long size = 16, messages = 200;
    const char *label = "fanout";
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
            continue;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--port2") == 0)
            port2 = atoi(v);
        else if (strcmp(a, "--subs") == 0)
            nsubs = atoi(v);
        else if (strcmp(a, "--size") == 0)
            size = atol(v);
        else if (strcmp(a, "--messages") == 0)
            messages = atol(v);
        else if (strcmp(a, "--window") == 0)
            window = atoi(v);
        else if (strcmp(a, "--label") == 0)
            label = v;
        else if (strcmp(a, "--server-pid") == 0 && npids < MAX_PIDS)
            pids[npids++] = atoi(v);
        else {
            usage();
            return 2;
        }
    }
    if (port <= 0 || nsubs < 1 || size < 1 || size > 1 << 20 || messages < 1 || window < 1) {
        usage();
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    subs = calloc((size_t)nsubs, sizeof *subs);
    uint8_t *payload = malloc((size_t)size);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!subs || !payload || ep < 0)
        return 1;
    memset(payload, 'f', (size_t)size);
    for (int i = 0; i < nsubs; i++) {
        subs[i].fd = connect_one(port2 && i % 2 ? port2 : port);
        if (subs[i].fd < 0) {
            fprintf(stderr, "fanout: connection %d failed: %s\n", i, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, subs[i].fd, &ev);
    }
    /* Warm-up: publish until one message reached everyone (subscriptions are in place), then
       until every warm-up message has, so the measure starts from empty queues. */
    int64_t deadline = now_us() + 60 * 1000000LL;
    uint64_t warm = 0;
    while (min_frames() == 0) {
        if (now_us() > deadline || !publish(subs[0].fd, payload, (size_t)size)) {
            fprintf(stderr, "fanout: the warm-up never reached every subscriber\n");
            return 1;
        }
        warm++;
        int64_t until = now_us() + 200000;
        while (min_frames() == 0 && now_us() < until)
            if (!pump(ep, 20))
                return 1;
    }
    /* A subscriber that joined after the first warm-up messages never gets those: wait for the
       last one only (the sender, subscribed from the start, gets them all). */
    if (!wait_all(ep, 1, deadline))
        return 1;
    while (subs[0].frames < warm)
        if (now_us() > deadline || !pump(ep, 20))
            return 1;
    for (int i = 0; i < nsubs; i++)
        subs[i].frames = 0;

    int64_t cpu0[MAX_PIDS];
    for (int i = 0; i < npids; i++)
        cpu0[i] = proc_cpu_us(pids[i]);
    int64_t t0 = now_us();
    deadline = t0 + 300 * 1000000LL;
    for (long m = 0; m < messages; m++) {
        if (!wait_all(ep, m >= window ? (uint64_t)(m - window + 1) : 0, deadline))
            return 1;
        if (!publish(subs[0].fd, payload, (size_t)size))
            return 1;
        pump(ep, 0);
    }
    if (!wait_all(ep, (uint64_t)messages, deadline))
        return 1;
    int64_t t1 = now_us();
    int64_t cpu = 0;
    for (int i = 0; i < npids; i++)
        cpu += proc_cpu_us(pids[i]) - cpu0[i];
    double deliveries = (double)nsubs * (double)messages;
    double secs = (double)(t1 - t0) / 1e6;
    double rate = deliveries / secs;
    double cpu_ns = npids ? (double)cpu * 1000.0 / deliveries : -1;
    if (json)
        printf("{\"label\":\"%s\",\"subs\":%d,\"size\":%ld,\"messages\":%ld,\"seconds\":%.3f,"
               "\"deliveries_per_s\":%.0f,\"server_cpu_ns_per_delivery\":%.1f}\n",
               label, nsubs, size, messages, secs, rate, cpu_ns);
    else
        printf("%-28s %6d subs  %6ld B  %8.0f deliveries/s  %8.1f ns server CPU/delivery\n", label,
               nsubs, size, rate, cpu_ns);
    for (int i = 0; i < nsubs; i++)
        close(subs[i].fd);
    free(subs);
    free(payload);
    close(ep);
    return 0;
}

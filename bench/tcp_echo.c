/* tcp_echo: the raw-TCP ceiling for the WebSocket benchmarks.
 *
 * One thread, one epoll, non-blocking sockets. On each wake-up a connection
 * gets one read of whatever is available into a shared buffer and one write
 * of it back: the fewest system calls an echo can make, and no framing. A
 * WebSocket server that reaches this on the same load pays nothing for its
 * protocol layer.
 *
 * Only what the peer does not take right away is stored per connection (and
 * the connection is not read until that is flushed, so a peer that stops
 * reading cannot grow it); an idle connection costs one pointer here.
 *
 * --handoff: the floor for a server that runs its handlers on other threads.
 * The epoll thread reads every ready connection into a buffer of its own, then
 * a second thread writes the whole batch back while the first waits; on one
 * CPU the first yields to it at once. One wake-up and two context switches per
 * batch, nothing else: what is left of a WebSocket server's handler pool
 * beyond this is its own cost.
 *
 *   tcp_echo [--port N] [--address A] [--handoff]   (default 127.0.0.1:9225)
 * SIGINT/SIGTERM stop it (exit status 0). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "half_page.h"

#define BUF_SIZE (256u * 1024u)

struct pending {
    size_t len, off;
    unsigned char data[];
};

/* Set by SIGINT/SIGTERM. */
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int listen_on(const char *addr, const char *port)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(addr, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "tcp_echo: %s: %s\n", addr, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "tcp_echo: listen on %s:%s: %s\n", addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void drop(struct pending **pend, int fd)
{
    free(pend[fd]);
    pend[fd] = NULL;
    close(fd);
}

/* Writes the stored rest; returns 1 when it is all gone, 0 on EAGAIN, -1 on error. */
static int flush_pending(struct pending *p, int fd)
{
    while (p->off < p->len) {
        ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        p->off += (size_t)w;
    }
    return 1;
}

static void set_events(int ep, int fd, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* One read of what is available; returns its length, or 0 when there is
   nothing to echo (EAGAIN, or the connection was dropped). */
static size_t read_some(struct pending **pend, int fd, unsigned char *buf)
{
    ssize_t n = recv(fd, buf, BUF_SIZE, 0);
    if (n <= 0) {
        if (!(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
            drop(pend, fd);
        return 0;
    }
    return (size_t)n;
}

static void echo_back(int ep, struct pending **pend, int fd, const unsigned char *buf, size_t n)
{
    ssize_t w;
    do
        w = send(fd, buf, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        drop(pend, fd);
        return;
    }
    /* A short write means the socket buffer is full: keep the rest for EPOLLOUT. */
    size_t done = w > 0 ? (size_t)w : 0;
    if (done == n)
        return;
    size_t rest = n - done;
    struct pending *p = malloc(sizeof *p + rest);
    if (!p) {
        drop(pend, fd);
        return;
    }
    p->len = rest;
    p->off = 0;
    memcpy(p->data, buf + done, rest);
    pend[fd] = p;
    /* Stop reading until the peer takes what it was sent: back pressure. */
    set_events(ep, fd, EPOLLOUT);
}

/* ---- --handoff: reads on the epoll thread, writes on another ---- */

enum { BATCH_MAX = 16 };

struct batch {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    bool full, quit; /* full: the batch is the writer's until it clears this */
    int ep;
    struct pending **pend;
    int n, fd[BATCH_MAX];
    size_t len[BATCH_MAX];
    unsigned char *buf[BATCH_MAX];
};

static void *writer_main(void *arg)
{
    struct batch *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->full && !b->quit)
            pthread_cond_wait(&b->go, &b->mu);
        if (b->quit && !b->full) {
            pthread_mutex_unlock(&b->mu);
            return NULL;
        }
        pthread_mutex_unlock(&b->mu);
        for (int i = 0; i < b->n; i++)
            echo_back(b->ep, b->pend, b->fd[i], b->buf[i], b->len[i]);
        pthread_mutex_lock(&b->mu);
        b->full = false;
        pthread_mutex_unlock(&b->mu);
        pthread_cond_signal(&b->done);
    }
}

/* Hands the batch to the writer and waits until it is written (the buffers
   and the pending table are the epoll thread's again after that). */
static void run_batch(struct batch *b)
{
    if (b->n == 0)
        return;
    pthread_mutex_lock(&b->mu);
    b->full = true;
    pthread_mutex_unlock(&b->mu);
    pthread_cond_signal(&b->go);
    sched_yield(); /* on one CPU the writer runs now, as a handler pool's thread would */
    pthread_mutex_lock(&b->mu);
    while (b->full)
        pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
    b->n = 0;
}

static void batch_add(struct batch *b, int fd)
{
    if (b->n == BATCH_MAX)
        run_batch(b);
    size_t n = read_some(b->pend, fd, b->buf[b->n]);
    if (n) {
        b->fd[b->n] = fd;
        b->len[b->n++] = n;
    }
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1", *port = "9225";
    bool handoff = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = argv[++i];
        else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc)
            addr = argv[++i];
        else if (strcmp(argv[i], "--handoff") == 0)
            handoff = true;
        else {
            fprintf(stderr, "usage: tcp_echo [--port N] [--address A] [--handoff]\n");
            return 2;
        }
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    size_t max_fd =
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 22) ? (1u << 22) : (size_t)rl.rlim_cur;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_on(addr, port);
    if (lfd < 0)
        return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct pending **pend = calloc(max_fd, sizeof *pend);
    unsigned char *buf = half_page_alloc(BUF_SIZE);
    if (ep < 0 || !pend || !buf) {
        fprintf(stderr, "tcp_echo: out of memory\n");
        return 1;
    }
    struct batch b = {.ep = ep, .pend = pend};
    pthread_t writer;
    if (handoff) {
        pthread_mutex_init(&b.mu, NULL);
        pthread_cond_init(&b.go, NULL);
        pthread_cond_init(&b.done, NULL);
        for (int i = 0; i < BATCH_MAX; i++)
            if (!(b.buf[i] = half_page_alloc(BUF_SIZE))) {
                fprintf(stderr, "tcp_echo: out of memory\n");
                return 1;
            }
        if (pthread_create(&writer, NULL, writer_main, &b) != 0) {
            fprintf(stderr, "tcp_echo: cannot start the writer thread\n");
            return 1;
        }
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

    struct epoll_event evs[512];
    while (!stop_flag) {
        int n = epoll_wait(ep, evs, 512, 500);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break;
                    if ((size_t)c >= max_fd) {
                        close(c);
                        continue;
                    }
                    int one = 1;
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            if (pend[fd]) {
                int r = flush_pending(pend[fd], fd);
                if (r < 0 || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
                    drop(pend, fd);
                } else if (r > 0) {
                    free(pend[fd]);
                    pend[fd] = NULL;
                    set_events(ep, fd, EPOLLIN);
                }
                continue;
            }
            if (handoff) {
                batch_add(&b, fd);
            } else {
                size_t got = read_some(pend, fd, buf);
                if (got)
                    echo_back(ep, pend, fd, buf, got);
            }
        }
        run_batch(&b);
    }
    if (handoff) {
        pthread_mutex_lock(&b.mu);
        b.quit = true;
        pthread_mutex_unlock(&b.mu);
        pthread_cond_signal(&b.go);
        pthread_join(writer, NULL);
        for (int i = 0; i < BATCH_MAX; i++)
            half_page_free(b.buf[i]);
    }
    for (size_t fd = 0; fd < max_fd; fd++)
        free(pend[fd]);
    free(pend);
    half_page_free(buf);
    close(ep);
    close(lfd);
    return 0;
}

/* copy_phase: how much the kernel's socket copies care where a buffer lies within its page.
 *
 * On some x86 CPUs (AMD Zen with fast short `rep movsb` among them) a copy runs several times slower
 * when its destination lies a few bytes past its source, counted modulo 4 KiB. The kernel copies
 * every byte of a send into its socket pages and every byte of a receive out of them, and those
 * pages start at page boundaries; so the page offset of the application's buffer decides which side
 * of the cliff each copy falls. This is why the library puts its large I/O buffers half a page in
 * (src/mem/iobuf.h), and why the ceiling and the load generator do the same.
 *
 * One thread, one loopback TCP connection. Each round sends N bytes (whole pages) from one buffer
 * and receives all of them into another before the next round, so the kernel starts every round at
 * the start of its pages: a receive copies from page offset 0 into the buffer's offset, a send from
 * the buffer's offset into page offset 0. For each distance d (the destination's offset minus the
 * source's, modulo 4 KiB) the median time of the send and of the receive is printed, and its ratio
 * to the time at half a page.
 *
 *   copy_phase [--size N] [--rounds R]      (defaults 65536 and 1000) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PAGE = 4096, SPAN = 8 * 1024 * 1024 };

static const unsigned distances[] = {0, 4, 8, 12, 16, 24, 32, 64, PAGE / 2};
#define NDIST (sizeof distances / sizeof distances[0])

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static int connected_pair(int *snd, int *rcv)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        return -1;
    *snd = socket(AF_INET, SOCK_STREAM, 0);
    if (*snd < 0 || connect(*snd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    *rcv = accept(ls, NULL, NULL);
    close(ls);
    int big = 4 * 1024 * 1024;
    setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(*rcv, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return *rcv < 0 ? -1 : 0;
}

/* One round: n bytes from src into the socket, all of them out into dst. Times in *t_send, *t_recv. */
static int round_trip(int snd, int rcv, const uint8_t *src, uint8_t *dst, size_t n, double *t_send,
                      double *t_recv)
{
    double t0 = now_us();
    ssize_t w = send(snd, src, n, 0);
    double t1 = now_us();
    if (w != (ssize_t)n)
        return -1;
    size_t got = 0;
    double t2 = now_us();
    while (got < n) {
        ssize_t r = recv(rcv, dst + got, n - got, 0);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    *t_send = t1 - t0;
    *t_recv = now_us() - t2;
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = 65536, rounds = 1000;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--size") == 0)
            n = strtoul(argv[++i], NULL, 0);
        else if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0)
            rounds = strtoul(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: copy_phase [--size N] [--rounds R]\n");
            return 2;
        }
    }
    /* Whole pages keep the kernel's page offset at 0 from round to round. */
    n = (n + PAGE - 1) / PAGE * PAGE;
    if (n == 0 || n > SPAN / 2 || rounds == 0 || rounds > 1000000) {
        fprintf(stderr, "copy_phase: --size must be 1..%d and --rounds 1..1000000\n", SPAN / 2);
        return 2;
    }
    int snd, rcv;
    uint8_t *src = NULL, *dst = NULL;
    double *ts = calloc(rounds, sizeof *ts), *tr = calloc(rounds, sizeof *tr);
    if (posix_memalign((void **)&src, PAGE, SPAN) != 0 ||
        posix_memalign((void **)&dst, PAGE, SPAN) != 0 || !ts || !tr) {
        fprintf(stderr, "copy_phase: out of memory\n");
        return 1;
    }
    if (connected_pair(&snd, &rcv) != 0) {
        perror("copy_phase: loopback connection");
        return 1;
    }
    memset(src, 0x5a, SPAN);
    memset(dst, 0xa5, SPAN);

    double send_us[NDIST], recv_us[NDIST];
    for (size_t k = 0; k < NDIST; k++) {
        unsigned d = distances[k];
        /* Receive: source at page offset 0, destination at d. Send: source at -d, destination at 0. */
        const uint8_t *s = src + PAGE + (PAGE - d) % PAGE;
        uint8_t *t = dst + PAGE + d;
        double ignore;
        for (size_t r = 0; r < rounds; r++) {
            if (round_trip(snd, rcv, s, dst + PAGE, n, &ts[r], &ignore) != 0 ||
                round_trip(snd, rcv, src + PAGE, t, n, &ignore, &tr[r]) != 0) {
                perror("copy_phase: transfer");
                return 1;
            }
        }
        send_us[k] = median(ts, rounds);
        recv_us[k] = median(tr, rounds);
    }
    printf("copy_phase: %zu-byte send and receive over loopback, medians of %zu rounds\n", n,
           rounds);
    printf("  distance   send us  (x half page)   recv us  (x half page)\n");
    for (size_t k = 0; k < NDIST; k++)
        printf("  %8u  %8.2f  %8.2f        %8.2f  %8.2f\n", distances[k], send_us[k],
               send_us[k] / send_us[NDIST - 1], recv_us[k], recv_us[k] / recv_us[NDIST - 1]);
    close(snd);
    close(rcv);
    free(src);
    free(dst);
    free(ts);
    free(tr);
    return 0;
}

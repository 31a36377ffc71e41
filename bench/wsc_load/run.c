/* wsc_load: the main thread starts the load threads, moves the run through
 * its phases (connect, warm-up, measure, stop) on the clock, samples the
 * server's CPU time at the edges of the measured window, and reports.
 * wsc_load_main is the whole program; main.c and `wsc bench` call it. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "wire.h"
#include "wsc_load.h"

/* Set by SIGINT/SIGTERM: ends the run early, with a report. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The program's name, for the alarm handler (set before the alarm is armed). */
static const char *alarm_prog = "wsc_load";

/* The hard bound on the run time: whatever the server does, the process ends. */
static void on_alarm(int sig)
{
    static const char msg[] = ": run exceeded its time bound, exiting\n";
    (void)sig;
    ssize_t r = write(2, alarm_prog, strlen(alarm_prog));
    r = write(2, msg, sizeof msg - 1);
    (void)r;
    _exit(3);
}

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Sleeps until the monotonic time `until` or an interruption. */
static void sleep_until(int64_t until)
{
    while (!interrupted) {
        int64_t left = until - now_ns();
        if (left <= 0)
            return;
        if (left > 50000000)
            left = 50000000;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left};
        nanosleep(&ts, NULL);
    }
}

/* This process's CPU time (all threads), to tell when the load generator is the limit. */
static int64_t self_cpu_us(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static void raise_nofile(const char *prog, unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < need)
        fprintf(stderr, "%s: file limit %llu is below the %u this run needs\n", prog,
                (unsigned long long)rl.rlim_cur, need);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void fmt_ns(char *out, size_t cap, uint64_t ns)
{
    if (ns < 10000)
        snprintf(out, cap, "%.2f us", (double)ns / 1e3);
    else if (ns < 10000000)
        snprintf(out, cap, "%.0f us", (double)ns / 1e3);
    else
        snprintf(out, cap, "%.1f ms", (double)ns / 1e6);
}

int wsc_load_main(int argc, char **argv)
{
    struct load_opts o;
    int prc = load_opts_parse(&o, argc, argv);
    if (prc != 0)
        return prc > 0 ? 0 : 2;

    if (o.threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = cpus > 0 ? (unsigned)cpus : 1;
    }
    if (o.threads > o.conns)
        o.threads = o.conns;
    raise_nofile(o.prog, o.conns + 64);
    payload_init(o.text, o.json_payload);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    alarm_prog = o.prog;
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    double budget = o.connect_timeout + o.warmup + (o.idle >= 0 ? o.idle : o.seconds) + 10;
    alarm((unsigned)budget + 1);

    struct run_ctl ctl;
    memset(&ctl, 0, sizeof ctl);
    atomic_init(&ctl.phase, PHASE_CONNECT);
    atomic_init(&ctl.ready, 0);
    atomic_init(&ctl.opened, 0);
    atomic_init(&ctl.echoed, 0);

    struct load_thread *lts = calloc(o.threads, sizeof *lts);
    pthread_t *tids = calloc(o.threads, sizeof *tids);
    if (!lts || !tids) {
        fprintf(stderr, "%s: out of memory\n", o.prog);
        return 1;
    }
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
    unsigned first = 0;
    for (unsigned i = 0; i < o.threads; i++) {
        lts[i].opts = &o;
        lts[i].ctl = &ctl;
        lts[i].first_conn = first;
        lts[i].nconns = o.conns / o.threads + (i < o.conns % o.threads);
        lts[i].seed = wire_rand(&seed) | 1u;
        first += lts[i].nconns;
    }
    unsigned started = 0;
    for (; started < o.threads; started++)
        if (pthread_create(&tids[started], NULL, load_thread_main, &lts[started]) != 0)
            break;
    if (started < o.threads) {
        fprintf(stderr, "%s: cannot start thread %u\n", o.prog, started);
        atomic_store(&ctl.phase, PHASE_STOP);
        for (unsigned i = 0; i < started; i++)
            pthread_join(tids[i], NULL);
        return 1;
    }

    /* Connect phase: until every thread is done or the connect timeout. */
    int64_t t0 = now_ns();
    int64_t cto = t0 + (int64_t)(o.connect_timeout * 1e9);
    while (!interrupted && atomic_load(&ctl.ready) < o.threads && now_ns() < cto) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
        nanosleep(&ts, NULL);
    }
    double connect_s = (double)(now_ns() - t0) / 1e9;
    unsigned opened = atomic_load(&ctl.opened);
    int64_t cpu0 = -1, cpu1 = -1, run_start = 0, run_end = 0, self0 = 0, self1 = 0;

    if (o.idle >= 0) {
        atomic_store_explicit(&ctl.phase, PHASE_RUN, memory_order_release);
        if (o.deflate) {
            int64_t until = now_ns() + (int64_t)(o.connect_timeout * 1e9);
            while (!interrupted && atomic_load(&ctl.echoed) < opened && now_ns() < until) {
                struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
                nanosleep(&ts, NULL);
            }
        }
        if (!o.json)
            printf("idle: %u connections open\n", opened);
        else
            printf("{\"idle_open\":%u}\n", opened);
        fflush(stdout);
        run_start = now_ns();
        sleep_until(run_start + (int64_t)(o.idle * 1e9));
        run_end = now_ns();
    } else {
        if (o.warmup > 0 && !interrupted) {
            atomic_store_explicit(&ctl.phase, PHASE_WARMUP, memory_order_release);
            sleep_until(now_ns() + (int64_t)(o.warmup * 1e9));
        }
        if (o.server_pid)
            cpu0 = proc_cpu_us(o.server_pid);
        self0 = self_cpu_us();
        run_start = now_ns();
        ctl.run_start_ns = run_start;
        atomic_store_explicit(&ctl.phase, PHASE_RUN, memory_order_release);
        sleep_until(run_start + (int64_t)(o.seconds * 1e9));
        run_end = now_ns();
        self1 = self_cpu_us();
        if (o.server_pid)
            cpu1 = proc_cpu_us(o.server_pid);
    }
    atomic_store_explicit(&ctl.phase, PHASE_STOP, memory_order_release);
    for (unsigned i = 0; i < o.threads; i++)
        pthread_join(tids[i], NULL);

    struct thread_result tot;
    memset(&tot, 0, sizeof tot);
    for (unsigned i = 0; i < o.threads; i++) {
        struct thread_result *r = &lts[i].res;
        tot.messages += r->messages;
        tot.bytes += r->bytes;
        tot.wire += r->wire;
        tot.opened += r->opened;
        for (int k = 0; k < ERR_KINDS; k++)
            tot.errors[k] += r->errors[k];
        hist_merge(&tot.lat, &r->lat);
        if (!tot.first_error[0] && r->first_error[0])
            memcpy(tot.first_error, r->first_error, sizeof tot.first_error);
    }
    uint64_t errors = 0;
    for (int k = 0; k < ERR_KINDS; k++)
        errors += tot.errors[k];
    /* An interrupted run is measured over the time it really had. */
    double secs = (double)(run_end - run_start) / 1e9;
    if (o.idle < 0 && !interrupted)
        secs = o.seconds;
    double rate = secs > 0 ? (double)tot.messages / secs : 0;
    double mbps = secs > 0 ? (double)tot.bytes / secs / 1e6 : 0;
    double cpu_per_msg =
        cpu0 >= 0 && cpu1 >= 0 && tot.messages ? (double)(cpu1 - cpu0) / (double)tot.messages : -1;
    double self_per_msg = tot.messages ? (double)(self1 - self0) / (double)tot.messages : -1;
    uint64_t p50 = hist_quantile(&tot.lat, 0.50), p99 = hist_quantile(&tot.lat, 0.99);
    uint64_t p999 = hist_quantile(&tot.lat, 0.999);
    const char *mode = o.raw ? "raw" : o.idle >= 0 ? "idle" : o.tls ? "wss" : "ws";

    if (o.json) {
        printf("{\"mode\":\"%s\",\"conns\":%u,\"opened\":%u,\"size\":%llu,\"depth\":%u,"
               "\"text\":%s,\"threads\":%u,\"seconds\":%.3f,\"connect_seconds\":%.3f,"
               "\"messages\":%llu,\"msg_per_s\":%.1f,\"mb_per_s\":%.3f,"
               "\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,"
               "\"server_cpu_us\":%lld,\"server_cpu_us_per_msg\":%.4f,\"load_cpu_us_per_msg\":%.4f,"
               "\"wire_bytes_per_msg\":%.1f,\"deflate\":%s,"
               "\"errors\":%llu,\"err_connect\":%llu,\"err_handshake\":%llu,\"err_verify\":%llu,"
               "\"err_protocol\":%llu,\"err_closed\":%llu,\"first_error\":",
               mode, o.conns, tot.opened, (unsigned long long)o.size, o.depth,
               o.text ? "true" : "false", o.threads, secs, connect_s,
               (unsigned long long)tot.messages, rate, mbps, (double)p50 / 1e3, (double)p99 / 1e3,
               (double)p999 / 1e3, (double)tot.lat.max / 1e3,
               (long long)(cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1), cpu_per_msg, self_per_msg,
               tot.messages ? (double)tot.wire / (double)tot.messages : 0.0,
               o.deflate ? "true" : "false", (unsigned long long)errors,
               (unsigned long long)tot.errors[ERR_CONNECT],
               (unsigned long long)tot.errors[ERR_HANDSHAKE],
               (unsigned long long)tot.errors[ERR_VERIFY],
               (unsigned long long)tot.errors[ERR_PROTOCOL],
               (unsigned long long)tot.errors[ERR_CLOSED]);
        json_str(stdout, tot.first_error);
        printf("}\n");
    } else {
        char a[32], b[32], c[32], d[32];
        fmt_ns(a, sizeof a, p50);
        fmt_ns(b, sizeof b, p99);
        fmt_ns(c, sizeof c, p999);
        fmt_ns(d, sizeof d, tot.lat.max);
        printf("%s: %s %s:%u%s, %u conns (%u open after %.2f s), %llu B %s, depth %u, "
               "%u thread%s\n",
               o.prog, mode, o.host, o.port, o.raw ? "" : o.path, o.conns, tot.opened, connect_s,
               (unsigned long long)o.size, o.text ? "text" : "binary", o.depth, o.threads,
               o.threads == 1 ? "" : "s");
        if (o.idle < 0) {
            printf("  messages  %llu in %.2f s: %.0f msg/s, %.2f MB/s each way\n",
                   (unsigned long long)tot.messages, secs, rate, mbps);
            if (tot.messages)
                printf(
                    "  wire      %.1f bytes per echo from the server (frame headers included)%s\n",
                    (double)tot.wire / (double)tot.messages, o.deflate ? ", compressed" : "");
            printf("  latency   p50 %s, p99 %s, p99.9 %s, max %s\n", a, b, c, d);
            if (cpu_per_msg >= 0)
                printf("  server    %.2f us CPU per message (%lld us in all)\n", cpu_per_msg,
                       (long long)(cpu1 - cpu0));
            if (self_per_msg >= 0)
                printf("  load      %.2f us CPU per message (%.0f%% of one CPU, %u thread%s)\n",
                       self_per_msg, secs > 0 ? (double)(self1 - self0) / 1e4 / secs : 0.0,
                       o.threads, o.threads == 1 ? "" : "s");
        }
        printf("  errors    %llu (connect %llu, handshake %llu, verify %llu, protocol %llu, "
               "closed %llu)\n",
               (unsigned long long)errors, (unsigned long long)tot.errors[ERR_CONNECT],
               (unsigned long long)tot.errors[ERR_HANDSHAKE],
               (unsigned long long)tot.errors[ERR_VERIFY],
               (unsigned long long)tot.errors[ERR_PROTOCOL],
               (unsigned long long)tot.errors[ERR_CLOSED]);
        if (tot.first_error[0])
            printf("  first error: %s\n", tot.first_error);
    }
    free(lts);
    free(tids);
    bool ok = errors == 0 && (o.idle >= 0 ? tot.opened == o.conns : tot.messages > 0);
    return ok ? 0 : 1;
}

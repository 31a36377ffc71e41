#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"

int64_t proc_cpu_us(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: fields are
     * counted from the last ')'. utime and stime are fields 14 and 15, summed
     * over all the process's threads. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    for (int field = 3; field < 14; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -1;
    }
    char *end;
    unsigned long long ut = strtoull(p, &end, 10);
    unsigned long long st = strtoull(end, &end, 10);
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return -1;
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)hz);
}

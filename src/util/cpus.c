#include "util/cpus.h"

#include <sched.h>

unsigned wsc__cpus_allowed(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return CPU_SETSIZE;
    int n = CPU_COUNT(&set);
    return n > 0 ? (unsigned)n : 1;
}

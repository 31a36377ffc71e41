/* How many CPUs the calling thread may run on (its affinity mask), which threads it creates
 * inherit. A handler thread and a worker that can only share one CPU take turns on it, so waking
 * the one from the other is worth doing differently than when each has a CPU of its own. */
#ifndef WSC_UTIL_CPUS_H
#define WSC_UTIL_CPUS_H

/* At least 1; a large number when the mask cannot be read. Thread-safety: any thread. */
unsigned wsc__cpus_allowed(void);

#endif

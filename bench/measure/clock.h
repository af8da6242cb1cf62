/* The clock every window and workload reads: CLOCK_MONOTONIC in nanoseconds. */
#ifndef KREFBENCH_BENCH_CLOCK_H
#define KREFBENCH_BENCH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t kb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif

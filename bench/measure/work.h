/* Calibrated busy work: the --work-ns spin between get and put, and the canary's. */
#ifndef KREFBENCH_BENCH_WORK_H
#define KREFBENCH_BENCH_WORK_H

#include <stdint.h>

#include "core/lib/compiler.h"

/* `iters` dependent steps the compiler cannot remove. */
static inline void kb_work(uint64_t iters)
{
	for (uint64_t i = 0; i < iters; i++)
		kb_barrier();
}

/* The iterations of kb_work that take `ns` on this machine (0 for 0). */
uint64_t kb_work_calibrate(uint64_t ns);

#endif

/*
 * The CPU the calling thread runs on, as cheaply as the platform allows.
 *
 * glibc 2.35+ registers an rseq area for every thread (core/lib/rseq.h); the
 * kernel keeps its cpu_id current on every return to userspace, so reading it
 * is one load. The value can be stale by the time it is used (the thread may
 * migrate right after): callers that index per-CPU data with it either add
 * atomically (the per-CPU backend's atomic path) or read it inside an rseq
 * critical section (its rseq path, core/lib/rseq.h). When rseq is not registered
 * (__rseq_size == 0: old kernel, GLIBC_TUNABLES=glibc.pthread.rseq=0,
 * qemu-user), sched_getcpu() answers instead: slower, same meaning.
 */
#ifndef KREFBENCH_CORE_CPU_H
#define KREFBENCH_CORE_CPU_H

#include <sched.h>	/* sched_getcpu: needs _GNU_SOURCE, set by the build */
#include <stdbool.h>

#include "core/lib/compiler.h"
#include "core/lib/rseq.h"

static inline int kb_current_cpu(void)
{
	if (kb_likely(__rseq_size > 0)) {
		int cpu = (int)__atomic_load_n(&kb_rseq_area()->cpu_id, __ATOMIC_RELAXED);

		if (kb_likely(cpu >= 0))
			return cpu;
	}
	return sched_getcpu();
}

/* CPUs the per-CPU code must have room for: every possible CPU, not only the
 * online or allowed ones, because a thread may run on any of them later. */
int kb_possible_cpus(void);

#endif

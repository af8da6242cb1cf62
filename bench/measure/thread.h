/*
 * One thread of a repetition: its operations and its own stamps and counts
 * in the common window (measure/window.h), and what its body keeps per
 * thread. Padded to its own line pair: threads never share one.
 */
#ifndef KREFBENCH_BENCH_THREAD_H
#define KREFBENCH_BENCH_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lib/compiler.h"

struct gb_state;
struct kb_perf;
struct kb_window;

struct kb_thread {
	uint64_t ops;			/* operations in the window (hot) */
	uint64_t deadline;		/* the window's end, a private copy */
	struct kb_window *win;
	struct gb_state *st;
	uint64_t t_start_ns, t_end_ns;	/* own span inside the window */
	uint64_t cpu_ns;		/* CPU time over the span */
	long invol_switches;		/* involuntary context switches over the span */
	long vol_switches;		/* voluntary ones (the thread slept) over the span */
	int64_t run_delay_ns;		/* time runnable but waiting for a CPU over the span; < 0: unknown */
	uint64_t proc_cpu_ns[2];	/* the whole process's CPU time at enter and at close */
	int schedstat_fd;		/* /proc/thread-self/schedstat while in the window, or -1 */
	unsigned long rseq_restarts;	/* rseq restarts over the span */
	uint64_t canary_ns[2];		/* before and after the window */
	int cpu_at_start;
	bool migrated, window_closed;
	uint64_t unexpected_releases;
	uint64_t rng;
	uint64_t batch_start_ns;	/* when the current batch began (after the first) */
	int cpu;
	void *scratch;			/* workload-owned */
	struct kb_perf *perf;		/* perf_event counters of the timed loop, or NULL */
} __attribute__((aligned(2 * KB_CACHELINE)));

#endif

/*
 * The common window: how one repetition is timed.
 *
 * Every thread of a run lines up (Google Benchmark's start barrier, then our
 * own arrival count); the last one to arrive stamps the window's start t0
 * and its deadline t0 + length. Each thread then runs its loop in batches,
 * counting its own operations, and leaves at the first batch boundary past
 * the deadline, or as soon as another thread has left (the stop flag), so
 * no thread runs on alone: the figure is contention among all threads for
 * the whole window, never an uncontended tail. From the per-thread counts:
 *
 *   ns_per_op  = threads x window / operations   (per thread, per get+put pair)
 *              = window / operations             for serial work (pingpong:
 *                                                 one transfer at a time)
 *   ops_per_s  = operations / window             (all threads together)
 *   fairness   = fewest / most operations of any thread in the window
 *
 * where window runs from t0 to the last thread's exit. Next to the window
 * each thread also notes what disturbance detection needs (bench/measure/disturbance.h):
 * its CPU time, voluntary and involuntary switches and time spent waiting
 * for a CPU (/proc/thread-self/schedstat) over the window, the process's CPU
 * time at both ends (what its other threads took), the CPU it ran on at both
 * ends, rseq restarts, and a fixed-cost canary timed just before and just
 * after.
 */
#ifndef KREFBENCH_BENCH_WINDOW_H
#define KREFBENCH_BENCH_WINDOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/lib/compiler.h"

/*
 * A row's `own` (struct kb_workload's, struct kb_window's): what a workload declares as its own cost.
 *   KB_OWN_BLOCKING  its measured threads sleep on its own locks, queues or
 *                    grace periods: their voluntary off-CPU time is measured
 *                    cost, never a disturbance
 *   KB_OWN_HELPERS   it runs threads besides the measured ones (a writer,
 *                    liburcu's call_rcu thread for its deferred frees): a
 *                    measured thread waiting for a CPU while they run is its
 *                    cost, up to the CPU time they took
 * A backend with a thread of its own (KB_HELPER_THREAD) adds KB_OWN_HELPERS
 * to every row it is in; one whose operations may sleep (KB_BLOCKING),
 * KB_OWN_BLOCKING.
 */
#define KB_OWN_BLOCKING	1u
#define KB_OWN_HELPERS	2u

struct gb_state;
struct kb_thread;

/* What a repetition measured, summarised by thread 0 after every thread left. */
struct kb_window_result {
	uint64_t window_ns;		/* t0 to the last exit */
	uint64_t ops;			/* all threads */
	uint64_t start_skew_ns;		/* latest thread start - t0 */
	uint64_t stop_skew_ns;		/* latest exit - earliest exit */
	double fairness;		/* min/max per-thread ops */
	double task_clock_ratio;	/* min over threads: CPU time / own window */
	double cpu_s;			/* CPU time of all threads in their windows */
	long invol_switches;		/* all threads, during the window */
	long vol_switches;		/* all threads, during the window: they slept */
	double cpu_busy;		/* CPU time / span, over all threads together */
	double run_delay_s;		/* all threads: runnable, waiting for a CPU; < 0: unknown */
	double helper_cpu_s;		/* CPU time of the process's other threads meanwhile */
	double outside_frac;		/* the worst thread's time lost to others, / its span
					 * (bench/measure/disturbance.h) */
	int migrations;			/* threads whose CPU changed across the window */
	double canary_ns;		/* the fastest of every thread's before/after canary */
	double rseq_restarts;		/* all threads, during the window */
	unsigned int own;		/* the window's KB_OWN_* */
	bool serial;			/* the body's operations happen one at a time */
	bool valid;			/* every thread ran its window */
};

/* Shared by the threads of one repetition; lives with the run's context. */
struct kb_window {
	uint64_t length_ns;		/* set by the scheduler before each run */
	unsigned int own;		/* KB_OWN_* of the row (workloads/harness.h), set likewise */
	atomic_int pending;		/* threads yet to arrive (or to give up) */
	atomic_uint_fast64_t t0;	/* 0 until the last thread arrives */
	atomic_uint_fast64_t deadline;
	atomic_bool stop kb_cacheline_aligned;	/* read once per batch: its own line */
	char pad[KB_CACHELINE - sizeof(atomic_bool)];
	struct kb_window_result result;
};

/* The scheduler, before each run (not while threads are in it). */
void kb_window_reset(struct kb_window *w, int threads, uint64_t length_ns);

/* Per thread, before the timed loop: canary, line up, stamp. */
void kb_window_enter(struct gb_state *st, struct kb_window *w, struct kb_thread *me);
/* A thread that cannot run (pin or setup failed) stops the others waiting for it. */
void kb_window_abandon(struct kb_window *w);
/* Cold: the thread leaves the window at `now` (stamps, stops the clocks, canary). */
kb_cold void kb_window_close(struct kb_thread *me, uint64_t now);
/* Thread 0, after every thread closed its window (a barrier later). */
void kb_window_summarise(struct kb_window *w, const struct kb_thread *thr, int threads);

/* The worst thread's fraction of its span lost to others (window.c says how);
 * from the threads' stamps, the window's `own` and result.helper_cpu_s. */
double kb_window_outside(const struct kb_window *w, const struct kb_thread *thr, int threads);

/* The canary: `iters` dependent steps, calibrated once per process to ~100 us. */
void kb_canary_calibrate(void);
uint64_t kb_canary_ns(void);

#endif

/*
 * The sweep: what runs (registration: floors and every workload x backend x
 * knob at each thread count) and when (the scheduler).
 *
 * The scheduler's measurement model, for each thread count in turn:
 *   1. warm-up: every row runs once, briefly, unrecorded (caches, page
 *      faults, frequency; and the canary's first reference values);
 *   2. rounds: repetition r of every row runs in round r. A round runs
 *      the floors first, then the rows, each in an order shuffled by a
 *      seeded generator (--seed; the sidecar records it), so that drift
 *      and neighbours fall on every row alike and each row's norm divides
 *      by a floor measured minutes, not seconds, from it;
 *   3. before each attempt, the sweep waits while the machine runs slower
 *      than usual (kb_canary_settle: a slow host), within a budget of
 *      KB_SETTLE_BUDGET_SHARE of the sweep's planned windows;
 *   4. a disturbed repetition (bench/measure/disturbance.h) is written with its
 *      reasons and retried, up to --retries times.
 * Each round of each thread count runs in a process of its own, forked
 * from the sweep's before it has started any thread (rounds of the thread
 * counts interleaved: round 1 of each, then round 2, ...): the spread of a
 * row's repetitions then holds what differs between processes (allocator
 * and heap state, the threads and their stacks, the physical pages, a
 * backend's helper threads), as between two runs, and not only what
 * differs within one. The children append to the same CSV (one write per
 * row through the shared file offset, one child at a time) and leave their
 * tallies in shared memory; each warms up its rows, runs them and
 * ends. A run of one round of one thread count (the gate's, a
 * profile's) stays in its own process. Rows of a backend with a thread of
 * its own (KB_HELPER_THREAD) run after every other row of their process,
 * warmed up then: that thread never runs beside another backend's rows.
 * Google Benchmark's JSON is rewritten after every round, so it always parses.
 */
#ifndef KREFBENCH_BENCH_SWEEP_H
#define KREFBENCH_BENCH_SWEEP_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>

#include "measure/disturbance.h"
#include "options.h"
#include "perfctr.h"
#include "placement.h"
#include "measure/results_writer.h"
#include "measure/row.h"

/*
 * The process that runs a round now (the parent's view; 0 between rounds),
 * and whether this process is such a child: the signal handlers
 * (bench/interrupt.c) pass a signal on to the child, or only stop in it.
 */
extern volatile pid_t kb_sweep_child;
extern volatile sig_atomic_t kb_sweep_in_child;

/* The most the sweep waits for a slow machine, as a share of its planned
 * windows (rows x repetitions x --time): the default sweep's 110 s of
 * windows may wait 33 s, so ./run.sh stays under its 4 minutes; --quick,
 * a smoke run that should take half a minute, waits a tenth. */
#define KB_SETTLE_BUDGET_SHARE 0.3
#define KB_SETTLE_BUDGET_SHARE_QUICK 0.1

/* What the sweep counts as it goes; a round process hands its copy back
 * through shared memory. */
struct kb_sweep_tally {
	int reps_total, reps_disturbed_first, reps_disturbed, attempts_dropped;
	int reps_not_retried;		/* of rows never clean so far: see measure() */
	int failures;			/* benchmark errors and failed self-checks */
};

struct kb_sweep {
	struct kb_options opt;
	struct kb_topo *topo;
	struct kb_placement placement;
	struct kb_entry *entries;	/* in memory shared with the round processes */
	struct kb_entry *registered;	/* the heap copy registration made, or NULL */
	int nentries;
	uint64_t work_iters;
	struct kb_results *results;
	uint64_t rng;			/* the shuffle's state, from opt.seed */
	struct kb_canaries *canaries;	/* the reference and the waits, shared with the round processes */
	struct kb_idle_profile idle;	/* measured at the start (kb_sweep_profile) */
	struct kb_thresholds limits;	/* from it */
	int process;			/* the process measuring now, 1.. (the CSV's process) */
	int processes;			/* started so far */
	struct kb_sweep_tally tally;	/* the parent's, and each round process's copy */
	double t_start;
	char csv_path[4096], json_path[4096], gbench_path[4096];
	char command_line[4096];
	struct kb_perf_probe perf;	/* what the threads count (shims/perfctr.h) */
	char *perf_json;		/* the probe, for the sidecar */
	char write_error[4400];		/* set when the results could not be written: the run stops */
};

/* Plan each thread count and register every row (dies on bad input). */
void kb_sweep_register(struct kb_sweep *sw, const int *counts, int ncounts);
int *kb_sweep_plan(struct kb_sweep *sw, int threads);
/* The idle profile of the CPUs the sweep uses, and the limits from it. */
void kb_sweep_profile(struct kb_sweep *sw);
/* Warm up and run the rounds; 0, or -1 when the results could not be written (write_error says why). */
int kb_sweep_run(struct kb_sweep *sw);

void kb_die(const char *msg) __attribute__((noreturn));

#endif

/*
 * A row of the sweep (one benchmark: backend x workload x knobs x threads)
 * and what its repetitions gave; and the derived columns of one
 * repetition's CSV row, from its window (bench/measure/window.h):
 *
 *   ns_per_op   threads x window / ops (window / ops for serial work)
 *   ops_per_s   ops / window
 *   fairness    fewest / most ops of any thread
 *   norm        ns_per_op / the floor measured in the same round: the
 *               uncontended floor for `private` and at 1 thread (no line is
 *               shared), the shared floor above
 *   fast_path   the per-CPU fast path percpu ran on (rseq or atomic),
 *               atomic for percpu_atomic, n/a for the others
 */
#ifndef KREFBENCH_BENCH_ROW_H
#define KREFBENCH_BENCH_ROW_H

#include <stdbool.h>

#include "gbench.h"
#include "results_writer.h"
#include "window.h"

#define KB_MAX_REPS 1000

struct kb_entry {
	char name[160];			/* backend/workload[/variant]/w<rate>/t<threads> */
	const char *backend, *workload;
	char variant[32];
	double writer_rate;
	int threads, objects;
	int uses;			/* churn's --uses; 0 otherwise */
	const int *cpus;		/* planned CPU of each thread */
	void *run;			/* the spec's context */
	struct kb_window *win;		/* inside run */
	int spec;			/* gb_register's index */
	bool is_floor;
	bool unshared;			/* no object shared between threads: normalised by the uncontended floor */
	unsigned int own;		/* KB_OWN_* (workloads/workload.h): what is the row's own cost */
	bool helper_backend;		/* the backend runs a thread of its own (KB_HELPER_THREAD) */
	int floor;			/* index of the floor entry that normalises this row, or -1 */
	double floor_ns;		/* floors: this round's figure */
	/* clean repetitions */
	double ns[KB_MAX_REPS], norm[KB_MAX_REPS];
	int nclean, nnorm;
	/* repetitions with no clean attempt: their last attempt, shown only when nothing is clean */
	double disturbed_ns[KB_MAX_REPS];
	int ndisturbed;
	int ndropped;			/* disturbed attempts (retried or final) */
	char check[200];		/* the first failure, "" while ok */
};

/* The parts of a row Google Benchmark's result carries: cpus, check, perf counts. */
void kb_row_from_result(struct kb_row *row, const struct gb_result *r, uint64_t ops);
/* ns_per_op, ops_per_s, fairness and the window's own columns. */
void kb_row_derive(struct kb_row *row, const struct kb_window_result *w, int threads);
/* kb_row_derive over the threads the workload counts, then what it reported
 * beside its window (bench/measure/latency.h) and the backend's memory per object. */
void kb_row_beside(struct kb_row *row, const struct kb_entry *e, const struct kb_window_result *w);
double kb_row_norm(const struct kb_entry *entries, const struct kb_entry *e, double ns_per_op);	/* < 0: no floor */
const char *kb_fast_path(const char *backend);

#endif

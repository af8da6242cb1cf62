/*
 * A C API over Google Benchmark (Debian's libbenchmark-dev, C++).
 *
 * Workloads in bench/ are C and use only this. Google Benchmark starts the
 * threads of a run, lines them up at its start barrier, carries per-thread
 * counters and writes the JSON its own tools read; krefbench's scheduler
 * (bench/sweep.c) decides what runs when, one repetition at a time, and its
 * threads time themselves over a common window (bench/measure/window.h).
 *
 * One registration is one benchmark at one thread count. gb_run_once() runs
 * it once: setup(), then `threads` threads each call body() once, then
 * teardown(). A body calls gb_start() exactly once (it returns when every
 * thread of the run has reached it) and gb_stop() once after its timed
 * loop; a body that cannot run calls gb_skip_with_error() and returns.
 * Counters set by several threads arrive summed.
 *
 * JSON: gb_json_add() records one repetition with the figures krefbench
 * measured, gb_json_write() writes every recorded one as Google Benchmark's
 * JSON. A benchmark's name is the caller's, with no ordinal in it, so the
 * same benchmark has the same name whatever else a run holds. For a
 * threaded run the library counts iterations over all threads and reports
 * real time per thread; so "iterations" is the operations of all threads,
 * real_time = window / operations = ns_per_op / threads.
 *
 * Debian builds the library without NDEBUG; it only drives our loops.
 */
#ifndef KREFBENCH_SHIMS_GBENCH_H
#define KREFBENCH_SHIMS_GBENCH_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gb_state;

struct gb_spec {
	const char *name;	/* unique */
	void (*body)(struct gb_state *st, void *ctx);
	void (*setup)(int threads, void *ctx);		/* optional */
	void (*teardown)(int threads, void *ctx);	/* optional */
	void *ctx;
	int threads;
};

struct gb_counter {
	const char *name;
	double value;
};

struct gb_result {
	const char *name;
	int spec;		/* index returned by gb_register */
	int threads;
	const char *error;	/* non-NULL when the run was skipped with an error */
	const struct gb_counter *counters;
	int ncounters;
};

/* Once, before anything else: the library's own flags are refused (-1, printed). */
int gb_init(const char *argv0);

/* Returns the spec's index, or -1 (bad spec). The spec is copied, its name included. */
int gb_register(const struct gb_spec *spec);

/* In a body: once each, around the timed loop. */
void gb_start(struct gb_state *st);
void gb_stop(struct gb_state *st);
int gb_thread_index(const struct gb_state *st);
int gb_threads(const struct gb_state *st);
void gb_counter_set(struct gb_state *st, const char *name, double value);
void gb_skip_with_error(struct gb_state *st, const char *message);

typedef void (*gb_report_fn)(const struct gb_result *result, void *arg);

/* Run spec `index` once; report() sees its result. 0, or -1 (bad index, or a C++ exception: printed). */
int gb_run_once(int index, gb_report_fn report, void *arg);

struct gb_json_run {
	const char *name;
	int threads;
	int repetition, repetitions;
	uint64_t iterations;	/* operations of all threads */
	double real_s;		/* the window */
	double cpu_s;		/* CPU time of all threads */
	const struct gb_counter *counters;
	int ncounters;
};

/* Record one repetition for the JSON (copied). 0, or -1 out of memory. */
int gb_json_add(const struct gb_json_run *run);
/* Write every recorded repetition to path (a temporary beside it, then rename):
 * a reader sees the previous complete document or the new one. 0, or -1 with errno. */
int gb_json_write(const char *path);

#ifdef __cplusplus
}
#endif

#endif

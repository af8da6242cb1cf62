/*
 * A C API over Google Benchmark (Debian's libbenchmark-dev, C++).
 *
 * Workloads in bench/ are C and use only this. One registration is one
 * benchmark at one thread count: Google Benchmark starts `threads` threads
 * for every run, each calls body(); the timed region is what runs between the
 * first gb_keep_running_batch() and the one that returns false, measured in
 * wall-clock time. setup() runs before the threads of each run start and
 * teardown() after they have all finished — Google Benchmark may make
 * several trial runs to size the iteration count before the one it reports,
 * so both can run more than once per reported repetition.
 *
 * Results are handed, one per repetition, to the callback given to gb_run(),
 * as each benchmark finishes. Per-run facts that belong to a row (a
 * self-check, the CPUs used) travel as user counters: counters set by
 * several threads are summed.
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
	int repetitions;	/* >= 1 */
	double min_time_s;	/* 0: Google Benchmark's default */
	uint64_t iterations;	/* 0: sized by min_time */
};

struct gb_counter {
	const char *name;
	double value;
};

struct gb_result {
	const char *name;
	int spec;		/* index returned by gb_register */
	int threads;
	int repetition;		/* 0-based */
	uint64_t iterations;	/* per thread */
	double real_ns;		/* wall clock per iteration, per thread */
	double cpu_ns;		/* CPU time per iteration (all threads' CPU / all iterations) */
	const char *error;	/* non-NULL when the run was skipped with an error */
	const struct gb_counter *counters;
	int ncounters;
};

/* Returns the spec's index, or -1 (bad spec). The spec is copied, its name included. */
int gb_register(const struct gb_spec *spec);

/* True while the timed loop should run another batch of n iterations. */
bool gb_keep_running_batch(struct gb_state *st, uint64_t n);
int gb_thread_index(const struct gb_state *st);
int gb_threads(const struct gb_state *st);
uint64_t gb_max_iterations(const struct gb_state *st);
void gb_pause(struct gb_state *st);
void gb_resume(struct gb_state *st);
void gb_counter_set(struct gb_state *st, const char *name, double value);
void gb_skip_with_error(struct gb_state *st, const char *message);

typedef void (*gb_report_fn)(const struct gb_result *result, void *arg);

/*
 * Run every registered benchmark. args (may be NULL) are extra
 * --benchmark_* flags. When json_path is set, Google Benchmark's own JSON
 * goes there so its tools read our runs. Returns 0, or -1 when the library
 * refused to run (the reason is printed).
 */
int gb_run(const char *const *args, int nargs, const char *json_path, gb_report_fn report, void *arg);

#ifdef __cplusplus
}
#endif

#endif

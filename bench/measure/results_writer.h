/*
 * Results: one CSV row per repetition attempt, appended (one write(2) per
 * row, so a signal never leaves half a row; a failed or short write is cut
 * back off, so a full disk never does either) as each finishes, and a JSON
 * sidecar with the environment. A results file is created exclusively and
 * never through a symlink: a run never overwrites an earlier one. Every
 * text field goes through one quoting writer (RFC 4180), so any value a
 * user can pass comes back unchanged.
 */
#ifndef KREFBENCH_BENCH_RESULTS_H
#define KREFBENCH_BENCH_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KB_CSV_HEADER "backend,workload,threads,placement,objects,work_ns,rep,iterations," \
	"ns_per_op,ops_per_s,norm,fairness,cpus,check,variant,writer_rate," \
	"attempt,disturbed,window_ns,ops,start_skew_ns,stop_skew_ns,task_clock_ratio,invol_switches," \
	"migrations,steal_pct,canary_ns,canary_ratio,fast_path,rseq_restarts_per_mop," \
	"uses,lat_p50_ns,lat_p99_ns,lat_p999_ns,lat_max_ns,lat_samples,mem_bytes,mem_bytes_64,mem_bytes_256,release_via," \
	"lookup_hits,lookup_misses,lookup_mostly_missed," \
	"voluntary_switches_per_op,cpu_busy,outside_pct,process," \
	"cycles_per_op,instructions_per_op,branches_per_op,branch_misses_per_op," \
	"cache_references_per_op,cache_misses_per_op,task_clock_ns_per_op," \
	"context_switches_per_op,cpu_migrations_per_op"

/* The perf_event columns at the end, in shims/perfctr.h's event order. */
#define KB_PERF_COLUMNS 9

struct kb_row {
	const char *backend, *workload, *placement;
	int threads, objects, rep;
	uint64_t work_ns, iterations;
	double ns_per_op, ops_per_s, norm, fairness;	/* norm < 0: unknown */
	char cpus[1024];
	char check[200];
	const char *variant;	/* lookup flavour or variant; "" otherwise */
	double writer_rate;
	/* the measurement model (bench/measure/window.h, bench/measure/disturbance.h) */
	int attempt;
	char disturbed[256];	/* "" when clean */
	uint64_t window_ns, ops, start_skew_ns, stop_skew_ns;
	double task_clock_ratio;
	long invol_switches;
	int migrations;
	double steal_pct;	/* < 0: unknown */
	double canary_ns, canary_ratio;	/* ratio < 0: no reference yet */
	const char *fast_path;	/* rseq, atomic or n/a */
	double rseq_restarts_per_mop;	/* < 0: n/a */
	/* bench/measure/latency.h: sampled single operations (hammer, lookup_rcu) or
	 * releases (release_latency); < 0: empty */
	int uses;		/* churn: get/put pairs per holder per lifetime; 0: empty */
	double lat_p50_ns, lat_p99_ns, lat_p999_ns, lat_max_ns, lat_samples;
	/* bytes one object costs the backend here and at 64 and 256 CPUs; < 0: empty */
	double mem_bytes, mem_bytes_64, mem_bytes_256;
	const char *release_via;	/* release_latency: how release() is reached */
	/* what the threads waited on (bench/measure/window.h): sleeps per op
	 * (per lifetime for churn), CPU time / span of all threads, the worst
	 * thread's time lost to others in percent of its span */
	double voluntary_switches_per_op, cpu_busy, outside_pct;
	int process;		/* which process of the run measured it, 1.. */
	/* perf_event counts per op, summed over threads / (iterations x threads); < 0: empty */
	double perf_per_op[KB_PERF_COLUMNS];
	/* lookup workloads: lookups that got a reference and that did not
	 * (hits + misses = ops); lookup_mostly_missed is 1 when misses > hits,
	 * a row whose figure is not a lookup's cost. Empty unless `lookups`. */
	bool lookups;
	uint64_t lookup_hits, lookup_misses;
};

struct kb_results;

/* Creates path exclusively; NULL and a message when it exists or cannot be written. */
struct kb_results *kb_results_open(const char *path, char *err, size_t errlen);
int kb_results_append(struct kb_results *r, const struct kb_row *row);
int kb_results_rows(const struct kb_results *r);
int kb_results_fd(const struct kb_results *r);
/* After another process appended through the same open file (bench/sweep.h):
 * its row count, and the end it left as the last complete row. */
void kb_results_sync(struct kb_results *r, int rows);
void kb_results_close(struct kb_results *r);

#endif

/* The benchmark binary's command line. */
#ifndef KREFBENCH_BENCH_OPTIONS_H
#define KREFBENCH_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backends.h"
#include "workloads/lookup_rcu.h"
#include "workloads/workload.h"

#define KB_MAX_WORKLOADS 16
#define KB_MAX_OBJECTS 65536		/* --objects: spread objects or lookup keys */
#define KB_MAX_THREADS 4096		/* per thread count: more than any machine has PUs */
#define KB_MAX_USES 8			/* --uses */

struct kb_options {
	const struct kb_backend *backends[KB_NBACKENDS_BUILT];
	int nbackends;
	const struct kb_workload *workloads[KB_MAX_WORKLOADS];
	int nworkloads;
	const char *threads_text;	/* NULL: 1, powers of two, all PUs */
	const char *placement_text;
	int objects;
	uint64_t work_ns;
	double time_s;
	int reps;
	int retries;			/* extra attempts of a disturbed repetition */
	uint64_t seed;			/* the rounds' shuffle */
	bool quick;
	bool floors;
	bool plan_only;
	bool oversubscribe;
	bool no_idle_profile;		/* --no-idle-profile */
	const char *topology;		/* synthetic description or XML path */
	const char *out;		/* results CSV path */
	const char *results_dir;
	const char *print_path_to;	/* write the CSV path here (for run.sh) */
	double writer_rates[8];		/* lookup workloads */
	int nwriter_rates;
	int flavors[KB_NRCU];		/* lookup_rcu */
	int nflavors;
	int variants[8];		/* lookup_mutex */
	int nvariants;
	bool hot;
	int uses[KB_MAX_USES];		/* get/put pairs each holder makes per object lifetime (churn) */
	int nuses;
	bool no_perf;			/* no perf_event counters */
	bool wide;			/* the per-benchmark summary table (wider than a terminal) */
	bool list, list_json;		/* --list [--format json]: print what the binary knows */
};

/* 0: run (or list, o->list); 1: --help was printed; -1: bad input, message in err. */
int kb_options_parse(int argc, char **argv, struct kb_options *o, char *err, size_t errlen);
/* Thread counts for npus PUs: the list given, or 1, powers of two, npus. */
int kb_options_threads(const struct kb_options *o, int npus, int *out, int max, char *err, size_t errlen);

/* The variants of w the sweep runs (every one, or those its option chose;
 * one -1 when w has none), at most max; returns how many. */
int kb_options_variants(const struct kb_options *o, const struct kb_workload *w, int *out, int max);

extern const struct kb_workload *const kb_all_workloads[];
extern const int kb_nall_workloads;

#endif

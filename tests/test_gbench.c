/*
 * The C shim over Google Benchmark (shims/gbench.h), pinned down with a body
 * whose cost is known: every iteration nanosleeps 1 ms.
 *
 * - results: one per repetition (0 and 1), the right thread count, the
 *   iteration count per thread (the library itself counts over all threads),
 *   and real_ns = wall clock per iteration per thread, so >= 1e6 at every
 *   thread count (a shim that divided by all threads' iterations would give
 *   1e6 / threads), never below what the threads timed themselves, and on
 *   the long fixed-count specs not a multiple of it (a shim that multiplied
 *   by the thread count);
 * - counters: one set by thread 0 alone arrives unchanged, one set by every
 *   thread arrives summed;
 * - setup/teardown: called with the thread count, before the threads start
 *   and after they finish, at least once per repetition, paired;
 * - gb_skip_with_error: the result arrives with `error` set;
 * - gb_register: refuses a duplicate name, threads 0, repetitions 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "gbench.h"

#define SLEEP_NS 1000000L
#define REPS 2
#define MAX_RESULTS 64

/* What each registration saw, from its setup/teardown and its threads. */
struct probe {
	int threads;			/* as registered */
	int setup_calls, teardown_calls;
	int bad_setup_threads;		/* setup/teardown called with another count */
	int in_run;			/* between setup and teardown */
	int unpaired;			/* setup twice without teardown, or the reverse */
	atomic_int body_outside_run;	/* body ran while no setup was in force */
};

/* A copy of one result (the shim's strings live only during the callback). */
struct seen {
	char name[64];
	int spec, threads, repetition;
	uint64_t iterations;
	double real_ns, cpu_ns;
	bool has_error;
	char error[128];
	int ncounters;
	char counter_names[16][32];
	double counter_values[16];
};

static struct seen results[MAX_RESULTS];
static int nresults, overflow;

static void sleep_1ms(void)
{
	struct timespec ts = { 0, SLEEP_NS };

	while (nanosleep(&ts, &ts))
		;
}

static void probe_setup(int threads, void *ctx)
{
	struct probe *p = ctx;

	p->setup_calls++;
	if (threads != p->threads)
		p->bad_setup_threads++;
	if (p->in_run)
		p->unpaired++;
	p->in_run = 1;
}

static void probe_teardown(int threads, void *ctx)
{
	struct probe *p = ctx;

	p->teardown_calls++;
	if (threads != p->threads)
		p->bad_setup_threads++;
	if (!p->in_run)
		p->unpaired++;
	p->in_run = 0;
}

/* 1 ms per iteration; counters that say what each thread saw. */
static void sleep_body(struct gb_state *st, void *ctx)
{
	struct probe *p = ctx;
	int t = gb_thread_index(st), n = gb_threads(st);
	uint64_t iters = 0;

	struct timespec t0 = { 0 }, t1 = { 0 };

	if (!p->in_run)
		atomic_fetch_add(&p->body_outside_run, 1);
	/*
	 * t0 and t1 are read inside the loop: the library's timer starts
	 * before the first keep-running returns and stops inside the last
	 * one, before its end barrier. So [t0, t1] lies inside the timed
	 * span whatever the load, and a thread waiting at the barrier for a
	 * descheduled sibling does not count against either.
	 */
	while (gb_keep_running_batch(st, 1)) {
		if (!iters)
			clock_gettime(CLOCK_MONOTONIC, &t0);
		sleep_1ms();
		iters++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	}
	/* The thread's own view of its loop, summed over threads by the library. */
	gb_counter_set(st, "body_ns", iters ? (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
					  (double)(t1.tv_nsec - t0.tv_nsec) : 0);
	if (t == 0) {
		gb_counter_set(st, "only0", 42.5);
		gb_counter_set(st, "threads_seen", n);
		gb_counter_set(st, "max_iterations", (double)gb_max_iterations(st));
	}
	gb_counter_set(st, "each", 1.5);
	gb_counter_set(st, "iters", (double)iters);
	gb_counter_set(st, "bad_index", (t < 0 || t >= n) ? 1 : 0);
}

/* Every thread refuses the run before its loop, as a failed pin does. */
static void error_body(struct gb_state *st, void *ctx)
{
	(void)ctx;
	gb_skip_with_error(st, "boom: deliberate");
}

static void on_result(const struct gb_result *r, void *arg)
{
	struct seen *s;

	(void)arg;
	if (nresults == MAX_RESULTS) {
		overflow++;
		return;
	}
	s = &results[nresults++];
	snprintf(s->name, sizeof(s->name), "%s", r->name ? r->name : "(null)");
	s->spec = r->spec;
	s->threads = r->threads;
	s->repetition = r->repetition;
	s->iterations = r->iterations;
	s->real_ns = r->real_ns;
	s->cpu_ns = r->cpu_ns;
	s->has_error = r->error != NULL;
	snprintf(s->error, sizeof(s->error), "%s", r->error ? r->error : "");
	s->ncounters = r->ncounters < 16 ? r->ncounters : 16;
	for (int i = 0; i < s->ncounters; i++) {
		snprintf(s->counter_names[i], sizeof(s->counter_names[i]), "%s", r->counters[i].name);
		s->counter_values[i] = r->counters[i].value;
	}
}

static bool counter(const struct seen *s, const char *name, double *v)
{
	for (int i = 0; i < s->ncounters; i++)
		if (strcmp(s->counter_names[i], name) == 0) {
			*v = s->counter_values[i];
			return true;
		}
	return false;
}

static bool near(double a, double b) { return a - b < 1e-9 && b - a < 1e-9; }

static const int thread_counts[] = { 1, 2, 4 };
#define NCOUNTS (int)(sizeof(thread_counts) / sizeof(thread_counts[0]))

/*
 * Fixed-count specs, long enough (50 ms) that one scheduler preemption
 * inside the timer but outside the body's own clock reads (possible while a
 * thread starts, on a loaded machine) cannot pass for a factor of 2.
 */
#define FIXED_ITERATIONS 50
static const int fixed_threads[] = { 2, 4 };
#define NFIXED (int)(sizeof(fixed_threads) / sizeof(fixed_threads[0]))

static struct probe sleep_probes[NCOUNTS], fixed_probes[NFIXED], error_probes[2];
static int sleep_index[NCOUNTS], fixed_index[NFIXED], error_index[2];

static void check_registration(void)
{
	struct gb_spec good = { .name = "sleep/t1", .body = sleep_body, .ctx = &sleep_probes[0],
				.threads = 1, .repetitions = 1 };
	struct gb_spec s;

	/* "sleep/t1" is already registered (from a buffer since overwritten). */
	CHECK(gb_register(&good) == -1, "a duplicate name is refused");
	s = good;
	s.name = "refuse/threads0";
	s.threads = 0;
	CHECK(gb_register(&s) == -1, "threads 0 is refused");
	s.threads = -1;
	CHECK(gb_register(&s) == -1, "threads -1 is refused");
	s = good;
	s.name = "refuse/reps0";
	s.repetitions = 0;
	CHECK(gb_register(&s) == -1, "repetitions 0 is refused");
	s = good;
	s.name = "refuse/nobody";
	s.body = NULL;
	CHECK(gb_register(&s) == -1, "a spec without a body is refused");
	s = good;
	s.name = NULL;
	CHECK(gb_register(&s) == -1, "a spec without a name is refused");
	CHECK(gb_register(NULL) == -1, "a NULL spec is refused");
}

static void register_all(void)
{
	int next = 0;

	/* The names live in a reused stack buffer: the shim keeps its own copy. */
	char name[32];

	for (int i = 0; i < NCOUNTS; i++) {
		struct gb_spec s = { 0 };

		snprintf(name, sizeof(name), "sleep/t%d", thread_counts[i]);
		sleep_probes[i].threads = thread_counts[i];
		s.name = name;
		s.body = sleep_body;
		s.setup = probe_setup;
		s.teardown = probe_teardown;
		s.ctx = &sleep_probes[i];
		s.threads = thread_counts[i];
		s.repetitions = REPS;
		s.min_time_s = 0.01;
		sleep_index[i] = gb_register(&s);
		CHECK_EQ(sleep_index[i], next, "gb_register returns the next index");
		next++;
	}
	memset(name, 'X', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;

	/* A fixed iteration count: each thread runs exactly that many. */
	for (int i = 0; i < NFIXED; i++) {
		struct gb_spec s = { .name = name, .body = sleep_body, .setup = probe_setup,
				     .teardown = probe_teardown, .ctx = &fixed_probes[i],
				     .threads = fixed_threads[i], .repetitions = 1,
				     .iterations = FIXED_ITERATIONS };

		snprintf(name, sizeof(name), "sleep/fixed/t%d", fixed_threads[i]);
		fixed_probes[i].threads = fixed_threads[i];
		fixed_index[i] = gb_register(&s);
		CHECK_EQ(fixed_index[i], next, "gb_register returns the next index");
		next++;
	}

	for (int i = 0; i < 2; i++) {
		struct gb_spec s = { .body = error_body, .setup = probe_setup, .teardown = probe_teardown,
				     .threads = i + 1, .repetitions = REPS, .min_time_s = 0.01 };

		error_probes[i].threads = i + 1;
		s.name = i ? "error/t2" : "error/t1";
		s.ctx = &error_probes[i];
		error_index[i] = gb_register(&s);
		CHECK_EQ(error_index[i], next, "gb_register returns the next index");
		next++;
	}
}

static void check_sleep_results(int idx, const char *want_name, const struct probe *p, int threads,
				int reps, uint64_t want_iterations, double *mean_real_ns)
{
	int got = 0, rep_seen[8] = { 0 };
	double sum_real = 0;

	for (int i = 0; i < nresults; i++) {
		const struct seen *s = &results[i];
		double v;

		if (s->spec != idx)
			continue;
		got++;
		printf("  %-16s threads %d rep %d: %llu iterations/thread, real %.0f ns, cpu %.0f ns\n",
		       s->name, s->threads, s->repetition, (unsigned long long)s->iterations,
		       s->real_ns, s->cpu_ns);
		CHECK(!s->has_error, "%s rep %d: no error (got '%s')", s->name, s->repetition, s->error);
		CHECK(want_name == NULL || strcmp(s->name, want_name) == 0, "result name '%s' is the registered '%s'",
		      s->name, want_name ? want_name : "");
		CHECK_EQ(s->threads, threads, "result's threads");
		CHECK(s->repetition >= 0 && s->repetition < reps, "%s: repetition %d in [0,%d)",
		      s->name, s->repetition, reps);
		if (s->repetition >= 0 && s->repetition < 8)
			rep_seen[s->repetition]++;
		CHECK(s->iterations >= 1, "%s: at least one iteration", s->name);
		if (want_iterations)
			CHECK_EQ(s->iterations, want_iterations, "fixed iterations, per thread");
		CHECK(s->real_ns >= 1e6, "%s rep %d: per-thread wall time per iteration %.0f ns >= 1 ms",
		      s->name, s->repetition, s->real_ns);
		CHECK(s->real_ns < 50e6, "%s rep %d: real_ns %.0f ns is sane (< 50 ms)", s->name,
		      s->repetition, s->real_ns);
		CHECK(s->cpu_ns >= 0 && s->cpu_ns < s->real_ns, "%s: cpu_ns %.0f in [0, real_ns) for a sleeper",
		      s->name, s->cpu_ns);
		sum_real += s->real_ns;

		CHECK(counter(s, "only0", &v) && near(v, 42.5),
		      "%s: counter set by thread 0 only arrives unchanged (42.5)", s->name);
		CHECK(counter(s, "each", &v) && near(v, 1.5 * threads),
		      "%s: counter set by every thread arrives summed (want %.1f)", s->name, 1.5 * threads);
		CHECK(counter(s, "threads_seen", &v) && near(v, threads), "%s: gb_threads() in the body",
		      s->name);
		CHECK(counter(s, "bad_index", &v) && near(v, 0), "%s: gb_thread_index() in [0, threads)",
		      s->name);
		CHECK(counter(s, "max_iterations", &v) && near(v, (double)s->iterations),
		      "%s: gb_max_iterations() equals the reported per-thread iterations", s->name);
		/*
		 * Per thread, not per all threads nor times threads. The
		 * library's span contains each thread's own [t0, t1], so the
		 * lower bound holds under any load; the upper bound fails on a
		 * figure multiplied by the thread count and would need a
		 * thread preempted for half its run in the microseconds
		 * between its last clock read and the timer's stop.
		 */
		if (counter(s, "body_ns", &v) && s->iterations) {
			double own = v / threads / (double)s->iterations;

			CHECK(s->real_ns >= 0.999 * own,
			      "%s rep %d: real_ns %.0f covers the threads' own per-iteration time %.0f",
			      s->name, s->repetition, s->real_ns, own);
			if (want_iterations >= FIXED_ITERATIONS && threads > 1)
				CHECK(s->real_ns < 1.5 * own,
				      "%s rep %d: real_ns %.0f is not a multiple of the threads' own %.0f",
				      s->name, s->repetition, s->real_ns, own);
		}
		CHECK(counter(s, "iters", &v) && near(v, (double)s->iterations * threads),
		      "%s: iterations the threads ran (%.0f) = per-thread iterations x threads (%llu x %d)",
		      s->name, counter(s, "iters", &v) ? v : -1.0, (unsigned long long)s->iterations, threads);
	}
	CHECK_EQ(got, reps, "results for one spec (one per repetition)");
	for (int r = 0; r < reps; r++)
		CHECK_EQ(rep_seen[r], 1, "each repetition reported once");
	*mean_real_ns = got ? sum_real / got : 0;

	CHECK(p->setup_calls >= reps, "setup called %d times, at least once per repetition (%d)",
	      p->setup_calls, reps);
	CHECK_EQ(p->teardown_calls, p->setup_calls, "teardown calls equal setup calls");
	CHECK_EQ(p->bad_setup_threads, 0, "setup/teardown called with the spec's thread count");
	CHECK_EQ(p->unpaired, 0, "setup and teardown alternate");
	CHECK_EQ(p->in_run, 0, "teardown after the last run");
	CHECK_EQ(atomic_load(&p->body_outside_run), 0, "the body runs only between setup and teardown");
}

static void check_error_results(int idx, const struct probe *p, int threads)
{
	int got = 0;

	for (int i = 0; i < nresults; i++) {
		const struct seen *s = &results[i];

		if (s->spec != idx)
			continue;
		got++;
		CHECK(s->has_error, "%s rep %d: error is set", s->name, s->repetition);
		CHECK(strstr(s->error, "boom: deliberate") != NULL, "%s: error message arrives ('%s')",
		      s->name, s->error);
		CHECK_EQ(s->threads, threads, "error result's threads");
	}
	CHECK(got >= 1, "error spec with %d thread(s) produced a result (%d)", threads, got);
	CHECK(p->setup_calls >= 1, "error spec: setup called");
	CHECK_EQ(p->teardown_calls, p->setup_calls, "error spec: teardown calls equal setup calls");
	CHECK_EQ(p->bad_setup_threads, 0, "error spec: setup/teardown thread count");
}

int main(void)
{
	char dir[] = "/tmp/test_gbench.XXXXXX", json[64];
	double mean_real[NCOUNTS];
	FILE *f;

	register_all();
	check_registration();

	CHECK(mkdtemp(dir) != NULL, "temporary directory");
	snprintf(json, sizeof(json), "%s/out.json", dir);
	CHECK_EQ(gb_run(NULL, 0, json, on_result, NULL), 0, "gb_run");
	CHECK_EQ(overflow, 0, "result overflow");

	for (int i = 0; i < nresults; i++)
		CHECK(results[i].spec >= 0 && results[i].spec <= error_index[1],
		      "result '%s' maps to a registered spec (%d)", results[i].name, results[i].spec);

	for (int i = 0; i < NCOUNTS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sleep/t%d", thread_counts[i]);
		check_sleep_results(sleep_index[i], name, &sleep_probes[i], thread_counts[i], REPS, 0,
				    &mean_real[i]);
	}
	{
		double ignored;

		for (int i = 0; i < NFIXED; i++) {
			char name[32];

			snprintf(name, sizeof(name), "sleep/fixed/t%d", fixed_threads[i]);
			check_sleep_results(fixed_index[i], name, &fixed_probes[i], fixed_threads[i], 1,
					    FIXED_ITERATIONS, &ignored);
		}
	}
	printf("  mean real_ns: 1 thread %.0f, %d threads %.0f\n", mean_real[0],
	       thread_counts[NCOUNTS - 1], mean_real[NCOUNTS - 1]);

	for (int i = 0; i < 2; i++)
		check_error_results(error_index[i], &error_probes[i], i + 1);

	/* Google Benchmark's own JSON lands where asked. */
	f = fopen(json, "r");
	CHECK(f != NULL, "Google Benchmark JSON written to %s", json);
	if (f) {
		static char buf[1 << 20];
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = 0;
		CHECK(strstr(buf, "\"benchmarks\"") != NULL, "JSON has a benchmarks array");
		CHECK(strstr(buf, "\"sleep/t4/") != NULL, "JSON names the benchmarks");
		CHECK(strstr(buf, "\"context\"") != NULL, "JSON has a context");
		fclose(f);
		unlink(json);
	}
	rmdir(dir);
	return check_summary();
}

#include "sweep.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fold.h"
#include "measure/floors.h"
#include "measure/clock.h"
#include "workloads/rng.h"
#include "workloads/run.h"
#include "measure/latency.h"

volatile pid_t kb_sweep_child;
volatile sig_atomic_t kb_sweep_in_child;

void kb_die(const char *msg)
{
	fprintf(stderr, "krefbench: %s\n", msg);
	exit(2);
}

/* ---- registration ---- */

int *kb_sweep_plan(struct kb_sweep *sw, int threads)
{
	int *cpus = calloc((size_t)threads, sizeof(int));
	char err[512];

	if (!cpus)
		kb_die("out of memory");
	if (kb_place_plan(sw->topo, &sw->placement, threads, sw->opt.oversubscribe, cpus, err, sizeof(err)))
		kb_die(err);
	return cpus;
}

static struct kb_entry *add_entry(struct kb_sweep *sw)
{
	struct kb_entry *e;

	sw->entries = realloc(sw->entries, sizeof(*sw->entries) * (size_t)(sw->nentries + 1));
	if (!sw->entries)
		kb_die("out of memory");
	e = &sw->entries[sw->nentries++];
	memset(e, 0, sizeof(*e));
	e->floor = -1;
	return e;
}

/*
 * The benchmark's name, the same in the library and its JSON: what the row
 * is, and no ordinal, so it does not change with whatever else a run holds.
 */
static void register_spec(struct gb_spec *spec, struct kb_entry *e)
{
	char msg[400];

	snprintf(e->name, sizeof(e->name), "%s/%s%s%s/w%g/t%d", e->backend, e->workload, e->variant[0] ? "/" : "",
		 e->variant, e->writer_rate, e->threads);
	spec->name = e->name;
	spec->threads = e->threads;
	e->spec = gb_register(spec);
	if (e->spec < 0) {
		snprintf(msg, sizeof(msg), "benchmark %s is in the sweep twice (a list option names it twice?)", e->name);
		kb_die(msg);
	}
}

static void register_simple(struct kb_sweep *sw, const char *backend, const char *workload, int threads,
			    int (*objects)(int, int), const int *cpus, void (*body)(struct gb_state *, void *))
{
	struct gb_spec spec = { 0 };
	struct kb_entry *e = add_entry(sw);
	struct kb_run *run = kb_run_new(sw->topo, cpus);

	if (!run)
		kb_die("out of memory");
	run->objects_of = objects;
	e->backend = backend;
	e->workload = workload;
	e->threads = threads;
	e->objects = objects(threads, 0);
	e->is_floor = !strcmp(backend, "floor");
	e->cpus = cpus;
	e->run = run;
	e->win = &run->win;
	spec.body = body;
	spec.setup = kb_run_setup;
	spec.teardown = kb_run_teardown;
	spec.ctx = run;
	register_spec(&spec, e);
}

static void register_floors(struct kb_sweep *sw, int threads, const int *cpus)
{
	for (int f = 0; f < kb_nfloors; f++) {
		if (kb_floors[f].only_threads && kb_floors[f].only_threads != threads)
			continue;
		register_simple(sw, "floor", kb_floors[f].name, threads, kb_floors[f].objects, cpus, kb_floors[f].body);
	}
}

struct knobs {
	int variant;		/* index into the workload's variants, or -1 */
	double writer_rate;
	int uses;		/* churn: get/put pairs per holder per lifetime; 0 otherwise */
};

static void register_workload(struct kb_sweep *sw, const struct kb_workload *w, const struct kb_backend *b,
			      int threads, const int *cpus, struct knobs k)
{
	struct gb_spec spec = { 0 };
	struct kb_entry *e = add_entry(sw);
	struct kb_run *run = kb_run_new(sw->topo, cpus);

	if (!run)
		kb_die("out of memory");
	run->backend = b;
	run->workload = w;
	run->objects_of = w->objects;
	run->objects_knob = sw->opt.objects;
	run->work_iters = sw->work_iters;
	run->writer_rate = k.writer_rate;
	run->variant = k.variant;
	run->uses = k.uses;
	run->hot = sw->opt.hot;
	e->backend = b->name;
	e->workload = w->name;
	e->threads = threads;
	e->writer_rate = k.writer_rate;
	if (k.variant >= 0)
		snprintf(e->variant, sizeof(e->variant), "%s%s", w->variants[k.variant], sw->opt.hot ? "+hot" : "");
	e->uses = k.uses;
	if (k.uses > 0)
		snprintf(e->variant, sizeof(e->variant), "uses=%d", k.uses);
	e->objects = (w->objects_column ? w->objects_column : w->objects)(threads, sw->opt.objects);
	e->unshared = w->unshared;
	e->cpus = cpus;
	e->run = run;
	e->win = &run->win;
	e->helper_backend = b->flags & KB_HELPER_THREAD;
	e->own = w->own | (e->helper_backend ? KB_OWN_HELPERS : 0) | (b->flags & KB_BLOCKING ? KB_OWN_BLOCKING : 0);
	spec.body = k.variant >= 0 ? w->body2[kb_backend_index(b)][k.variant] : w->body[kb_backend_index(b)];
	spec.setup = kb_run_setup;
	spec.teardown = kb_run_teardown;
	spec.ctx = run;
	register_spec(&spec, e);
}

/* One registration per variant, writer rate and --uses the workload's rows multiply by. */
static void register_workload_knobs(struct kb_sweep *sw, const struct kb_workload *w,
				    const struct kb_backend *b, int threads, const int *cpus)
{
	int variants[KB_MAX_VARIANTS + 2], nvariants = kb_options_variants(&sw->opt, w, variants, KB_MAX_VARIANTS + 2);
	int nrates = w->uses_writer ? sw->opt.nwriter_rates : 1;
	int nuses = w->per_uses ? sw->opt.nuses : 1;

	for (int v = 0; v < nvariants; v++)
		for (int r = 0; r < nrates; r++)
			for (int u = 0; u < nuses; u++) {
				struct knobs k = {
					.variant = variants[v],
					.writer_rate = w->uses_writer ? sw->opt.writer_rates[r] : 0,
					.uses = w->per_uses ? sw->opt.uses[u] : 0,
				};
				if (w->applies && !w->applies(b, threads, k.variant))
					continue;	/* "n/a" in the summary */
				register_workload(sw, w, b, threads, cpus, k);
			}
}

/* The floor that normalises a row: no shared line in private or alone. */
static void link_floors(struct kb_sweep *sw, int first)
{
	for (int i = first; i < sw->nentries; i++) {
		struct kb_entry *e = &sw->entries[i];
		const char *want = e->unshared || e->threads == 1 ? "uncontended" : "shared";

		if (e->is_floor)
			continue;
		for (int j = first; j < sw->nentries; j++)
			if (sw->entries[j].is_floor && !strcmp(sw->entries[j].workload, want))
				e->floor = j;
	}
}

void kb_sweep_register(struct kb_sweep *sw, const int *counts, int ncounts)
{
	for (int c = 0; c < ncounts; c++) {
		int *cpus = kb_sweep_plan(sw, counts[c]);
		int first = sw->nentries;

		if (sw->opt.floors)
			register_floors(sw, counts[c], cpus);
		for (int w = 0; w < sw->opt.nworkloads; w++)
			for (int b = 0; b < sw->opt.nbackends; b++)
				register_workload_knobs(sw, sw->opt.workloads[w], sw->opt.backends[b],
							counts[c], cpus);
		for (int w = 0; w < sw->opt.nworkloads; w++) {
			const struct kb_workload *wl = sw->opt.workloads[w];

			for (int m = 0; m < wl->nmechanisms; m++)
			{
				register_simple(sw, wl->mechanisms[m].name, wl->name, counts[c], kb_one_object, cpus,
						wl->mechanisms[m].body);
				/* a lock mechanism's waiters sleep on the row's own lock */
				sw->entries[sw->nentries - 1].own = KB_OWN_BLOCKING;
			}
		}
		link_floors(sw, first);
	}
	for (int i = 0; i < sw->nentries; i++)
		if (!sw->entries[i].is_floor)
			return;
	/* Only floors (or nothing): no backend takes part in any workload with
	 * these options; a run would measure nothing asked for. */
	if (ncounts > 0 && sw->opt.nworkloads > 0)
		kb_die("nothing to measure: none of the --backends takes part in any of the --workloads "
		       "with these options (the summary's n/a: e.g. a --variant or --rcu-flavor that "
		       "no chosen backend supports, such as typesafe objects without a typesafe backend)");
}

/* ---- the scheduler ---- */

/* What one attempt gave, filled by the result callback and then completed. */
struct attempt {
	struct kb_entry *e;
	struct kb_row row;
	bool reported, error;
};

static void on_result(const struct gb_result *r, void *arg)
{
	struct attempt *a = arg;

	a->reported = true;
	if (r->error) {
		a->error = true;
		snprintf(a->row.check, sizeof(a->row.check), "error: %s", r->error);
		return;
	}
	kb_row_from_result(&a->row, r, a->e->win->result.ops);
}

static void *nothing(void *arg) { return arg; }

/*
 * Can this process start n more threads now? Google Benchmark starts a
 * run's threads with std::thread and cannot survive a failure half-way (a
 * joinable thread is destroyed: std::terminate), so ask first, with
 * threads that exit at once. 0, or the errno of the first that failed.
 */
static int can_start_threads(int n)
{
	pthread_t *t = calloc((size_t)(n > 0 ? n : 1), sizeof(*t));
	int started = 0, rc = 0;

	if (!t)
		return ENOMEM;
	while (started < n && (rc = pthread_create(&t[started], NULL, nothing, NULL)) == 0)
		started++;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	return rc;
}

/* One attempt of one repetition: run it, then judge it. */
static void run_attempt(struct kb_sweep *sw, struct kb_entry *e, uint64_t length_ns, struct attempt *a)
{
	double steal0, steal1;
	int rc;

	memset(a, 0, sizeof(*a));
	a->e = e;
	a->row.fast_path = kb_fast_path(e->backend);
	if ((rc = can_start_threads(e->threads - 1)) != 0) {
		a->error = true;
		snprintf(a->row.check, sizeof(a->row.check), "error: cannot start %d threads: %s (a limit such as ulimit -u?)",
			 e->threads, strerror(rc));
		return;
	}
	kb_window_reset(e->win, e->threads, length_ns);
	e->win->own = e->own;
	kb_beside_reset();
	steal0 = kb_steal_ns(e->cpus, e->threads);
	if (gb_run_once(e->spec, on_result, a) || !a->reported) {
		a->error = true;
		snprintf(a->row.check, sizeof(a->row.check), "error: the benchmark did not run");
	}
	steal1 = kb_steal_ns(e->cpus, e->threads);
	if (a->error)
		return;
	kb_row_beside(&a->row, e, &e->win->result);
	a->row.steal_pct = steal0 >= 0 && steal1 >= 0 && a->row.window_ns
		? 100.0 * (steal1 - steal0) / ((double)a->row.window_ns * e->threads) : -1;
	double ref = kb_canary_reference(&sw->canaries->ref, e->threads);

	a->row.canary_ratio = ref > 0 ? a->row.canary_ns / ref : -1;
	kb_canary_note(&sw->canaries->ref, e->threads, a->row.canary_ns);
	kb_disturbance_verdict(&e->win->result, a->row.steal_pct, kb_steal_resolution_pct(e->threads, a->row.window_ns),
			       a->row.canary_ratio, &sw->limits, a->row.disturbed, sizeof(a->row.disturbed));
}

static void fill_keys(struct kb_sweep *sw, struct kb_entry *e, struct kb_row *row, int rep, int attempt)
{
	row->backend = e->backend;
	row->workload = e->workload;
	row->placement = sw->opt.placement_text;
	row->threads = e->threads;
	row->objects = e->objects;
	row->work_ns = sw->opt.work_ns;
	row->rep = rep;
	row->attempt = attempt;
	row->variant = e->variant;
	row->writer_rate = e->writer_rate;
	row->uses = e->uses;
	row->process = sw->process;
}

/*
 * What the sweep's processes share (MAP_SHARED, made before the first
 * fork): the counts a child leaves for the parent, the shuffle's state, and
 * the repetitions for Google Benchmark's JSON, which only the parent writes.
 * The entries themselves (their clean figures) are in shared memory too.
 */
struct json_rec {
	int entry, rep, attempt;
	bool disturbed;
	double ns_per_op, fairness, canary_ns, real_s, cpu_s;
	uint64_t iterations;
};

struct shared {
	struct kb_sweep_tally tally;
	int rows;
	uint64_t rng;
	char write_error[4400];
	int njson, json_room;
	struct json_rec json[];
};

static struct shared *shared;	/* NULL: one process, nothing shared */

static void json_add(struct kb_sweep *sw, const struct json_rec *rec)
{
	const struct kb_entry *e = &sw->entries[rec->entry];
	struct gb_counter counters[] = {
		{ "ns_per_op", rec->ns_per_op }, { "fairness", rec->fairness },
		{ "canary_ns", rec->canary_ns }, { "attempt", rec->attempt },
		{ "disturbed", rec->disturbed },
	};
	struct gb_json_run run = {
		.threads = e->threads, .repetition = rec->rep,
		.repetitions = sw->opt.reps, .iterations = rec->iterations,
		.real_s = rec->real_s, .cpu_s = rec->cpu_s, .counters = counters,
		.ncounters = (int)(sizeof(counters) / sizeof(counters[0])),
	};
	run.name = e->name;
	if (gb_json_add(&run))
		fprintf(stderr, "krefbench: out of memory recording %s for Google Benchmark's JSON\n", e->name);
}

/*
 * Google Benchmark's JSON gets each repetition once: its clean attempt, or
 * its last one when none was clean (counter "disturbed" 1), so every
 * benchmark of the run is there under its name however busy the machine.
 * A child leaves it to the parent.
 */
static void add_json(struct kb_sweep *sw, const struct kb_entry *e, const struct kb_row *row)
{
	const struct kb_window_result *w = &e->win->result;
	/* iterations x real_time = window: real_time = ns_per_op / threads, serial work too */
	struct json_rec rec = {
		.entry = (int)(e - sw->entries), .rep = row->rep, .attempt = row->attempt,
		.disturbed = row->disturbed[0] != 0, .ns_per_op = row->ns_per_op, .fairness = row->fairness,
		.canary_ns = row->canary_ns, .real_s = (double)w->window_ns / 1e9, .cpu_s = w->cpu_s,
		.iterations = w->serial ? w->ops * (uint64_t)e->threads : w->ops,
	};

	if (!shared)
		json_add(sw, &rec);
	else if (shared->njson < shared->json_room)
		shared->json[shared->njson++] = rec;
}

/* Keep what a finished repetition gave (clean: its figure; else its last attempt). */
static void note_repetition(struct kb_sweep *sw, struct kb_entry *e, const struct kb_row *row, bool clean)
{
	sw->tally.reps_total++;
	if (clean) {
		if (e->nclean < KB_MAX_REPS)
			e->ns[e->nclean++] = row->ns_per_op;
		if (row->norm >= 0 && e->nnorm < KB_MAX_REPS)
			e->norm[e->nnorm++] = row->norm;
	} else {
		sw->tally.reps_disturbed++;
		if (e->ndisturbed < KB_MAX_REPS)
			e->disturbed_ns[e->ndisturbed++] = row->ns_per_op;
	}
	if (e->is_floor)
		e->floor_ns = row->ns_per_op;
}

/*
 * Repetition `rep` of one row, retried while disturbed; -1 when the CSV cannot
 * be written. A row most of whose repetitions so far never got a clean
 * attempt (they used all their retries in vain) gets no retries until clean
 * ones are the majority again: what disturbs it is mostly the row itself (its
 * writer or the scheme's helper thread outnumbering the CPUs, churn waiting
 * on grace periods), and retrying it would spend much of the sweep's time
 * for little.
 */
static int measure(struct kb_sweep *sw, struct kb_entry *e, int rep)
{
	struct attempt a;
	uint64_t length_ns = (uint64_t)(sw->opt.time_s * 1e9);
	int retries = sw->opt.retries;

	if (e->ndisturbed > e->nclean) {
		retries = 0;
		sw->tally.reps_not_retried++;
	}
	for (int attempt = 0;; attempt++) {
		bool last = attempt >= retries, clean;

		kb_canary_settle(sw->canaries, sw->limits.canary_tolerance);
		run_attempt(sw, e, length_ns, &a);
		fill_keys(sw, e, &a.row, rep, attempt);
		if (a.error) {
			fprintf(stderr, "krefbench: %s/%s/%d: %s\n", e->backend, e->workload, e->threads, a.row.check);
			if (!e->check[0])
				snprintf(e->check, sizeof(e->check), "%s", a.row.check);
			sw->tally.failures++;
			return 0;	/* an error does not go away by retrying */
		}
		a.row.norm = kb_row_norm(sw->entries, e, a.row.ns_per_op);
		if (strcmp(a.row.check, "ok")) {
			if (!e->check[0])
				snprintf(e->check, sizeof(e->check), "%s", a.row.check);
			sw->tally.failures++;
		}
		clean = !a.row.disturbed[0];
		if (attempt == 0 && !clean)
			sw->tally.reps_disturbed_first++;
		if (!clean)
			sw->tally.attempts_dropped++, e->ndropped++;
		if (kb_results_append(sw->results, &a.row)) {
			snprintf(sw->write_error, sizeof(sw->write_error), "cannot append to %s: %s",
				 sw->csv_path, strerror(errno));
			return -1;
		}
		if (clean || last) {
			add_json(sw, e, &a.row);
			note_repetition(sw, e, &a.row, clean);
			return 0;
		}
	}
}

static void shuffle(struct kb_entry **v, int n, uint64_t *rng)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)kb_pick(rng, (uint64_t)i + 1);
		struct kb_entry *t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* Rows once, briefly (an eighth of a window, at most 10 ms: every process
 * warms up every row it runs) and unrecorded. */
static void warm_up(struct kb_sweep *sw, struct kb_entry **v, int n)
{
	uint64_t length_ns = (uint64_t)(sw->opt.time_s * 1e9 / 8);
	struct attempt a;

	if (length_ns > 10000000)
		length_ns = 10000000;
	for (int i = 0; i < n; i++) {
		run_attempt(sw, v[i], length_ns, &a);
		v[i]->win->result.valid = false;
	}
}

static int write_gbench_json(struct kb_sweep *sw)
{
	if (gb_json_write(sw->gbench_path)) {
		snprintf(sw->write_error, sizeof(sw->write_error), "cannot write %s: %s", sw->gbench_path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* The round's line says whether the disturbed attempts cost anything: a row
 * with no clean repetition yet is the only kind whose figure is in doubt.
 * After a thread count's last round, one line says whether its results are
 * usable. Each fits 100 columns for the usual counts. */
static void print_round(struct kb_sweep *sw, int first, int end, int round, int dropped_before)
{
	int bare = 0, rows = end - first, threads = sw->entries[first].threads;

	for (int i = first; i < end; i++)
		bare += sw->entries[i].nclean == 0;
	fprintf(stderr, "[threads %d, round %d/%d, process %d, %.0f s] %d rows, %d disturbed set aside, ",
		threads, round + 1, sw->opt.reps, sw->process, (double)kb_now_ns() / 1e9 - sw->t_start, rows,
		sw->tally.attempts_dropped - dropped_before);
	if (bare)
		fprintf(stderr, "%d rows not yet clean\n", bare);
	else
		fprintf(stderr, "every row clean so far\n");
	if (round + 1 < sw->opt.reps)
		return;
	if (bare)
		fprintf(stderr, "threads %d: %d of %d rows have no clean repetition: their figures are marked ~, "
			"never ranked\n", threads, bare, rows);
	else
		fprintf(stderr, "threads %d: results usable, every row has clean repetitions\n", threads);
}

/*
 * Round `round` of the rows [first, end) (one thread count): the floors and
 * the rows of backends without a thread of their own, warmed up, then run
 * (floors first, each part in shuffled order); then the others likewise.
 */
static int run_round(struct kb_sweep *sw, int first, int end, int round)
{
	struct kb_entry **order = malloc(sizeof(*order) * (size_t)(end - first + 1));
	int n = 0, dropped_before = sw->tally.attempts_dropped, rc = 0;

	if (!order)
		kb_die("out of memory");
	for (int part = 0; part < 2 && !rc; part++) {
		int nfloors = 0, from = n;

		for (int i = first; i < end; i++)
			if (sw->entries[i].is_floor && part == 0)
				order[n++] = &sw->entries[i];
		nfloors = n - from;
		for (int i = first; i < end; i++)
			if (!sw->entries[i].is_floor && sw->entries[i].helper_backend == (part == 1))
				order[n++] = &sw->entries[i];
		shuffle(order + from, nfloors, &sw->rng);
		shuffle(order + from + nfloors, n - from - nfloors, &sw->rng);
		warm_up(sw, order + from, n - from);
		for (int i = from; i < n && !rc; i++)
			rc = measure(sw, order[i], round);
	}
	free(order);
	if (!rc)
		print_round(sw, first, end, round, dropped_before);
	return rc;
}

/* ---- the processes ---- */

static void counts_out(const struct kb_sweep *sw)
{
	shared->tally = sw->tally;
	shared->rows = kb_results_rows(sw->results);
	shared->rng = sw->rng;
	snprintf(shared->write_error, sizeof(shared->write_error), "%s", sw->write_error);
}

static void counts_in(struct kb_sweep *sw)
{
	sw->tally = shared->tally;
	sw->rng = shared->rng;
	snprintf(sw->write_error, sizeof(sw->write_error), "%s", shared->write_error);
	kb_results_sync(sw->results, shared->rows);
}

/* The entries and the counts into shared memory, before the first fork. */
static void share(struct kb_sweep *sw)
{
	size_t entries = sizeof(*sw->entries) * (size_t)sw->nentries;
	int room = sw->nentries * sw->opt.reps;
	size_t size = sizeof(struct shared) + sizeof(struct json_rec) * (size_t)room;
	struct kb_entry *e = mmap(NULL, entries, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	shared = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (e == MAP_FAILED || shared == MAP_FAILED)
		kb_die("cannot map memory shared with the sweep's processes");
	memcpy(e, sw->entries, entries);
	/* kept: it holds the same pointers to each row's run context and plan
	 * from the heap, where a leak checker looks (not in a shared mapping) */
	sw->registered = sw->entries;
	sw->entries = e;
	memset(shared, 0, sizeof(*shared));
	shared->json_room = room;
}

/* One round of one thread count in a child; 0, or -1 (write_error says why). */
static int run_in_child(struct kb_sweep *sw, int first, int end, int round)
{
	int status, next = shared->njson;
	pid_t pid, parent = getpid();

	counts_out(sw);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(sw->write_error, sizeof(sw->write_error), "cannot start a process for round %d: %s",
			 round + 1, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		kb_sweep_in_child = 1;
		kb_sweep_child = 0;
		/* A parent killed outright (SIGKILL: a gate's time limit, the OOM
		 * killer) cannot stop its round, which would hammer the CPUs on
		 * for the rest of the round: the kernel sends it SIGTERM instead,
		 * whose handler ends it. The main thread forks, and it lives as
		 * long as the process. getppid() after prctl: the parent may
		 * already be gone. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
			_exit(128 + SIGTERM);
		int rc = run_round(sw, first, end, round);

		counts_out(sw);
		_exit(rc ? 1 : 0);
	}
	kb_sweep_child = pid;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	kb_sweep_child = 0;
	counts_in(sw);
	for (; next < shared->njson; next++)
		json_add(sw, &shared->json[next]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (!sw->write_error[0])
		snprintf(sw->write_error, sizeof(sw->write_error), "the process of round %d (threads %d) %s %d",
			 round + 1, sw->entries[first].threads, WIFSIGNALED(status) ? "died of signal" : "exited",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	return -1;
}

/* The canaries' reference and waits, in memory every round process shares
 * (a reference that lived one round would take a slow round for usual). */
static void share_canaries(struct kb_sweep *sw)
{
	double planned_s = (double)sw->nentries * sw->opt.reps * sw->opt.time_s;

	sw->canaries = mmap(NULL, sizeof(*sw->canaries), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sw->canaries == MAP_FAILED)
		kb_die("cannot map memory shared with the sweep's processes");
	memset(sw->canaries, 0, sizeof(*sw->canaries));
	sw->canaries->settle_budget_ns = (uint64_t)((sw->opt.quick ? KB_SETTLE_BUDGET_SHARE_QUICK
						     : KB_SETTLE_BUDGET_SHARE) * planned_s * 1e9);
}

int kb_sweep_run(struct kb_sweep *sw)
{
	int ngroups = 0, *bounds = malloc(sizeof(int) * (size_t)(sw->nentries + 1));

	if (!bounds)
		kb_die("out of memory");
	share_canaries(sw);
	for (int i = 0; i < sw->nentries; i++)
		if (i == 0 || sw->entries[i].threads != sw->entries[i - 1].threads)
			bounds[ngroups++] = i;
	bounds[ngroups] = sw->nentries;
	if (ngroups * sw->opt.reps > 1)
		share(sw);
	for (int round = 0; round < sw->opt.reps; round++)
		for (int g = 0; g < ngroups; g++) {
			int rc;

			sw->process = ++sw->processes;
			rc = shared ? run_in_child(sw, bounds[g], bounds[g + 1], round)
				    : run_round(sw, bounds[g], bounds[g + 1], round);
			if (rc || write_gbench_json(sw)) {
				free(bounds);
				return -1;
			}
		}
	free(bounds);
	return write_gbench_json(sw);
}

/* The CPUs of every plan, probed at once for a fraction of a second. */
void kb_sweep_profile(struct kb_sweep *sw)
{
	size_t room = 1;
	int *cpus, n = 0;
	double probe_s = sw->opt.time_s * 3;	/* three windows: a fraction of a second */

	if (sw->opt.no_idle_profile) {
		memset(&sw->idle, 0, sizeof(sw->idle));
		sw->idle.steal_frac = -1;
		kb_thresholds_from_profile(&sw->idle, &sw->limits);
		return;
	}
	for (int i = 0; i < sw->nentries; i++)
		room += (size_t)sw->entries[i].threads;
	cpus = malloc(sizeof(int) * room);
	for (int i = 0; cpus && i < sw->nentries; i++)
		for (int t = 0; t < sw->entries[i].threads; t++) {
			bool seen = false;

			for (int k = 0; k < n && !seen; k++)
				seen = cpus[k] == sw->entries[i].cpus[t];
			if (!seen)
				cpus[n++] = sw->entries[i].cpus[t];
		}
	probe_s = probe_s < 0.03 ? 0.03 : probe_s > 0.25 ? 0.25 : probe_s;
	kb_idle_profile_measure(cpus, n, probe_s, sw->opt.time_s, &sw->idle);
	kb_thresholds_from_profile(&sw->idle, &sw->limits);
	free(cpus);
	if (sw->idle.measured)
		kb_print_folded(stderr, "krefbench: idle profile of %d CPU(s) over %g s: %ld gaps > %.0f us (p99 %.1f us, "
			"max %.1f us), at worst %.2f%% of a %g s window lost; disturbed if a thread loses more than "
			"%.1f%% to others, or the canary is %.0f%% slower\n",
			sw->idle.ncpus, sw->idle.probe_s, sw->idle.gaps, KB_GAP_NS / 1000, sw->idle.gap_p99_ns / 1000,
			sw->idle.gap_max_ns / 1000, 100 * sw->idle.window_lost_max, sw->idle.window_s,
			100 * sw->limits.outside_max, 100 * sw->limits.canary_tolerance);
	else
		fprintf(stderr, "krefbench: no idle profile (the probe could not pin); disturbance limits at their bounds\n");
}

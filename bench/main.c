/*
 * krefbench: registers the sweep (floors first at each thread count, then
 * every workload × backend), runs it through Google Benchmark, appends a CSV
 * row per repetition as each benchmark finishes, and prints a summary.
 * Exit: 0 ok; 1 a benchmark failed (pin, setup, self-check); 2 bad input;
 * 130/143 interrupted (the CSV keeps every finished row).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "environment.h"
#include "floors.h"
#include "harness.h"
#include "options.h"
#include "readside.h"
#include "results.h"

#define MAX_THREAD_COUNTS 64

/* One registered benchmark: what its rows say. */
struct entry {
	const char *backend, *workload;
	char variant[32];
	double writer_rate;
	int threads, objects;
	void *run;
	double ns[1000];	/* per repetition, for the median */
	int nreps;
	char check[200];
	double norm;
};

struct sweep {
	struct kb_options opt;
	struct kb_topo *topo;
	struct kb_placement placement;
	struct entry *entries;
	int nentries;
	uint64_t work_iters;
	struct kb_results *results;
	int done;
	int failures;
	double t_start;
	double floor_uncontended_1;
	double floor_shared[MAX_THREAD_COUNTS * 8];	/* by thread count; small counts only */
	char csv_path[4096], json_path[4096], gbench_path[4096];
	char command_line[4096];
	bool no_perf;			/* --no-perf */
	struct kb_perf_probe perf;	/* what the threads count (shims/perfctr.h) */
	char *perf_json;		/* the probe, for the sidecar */
};

static const char *interrupt_note = "krefbench: interrupted; the results file keeps every finished row\n";
/* The sidecar saying "interrupted", rendered in advance: a signal handler
 * may only write bytes, not format them. */
static char *interrupted_sidecar;
static char sidecar_path[4096], sidecar_tmp[4100];

static void write_interrupted_sidecar(void)
{
	int fd;
	ssize_t ignored;

	if (!interrupted_sidecar)
		return;
	fd = open(sidecar_tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	ignored = write(fd, interrupted_sidecar, strlen(interrupted_sidecar));
	(void)ignored;
	close(fd);
	rename(sidecar_tmp, sidecar_path);
}

static void on_signal(int sig)
{
	ssize_t ignored = write(STDERR_FILENO, interrupt_note, strlen(interrupt_note));

	(void)ignored;
	write_interrupted_sidecar();
	_exit(128 + sig);
}

static double now_s(void) { return (double)kb_now_ns() / 1e9; }

static void die(const char *msg)
{
	fprintf(stderr, "krefbench: %s\n", msg);
	exit(2);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double tmp[1000];

	if (n <= 0)
		return 0;
	memcpy(tmp, v, sizeof(double) * (size_t)n);
	qsort(tmp, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* ---- loading the topology and planning ---- */

static bool looks_like_file(const char *s)
{
	size_t n = strlen(s);

	return access(s, F_OK) == 0 || (n > 4 && strcmp(s + n - 4, ".xml") == 0);
}

static void load_topology(struct sweep *sw)
{
	char err[512];
	int rc;

	if (!sw->opt.topology)
		rc = kb_topo_load_system(&sw->topo, err, sizeof(err));
	else if (!sw->opt.plan_only)
		die("--topology describes another machine: it works only with --plan");
	else if (looks_like_file(sw->opt.topology))
		rc = kb_topo_load_xml(&sw->topo, sw->opt.topology, err, sizeof(err));
	else
		rc = kb_topo_load_synthetic(&sw->topo, sw->opt.topology, err, sizeof(err));
	if (rc)
		die(err);
	if (kb_placement_parse(sw->opt.placement_text, &sw->placement, err, sizeof(err)))
		die(err);
}

static int *plan_for(struct sweep *sw, int threads)
{
	int *cpus = calloc((size_t)threads, sizeof(int));
	char err[512];

	if (!cpus)
		die("out of memory");
	if (kb_place_plan(sw->topo, &sw->placement, threads, sw->opt.oversubscribe, cpus, err, sizeof(err)))
		die(err);
	return cpus;
}

/* ---- registering the sweep ---- */

static struct entry *add_entry(struct sweep *sw)
{
	struct entry *e;

	sw->entries = realloc(sw->entries, sizeof(*sw->entries) * (size_t)(sw->nentries + 1));
	if (!sw->entries)
		die("out of memory");
	e = &sw->entries[sw->nentries++];
	memset(e, 0, sizeof(*e));
	e->norm = -1;
	return e;
}

static void register_spec(struct sweep *sw, struct gb_spec *spec, struct entry *e)
{
	char name[256];	/* gb_register keeps its own copy */

	snprintf(name, sizeof(name), "%s/%s%s%s/w%g/t%d", e->backend, e->workload, e->variant[0] ? "/" : "",
		 e->variant, e->writer_rate, e->threads);
	spec->name = name;
	spec->threads = e->threads;
	spec->repetitions = sw->opt.reps;
	spec->min_time_s = sw->opt.time_s;
	if (gb_register(spec) != sw->nentries - 1)
		die("internal error: benchmark registration out of step");
}

static void register_floors(struct sweep *sw, int threads, const int *cpus)
{
	for (int f = 0; f < kb_nfloors; f++) {
		struct gb_spec spec = { 0 };
		struct entry *e;

		if (kb_floors[f].only_threads && kb_floors[f].only_threads != threads)
			continue;
		e = add_entry(sw);
		e->backend = "floor";
		e->workload = kb_floors[f].name;
		e->threads = threads;
		e->objects = strcmp(kb_floors[f].name, "local") && strcmp(kb_floors[f].name, "uncontended") ? 1 : threads;
		e->run = kb_simple_run_new(sw->topo, cpus);
		if (!e->run)
			die("out of memory");
		kb_simple_fill_spec(&spec, kb_floors[f].body, e->run);
		register_spec(sw, &spec, e);
	}
}

struct knobs {
	int variant;		/* index into the workload's variants, or -1 */
	double writer_rate;
};

static void register_workload(struct sweep *sw, const struct kb_workload *w, const struct kb_backend *b,
			      int threads, const int *cpus, struct knobs k)
{
	struct gb_spec spec = { 0 };
	struct entry *e = add_entry(sw);
	struct kb_run *run = calloc(1, sizeof(*run));

	if (!run)
		die("out of memory");
	run->backend = b;
	run->workload = w;
	run->topo = sw->topo;
	run->cpus = cpus;
	run->objects_knob = sw->opt.objects;
	run->work_iters = sw->work_iters;
	run->writer_rate = k.writer_rate;
	run->variant = k.variant;
	run->flavor = w->uses_flavor ? k.variant : KB_RCU_MEMB;
	run->hot = sw->opt.hot;
	e->backend = b->name;
	e->workload = w->name;
	e->threads = threads;
	e->writer_rate = k.writer_rate;
	if (k.variant >= 0)
		snprintf(e->variant, sizeof(e->variant), "%s%s", w->variants[k.variant], sw->opt.hot ? "+hot" : "");
	e->objects = w->variants ? (sw->opt.objects > 0 ? sw->opt.objects : 1024) : w->objects(threads, sw->opt.objects);
	e->run = run;
	spec.body = k.variant >= 0 ? w->body2[kb_backend_index(b)][k.variant] : w->body[kb_backend_index(b)];
	spec.setup = kb_run_setup;
	spec.teardown = kb_run_teardown;
	spec.ctx = run;
	register_spec(sw, &spec, e);
}

/* One registration per variant (flavour) and writer rate the workload takes. */
static void register_workload_knobs(struct sweep *sw, const struct kb_workload *w,
				    const struct kb_backend *b, int threads, const int *cpus)
{
	const int *variants = w->uses_flavor ? sw->opt.flavors : sw->opt.variants;
	int nvariants = !w->variants ? 1 : w->uses_flavor ? sw->opt.nflavors : sw->opt.nvariants;
	int nrates = w->uses_writer ? sw->opt.nwriter_rates : 1;

	for (int v = 0; v < nvariants; v++)
		for (int r = 0; r < nrates; r++) {
			struct knobs k = {
				.variant = w->variants ? variants[v] : -1,
				.writer_rate = w->uses_writer ? sw->opt.writer_rates[r] : 0,
			};
			register_workload(sw, w, b, threads, cpus, k);
		}
}

static void register_mechanisms(struct sweep *sw, int threads, const int *cpus)
{
	for (int m = 0; m < kb_nreadside_mechanisms; m++) {
		struct gb_spec spec = { 0 };
		struct entry *e = add_entry(sw);

		e->backend = kb_readside_mechanisms[m].name;
		e->workload = kb_workload_readside.name;
		e->threads = threads;
		e->objects = 1;
		e->run = kb_simple_run_new(sw->topo, cpus);
		if (!e->run)
			die("out of memory");
		kb_simple_fill_spec(&spec, kb_readside_mechanisms[m].body, e->run);
		register_spec(sw, &spec, e);
	}
}

static void register_sweep(struct sweep *sw, const int *counts, int ncounts)
{
	for (int c = 0; c < ncounts; c++) {
		int *cpus = plan_for(sw, counts[c]);

		if (sw->opt.floors)
			register_floors(sw, counts[c], cpus);
		for (int w = 0; w < sw->opt.nworkloads; w++)
			for (int b = 0; b < sw->opt.nbackends; b++)
				register_workload_knobs(sw, sw->opt.workloads[w], sw->opt.backends[b],
							counts[c], cpus);
		for (int w = 0; w < sw->opt.nworkloads; w++)
			if (sw->opt.workloads[w] == &kb_workload_readside)
				register_mechanisms(sw, counts[c], cpus);
	}
}

/* ---- turning results into rows ---- */

static double counter(const struct gb_result *r, const char *name, double fallback)
{
	for (int i = 0; i < r->ncounters; i++)
		if (strcmp(r->counters[i].name, name) == 0)
			return r->counters[i].value;
	return fallback;
}

static void format_cpus(const struct gb_result *r, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (int t = 0; t < r->threads && used + 16 < len; t++) {
		char name[32];

		snprintf(name, sizeof(name), "cpu.%d", t);
		used += (size_t)snprintf(buf + used, len - used, "%s%.0f", t ? "," : "", counter(r, name, -1));
	}
}

static double floor_for(const struct sweep *sw, int threads)
{
	if (threads == 1)
		return sw->floor_uncontended_1;
	if (threads < (int)(sizeof(sw->floor_shared) / sizeof(sw->floor_shared[0])))
		return sw->floor_shared[threads];
	return 0;
}

/*
 * perf_event counts per op: each thread's scaled count, summed by the
 * library, over all threads' operations (so task_clock_ns_per_op is about
 * ns_per_op when the threads run flat out). Empty unless every thread counted.
 */
static void perf_per_op(const struct gb_result *r, double out[KB_PERF_COLUMNS])
{
	double ops = (double)r->iterations * r->threads * counter(r, "transfers_per_iteration", 1);
	char name[64];

	for (int e = 0; e < KB_PERF_COLUMNS; e++) {
		double v, n;

		snprintf(name, sizeof(name), KB_PERF_COUNTER_PREFIX "%s", kb_perf_event_names[e]);
		v = counter(r, name, -1);
		snprintf(name, sizeof(name), KB_PERF_COUNTER_PREFIX "%s.threads", kb_perf_event_names[e]);
		n = counter(r, name, 0);
		out[e] = v >= 0 && n == r->threads && ops > 0 ? v / ops : -1;
	}
}

static void note_floor(struct sweep *sw, const struct entry *e)
{
	double m = median(e->ns, e->nreps);

	if (strcmp(e->backend, "floor"))
		return;
	if (!strcmp(e->workload, "uncontended") && e->threads == 1)
		sw->floor_uncontended_1 = m;
	if (!strcmp(e->workload, "shared") && e->threads > 1 &&
	    e->threads < (int)(sizeof(sw->floor_shared) / sizeof(sw->floor_shared[0])))
		sw->floor_shared[e->threads] = m;
}

static void print_progress(struct sweep *sw, const struct entry *e)
{
	double elapsed = now_s() - sw->t_start, m = median(e->ns, e->nreps);
	double eta = elapsed / sw->done * (sw->nentries - sw->done);

	fprintf(stderr, "[%d/%d] %s %s%s%s%s %d: %.2f ns/op, eta %.0f s\n", sw->done, sw->nentries,
		e->backend, e->workload, e->variant[0] ? " " : "", e->variant,
		e->writer_rate > 0 ? " +writer" : "", e->threads, m, eta);
}

static void on_result(const struct gb_result *r, void *arg)
{
	struct sweep *sw = arg;
	struct entry *e;
	struct kb_row row = { 0 };

	if (r->spec < 0 || r->spec >= sw->nentries)
		return;
	e = &sw->entries[r->spec];
	if (r->error) {
		fprintf(stderr, "krefbench: %s/%s/%d: %s\n", e->backend, e->workload, e->threads, r->error);
		snprintf(e->check, sizeof(e->check), "error: %s", r->error);
		sw->failures++;
		if (r->repetition == sw->opt.reps - 1)
			sw->done++;
		return;
	}
	row.backend = e->backend;
	row.workload = e->workload;
	row.placement = sw->opt.placement_text;
	row.threads = r->threads;
	row.objects = e->objects;
	row.work_ns = sw->opt.work_ns;
	row.rep = r->repetition;
	row.variant = e->variant;
	row.writer_rate = e->writer_rate;
	row.iterations = r->iterations;
	row.ns_per_op = r->real_ns / counter(r, "transfers_per_iteration", 1);
	row.ops_per_s = row.ns_per_op > 0 ? 1e9 * r->threads / row.ns_per_op : 0;
	row.fairness = counter(r, "fairness", -1);
	format_cpus(r, row.cpus, sizeof(row.cpus));
	snprintf(row.check, sizeof(row.check), "%s", kb_check_text((int)counter(r, "check", -1)));
	if (strcmp(row.check, "ok")) {
		snprintf(e->check, sizeof(e->check), "%s", row.check);
		sw->failures++;
	}
	if (e->nreps < 1000)
		e->ns[e->nreps++] = row.ns_per_op;
	perf_per_op(r, row.perf_per_op);
	double fl = floor_for(sw, r->threads);
	row.norm = fl > 0 ? row.ns_per_op / fl : -1;
	if (kb_results_append(sw->results, &row))
		fprintf(stderr, "krefbench: cannot append to %s: %s\n", sw->csv_path, strerror(errno));
	if (r->repetition == sw->opt.reps - 1) {
		note_floor(sw, e);
		fl = floor_for(sw, e->threads);
		e->norm = fl > 0 ? median(e->ns, e->nreps) / fl : -1;
		sw->done++;
		print_progress(sw, e);
	}
}

/* ---- the summary table: workload × threads rows, a column per backend ---- */

static bool same_row(const struct entry *a, const struct entry *b)
{
	return a->threads == b->threads && a->writer_rate == b->writer_rate &&
	       !strcmp(a->workload, b->workload) && !strcmp(a->variant, b->variant);
}

static const struct entry *find_cell(const struct sweep *sw, const struct entry *row, const char *backend)
{
	for (int i = 0; i < sw->nentries; i++)
		if (!strcmp(sw->entries[i].backend, backend) && same_row(&sw->entries[i], row))
			return &sw->entries[i];
	return NULL;
}

static void print_cell(const struct entry *e)
{
	char cell[64];

	if (!e || !e->nreps)
		snprintf(cell, sizeof(cell), "-");
	else if (e->norm >= 0)
		snprintf(cell, sizeof(cell), "%.2f (%.2f)%s", median(e->ns, e->nreps), e->norm,
			 e->check[0] ? "!" : "");
	else
		snprintf(cell, sizeof(cell), "%.2f%s", median(e->ns, e->nreps), e->check[0] ? "!" : "");
	printf(" %16s", cell);
}

static bool is_backend_column(const struct sweep *sw, const char *name)
{
	for (int b = 0; b < sw->opt.nbackends; b++)
		if (!strcmp(sw->opt.backends[b]->name, name))
			return true;
	return false;
}

/* Floors and read-side mechanisms: one "name@threads=ns" list per kind. */
static void print_side_line(const struct sweep *sw, const char *title, bool floors)
{
	bool any = false;

	for (int i = 0; i < sw->nentries; i++) {
		const struct entry *e = &sw->entries[i];
		bool is_floor = !strcmp(e->backend, "floor");

		if (is_floor != floors || (!floors && is_backend_column(sw, e->backend)))
			continue;
		if (!any)
			printf("%s:", title);
		any = true;
		printf(" %s@%d=%.2f", floors ? e->workload : e->backend, e->threads, median(e->ns, e->nreps));
	}
	if (any)
		printf("\n");
}

static bool row_printed_before(const struct sweep *sw, int i)
{
	for (int j = 0; j < i; j++)
		if (strcmp(sw->entries[j].backend, "floor") && same_row(&sw->entries[j], &sw->entries[i]))
			return true;
	return false;
}

static void print_row_label(const struct entry *e)
{
	char label[64];

	snprintf(label, sizeof(label), "%s%s%s%s", e->workload, e->variant[0] ? " " : "", e->variant,
		 e->writer_rate > 0 ? " +w" : "");
	printf("%-28s %7d", label, e->threads);
}

static void print_summary(const struct sweep *sw)
{
	printf("\nmedian ns per op, per thread (norm = / floor: uncontended at 1 thread, shared above;"
	       " +w = writer on)\n");
	printf("%-28s %7s", "workload", "threads");
	for (int b = 0; b < sw->opt.nbackends; b++)
		printf(" %16s", sw->opt.backends[b]->name);
	printf("\n");
	for (int i = 0; i < sw->nentries; i++) {
		if (!is_backend_column(sw, sw->entries[i].backend) || row_printed_before(sw, i))
			continue;
		print_row_label(&sw->entries[i]);
		for (int b = 0; b < sw->opt.nbackends; b++)
			print_cell(find_cell(sw, &sw->entries[i], sw->opt.backends[b]->name));
		printf("\n");
	}
	print_side_line(sw, "floors", true);
	print_side_line(sw, "read-side mechanisms (readside)", false);
	if (sw->failures)
		printf("'!' marks a failed self-check or error; see the check column.\n");
}

/* ---- output paths and the environment ---- */

static void default_csv_path(struct sweep *sw)
{
	char host[256] = "host", stamp[64];
	time_t t = time(NULL);
	struct tm tm;

	gethostname(host, sizeof(host) - 1);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (mkdir(sw->opt.results_dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "krefbench: cannot create %s: %s\n", sw->opt.results_dir, strerror(errno));
		exit(2);
	}
	snprintf(sw->csv_path, sizeof(sw->csv_path), "%s/%s-%s.csv", sw->opt.results_dir, host, stamp);
}

static void derive_paths(struct sweep *sw)
{
	size_t n;

	if (sw->opt.out)
		snprintf(sw->csv_path, sizeof(sw->csv_path), "%s", sw->opt.out);
	else
		default_csv_path(sw);
	n = strlen(sw->csv_path);
	if (n > 4 && !strcmp(sw->csv_path + n - 4, ".csv"))
		n -= 4;
	snprintf(sw->json_path, sizeof(sw->json_path), "%.*s.json", (int)n, sw->csv_path);
	snprintf(sw->gbench_path, sizeof(sw->gbench_path), "%.*s.gbench.json", (int)n, sw->csv_path);
}

static void open_results(struct sweep *sw)
{
	const char *const others[] = { sw->json_path, sw->gbench_path };	/* written later */
	char err[4200];

	for (int i = 0; i < 2; i++)
		if (access(others[i], F_OK) == 0) {
			fprintf(stderr, "krefbench: %s exists; a run never overwrites an earlier result\n", others[i]);
			exit(2);
		}
	sw->results = kb_results_open(sw->csv_path, err, sizeof(err));
	if (!sw->results)
		die(err);
}

/* Google Benchmark states its own build type in its JSON context. */
static const char *gbench_build_type(const struct sweep *sw)
{
	static char type[32];
	char line[512];
	FILE *f = fopen(sw->gbench_path, "r");

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " \"library_build_type\": \"%31[^\"]\"", type) == 1) {
			fclose(f);
			return type;
		}
	fclose(f);
	return NULL;
}

static void write_environment(struct sweep *sw, const char *status)
{
	struct kb_env_extra x = {
		.command_line = sw->command_line, .placement = sw->opt.placement_text,
		.gbench_build = gbench_build_type(sw), .status = status,
		.rows = sw->results ? kb_results_rows(sw->results) : 0,
		.perf_events = sw->perf_json,
	};

	if (kb_env_write(sw->json_path, sw->topo, &x))
		fprintf(stderr, "krefbench: cannot write %s: %s\n", sw->json_path, strerror(errno));
}

static void join_command_line(struct sweep *sw, int argc, char **argv)
{
	size_t used = 0;

	for (int i = 0; i < argc && used + 2 < sizeof(sw->command_line); i++)
		used += (size_t)snprintf(sw->command_line + used, sizeof(sw->command_line) - used,
					 "%s%s", i ? " " : "", argv[i]);
}

static void check_backend_order(void)
{
	static const char *const built[] = {
#define NAME(B) #B,
		KB_FOR_EACH_BACKEND(NAME)
	};

	for (unsigned int i = 0; i < kb_nbackends; i++)
		if (i >= KB_NBACKENDS_BUILT || strcmp(kb_backends[i]->name, built[i]))
			die("internal error: KB_FOR_EACH_BACKEND is out of step with kb_backends[]");
}

/* The perf columns of KB_CSV_HEADER are shims/perfctr.h's events, in order. */
static void check_perf_columns(void)
{
	static const char header[] = KB_CSV_HEADER;
	char tail[1024] = "";
	size_t used = 0;

	_Static_assert(KB_PERF_COLUMNS == KB_PERF_NEVENTS, "perf columns out of step with shims/perfctr.h");
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		used += (size_t)snprintf(tail + used, sizeof(tail) - used, ",%s", kb_perf_column_names[e]);
	if (strlen(header) < used || strcmp(header + strlen(header) - used, tail))
		die("internal error: KB_CSV_HEADER's perf columns are out of step with shims/perfctr.h");
}

/* --no-perf is the binary's own, not options.c's: take it out of argv (in place). */
static int take_no_perf(struct sweep *sw, int argc, char **argv)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (i > 0 && !strcmp(argv[i], "--no-perf"))
			sw->no_perf = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return n;
}

/* Once, on the main thread, before any benchmark: what can be counted. */
static void probe_perf(struct sweep *sw)
{
	char line[2048];

	if (sw->no_perf)
		kb_perf_probe_disabled(&sw->perf, "disabled by --no-perf");
	else
		kb_perf_probe(&sw->perf);
	kb_perf_config = sw->perf.enabled ? &sw->perf : NULL;
	sw->perf_json = kb_perf_probe_json(&sw->perf);
	kb_perf_probe_summary(&sw->perf, line, sizeof(line));
	fprintf(stderr, "krefbench: %s\n", line);
}

static void print_plan(struct sweep *sw, const int *counts, int ncounts)
{
	int *cpus = plan_for(sw, counts[ncounts - 1]);

	printf("placement %s, %d threads\n", kb_policy_name(sw->placement.policy), counts[ncounts - 1]);
	kb_place_print_plan(stdout, sw->topo, cpus, counts[ncounts - 1]);
	free(cpus);
}

static void install_signal_handlers(struct sweep *sw)
{
	struct sigaction sa = { 0 };
	struct kb_env_extra x = {
		.command_line = sw->command_line, .placement = sw->opt.placement_text,
		.status = "interrupted (rows: see the CSV)",
		.perf_events = sw->perf_json,
	};

	snprintf(sidecar_path, sizeof(sidecar_path), "%s", sw->json_path);
	snprintf(sidecar_tmp, sizeof(sidecar_tmp), "%s.tmp", sw->json_path);
	interrupted_sidecar = kb_env_render(sw->topo, &x);

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void write_path_for_caller(const struct sweep *sw)
{
	FILE *f;

	if (!sw->opt.print_path_to)
		return;
	f = fopen(sw->opt.print_path_to, "w");
	if (f) {
		fprintf(f, "%s\n", sw->csv_path);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	static struct sweep sw;
	int counts[MAX_THREAD_COUNTS], ncounts, rc;
	char err[512];

	check_backend_order();
	check_perf_columns();
	join_command_line(&sw, argc, argv);	/* as given, --no-perf included */
	argc = take_no_perf(&sw, argc, argv);
	rc = kb_options_parse(argc, argv, &sw.opt, err, sizeof(err));
	if (rc > 0)
		printf("  --no-perf           no perf_event counters (the *_per_op perf columns stay empty)\n");
	if (rc)
		return rc > 0 ? 0 : (die(err), 2);
	load_topology(&sw);
	ncounts = kb_options_threads(&sw.opt, kb_topo_npus(sw.topo), counts, MAX_THREAD_COUNTS, err, sizeof(err));
	if (ncounts < 0)
		die(err);
	if (sw.opt.plan_only) {
		print_plan(&sw, counts, ncounts);
		return 0;
	}
	sw.work_iters = kb_work_calibrate(sw.opt.work_ns);
	register_sweep(&sw, counts, ncounts);
	derive_paths(&sw);
	open_results(&sw);
	probe_perf(&sw);
	write_path_for_caller(&sw);
	write_environment(&sw, "running");
	install_signal_handlers(&sw);
	fprintf(stderr, "krefbench: %d benchmarks x %d repetitions -> %s\n"
		"note: Debian's libbenchmark is built without NDEBUG (\"Library was built as DEBUG\"); "
		"it only starts, stops and sizes the runs — the timed loops are krefbench's own -O2 code.\n",
		sw.nentries, sw.opt.reps, sw.csv_path);
	sw.t_start = now_s();
	if (gb_run(NULL, 0, sw.gbench_path, on_result, &sw))
		die("Google Benchmark refused to run");
	write_environment(&sw, "complete");
	print_summary(&sw);
	printf("\nresults: %s (%d rows)\nenvironment: %s\ngoogle benchmark json: %s\n", sw.csv_path,
	       kb_results_rows(sw.results), sw.json_path, sw.gbench_path);
	kb_results_close(sw.results);
	return sw.failures ? 1 : 0;
}

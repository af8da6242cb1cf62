/*
 * krefbench: parses the options, plans the threads, registers the sweep,
 * runs it (bench/sweep.h: warm-up, interleaved rounds, disturbed
 * repetitions retried), appends a CSV row per attempt as it finishes, and
 * prints a summary.
 * Exit: 0 ok; 1 a benchmark failed (pin, setup, self-check) or the results
 * could not be written (full disk: every complete row stays, the sidecar
 * says what happened); 2 bad input; 130/143 interrupted (the CSV keeps
 * every finished row).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalogue.h"
#include "fold.h"
#include "environment.h"
#include "interrupt.h"
#include "output.h"
#include "summary.h"
#include "sweep.h"
#include "measure/clock.h"
#include "measure/thread_perf.h"
#include "measure/work.h"

#define MAX_THREAD_COUNTS 64

static bool looks_like_file(const char *s)
{
	size_t n = strlen(s);

	return access(s, F_OK) == 0 || (n > 4 && strcmp(s + n - 4, ".xml") == 0);
}

static void load_topology(struct kb_sweep *sw)
{
	char err[512];
	int rc;

	if (!sw->opt.topology)
		rc = kb_topo_load_system(&sw->topo, err, sizeof(err));
	else if (!sw->opt.plan_only)
		kb_die("--topology describes another machine: it works only with --plan");
	else if (looks_like_file(sw->opt.topology))
		rc = kb_topo_load_xml(&sw->topo, sw->opt.topology, err, sizeof(err));
	else
		rc = kb_topo_load_synthetic(&sw->topo, sw->opt.topology, err, sizeof(err));
	if (rc)
		kb_die(err);
	if (kb_placement_parse(sw->opt.placement_text, &sw->placement, err, sizeof(err)))
		kb_die(err);
}

static void check_backend_order(void)
{
	static const char *const built[] = {
#define NAME(B) #B,
		KB_FOR_EACH_BACKEND(NAME)
	};

	for (unsigned int i = 0; i < kb_nbackends; i++)
		if (i >= KB_NBACKENDS_BUILT || strcmp(kb_backends[i]->name, built[i]))
			kb_die("internal error: KB_FOR_EACH_BACKEND is out of step with kb_backends[]");
}

/* The perf columns of KB_CSV_HEADER are shims/perfctr.h's events, in order, at the end. */
static void check_perf_columns(void)
{
	static const char header[] = KB_CSV_HEADER;
	char tail[1024] = "";
	size_t used = 0;

	_Static_assert(KB_PERF_COLUMNS == KB_PERF_NEVENTS, "perf columns out of step with shims/perfctr.h");
	for (int e = 0; e < KB_PERF_NEVENTS; e++)
		used += (size_t)snprintf(tail + used, sizeof(tail) - used, ",%s", kb_perf_column_names[e]);
	if (strlen(header) < used || strcmp(header + strlen(header) - used, tail))
		kb_die("internal error: KB_CSV_HEADER's perf columns are out of step with shims/perfctr.h");
}

/* Once, on the main thread, before any benchmark: what can be counted. */
static void probe_perf(struct kb_sweep *sw)
{
	char line[2048];

	if (sw->opt.no_perf)
		kb_perf_probe_disabled(&sw->perf, "disabled by --no-perf");
	else
		kb_perf_probe(&sw->perf);
	kb_perf_config = sw->perf.enabled ? &sw->perf : NULL;
	sw->perf_json = kb_perf_probe_json(&sw->perf);
	kb_perf_probe_summary(&sw->perf, line, sizeof(line));
	kb_print_folded(stderr, "krefbench: %s\n", line);
}

/* The plan of the largest thread count: the smaller ones are its first threads. */
static void print_plan(struct kb_sweep *sw, const int *counts, int ncounts)
{
	int most = counts[0], *cpus;

	for (int i = 1; i < ncounts; i++)
		most = counts[i] > most ? counts[i] : most;
	cpus = kb_sweep_plan(sw, most);
	printf("placement %s, %d threads\n", kb_policy_name(sw->placement.policy), most);
	kb_place_print_plan(stdout, sw->topo, cpus, most);
	free(cpus);
}

/*
 * A program started with stdin, stdout or stderr closed would get that
 * number for its first open(): the results CSV would then receive what
 * printf meant for the terminal. Hold each closed one with /dev/null.
 */
static void hold_standard_streams(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", fd ? O_WRONLY : O_RDONLY) != fd)
			_exit(2);
}

int main(int argc, char **argv)
{
	static struct kb_sweep sw;
	int counts[MAX_THREAD_COUNTS], ncounts, rc;
	char err[512], status[4500], opt_level[32];

	hold_standard_streams();
	/* Past a file size limit a write fails (EFBIG) like one to a full disk, and is handled so. */
	signal(SIGXFSZ, SIG_IGN);
	check_backend_order();
	check_perf_columns();
	kb_output_command_line(&sw, argc, argv);	/* as given: the parser reorders argv */
	rc = kb_options_parse(argc, argv, &sw.opt, err, sizeof(err));
	if (rc)
		return rc > 0 ? 0 : (kb_die(err), 2);
	if (sw.opt.list) {
		kb_catalogue_print(stdout, sw.opt.list_json);
		return fflush(stdout) ? 1 : 0;
	}
	if (gb_init(argv[0]))
		kb_die("Google Benchmark refused its flags");
	load_topology(&sw);
	ncounts = kb_options_threads(&sw.opt, kb_topo_npus(sw.topo), counts, MAX_THREAD_COUNTS, err, sizeof(err));
	if (ncounts < 0)
		kb_die(err);
	if (sw.opt.plan_only) {
		print_plan(&sw, counts, ncounts);
		return 0;
	}
	sw.rng = sw.opt.seed ? sw.opt.seed : 0x9e3779b97f4a7c15ull;
	sw.work_iters = kb_work_calibrate(sw.opt.work_ns);
	kb_canary_calibrate();
	kb_sweep_register(&sw, counts, ncounts);
	kb_output_paths(&sw);
	kb_output_open(&sw);
	probe_perf(&sw);
	kb_output_path_for_caller(&sw);
	kb_sweep_profile(&sw);	/* before the sidecar: it holds the profile and the limits */
	kb_output_sidecar(&sw, "running");
	kb_interrupt_install(&sw);
	kb_env_opt_level(opt_level, sizeof(opt_level));
	kb_print_folded(stderr, "krefbench: %d benchmarks x %d repetitions of %g s windows, in rounds (seed %llu) -> %s\n"
		"note: Debian's libbenchmark is built without NDEBUG (\"Library was built as DEBUG\");\n"
		"  it only starts the threads and writes its JSON: the timed loops are krefbench's own %s code.\n",
		sw.nentries, sw.opt.reps, sw.opt.time_s, (unsigned long long)sw.opt.seed, sw.csv_path, opt_level);
	sw.t_start = (double)kb_now_ns() / 1e9;
	if (kb_sweep_run(&sw)) {
		fprintf(stderr, "krefbench: %s; stopping (every complete row is kept)\n", sw.write_error);
		snprintf(status, sizeof(status), "failed: %s", sw.write_error);
		kb_output_sidecar(&sw, status);
		kb_results_close(sw.results);
		return 1;
	}
	if (kb_output_sidecar(&sw, "complete"))
		sw.tally.failures++;
	kb_summary_print(&sw);
	printf("\nresults: %s (%d rows)\nenvironment: %s\ngoogle benchmark json: %s\n", sw.csv_path,
	       kb_results_rows(sw.results), sw.json_path, sw.gbench_path);
	kb_results_close(sw.results);
	if (fflush(stdout) != 0)
		return 1;
	return sw.tally.failures ? 1 : 0;
}

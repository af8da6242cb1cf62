#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "environment.h"

static void default_csv_path(struct kb_sweep *sw)
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

void kb_output_paths(struct kb_sweep *sw)
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

/* The default name with "-<n>" before its extension (n >= 2), so that runs
 * started in the same second each get their own files. */
static void default_path_numbered(struct kb_sweep *sw, const char *base, size_t n, int number)
{
	snprintf(sw->csv_path, sizeof(sw->csv_path), "%.*s-%d.csv", (int)n, base, number);
	snprintf(sw->json_path, sizeof(sw->json_path), "%.*s-%d.json", (int)n, base, number);
	snprintf(sw->gbench_path, sizeof(sw->gbench_path), "%.*s-%d.gbench.json", (int)n, base, number);
}

/* A given --out is created or refused as it is; a default name that another
 * run (of this second) holds moves on to the next free number: the CSV is
 * created O_EXCL, so of two runs racing for one name exactly one gets it. */
void kb_output_open(struct kb_sweep *sw)
{
	const char *const others[] = { sw->json_path, sw->gbench_path };	/* written later */
	char err[4200], base[sizeof(sw->csv_path)];
	size_t n = strlen(sw->csv_path) - 4;	/* without ".csv" (a default name has it) */
	struct stat st;

	snprintf(base, sizeof(base), "%s", sw->csv_path);
	for (int number = 2;; number++) {
		int taken = lstat(sw->csv_path, &st) == 0;

		for (int i = 0; i < 2 && !taken; i++)
			if (lstat(others[i], &st) == 0) {
				if (sw->opt.out) {
					fprintf(stderr, "krefbench: %s exists; a run never overwrites an earlier result\n", others[i]);
					exit(2);
				}
				taken = 1;
			}
		if (!taken || sw->opt.out) {
			sw->results = kb_results_open(sw->csv_path, err, sizeof(err));
			if (sw->results)
				return;
			if (sw->opt.out || lstat(sw->csv_path, &st) != 0 || number > 1000)
				kb_die(err);
		}
		if (number > 1000) {
			fprintf(stderr, "krefbench: no free results file name like %s\n", base);
			exit(2);
		}
		default_path_numbered(sw, base, n, number);
	}
}

/* Google Benchmark states its own build type in its JSON context. */
static const char *gbench_build_type(const struct kb_sweep *sw)
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

const char *kb_output_measurement_json(const struct kb_sweep *sw)
{
	static char json[4096];
	char profile[3000];

	kb_idle_profile_json(&sw->idle, &sw->limits, profile, sizeof(profile));
	snprintf(json, sizeof(json),
		 "{\"model\": \"common window; interleaved rounds, each round of each thread count in a process "
		 "of its own (the CSV's process); disturbed repetitions retried\", "
		 "\"window_s\": %g, \"repetitions\": %d, \"retries\": %d, \"seed\": %llu, %s, "
		 "\"settle\": {\"attempts_waited\": %d, \"waited_s\": %.3f, \"gave_up\": %d, \"budget_s\": %.3f}}",
		 sw->opt.time_s, sw->opt.reps, sw->opt.retries, (unsigned long long)sw->opt.seed, profile,
		 sw->canaries ? sw->canaries->settle_waits : 0,
		 sw->canaries ? (double)sw->canaries->settle_ns / 1e9 : 0.0,
		 sw->canaries ? sw->canaries->settle_gave_up : 0,
		 sw->canaries ? (double)sw->canaries->settle_budget_ns / 1e9 : 0.0);
	return json;
}

int kb_output_sidecar(struct kb_sweep *sw, const char *status)
{
	struct kb_env_extra x = {
		.command_line = sw->command_line, .placement = sw->opt.placement_text,
		.gbench_build = gbench_build_type(sw), .status = status,
		.rows = sw->results ? kb_results_rows(sw->results) : 0,
		.perf_events = sw->perf_json, .measurement = kb_output_measurement_json(sw),
	};

	if (kb_env_write(sw->json_path, sw->topo, &x)) {
		fprintf(stderr, "krefbench: cannot write %s: %s\n", sw->json_path, strerror(errno));
		return -1;
	}
	return 0;
}

void kb_output_command_line(struct kb_sweep *sw, int argc, char **argv)
{
	size_t used = 0;

	for (int i = 0; i < argc && used + 2 < sizeof(sw->command_line); i++)
		used += (size_t)snprintf(sw->command_line + used, sizeof(sw->command_line) - used,
					 "%s%s", i ? " " : "", argv[i]);
}

void kb_output_path_for_caller(const struct kb_sweep *sw)
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

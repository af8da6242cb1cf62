/* The run's environment, written as the JSON sidecar of a results file. */
#ifndef KREFBENCH_BENCH_ENVIRONMENT_H
#define KREFBENCH_BENCH_ENVIRONMENT_H

#include "placement.h"

struct kb_env_extra {
	const char *command_line;
	const char *placement;
	const char *gbench_build;	/* from Google Benchmark's JSON, or NULL */
	int rows;
	const char *status;		/* "running", "complete", "interrupted" */
	const char *perf_events;	/* the perf_event probe as a JSON object, or NULL */
	const char *measurement;	/* the measurement model's settings as a JSON object, or NULL */
};

/* The sidecar as a malloc'd string (NULL when out of memory). */
char *kb_env_render(const struct kb_topo *topo, const struct kb_env_extra *x);
/* Writes path (replacing an earlier version of this run's own sidecar) through a
 * temporary created exclusively, never through a symlink; 0, or -1 with errno. */
int kb_env_write(const char *path, const struct kb_topo *topo, const struct kb_env_extra *x);
/* "model name" from /proc/cpuinfo (or the arm64 equivalent), for titles. */
void kb_env_cpu_model(char *buf, size_t len);
/* The flags the timed loops were compiled with (the sidecar's cflags). */
const char *kb_env_cflags(void);
/* The last -O flag of those ("-O3"), or "no -O flag". */
void kb_env_opt_level(char *buf, size_t len);

#endif

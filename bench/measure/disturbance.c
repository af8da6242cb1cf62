#include "disturbance.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /proc/stat: "cpuN user nice system idle iowait irq softirq steal ...", in clock ticks. */
double kb_steal_ns(const int *cpus, int ncpus)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	double ticks = 0, ns_per_tick = 1e9 / (double)sysconf(_SC_CLK_TCK);
	bool any = false;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8];
		int cpu;

		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
			continue;
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
			continue;
		bool wanted = ncpus == 0;

		for (int i = 0; i < ncpus && !wanted; i++)
			wanted = cpus[i] == cpu;
		if (wanted) {
			ticks += (double)v[7];
			any = true;
		}
	}
	fclose(f);
	return any ? ticks * ns_per_tick : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void kb_canary_note(struct kb_canary_ref *ref, double canary_ns)
{
	int cap = (int)(sizeof(ref->values) / sizeof(ref->values[0]));

	if (canary_ns <= 0)
		return;
	if (ref->n == cap) {	/* keep the newer half */
		memmove(ref->values, ref->values + cap / 2, sizeof(double) * (size_t)(cap - cap / 2));
		ref->n = cap - cap / 2;
	}
	ref->values[ref->n++] = canary_ns;
}

double kb_canary_reference(const struct kb_canary_ref *ref)
{
	double *tmp, m;

	if (!ref->n || !(tmp = malloc(sizeof(double) * (size_t)ref->n)))
		return 0;
	memcpy(tmp, ref->values, sizeof(double) * (size_t)ref->n);
	qsort(tmp, (size_t)ref->n, sizeof(double), cmp_double);
	m = ref->n % 2 ? tmp[ref->n / 2] : (tmp[ref->n / 2 - 1] + tmp[ref->n / 2]) / 2;
	free(tmp);
	return m;
}

static void add_reason(char *why, size_t len, const char *fmt, double v)
{
	size_t used = strlen(why);

	if (used + 2 >= len)
		return;
	if (used)
		used += (size_t)snprintf(why + used, len - used, "; ");
	snprintf(why + used, len - used, fmt, v);
}

void kb_disturbance_verdict(const struct kb_window_result *r, double steal_pct, double canary_ratio,
			    char *why, size_t len)
{
	double window = (double)r->window_ns;

	why[0] = 0;
	if (!r->valid) {
		add_reason(why, len, "window not run", 0);
		return;
	}
	if (r->task_clock_ratio < KB_TASK_CLOCK_MIN)
		add_reason(why, len, "task_clock %.2f", r->task_clock_ratio);
	if (r->migrations > 0)
		add_reason(why, len, "migrations %.0f", (double)r->migrations);
	if (steal_pct > KB_STEAL_MAX_PCT)
		add_reason(why, len, "steal %.1f%%", steal_pct);
	if (window > 0 && (double)r->start_skew_ns > KB_SKEW_MAX * window)
		add_reason(why, len, "start_skew %.1f%%", 100.0 * (double)r->start_skew_ns / window);
	if (window > 0 && (double)r->stop_skew_ns > KB_SKEW_MAX * window)
		add_reason(why, len, "stop_skew %.1f%%", 100.0 * (double)r->stop_skew_ns / window);
	if (canary_ratio > 1 + KB_CANARY_TOLERANCE)
		add_reason(why, len, "canary %.2f", canary_ratio);
}

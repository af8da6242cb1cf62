#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "disturbance.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "window.h"

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


double kb_steal_resolution_pct(int threads, uint64_t window_ns)
{
	double tick_ns = 1e9 / (double)sysconf(_SC_CLK_TCK);

	return threads > 0 && window_ns ? 100.0 * tick_ns / ((double)threads * (double)window_ns) : 100;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* ---- the idle profile ---- */

#define PROBE_GAPS 65536
#define PROBE_CANARIES 24

struct probe {
	pthread_t thread;
	int cpu;
	bool started, pinned;
	uint64_t probe_ns, window_ns;
	long gaps;
	double lost_ns, window_lost_max;
	double *gap;			/* the first PROBE_GAPS gaps, ns */
	int ngap;
	double canary[PROBE_CANARIES];
};

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	cpu_set_t set;
	uint64_t t0, last, now, sub_start;
	double sub_lost = 0;

	CPU_ZERO(&set);
	CPU_SET(p->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) || sched_getcpu() != p->cpu)
		return NULL;
	p->pinned = true;
	t0 = last = sub_start = kb_now_ns();
	while ((now = kb_now_ns()) - t0 < p->probe_ns) {
		double d = (double)(now - last);

		if (d > KB_GAP_NS) {
			p->gaps++;
			p->lost_ns += d;
			sub_lost += d;
			if (p->ngap < PROBE_GAPS)
				p->gap[p->ngap++] = d;
		}
		if (now - sub_start >= p->window_ns) {
			double frac = sub_lost / (double)(now - sub_start);

			p->window_lost_max = frac > p->window_lost_max ? frac : p->window_lost_max;
			sub_start = now;
			sub_lost = 0;
		}
		last = now;
	}
	for (int i = 0; i < PROBE_CANARIES; i++)
		p->canary[i] = (double)kb_canary_ns();
	return NULL;
}

static double quantile(double *v, int n, double q)	/* v sorted */
{
	return n ? v[(int)fmin(n - 1, floor(q * (double)n))] : 0;
}

void kb_idle_profile_measure(const int *cpus, int ncpus, double probe_s, double window_s,
			     struct kb_idle_profile *p)
{
	struct probe *pr = calloc((size_t)(ncpus > 0 ? ncpus : 1), sizeof(*pr));
	double *all = NULL, *canaries = NULL, steal0, steal1;
	int nall = 0, ncan = 0;

	memset(p, 0, sizeof(*p));
	p->steal_frac = -1;
	if (!pr || ncpus < 1)
		goto out;
	if (window_s > probe_s / 3)
		window_s = probe_s / 3;
	p->probe_s = probe_s;
	p->window_s = window_s;
	steal0 = kb_steal_ns(cpus, ncpus);
	for (int i = 0; i < ncpus; i++) {
		pr[i].cpu = cpus[i];
		pr[i].probe_ns = (uint64_t)(probe_s * 1e9);
		pr[i].window_ns = (uint64_t)(window_s * 1e9);
		pr[i].gap = malloc(sizeof(double) * PROBE_GAPS);
		pr[i].started = pr[i].gap && pthread_create(&pr[i].thread, NULL, probe_main, &pr[i]) == 0;
	}
	for (int i = 0; i < ncpus; i++)
		if (pr[i].started)
			pthread_join(pr[i].thread, NULL);
	steal1 = kb_steal_ns(cpus, ncpus);
	all = malloc(sizeof(double) * PROBE_GAPS * (size_t)ncpus);
	canaries = malloc(sizeof(double) * PROBE_CANARIES * (size_t)ncpus);
	if (!all || !canaries)
		goto out;
	for (int i = 0; i < ncpus; i++) {
		if (!pr[i].pinned)
			continue;
		p->ncpus++;
		p->gaps += pr[i].gaps;
		p->lost_frac += pr[i].lost_ns;
		p->window_lost_max = fmax(p->window_lost_max, pr[i].window_lost_max);
		memcpy(all + nall, pr[i].gap, sizeof(double) * (size_t)pr[i].ngap);
		nall += pr[i].ngap;
		memcpy(canaries + ncan, pr[i].canary, sizeof(pr[i].canary));
		ncan += PROBE_CANARIES;
	}
	if (!p->ncpus)
		goto out;
	p->measured = true;
	p->lost_frac /= probe_s * 1e9 * p->ncpus;
	qsort(all, (size_t)nall, sizeof(double), cmp_double);
	p->gap_p50_ns = quantile(all, nall, 0.5);
	p->gap_p99_ns = quantile(all, nall, 0.99);
	p->gap_max_ns = nall ? all[nall - 1] : 0;
	qsort(canaries, (size_t)ncan, sizeof(double), cmp_double);
	p->canary_spread = quantile(canaries, ncan, 0.5) > 0
		? quantile(canaries, ncan, 0.9) / quantile(canaries, ncan, 0.5) - 1 : 0;
	if (steal0 >= 0 && steal1 >= 0)
		p->steal_frac = (steal1 - steal0) / (probe_s * 1e9 * ncpus);
out:
	for (int i = 0; pr && i < ncpus; i++)
		free(pr[i].gap);
	free(pr);
	free(all);
	free(canaries);
}

static double clamp(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/*
 * outside: twice the worst sub-window the probe saw, plus half a percent
 * (a tick's work and a wake-up land in any window); canary: three times its
 * idle spread plus 2%, at least 8% (the probe's canaries follow each other
 * within a fraction of a second; a sweep's span minutes of the host's
 * drift). Each within its bounds.
 */
void kb_thresholds_from_profile(const struct kb_idle_profile *p, struct kb_thresholds *th)
{
	th->skew_max = KB_SKEW_MAX;
	if (!p->measured) {
		th->outside_max = KB_OUTSIDE_MAX;
		th->canary_tolerance = KB_CANARY_TOLERANCE_MAX;
		return;
	}
	th->outside_max = clamp(2 * p->window_lost_max + 0.005, KB_OUTSIDE_MIN, KB_OUTSIDE_MAX);
	th->canary_tolerance = clamp(3 * p->canary_spread + 0.02, KB_CANARY_TOLERANCE_MIN, KB_CANARY_TOLERANCE_MAX);
}

void kb_idle_profile_json(const struct kb_idle_profile *p, const struct kb_thresholds *th, char *buf, size_t len)
{
	snprintf(buf, len,
		 "\"idle_profile\": {\"measured\": %s, \"cpus\": %d, \"probe_s\": %g, \"window_s\": %g, "
		 "\"gap_above_ns\": %g, \"gaps\": %ld, \"gap_p50_ns\": %.0f, \"gap_p99_ns\": %.0f, "
		 "\"gap_max_ns\": %.0f, \"lost_fraction\": %.6f, \"window_lost_max\": %.6f, "
		 "\"canary_spread\": %.4f, \"steal_fraction\": %.6f, \"busy\": %s}, "
		 "\"disturbed_if\": {\"outside_fraction_above\": %.4f, \"migrations_above\": 0, "
		 "\"steal\": \"/proc/stat counts steal in ticks of %.0f ms: flagged only above the outside limit "
		 "and one tick per threads x window; below that, steal shows as time off the CPU neither running "
		 "nor waiting for it (outside), which the kernel resolves in ns when it accounts paravirt steal\", "
		 "\"skew_fraction_above\": %g, \"canary_slower_by_more_than\": %.4f, "
		 "\"own\": \"a workload's declared helper threads and blocking (KB_OWN_*) are its cost\"}",
		 p->measured ? "true" : "false", p->ncpus, p->probe_s, p->window_s, KB_GAP_NS, p->gaps,
		 p->gap_p50_ns, p->gap_p99_ns, p->gap_max_ns, p->lost_frac, p->window_lost_max, p->canary_spread,
		 p->steal_frac, p->measured && 2 * p->window_lost_max + 0.005 > KB_OUTSIDE_MAX ? "true" : "false",
		 th->outside_max, 1000.0 / (double)sysconf(_SC_CLK_TCK), th->skew_max, th->canary_tolerance);
}

void kb_canary_note(struct kb_canary_ref *ref, int threads, double canary_ns)
{
	if (canary_ns <= 0)
		return;
	ref->ns[ref->next] = (float)canary_ns;
	ref->threads[ref->next] = threads;
	ref->next = (ref->next + 1) % KB_CANARY_SAMPLES;
	if (ref->n < KB_CANARY_SAMPLES)
		ref->n++;
}

double kb_canary_reference(const struct kb_canary_ref *ref, int threads)
{
	double *v = malloc(sizeof(double) * (size_t)(ref->n ? ref->n : 1)), q = 0;
	int n = 0;

	if (!v)
		return 0;
	for (int i = 0; i < ref->n; i++)
		if (ref->threads[i] == threads)
			v[n++] = ref->ns[i];
	if (n >= KB_CANARY_MIN_SAMPLES) {
		qsort(v, (size_t)n, sizeof(double), cmp_double);
		q = quantile(v, n, KB_CANARY_QUANTILE);
	}
	free(v);
	return q;
}

uint64_t kb_canary_settle(struct kb_canaries *c, double tolerance)
{
	uint64_t t0 = kb_now_ns(), waited = 0;
	double ref = kb_canary_reference(&c->ref, 0);

	for (;;) {
		double ns = (double)kb_canary_ns();

		kb_canary_note(&c->ref, 0, ns);
		if (ref <= 0 || ns <= ref * (1 + tolerance))
			break;
		waited = kb_now_ns() - t0;
		if (waited >= KB_SETTLE_MAX_NS || c->settle_ns + waited >= c->settle_budget_ns) {
			c->settle_gave_up++;
			break;
		}
		struct timespec nap = { 0, (long)KB_SETTLE_NAP_NS };

		nanosleep(&nap, NULL);
	}
	if (waited) {
		c->settle_waits++;
		c->settle_ns += waited;
	}
	return waited;
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

void kb_disturbance_verdict(const struct kb_window_result *r, double steal_pct, double steal_resolution_pct,
			    double canary_ratio, const struct kb_thresholds *th, char *why, size_t len)
{
	double window = (double)r->window_ns;

	why[0] = 0;
	if (!r->valid) {
		add_reason(why, len, "window not run", 0);
		return;
	}
	if (r->outside_frac > th->outside_max)
		add_reason(why, len, "outside %.1f%%", 100 * r->outside_frac);
	if (r->migrations > 0)
		add_reason(why, len, "migrations %.0f", (double)r->migrations);
	if (steal_pct > 100 * th->outside_max && steal_pct > steal_resolution_pct)
		add_reason(why, len, "steal %.1f%%", steal_pct);
	if (window > 0 && (double)r->start_skew_ns > th->skew_max * window)
		add_reason(why, len, "start_skew %.1f%%", 100.0 * (double)r->start_skew_ns / window);
	/* a blocking row's thread leaves at its next batch boundary, after the
	 * lock or grace period it waits for: its own cost */
	if (window > 0 && (double)r->stop_skew_ns > th->skew_max * window && !(r->own & KB_OWN_BLOCKING))
		add_reason(why, len, "stop_skew %.1f%%", 100.0 * (double)r->stop_skew_ns / window);
	if (canary_ratio > 1 + th->canary_tolerance)
		add_reason(why, len, "canary %.2f", canary_ratio);
}

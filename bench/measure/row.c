#include "row.h"

#include <stdio.h>
#include <string.h>

#include "core/backends.h"
#include "core/lib/rseq.h"
#include "checks.h"
#include "thread_perf.h"
#include "latency.h"

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

/*
 * perf_event counts per op: each thread's scaled count, summed by the
 * library, over all threads' operations (so task_clock_ns_per_op is about
 * ns_per_op when the threads run flat out). Empty unless every thread counted.
 */
static void perf_per_op(const struct gb_result *r, uint64_t ops, double out[KB_PERF_COLUMNS])
{
	char name[64];

	for (int e = 0; e < KB_PERF_COLUMNS; e++) {
		double v, n;

		snprintf(name, sizeof(name), KB_PERF_COUNTER_PREFIX "%s", kb_perf_event_names[e]);
		v = counter(r, name, -1);
		snprintf(name, sizeof(name), KB_PERF_COUNTER_PREFIX "%s.threads", kb_perf_event_names[e]);
		n = counter(r, name, 0);
		out[e] = v >= 0 && n == r->threads && ops > 0 ? v / (double)ops : -1;
	}
}

/*
 * The lookup workloads' hits and misses. Each thread counts its misses in a
 * register and publishes them after its window (counter "misses", summed
 * over threads), over the same batches as its operations: hits are the
 * rest, so nothing is counted per hit.
 */
static void lookups(const struct gb_result *r, uint64_t ops, struct kb_row *row)
{
	double misses = counter(r, "misses", -1);

	row->lookups = misses >= 0;
	if (!row->lookups)
		return;
	row->lookup_misses = (uint64_t)misses;
	row->lookup_hits = ops > row->lookup_misses ? ops - row->lookup_misses : 0;
}

void kb_row_from_result(struct kb_row *row, const struct gb_result *r, uint64_t ops)
{
	format_cpus(r, row->cpus, sizeof(row->cpus));
	snprintf(row->check, sizeof(row->check), "%s", kb_check_text((int)counter(r, "check", -1)));
	perf_per_op(r, ops, row->perf_per_op);
	lookups(r, ops, row);
}

void kb_row_derive(struct kb_row *row, const struct kb_window_result *w, int threads)
{
	double window = (double)w->window_ns, ops = (double)w->ops;

	row->window_ns = w->window_ns;
	row->ops = w->ops;
	row->iterations = threads > 0 ? w->ops / (uint64_t)threads : 0;
	row->ns_per_op = ops > 0 ? (w->serial ? 1 : threads) * window / ops : 0;
	row->ops_per_s = window > 0 ? ops * 1e9 / window : 0;
	row->fairness = w->fairness;
	row->start_skew_ns = w->start_skew_ns;
	row->stop_skew_ns = w->stop_skew_ns;
	row->task_clock_ratio = w->task_clock_ratio;
	row->invol_switches = w->invol_switches;
	row->migrations = w->migrations;
	row->canary_ns = w->canary_ns;
	row->voluntary_switches_per_op = ops > 0 ? (double)w->vol_switches / ops : -1;
	row->cpu_busy = w->cpu_busy;
	row->outside_pct = 100 * w->outside_frac;
	row->rseq_restarts_per_mop = strcmp(row->fast_path, "rseq") ? -1 : ops > 0 ? w->rseq_restarts * 1e6 / ops : 0;
}

void kb_row_beside(struct kb_row *row, const struct kb_entry *e, const struct kb_window_result *w)
{
	const struct kb_backend *b = e->is_floor ? NULL : kb_backend_find(e->backend);
	struct kb_beside_result r;

	kb_beside_read(&r);
	kb_row_derive(row, w, r.counted_threads > 0 ? r.counted_threads : e->threads);
	row->lat_p50_ns = r.p50;
	row->lat_p99_ns = r.p99;
	row->lat_p999_ns = r.p999;
	row->lat_max_ns = r.max;
	row->lat_samples = r.samples ? (double)r.samples : -1;
	row->release_via = r.release_via;
	row->mem_bytes = b ? (double)b->bytes_per_object() : -1;
	row->mem_bytes_64 = b && b->bytes_at ? (double)b->bytes_at(64) : -1;
	row->mem_bytes_256 = b && b->bytes_at ? (double)b->bytes_at(256) : -1;
}

double kb_row_norm(const struct kb_entry *entries, const struct kb_entry *e, double ns_per_op)
{
	double floor_ns = e->floor >= 0 ? entries[e->floor].floor_ns : 0;

	return floor_ns > 0 ? ns_per_op / floor_ns : -1;
}

const char *kb_fast_path(const char *backend)
{
	if (!strcmp(backend, "percpu"))
		return kb_rseq_percpu_ok ? "rseq" : "atomic";
	if (!strcmp(backend, "percpu_atomic"))
		return "atomic";
	return "n/a";
}

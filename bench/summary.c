#include "summary.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fold.h"
#include "measure/median.h"

static bool same_row(const struct kb_entry *a, const struct kb_entry *b)
{
	return a->threads == b->threads && a->writer_rate == b->writer_rate &&
	       !strcmp(a->workload, b->workload) && !strcmp(a->variant, b->variant);
}

static const struct kb_entry *find_cell(const struct kb_sweep *sw, const struct kb_entry *row, const char *backend)
{
	for (int i = 0; i < sw->nentries; i++)
		if (!strcmp(sw->entries[i].backend, backend) && same_row(&sw->entries[i], row))
			return &sw->entries[i];
	return NULL;
}

/* "17.92±2%", from the clean repetitions, else (marked ~) the disturbed ones;
 * "17.92 n=2" below 3 repetitions, too few for an interval that means one. */
static void format_figure(const struct kb_entry *e, char *buf, size_t len)
{
	const double *v = e->nclean ? e->ns : e->disturbed_ns;
	int n = e->nclean ? e->nclean : e->ndisturbed;
	double m, lo, hi, cov, spread;

	if (!n) {
		snprintf(buf, len, "%s", e->check[0] ? "error" : "-");
		return;
	}
	m = kb_median(v, n);
	if (n < 3) {
		snprintf(buf, len, "%.2f n=%d%s", m, n, e->nclean ? "" : "~");
		return;
	}
	kb_median_interval(v, n, &lo, &hi, &cov);
	spread = m > 0 ? 100 * fmax(hi - m, m - lo) / m : 0;
	snprintf(buf, len, "%.2f±%.0f%%%s", m, spread, e->nclean ? "" : "~");
}

static void print_cell(const struct kb_entry *e)
{
	char fig[48], cell[80];

	if (!e) {
		printf(" %22s", "n/a");
		return;
	}
	format_figure(e, fig, sizeof(fig));
	if (e->nnorm)
		snprintf(cell, sizeof(cell), "%s (%.2f)%s", fig, kb_median(e->norm, e->nnorm), e->check[0] ? "!" : "");
	else
		snprintf(cell, sizeof(cell), "%s%s", fig, e->check[0] ? "!" : "");
	printf(" %22s", cell);
}

static bool is_backend_column(const struct kb_sweep *sw, const char *name)
{
	for (int b = 0; b < sw->opt.nbackends; b++)
		if (!strcmp(sw->opt.backends[b]->name, name))
			return true;
	return false;
}

/* Floors and read-side mechanisms: one "name@threads=ns±spread" list per kind. */
static void print_side_line(const struct kb_sweep *sw, const char *title, bool floors)
{
	bool any = false;
	char fig[48];

	for (int i = 0; i < sw->nentries; i++) {
		const struct kb_entry *e = &sw->entries[i];

		if (e->is_floor != floors || (!floors && is_backend_column(sw, e->backend)))
			continue;
		if (!any)
			printf("%s:", title);
		any = true;
		format_figure(e, fig, sizeof(fig));
		printf(" %s@%d=%s", floors ? e->workload : e->backend, e->threads, fig);
	}
	if (any)
		printf("\n");
}

static bool row_printed_before(const struct kb_sweep *sw, int i)
{
	for (int j = 0; j < i; j++)
		if (!sw->entries[j].is_floor && same_row(&sw->entries[j], &sw->entries[i]))
			return true;
	return false;
}

static void print_row_label(const struct kb_entry *e)
{
	char label[64];

	snprintf(label, sizeof(label), "%s%s%s%s", e->workload, e->variant[0] ? " " : "", e->variant,
		 e->writer_rate > 0 ? " +w" : "");
	printf("%-28s %7d", label, e->threads);
}

static void print_disturbance(const struct kb_sweep *sw)
{
	const struct kb_sweep_tally *t = &sw->tally;
	const struct kb_entry *worst_e = NULL;
	int worst = 0;

	kb_print_folded(stdout, "disturbance: %d of %d repetitions were disturbed at first try; %d attempt(s) dropped; "
	       "%d repetition(s) never got a clean attempt in %d retries\n",
	       t->reps_disturbed_first, t->reps_total, t->attempts_dropped, t->reps_disturbed, sw->opt.retries);
	kb_print_folded(stdout, "  disturbed means: a thread lost more than %.1f%% of its span to others (waiting for a CPU, or "
	       "steal), a migration, skew over %.0f%%, or a canary %.0f%% slow; limits from this machine's idle "
	       "profile (%s; the sidecar's measurement); a row's declared helper threads and blocking are its cost. "
	       "/proc/stat steal is in %.0f ms ticks: it cannot resolve a window's steal, which shows as time off "
	       "the CPU instead\n",
	       100 * sw->limits.outside_max, 100 * sw->limits.skew_max, 100 * sw->limits.canary_tolerance,
	       !sw->idle.measured ? "not measured: the bounds" : 2 * sw->idle.window_lost_max + 0.005 > KB_OUTSIDE_MAX
	       ? "busy when measured: the upper bound" : "measured at the start",
	       1000.0 / (double)sysconf(_SC_CLK_TCK));
	if (sw->canaries && sw->canaries->settle_waits)
		kb_print_folded(stdout, "  waited %.1f s before %d attempt(s) for the machine's usual speed (a canary "
		       "more than %.0f%% slower than the sweep's 10th percentile: a slow host); %d of them ran without "
		       "it (a wait over 1 s, or the sweep's %.0f s budget spent)\n",
		       (double)sw->canaries->settle_ns / 1e9, sw->canaries->settle_waits,
		       100 * sw->limits.canary_tolerance, sw->canaries->settle_gave_up,
		       (double)sw->canaries->settle_budget_ns / 1e9);
	for (int i = 0; i < sw->nentries; i++)
		if (sw->entries[i].ndropped > worst) {
			worst = sw->entries[i].ndropped;
			worst_e = &sw->entries[i];
		}
	if (worst_e)
		kb_print_folded(stdout, "  most dropped: %s %s%s%s @%d (%d attempt(s))\n", worst_e->backend, worst_e->workload,
		       worst_e->variant[0] ? " " : "", worst_e->variant, worst_e->threads, worst);
	if (t->reps_not_retried)
		kb_print_folded(stdout, "  %d repetition(s) ran once, not retried: most of their row's repetitions had "
		       "no clean attempt (disturbed by its own threads, or constant noise)\n", t->reps_not_retried);
	if (t->reps_total && 2 * t->reps_disturbed_first > t->reps_total)
		kb_print_folded(stdout, "WARNING: most repetitions were disturbed: this machine was busy or its host was; "
		       "treat these figures with care (the CSV's disturbed column says why)\n");
	if (t->reps_disturbed)
		printf("'~' marks a figure from disturbed repetitions only (no clean one).\n");
}

/* Every figure of the run, one column per backend: --wide only (each column
 * is 23 characters; the default summary fits SUMMARY_COLUMNS). */
static void print_wide_table(const struct kb_sweep *sw)
{
	double cov = sw->opt.reps >= 2 ? 1 - pow(2, 1 - sw->opt.reps) : 0;

	kb_print_folded(stdout, "\nmedian ns per op, per thread, of the clean repetitions ±the spread of that median "
	       "(distribution-free interval over repetitions measured in different processes: "
	       "[min,max] below 6, %s%.1f%% at %d clean; n=1, n=2: too few for one); "
	       "(norm) = / the floor of the same round: uncontended for private and 1 thread, shared above; "
	       "+w = writer on\n", sw->opt.reps < 6 ? "" : ">=", 100 * (sw->opt.reps < 6 ? cov : 0.95), sw->opt.reps);
	printf("%-28s %7s", "workload", "threads");
	for (int b = 0; b < sw->opt.nbackends; b++)
		printf(" %22s", sw->opt.backends[b]->name);
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
}

/* Without --wide: what the table would hold and where every figure is. */
static void print_table_pointer(const struct kb_sweep *sw)
{
	int rows = 0;

	for (int i = 0; i < sw->nentries; i++)
		rows += !sw->entries[i].is_floor && is_backend_column(sw, sw->entries[i].backend) &&
			!row_printed_before(sw, i);
	kb_print_folded(stdout, "\n%d rows (workload, threads) x %d backends measured; every figure is in the CSV and the report "
		     "(the per-benchmark table, %d columns wide: --wide)\n",
		     rows, sw->opt.nbackends, 37 + 23 * sw->opt.nbackends);
}

void kb_summary_print(const struct kb_sweep *sw)
{
	if (sw->opt.wide)
		print_wide_table(sw);
	else
		print_table_pointer(sw);
	print_disturbance(sw);
	if (sw->tally.failures)
		printf("'!' marks a failed self-check or error; see the check column.\n");
}

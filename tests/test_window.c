/*
 * The measurement model's arithmetic (bench/measure/window.h, bench/measure/disturbance.h,
 * bench/measure/median.h, bench/measure/row.h), on hand-made threads with known stamps:
 *
 * - the window runs from t0 to the last exit; skews; fairness = fewest /
 *   most ops in the window (not a ratio of loop durations: two threads with
 *   the same span but 3:1 ops read 1/3); the CPU-time ratio is the worst
 *   thread's; canary = median of every before/after sample; a thread that
 *   never ran its window makes the result invalid;
 * - derived columns: ns_per_op = threads x window / ops, window / ops for
 *   serial work (pingpong), ops_per_s = ops / window;
 * - the disturbance verdict names each reason, and none on a clean window;
 *   time lost to others (waiting for a CPU, off it without sleeping) is
 *   flagged, a row's declared helper threads (up to their CPU time) and own
 *   sleeps are not, undeclared ones are; steal below /proc/stat's tick is
 *   no reason; the limits come from an idle profile, within their bounds,
 *   and a real probe measures one;
 * - the median's interval: [min, max] below 6 values with coverage
 *   1 - 2^(1-n); at 20 values the order statistics x(6), x(15) (95.9%);
 * - and a real window with 3 threads: every thread counted ops, the window
 *   lasted at least its length, fairness in (0, 1].
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "measure/disturbance.h"
#include "workloads/loop.h"
#include "measure/row.h"
#include "measure/median.h"

static bool near(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1, fabs(b)); }

static struct kb_thread *threads_at(int n)
{
	struct kb_thread *thr = aligned_alloc(sizeof(struct kb_thread), sizeof(struct kb_thread) * (size_t)n);

	memset(thr, 0, sizeof(struct kb_thread) * (size_t)n);
	return thr;
}

static void test_summarise(void)
{
	struct kb_window w;
	struct kb_thread *thr = threads_at(2);

	kb_window_reset(&w, 2, 1000000);
	atomic_store(&w.t0, 1000);
	/* thread 0: 3000 ops over [1010, 1001010]; thread 1: 1000 ops over [1100, 1001500] */
	thr[0] = (struct kb_thread){ .ops = 3000, .t_start_ns = 1010, .t_end_ns = 1001010, .cpu_ns = 1000000,
				     .canary_ns = { 100, 104 }, .window_closed = true, .invol_switches = 1 };
	thr[1] = (struct kb_thread){ .ops = 1000, .t_start_ns = 1100, .t_end_ns = 1001500, .cpu_ns = 800000,
				     .canary_ns = { 102, 300 }, .window_closed = true, .rseq_restarts = 7,
				     .migrated = true };
	kb_window_summarise(&w, thr, 2);
	CHECK(w.result.valid, "a window every thread ran is valid");
	CHECK_EQ(w.result.window_ns, 1001500 - 1000, "window = last exit - t0");
	CHECK_EQ(w.result.ops, 4000, "ops summed over threads");
	CHECK_EQ(w.result.start_skew_ns, 100, "start skew = latest start - t0");
	CHECK_EQ(w.result.stop_skew_ns, 490, "stop skew = latest exit - earliest exit");
	CHECK(near(w.result.fairness, 1000.0 / 3000.0), "fairness = fewest/most ops in the window (%g)",
	      w.result.fairness);
	CHECK(near(w.result.task_clock_ratio, 800000.0 / 1000400.0), "task clock ratio: the worst thread's (%g)",
	      w.result.task_clock_ratio);
	CHECK_EQ(w.result.invol_switches, 1, "involuntary switches summed");
	CHECK_EQ(w.result.migrations, 1, "migrations counted per thread");
	CHECK(near(w.result.rseq_restarts, 7), "rseq restarts summed");
	CHECK(near(w.result.canary_ns, 100), "canary = the fastest of the 4 samples, one slow one ignored (%g)",
	      w.result.canary_ns);

	/* derived columns */
	struct kb_row row = { .fast_path = "n/a" };

	kb_row_derive(&row, &w.result, 2);
	CHECK(near(row.ns_per_op, 2.0 * 1000500 / 4000), "ns_per_op = threads x window / ops (%g)", row.ns_per_op);
	CHECK(near(row.ops_per_s, 4000 * 1e9 / 1000500), "ops_per_s = ops / window (%g)", row.ops_per_s);
	CHECK(row.rseq_restarts_per_mop < 0, "restarts per Mop empty without an rseq path");
	w.result.serial = true;
	row.fast_path = "rseq";
	kb_row_derive(&row, &w.result, 2);
	CHECK(near(row.ns_per_op, 1000500.0 / 4000), "serial work: ns_per_op = window / ops (%g)", row.ns_per_op);
	CHECK(near(row.rseq_restarts_per_mop, 7e6 / 4000), "restarts per million ops on the rseq path");

	/* a thread that never ran */
	thr[1].window_closed = false;
	kb_window_reset(&w, 2, 1000000);
	atomic_store(&w.t0, 1000);
	kb_window_summarise(&w, thr, 2);
	CHECK(!w.result.valid, "a thread that never ran its window makes it invalid");
	free(thr);
}

static const struct kb_thresholds limits = { .outside_max = 0.02, .canary_tolerance = 0.10, .skew_max = 0.02 };

static void test_verdict(void)
{
	struct kb_window_result r = { .valid = true, .window_ns = 10000000, .task_clock_ratio = 0.99 };
	char why[256];

	kb_disturbance_verdict(&r, 0, 10, 1.0, &limits, why, sizeof(why));
	CHECK(!why[0], "a clean window has no reason (%s)", why);
	kb_disturbance_verdict(&r, -1, 10, -1, &limits, why, sizeof(why));
	CHECK(!why[0], "unknown steal and no canary reference are not reasons (%s)", why);
	r.outside_frac = 0.3;
	r.invol_switches = 2;
	r.migrations = 1;
	r.stop_skew_ns = 500000;
	kb_disturbance_verdict(&r, 35, 10, 1.31, &limits, why, sizeof(why));
	CHECK(strstr(why, "outside 30.0%") && strstr(why, "migrations 1") &&
	      strstr(why, "steal 35.0%") && strstr(why, "stop_skew 5.0%") && strstr(why, "canary 1.31"),
	      "every reason named (%s)", why);
	CHECK(strstr(why, "; ") != NULL, "reasons are '; ' separated");
	CHECK(!strstr(why, "invol_switches"), "involuntary switches count only through the time they took (%s)", why);
	r = (struct kb_window_result){ .valid = true, .window_ns = 10000000, .task_clock_ratio = 0.5,
				       .outside_frac = 0.015, .invol_switches = 6 };
	kb_disturbance_verdict(&r, 5, 10, 0.8, &limits, why, sizeof(why));
	CHECK(!why[0], "a loss to others under the limit, steal under one tick's resolution, a faster canary and "
	      "time off the CPU that is the row's own (task clock 0.5) are no reason (%s)", why);
	r.outside_frac = 0.025;
	kb_disturbance_verdict(&r, 0, 10, 1.11, &limits, why, sizeof(why));
	CHECK(strstr(why, "outside 2.5%") && strstr(why, "canary 1.11"), "over the limits, each is (%s)", why);
	r = (struct kb_window_result){ .valid = true, .window_ns = 10000000, .stop_skew_ns = 500000,
				       .start_skew_ns = 500000, .own = KB_OWN_BLOCKING };
	kb_disturbance_verdict(&r, 0, 10, 1, &limits, why, sizeof(why));
	CHECK(strstr(why, "start_skew") && !strstr(why, "stop_skew"),
	      "a blocking row: a late start is a reason, a late stop (after its own lock) is not (%s)", why);
	r.valid = false;
	kb_disturbance_verdict(&r, 0, 10, 1, &limits, why, sizeof(why));
	CHECK(why[0], "an invalid window is disturbed (%s)", why);

	static struct kb_canary_ref ref;

	CHECK(kb_canary_reference(&ref, 1) == 0, "no canary reference before any sample");
	for (int i = 0; i < 4; i++)
		kb_canary_note(&ref, 1, 100);
	CHECK(kb_canary_reference(&ref, 1) == 0, "no reference from fewer than %d samples", KB_CANARY_MIN_SAMPLES);
	/* 20 usual canaries (100..119), then a slow host for 30 (180): the
	 * reference stays the usual speed */
	for (int i = 0; i < 50; i++)
		kb_canary_note(&ref, 1, i < 20 ? 100 + i : 180);
	CHECK(kb_canary_reference(&ref, 1) < 110, "a slow stretch longer than the usual one does not become the "
	      "reference (%g)", kb_canary_reference(&ref, 1));
	for (int i = 0; i < 10; i++)
		kb_canary_note(&ref, 2, 150);
	CHECK(kb_canary_reference(&ref, 1) < 110 && near(kb_canary_reference(&ref, 2), 150),
	      "a reference per thread count (%g, %g)", kb_canary_reference(&ref, 1), kb_canary_reference(&ref, 2));
	for (int i = 0; i < KB_CANARY_SAMPLES; i++)
		kb_canary_note(&ref, 3, 200);
	CHECK(ref.n == KB_CANARY_SAMPLES && kb_canary_reference(&ref, 1) == 0 && near(kb_canary_reference(&ref, 3), 200),
	      "a ring of the newest %d samples", KB_CANARY_SAMPLES);

	static struct kb_canaries slow, usual;

	kb_canary_calibrate();
	for (int i = 0; i < 10; i++)
		kb_canary_note(&slow.ref, 0, 1);	/* every real canary is "slow" beside 1 ns */
	slow.settle_budget_ns = 30000000;
	uint64_t waited = kb_canary_settle(&slow, 0.1);

	CHECK(waited >= 30000000 && waited < KB_SETTLE_MAX_NS && slow.settle_waits == 1 && slow.settle_gave_up == 1 &&
	      slow.settle_ns == waited, "a slow machine: waits until the sweep's budget is spent, then gives up "
	      "(%.1f ms)", (double)waited / 1e6);
	waited = kb_canary_settle(&slow, 0.1);
	CHECK(waited == 0 || waited < 2 * KB_SETTLE_NAP_NS, "the budget spent: the next attempt hardly waits (%.1f ms)",
	      (double)waited / 1e6);
	for (int i = 0; i < 10; i++)
		kb_canary_note(&usual.ref, 0, 1e12);
	usual.settle_budget_ns = 30000000;
	CHECK(kb_canary_settle(&usual, 0.1) == 0 && usual.settle_waits == 0 && usual.ref.n == 11,
	      "the usual speed: no wait, the check's canary noted");
	CHECK(kb_steal_resolution_pct(2, 50000000) > 5, "one 10 ms tick is more than 5%% of 2 threads x 50 ms (%g)",
	      kb_steal_resolution_pct(2, 50000000));
}

/* One thread of 10 ms: cpu, run delay and sleeps as given; the worst outside fraction under `own`. */
static double outside_of(unsigned int own, double cpu_ms, double delay_ms, long vol, double helper_ms)
{
	struct kb_window w;
	struct kb_thread *thr = threads_at(1);
	double f;

	kb_window_reset(&w, 1, 10000000);
	w.own = own;
	thr[0] = (struct kb_thread){ .ops = 1, .t_start_ns = 0, .t_end_ns = 10000000, .window_closed = true,
				     .cpu_ns = (uint64_t)(cpu_ms * 1e6), .run_delay_ns = (int64_t)(delay_ms * 1e6),
				     .vol_switches = vol };
	w.result.helper_cpu_s = helper_ms / 1e3;
	f = kb_window_outside(&w, thr, 1);
	free(thr);
	return f;
}

static void test_outside(void)
{
	CHECK(near(outside_of(0, 10, 0, 0, 0), 0), "on its CPU all along: nothing lost");
	CHECK(near(outside_of(0, 7, 3, 0, 0), 0.3), "3 ms waiting for a CPU another process had: 30%% lost");
	CHECK(near(outside_of(KB_OWN_BLOCKING, 7, 3, 5, 0), 0.3),
	      "a provoked preemption counts in a blocking row too (30%%)");
	CHECK(near(outside_of(KB_OWN_HELPERS, 7, 3, 0, 3), 0),
	      "3 ms waiting while the row's own helper threads ran 3 ms: its cost, not lost");
	CHECK(near(outside_of(KB_OWN_HELPERS, 7, 3, 0, 1), 0.2),
	      "beyond the helpers' CPU time, the wait is lost to others (20%%)");
	CHECK(near(outside_of(0, 7, 3, 0, 3), 0.3), "a helper the row did not declare is a disturbance");
	CHECK(near(outside_of(KB_OWN_BLOCKING, 4, 0, 50, 0), 0), "sleeping 6 ms on its own lock: its cost");
	CHECK(near(outside_of(0, 4, 0, 50, 0), 0.6), "undeclared sleep is not the row's own (60%%)");
	CHECK(near(outside_of(KB_OWN_BLOCKING, 8, 0, 0, 0), 0.2),
	      "2 ms off the CPU neither waiting nor asleep (steal) counts in a blocking row (20%%)");
	CHECK(near(outside_of(KB_OWN_BLOCKING, 4, -1, 50, 0), 0),
	      "without schedstat, a blocking row's sleeping thread cannot be judged by time");
	CHECK(near(outside_of(0, 7, -1, 0, 0), 0.3), "without schedstat, all time off the CPU counts otherwise");
}

static void test_thresholds(void)
{
	struct kb_idle_profile p = { .measured = false };
	struct kb_thresholds th;
	char json[3000];

	kb_thresholds_from_profile(&p, &th);
	CHECK(th.outside_max == KB_OUTSIDE_MAX && th.canary_tolerance == KB_CANARY_TOLERANCE_MAX,
	      "no profile: the upper bounds");
	p = (struct kb_idle_profile){ .measured = true, .window_lost_max = 0.001, .canary_spread = 0.01 };
	kb_thresholds_from_profile(&p, &th);
	CHECK(near(th.outside_max, 0.01) && near(th.canary_tolerance, 0.08),
	      "a quiet machine: the lower bounds (%g, %g)", th.outside_max, th.canary_tolerance);
	p.window_lost_max = 0.006;
	p.canary_spread = 0.03;
	kb_thresholds_from_profile(&p, &th);
	CHECK(near(th.outside_max, 0.017) && near(th.canary_tolerance, 0.11),
	      "between the bounds: twice the worst idle window + 0.5%%, 3x the canary spread + 2%% (%g, %g)",
	      th.outside_max, th.canary_tolerance);
	p.window_lost_max = 0.5;
	kb_thresholds_from_profile(&p, &th);
	CHECK(th.outside_max == KB_OUTSIDE_MAX, "a busy start: the upper bound");
	kb_idle_profile_json(&p, &th, json, sizeof(json));
	CHECK(strstr(json, "\"idle_profile\": {") && strstr(json, "\"busy\": true") &&
	      strstr(json, "\"outside_fraction_above\": 0.0500"), "the profile and limits as JSON (%.80s...)", json);

	int cpu = sched_getcpu();

	kb_canary_calibrate();
	kb_idle_profile_measure(&cpu, 1, 0.05, 0.01, &p);
	CHECK(p.measured && p.ncpus == 1 && near(p.probe_s, 0.05), "a real probe measured CPU %d", cpu);
	CHECK(p.window_lost_max >= 0 && p.window_lost_max <= 1 && p.lost_frac <= 1 && p.gap_max_ns >= p.gap_p50_ns,
	      "its figures are fractions and ordered quantiles (lost %g, worst window %g)", p.lost_frac,
	      p.window_lost_max);
}

static void test_interval(void)
{
	double v[20], lo, hi, cov;

	for (int i = 0; i < 20; i++)
		v[i] = 20 - i;	/* 20..1, unsorted on purpose */
	kb_median_interval(v, 5, &lo, &hi, &cov);
	CHECK(lo == 16 && hi == 20 && near(cov, 1 - 2.0 / 32), "5 values: [min, max], coverage 93.75%%");
	CHECK(near(kb_median(v, 5), 18), "median of 5");
	kb_median_interval(v, 20, &lo, &hi, &cov);
	CHECK(lo == 6 && hi == 15, "20 values: x(6) .. x(15) (got %g .. %g)", lo, hi);
	CHECK(cov >= 0.95 && cov < 0.97, "20 values: coverage %.4f >= 95%%", cov);
	CHECK(near(kb_median(v, 20), 10.5), "median of 20");
	kb_median_interval(v, 1, &lo, &hi, &cov);
	CHECK(lo == 20 && hi == 20 && cov == 0, "1 value: no coverage claimed");
}

/* A real window: three threads started by Google Benchmark through the shim. */
static struct kb_window live_w;
static struct kb_thread *live_thr;

static void live_body(struct gb_state *st, void *ctx)
{
	struct kb_thread *me = &live_thr[gb_thread_index(st)];
	volatile uint64_t sink = 0;

	(void)ctx;
	for KB_WINDOW_LOOP(st, &live_w, me)
		for (int i = 0; i < KB_BATCH; i++)
			sink += (uint64_t)i;
}

static void ignore_result(const struct gb_result *r, void *arg) { (void)r; (void)arg; }

static void test_live(void)
{
	struct gb_spec spec = { .name = "live/t3", .body = live_body, .threads = 3 };

	live_thr = threads_at(3);
	kb_canary_calibrate();
	kb_window_reset(&live_w, 3, 20000000);
	CHECK(gb_init("test_window") == 0, "gb_init");
	CHECK(gb_run_once(gb_register(&spec), ignore_result, NULL) == 0, "live: ran");
	kb_window_summarise(&live_w, live_thr, 3);
	CHECK(live_w.result.valid, "live: valid");
	CHECK(live_w.result.window_ns >= 20000000, "live: the window lasted its length (%llu ns)",
	      (unsigned long long)live_w.result.window_ns);
	for (int i = 0; i < 3; i++)
		CHECK(live_thr[i].ops >= KB_BATCH && live_thr[i].ops % KB_BATCH == 0,
		      "live: thread %d counted whole batches (%llu)", i, (unsigned long long)live_thr[i].ops);
	CHECK(live_w.result.fairness > 0 && live_w.result.fairness <= 1, "live: fairness in (0,1] (%g)",
	      live_w.result.fairness);
	CHECK(live_w.result.canary_ns > 0, "live: the canary was timed");
	free(live_thr);
}

int main(void)
{
	test_summarise();
	test_verdict();
	test_outside();
	test_thresholds();
	test_interval();
	test_live();
	return check_summary();
}

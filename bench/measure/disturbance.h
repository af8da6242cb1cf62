/*
 * Disturbance: did something outside the row take its time? A row's own
 * threads and its own blocking are its cost (the workload declares them,
 * KB_OWN_* in workloads/harness.h; a backend with a thread of its own,
 * KB_HELPER_THREAD, runs after every other backend's rows); only time lost
 * to others counts. Each check is one thing the guest can see, plus a
 * canary for what it cannot (another VM on the host, a frequency change):
 *
 *   outside         a thread lost more of its span to others than this
 *                   machine loses at idle (bench/measure/window.c: waiting
 *                   for a CPU, or off it without sleeping: steal)
 *   migrations      a thread changed CPU during the window
 *   steal           /proc/stat's steal on the used CPUs, when above both
 *                   that limit and what its 10 ms ticks can resolve
 *   skew            threads started or stopped more than 2% of the window
 *                   apart (stopped: not in a row that declares its own
 *                   blocking, whose threads leave after what they wait for)
 *   canary          the fastest fixed-cost canary timed next to the window
 *                   was slower than its reference (the running median of the
 *                   canaries at this thread count: threads running canaries
 *                   side by side on SMT or host siblings are slower than one
 *                   alone, and that is the machine) by more than the idle
 *                   canary varies
 *
 * The limits come from the machine's idle profile, measured at the start of
 * the sweep (kb_idle_profile_measure: a spinning probe per CPU and the gaps
 * it sees) and stored in the sidecar; bounded so that a busy start neither
 * flags everything nor nothing.
 *
 * A repetition that trips any is written with the reasons in `disturbed`
 * and retried (--retries); summaries, plots and compare use clean ones.
 */
#ifndef KREFBENCH_BENCH_DISTURBANCE_H
#define KREFBENCH_BENCH_DISTURBANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "window.h"

#define KB_SKEW_MAX 0.02
/* The bounds of the calibrated limits. */
#define KB_OUTSIDE_MIN 0.01
#define KB_OUTSIDE_MAX 0.05
#define KB_CANARY_TOLERANCE_MIN 0.08
#define KB_CANARY_TOLERANCE_MAX 0.15
/* A clock step of the spinning probe longer than this is a gap. */
#define KB_GAP_NS 1000.0

/* What a spinning probe saw on each CPU the sweep uses, at its start. */
struct kb_idle_profile {
	bool measured;
	int ncpus;
	double probe_s;			/* per CPU, all at once */
	double window_s;		/* the sub-window: the sweep's window, or shorter */
	long gaps;			/* clock steps > KB_GAP_NS, all CPUs */
	double gap_p50_ns, gap_p99_ns, gap_max_ns;
	double lost_frac;		/* time in gaps / probe time, all CPUs */
	double window_lost_max;		/* worst fraction lost in one sub-window of one CPU */
	double canary_spread;		/* canary p90 / p50 - 1, on the probe's CPUs */
	double steal_frac;		/* /proc/stat steal over the probe / probe time; < 0: unknown */
};

/* The limits a repetition is judged by. */
struct kb_thresholds {
	double outside_max;		/* fraction of a thread's span */
	double canary_tolerance;	/* canary / reference - 1 */
	double skew_max;		/* fraction of the window */
};

/* Spin probe_s on each of cpus[0..ncpus) at once, sub-windows of window_s. */
void kb_idle_profile_measure(const int *cpus, int ncpus, double probe_s, double window_s,
			     struct kb_idle_profile *p);
/* The limits from a profile (or the bounds' defaults when not measured). */
void kb_thresholds_from_profile(const struct kb_idle_profile *p, struct kb_thresholds *th);
/* The profile and limits as a JSON object's members (no braces) into buf. */
void kb_idle_profile_json(const struct kb_idle_profile *p, const struct kb_thresholds *th, char *buf, size_t len);

/* Steal time, in ns, summed over the given CPUs (or all when ncpus is 0); -1 if unreadable. */
double kb_steal_ns(const int *cpus, int ncpus);
/* The smallest steal /proc/stat can show (one tick), as a percent of threads x window. */
double kb_steal_resolution_pct(int threads, uint64_t window_ns);

/*
 * The machine's usual speed, as the canaries show it. The reference is the
 * 10th percentile of every canary of the sweep at a thread count (threads
 * 0: the sweep's own check, one canary alone), kept in memory the round
 * processes share. Not a running median: this VM's host runs it at about
 * half speed for seconds at a time (a canary of 57 us takes 100-110 us),
 * and a median over a round spent slow made the slow speed the reference,
 * its rows clean and a whole run 14% slower than the next.
 */
#define KB_CANARY_SAMPLES 8192
#define KB_CANARY_MIN_SAMPLES 5
#define KB_CANARY_QUANTILE 0.10
struct kb_canary_ref {
	float ns[KB_CANARY_SAMPLES];	/* a ring: the newest KB_CANARY_SAMPLES */
	int threads[KB_CANARY_SAMPLES];
	int next, n;
};
void kb_canary_note(struct kb_canary_ref *ref, int threads, double canary_ns);
/* 0: fewer than KB_CANARY_MIN_SAMPLES canaries at this thread count yet. */
double kb_canary_reference(const struct kb_canary_ref *ref, int threads);

/*
 * Waiting for the machine's usual speed before an attempt: while a canary
 * on the calling thread is slower than its reference by more than the
 * tolerance, sleep KB_SETTLE_NAP_NS and look again, at most KB_SETTLE_MAX_NS
 * an attempt and budget_ns a sweep (then the attempt runs, and its own
 * canary judges it). The wait is outside every window: it costs the sweep
 * time, never a figure. The tallies are the sweep's (shared memory).
 */
#define KB_SETTLE_NAP_NS 5000000ull
#define KB_SETTLE_MAX_NS 1000000000ull
struct kb_canaries {
	struct kb_canary_ref ref;
	uint64_t settle_budget_ns, settle_ns;
	int settle_waits, settle_gave_up;
};
/* ns waited (0: the canary was within tolerance, or nothing to judge by yet). */
uint64_t kb_canary_settle(struct kb_canaries *c, double tolerance);

/*
 * The verdict on one repetition: writes "" (clean) or the reasons, "; "
 * separated, into why. steal_pct < 0: unknown (not a reason); a steal at or
 * below steal_resolution_pct, or canary_ratio < 0, is not one either.
 */
void kb_disturbance_verdict(const struct kb_window_result *r, double steal_pct, double steal_resolution_pct,
			    double canary_ratio, const struct kb_thresholds *th, char *why, size_t len);

#endif

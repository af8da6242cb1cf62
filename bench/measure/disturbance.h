/*
 * Disturbance: was a repetition measured on a machine that was doing
 * something else? Each check is one thing the guest can see, plus a canary
 * for what it cannot (another VM on the host, a frequency change):
 *
 *   task_clock      a thread got less than 95% of its window on a CPU (a
 *                   preemption by a daemon or the RCU callback thread costs
 *                   microseconds and is not one: involuntary switches are
 *                   recorded, and count only through the time they took)
 *   migrations      a thread changed CPU during the window
 *   steal           the hypervisor ran something else on the used CPUs for
 *                   more than 1% of threads x window (/proc/stat steal)
 *   skew            threads started or stopped more than 2% of the window apart
 *   canary          the fixed-cost canary timed next to the window was more
 *                   than 15% slower than its reference: the running median
 *                   of the canaries at this thread count (threads running
 *                   canaries side by side on SMT or host siblings are slower
 *                   than one alone, and that is the machine, not a disturbance)
 *
 * A repetition that trips any is written with the reasons in `disturbed`
 * and retried (--retries); summaries, plots and compare use clean ones.
 */
#ifndef KREFBENCH_BENCH_DISTURBANCE_H
#define KREFBENCH_BENCH_DISTURBANCE_H

#include <stddef.h>
#include <stdint.h>

#include "window.h"

#define KB_TASK_CLOCK_MIN 0.95
#define KB_STEAL_MAX_PCT 1.0
#define KB_SKEW_MAX 0.02
#define KB_CANARY_TOLERANCE 0.15

/* Steal time, in ns, summed over the given CPUs (or all when ncpus is 0); -1 if unreadable. */
double kb_steal_ns(const int *cpus, int ncpus);

/* The run's canary reference: a running median of every clean-looking canary. */
struct kb_canary_ref {
	double values[4096];
	int n;
};
void kb_canary_note(struct kb_canary_ref *ref, double canary_ns);
double kb_canary_reference(const struct kb_canary_ref *ref);	/* 0: none yet */

/*
 * The verdict on one repetition: writes "" (clean) or the reasons, "; "
 * separated, into why. steal_pct < 0: unknown (not a reason).
 */
void kb_disturbance_verdict(const struct kb_window_result *r, double steal_pct, double canary_ratio,
			    char *why, size_t len);

#endif

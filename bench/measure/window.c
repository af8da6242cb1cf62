#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "window.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/lib/rseq.h"
#include "clock.h"
#include "thread.h"
#include "work.h"
#include "gbench.h"
#include "perfctr.h"

static uint64_t canary_iters;

void kb_canary_calibrate(void)
{
	/* ~100 us: long enough that one interrupt moves it a few percent, short
	 * beside any window, and timed twice per thread per repetition. */
	canary_iters = kb_work_calibrate(100000);
	if (!canary_iters)
		canary_iters = 1;
}

uint64_t kb_canary_ns(void)
{
	uint64_t t0 = kb_now_ns();

	kb_work(canary_iters);
	return kb_now_ns() - t0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long thread_invol_switches(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : 0;
}

void kb_window_reset(struct kb_window *w, int threads, uint64_t length_ns)
{
	w->length_ns = length_ns;
	atomic_store(&w->pending, threads);
	atomic_store(&w->t0, 0);
	atomic_store(&w->deadline, 0);
	atomic_store(&w->stop, false);
	memset(&w->result, 0, sizeof(w->result));
}

/* Wait for the last thread's stamp; yield after a while, so that threads
 * sharing a CPU (--oversubscribe) let the one they wait for run. */
static uint64_t await_t0(struct kb_window *w)
{
	uint64_t t0;

	for (unsigned long spins = 0; !(t0 = atomic_load_explicit(&w->t0, memory_order_acquire)); spins++)
		if (spins > 4096)
			sched_yield();
	return t0;
}

/* The last thread to arrive (or give up) opens the window for all. */
static void arrive(struct kb_window *w)
{
	if (atomic_fetch_sub_explicit(&w->pending, 1, memory_order_acq_rel) == 1) {
		uint64_t t0 = kb_now_ns();

		atomic_store_explicit(&w->deadline, t0 + w->length_ns, memory_order_relaxed);
		atomic_store_explicit(&w->t0, t0, memory_order_release);
	}
}

void kb_window_abandon(struct kb_window *w) { arrive(w); }

void kb_window_enter(struct gb_state *st, struct kb_window *w, struct kb_thread *me)
{
	me->st = st;
	me->win = w;
	me->ops = 0;
	me->window_closed = false;
	me->canary_ns[0] = kb_canary_ns();
	gb_start(st);
	arrive(w);
	await_t0(w);
	me->deadline = atomic_load_explicit(&w->deadline, memory_order_relaxed);
	me->cpu_ns = thread_cpu_ns();
	me->invol_switches = thread_invol_switches();
	me->rseq_restarts = kb_rseq_thread_restarts();
	me->cpu_at_start = sched_getcpu();
	if (me->perf)
		kb_perf_start(me->perf);
	me->t_start_ns = kb_now_ns();
}

void kb_window_close(struct kb_thread *me, uint64_t now)
{
	me->t_end_ns = now;
	atomic_store_explicit(&me->win->stop, true, memory_order_relaxed);
	if (me->perf)
		kb_perf_stop(me->perf);
	me->cpu_ns = thread_cpu_ns() - me->cpu_ns;
	me->invol_switches = thread_invol_switches() - me->invol_switches;
	me->rseq_restarts = kb_rseq_thread_restarts() - me->rseq_restarts;
	me->migrated = sched_getcpu() != me->cpu_at_start;
	me->canary_ns[1] = kb_canary_ns();
	me->window_closed = true;
	gb_stop(me->st);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

void kb_window_summarise(struct kb_window *w, const struct kb_thread *thr, int threads)
{
	struct kb_window_result *r = &w->result;
	uint64_t t0 = atomic_load(&w->t0), first_end = UINT64_MAX, last_end = 0, last_start = 0;
	uint64_t most = 0, fewest = UINT64_MAX, *canaries = calloc((size_t)threads * 2, sizeof(uint64_t));
	double min_ratio = 1e9;

	r->valid = t0 != 0;
	for (int t = 0; t < threads; t++) {
		const struct kb_thread *me = &thr[t];
		uint64_t span = me->t_end_ns - me->t_start_ns;

		if (!me->window_closed) {
			r->valid = false;
			continue;
		}
		r->ops += me->ops;
		most = me->ops > most ? me->ops : most;
		fewest = me->ops < fewest ? me->ops : fewest;
		last_start = me->t_start_ns > last_start ? me->t_start_ns : last_start;
		first_end = me->t_end_ns < first_end ? me->t_end_ns : first_end;
		last_end = me->t_end_ns > last_end ? me->t_end_ns : last_end;
		if (span > 0 && (double)me->cpu_ns / (double)span < min_ratio)
			min_ratio = (double)me->cpu_ns / (double)span;
		r->cpu_s += (double)me->cpu_ns / 1e9;
		r->invol_switches += me->invol_switches;
		r->migrations += me->migrated;
		r->rseq_restarts += (double)me->rseq_restarts;
		if (canaries) {
			canaries[2 * t] = me->canary_ns[0];
			canaries[2 * t + 1] = me->canary_ns[1];
		}
	}
	if (!r->valid) {
		free(canaries);
		return;
	}
	r->window_ns = last_end - t0;
	r->start_skew_ns = last_start - t0;
	r->stop_skew_ns = last_end - first_end;
	r->fairness = most ? (double)fewest / (double)most : 0;
	r->task_clock_ratio = min_ratio > 1 ? 1 : min_ratio;
	if (canaries) {
		size_t n = (size_t)threads * 2;

		qsort(canaries, n, sizeof(uint64_t), cmp_u64);
		r->canary_ns = n % 2 ? (double)canaries[n / 2] : (double)(canaries[n / 2 - 1] + canaries[n / 2]) / 2;
		free(canaries);
	}
}

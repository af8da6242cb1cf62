#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "window.h"

#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

static void thread_switches(long *vol, long *invol)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) == 0) {
		*vol = ru.ru_nvcsw;
		*invol = ru.ru_nivcsw;
	} else {
		*vol = *invol = 0;
	}
}

static uint64_t process_cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* schedstat: "<ns on CPU> <ns runnable, waiting for a CPU> <timeslices>"
 * (CONFIG_SCHED_INFO); -1 when unreadable. */
static int64_t run_delay_ns(int fd)
{
	char buf[128];
	unsigned long long on_cpu, waited;
	ssize_t n;

	if (fd < 0 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%llu %llu", &on_cpu, &waited) != 2)
		return -1;
	return (int64_t)waited;
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
	/* opened before the start: reading an open one costs a pread */
	me->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	gb_start(st);
	arrive(w);
	await_t0(w);
	me->deadline = atomic_load_explicit(&w->deadline, memory_order_relaxed);
	me->cpu_ns = thread_cpu_ns();
	thread_switches(&me->vol_switches, &me->invol_switches);
	me->run_delay_ns = run_delay_ns(me->schedstat_fd);
	me->proc_cpu_ns[0] = process_cpu_ns();
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
	{
		long vol, invol;
		int64_t delay = run_delay_ns(me->schedstat_fd);

		thread_switches(&vol, &invol);
		me->vol_switches = vol - me->vol_switches;
		me->invol_switches = invol - me->invol_switches;
		me->run_delay_ns = delay >= 0 && me->run_delay_ns >= 0 ? delay - me->run_delay_ns : -1;
	}
	me->proc_cpu_ns[1] = process_cpu_ns();
	if (me->schedstat_fd > 2)	/* 0-2 stay open (main.c): never ours */
		close(me->schedstat_fd);
	me->schedstat_fd = -1;
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
	uint64_t proc_first = UINT64_MAX, proc_last = 0;
	double min_ratio = 1e9, spans = 0, delay = 0;
	bool delay_known = true;

	r->valid = t0 != 0;
	r->own = w->own;
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
		spans += (double)span;
		r->invol_switches += me->invol_switches;
		r->vol_switches += me->vol_switches;
		if (me->run_delay_ns < 0)
			delay_known = false;
		delay += (double)me->run_delay_ns;
		proc_first = me->proc_cpu_ns[0] < proc_first ? me->proc_cpu_ns[0] : proc_first;
		proc_last = me->proc_cpu_ns[1] > proc_last ? me->proc_cpu_ns[1] : proc_last;
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
	r->cpu_busy = spans > 0 ? fmin(1, r->cpu_s * 1e9 / spans) : 0;
	r->run_delay_s = delay_known ? delay / 1e9 : -1;
	r->helper_cpu_s = proc_last > proc_first ? fmax(0, (double)(proc_last - proc_first) / 1e9 - r->cpu_s) : 0;
	r->outside_frac = kb_window_outside(w, thr, threads);
	if (canaries) {
		/* the fastest sample: a gap (an interrupt, a tick) lengthens one,
		 * a slower machine (frequency, a busy host sibling) every one */
		qsort(canaries, (size_t)threads * 2, sizeof(uint64_t), cmp_u64);
		r->canary_ns = (double)canaries[0];
		free(canaries);
	}
}

/*
 * The time each thread lost to something outside the row, over its span:
 *   waiting for a CPU (schedstat's run delay): another process, or a
 *     thread of the row's own (KB_OWN_HELPERS: up to the CPU time the
 *     process's other threads took meanwhile, which is not counted);
 *   off its CPU neither running nor waiting: steal (the kernel keeps the
 *     hypervisor's time out of the thread's CPU time), or sleep, which is
 *     the workload's own cost when it declares KB_OWN_BLOCKING and the
 *     thread did sleep (voluntary switches); without schedstat, all time off
 *     the CPU but that.
 * The worst thread's fraction.
 */
double kb_window_outside(const struct kb_window *w, const struct kb_thread *thr, int threads)
{
	const struct kb_window_result *r = &w->result;
	double worst = 0, allowance = w->own & KB_OWN_HELPERS ? r->helper_cpu_s * 1e9 : 0;

	for (int t = 0; t < threads; t++) {
		const struct kb_thread *me = &thr[t];
		double span = (double)(me->t_end_ns - me->t_start_ns), off, outside;
		bool slept_own = (w->own & KB_OWN_BLOCKING) && me->vol_switches > 0;

		if (!me->window_closed || span <= 0)
			continue;
		off = fmax(0, span - (double)me->cpu_ns);
		if (me->run_delay_ns >= 0)
			outside = (double)me->run_delay_ns + (slept_own ? 0 : fmax(0, off - (double)me->run_delay_ns));
		else
			outside = slept_own ? 0 : off;
		outside = fmax(0, outside - allowance) / span;
		worst = outside > worst ? outside : worst;
	}
	return worst;
}

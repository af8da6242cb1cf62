/*
 * Floors (backend `floor`): what the hardware itself costs, measured in the
 * same run with the same placement, so every figure has a yardstick.
 *   local        a non-atomic inc/dec pair on the thread's own line
 *   uncontended  an atomic fetch_add/fetch_sub pair on the thread's own line
 *   shared       the same pair on one line for all threads
 *   pingpong     a line bounced by CAS between threads 0 and 1; an op is one
 *                one-way transfer, and transfers happen one at a time, so
 *                ns_per_op is window / transfers (a serial window)
 */
#include "floors.h"

#include "thread_perf.h"
#include "workloads/loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool kb_simple_prologue(struct gb_state *st, struct kb_simple_run *run, struct kb_thread **me)
{
	int t = gb_thread_index(st);
	char err[200];

	*me = &run->thr[t];
	if (run->setup_error[0]) {
		gb_skip_with_error(st, run->setup_error);
		kb_window_abandon(&run->win);
		return false;
	}
	(*me)->cpu = kb_place_bind_self(run->topo, run->cpus[t], err, sizeof(err));
	if ((*me)->cpu < 0) {
		gb_skip_with_error(st, err);
		kb_barrier_leave(&run->barrier);
		kb_window_abandon(&run->win);
		return false;
	}
	kb_thread_perf_open(*me);
	return true;
}

void kb_simple_epilogue(struct gb_state *st, struct kb_simple_run *run, struct kb_thread *me)
{
	char name[32];

	kb_thread_perf_finish(st, me);	/* right after the loop */
	snprintf(name, sizeof(name), "cpu.%d", gb_thread_index(st));
	gb_counter_set(st, name, me->cpu);
	kb_barrier_wait(&run->barrier);
	if (gb_thread_index(st) != 0)
		return;
	kb_window_summarise(&run->win, run->thr, run->threads);
	gb_counter_set(st, "check", 0);
}

static void local_body(struct gb_state *st, void *vrun)
{
	struct kb_simple_run *run = vrun;
	struct kb_thread *me;

	if (!kb_simple_prologue(st, run, &me))
		return;
	volatile long *v = (volatile long *)&run->own[gb_thread_index(st)].v;
	for KB_WINDOW_LOOP(st, &run->win, me) {
		for (int i = 0; i < KB_BATCH; i++) {
			*v = *v + 1;
			*v = *v - 1;
		}
	}
	kb_simple_epilogue(st, run, me);
}

static void atomic_pair_loop(struct gb_state *st, struct kb_simple_run *run, struct kb_thread *me,
			     atomic_long *v)
{
	for KB_WINDOW_LOOP(st, &run->win, me) {
		for (int i = 0; i < KB_BATCH; i++) {
			atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
			atomic_fetch_sub_explicit(v, 1, memory_order_release);
		}
	}
}

static void uncontended_body(struct gb_state *st, void *vrun)
{
	struct kb_simple_run *run = vrun;
	struct kb_thread *me;

	if (!kb_simple_prologue(st, run, &me))
		return;
	atomic_pair_loop(st, run, me, &run->own[gb_thread_index(st)].v);
	kb_simple_epilogue(st, run, me);
}

static void shared_body(struct gb_state *st, void *vrun)
{
	struct kb_simple_run *run = vrun;
	struct kb_thread *me;

	if (!kb_simple_prologue(st, run, &me))
		return;
	atomic_pair_loop(st, run, me, &run->shared.v);
	kb_simple_epilogue(st, run, me);
}

/*
 * Thread 0 moves even->odd, thread 1 odd->even: each successful CAS is one
 * transfer, counted exactly. A thread waiting for its turn also watches the
 * stop flag: its partner may have left the window.
 */
static void pingpong_body(struct gb_state *st, void *vrun)
{
	struct kb_simple_run *run = vrun;
	struct kb_thread *me;
	const long parity = gb_thread_index(st) & 1;
	atomic_long *v = &run->shared.v;
	uint64_t transfers = 0;

	if (!kb_simple_prologue(st, run, &me))
		return;
	if (gb_thread_index(st) == 0)
		run->win.result.serial = true;
	kb_window_enter(st, &run->win, me);
	for (;;) {
		if (!kb_window_running(me))
			break;
		for (int i = 0; i < KB_BATCH; i++) {
			long seen;

			while (((seen = atomic_load_explicit(v, memory_order_acquire)) & 1) != parity)
				if (atomic_load_explicit(&run->win.stop, memory_order_relaxed))
					goto out;
			atomic_compare_exchange_strong_explicit(v, &seen, seen + 1,
					memory_order_acq_rel, memory_order_relaxed);
			transfers++;
		}
	}
out:
	if (!me->window_closed)
		kb_window_close(me, kb_now_ns());
	me->ops = transfers;
	kb_simple_epilogue(st, run, me);
}

const struct kb_floor kb_floors[] = {
	{ "local", local_body, 0 },
	{ "uncontended", uncontended_body, 0 },
	{ "shared", shared_body, 0 },
	{ "pingpong", pingpong_body, 2 },
};
const int kb_nfloors = sizeof(kb_floors) / sizeof(kb_floors[0]);

void kb_simple_setup(int threads, void *vrun)
{
	struct kb_simple_run *run = vrun;

	run->threads = threads;
	run->setup_error[0] = 0;
	run->own = aligned_alloc(sizeof(struct kb_line), sizeof(struct kb_line) * (size_t)threads);
	run->thr = aligned_alloc(sizeof(struct kb_thread), sizeof(struct kb_thread) * (size_t)threads);
	if (!run->own || !run->thr) {
		snprintf(run->setup_error, sizeof(run->setup_error), "out of memory");
		return;
	}
	memset(run->own, 0, sizeof(struct kb_line) * (size_t)threads);
	memset(run->thr, 0, sizeof(struct kb_thread) * (size_t)threads);
	atomic_init(&run->shared.v, 0);
	kb_barrier_init(&run->barrier, threads);
}

void kb_simple_teardown(int threads, void *vrun)
{
	struct kb_simple_run *run = vrun;

	for (int t = 0; run->own && run->thr && t < threads; t++)	/* left open by a thread */
		kb_thread_perf_discard(&run->thr[t]);
	if (run->own && run->thr)
		kb_barrier_destroy(&run->barrier);
	free(run->own);
	free(run->thr);
	run->own = NULL;
	run->thr = NULL;
}

void *kb_simple_run_new(const struct kb_topo *topo, const int *cpus)
{
	struct kb_simple_run *run = aligned_alloc(_Alignof(struct kb_simple_run),
					      (sizeof(struct kb_simple_run) + _Alignof(struct kb_simple_run) - 1) /
					      _Alignof(struct kb_simple_run) * _Alignof(struct kb_simple_run));

	if (!run)
		return NULL;
	memset(run, 0, sizeof(*run));
	run->topo = topo;
	run->cpus = cpus;
	return run;
}

void kb_simple_fill_spec(struct gb_spec *spec, void (*body)(struct gb_state *, void *), void *run)
{
	spec->body = body;
	spec->setup = kb_simple_setup;
	spec->teardown = kb_simple_teardown;
	spec->ctx = run;
}

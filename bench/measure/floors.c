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

#include "workloads/loop.h"

/* Line i of a floor's run: the object's storage, zeroed by the setup. */
static atomic_long *line(struct kb_run *run, int i) { return (atomic_long *)kb_obj_ref(run, i); }

static void local_body(struct gb_state *st, void *vrun)
{
	struct kb_run *run = vrun;
	struct kb_thread *me;

	if (!kb_thread_prologue(st, run, &me))
		return;
	volatile long *v = (volatile long *)line(run, gb_thread_index(st));
	for KB_WINDOW_LOOP(st, &run->win, me) {
		for (int i = 0; i < KB_BATCH; i++) {
			*v = *v + 1;
			*v = *v - 1;
		}
	}
	kb_thread_epilogue(st, run, me);
}

static void atomic_pair_loop(struct gb_state *st, struct kb_run *run, struct kb_thread *me,
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
	struct kb_run *run = vrun;
	struct kb_thread *me;

	if (!kb_thread_prologue(st, run, &me))
		return;
	atomic_pair_loop(st, run, me, line(run, gb_thread_index(st)));
	kb_thread_epilogue(st, run, me);
}

static void shared_body(struct gb_state *st, void *vrun)
{
	struct kb_run *run = vrun;
	struct kb_thread *me;

	if (!kb_thread_prologue(st, run, &me))
		return;
	atomic_pair_loop(st, run, me, line(run, 0));
	kb_thread_epilogue(st, run, me);
}

/*
 * Thread 0 moves even->odd, thread 1 odd->even: each successful CAS is one
 * transfer, counted exactly. A thread waiting for its turn also watches the
 * stop flag: its partner may have left the window.
 */
static void pingpong_body(struct gb_state *st, void *vrun)
{
	struct kb_run *run = vrun;
	struct kb_thread *me;
	const long parity = gb_thread_index(st) & 1;
	atomic_long *v = line(run, 0);
	uint64_t transfers = 0;

	if (!kb_thread_prologue(st, run, &me))
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
	kb_thread_epilogue(st, run, me);
}

const struct kb_floor kb_floors[] = {
	{ "local", local_body, kb_object_per_thread, 0 },
	{ "uncontended", uncontended_body, kb_object_per_thread, 0 },
	{ "shared", shared_body, kb_one_object, 0 },
	{ "pingpong", pingpong_body, kb_one_object, 2 },
};
const int kb_nfloors = sizeof(kb_floors) / sizeof(kb_floors[0]);

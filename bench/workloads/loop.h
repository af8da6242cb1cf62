/*
 * The timed loop every body runs: batches of KB_BATCH operations inside
 * the common window (measure/window.h), and the get/put body hammer and
 * private share.
 */
#ifndef KREFBENCH_BENCH_LOOP_H
#define KREFBENCH_BENCH_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/lib/compiler.h"
#include "gbench.h"
#include "measure/clock.h"
#include "measure/thread.h"
#include "measure/window.h"
#include "measure/work.h"
#include "run.h"

/* Iterations between two looks at the clock and the library. */
#define KB_BATCH 1024

/*
 * The timed loop's condition, once per batch of KB_BATCH operations: one
 * clock read and one read of a line nobody writes until the window ends.
 */
static inline bool kb_window_running(struct kb_thread *me)
{
	uint64_t now = kb_now_ns();

	me->batch_start_ns = now;	/* the next batch's start (latency sampling) */
	if (kb_likely(now < me->deadline && !atomic_load_explicit(&me->win->stop, memory_order_relaxed)))
		return true;
	kb_window_close(me, now);
	return false;
}

/*
 * The timed loop of every body: `for KB_WINDOW_LOOP(st, win, me) { KB_BATCH
 * operations }`. Each completed batch counts; after the first (which every
 * thread runs, so none reports zero operations however late the scheduler
 * let it start) the thread leaves at the first batch boundary past the
 * deadline or after another thread has left.
 */
#define KB_WINDOW_LOOP(st, win, me) \
	(kb_window_enter((st), (win), (me)); !(me)->window_closed; (me)->ops += KB_BATCH, kb_window_running(me))

/*
 * A put in a timed loop, where the object keeps its initial reference: a
 * release here is a bug, counted for the self-check.
 */
#define KB_PUT(B, obj, me)							\
	do {									\
		if (kb_unlikely(kref_##B##_put((obj), kb_release_##B)))	\
			(me)->unexpected_releases++;				\
	} while (0)

/* One operation of the get/put workloads: get, the calibrated work, put. */
#define KB_GET_WORK_PUT(B, obj, work, me)					\
	do {									\
		kref_##B##_get(obj);						\
		kb_work(work);							\
		KB_PUT(B, obj, me);						\
	} while (0)

/*
 * The get/put loop on one object per thread, chosen by OBJ (an expression
 * of run and st): hammer and private are this loop on different objects
 * (readside's refcount rows run hammer's). Prefix `static` for a body that
 * is private to its file.
 */
#define KB_DEFINE_GETPUT_BODY(NAME, B, OBJ)					\
void NAME##_##B(struct gb_state *st, void *vrun)				\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	struct kref_##B *obj = kb_obj_ref(run, (OBJ));				\
	for KB_WINDOW_LOOP(st, &run->win, me) {					\
		for (int i = 0; i < KB_BATCH; i++)				\
			KB_GET_WORK_PUT(B, obj, work, me);			\
	}									\
	kb_thread_epilogue(st, run, me);					\
}

#endif

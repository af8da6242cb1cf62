/*
 * handoff: kref.rst's rule 1 across threads. Each thread takes a reference
 * on its own object *before* handing the pointer to the next thread through
 * a single-producer/single-consumer ring; the receiver works on it and puts
 * it there. So every get and its put run on different CPUs. An op is one get
 * (here) plus one put (there).
 *
 * A full ring is never waited on — the library's end barrier would deadlock a
 * thread spinning on a neighbour that has finished — the giver then drops its
 * own reference and counts it ("local_puts" counter). Rings are drained after
 * the timed loop, before the self-check.
 */
#include "loop.h"

#include <stdlib.h>

#define RING_SIZE 256	/* power of two */

struct ring {
	atomic_uint_fast64_t head kb_cacheline_aligned;	/* consumer */
	atomic_uint_fast64_t tail kb_cacheline_aligned;	/* producer */
	void *slot[RING_SIZE] kb_cacheline_aligned;
};

static bool ring_push(struct ring *r, void *p)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	if (tail - atomic_load_explicit(&r->head, memory_order_acquire) == RING_SIZE)
		return false;
	r->slot[tail % RING_SIZE] = p;
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return true;
}

static void *ring_pop(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	void *p;

	if (head == atomic_load_explicit(&r->tail, memory_order_acquire))
		return NULL;
	p = r->slot[head % RING_SIZE];
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return p;
}

static int handoff_setup(struct kb_run *run)
{
	struct ring *rings = aligned_alloc(_Alignof(struct ring), sizeof(struct ring) * (size_t)run->threads);

	if (!rings)
		return -1;
	for (int t = 0; t < run->threads; t++) {
		atomic_init(&rings[t].head, 0);
		atomic_init(&rings[t].tail, 0);
	}
	run->wctx = rings;
	return 0;
}

static void handoff_teardown(struct kb_run *run)
{
	free(run->wctx);
	run->wctx = NULL;
}

#define HANDOFF(B)								\
KB_DEFINE_RELEASE(B)								\
static void handoff_drain_##B(struct ring *in, struct kb_thread *me)		\
{										\
	struct kref_##B *got;							\
										\
	while ((got = ring_pop(in)) != NULL)					\
		KB_PUT(B, got, me);						\
}										\
static void handoff_##B(struct gb_state *st, void *vrun)			\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
	const int t = gb_thread_index(st);					\
	struct ring *rings = run->wctx;						\
	struct ring *in = &rings[t], *out = &rings[(t + 1) % run->threads];	\
	struct kref_##B *own = kb_obj_ref(run, t), *got;			\
	const uint64_t work = run->work_iters;					\
	uint64_t local_puts = 0;						\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	for KB_WINDOW_LOOP(st, &run->win, me) {			\
		for (int i = 0; i < KB_BATCH; i++) {				\
			kref_##B##_get(own);	/* before the hand-off */	\
			if (kb_unlikely(!ring_push(out, own))) {		\
				local_puts++;					\
				KB_PUT(B, own, me);				\
			}							\
			if ((got = ring_pop(in)) != NULL) {			\
				kb_work(work);					\
				KB_PUT(B, got, me);				\
			}							\
		}								\
	}									\
	kb_run_barrier(run);	/* every push is done */			\
	handoff_drain_##B(in, me);						\
	gb_counter_set(st, "local_puts", (double)local_puts);			\
	kb_thread_epilogue(st, run, me);					\
}

KB_FOR_EACH_BACKEND(HANDOFF)

#define BODY(B) [KB_BACKEND_INDEX_##B] = handoff_##B,
const struct kb_workload kb_workload_handoff = {
	.name = "handoff",
	.about = "kref.rst: get before handing to the next thread, put there",
	.op = "get+put",
	.objects = kb_object_per_thread,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
	.setup = handoff_setup,
	.teardown = handoff_teardown,
};

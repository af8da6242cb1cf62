/* spread: threads pick among K shared objects at random — the contention knob.
 * The pick (xorshift + multiply-shift) is part of each operation. */
#include "loop.h"
#include "rng.h"

static int spread_objects(int threads, int knob)
{
	(void)threads;
	return knob > 0 ? knob : 16;
}

#define SPREAD(B)								\
KB_DEFINE_RELEASE(B)								\
static void spread_##B(struct gb_state *st, void *vrun)			\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
	const uint64_t k = (uint64_t)run->objects;				\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	uint64_t rng = me->rng;							\
	for KB_WINDOW_LOOP(st, &run->win, me) {			\
		for (int i = 0; i < KB_BATCH; i++) {				\
			struct kref_##B *obj = kb_obj_ref(run, (int)kb_pick(&rng, k)); \
			KB_GET_WORK_PUT(B, obj, work, me);			\
		}								\
	}									\
	me->rng = rng;								\
	kb_thread_epilogue(st, run, me);					\
}

KB_FOR_EACH_BACKEND(SPREAD)

#define BODY(B) [KB_BACKEND_INDEX_##B] = spread_##B,
const struct kb_workload kb_workload_spread = {
	.name = "spread",
	.about = "threads pick among --objects K shared objects at random",
	.op = "get+put",
	.objects = spread_objects,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
};

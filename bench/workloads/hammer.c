/*
 * hammer: every thread gets and puts one shared object — the worst case.
 *
 * Tail latency: in a sampled batch (at most one per KB_LAT_PERIOD_NS), one
 * get+put pair in every KB_LAT_STRIDE (256) is timed on its own, between two
 * clock reads, into a per-thread histogram merged after the loop
 * (bench/measure/latency.h). Every other pair runs the very loop of an unsampled
 * run; --no-latency times none (the overhead, measured).
 * A sample includes one clock read: the `null` row's lat_p50_ns is that cost.
 */
#include "hammer.h"
#include "loop.h"
#include "measure/latency.h"

#include <string.h>

/* Not static: readside's refcount rows run these same bodies. */
#define HAMMER(B)								\
KB_DEFINE_RELEASE(B)								\
void kb_hammer_##B(struct gb_state *st, void *vrun)				\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
	const bool sampling = kb_lat_sampling;					\
	uint64_t last_sampled = 0;						\
	static __thread struct kb_lat_hist lat;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	memset(&lat, 0, sizeof(lat));						\
	struct kref_##B *obj = kb_obj_ref(run, 0);				\
	for KB_WINDOW_LOOP(st, &run->win, me) {					\
		const bool sample = kb_lat_sample_batch(sampling, me->batch_start_ns, &last_sampled); \
		for (int j = 0; j < KB_BATCH; j += KB_LAT_STRIDE) {		\
			if (sample) {						\
				uint64_t t0 = kb_now_ns();			\
				KB_GET_WORK_PUT(B, obj, work, me);		\
				kb_lat_add(&lat, kb_now_ns() - t0);		\
			} else {						\
				KB_GET_WORK_PUT(B, obj, work, me);		\
			}							\
			for (int i = 1; i < KB_LAT_STRIDE; i++)			\
				KB_GET_WORK_PUT(B, obj, work, me);		\
		}								\
	}									\
	kb_beside_add_latency(&lat);						\
	kb_thread_epilogue(st, run, me);					\
}
KB_FOR_EACH_BACKEND(HAMMER)

#define BODY(B) [KB_BACKEND_INDEX_##B] = kb_hammer_##B,
const struct kb_workload kb_workload_hammer = {
	.name = "hammer",
	.about = "all threads get/put one shared object",
	.op = "get+put",
	.objects = kb_one_object,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
};

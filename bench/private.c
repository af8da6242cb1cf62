/* private: each thread gets and puts its own object — no sharing, the best case. */
#include "harness.h"

static int private_objects(int threads, int knob)
{
	(void)knob;
	return threads;
}

#define PRIVATE(B)								\
KB_DEFINE_RELEASE(B)								\
static void private_##B(struct gb_state *st, void *vrun)			\
{										\
	struct kb_run *run = vrun;						\
	struct kb_thread *me;							\
	struct kref_##B *obj = kb_obj_ref(run, gb_thread_index(st));		\
	const uint64_t work = run->work_iters;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	while (gb_keep_running_batch(st, KB_BATCH)) {				\
		kb_batch_begin(me);						\
		for (int i = 0; i < KB_BATCH; i++) {				\
			kref_##B##_get(obj);					\
			kb_work(work);						\
			if (kb_unlikely(kref_##B##_put(obj, kb_release_##B)))	\
				me->unexpected_releases++;			\
		}								\
		kb_batch_end(me);						\
	}									\
	kb_thread_epilogue(st, run, me);					\
}

KB_FOR_EACH_BACKEND(PRIVATE)

#define BODY(B) [KB_BACKEND_INDEX_##B] = private_##B,
const struct kb_workload kb_workload_private = {
	.name = "private",
	.about = "each thread gets/puts its own object",
	.objects = private_objects,
	.body = { KB_FOR_EACH_BACKEND(BODY) },
};

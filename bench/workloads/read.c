/*
 * read: kref_read on one object while the other threads get and put it.
 * Thread 0 reads; threads 1..T-1 are hammer's writers on the same object.
 * Two rows per thread count (the CSV's variant):
 *
 *   reader   ns per kref_read (only thread 0's operations count), beside
 *            T-1 writers; alone at 1 thread
 *   writers  ns per get+put pair of the writers (only theirs count) with a
 *            reader beside them: against hammer at T-1 threads, what the
 *            reads cost the writers (n/a at 1 thread)
 *
 * percpu's read sums every CPU's slot of the object, so its cost grows
 * with the CPUs of the machine: bench/analysis/decide.py reports it per CPU and
 * projects it, as a projection, to 64 and 256 CPUs.
 */
#include "loop.h"
#include "measure/latency.h"
#include "lifecycle.h"

#define READ_BODY(B)								\
KB_DEFINE_RELEASE(B)								\
static void read_##B##_role(struct gb_state *st, struct kb_run *run, bool count_reader) \
{										\
	struct kb_thread *me;							\
	const uint64_t work = run->work_iters;					\
										\
	if (!kb_thread_prologue(st, run, &me))					\
		return;								\
	struct kref_##B *obj = kb_obj_ref(run, 0);				\
	const bool reader = gb_thread_index(st) == 0;				\
	if (reader) {								\
		for KB_WINDOW_LOOP(st, &run->win, me)				\
			for (int i = 0; i < KB_BATCH; i++)			\
				kb_blackhole(kref_##B##_read(obj));		\
	} else {								\
		for KB_WINDOW_LOOP(st, &run->win, me)				\
			for (int i = 0; i < KB_BATCH; i++)			\
				KB_GET_WORK_PUT(B, obj, work, me);		\
	}									\
	if (reader != count_reader)						\
		me->ops = 0;	/* the other role's operations are not the figure */ \
	kb_thread_epilogue(st, run, me);					\
}										\
static void read_##B##_reader(struct gb_state *st, void *run)			\
{										\
	kb_beside_set_counted_threads(1);					\
	read_##B##_role(st, run, true);						\
}										\
static void read_##B##_writers(struct gb_state *st, void *vrun)		\
{										\
	struct kb_run *run = vrun;						\
										\
	kb_beside_set_counted_threads(run->threads - 1);			\
	read_##B##_role(st, run, false);					\
}
KB_FOR_EACH_BACKEND(READ_BODY)

static const char *const read_variants[] = { "reader", "writers", NULL };

/* The writers row needs a writer beside the reader. */
static bool read_applies(const struct kb_backend *b, int threads, int variant)
{
	(void)b;
	return variant != KB_READ_WRITERS || threads >= 2;
}

#define BODIES(B) [KB_BACKEND_INDEX_##B] = { read_##B##_reader, read_##B##_writers },
const struct kb_workload kb_workload_read = {
	.name = "read",
	.about = "kref_read beside writers on the same object (variant reader | writers)",
	.op = "kref_read (variant reader) or get+put (variant writers)",
	.objects = kb_one_object,
	.body2 = { KB_FOR_EACH_BACKEND(BODIES) },
	.variants = read_variants,
	.applies = read_applies,
};

/* SNZI's slow paths: storage, the put that departs away from its own CPU,
 * the read. */
#include "core/backends/snzi.h"

#include <errno.h>
#include <sched.h>

int kref_snzi_init(struct kref_snzi *r)
{
	r->arena = kb_percpu_default_arena();
	if (!r->arena || kb_percpu_slots_take(r->arena, &r->leaves, &r->stride, &r->ncpus))
		return -ENOMEM;
	atomic_init(&r->root, SNZI_DIRECT);	/* the initial reference */
	return 0;
}

/*
 * A reference being dropped is counted somewhere: at a leaf or in the
 * root's direct half. Other puts may take the one we see first, but never
 * more units than there are puts, so the scan finds one; it repeats only
 * while concurrent puts keep winning.
 */
int kb_snzi_depart_elsewhere(struct kref_snzi *r, unsigned int mine)
{
	for (unsigned int round = 0;; round++) {
		long s;
		bool last = false;

		for (unsigned int i = 1; i <= r->ncpus; i++) {
			unsigned int cpu = (mine + i) % r->ncpus;

			if (kb_snzi_depart(r, kb_snzi_leaf(r, cpu), &last))
				return last;
		}
		s = atomic_load_explicit(&r->root, memory_order_relaxed);
		while (s >= SNZI_DIRECT)
			if (atomic_compare_exchange_weak_explicit(&r->root, &s, s - SNZI_DIRECT,
					memory_order_acq_rel, memory_order_relaxed))
				return s == SNZI_DIRECT;
		if (round % 64 == 63)
			sched_yield();
	}
}

long kref_snzi_read(const struct kref_snzi *r)
{
	long n = atomic_load_explicit(&r->root, memory_order_relaxed) >> 32;

	if (!r->leaves)
		return n;
	for (unsigned int cpu = 0; cpu < r->ncpus; cpu++)
		n += atomic_load_explicit(kb_snzi_leaf(r, cpu), memory_order_relaxed);
	return n;
}

void kref_snzi_destroy(struct kref_snzi *r)
{
	if (r->arena && r->leaves)
		kb_percpu_slots_give_back(r->arena, r->leaves);
	r->leaves = NULL;
}

size_t kref_snzi_bytes_at(unsigned int ncpus)
{
	return (size_t)ncpus * sizeof(atomic_long) + sizeof(struct kref_snzi);
}

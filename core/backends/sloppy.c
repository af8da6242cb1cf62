/* Sloppy counters' slow paths: storage, reconciling, the exact read. */
#include "core/backends/sloppy.h"

#include <errno.h>

static atomic_long *slot_of(const struct kref_sloppy *r, unsigned int cpu)
{
	return (atomic_long *)((char *)r->spares + (size_t)cpu * r->stride);
}

int kref_sloppy_init(struct kref_sloppy *r)
{
	r->arena = kb_percpu_default_arena();
	if (!r->arena || kb_percpu_slots_take(r->arena, &r->spares, &r->stride, &r->ncpus))
		return -ENOMEM;
	atomic_init(&r->central, 1);
	return 0;
}

int kref_sloppy_init_reconciled(struct kref_sloppy *r)
{
	int err = kref_sloppy_init(r);

	if (!err)
		for (unsigned int cpu = 0; cpu < r->ncpus; cpu++)
			atomic_store_explicit(slot_of(r, cpu), SLOPPY_DEAD, memory_order_relaxed);
	return err;
}

/*
 * Takes every CPU's spares back, leaving DEAD so that later operations on
 * that CPU use the central count. Each exchange is atomic against that
 * CPU's CASes: a spare given before it is taken back, one given after goes
 * to the centre. The initial reference is still counted, so the central
 * count stays above zero here.
 */
void kref_sloppy_reconcile(struct kref_sloppy *r)
{
	long taken = 0;

	for (unsigned int cpu = 0; cpu < r->ncpus; cpu++) {
		long s = atomic_exchange_explicit(slot_of(r, cpu), SLOPPY_DEAD, memory_order_acq_rel);

		if (s != SLOPPY_DEAD)
			taken += s;
	}
	if (taken)
		atomic_fetch_sub_explicit(&r->central, taken, memory_order_acq_rel);
}

/* References in use: the central count less the spares; exact when quiet. */
long kref_sloppy_read(const struct kref_sloppy *r)
{
	long n = atomic_load_explicit(&r->central, memory_order_relaxed);

	for (unsigned int cpu = 0; cpu < r->ncpus; cpu++) {
		long s = atomic_load_explicit(slot_of(r, cpu), memory_order_relaxed);

		if (s != SLOPPY_DEAD)
			n -= s;
	}
	return n;
}

void kref_sloppy_destroy(struct kref_sloppy *r)
{
	if (r->arena && r->spares)
		kb_percpu_slots_give_back(r->arena, r->spares);
	r->spares = NULL;
}

size_t kref_sloppy_bytes_at(unsigned int ncpus)
{
	return (size_t)ncpus * sizeof(atomic_long) + sizeof(struct kref_sloppy);
}

/* Hazard pointers: the domain, retire and scan (core/lib/hazptr.h says why). */
#include "core/lib/hazptr.h"

#include <errno.h>
#include <stdio.h>
#include <linux/membarrier.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(KREFBENCH_TSAN)
static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}
#endif

/* The asymmetric fence needs the private expedited command, registered. */
static bool membarrier_ready(void)
{
#if defined(KREFBENCH_TSAN)
	return false;	/* tsan cannot see it: seq_cst on both sides instead */
#else
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return false;
	return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#endif
}

int kb_hp_domain_init(struct kb_hp_domain *d, int nslots)
{
	size_t bytes = (size_t)(nslots > 0 ? nslots : 1) * sizeof(struct kb_hp_slot);

	d->slots = aligned_alloc(_Alignof(struct kb_hp_slot), bytes);
	if (!d->slots)
		return -1;
	for (int i = 0; i < nslots; i++)
		atomic_init(&d->slots[i].ptr, NULL);
	d->nslots = nslots;
	d->asymmetric = membarrier_ready();
	pthread_mutex_init(&d->lock, NULL);
	d->retired = NULL;
	d->nretired = 0;
	d->threshold = 2 * (size_t)nslots + 64;
	atomic_init(&d->scans, 0);
	atomic_init(&d->reclaimed, 0);
	return 0;
}

const char *kb_hp_fence_name(const struct kb_hp_domain *d)
{
	return d->asymmetric ? "membarrier" : "mb";
}

static int compare_pointers(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return (x > y) - (x < y);
}

/* The scan's half of the fence: after the unlinks, before reading slots. */
static void scan_fence(const struct kb_hp_domain *d)
{
#if !defined(KREFBENCH_TSAN)
	if (!d->asymmetric) {
		atomic_thread_fence(memory_order_seq_cst);	/* the readers fence too */
		return;
	}
	/* Readers have only a compiler barrier: without the membarrier a
	 * scan could free what a reader is about to use. Registered, it
	 * cannot fail; if it does, stop rather than free unsafely. */
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0) {
		perror("krefbench: hazard pointers: membarrier(PRIVATE_EXPEDITED)");
		abort();
	}
#else
	(void)d;	/* seq_cst loads below and seq_cst stores in protect */
#endif
}

void kb_hp_scan(struct kb_hp_domain *d)
{
	struct kb_hp_retired *list, *keep = NULL, *next;
	void **hazards = NULL;
	size_t nhazards = 0;

	pthread_mutex_lock(&d->lock);
	list = d->retired;
	d->retired = NULL;
	d->nretired = 0;
	pthread_mutex_unlock(&d->lock);
	if (!list)
		return;
	atomic_fetch_add_explicit(&d->scans, 1, memory_order_relaxed);
	scan_fence(d);
	if (d->nslots > 0)
		hazards = malloc((size_t)d->nslots * sizeof(*hazards));
	if (!hazards && d->nslots > 0) {
		keep = list;	/* out of memory: reclaim nothing this time */
		goto put_back;
	}
	for (int i = 0; i < d->nslots; i++) {
		void *p = atomic_load_explicit(&d->slots[i].ptr, memory_order_seq_cst);

		if (p)
			hazards[nhazards++] = p;
	}
	qsort(hazards, nhazards, sizeof(*hazards), compare_pointers);
	for (struct kb_hp_retired *r = list; r; r = next) {
		next = r->next;
		if (nhazards && bsearch(&r->ptr, hazards, nhazards, sizeof(*hazards), compare_pointers)) {
			r->next = keep;
			keep = r;
			continue;
		}
		atomic_fetch_add_explicit(&d->reclaimed, 1, memory_order_relaxed);
		r->reclaim(r);
	}
	free(hazards);
	if (!keep)
		return;
put_back:
	pthread_mutex_lock(&d->lock);
	for (struct kb_hp_retired *r = keep; r; r = next) {
		next = r->next;
		r->next = d->retired;
		d->retired = r;
		d->nretired++;
	}
	pthread_mutex_unlock(&d->lock);
}

void kb_hp_retire(struct kb_hp_domain *d, struct kb_hp_retired *r, void *ptr)
{
	bool scan;

	r->ptr = ptr;
	pthread_mutex_lock(&d->lock);
	r->next = d->retired;
	d->retired = r;
	scan = ++d->nretired >= d->threshold;
	pthread_mutex_unlock(&d->lock);
	if (scan)
		kb_hp_scan(d);
}

void kb_hp_domain_destroy(struct kb_hp_domain *d)
{
	if (!d->slots)
		return;
	for (int i = 0; i < d->nslots; i++)
		atomic_store_explicit(&d->slots[i].ptr, NULL, memory_order_relaxed);
	kb_hp_scan(d);		/* no slot holds anything: reclaims all */
	free(d->slots);
	d->slots = NULL;
	pthread_mutex_destroy(&d->lock);
}

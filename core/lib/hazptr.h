/*
 * Hazard pointers (Michael, "Hazard Pointers: Safe Memory Reclamation for
 * Lock-Free Objects", IEEE TPDS 2004), in the shape of folly's hazptr and
 * C++26's std::hazard_pointer: a reader publishes the pointer it is about to
 * dereference in a slot of its own, and a retired object is reclaimed only
 * once no slot holds it. Beside RCU it trades the other way: a reader pays a
 * store and a re-check per protected pointer instead of a read-side section,
 * and reclamation never waits for every reader to pass a quiescent state,
 * only scans the slots, so at most (retired before a scan) objects wait and a
 * stalled reader pins one object, not all memory retired after it.
 *
 * Ordering. protect() stores the pointer, then re-reads the source: if the
 * source still holds it, any retire of it comes after the store, and the
 * scan that follows the retire must see the store. That needs a full fence
 * between the reader's store and its re-read and another between the unlink
 * and the scan's reads. Like folly, the reader's fence is made asymmetric
 * when the kernel offers membarrier(PRIVATE_EXPEDITED): the reader has only
 * a compiler barrier and the scan pays one membarrier, which runs a full
 * barrier on every CPU running this process. Without it (or under
 * ThreadSanitizer, which cannot see membarrier) the reader pays a seq_cst
 * fence, i.e. a locked instruction on x86.
 *
 * Retired objects wait on one list (retire is rare beside protect in the
 * workloads that use this); a scan runs when the list reaches twice the
 * number of slots plus 64, so reclamation is amortised O(1) per retire.
 */
#ifndef KREFBENCH_CORE_HAZPTR_H
#define KREFBENCH_CORE_HAZPTR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/lib/compiler.h"

struct kb_hp_slot {
	_Atomic(void *) ptr;
} kb_cacheline_aligned;

/* Embedded in a retired object; reclaim() frees it. */
struct kb_hp_retired {
	struct kb_hp_retired *next;
	void *ptr;			/* what the slots would hold */
	void (*reclaim)(struct kb_hp_retired *r);
};

struct kb_hp_domain {
	struct kb_hp_slot *slots;
	int nslots;
	bool asymmetric;		/* membarrier at scan, compiler barrier at protect */
	pthread_mutex_t lock;		/* the retired list */
	struct kb_hp_retired *retired;
	size_t nretired, threshold;
	atomic_ulong scans, reclaimed;	/* for tests and the curious */
};

/* nslots readers (slot i belongs to reader i). 0, or -1 with errno set. */
int kb_hp_domain_init(struct kb_hp_domain *d, int nslots);
/* Reclaims everything still retired: no reader may be inside protect/clear. */
void kb_hp_domain_destroy(struct kb_hp_domain *d);

/* Retire ptr, whose node is r: r->reclaim(r) runs once no slot holds ptr
 * (maybe now, in a scan this call runs). */
void kb_hp_retire(struct kb_hp_domain *d, struct kb_hp_retired *r, void *ptr);
/* Scan now: reclaim every retired object no slot holds. */
void kb_hp_scan(struct kb_hp_domain *d);

/* What the reader's fence is, for the record: "membarrier" (a compiler
 * barrier, the scan pays a membarrier) or "mb" (a full fence per protect). */
const char *kb_hp_fence_name(const struct kb_hp_domain *d);

/*
 * Load *src and protect what it holds: on return, the object (or NULL) is
 * safe to dereference until kb_hp_clear(), provided whoever unlinks it from
 * src retires it only after the unlink.
 */
static inline void *kb_hp_protect(const struct kb_hp_domain *d, struct kb_hp_slot *slot,
				  _Atomic(void *) *src)
{
	void *p = atomic_load_explicit(src, memory_order_acquire);

	for (;;) {
		void *again;

#if defined(KREFBENCH_TSAN)
		(void)d;
		atomic_store_explicit(&slot->ptr, p, memory_order_seq_cst);
		again = atomic_load_explicit(src, memory_order_seq_cst);
#else
		atomic_store_explicit(&slot->ptr, p, memory_order_relaxed);
		if (d->asymmetric)
			kb_barrier();	/* the scan's membarrier is the other half */
		else
			atomic_thread_fence(memory_order_seq_cst);
		again = atomic_load_explicit(src, memory_order_acquire);
#endif
		if (kb_likely(again == p))
			return p;
		p = again;
	}
}

/* Done with the protected object: release orders every access to it before. */
static inline void kb_hp_clear(struct kb_hp_slot *slot)
{
	atomic_store_explicit(&slot->ptr, NULL, memory_order_release);
}

#endif

/*
 * Backend `brc`: biased reference counting (Choi, Shull, Torrellas, "Biased
 * Reference Counting: Minimizing Atomic Operations in Garbage Collection",
 * PACT 2018), in the form of CPython 3.13's free-threaded object header
 * (PEP 703: ob_tid, ob_ref_local, ob_ref_shared; Objects/object.c,
 * Python/brc.c).
 *
 * Guarantees. The thread that initialised an object owns it and counts its
 * own gets and puts in `local` with plain loads and stores: no atomic RMW,
 * no fence. Every other thread counts in `shared`, atomically: the count
 * shifted left by two, with two flag bits, QUEUED and MERGED. The true count
 * is local + shared's count, and shared's count may go negative (another
 * thread drops references the owner took). Three ways to zero, each decided
 * by one atomic step, so release runs exactly once:
 * - the owner's put takes local to 0: merge (shared gets MERGED; the owner
 *   field is cleared, all later operations are atomic on shared); release if
 *   shared's count was 0;
 * - a non-owner's put on a merged object takes shared's count to 0: release;
 * - a non-owner's put finds shared exactly 0 (not queued, not merged): it
 *   does not decrement; it marks QUEUED and hands the object, and with it
 *   that reference, to the owner's queue. The owner merges queued objects
 *   (its local count plus shared's, less the queue's reference) at its next
 *   put, at thread exit, or when sync() runs: release if that is 0. An
 *   exiting owner merges until its queue is empty, objects queued while it
 *   merges included, and only then is removed, as CPython's
 *   _Py_brc_remove_thread (Python/brc.c) does: a release run by those merges
 *   may drop another object it owns with a plain local decrement, which is
 *   safe only while no other thread treats that object as abandoned. If the
 *   owner has been removed, the queuing thread merges at once (local is
 *   frozen: the owner does no refcount operation after removal);
 *   if the owner merged meanwhile (its put of a shared-counted reference
 *   took local to 0), the queuing thread drops the reference from shared.
 * So a release triggered by a non-owner is deferred to the owner:
 * kb_brc_sync() merges every thread's queue and must run while no thread
 * operates on brc objects (the benchmark's check, the tests).
 *
 * get_unless_zero: the owner's succeeds while local > 0. A non-owner's is
 * CPython's _Py_TryIncRefShared: a CAS on shared that fails when shared is
 * exactly 0 (no flag) or MERGED with count 0. Unmarked, it CANNOT tell
 * "dead" from "all references counted by the owner" (shared 0, local > 0):
 * it fails then on a live object, conservatively, as CPython's does.
 * CPython marks the objects other threads may look up without holding a
 * reference (_PyObject_SetMaybeWeakref: weakly referenced objects, and the
 * values of dicts and lists shared between threads) with a flag in shared,
 * _Py_REF_MAYBE_WEAKREF; kref_brc_mark_shared() is that mark (BRC_MARKED),
 * and kref_brc_publish() (KB_PUBLISH_brc) is what a lookup structure calls
 * on an object it publishes. On a marked object shared is never 0 until it
 * merges, so a non-owner's get_unless_zero succeeds while the object is
 * live. What keeps that sound: the owner's put that takes local to 0 does
 * not release while shared is non-zero; it merges with a CAS, and a
 * get_unless_zero that came first is counted in that merge (the owner's
 * put is decided at its CAS, as in _Py_MergeZeroLocalRefcount). A
 * non-owner's put that finds count 0 unmerged, marked or not, queues
 * (_Py_DecRefShared's should_queue). Merging clears the mark: a merged
 * object's count alone decides.
 *
 * Ordering: non-owner puts are release CASes, every releasing step acquires;
 * the owner's own operations order nothing, as in CPython (the owner is one
 * thread). Costs: 40 bytes per object, whatever the CPUs; the owner's get+put
 * is two plain read-modify-writes of a line other threads may be reading,
 * a non-owner's get is a fetch_add and its put a CAS loop on shared. Memory
 * per thread: one queue record (never freed, so queuers can always reach it).
 */
#ifndef KREFBENCH_CORE_BRC_H
#define KREFBENCH_CORE_BRC_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"

#define BRC_QUEUED	1L
#define BRC_MERGED	2L
#define BRC_MARKED	4L	/* published for lookup: CPython's _Py_REF_MAYBE_WEAKREF */
#define BRC_FLAGS	7L
#define BRC_ONE		8L	/* one reference in shared */
/* CPython's _Py_IMMORTAL_REFCNT_LOCAL: a local count that reaches the top of
 * its type stays there, and from then on every get and put of the object,
 * by any thread, does nothing (it is immortal: never released), instead of
 * wrapping to 0 and looking dead. */
#define BRC_IMMORTAL	UINT_MAX

struct kb_brc_thread;
struct kref_brc;
typedef void kb_brc_release_t(struct kref_brc *);

struct kref_brc {
	_Atomic(struct kb_brc_thread *) owner;	/* NULL once merged */
	atomic_uint local;			/* the owner's count: plain load/store */
	atomic_long shared;			/* count << 3 | MARKED | MERGED | QUEUED */
	_Atomic(kb_brc_release_t *) release;	/* for a release the owner runs later */
	struct kref_brc *queue_next;		/* in the owner's queue */
};

/* The calling thread's record, created on first use. */
extern __thread struct kb_brc_thread *kb_brc_me;
struct kb_brc_thread *kb_brc_self_slow(void);
/* Set by queuing threads: the owner has objects to merge. */
bool kb_brc_pending(const struct kb_brc_thread *t);

static inline struct kb_brc_thread *kb_brc_self(void)
{
	struct kb_brc_thread *t = kb_brc_me;

	return kb_likely(t != NULL) ? t : kb_brc_self_slow();
}

int kref_brc_init(struct kref_brc *r);
/* Starts merged, with no owner: every operation atomic on shared, the last
 * put releases at once. core/kref.h uses it: kref.rst's patterns move
 * references between threads and need release at the last put, which a
 * biased object defers to its owner. */
int kref_brc_init_merged(struct kref_brc *r);
/* The slow paths: merges and queueing. Return 1 when they released. */
int kb_brc_merge_zero(struct kref_brc *r, kb_brc_release_t *release);
int kb_brc_put_shared(struct kref_brc *r, kb_brc_release_t *release);
void kb_brc_merge_my_queue(void);
/* Merges every thread's queue; see above for when it may run. */
void kb_brc_sync(void);
long kref_brc_read(const struct kref_brc *r);
size_t kref_brc_bytes_at(unsigned int ncpus);

static inline bool kb_brc_is_mine(const struct kref_brc *r)
{
	return atomic_load_explicit(&r->owner, memory_order_relaxed) == kb_brc_self();
}

static inline unsigned int kb_brc_local(const struct kref_brc *r)
{
	return atomic_load_explicit(&r->local, memory_order_relaxed);
}

static inline void kb_brc_set_local(struct kref_brc *r, unsigned int n)
{
	atomic_store_explicit(&r->local, n, memory_order_relaxed);
}

static inline bool kb_brc_immortal(const struct kref_brc *r)
{
	return kb_unlikely(kb_brc_local(r) == BRC_IMMORTAL);
}

static inline void kref_brc_get(struct kref_brc *r)
{
	unsigned int l = kb_brc_local(r);

	if (kb_unlikely(l == BRC_IMMORTAL))
		return;
	if (kb_likely(kb_brc_is_mine(r)))
		kb_brc_set_local(r, l + 1);
	else
		atomic_fetch_add_explicit(&r->shared, BRC_ONE, memory_order_relaxed);
}

/* Marks r published for lookup (the caller holds a reference): from now on
 * a non-owner's get_unless_zero succeeds while r is live. As CPython's
 * _PyObject_SetMaybeWeakref, nothing to do once queued or merged (a queued
 * object's shared is non-zero already; a merged one's count decides). */
static inline void kref_brc_mark_shared(struct kref_brc *r)
{
	long s = atomic_load_explicit(&r->shared, memory_order_relaxed);

	do {
		if (s & BRC_FLAGS)
			return;
	} while (!atomic_compare_exchange_weak_explicit(&r->shared, &s, s | BRC_MARKED,
				memory_order_relaxed, memory_order_relaxed));
}

static inline void kref_brc_publish(struct kref_brc *r) { kref_brc_mark_shared(r); }

static inline kb_must_check bool kref_brc_get_unless_zero(struct kref_brc *r)
{
	long s;

	if (kb_brc_immortal(r))
		return true;
	if (kb_brc_is_mine(r)) {
		unsigned int l = kb_brc_local(r);

		if (l > 0) {
			kb_brc_set_local(r, l + 1);
			return true;
		}
	}
	s = atomic_load_explicit(&r->shared, memory_order_relaxed);
	do {
		if (s == 0 || (s & ~BRC_MARKED) == BRC_MERGED)	/* unmarked, or dead */
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->shared, &s, s + BRC_ONE,
				memory_order_acquire, memory_order_relaxed));
	return true;
}

/* merge_queue: false in put_mutex/put_lock, whose locked section must not
 * run releases of other objects (a queue merge may). */
static kb_always_inline int kb_brc_put_via(struct kref_brc *r, kb_brc_release_t *release,
		bool merge_queue)
{
	if (kb_brc_immortal(r))
		return 0;
	if (kb_likely(kb_brc_is_mine(r))) {
		unsigned int l;

		/* Merge what others handed over first: r itself may be queued,
		 * and is then merged (no longer ours) before this put counts.
		 * The queue's reference is one of local's, so the merge cannot
		 * release r while this put's reference is still counted. A put
		 * that does not merge still finds local >= 2 when r is queued. */
		if (merge_queue && kb_unlikely(kb_brc_pending(kb_brc_me))) {
			kb_brc_merge_my_queue();
			if (!kb_brc_is_mine(r))
				return kb_brc_put_shared(r, release);
		}
		l = kb_brc_local(r) - 1;
		kb_brc_set_local(r, l);
		if (kb_unlikely(l == 0))
			return kb_brc_merge_zero(r, release);
		return 0;
	}
	return kb_brc_put_shared(r, release);
}

static inline kb_must_check int kref_brc_put(struct kref_brc *r, kb_brc_release_t *release)
{
	return kb_brc_put_via(r, release, true);
}

/* Decrement unless this may be the last reference (or may queue). */
static inline bool kb_brc_dec_not_one(struct kref_brc *r)
{
	long s;

	if (kb_brc_immortal(r))
		return true;
	if (kb_brc_is_mine(r)) {
		unsigned int l = kb_brc_local(r);

		if (l > 1) {
			kb_brc_set_local(r, l - 1);
			return true;
		}
		return false;
	}
	s = atomic_load_explicit(&r->shared, memory_order_relaxed);
	do {
		if ((s & ~BRC_FLAGS) < BRC_ONE || ((s & BRC_MERGED) && (s & ~BRC_FLAGS) == BRC_ONE))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->shared, &s, s - BRC_ONE,
				memory_order_release, memory_order_relaxed));
	return true;
}

/* As the kernel's: release() runs with the lock held when this put
 * releases; a put that queues returns 0 and the owner releases later,
 * without the lock (say so: biased counting defers that release). */
static inline int kref_brc_put_mutex(struct kref_brc *r, kb_brc_release_t *release,
		pthread_mutex_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kb_brc_dec_not_one(r),
			   kb_brc_put_via(r, release, false), (void)0);
}

static inline int kref_brc_put_lock(struct kref_brc *r, kb_brc_release_t *release,
		pthread_spinlock_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kb_brc_dec_not_one(r),
			   kb_brc_put_via(r, release, false), (void)0);
}

static inline int kref_brc_kill(struct kref_brc *r, kb_brc_release_t *release)
{
	return kref_brc_put(r, release);
}

static inline void kref_brc_destroy(struct kref_brc *r) { (void)r; }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_brc "biased counting: owner's plain local count, others' atomic shared one, merge"
#define KB_FLAGS_brc (KB_COUNTS | KB_OWNER_RELEASE | KB_WEAK_GET_UNLESS_ZERO)
#define KB_KREF_INIT_brc kref_brc_init_merged
#define KB_KREF_PUT_brc
#define KB_PUBLISH_brc 1
static inline void kref_brc_sync(void) { kb_brc_sync(); }

#endif

/*
 * Backend `snzi`: a reference count whose release only asks "is it zero?",
 * answered by a scalable non-zero indicator (Ellen, Lev, Luchangco, Moir,
 * "SNZI: Scalable NonZero Indicators", PODC 2007): a tree of counters in
 * which a child tells its parent only when it turns non-zero (arrive) or
 * back to zero (depart), so the root changes only when a whole subtree does.
 *
 * Shape. Two levels: one leaf per CPU (an 8-byte word in the per-CPU arena
 * of core/backends/percpu.h, each CPU's on its own pages) under one root word. The
 * root holds, in its high half, references counted there directly (the
 * initial one, get_unless_zero's) and, in its low half, the number of leaves
 * that announced themselves non-zero. The object is alive exactly while the
 * root word is non-zero, and the operation that makes it zero releases.
 *
 * get arrives at this CPU's leaf: a CAS c -> c+1 when the leaf is already
 * non-zero (nothing else touched); from 0, it first announces the leaf at
 * the root (+1), then CASes the leaf 0 -> 1, and takes its announcement back
 * if another thread won that race (the winner announced too, so the root
 * cannot reach zero from the undo). put departs: a CAS c -> c-1 on a leaf
 * that is non-zero, and when that leaf went 1 -> 0, one decrement of the
 * root. References move between threads (kref's handoff), and the paper's
 * SNZI requires every depart at the node of its arrive; here a put departs
 * wherever a counted reference sits: this CPU's leaf, else any other leaf,
 * else the root's direct half, so no leaf ever goes negative. Every leaf
 * announced while it is non-zero (and transiently a little longer), hence:
 * root zero <=> no reference anywhere. release() runs exactly once, at once;
 * no kill needed. get_unless_zero: a CAS on the root, succeeds while it is
 * non-zero (exact, but not scalable).
 *
 * Ordering. The paper assumes sequentially consistent steps; these are
 * the edges its proof uses, each named by the step (the helpers below,
 * which the Promela model names too):
 * - snzi_arrive_root (+1 at the root, relaxed) must be visible to whoever
 *   sees the leaf that snzi_arrive_leaf then makes non-zero: otherwise a
 *   depart of that leaf (another thread's put, or the scan of a put whose
 *   own leaf is empty) takes the root down past the +1 it cannot see yet,
 *   to zero, and releases while this get's reference is held (possible on
 *   arm64, not on x86). So snzi_arrive_leaf's CAS 0 -> 1 is a release and
 *   snzi_depart_leaf's CAS an acquire: the root's +1 happens before the
 *   depart's root decrement, which therefore comes after it in the root's
 *   order. The leaf's later CASes c -> c+1 continue that release sequence.
 * - a lost snzi_arrive_leaf (another get made the leaf non-zero first)
 *   needs no order: its undo follows its own +1 in the root's order, and
 *   the announcement of the reference this get holds happens before both,
 *   so the undo cannot take the root to zero (it does not test for it).
 * - snzi_depart_leaf is acq_rel: release for this put's accesses; acquire
 *   also so that the put taking a leaf to 0 carries every earlier put of
 *   that leaf to snzi_depart_root.
 * - snzi_depart_root is acq_rel (as every root decrement): the one that
 *   reaches zero sees every access made under every reference.
 *
 * Costs: 8 bytes per CPU per object + 32. A get+put pair on a CPU whose
 * leaf stays non-zero (a thread holding a longer-lived reference there) is
 * two CASes on that CPU's line; on a leaf that toggles 0 <-> 1 it is two
 * CASes plus two root RMWs, the root being as contended as a single atomic:
 * SNZI pays off when each CPU holds references for a while, not for a
 * get/put pair with nothing held. A put on a CPU whose leaf is empty
 * (handoff) scans the other CPUs' leaves. The paper's intermediate levels
 * (which cut root traffic on many CPUs) are not built.
 */
#ifndef KREFBENCH_CORE_SNZI_H
#define KREFBENCH_CORE_SNZI_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"
#include "core/lib/cpu.h"
#include "core/backends/percpu.h"

#define SNZI_DIRECT	(1L << 32)	/* one reference counted at the root */

struct kref_snzi {
	atomic_long root;		/* direct << 32 | announced leaves */
	atomic_long *leaves;		/* CPU 0's leaf */
	uint32_t stride;
	uint16_t ncpus;
	struct kb_percpu_arena *arena;
};

kb_must_check int kref_snzi_init(struct kref_snzi *r);
long kref_snzi_read(const struct kref_snzi *r);
void kref_snzi_destroy(struct kref_snzi *r);
size_t kref_snzi_bytes_at(unsigned int ncpus);
/* The put whose own leaf was empty: another leaf or the root (1: released). */
int kb_snzi_depart_elsewhere(struct kref_snzi *r, unsigned int mine);

static inline unsigned int kb_snzi_cpu(const struct kref_snzi *r)
{
	unsigned int cpu = (unsigned int)kb_current_cpu();

	return kb_likely(cpu < r->ncpus) ? cpu : cpu % r->ncpus;
}

static inline atomic_long *kb_snzi_leaf(const struct kref_snzi *r, unsigned int cpu)
{
	return (atomic_long *)((char *)r->leaves + (size_t)cpu * r->stride);
}

/* The orders of the steps (see "Ordering" above). */
#define SNZI_ARRIVE_LEAF_ORDER		memory_order_release
#define SNZI_DEPART_LEAF_ORDER		memory_order_acq_rel

/*
 * Test builds only (tests/test_snzi_order.c defines KB_SNZI_TEST_HOOKS
 * before including this header): hooks at the steps, through which the test
 * models an arrive's root increment that becomes visible late. Elsewhere
 * they are empty and compile away.
 */
#ifdef KB_SNZI_TEST_HOOKS
bool kb_snzi_test_arrive_root(struct kref_snzi *r, atomic_long *leaf);	/* true: the test took the +1 */
void kb_snzi_test_arrive_leaf(struct kref_snzi *r, atomic_long *leaf, memory_order order, bool won);
void kb_snzi_test_depart_leaf(struct kref_snzi *r, atomic_long *leaf, memory_order order);
#else
static inline bool kb_snzi_test_arrive_root(struct kref_snzi *r, atomic_long *leaf)
{ (void)r; (void)leaf; return false; }
static inline void kb_snzi_test_arrive_leaf(struct kref_snzi *r, atomic_long *leaf,
		memory_order order, bool won) { (void)r; (void)leaf; (void)order; (void)won; }
static inline void kb_snzi_test_depart_leaf(struct kref_snzi *r, atomic_long *leaf,
		memory_order order) { (void)r; (void)leaf; (void)order; }
#endif

/* Arrive, first step: announce the leaf at the root. */
static inline void snzi_arrive_root(struct kref_snzi *r, atomic_long *leaf)
{
	if (!kb_snzi_test_arrive_root(r, leaf))
		atomic_fetch_add_explicit(&r->root, 1, memory_order_relaxed);
}

/* Arrive, second step: the leaf 0 -> 1, publishing snzi_arrive_root's +1
 * (release). False: another get made it non-zero first (*c: what it is). */
static inline bool snzi_arrive_leaf(struct kref_snzi *r, atomic_long *leaf, long *c)
{
	bool won = atomic_compare_exchange_strong_explicit(leaf, c, 1,
			SNZI_ARRIVE_LEAF_ORDER, memory_order_relaxed);

	kb_snzi_test_arrive_leaf(r, leaf, SNZI_ARRIVE_LEAF_ORDER, won);
	return won;
}

static inline void kref_snzi_get(struct kref_snzi *r)
{
	atomic_long *leaf = kb_snzi_leaf(r, kb_snzi_cpu(r));
	long c = atomic_load_explicit(leaf, memory_order_relaxed);

	for (;;) {
		if (c > 0) {
			if (atomic_compare_exchange_weak_explicit(leaf, &c, c + 1,
					memory_order_relaxed, memory_order_relaxed))
				return;
			continue;
		}
		snzi_arrive_root(r, leaf);
		if (snzi_arrive_leaf(r, leaf, &c))
			return;
		/* Another get made the leaf non-zero and announced it: ours goes. */
		atomic_fetch_sub_explicit(&r->root, 1, memory_order_relaxed);
	}
}

static inline kb_must_check bool kref_snzi_get_unless_zero(struct kref_snzi *r)
{
	long s = atomic_load_explicit(&r->root, memory_order_relaxed);

	do {
		if (s == 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->root, &s, s + SNZI_DIRECT,
				memory_order_acquire, memory_order_relaxed));
	return true;
}

/* True when the root reached zero: the caller releases. */
static inline bool kb_snzi_root_sub(struct kref_snzi *r, long n)
{
	return atomic_fetch_sub_explicit(&r->root, n, memory_order_acq_rel) == n;
}

/* Depart, second step: the leaf went 1 -> 0; take its announcement back. */
static inline bool snzi_depart_root(struct kref_snzi *r)
{
	return kb_snzi_root_sub(r, 1);
}

/* Depart, first step: the leaf c -> c-1 if it holds a reference (acq_rel,
 * see "Ordering"). False: the leaf was empty. *c: the value it had. */
static inline bool snzi_depart_leaf(struct kref_snzi *r, atomic_long *leaf, long *c)
{
	*c = atomic_load_explicit(leaf, memory_order_relaxed);
	while (*c > 0)
		if (atomic_compare_exchange_weak_explicit(leaf, c, *c - 1,
				SNZI_DEPART_LEAF_ORDER, memory_order_relaxed)) {
			kb_snzi_test_depart_leaf(r, leaf, SNZI_DEPART_LEAF_ORDER);
			return true;
		}
	return false;
}

/* Departs from leaf if it holds a reference: 1 = departed, and *last set
 * when that took the root to zero; 0 = the leaf was empty. */
static inline int kb_snzi_depart(struct kref_snzi *r, atomic_long *leaf, bool *last)
{
	long c;

	if (!snzi_depart_leaf(r, leaf, &c))
		return 0;
	*last = c == 1 && snzi_depart_root(r);
	return 1;
}

static inline kb_must_check int kref_snzi_put(struct kref_snzi *r, void (*release)(struct kref_snzi *))
{
	unsigned int cpu = kb_snzi_cpu(r);
	bool last = false;

	if (kb_likely(kb_snzi_depart(r, kb_snzi_leaf(r, cpu), &last))) {
		if (kb_unlikely(last)) {
			release(r);
			return 1;
		}
		return 0;
	}
	if (kb_snzi_depart_elsewhere(r, cpu)) {
		release(r);
		return 1;
	}
	return 0;
}

/* Decrement unless this may be the last reference. */
static inline bool kb_snzi_dec_not_one(struct kref_snzi *r)
{
	atomic_long *leaf = kb_snzi_leaf(r, kb_snzi_cpu(r));
	long c = atomic_load_explicit(leaf, memory_order_relaxed), s;

	while (c > 1)
		if (atomic_compare_exchange_weak_explicit(leaf, &c, c - 1,
				memory_order_release, memory_order_relaxed))
			return true;
	s = atomic_load_explicit(&r->root, memory_order_relaxed);
	while (s >= SNZI_DIRECT && s != SNZI_DIRECT)
		if (atomic_compare_exchange_weak_explicit(&r->root, &s, s - SNZI_DIRECT,
				memory_order_release, memory_order_relaxed))
			return true;
	return false;
}

static inline int kref_snzi_put_mutex(struct kref_snzi *r, void (*release)(struct kref_snzi *),
		pthread_mutex_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kb_snzi_dec_not_one(r),
			   kref_snzi_put(r, release), (void)0);
}

static inline int kref_snzi_put_lock(struct kref_snzi *r, void (*release)(struct kref_snzi *),
		pthread_spinlock_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kb_snzi_dec_not_one(r),
			   kref_snzi_put(r, release), (void)0);
}

static inline int kref_snzi_kill(struct kref_snzi *r, void (*release)(struct kref_snzi *))
{
	return kref_snzi_put(r, release);
}


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_snzi "SNZI: per-CPU leaves announce non-zero to a root; release when the root is zero"
#define KB_FLAGS_snzi (KB_COUNTS | KB_APPROX_READ)
#define KB_KREF_INIT_snzi kref_snzi_init
#define KB_KREF_PUT_snzi
KB_SYNC_NOTHING(snzi)

#endif

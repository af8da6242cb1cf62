/*
 * Backend `sloppy`: sloppy counters (Boyd-Wickizer et al., "An Analysis of
 * Linux Scalability to Many Cores", OSDI 2010, section 4.3).
 *
 * Guarantees. A central count plus, on each CPU, a number of spare
 * references that CPU holds: central = references in use + all spares.
 * A put gives its reference to this CPU as a spare (no shared write); a get
 * takes a spare of this CPU if there is one, else one from the central
 * count. When a CPU already holds SLOPPY_MAX spares, a put returns all but
 * SLOPPY_KEEP of them to the central count and drops its own reference
 * there. Because spares are counted centrally, the central count can reach
 * zero only when no spare is left: zero is decided by reconciling. Every
 * subtraction from the central count that can reach zero is tested: the
 * surplus goes back while the putter's own reference is still counted
 * centrally, and the putter's drop that follows is tested, so a kill that
 * reconciles between a put's two steps cannot leave a zero nobody acts on.
 * kill() reconciles: it takes every CPU's spares back (an atomic exchange
 * per CPU leaves the DEAD mark, after which that CPU's gets and puts go to
 * the central count) and drops the initial reference; from then on the put
 * that takes the central count to zero releases, exactly once. Before kill the count never reaches zero (the
 * initial reference), so, like percpu_ref, a sloppy counter needs its
 * kill: the final drop is kill (core/kref.h starts refs reconciled, so its
 * last put releases). get_unless_zero: always offered (a spare, or an
 * inc-not-zero on the central count, which is exact once reconciled).
 *
 * Ordering: spare updates are release CASes on the CPU's slot, the
 * reconciling exchange and every central decrement are acq_rel, so the
 * releaser sees every access made under every reference.
 *
 * Costs: 8 bytes per CPU per object (the per-CPU arena of core/backends/percpu.h:
 * each CPU's words on its own pages) + 32; a get or put is a CAS on this
 * CPU's word (a lock-prefixed op on a line nobody else writes; the paper's
 * per-core counters assume the same), a central RMW when this CPU has no
 * spare for a get, two (the surplus, then the put's own reference) when a
 * put finds its CPU's slot full. The thread may migrate between
 * reading its CPU and the CAS, hence atomics rather than plain adds.
 */
#ifndef KREFBENCH_CORE_SLOPPY_H
#define KREFBENCH_CORE_SLOPPY_H

#include <limits.h>
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

#define SLOPPY_DEAD	LONG_MIN	/* this CPU's spares were reconciled */
#define SLOPPY_MAX	64		/* spares a CPU may hold */
#define SLOPPY_KEEP	8		/* spares it keeps when it returns the rest */

struct kref_sloppy {
	atomic_long central;
	atomic_long *spares;		/* CPU 0's word */
	uint32_t stride;
	uint16_t ncpus;
	struct kb_percpu_arena *arena;
};

kb_must_check int kref_sloppy_init(struct kref_sloppy *r);
/* Starts reconciled (every CPU DEAD): a plain central count whose last put
 * releases, for core/kref.h. */
kb_must_check int kref_sloppy_init_reconciled(struct kref_sloppy *r);
void kref_sloppy_reconcile(struct kref_sloppy *r);
long kref_sloppy_read(const struct kref_sloppy *r);
void kref_sloppy_destroy(struct kref_sloppy *r);
size_t kref_sloppy_bytes_at(unsigned int ncpus);

static inline atomic_long *kb_sloppy_slot(const struct kref_sloppy *r)
{
	unsigned int cpu = (unsigned int)kb_current_cpu();

	if (kb_unlikely(cpu >= r->ncpus))
		cpu %= r->ncpus;
	return (atomic_long *)((char *)r->spares + (size_t)cpu * r->stride);
}

static inline bool kb_sloppy_central_inc_not_zero(struct kref_sloppy *r)
{
	long c = atomic_load_explicit(&r->central, memory_order_relaxed);

	do {
		if (c == 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->central, &c, c + 1,
				memory_order_relaxed, memory_order_relaxed));
	return true;
}

/* Takes a spare of this CPU: true, or false when it has none (0 or DEAD). */
static inline bool kb_sloppy_take_spare(atomic_long *slot)
{
	long s = atomic_load_explicit(slot, memory_order_relaxed);

	while (s > 0)
		if (atomic_compare_exchange_weak_explicit(slot, &s, s - 1,
				memory_order_relaxed, memory_order_relaxed))
			return true;
	return false;
}

static inline void kref_sloppy_get(struct kref_sloppy *r)
{
	if (!kb_sloppy_take_spare(kb_sloppy_slot(r)))
		atomic_fetch_add_explicit(&r->central, 1, memory_order_relaxed);
}

/* A spare is a counted reference and exists only before reconciling, while
 * the initial reference holds the object; else the central count is exact. */
static inline kb_must_check bool kref_sloppy_get_unless_zero(struct kref_sloppy *r)
{
	return kb_sloppy_take_spare(kb_sloppy_slot(r)) || kb_sloppy_central_inc_not_zero(r);
}

/*
 * Gives the reference to this CPU as a spare. False: the caller must drop
 * it from the central count, with a test for zero. That is so when the CPU
 * is reconciled (DEAD), and when its slot is full: the CAS takes the slot
 * from s down to SLOPPY_KEEP and s - KEEP spares go back to the centre, but
 * the caller's own reference does not become a spare. Between that CAS and
 * the subtraction, kill may reconcile the KEEP spares and drop the initial
 * reference; the caller's reference, still counted centrally, keeps the
 * count above zero through the subtraction, and the caller's own drop, the
 * one that can reach zero, is tested.
 */
static inline bool kb_sloppy_give_spare(struct kref_sloppy *r)
{
	atomic_long *slot = kb_sloppy_slot(r);
	long s = atomic_load_explicit(slot, memory_order_relaxed);

	for (;;) {
		if (s == SLOPPY_DEAD)
			return false;
		if (kb_likely(s < SLOPPY_MAX)) {
			if (atomic_compare_exchange_weak_explicit(slot, &s, s + 1,
					memory_order_release, memory_order_relaxed))
				return true;
		} else if (atomic_compare_exchange_weak_explicit(slot, &s, SLOPPY_KEEP,
				memory_order_release, memory_order_relaxed)) {
			KB_TEST_HOOK("sloppy.give_spare.surplus_taken", r);
			/* Cannot reach zero: the caller's reference is counted. */
			atomic_fetch_sub_explicit(&r->central, s - SLOPPY_KEEP, memory_order_acq_rel);
			return false;
		}
	}
}

static inline bool kb_sloppy_central_dec_and_test(struct kref_sloppy *r)
{
	return atomic_fetch_sub_explicit(&r->central, 1, memory_order_acq_rel) == 1;
}

static inline kb_must_check int kref_sloppy_put(struct kref_sloppy *r,
		void (*release)(struct kref_sloppy *))
{
	if (kb_likely(kb_sloppy_give_spare(r)))
		return 0;
	if (kb_sloppy_central_dec_and_test(r)) {
		release(r);
		return 1;
	}
	return 0;
}

/* Decrement unless it may be the last: a spare never is; reconciled, the
 * central count unless it is 1. */
static inline bool kb_sloppy_dec_not_one(struct kref_sloppy *r)
{
	long c;

	if (kb_sloppy_give_spare(r))
		return true;
	c = atomic_load_explicit(&r->central, memory_order_relaxed);
	do {
		if (c == 1)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->central, &c, c - 1,
				memory_order_acq_rel, memory_order_relaxed));
	return true;
}

static inline int kref_sloppy_put_mutex(struct kref_sloppy *r,
		void (*release)(struct kref_sloppy *), pthread_mutex_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kb_sloppy_dec_not_one(r),
			   kb_sloppy_central_dec_and_test(r), release(r));
}

static inline int kref_sloppy_put_lock(struct kref_sloppy *r,
		void (*release)(struct kref_sloppy *), pthread_spinlock_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kb_sloppy_dec_not_one(r),
			   kb_sloppy_central_dec_and_test(r), release(r));
}

/* Reconcile, then drop the initial reference: releases at once when it was
 * the last (returns 1). Killing twice reconciles nothing more and puts again. */
static inline int kref_sloppy_kill(struct kref_sloppy *r, void (*release)(struct kref_sloppy *))
{
	kref_sloppy_reconcile(r);
	return kref_sloppy_put(r, release);
}


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_sloppy "sloppy counter: per-CPU spare references, central count, reconciled by kill"
#define KB_FLAGS_sloppy (KB_COUNTS | KB_KILL_RELEASES | KB_APPROX_READ)
#define KB_KREF_INIT_sloppy kref_sloppy_init_reconciled
#define KB_KREF_PUT_sloppy
KB_SYNC_NOTHING(sloppy)

#endif

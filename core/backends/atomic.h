/*
 * Backend `atomic`: kref on a plain atomic counter, as kref was before
 * refcount_t.
 *
 * Guarantees: get is a relaxed fetch_add (the caller already holds a
 * reference, so nothing needs ordering); put is a release fetch_sub, and the
 * thread that takes the count to zero issues an acquire fence before calling
 * release(), so every access made under any reference happens-before the
 * free. No saturation: overflow wraps, underflow goes negative. That is the
 * point of comparison for `refcount`.
 */
#ifndef KREFBENCH_CORE_ATOMIC_H
#define KREFBENCH_CORE_ATOMIC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"

struct kref_atomic {
	atomic_int refs;
};

#define KREF_ATOMIC_INIT(n) { .refs = (n) }

static inline int kref_atomic_init(struct kref_atomic *r)
{
	atomic_init(&r->refs, 1);
	return 0;
}

static inline void kref_atomic_get(struct kref_atomic *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

/* +1 unless 0, the successful increment ordered by `success`. */
static inline kb_must_check bool kref_atomic_inc_not_zero_ordered(struct kref_atomic *r, memory_order success)
{
	int old = atomic_load_explicit(&r->refs, memory_order_relaxed);

	do {
		if (old == 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->refs, &old, old + 1,
				success, memory_order_relaxed));
	return true;
}

static inline kb_must_check bool kref_atomic_get_unless_zero(struct kref_atomic *r)
{
	return kref_atomic_inc_not_zero_ordered(r, memory_order_relaxed);
}

/* Type-stable reuse (core/backend_attrs.h): a released count stays 0. */
#define KB_TYPESAFE_atomic 1
static inline void kref_atomic_init_release(struct kref_atomic *r)
{
	atomic_store_explicit(&r->refs, 1, memory_order_release);
}

static inline kb_must_check bool kref_atomic_get_unless_zero_acquire(struct kref_atomic *r)
{
	return kref_atomic_inc_not_zero_ordered(r, memory_order_acquire);
}

/* True when the caller dropped the last reference and must release. */
static inline bool kref_atomic_dec_and_test(struct kref_atomic *r)
{
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_release) == 1) {
		kb_acquire_after_dec(&r->refs);
		return true;
	}
	return false;
}

/*
 * Test only (-DKREFBENCH_TEST_SLOW_PUT_PCT=N in CMake): a known regression of
 * about N% of a get+put, for the regression gate to catch and for its power
 * script (.ci/gate_power.py) to measure. Without the option: no code at all.
 *
 * How: every put earns N credits; each KB_SLOW_PUT_UNIT credits pay for one
 * extra locked read-modify-write (an add of 0) on the counter's own line.
 * A get+put is two locked operations on that line, so one more costs about
 * half a get+put whether the line is private (the locked op's own latency)
 * or contended (one more transfer of the line): the added cost scales with
 * the pair's cost in both regimes, where a fixed delay would hide behind the
 * locked op under contention. KB_SLOW_PUT_UNIT was calibrated against the
 * measured effect on atomic private at 1 thread and atomic hammer at 2
 * threads (README, "Did a change make it slower?"). The credit counter is
 * per thread, so the injection adds no sharing of its own.
 */
#if defined(KREFBENCH_TEST_SLOW_PUT_PCT) && KREFBENCH_TEST_SLOW_PUT_PCT > 0
#define KB_SLOW_PUT_UNIT 50
static inline void kref_atomic_test_slow_put(struct kref_atomic *r)
{
	static _Thread_local unsigned credit;

	credit += KREFBENCH_TEST_SLOW_PUT_PCT;
	if (credit >= KB_SLOW_PUT_UNIT) {
		credit -= KB_SLOW_PUT_UNIT;
		atomic_fetch_add_explicit(&r->refs, 0, memory_order_relaxed);
	}
}
#else
#define kref_atomic_test_slow_put(r) ((void)(r))
#endif

static inline kb_must_check int kref_atomic_put(struct kref_atomic *r,
		void (*release)(struct kref_atomic *))
{
	kref_atomic_test_slow_put(r);
	if (kref_atomic_dec_and_test(r)) {
		release(r);
		return 1;
	}
	return 0;
}

/* Decrement unless the count is 1: the lock-free part of put_mutex/put_lock. */
static inline bool kref_atomic_dec_not_one(struct kref_atomic *r)
{
	int old = atomic_load_explicit(&r->refs, memory_order_relaxed);

	do {
		if (old == 1)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&r->refs, &old, old - 1,
				memory_order_release, memory_order_relaxed));
	return true;
}

static inline int kref_atomic_put_mutex(struct kref_atomic *r,
		void (*release)(struct kref_atomic *), pthread_mutex_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kref_atomic_dec_not_one(r),
			   kref_atomic_dec_and_test(r), release(r));
}

static inline int kref_atomic_put_lock(struct kref_atomic *r,
		void (*release)(struct kref_atomic *), pthread_spinlock_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kref_atomic_dec_not_one(r),
			   kref_atomic_dec_and_test(r), release(r));
}

static inline long kref_atomic_read(const struct kref_atomic *r)
{
	return atomic_load_explicit(&r->refs, memory_order_relaxed);
}

static inline int kref_atomic_kill(struct kref_atomic *r, void (*release)(struct kref_atomic *))
{
	return kref_atomic_put(r, release);
}

static inline void kref_atomic_destroy(struct kref_atomic *r) { (void)r; }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_atomic "one atomic int; relaxed get, release put + acquire at zero"
#define KB_FLAGS_atomic (KB_COUNTS)
#define KB_KREF_INIT_atomic kref_atomic_init
#define KB_KREF_PUT_atomic
KB_SYNC_NOTHING(atomic)
KB_BYTES_FIXED(atomic)

#endif

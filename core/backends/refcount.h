/*
 * Backend `refcount`: Linux's refcount_t in userspace, with the kernel's
 * saturation semantics (include/linux/refcount.h, lib/refcount.c).
 *
 * Saturation. The counter is an int. Valid counts are 1..REFCOUNT_MAX
 * (INT_MAX); 0 means freed. Any operation that would move the count out of
 * that range instead parks it at REFCOUNT_SATURATED (INT_MIN / 2), counts a
 * warning of its kind and carries on: a saturated object leaks rather than
 * being freed while in use. Parking in the middle of the negative range means
 * racing increments and decrements cannot walk it back into the valid range
 * in any realistic time, so the fast paths need no cmpxchg loop: inc/add and
 * dec_and_test are one fetch_add/fetch_sub, and the *old* value returned is
 * checked afterwards.
 *
 * Ordering. Increments are relaxed (the caller already holds a reference).
 * Decrements are release; the one that reaches zero adds an acquire fence so
 * the releasing thread sees every access made under the other references.
 * inc_not_zero is a relaxed cmpxchg loop: success orders nothing; a caller
 * that found the object under RCU or a lock relies on that for ordering.
 * The _acquire variants (inc_not_zero_acquire, add_not_zero_acquire) order
 * everything after a successful increment after it: for objects in a
 * SLAB_TYPESAFE_BY_RCU cache, which may be freed and reused while a reader
 * holds a stale pointer; the reader re-checks the object's identity after
 * the get, and that re-check must not be satisfied from before it. They
 * pair with refcount_set_release, which publishes a reinitialised object
 * (its identity written first) with its count going from 0 to non-zero.
 * They also differ at the top, as the kernel's (v6.15) do: they are
 * __refcount_add_not_zero_limited_acquire with limit INT_MAX, so at
 * REFCOUNT_MAX or on a saturated count they fail, count untouched, where
 * inc_not_zero saturates and warns.
 *
 * The __refcount_* forms also return the value found before the operation
 * through *oldp (may be NULL), as the kernel's do.
 *
 * Warnings never abort. Each kind is counted (refcount_warnings()) and printed
 * once per kind to stderr, like WARN_ONCE.
 */
#ifndef KREFBENCH_CORE_REFCOUNT_H
#define KREFBENCH_CORE_REFCOUNT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"

typedef struct refcount_struct {
	atomic_int refs;
} refcount_t;

#define REFCOUNT_INIT(n)	{ .refs = (n) }
#define REFCOUNT_MAX		INT_MAX
#define REFCOUNT_SATURATED	(INT_MIN / 2)

enum refcount_saturation_type {
	REFCOUNT_ADD_NOT_ZERO_OVF,
	REFCOUNT_ADD_OVF,
	REFCOUNT_ADD_UAF,
	REFCOUNT_SUB_UAF,
	REFCOUNT_DEC_LEAK,
	REFCOUNT_NR_WARNINGS
};

/* Saturates r and counts (and once per kind, prints) a warning of kind t. */
kb_cold void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t);
/* How many warnings of kind t were raised since start (or the last reset). */
unsigned long refcount_warnings(enum refcount_saturation_type t);
void refcount_warnings_reset(void);
const char *refcount_warning_name(enum refcount_saturation_type t);

static inline void refcount_set(refcount_t *r, int n)
{
	atomic_store_explicit(&r->refs, n, memory_order_relaxed);
}

/* Publishes the object's other fields before a count another thread may
 * take with inc_not_zero_acquire (SLAB_TYPESAFE_BY_RCU reuse). */
static inline void refcount_set_release(refcount_t *r, int n)
{
	atomic_store_explicit(&r->refs, n, memory_order_release);
}

static inline unsigned int refcount_read(const refcount_t *r)
{
	return (unsigned int)atomic_load_explicit(&r->refs, memory_order_relaxed);
}

/* Signed arithmetic here is done in unsigned so that overflow is defined;
 * the checks below are on the signed reading of the result, as the kernel
 * does with -fno-strict-overflow. */
static inline int refcount_wrap_add(int a, int b) { return (int)((unsigned int)a + (unsigned int)b); }
static inline int refcount_wrap_sub(int a, int b) { return (int)((unsigned int)a - (unsigned int)b); }

/* The cmpxchg loop of the relaxed *_not_zero forms; `success` orders a
 * successful increment. */
static kb_always_inline bool refcount_add_not_zero_ordered(int i, refcount_t *r, int *oldp,
							   memory_order success)
{
	int old = atomic_load_explicit(&r->refs, memory_order_relaxed);

	do {
		if (!old)
			break;
	} while (!atomic_compare_exchange_weak_explicit(&r->refs, &old, refcount_wrap_add(old, i),
				success, memory_order_relaxed));
	if (oldp)
		*oldp = old;
	if (kb_unlikely(old < 0 || refcount_wrap_add(old, i) < 0))
		refcount_warn_saturate(r, REFCOUNT_ADD_NOT_ZERO_OVF);
	return old;
}

static inline kb_must_check bool __refcount_add_not_zero(int i, refcount_t *r, int *oldp)
{
	return refcount_add_not_zero_ordered(i, r, oldp, memory_order_relaxed);
}

/* The _acquire forms fail where the relaxed ones saturate: an increment
 * that would take the count past `limit` (inclusive), or find it saturated
 * (negative), returns false and leaves the count alone, without a warning,
 * as the kernel's __refcount_add_not_zero_limited_acquire (v6.15). The
 * `limit - old` test is done in unsigned arithmetic, read as signed, so that
 * a negative old wraps to "past the limit" as it does in the kernel
 * (-fno-strict-overflow). With limit INT_MAX nothing past the loop can
 * overflow, so the saturation check of the relaxed form is not needed. */
static inline kb_must_check bool __refcount_add_not_zero_limited_acquire(int i, refcount_t *r,
		int *oldp, int limit)
{
	int old = atomic_load_explicit(&r->refs, memory_order_relaxed);

	do {
		if (!old)
			break;
		if (i > refcount_wrap_sub(limit, old)) {
			if (oldp)
				*oldp = old;
			return false;
		}
	} while (!atomic_compare_exchange_weak_explicit(&r->refs, &old, refcount_wrap_add(old, i),
				memory_order_acquire, memory_order_relaxed));
	if (oldp)
		*oldp = old;
	return old;
}

static inline kb_must_check bool __refcount_inc_not_zero_limited_acquire(refcount_t *r, int *oldp,
		int limit)
{
	return __refcount_add_not_zero_limited_acquire(1, r, oldp, limit);
}

static inline kb_must_check bool __refcount_add_not_zero_acquire(int i, refcount_t *r, int *oldp)
{
	return __refcount_add_not_zero_limited_acquire(i, r, oldp, INT_MAX);
}

static inline kb_must_check bool refcount_add_not_zero_acquire(int i, refcount_t *r)
{
	return __refcount_add_not_zero_acquire(i, r, NULL);
}

static inline kb_must_check bool __refcount_inc_not_zero_acquire(refcount_t *r, int *oldp)
{
	return __refcount_add_not_zero_acquire(1, r, oldp);
}

static inline kb_must_check bool refcount_inc_not_zero_acquire(refcount_t *r)
{
	return __refcount_add_not_zero_acquire(1, r, NULL);
}

static inline kb_must_check bool __refcount_inc_not_zero(refcount_t *r, int *oldp)
{
	return __refcount_add_not_zero(1, r, oldp);
}

static inline kb_must_check bool refcount_add_not_zero(int i, refcount_t *r)
{
	return __refcount_add_not_zero(i, r, NULL);
}

static inline kb_must_check bool refcount_inc_not_zero(refcount_t *r)
{
	return __refcount_add_not_zero(1, r, NULL);
}

static inline void __refcount_add(int i, refcount_t *r, int *oldp)
{
	int old = atomic_fetch_add_explicit(&r->refs, i, memory_order_relaxed);

	if (oldp)
		*oldp = old;
	if (kb_unlikely(!old))
		refcount_warn_saturate(r, REFCOUNT_ADD_UAF);
	else if (kb_unlikely(old < 0 || refcount_wrap_add(old, i) < 0))
		refcount_warn_saturate(r, REFCOUNT_ADD_OVF);
}

static inline void refcount_add(int i, refcount_t *r) { __refcount_add(i, r, NULL); }
static inline void __refcount_inc(refcount_t *r, int *oldp) { __refcount_add(1, r, oldp); }
static inline void refcount_inc(refcount_t *r) { __refcount_add(1, r, NULL); }

static inline kb_must_check bool __refcount_sub_and_test(int i, refcount_t *r, int *oldp)
{
	int old = atomic_fetch_sub_explicit(&r->refs, i, memory_order_release);

	if (oldp)
		*oldp = old;
	if (old > 0 && old == i) {
		kb_acquire_after_dec(&r->refs);
		return true;
	}
	if (kb_unlikely(old <= 0 || refcount_wrap_sub(old, i) < 0))
		refcount_warn_saturate(r, REFCOUNT_SUB_UAF);
	return false;
}

static inline kb_must_check bool refcount_sub_and_test(int i, refcount_t *r)
{
	return __refcount_sub_and_test(i, r, NULL);
}

static inline kb_must_check bool __refcount_dec_and_test(refcount_t *r, int *oldp)
{
	return __refcount_sub_and_test(1, r, oldp);
}

static inline kb_must_check bool refcount_dec_and_test(refcount_t *r)
{
	return __refcount_sub_and_test(1, r, NULL);
}

/* A plain decrement must never be the last one: reaching 0 here would leak. */
static inline void __refcount_dec(refcount_t *r, int *oldp)
{
	int old = atomic_fetch_sub_explicit(&r->refs, 1, memory_order_release);

	if (oldp)
		*oldp = old;
	if (kb_unlikely(old <= 1))
		refcount_warn_saturate(r, REFCOUNT_DEC_LEAK);
}

static inline void refcount_dec(refcount_t *r) { __refcount_dec(r, NULL); }

kb_must_check bool refcount_dec_if_one(refcount_t *r);
kb_must_check bool refcount_dec_not_one(refcount_t *r);
kb_must_check bool refcount_dec_and_mutex_lock(refcount_t *r, pthread_mutex_t *lock);
kb_must_check bool refcount_dec_and_lock(refcount_t *r, pthread_spinlock_t *lock);

/* ---- the kref backend over refcount_t ---- */

struct kref_refcount {
	refcount_t refcount;
};

#define KREF_REFCOUNT_INIT(n) { .refcount = REFCOUNT_INIT(n) }

static inline int kref_refcount_init(struct kref_refcount *r)
{
	refcount_set(&r->refcount, 1);
	return 0;
}

static inline void kref_refcount_get(struct kref_refcount *r) { refcount_inc(&r->refcount); }

/* SLAB_TYPESAFE_BY_RCU reuse: refcount_set_release / inc_not_zero_acquire. */
#define KB_TYPESAFE_refcount 1
static inline void kref_refcount_init_release(struct kref_refcount *r)
{
	refcount_set_release(&r->refcount, 1);
}

static inline kb_must_check bool kref_refcount_get_unless_zero_acquire(struct kref_refcount *r)
{
	return refcount_inc_not_zero_acquire(&r->refcount);
}

static inline kb_must_check bool kref_refcount_get_unless_zero(struct kref_refcount *r)
{
	return refcount_inc_not_zero(&r->refcount);
}

static inline kb_must_check int kref_refcount_put(struct kref_refcount *r,
		void (*release)(struct kref_refcount *))
{
	if (refcount_dec_and_test(&r->refcount)) {
		release(r);
		return 1;
	}
	return 0;
}

static inline int kref_refcount_put_mutex(struct kref_refcount *r,
		void (*release)(struct kref_refcount *), pthread_mutex_t *lock)
{
	if (refcount_dec_and_mutex_lock(&r->refcount, lock)) {
		release(r);	/* lock held; release() unlocks */
		return 1;
	}
	return 0;
}

static inline int kref_refcount_put_lock(struct kref_refcount *r,
		void (*release)(struct kref_refcount *), pthread_spinlock_t *lock)
{
	if (refcount_dec_and_lock(&r->refcount, lock)) {
		release(r);
		return 1;
	}
	return 0;
}

static inline long kref_refcount_read(const struct kref_refcount *r)
{
	return refcount_read(&r->refcount);
}

static inline int kref_refcount_kill(struct kref_refcount *r, void (*release)(struct kref_refcount *))
{
	return kref_refcount_put(r, release);
}

static inline void kref_refcount_destroy(struct kref_refcount *r) { (void)r; }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_refcount "Linux refcount_t: saturating fetch_add/fetch_sub, cmpxchg inc_not_zero"
#define KB_FLAGS_refcount (KB_COUNTS)
#define KB_KREF_INIT_refcount kref_refcount_init
#define KB_KREF_PUT_refcount
KB_SYNC_NOTHING(refcount)
KB_BYTES_FIXED(refcount)

#endif

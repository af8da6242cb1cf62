/*
 * Backend `urcu_ref`: liburcu's <urcu/ref.h>, included unmodified — the
 * reference count a C programmer picks today. Its get is a cmpxchg loop that
 * refuses LONG_MAX (aborting), get_unless_zero is the same loop refusing 0,
 * and put is uatomic_sub_return (a full barrier on x86: lock xadd) with
 * release() on zero.
 *
 * The backend's object type *is* struct urcu_ref (the tag kref_urcu_ref is an
 * alias), so release callbacks have exactly the type urcu/ref.h expects.
 * urcu_ref_put() returns void, and kref's put must say whether it released,
 * so put repeats its two statements (the same uatomic_sub_return and test)
 * instead of calling it. put_mutex/put_lock need "decrement unless one",
 * which urcu/ref.h lacks; it is built from the same uatomic_cmpxchg.
 *
 * uatomic is inline asm on x86, invisible to ThreadSanitizer: the annotations
 * state the full-barrier ordering the asm provides.
 */
#ifndef KREFBENCH_CORE_URCU_REF_H
#define KREFBENCH_CORE_URCU_REF_H

#include <pthread.h>
#include <stdbool.h>
#include <urcu/ref.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"

#define kref_urcu_ref urcu_ref

#define KREF_URCU_REF_INIT(n) { .refcount = (n) }

static inline int kref_urcu_ref_init(struct urcu_ref *r)
{
	urcu_ref_init(r);
	return 0;
}

static inline void kref_urcu_ref_get(struct urcu_ref *r) { urcu_ref_get(r); }

static inline kb_must_check bool kref_urcu_ref_get_unless_zero(struct urcu_ref *r)
{
	return urcu_ref_get_unless_zero(r);
}

static inline bool kref_urcu_ref_dec_and_test(struct urcu_ref *r)
{
	kb_tsan_release(r);
	if (uatomic_sub_return(&r->refcount, 1) == 0) {
		kb_tsan_acquire(r);
		return true;
	}
	return false;
}

static inline kb_must_check int kref_urcu_ref_put(struct urcu_ref *r,
		void (*release)(struct urcu_ref *))
{
	if (kref_urcu_ref_dec_and_test(r)) {
		release(r);
		return 1;
	}
	return 0;
}

static inline bool kref_urcu_ref_dec_not_one(struct urcu_ref *r)
{
	long old = uatomic_read(&r->refcount), seen;

	for (;;) {
		if (old == 1)
			return false;
		kb_tsan_release(r);
		seen = uatomic_cmpxchg(&r->refcount, old, old - 1);
		if (seen == old)
			return true;
		old = seen;
	}
}

static inline int kref_urcu_ref_put_mutex(struct urcu_ref *r,
		void (*release)(struct urcu_ref *), pthread_mutex_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kref_urcu_ref_dec_not_one(r),
			   kref_urcu_ref_dec_and_test(r), release(r));
}

static inline int kref_urcu_ref_put_lock(struct urcu_ref *r,
		void (*release)(struct urcu_ref *), pthread_spinlock_t *lock)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kref_urcu_ref_dec_not_one(r),
			   kref_urcu_ref_dec_and_test(r), release(r));
}

static inline long kref_urcu_ref_read(const struct urcu_ref *r) { return uatomic_read(&r->refcount); }

static inline int kref_urcu_ref_kill(struct urcu_ref *r, void (*release)(struct urcu_ref *))
{
	return kref_urcu_ref_put(r, release);
}

static inline void kref_urcu_ref_destroy(struct urcu_ref *r) { (void)r; }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_urcu_ref "liburcu urcu/ref.h: cmpxchg-loop get, sub_return put"
#define KB_FLAGS_urcu_ref (KB_COUNTS)
#define KB_KREF_INIT_urcu_ref kref_urcu_ref_init
#define KB_KREF_PUT_urcu_ref
KB_SYNC_NOTHING(urcu_ref)
KB_BYTES_FIXED(urcu_ref)

#endif

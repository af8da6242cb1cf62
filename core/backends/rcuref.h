/*
 * Backend `rcuref`: the kernel's rcuref_t (include/linux/rcuref.h,
 * lib/rcuref.c), a reference count for objects found under RCU whose get
 * never loops.
 *
 * Zones. The stored value is the count minus one, read as unsigned:
 *
 *   0x00000000 ONEREF      one reference
 *   0x7FFFFFFF MAXREF      the most a valid count holds
 *   0x80000000..0xBFFFFFFF saturation zone, centred on SATURATED 0xA0000000
 *   0xC0000000 RELEASED    start of the dead zone
 *   0xE0000000 DEAD        the released object's value
 *   0xFFFFFFFF NOREF       no reference left: the put that made it tries DEAD
 *
 * Get is one relaxed fetch_add and a sign test of the result: a valid count
 * stays positive, so get_unless_zero needs no cmpxchg loop. A get on a dead
 * object lands in the dead zone (half a billion gets away from leaving it)
 * and the cold path puts DEAD back and fails; a get past MAXREF lands in the
 * saturation zone and the cold path re-centres it on SATURATED and warns: the
 * object leaks instead of being freed while in use.
 *
 * Put is one release fetch_sub. A non-negative result is the common case.
 * NOREF means this put dropped the last reference: one cmpxchg NOREF -> DEAD,
 * on the value the decrement returned. It fails when a concurrent get took
 * the count back up (the object lives on; whoever drops that reference
 * retries) or another put marked it dead first; only the winner releases, with
 * acquire ordering. A put that lands in the dead zone is imbalanced (warned,
 * DEAD restored); one in the saturation zone restores SATURATED.
 *
 * RCU. Between its decrement to NOREF and its cmpxchg, a put may lose the
 * race described above, and the winner may free the object; the loser's
 * cmpxchg must still hit valid memory. The kernel requires put inside an RCU
 * read-side section and frees after a grace period; kref_rcuref_put takes the
 * liburcu memb read lock itself (release() runs after it is dropped), so an
 * object freed with call_rcu is safe. kref_rcuref_put_sync and its siblings
 * wait for a grace period before release() instead, so that release() may
 * free at once, as kref's users do (core/kref.h maps kref_put onto them).
 *
 * Warnings never abort: each kind is counted (rcuref_warnings()) and printed
 * once per kind to stderr, like WARN_ONCE.
 */
#ifndef KREFBENCH_CORE_RCUREF_H
#define KREFBENCH_CORE_RCUREF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"
#include "core/lib/rcu.h"

#define RCUREF_ONEREF		0x00000000U
#define RCUREF_MAXREF		0x7FFFFFFFU
#define RCUREF_SATURATED	0xA0000000U
#define RCUREF_RELEASED		0xC0000000U
#define RCUREF_DEAD		0xE0000000U
#define RCUREF_NOREF		0xFFFFFFFFU

typedef struct {
	atomic_uint refcnt;
} rcuref_t;

#define RCUREF_INIT(n)	{ .refcnt = (n) - 1 }

enum rcuref_warning {
	RCUREF_WARN_SATURATED,		/* get into the saturation zone: leaking */
	RCUREF_WARN_IMBALANCED_PUT,	/* put on a dead ref */
	RCUREF_WARN_GET_DEAD,		/* kref_get (which cannot fail) on a dead ref */
	RCUREF_NR_WARNINGS
};

unsigned long rcuref_warnings(enum rcuref_warning w);
void rcuref_warnings_reset(void);
const char *rcuref_warning_name(enum rcuref_warning w);
kb_cold void rcuref_warn(enum rcuref_warning w);

kb_cold kb_must_check bool rcuref_get_slowpath(rcuref_t *ref);
kb_cold kb_must_check bool rcuref_put_slowpath(rcuref_t *ref, unsigned int cnt);

static inline void rcuref_init(rcuref_t *ref, unsigned int cnt)
{
	atomic_store_explicit(&ref->refcnt, cnt - 1, memory_order_relaxed);
}

/* The count; 0 once released (anywhere in the dead zone). */
static inline unsigned int rcuref_read(const rcuref_t *ref)
{
	unsigned int c = atomic_load_explicit(&ref->refcnt, memory_order_relaxed);

	return c >= RCUREF_RELEASED ? 0 : c + 1;
}

/* +1 unless released. No ordering: the caller found the object under RCU. */
static inline kb_must_check bool rcuref_get(rcuref_t *ref)
{
	unsigned int cnt = atomic_fetch_add_explicit(&ref->refcnt, 1, memory_order_relaxed) + 1;

	if (kb_likely((int)cnt >= 0))
		return true;
	return rcuref_get_slowpath(ref);
}

/* -1; true when the caller dropped the last reference and must release.
 * Caller is inside an RCU read-side section (see above). */
static inline kb_must_check bool __rcuref_put(rcuref_t *ref)
{
	unsigned int cnt = atomic_fetch_sub_explicit(&ref->refcnt, 1, memory_order_release) - 1;

	if (kb_likely((int)cnt >= 0))
		return false;
	return rcuref_put_slowpath(ref, cnt);
}

static inline kb_must_check bool rcuref_put(rcuref_t *ref)
{
	bool released;

	kb_rcu_read_lock();
	released = __rcuref_put(ref);
	kb_rcu_read_unlock();
	return released;
}

/* For callers already inside an RCU read-side section (the kernel's
 * rcuref_put_rcusafe: no preemption-disable around it). Same result as
 * rcuref_put, without taking the read lock a second time. */
static inline kb_must_check bool rcuref_put_rcusafe(rcuref_t *ref)
{
	return __rcuref_put(ref);
}

/* ---- the kref backend over rcuref_t ---- */

struct kref_rcuref {
	rcuref_t ref;
};

#define KREF_RCUREF_INIT(n) { .ref = RCUREF_INIT(n) }

static inline int kref_rcuref_init(struct kref_rcuref *r)
{
	rcuref_init(&r->ref, 1);
	return 0;
}

static inline void kref_rcuref_get(struct kref_rcuref *r)
{
	if (kb_unlikely(!rcuref_get(&r->ref)))
		rcuref_warn(RCUREF_WARN_GET_DEAD);
}

static inline kb_must_check bool kref_rcuref_get_unless_zero(struct kref_rcuref *r)
{
	return rcuref_get(&r->ref);
}

/*
 * The puts, with the grace period they need before release() when the
 * caller frees in release() at once (wait = true): a put that lost the
 * NOREF -> DEAD race may still be about to cmpxchg the counter, inside its
 * own read-side section. The kernel frees such objects with kfree_rcu; kref's
 * contract (kref.rst's examples, through core/kref.h) frees at once, so the
 * winner waits for that section to end first. Not to be called inside a
 * read-side section. wait = false is rcuref's own contract: the caller frees
 * after a grace period (the benchmarks' lookups, with call_rcu).
 */
static kb_always_inline void kb_rcuref_before_release(bool wait)
{
	if (wait)
		kb_rcu_synchronize();
}

static kb_always_inline int kb_rcuref_put_via(struct kref_rcuref *r,
		void (*release)(struct kref_rcuref *), bool wait)
{
	if (rcuref_put(&r->ref)) {
		kb_rcuref_before_release(wait);
		release(r);	/* outside the read lock: it may wait for readers */
		return 1;
	}
	return 0;
}

/* Decrement unless the count is one (or outside the valid zone, where the
 * locked put's exact rules apply): the lock-free part of put_mutex/put_lock. */
kb_must_check bool rcuref_dec_not_one(rcuref_t *ref);

static kb_always_inline int kb_rcuref_put_mutex_via(struct kref_rcuref *r,
		void (*release)(struct kref_rcuref *), pthread_mutex_t *lock, bool wait)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, rcuref_dec_not_one(&r->ref),
			   rcuref_put(&r->ref), (kb_rcuref_before_release(wait), release(r)));
}

static kb_always_inline int kb_rcuref_put_lock_via(struct kref_rcuref *r,
		void (*release)(struct kref_rcuref *), pthread_spinlock_t *lock, bool wait)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, rcuref_dec_not_one(&r->ref),
			   rcuref_put(&r->ref), (kb_rcuref_before_release(wait), release(r)));
}

/* kref_rcuref_<put> (rcuref's contract) and kref_rcuref_<put>_sync (kref's). */
#define KB_RCUREF_DEFINE_PUTS(SUFFIX, WAIT)						\
static inline kb_must_check int kref_rcuref_put##SUFFIX(struct kref_rcuref *r,		\
		void (*release)(struct kref_rcuref *))					\
{											\
	return kb_rcuref_put_via(r, release, (WAIT));					\
}											\
static inline int kref_rcuref_put_mutex##SUFFIX(struct kref_rcuref *r,			\
		void (*release)(struct kref_rcuref *), pthread_mutex_t *lock)		\
{											\
	return kb_rcuref_put_mutex_via(r, release, lock, (WAIT));			\
}											\
static inline int kref_rcuref_put_lock##SUFFIX(struct kref_rcuref *r,			\
		void (*release)(struct kref_rcuref *), pthread_spinlock_t *lock)	\
{											\
	return kb_rcuref_put_lock_via(r, release, lock, (WAIT));			\
}											\
static inline int kref_rcuref_kill##SUFFIX(struct kref_rcuref *r,			\
		void (*release)(struct kref_rcuref *))					\
{											\
	return kb_rcuref_put_via(r, release, (WAIT));					\
}

KB_RCUREF_DEFINE_PUTS(, false)
KB_RCUREF_DEFINE_PUTS(_sync, true)

static inline long kref_rcuref_read(const struct kref_rcuref *r) { return rcuref_read(&r->ref); }

static inline void kref_rcuref_destroy(struct kref_rcuref *r) { (void)r; }


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_rcuref "Linux rcuref_t: one fetch_add get (no cmpxchg), zones, put under RCU"
#define KB_FLAGS_rcuref (KB_COUNTS)
#define KB_KREF_INIT_rcuref kref_rcuref_init
#define KB_KREF_PUT_rcuref _sync
KB_SYNC_NOTHING(rcuref)
KB_BYTES_FIXED(rcuref)

#endif

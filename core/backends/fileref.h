/*
 * Backend `fileref`: Linux 6.13's file_ref_t (include/linux/file_ref.h,
 * fs/file.c), the reference count of struct file: rcuref's zones on a long.
 *
 * Guarantees. The stored value is the count minus one, read as signed long:
 * 0 is one reference, LONG_MAX the most a valid count holds, the upper half
 * of the negative range is the saturation zone (centred on SATURATED), the
 * lower half the dead zone (RELEASED .. NOREF, the released object parked
 * on DEAD). get_unless_zero is one fully ordered add-negative (a seq_cst
 * fetch_add and a sign test): no cmpxchg loop, and a get that lands in the
 * dead or saturation zone simply fails, leaving the value where it is (it
 * would take 2^61 gets to walk DEAD back to valid). get (the caller holds a
 * reference: file_ref_inc) is a relaxed fetch_add that warns if it lands
 * below zero. put is a fully ordered fetch_sub; reaching NOREF, one release
 * cmpxchg NOREF -> DEAD decides the single releaser (a get racing in makes
 * it fail: the object lives on), which then orders its release after every
 * put with acquire. Puts in the dead zone are imbalanced: warned, DEAD
 * restored; in the saturation zone: SATURATED restored, never released.
 *
 * Costs: 8 bytes; one locked RMW per get and per put (fully ordered, so a
 * full barrier on arm64 where refcount_t's put is release-only), plus one
 * cmpxchg on the last put. What it trades against `rcuref`: 64-bit zones (no
 * realistic saturation) and full ordering, for twice the size.
 *
 * RCU. Between its decrement to NOREF and its cmpxchg, a put may lose the
 * race to a get and a put of another thread, which may then free the object:
 * the kernel's files are SLAB_TYPESAFE_BY_RCU and file_ref_put runs with
 * preemption disabled. Here kref_fileref_put takes the liburcu memb read
 * lock (release() runs after it is dropped) for objects freed with
 * call_rcu, and kref_fileref_put_sync waits for a grace period before
 * release(), for kref's free-at-once users (core/kref.h uses it), exactly
 * as core/backends/rcuref.h does.
 */
#ifndef KREFBENCH_CORE_FILEREF_H
#define KREFBENCH_CORE_FILEREF_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"
#include "core/lib/rcu.h"

#define FILE_REF_ONEREF		0x0000000000000000UL
#define FILE_REF_MAXREF		0x7FFFFFFFFFFFFFFFUL
#define FILE_REF_SATURATED	0xA000000000000000UL
#define FILE_REF_RELEASED	0xC000000000000000UL
#define FILE_REF_DEAD		0xE000000000000000UL
#define FILE_REF_NOREF		0xFFFFFFFFFFFFFFFFUL

typedef struct {
	atomic_long refcnt;
} file_ref_t;

enum file_ref_warning {
	FILE_REF_WARN_INC_RELEASED,	/* file_ref_inc on a released ref */
	FILE_REF_WARN_IMBALANCED_PUT,	/* put in the dead zone */
	FILE_REF_NR_WARNINGS
};

unsigned long file_ref_warnings(enum file_ref_warning w);
kb_cold void file_ref_warn(enum file_ref_warning w);
kb_cold kb_must_check bool __file_ref_put(file_ref_t *ref, unsigned long cnt);

static inline void file_ref_init(file_ref_t *ref, unsigned long cnt)
{
	atomic_store_explicit(&ref->refcnt, (long)(cnt - 1), memory_order_relaxed);
}

/* +1 unless released; fully ordered. */
static inline kb_must_check bool file_ref_get(file_ref_t *ref)
{
	long old = atomic_fetch_add_explicit(&ref->refcnt, 1, memory_order_seq_cst);

	return (long)((unsigned long)old + 1) >= 0;
}

/* +1 for a caller that already holds a reference. */
static inline void file_ref_inc(file_ref_t *ref)
{
	long prior = atomic_fetch_add_explicit(&ref->refcnt, 1, memory_order_relaxed);

	if (kb_unlikely(prior < 0))
		file_ref_warn(FILE_REF_WARN_INC_RELEASED);
}

/* -1; true when the caller must release. Inside an RCU read-side section. */
static inline kb_must_check bool __file_ref_put_locked(file_ref_t *ref)
{
	long cnt = (long)((unsigned long)atomic_fetch_sub_explicit(&ref->refcnt, 1,
					memory_order_seq_cst) - 1);

	if (kb_likely(cnt >= 0))
		return false;
	return __file_ref_put(ref, (unsigned long)cnt);
}

static inline kb_must_check bool file_ref_put(file_ref_t *ref)
{
	bool released;

	kb_rcu_read_lock();
	released = __file_ref_put_locked(ref);
	kb_rcu_read_unlock();
	return released;
}

/* The number of references; 0 anywhere in the dead zone. */
static inline unsigned long file_ref_read(const file_ref_t *ref)
{
	unsigned long c = (unsigned long)atomic_load_explicit(&ref->refcnt, memory_order_relaxed);

	return c >= FILE_REF_RELEASED ? 0 : c + 1;
}

/* Decrement unless one (or outside the valid zone): put_mutex/put_lock's
 * lock-free part, so that 1 -> 0 happens under the lock. */
kb_must_check bool file_ref_dec_not_one(file_ref_t *ref);

/* ---- the kref backend over file_ref_t ---- */

struct kref_fileref {
	file_ref_t ref;
};

#define KREF_FILEREF_INIT(n) { .ref = { (long)(n) - 1 } }

static inline int kref_fileref_init(struct kref_fileref *r)
{
	file_ref_init(&r->ref, 1);
	return 0;
}

static inline void kref_fileref_get(struct kref_fileref *r) { file_ref_inc(&r->ref); }

/* Files are SLAB_TYPESAFE_BY_RCU since 6.13: a dead count stays in the dead
 * zone until reinit, and the get is already fully ordered. */
#define KB_TYPESAFE_fileref 1
static inline void kref_fileref_init_release(struct kref_fileref *r)
{
	atomic_store_explicit(&r->ref.refcnt, (long)FILE_REF_ONEREF, memory_order_release);
}

static inline kb_must_check bool kref_fileref_get_unless_zero_acquire(struct kref_fileref *r)
{
	return file_ref_get(&r->ref);
}

static inline kb_must_check bool kref_fileref_get_unless_zero(struct kref_fileref *r)
{
	return file_ref_get(&r->ref);
}

static kb_always_inline void kb_fileref_before_release(bool wait)
{
	if (wait)
		kb_rcu_synchronize();
}

static kb_always_inline int kb_fileref_put_via(struct kref_fileref *r,
		void (*release)(struct kref_fileref *), bool wait)
{
	if (file_ref_put(&r->ref)) {
		kb_fileref_before_release(wait);
		release(r);
		return 1;
	}
	return 0;
}

static kb_always_inline int kb_fileref_put_mutex_via(struct kref_fileref *r,
		void (*release)(struct kref_fileref *), pthread_mutex_t *lock, bool wait)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, file_ref_dec_not_one(&r->ref),
			   file_ref_put(&r->ref), (kb_fileref_before_release(wait), release(r)));
}

static kb_always_inline int kb_fileref_put_lock_via(struct kref_fileref *r,
		void (*release)(struct kref_fileref *), pthread_spinlock_t *lock, bool wait)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, file_ref_dec_not_one(&r->ref),
			   file_ref_put(&r->ref), (kb_fileref_before_release(wait), release(r)));
}

/* kref_fileref_<put> (call_rcu frees) and kref_fileref_<put>_sync (free at once). */
#define KB_FILEREF_DEFINE_PUTS(SUFFIX, WAIT)						\
static inline kb_must_check int kref_fileref_put##SUFFIX(struct kref_fileref *r,	\
		void (*release)(struct kref_fileref *))					\
{											\
	return kb_fileref_put_via(r, release, (WAIT));					\
}											\
static inline int kref_fileref_put_mutex##SUFFIX(struct kref_fileref *r,		\
		void (*release)(struct kref_fileref *), pthread_mutex_t *lock)		\
{											\
	return kb_fileref_put_mutex_via(r, release, lock, (WAIT));			\
}											\
static inline int kref_fileref_put_lock##SUFFIX(struct kref_fileref *r,			\
		void (*release)(struct kref_fileref *), pthread_spinlock_t *lock)	\
{											\
	return kb_fileref_put_lock_via(r, release, lock, (WAIT));			\
}											\
static inline int kref_fileref_kill##SUFFIX(struct kref_fileref *r,			\
		void (*release)(struct kref_fileref *))					\
{											\
	return kb_fileref_put_via(r, release, (WAIT));					\
}

KB_FILEREF_DEFINE_PUTS(, false)
KB_FILEREF_DEFINE_PUTS(_sync, true)

static inline long kref_fileref_read(const struct kref_fileref *r) { return (long)file_ref_read(&r->ref); }

static inline void kref_fileref_destroy(struct kref_fileref *r) { (void)r; }

static inline size_t kref_fileref_bytes_at(unsigned int ncpus)
{
	(void)ncpus;
	return sizeof(struct kref_fileref);
}


/* ---- what the backend list needs (core/backend_attrs.h) ---- */
#define KB_MODEL_fileref "Linux file_ref_t: rcuref zones on a long, fully ordered add-negative get"
#define KB_FLAGS_fileref (KB_COUNTS)
#define KB_KREF_INIT_fileref kref_fileref_init
#define KB_KREF_PUT_fileref _sync
KB_SYNC_NOTHING(fileref)

#endif

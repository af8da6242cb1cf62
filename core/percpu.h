/*
 * Backend `percpu`: the kernel's percpu_ref (lib/percpu-refcount.c) in
 * userspace.
 *
 * Two modes. In per-CPU mode, get and put add +1/-1 to the calling CPU's slot
 * of this object and touch no shared line, so they scale with CPUs; the count
 * is the sum of the slots plus an atomic base, only known exactly after the
 * switch. kill() marks the ref dead (new operations go to the atomic count at
 * once), waits one RCU grace period so that every operation that read the
 * old mode has finished, folds the slots into the atomic count and drops the
 * initial reference. From then on it is an atomic counter: the put that
 * reaches zero calls release() exactly once.
 *
 * While per-CPU, the atomic count carries a bias of 2^63 so it cannot reach
 * zero before the fold; the fold adds the slots' sum and removes the bias
 * (all in modular arithmetic, so a slot may go negative when a reference is
 * taken on one CPU and dropped on another).
 *
 * Every get/put runs inside an RCU read-side section (liburcu memb), as the
 * kernel's do under rcu_read_lock(); that is what makes the grace period in
 * kill() sufficient.
 *
 * Storage. Slots live in an arena: one block per possible CPU, and object i's
 * slot for CPU c is word i of block c. An object costs 8 bytes per CPU, not a
 * cache line per CPU, and two CPUs never write the same line. The slot add is
 * atomic (the thread may migrate between reading its CPU and adding);
 * an rseq critical section will make it a plain add later.
 *
 * init() allocates and can fail (-ENOMEM): check it.
 */
#ifndef KREFBENCH_CORE_PERCPU_H
#define KREFBENCH_CORE_PERCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/cpu.h"
#include "core/rcu.h"

/* Low bits of percpu_ptr; the slot pointer is 8-byte aligned. */
#define KB_PERCPU_ATOMIC	1UL	/* counting in data->count */
#define KB_PERCPU_DEAD		2UL	/* killed: tryget_live fails */
#define KB_PERCPU_FLAGS		(KB_PERCPU_ATOMIC | KB_PERCPU_DEAD)
#define KB_PERCPU_BIAS		(1UL << 63)

struct kb_percpu_arena;
struct kref_percpu;

/* Bookkeeping, kept off the hot line (as percpu_ref_data is). */
struct kb_percpu_data {
	atomic_long count;
	void (*release)(struct kref_percpu *);
	struct kref_percpu *ref;
	struct kb_percpu_arena *arena;
	unsigned int index;
	atomic_bool folded;		/* slots summed into count after kill */
	struct rcu_head rcu;
};

struct kref_percpu {
	atomic_uintptr_t percpu_ptr;	/* CPU 0's slot | flags; read on every op */
	size_t stride;			/* bytes between two CPUs' blocks */
	unsigned int ncpus;
	struct kb_percpu_data *data;
};

/* An arena with room for `capacity` objects on `ncpus` CPUs; NULL on failure. */
struct kb_percpu_arena *kb_percpu_arena_create(unsigned int capacity, unsigned int ncpus);
void kb_percpu_arena_destroy(struct kb_percpu_arena *a);
unsigned int kb_percpu_arena_used(const struct kb_percpu_arena *a);
/* The process-wide arena init() uses; created on first use. */
struct kb_percpu_arena *kb_percpu_default_arena(void);
size_t kb_percpu_bytes_per_object(void);

kb_must_check int kref_percpu_init_in(struct kref_percpu *r, struct kb_percpu_arena *a);
static inline kb_must_check int kref_percpu_init(struct kref_percpu *r)
{
	struct kb_percpu_arena *a = kb_percpu_default_arena();

	return a ? kref_percpu_init_in(r, a) : -12 /* ENOMEM */;
}

static inline atomic_long *kb_percpu_slot(const struct kref_percpu *r, uintptr_t ptr)
{
	unsigned int cpu = (unsigned int)kb_current_cpu();

	if (kb_unlikely(cpu >= r->ncpus))	/* hotplugged past the arena */
		cpu %= r->ncpus;
	return (atomic_long *)((char *)(ptr & ~KB_PERCPU_FLAGS) + (size_t)cpu * r->stride);
}

/* Adds n in the current mode; returns true when it was per-CPU. */
static inline bool kb_percpu_add_fast(struct kref_percpu *r, long n)
{
	uintptr_t ptr = atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed);

	if (kb_likely(!(ptr & KB_PERCPU_FLAGS))) {
		atomic_fetch_add_explicit(kb_percpu_slot(r, ptr), n, memory_order_relaxed);
		return true;
	}
	return false;
}

static inline void kref_percpu_get(struct kref_percpu *r)
{
	kb_rcu_read_lock();
	if (!kb_percpu_add_fast(r, 1))
		atomic_fetch_add_explicit(&r->data->count, 1, memory_order_relaxed);
	kb_rcu_read_unlock();
}

/* The count may hold the bias (any long value): add in unsigned, no overflow UB. */
static inline bool kb_percpu_inc_not_zero(atomic_long *count)
{
	long old = atomic_load_explicit(count, memory_order_relaxed);

	do {
		if (old == 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(count, &old, (long)((unsigned long)old + 1),
				memory_order_relaxed, memory_order_relaxed));
	return true;
}

/* percpu_ref_tryget: always succeeds in per-CPU mode, even when dead. */
static inline kb_must_check bool kref_percpu_tryget(struct kref_percpu *r)
{
	bool taken = true;

	kb_rcu_read_lock();
	if (!kb_percpu_add_fast(r, 1))
		taken = kb_percpu_inc_not_zero(&r->data->count);
	kb_rcu_read_unlock();
	return taken;
}

/* percpu_ref_tryget_live: fails once kill() has started. */
static inline kb_must_check bool kref_percpu_tryget_live(struct kref_percpu *r)
{
	bool taken = false;

	kb_rcu_read_lock();
	if (kb_percpu_add_fast(r, 1))
		taken = true;
	else if (!(atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & KB_PERCPU_DEAD))
		taken = kb_percpu_inc_not_zero(&r->data->count);
	kb_rcu_read_unlock();
	return taken;
}

static inline kb_must_check bool kref_percpu_get_unless_zero(struct kref_percpu *r)
{
	return kref_percpu_tryget(r);
}

/* True when this put dropped the last reference (atomic mode only). */
static inline bool kb_percpu_dec_and_test(struct kref_percpu *r)
{
	bool last = false;

	kb_rcu_read_lock();
	if (!kb_percpu_add_fast(r, -1) &&
	    atomic_fetch_sub_explicit(&r->data->count, 1, memory_order_release) == 1) {
		kb_acquire_after_dec(&r->data->count);
		last = true;
	}
	kb_rcu_read_unlock();
	return last;
}

static inline kb_must_check int kref_percpu_put(struct kref_percpu *r,
		void (*release)(struct kref_percpu *))
{
	if (kb_percpu_dec_and_test(r)) {
		release(r);
		return 1;
	}
	return 0;
}

/* Decrement unless it is the last reference: per-CPU mode never is. */
bool kb_percpu_dec_not_one(struct kref_percpu *r);

static inline int kref_percpu_put_mutex(struct kref_percpu *r,
		void (*release)(struct kref_percpu *), pthread_mutex_t *lock)
{
	if (kb_percpu_dec_not_one(r))
		return 0;
	pthread_mutex_lock(lock);
	if (!kb_percpu_dec_and_test(r)) {
		pthread_mutex_unlock(lock);
		return 0;
	}
	release(r);	/* lock held; release() unlocks */
	return 1;
}

static inline int kref_percpu_put_lock(struct kref_percpu *r,
		void (*release)(struct kref_percpu *), pthread_spinlock_t *lock)
{
	if (kb_percpu_dec_not_one(r))
		return 0;
	pthread_spin_lock(lock);
	if (!kb_percpu_dec_and_test(r)) {
		pthread_spin_unlock(lock);
		return 0;
	}
	release(r);
	return 1;
}

/* Start in atomic mode (PERCPU_REF_INIT_ATOMIC): plain kref semantics, the
 * last put releases, no kill needed. kref.h uses this for `struct kref`. */
kb_must_check int kref_percpu_init_atomic_in(struct kref_percpu *r, struct kb_percpu_arena *a);
kb_must_check int kref_percpu_init_atomic(struct kref_percpu *r);

/* Exact in atomic mode; a racy sum of the slots in per-CPU mode. */
long kref_percpu_read(const struct kref_percpu *r);
bool kref_percpu_is_dead(const struct kref_percpu *r);
bool kref_percpu_is_atomic(const struct kref_percpu *r);

/*
 * percpu_ref_kill: mark dead, switch to atomic mode after a grace period
 * (asynchronously, from an RCU callback) and drop the initial reference.
 * release is stored and called by whichever put reaches zero, which may be
 * the RCU callback itself. Returns 0 (the release comes later), except on a
 * ref that never left atomic mode, where it is a plain put.
 * Killing twice is a bug; it is counted and ignored.
 */
int kref_percpu_kill(struct kref_percpu *r, void (*release)(struct kref_percpu *));
/* Wait for every pending mode switch (rcu_barrier). */
void kref_percpu_barrier(void);
/* percpu_ref_reinit: back to per-CPU mode with count 1. Only on a ref that
 * was killed and has reached zero; returns -EBUSY otherwise. */
int kref_percpu_reinit(struct kref_percpu *r);
void kref_percpu_destroy(struct kref_percpu *r);
unsigned long kb_percpu_double_kills(void);

#endif

/*
 * Backends `percpu` and `percpu_atomic`: the kernel's percpu_ref
 * (lib/percpu-refcount.c) in userspace. They share everything (struct, arena,
 * kill, fold, reinit) except how a get/put adds to this CPU's slot.
 *
 * Two modes. In per-CPU mode, get and put add +1/-1 to the calling CPU's slot
 * of this object and touch no shared line, so they scale with CPUs; the count
 * is the sum of the slots plus an atomic base, only known exactly after the
 * switch. kill() marks the ref dead (new operations go to the atomic count at
 * once), waits until every operation that read the old mode has finished,
 * folds the slots into the atomic count and drops the initial reference.
 * From then on it is an atomic counter: the put that reaches zero calls
 * release() exactly once.
 *
 * While per-CPU, the atomic count carries a bias of 2^63 so it cannot reach
 * zero before the fold; the fold adds the slots' sum and removes the bias
 * (all in modular arithmetic, so a slot may go negative when a reference is
 * taken on one CPU and dropped on another). Because of the bias, adding to
 * the atomic count is correct in either mode: it is where any operation goes
 * that cannot use a slot.
 *
 * The slot add, and what makes kill's wait sufficient:
 * - `percpu`: an rseq critical section (core/lib/rseq.h) reads cpu_id, the mode
 *   word and the slot, adds, and commits with one plain store; preemption,
 *   migration or a signal restarts it. No RCU read lock: kill fences with
 *   membarrier(PRIVATE_EXPEDITED_RSEQ), after which every section that read
 *   the old mode has committed or will restart and see the new one. That is
 *   the kernel's argument (rcu_read_lock() is preempt_disable() around
 *   this_cpu_add()) with the section in place of the disabled preemption.
 *   When rseq cannot be used (not registered, not x86-64, the tsan build:
 *   kb_percpu_fast_path() says which), `percpu` runs the atomic path below,
 *   decided once per process and never silently (each ref carries the
 *   decision as rseq_ncpus, 0 for no rseq, so the fast path tests nothing
 *   more than the section's own cpu_id bound). A thread of an rseq process
 *   that is not registered itself counts in the atomic count instead: an
 *   atomic add on a slot could be lost under another thread's section.
 * - `percpu_atomic`: an atomic add on the slot of the CPU cpu_id names (the
 *   thread may migrate in between, hence atomic), inside an RCU read-side
 *   section (liburcu memb); kill waits one grace period.
 * kill does both waits, so it is correct whichever path an object's users
 * took; an object must use one backend's operations throughout.
 *
 * Storage. Slots live in an arena: one block per possible CPU, and object i's
 * slot for CPU c is word i of block c. An object costs 8 bytes per CPU, not a
 * cache line per CPU, and two CPUs never write the same line.
 *
 * The kernel's API around it, to the letter (lib/percpu-refcount.c): init
 * flags INIT_ATOMIC (start, and stay across kill/reinit, in atomic mode until
 * switch_to_percpu), INIT_DEAD (start killed, count 0: resurrect or reinit
 * brings it up) and ALLOW_REINIT (keep the slots after the switch; without
 * it the switch gives them back and the ref can never be per-CPU again);
 * kill_and_confirm, switch_to_atomic[_sync], switch_to_percpu, resurrect,
 * reinit, is_zero, get_many/put_many/tryget_many, exit. Every mode change
 * runs under one process-wide lock, waiting for a pending switch to atomic
 * to finish first, as the kernel does; so those calls may block and must
 * not be made inside an RCU read-side section or an RCU callback while a
 * switch may be pending. Misuse warns once per kind (kb_percpu_warnings())
 * and carries on as the kernel does: a second kill is a put (0 -> -1 after
 * zero, never a second release); reinit of a ref that is not zero warns and
 * resurrects anyway; a fold that finds the count <= 0 warns.
 *
 * Ordering. In atomic mode, tryget (inc_not_zero) and put (sub_and_test)
 * are fully ordered (seq_cst), as the kernel's atomic_long_ ones are. The
 * mode word is read with acquire on the atomic path, pairing with the
 * release store of switch_to_percpu (the slots are zeroed before it); the
 * kernel relies on the address dependency of READ_ONCE, which C11 can only
 * say as consume, that compilers promote to acquire (free on x86; the rseq
 * section's plain load is acquire under x86-TSO).
 *
 * init() allocates and can fail (-ENOMEM): check it. The naming is forced by
 * kref_<backend>_<op>: kref_percpu_atomic_* is the backend, while
 * kref_percpu_init_atomic starts a ref in atomic mode (either backend).
 */
#ifndef KREFBENCH_CORE_PERCPU_H
#define KREFBENCH_CORE_PERCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/backend_attrs.h"
#include "core/lib/compiler.h"
#include "core/lib/put_locked.h"
#include "core/lib/cpu.h"
#include "core/lib/rcu.h"
#include "core/lib/rseq.h"

/* Low bits of percpu_ptr; the slot pointer is 8-byte aligned. */
#define KB_PERCPU_ATOMIC	1UL	/* counting in data->count */
#define KB_PERCPU_DEAD		2UL	/* killed: tryget_live fails */
#define KB_PERCPU_FLAGS		(KB_PERCPU_ATOMIC | KB_PERCPU_DEAD)
#define KB_PERCPU_BIAS		(1UL << 63)
_Static_assert(KB_PERCPU_FLAGS == KB_RSEQ_WORD_FLAGS, "the rseq section tests these bits");

struct kb_percpu_arena;
struct kref_percpu;

/* Init flags (PERCPU_REF_INIT_ATOMIC, _INIT_DEAD, _ALLOW_REINIT). */
#define KB_PERCPU_REF_INIT_ATOMIC	1u
#define KB_PERCPU_REF_INIT_DEAD		2u
#define KB_PERCPU_REF_ALLOW_REINIT	4u

typedef void kb_percpu_func_t(struct kref_percpu *);

/* Bookkeeping, kept off the hot line (as percpu_ref_data is). The fields
 * below count are written under the process-wide switch lock. */
struct kb_percpu_data {
	atomic_long count;
	_Atomic(kb_percpu_func_t *) release;
	struct kb_percpu_arena *arena;
	kb_percpu_func_t *confirm_switch;	/* non-NULL: a switch to atomic is pending */
	bool force_atomic;			/* stay atomic across kill/reinit */
	bool allow_reinit;			/* keep the slots after the switch */
};

/* The hot fields first; rcu is written once, by kill. 64 bytes with data. */
struct kref_percpu {
	atomic_uintptr_t percpu_ptr;	/* CPU 0's slot | flags; read on every op */
	struct kb_percpu_data *data;
	uint32_t stride;		/* bytes between two CPUs' blocks */
	uint16_t ncpus;			/* slots: one per possible CPU */
	uint16_t rseq_ncpus;		/* ncpus if the rseq path is usable, else 0 */
	struct rcu_head rcu;		/* the fold after kill */
};

/* `percpu_atomic` objects are `percpu` objects; only the ops differ. */
#define kref_percpu_atomic kref_percpu

/* An arena with room for `capacity` objects on `ncpus` CPUs; NULL on failure. */
struct kb_percpu_arena *kb_percpu_arena_create(unsigned int capacity, unsigned int ncpus);
void kb_percpu_arena_destroy(struct kb_percpu_arena *a);
unsigned int kb_percpu_arena_used(const struct kb_percpu_arena *a);
/* The process-wide arena init() uses; created on first use. */
struct kb_percpu_arena *kb_percpu_default_arena(void);
size_t kb_percpu_bytes_per_object(void);
size_t kb_percpu_bytes_at(unsigned int ncpus);	/* at ncpus possible CPUs */
/* A zeroed block of per-CPU words for any per-CPU scheme (sloppy, snzi):
 * CPU c's word is at (char *)*slots + c * *stride; -ENOMEM when full. */
kb_must_check int kb_percpu_slots_take(struct kb_percpu_arena *a, atomic_long **slots,
				       uint32_t *stride, uint16_t *ncpus);
void kb_percpu_slots_give_back(struct kb_percpu_arena *a, atomic_long *slots);

kb_must_check int kref_percpu_init_in(struct kref_percpu *r, struct kb_percpu_arena *a);
kb_must_check int kref_percpu_init(struct kref_percpu *r);

/* Whether `percpu` runs its rseq path (decided once, at the first init). */
static inline bool kb_percpu_use_rseq(void)
{
	return KB_RSEQ_CS && kb_rseq_percpu_ok;
}

/* CPU cpu's slot, given the ref's pointer word (flags are masked off). */
static inline atomic_long *kb_percpu_slot_at(const struct kref_percpu *r, uintptr_t ptr,
					     unsigned int cpu)
{
	return (atomic_long *)((char *)(ptr & ~KB_PERCPU_FLAGS) + (size_t)cpu * r->stride);
}

/* CPU cpu's slot, whatever the mode: for the slow paths and the tests. */
static inline atomic_long *kb_percpu_slot_of(const struct kref_percpu *r, unsigned int cpu)
{
	return kb_percpu_slot_at(r, atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed), cpu);
}

/* The calling CPU's slot, given the pointer word the caller already read. */
static inline atomic_long *kb_percpu_slot(const struct kref_percpu *r, uintptr_t ptr)
{
	unsigned int cpu = (unsigned int)kb_current_cpu();

	if (kb_unlikely(cpu >= r->ncpus))	/* hotplugged past the arena */
		cpu %= r->ncpus;
	return kb_percpu_slot_at(r, ptr, cpu);
}

/* The atomic path: adds n to a slot if per-CPU (true). Under the RCU read lock. */
static inline bool kb_percpu_add_atomic(struct kref_percpu *r, long n)
{
	/* acquire: pairs with switch_to_percpu's release store (zeroed slots). */
	uintptr_t ptr = atomic_load_explicit(&r->percpu_ptr, memory_order_acquire);

	if (kb_likely(!(ptr & KB_PERCPU_FLAGS))) {
		atomic_fetch_add_explicit(kb_percpu_slot(r, ptr), n, memory_order_relaxed);
		return true;
	}
	return false;
}

/* When the section cannot run: the atomic path, or (false) the count. */
bool kb_percpu_add_off_rseq(struct kref_percpu *r, long n);

/*
 * The rseq path: adds n to this CPU's slot if per-CPU (true). No lock. Where
 * rseq is not usable, rseq_ncpus is 0: the section bails out before it is
 * armed, so the choice costs the fast path nothing.
 */
static kb_always_inline bool kb_percpu_add_rseq(struct kref_percpu *r, long n)
{
	enum kb_rseq_add done = kb_rseq_slot_add(&r->percpu_ptr, r->rseq_ncpus, r->stride, n);

	if (kb_likely(done == KB_RSEQ_ADDED))
		return true;
	return done == KB_RSEQ_NO_CPU && kb_percpu_add_off_rseq(r, n);
}

/*
 * The one difference between the backends: `rseq` is a constant in each
 * caller, so each inlines one path. false: the ref is not per-CPU (or this
 * thread cannot use rseq): count in data->count.
 */
static kb_always_inline bool kb_percpu_add(struct kref_percpu *r, long n, bool rseq)
{
	return rseq ? kb_percpu_add_rseq(r, n) : kb_percpu_add_atomic(r, n);
}

static kb_always_inline void kb_percpu_enter(bool rseq)
{
	if (!rseq)
		kb_rcu_read_lock();
}

static kb_always_inline void kb_percpu_exit(bool rseq)
{
	if (!rseq)
		kb_rcu_read_unlock();
}

/*
 * atomic_long_add_unless(count, n, 0), fully ordered on success as the
 * kernel's is. The count may hold the bias (any long value): add in
 * unsigned, no overflow UB.
 */
static inline bool kb_percpu_add_not_zero(atomic_long *count, long n)
{
	long old = atomic_load_explicit(count, memory_order_relaxed);

	do {
		if (old == 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(count, &old,
				(long)((unsigned long)old + (unsigned long)n),
				memory_order_seq_cst, memory_order_relaxed));
	return true;
}

static kb_always_inline void kb_percpu_get_many_via(struct kref_percpu *r, long n, bool rseq)
{
	kb_percpu_enter(rseq);
	if (!kb_percpu_add(r, n, rseq))
		atomic_fetch_add_explicit(&r->data->count, n, memory_order_relaxed);
	kb_percpu_exit(rseq);
}

static kb_always_inline void kb_percpu_get_via(struct kref_percpu *r, bool rseq)
{
	kb_percpu_get_many_via(r, 1, rseq);
}

/* percpu_ref_tryget_many: always succeeds in per-CPU mode, even when dead. */
static kb_always_inline bool kb_percpu_tryget_many_via(struct kref_percpu *r, long n, bool rseq)
{
	bool taken = true;

	kb_percpu_enter(rseq);
	if (!kb_percpu_add(r, n, rseq))
		taken = kb_percpu_add_not_zero(&r->data->count, n);
	kb_percpu_exit(rseq);
	return taken;
}

static kb_always_inline bool kb_percpu_tryget_via(struct kref_percpu *r, bool rseq)
{
	return kb_percpu_tryget_many_via(r, 1, rseq);
}

/* percpu_ref_tryget_live: fails once kill() has started. */
static kb_always_inline bool kb_percpu_tryget_live_via(struct kref_percpu *r, bool rseq)
{
	bool taken = false;

	kb_percpu_enter(rseq);
	if (kb_percpu_add(r, 1, rseq))
		taken = true;
	else if (!(atomic_load_explicit(&r->percpu_ptr, memory_order_relaxed) & KB_PERCPU_DEAD))
		taken = kb_percpu_add_not_zero(&r->data->count, 1);
	kb_percpu_exit(rseq);
	return taken;
}

/* True when this put dropped the last reference (atomic mode only). A
 * seq_cst fetch_sub: fully ordered, as atomic_long_sub_and_test. */
static kb_always_inline bool kb_percpu_sub_and_test_via(struct kref_percpu *r, long n, bool rseq)
{
	bool last = false;

	kb_percpu_enter(rseq);
	if (!kb_percpu_add(r, -n, rseq) &&
	    atomic_fetch_sub_explicit(&r->data->count, n, memory_order_seq_cst) == n)
		last = true;
	kb_percpu_exit(rseq);
	return last;
}

static kb_always_inline bool kb_percpu_dec_and_test_via(struct kref_percpu *r, bool rseq)
{
	return kb_percpu_sub_and_test_via(r, 1, rseq);
}

static kb_always_inline int kb_percpu_put_many_via(struct kref_percpu *r, long n,
		void (*release)(struct kref_percpu *), bool rseq)
{
	if (kb_percpu_sub_and_test_via(r, n, rseq)) {
		release(r);
		return 1;
	}
	return 0;
}

static kb_always_inline int kb_percpu_put_via(struct kref_percpu *r,
		void (*release)(struct kref_percpu *), bool rseq)
{
	return kb_percpu_put_many_via(r, 1, release, rseq);
}

/* Decrement unless it is the last reference: per-CPU mode never is. */
bool kb_percpu_dec_not_one(struct kref_percpu *r, bool rseq);

static kb_always_inline int kb_percpu_put_mutex_via(struct kref_percpu *r,
		void (*release)(struct kref_percpu *), pthread_mutex_t *lock, bool rseq)
{
	KB_PUT_LOCKED_BODY(pthread_mutex, lock, kb_percpu_dec_not_one(r, rseq),
			   kb_percpu_dec_and_test_via(r, rseq), release(r));
}

static kb_always_inline int kb_percpu_put_lock_via(struct kref_percpu *r,
		void (*release)(struct kref_percpu *), pthread_spinlock_t *lock, bool rseq)
{
	KB_PUT_LOCKED_BODY(pthread_spin, lock, kb_percpu_dec_not_one(r, rseq),
			   kb_percpu_dec_and_test_via(r, rseq), release(r));
}

/* The get/put family of one backend, on one slot-add path. */
#define KB_PERCPU_DEFINE_OPS(B, RSEQ)						\
static inline void kref_##B##_get(struct kref_percpu *r)			\
{										\
	kb_percpu_get_via(r, (RSEQ));						\
}										\
static inline kb_must_check bool kref_##B##_tryget(struct kref_percpu *r)	\
{										\
	return kb_percpu_tryget_via(r, (RSEQ));					\
}										\
static inline void kref_##B##_get_many(struct kref_percpu *r, unsigned long n) \
{										\
	kb_percpu_get_many_via(r, (long)n, (RSEQ));				\
}										\
static inline kb_must_check bool kref_##B##_tryget_many(struct kref_percpu *r, \
		unsigned long n)						\
{										\
	return kb_percpu_tryget_many_via(r, (long)n, (RSEQ));			\
}										\
static inline int kref_##B##_put_many(struct kref_percpu *r, unsigned long n,	\
		void (*release)(struct kref_percpu *))				\
{										\
	return kb_percpu_put_many_via(r, (long)n, release, (RSEQ));		\
}										\
static inline kb_must_check bool kref_##B##_tryget_live(struct kref_percpu *r) \
{										\
	return kb_percpu_tryget_live_via(r, (RSEQ));				\
}										\
static inline kb_must_check bool kref_##B##_get_unless_zero(struct kref_percpu *r) \
{										\
	return kb_percpu_tryget_via(r, (RSEQ));					\
}										\
static inline kb_must_check int kref_##B##_put(struct kref_percpu *r,		\
		void (*release)(struct kref_percpu *))				\
{										\
	return kb_percpu_put_via(r, release, (RSEQ));				\
}										\
static inline int kref_##B##_put_mutex(struct kref_percpu *r,			\
		void (*release)(struct kref_percpu *), pthread_mutex_t *lock)	\
{										\
	return kb_percpu_put_mutex_via(r, release, lock, (RSEQ));		\
}										\
static inline int kref_##B##_put_lock(struct kref_percpu *r,			\
		void (*release)(struct kref_percpu *), pthread_spinlock_t *lock) \
{										\
	return kb_percpu_put_lock_via(r, release, lock, (RSEQ));		\
}

KB_PERCPU_DEFINE_OPS(percpu, true)
KB_PERCPU_DEFINE_OPS(percpu_atomic, false)

/*
 * percpu_ref_init: flags as the kernel's; release is called by whichever put
 * (or the fold) drops the last reference, and may be NULL when a later
 * kill(r, release) supplies it. kref_percpu_init[_in] below is this with
 * ALLOW_REINIT (this suite's kill/reinit cycles reuse the slots);
 * kref_percpu_init_atomic[_in] with INIT_ATOMIC: plain kref semantics, the
 * last put releases, no kill needed (kref.h uses it for `struct kref`).
 */
kb_must_check int kref_percpu_init_flags_in(struct kref_percpu *r, struct kb_percpu_arena *a,
					    kb_percpu_func_t *release, unsigned int flags);
kb_must_check int kref_percpu_init_flags(struct kref_percpu *r, kb_percpu_func_t *release,
					 unsigned int flags);
kb_must_check int kref_percpu_init_atomic_in(struct kref_percpu *r, struct kb_percpu_arena *a);
kb_must_check int kref_percpu_init_atomic(struct kref_percpu *r);

/* Exact in atomic mode; a racy sum of the slots in per-CPU mode. */
long kref_percpu_read(const struct kref_percpu *r);
bool kref_percpu_is_dead(const struct kref_percpu *r);
bool kref_percpu_is_atomic(const struct kref_percpu *r);
/* percpu_ref_is_zero: false in per-CPU mode; after exit, the count exit saw. */
bool kref_percpu_is_zero(const struct kref_percpu *r);

/*
 * percpu_ref_kill_and_confirm: mark dead, switch to atomic mode (after the
 * rseq fence and an RCU grace period, from an RCU callback; confirm_kill, if
 * given, runs there, once every CPU sees the ref dead), then drop the
 * initial reference. Returns 1 when that put released at once (a ref
 * already in atomic mode at its last reference), else 0: the release comes
 * from the last put, which may be the callback's. A second kill warns once
 * and is a put like the first (after zero: 0 -> -1, never a second release).
 */
int kref_percpu_kill_and_confirm(struct kref_percpu *r, kb_percpu_func_t *confirm_kill);
/* percpu_ref_kill; stores release first if the ref is not dead yet. */
int kref_percpu_kill(struct kref_percpu *r, kb_percpu_func_t *release);
/* Sticky atomic mode (until switch_to_percpu); confirm runs once every CPU
 * counts in the atomic count. _sync waits for that. */
void kref_percpu_switch_to_atomic(struct kref_percpu *r, kb_percpu_func_t *confirm);
void kref_percpu_switch_to_atomic_sync(struct kref_percpu *r);
/* Ends the sticky atomic mode; a live ref goes per-CPU now, a dead one at
 * its reinit/resurrect. Warns (once) and stays atomic without ALLOW_REINIT. */
void kref_percpu_switch_to_percpu(struct kref_percpu *r);
/* percpu_ref_resurrect: dead -> live, +1, back to the mode the flags ask for. */
void kref_percpu_resurrect(struct kref_percpu *r);
/* percpu_ref_reinit: resurrect a ref that reached zero, to count 1. On one
 * that is not zero it warns once and resurrects anyway, as the kernel does;
 * it returns -EBUSY then (0 otherwise) so that callers can see it. */
int kref_percpu_reinit(struct kref_percpu *r);
/* Wait for every pending mode switch (rcu_barrier). */
void kref_percpu_barrier(void);
/* percpu_ref_exit: gives the slots back and frees the bookkeeping; keeps the
 * count for is_zero. Not while a switch is pending (warns). destroy = exit. */
void kref_percpu_exit(struct kref_percpu *r);
void kref_percpu_destroy(struct kref_percpu *r);

enum kb_percpu_warning {
	KB_PERCPU_WARN_DOUBLE_KILL,	/* kill_and_confirm on a dead ref */
	KB_PERCPU_WARN_FOLD_UNDERFLOW,	/* count <= 0 after switching to atomic */
	KB_PERCPU_WARN_REINIT_NOT_ZERO,	/* reinit of a ref that is not zero */
	KB_PERCPU_WARN_RESURRECT_LIVE,	/* resurrect of a ref that is not dead */
	KB_PERCPU_WARN_RESURRECT_PERCPU, /* resurrect of a ref in per-CPU mode */
	KB_PERCPU_WARN_NO_REINIT,	/* switch to per-CPU without ALLOW_REINIT */
	KB_PERCPU_WARN_EXIT_SWITCHING,	/* exit while a switch is pending */
	KB_PERCPU_NR_WARNINGS
};
unsigned long kb_percpu_warnings(enum kb_percpu_warning w);
const char *kb_percpu_warning_name(enum kb_percpu_warning w);
unsigned long kb_percpu_double_kills(void);

/* `percpu_atomic`: the same lifecycle functions. */
static inline kb_must_check int kref_percpu_atomic_init(struct kref_percpu *r)
{
	return kref_percpu_init(r);
}

static inline long kref_percpu_atomic_read(const struct kref_percpu *r) { return kref_percpu_read(r); }

static inline int kref_percpu_atomic_kill(struct kref_percpu *r, void (*release)(struct kref_percpu *))
{
	return kref_percpu_kill(r, release);
}

static inline void kref_percpu_atomic_destroy(struct kref_percpu *r) { kref_percpu_destroy(r); }


/* ---- what the backend list needs (core/backend_attrs.h) ----
 * kref.h starts refs in atomic mode (INIT_ATOMIC): the only mode in which
 * the last put releases without a kill. */
#define KB_MODEL_percpu "percpu_ref: per-CPU slots in an arena (rseq add), atomic after kill"
#define KB_FLAGS_percpu (KB_COUNTS | KB_DEFERRED_RELEASE)
#define KB_KREF_INIT_percpu kref_percpu_init_atomic
#define KB_KREF_PUT_percpu
#define KB_MODEL_percpu_atomic "percpu_ref with an atomic slot add under the RCU read lock"
#define KB_FLAGS_percpu_atomic (KB_COUNTS | KB_DEFERRED_RELEASE)
#define KB_KREF_INIT_percpu_atomic kref_percpu_init_atomic
#define KB_KREF_PUT_percpu_atomic
static inline void kref_percpu_sync(void) { kref_percpu_barrier(); }
static inline void kref_percpu_atomic_sync(void) { kref_percpu_barrier(); }
static inline size_t kref_percpu_bytes_at(unsigned int ncpus) { return kb_percpu_bytes_at(ncpus); }
static inline size_t kref_percpu_atomic_bytes_at(unsigned int ncpus) { return kb_percpu_bytes_at(ncpus); }

#endif
